package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/epcis"
	"github.com/pharmatrace/pharmatrace/epcis/importer"
	"github.com/pharmatrace/pharmatrace/trace"
)

// EPCIS 2.0 interoperability routes (package epcis does the conversion):
//
//   - GET /api/v1/epcis/events exports the read model's stored events of a
//     pack (gtin, serial), a lot (gtin, lot), a shipment (every event of the
//     packs it carries) or of every pack, optionally bounded by from/to, as
//     one streamed EPCISDocument: EPCIS 2.0 JSON-LD (application/ld+json,
//     the default) or, when the Accept header prefers application/xml or
//     text/xml, EPCIS 2.0 XML with the same events. The regulator sees
//     everything; a manufacturer sees only the packs of its own GS1 Company
//     Prefix (GTINs of other prefixes are left out of the events, and
//     asking for another prefix's pack or lot is access-denied). Company
//     prefix lengths come from the registered products' company prefixes
//     (the longest that matches the key), else epcis.DefaultCompanyPrefixLen.
//   - POST /api/v1/epcis/import (manufacturer, distributor, pharmacist) reads an EPCIS 2.0 JSON or
//     JSON-LD document, or (Content-Type application/xml or text/xml) an
//     EPCIS 2.0 or 1.2 XML document, as a stream and submits each event's planned writes
//     with the caller's identity under the request IDs derived from the
//     event hash. The per-event report says applied, skipped (the ledger
//     already holds the request ID — GetRequest — or answered conflict) or
//     rejected (with the reason). Destination GLNs resolve to an MSP through
//     Deps.GLNs (the network definition's users) and then through the read
//     model's parties (GLNs seen acting, holding packs or shipping).

// exportEPCIS streams an EPCISDocument.
func (s *Server) exportEPCIS(c echo.Context) error {
	if err := checkQuery(c, []string{"gtin", "serial", "lot", "shipment", "from", "to", "epcForm"}); err != nil {
		return err
	}
	ctx := c.Request().Context()
	q := readmodel.EventQuery{GTIN: c.QueryParam("gtin"), Serial: c.QueryParam("serial"), Lot: c.QueryParam("lot"), Shipment: c.QueryParam("shipment")}
	var opt epcis.Options
	switch f := c.QueryParam("epcForm"); f {
	case "", "sgtin":
		opt.EPCForm = epcis.FormSGTIN
	case "digitallink":
		opt.EPCForm = epcis.FormDigitalLink
	default:
		return fieldProblem("epcForm", "%q is not sgtin or digitallink", f)
	}
	var err error
	if q.From, err = queryTime(c, "from"); err != nil {
		return err
	}
	if q.To, err = queryTime(c, "to"); err != nil {
		return err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return fieldProblem("to", "must be after from")
	}
	opt.From, opt.To = q.From, q.To
	switch {
	case q.Shipment != "":
		if q.GTIN != "" || q.Serial != "" || q.Lot != "" {
			return fieldProblem("shipment", "give a shipment, or gtin with serial or lot, not both")
		}
	case q.GTIN != "":
		if err := trace.CheckGTIN(q.GTIN); err != nil {
			return fieldProblem("gtin", "%s", err)
		}
		if (q.Serial == "") == (q.Lot == "") {
			return fieldProblem("gtin", "give gtin with either serial or lot")
		}
	case q.Serial != "":
		return fieldProblem("serial", "serial needs gtin")
	case q.Lot != "":
		return fieldProblem("lot", "lot needs gtin")
	}
	id := identity(c)
	var own func(gtin string) bool
	if id.Role != trace.RoleRegulator {
		if id.GCP == "" {
			return NewProblem(ProbAccessDenied, "your identity has no GS1 Company Prefix: only the regulator exports other companies' events")
		}
		own = func(gtin string) bool { return len(gtin) == 14 && strings.HasPrefix(gtin[1:], id.GCP) }
		if q.GTIN != "" && !own(q.GTIN) {
			p := NewProblem(ProbAccessDenied, "GTIN %s is not of your company prefix %s", q.GTIN, id.GCP)
			p.Field = "gtin"
			return p
		}
	}
	var filter epcis.PackFilter
	switch {
	case q.Serial != "":
		filter = epcis.Packs(trace.PackRef{GTIN: q.GTIN, Serial: q.Serial})
	case q.Lot != "":
		filter = epcis.Lot(q.GTIN, q.Lot)
	case q.Shipment != "":
		sh, err := s.deps.Read.GetShipment(ctx, q.Shipment)
		if err != nil {
			return err
		}
		filter = epcis.Packs(sh.Packs...)
	}
	switch {
	case own != nil && filter != nil:
		inner := filter
		filter = func(ref trace.PackRef, lot string) bool { return own(ref.GTIN) && inner(ref, lot) }
	case own != nil:
		filter = func(ref trace.PackRef, _ string) bool { return own(ref.GTIN) }
	}
	opt.Filter = filter
	prefixes, err := s.deps.Read.CompanyPrefixes(ctx)
	if err != nil {
		return err
	}
	opt.CompanyPrefixLen = prefixLen(prefixes)
	var mediaType string
	opt.Format, mediaType = exportFormat(c.Request().Header.Get(echo.HeaderAccept))
	c.Response().Header().Add(echo.HeaderVary, echo.HeaderAccept)
	w := &lazyWriter{c: c, contentType: mediaType}
	n, err := epcis.Export(w, s.deps.Read.Events(ctx, q), opt)
	if err != nil {
		if !w.started {
			return fmt.Errorf("epcis export: %w", err)
		}
		// The document is already on its way: it ends truncated (invalid
		// JSON or XML), which the client detects.
		s.log.Error("api: epcis export failed mid-stream", "err", err, "events", n)
		return nil
	}
	s.log.Info("api: epcis export", "events", n, "msp", id.MSP)
	return nil
}

// prefixLen returns the company prefix length of a GTIN-14, SSCC or GLN:
// the longest known prefix that starts its company part, else the default.
func prefixLen(prefixes []string) func(key string) int {
	return func(key string) int {
		body := key
		if len(key) == 14 || len(key) == 18 { // GTIN-14, SSCC: indicator / extension digit first
			body = key[1:]
		}
		best := 0
		for _, p := range prefixes {
			if len(p) > best && len(p) < len(body) && strings.HasPrefix(body, p) {
				best = len(p)
			}
		}
		if best == 0 {
			return epcis.DefaultCompanyPrefixLen
		}
		return best
	}
}

// exportFormat chooses the export's format from an Accept header: EPCIS
// XML when application/xml or text/xml has a higher quality than JSON
// (application/ld+json, application/json or a wildcard), JSON-LD otherwise;
// with the media type to answer.
func exportFormat(accept string) (epcis.Format, string) {
	qJSON, qXML, xmlType := 0.0, 0.0, "application/xml"
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, err := strconv.ParseFloat(params["q"], 64); err == nil {
			q = v
		}
		switch mt {
		case "application/ld+json", "application/json", "*/*", "application/*":
			qJSON = max(qJSON, q)
		case "application/xml", "text/xml":
			if q > qXML {
				qXML, xmlType = q, mt
			}
		}
	}
	if qXML > qJSON {
		return epcis.FormatXML, xmlType
	}
	return epcis.FormatJSON, "application/ld+json"
}

// lazyWriter sends the response header with the first byte of the body, so
// an export that fails before writing anything still answers a problem.
type lazyWriter struct {
	c           echo.Context
	contentType string
	started     bool
}

func (w *lazyWriter) Write(b []byte) (int, error) {
	if !w.started {
		w.started = true
		w.c.Response().Header().Set(echo.HeaderContentType, w.contentType)
		w.c.Response().WriteHeader(http.StatusOK)
	}
	return w.c.Response().Write(b)
}

// ImportReport is the answer of an EPCIS import.
type ImportReport struct {
	Applied  int          `json:"applied"`
	Skipped  int          `json:"skipped"`
	Rejected int          `json:"rejected"`
	Events   epcis.Report `json:"events"`
}

// importEPCIS applies an EPCIS document's events through the caller's
// ledger identity.
func (s *Server) importEPCIS(c echo.Context) error {
	if err := checkQuery(c, nil); err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	var format epcis.Format
	switch mt {
	case "application/json", "application/ld+json":
	case "application/xml", "text/xml":
		format = epcis.FormatXML
	default:
		return NewProblem(ProbUnsupportedMedia, "send the EPCIS document as application/json or application/ld+json (EPCIS 2.0 JSON-LD), or application/xml or text/xml (EPCIS 2.0 or 1.2 XML)")
	}
	led, err := s.ledger(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var lookupErr error
	lookup := func(gln string) (string, bool) {
		if msp, ok := s.deps.GLNs[gln]; ok {
			return msp, true
		}
		msp, err := s.deps.Read.PartyMSP(ctx, gln)
		if err != nil {
			lookupErr = err
		}
		return msp, msp != ""
	}
	id := identity(c)
	body := &readErr{r: c.Request().Body}
	rd := epcis.NewFormatReader(body, format, epcis.ImportOptions{LookupGLN: lookup, LookupPack: importer.LookupPack(ctx, led)})
	rep, err := importer.Run(ctx, rd, importer.Options{
		LedgerFor: func(p *epcis.Planned) (importer.Ledger, error) {
			// The ledger records the signer's site: an event at another
			// network member's site would be recorded at the caller's.
			if p.Site == "" || p.Site == id.GLN || !siteBound(p) {
				return led, nil
			}
			if msp, member := lookup(p.Site); member {
				return nil, fmt.Errorf("the event happened at %s (%s), not at your site %s: it must be signed by that site's identity (pharmatrace-epcis import signs each event with the identity of its site)", p.Site, msp, id.GLN)
			}
			return led, nil
		},
		// The Ledger wraps ErrUnavailable or ErrOutcomeUnknown around what
		// the gateway says is retryable: that stops the import; anything
		// else the ledger judged rejects the event.
		Stop: func(err error) bool {
			return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOutcomeUnknown) ||
				errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
		},
	})
	if lookupErr != nil {
		return lookupErr
	}
	if err != nil {
		var mbe *http.MaxBytesError
		var de *epcis.DocumentError
		switch {
		case errors.As(body.err, &mbe):
			return NewProblem(ProbTooLarge, "the document exceeds %d bytes", mbe.Limit)
		case errors.As(err, &de):
			return NewProblem(ProbInvalidUpload, "%s", err)
		}
		return fmt.Errorf("epcis import: %w", err)
	}
	out := ImportReport{Events: *rep}
	out.Applied, out.Skipped, out.Rejected = rep.Counts()
	s.log.Info("api: epcis import", "applied", out.Applied, "skipped", out.Skipped, "rejected", out.Rejected, "msp", id.MSP)
	return writeJSON(c, http.StatusOK, out)
}

// siteBound reports whether the ledger records the event at the signer's
// own site (receipt, dispensing, decommissioning, undo). Commissioning,
// packing and shipping by a manufacturer may name a plant GLN that is no
// network identity's.
func siteBound(p *epcis.Planned) bool {
	switch p.Ops[0].Transaction {
	case trace.TxReceive, trace.TxDispense, trace.TxDecommission, trace.TxUndo:
		return true
	}
	return false
}

// readErr remembers the error of the reader it wraps (the EPCIS reader
// reports a read failure as text only).
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// suspectReport answers the suspect-product report of an anomaly: the
// anomaly from the read model, the pack, its history and its product from
// the ledger (with the regulator's identity).
func (s *Server) suspectReport(c echo.Context) error {
	if err := checkQuery(c, []string{"format"}); err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format != "" && format != "json" && format != "html" {
		return fieldProblem("format", "%q is not json or html", format)
	}
	ctx := c.Request().Context()
	a, err := s.deps.Read.GetAnomaly(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	if a.Pack == nil {
		return NewProblem(ProbConflict, "anomaly %s concerns no pack: a suspect-product report needs one", a.ID)
	}
	var pack trace.GetPackResult
	if err := s.evaluate(c, trace.TxGetPack, &trace.PackQuery{GTIN: a.Pack.GTIN, Serial: a.Pack.Serial}, &pack); err != nil {
		return err
	}
	hist, err := s.history(c, a.Pack.GTIN, a.Pack.Serial, trace.MaxHistory)
	if err != nil {
		return err
	}
	var prod trace.GetProductResult
	if err := s.evaluate(c, trace.TxGetProduct, &trace.ProductQuery{GTIN: a.Pack.GTIN}, &prod); err != nil && !errors.Is(err, trace.ErrNotFound) {
		return err
	}
	rep, err := epcis.BuildSuspectReport(a, pack.Pack, hist.Entries, prod.Product, s.now())
	if err != nil {
		return fmt.Errorf("suspect report of anomaly %s: %w", a.ID, err)
	}
	if format != "html" {
		return writeJSON(c, http.StatusOK, rep)
	}
	var page bytes.Buffer
	if err := epcis.RenderHTML(&page, rep); err != nil {
		return fmt.Errorf("suspect report of anomaly %s: %w", a.ID, err)
	}
	return c.Blob(http.StatusOK, "text/html; charset=utf-8", page.Bytes())
}
