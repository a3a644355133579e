package api

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pharmatrace/pharmatrace/api/commission"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/gs1"
	"github.com/pharmatrace/pharmatrace/trace"
)

// ensureID returns the client's request ID or a new random one.
func ensureID(id string) string {
	if id != "" {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "api-" + hex.EncodeToString(b[:])
}

// submit runs a write with the caller's identity; a refused outcome
// becomes a "refused" problem (409) carrying the result.
func (s *Server) submit(c echo.Context, fn string, req trace.WriteRequest, res trace.Result) error {
	if err := req.Validate(); err != nil {
		return err
	}
	led, err := s.ledger(c)
	if err != nil {
		return err
	}
	if err := led.Submit(c.Request().Context(), fn, req, res); err != nil {
		return err
	}
	s.log.Info("api: submitted", "fn", fn, "request_id", req.ID(), "tx_id", res.Out().TxID, "outcome", res.Out().Status,
		"code", res.Out().Code, "msp", identity(c).MSP, "gln", identity(c).GLN)
	if !res.Out().OK() {
		return refusal(res, req.ID())
	}
	return writeJSON(c, http.StatusOK, res)
}

// evaluate runs a query with the caller's identity.
func (s *Server) evaluate(c echo.Context, fn string, req trace.Request, res any) error {
	if err := req.Validate(); err != nil {
		return err
	}
	led, err := s.ledger(c)
	if err != nil {
		return err
	}
	return led.Evaluate(c.Request().Context(), fn, req, res)
}

// pathGTIN and friends validate path parameters, naming them.
func pathGTIN(c echo.Context) (string, error) {
	g := c.Param("gtin")
	if err := trace.CheckGTIN(g); err != nil {
		return "", fieldProblem("gtin", "%s", err)
	}
	return g, nil
}

func pathLot(c echo.Context) (string, string, error) {
	g, err := pathGTIN(c)
	if err != nil {
		return "", "", err
	}
	l, _ := url.PathUnescape(c.Param("lot"))
	if err := trace.CheckLot(l); err != nil {
		return "", "", fieldProblem("lot", "%s", err)
	}
	return g, l, nil
}

func pathPack(c echo.Context) (string, string, error) {
	g, err := pathGTIN(c)
	if err != nil {
		return "", "", err
	}
	sn, _ := url.PathUnescape(c.Param("serial"))
	if err := trace.CheckSerial(sn); err != nil {
		return "", "", fieldProblem("serial", "%s", err)
	}
	return g, sn, nil
}

func (s *Server) me(c echo.Context) error {
	t := identity(c)
	tok, _ := authToken(c)
	return writeJSON(c, http.StatusOK, Me{Identity: t, TokenID: tok})
}

func (s *Server) serveOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, s.openapi)
}

// ---- products ----

func (s *Server) registerProduct(c echo.Context) error {
	var req trace.RegisterProductRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	req.RequestID = ensureID(req.RequestID)
	var res trace.ProductResult
	return s.submit(c, trace.TxRegisterProduct, &req, &res)
}

func (s *Server) getProduct(c echo.Context) error {
	g, err := pathGTIN(c)
	if err != nil {
		return err
	}
	var res trace.GetProductResult
	if err := s.evaluate(c, trace.TxGetProduct, &trace.ProductQuery{GTIN: g}, &res); err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, res.Product)
}

// ---- lots ----

func (s *Server) getLot(c echo.Context) error {
	g, l, err := pathLot(c)
	if err != nil {
		return err
	}
	var res trace.GetLotResult
	if err := s.evaluate(c, trace.TxGetLot, &trace.LotQuery{GTIN: g, Lot: l}, &res); err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, res.Lot)
}

func (s *Server) lotStatus(fn string) echo.HandlerFunc {
	return func(c echo.Context) error {
		g, l, err := pathLot(c)
		if err != nil {
			return err
		}
		var body LotStatusBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		if strings.TrimSpace(body.Reason) == "" {
			return fieldProblem("reason", "a recall or withdrawal needs a reason")
		}
		req := trace.LotStatusRequest{RequestHeader: trace.RequestHeader{RequestID: ensureID(body.RequestID)}, GTIN: g, Lot: l, Reason: body.Reason}
		var res trace.LotResult
		return s.submit(c, fn, &req, &res)
	}
}

// commission streams and validates an upload, then starts its batches.
func (s *Server) commission(c echo.Context) error {
	if err := checkQuery(c, []string{"expiry", "wait"}); err != nil {
		return err
	}
	g, l, err := pathLot(c)
	if err != nil {
		return err
	}
	id := identity(c)
	spec := commission.Spec{ID: c.Param("uploadId"), MSP: id.MSP, By: id.Key(), GTIN: g, Lot: l, Expiry: c.QueryParam("expiry")}
	if spec.Expiry == "" {
		return fieldProblem("expiry", "the query parameter expiry (GS1 YYMMDD) is required")
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	wait := false
	if w := c.QueryParam("wait"); w != "" {
		if wait, err = strconv.ParseBool(w); err != nil {
			return fieldProblem("wait", "%q is not true or false", w)
		}
	}
	var format commission.Format
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	switch mt {
	case "text/csv", "application/csv":
		format = commission.CSV
	case "application/json":
		format = commission.JSON
	default:
		return NewProblem(ProbUnsupportedMedia, "send the serial list as text/csv (one serial per row, optional header \"serial\") or application/json (an array of strings)")
	}
	serials, err := commission.Parse(c.Request().Body, format, s.cfg.MaxUploadSerials)
	if err != nil {
		return err
	}
	led, err := s.ledger(c)
	if err != nil {
		return err
	}
	up, done, err := s.deps.Uploads.Start(c.Request().Context(), led, spec, serials)
	if err != nil {
		return err
	}
	s.log.Info("api: commissioning upload", "upload", spec.ID, "gtin", g, "lot", l, "serials", len(serials), "msp", id.MSP)
	loc := c.Request().URL.Path
	c.Response().Header().Set(echo.HeaderLocation, loc)
	if wait {
		select {
		case <-done:
		case <-c.Request().Context().Done():
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 5*time.Second)
		defer cancel()
		if up, err = s.deps.Uploads.Get(ctx, id.MSP, spec.ID); err != nil {
			return err
		}
	}
	if up.Status == commission.StatusRunning {
		return writeJSON(c, http.StatusAccepted, up)
	}
	return writeJSON(c, http.StatusOK, up)
}

func (s *Server) getCommission(c echo.Context) error {
	g, l, err := pathLot(c)
	if err != nil {
		return err
	}
	up, err := s.deps.Uploads.Get(c.Request().Context(), identity(c).MSP, c.Param("uploadId"))
	if err != nil {
		return err
	}
	if up.GTIN != g || up.Lot != l {
		return NewProblem(ProbNotFound, "upload %s is not for lot %s/%s", up.ID, g, l)
	}
	return writeJSON(c, http.StatusOK, up)
}

// ---- packs ----

// parseScan parses a GS1 scan string into the trace scan: GTIN, serial,
// lot and expiry (as printed, YYMMDD) must all be present; the parser's
// warnings are passed on as warning kinds.
func parseScan(field, s string) (trace.Scan, error) {
	sc, err := gs1.ParseString(s)
	if err != nil {
		p := NewProblem(ProbInvalidGS1, "%s", err)
		p.Field = field
		var pe *gs1.ParseError
		if errors.As(err, &pe) {
			p.Position = pe.Pos
		}
		return trace.Scan{}, p
	}
	out := trace.Scan{GTIN: sc.GTIN, Serial: sc.Serial, Lot: sc.Lot}
	out.Expiry, _ = sc.Get("17")
	for _, need := range []struct{ ai, what, v string }{{"01", "GTIN", out.GTIN}, {"21", "serial number", out.Serial}, {"10", "batch/lot", out.Lot}, {"17", "expiry date", out.Expiry}} {
		if need.v == "" {
			p := NewProblem(ProbInvalidGS1, "the scan has no AI %s (%s); a pack's DataMatrix carries 01, 17, 10 and 21", need.ai, need.what)
			p.Field = field
			return trace.Scan{}, p
		}
	}
	seen := map[string]bool{}
	for _, w := range sc.Warnings {
		k := w.Kind.String()
		if !seen[k] {
			seen[k] = true
			out.Warnings = append(out.Warnings, k)
		}
	}
	return out, nil
}

func mergeWarnings(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, w := range b {
		dup := false
		for _, x := range out {
			dup = dup || x == w
		}
		if !dup {
			out = append(out, w)
		}
	}
	return out
}

func (s *Server) verify(c echo.Context) error {
	var body VerifyBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	var sc trace.Scan
	if body.Scan != "" {
		if body.GTIN != "" || body.Serial != "" || body.Lot != "" || body.Expiry != "" {
			return fieldProblem("scan", "give either scan or gtin, serial, lot and expiry, not both")
		}
		var err error
		if sc, err = parseScan("scan", body.Scan); err != nil {
			return err
		}
	} else {
		sc = trace.Scan{GTIN: body.GTIN, Serial: body.Serial, Lot: body.Lot, Expiry: body.Expiry}
	}
	sc.Warnings = mergeWarnings(sc.Warnings, body.Warnings)
	return s.verifyAndRecord(c, sc, body.RequestID)
}

// verifyAndRecord verifies a scan (a query: the fast path for a pack that
// passes) and, when the verification fails with findings, records them on
// the ledger with ReportScan before answering — Delegated Regulation
// 2016/161 Art. 36(b): every failed verification raises an alert, whoever
// asked. The answer then lists the anomalies recorded (outcome.anomalies,
// outcome.txId). If recording fails, the verdict is still returned (the
// counter must not wait for the orderers) with the header
// PharmaTrace-Alert-Recorded: false, and the failure is logged and counted.
func (s *Server) verifyAndRecord(c echo.Context, sc trace.Scan, requestID string) error {
	var res trace.VerifyResult
	if err := s.evaluate(c, trace.TxVerify, &trace.VerifyRequest{Scan: sc}, &res); err != nil {
		return err
	}
	if !res.Alert() || !identity(c).Role.Has(trace.RightScanReport) {
		return writeJSON(c, http.StatusOK, res)
	}
	req := &trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: ensureID(requestID)}, Scan: sc}
	var rep trace.ScanResult
	err := req.Validate()
	if err == nil {
		var led Ledger
		if led, err = s.ledger(c); err == nil {
			err = led.Submit(c.Request().Context(), trace.TxReportScan, req, &rep)
		}
	}
	if err != nil {
		s.metrics.alertsUnrecorded.Inc()
		s.log.Error("api: failed verification not recorded", "request_id", req.ID(), "code", res.Code, "gtin", sc.GTIN, "err", err)
		c.Response().Header().Set("PharmaTrace-Alert-Recorded", "false")
		return writeJSON(c, http.StatusOK, res)
	}
	res.Outcome.TxID, res.Outcome.Anomalies = rep.TxID, rep.Anomalies
	c.Response().Header().Set("PharmaTrace-Alert-Recorded", "true")
	s.log.Info("api: failed verification recorded", "request_id", req.ID(), "tx_id", rep.TxID, "code", res.Code, "anomalies", len(rep.Anomalies),
		"msp", identity(c).MSP, "gln", identity(c).GLN)
	return writeJSON(c, http.StatusOK, res)
}

// verifyDigitalLink verifies the pack a GS1 Digital Link URI names (what a
// consumer's or inspector's phone reads from the pack's QR code).
func (s *Server) verifyDigitalLink(c echo.Context) error {
	if err := checkQuery(c, []string{"uri"}); err != nil {
		return err
	}
	uri := c.QueryParam("uri")
	if uri == "" {
		return fieldProblem("uri", "the query parameter uri (a GS1 Digital Link URI) is required")
	}
	if !strings.HasPrefix(uri, "https://") && !strings.HasPrefix(uri, "http://") {
		return fieldProblem("uri", "%q is not a GS1 Digital Link URI (http or https)", uri)
	}
	sc, err := parseScan("uri", uri)
	if err != nil {
		return err
	}
	return s.verifyAndRecord(c, sc, "")
}

// packScan builds the scan of the pack named in the path from a body's scan
// string or lot and expiry.
func packScan(c echo.Context, scan, lot, expiry string, warnings []string) (trace.Scan, error) {
	g, sn, err := pathPack(c)
	if err != nil {
		return trace.Scan{}, err
	}
	sc := trace.Scan{GTIN: g, Serial: sn, Lot: lot, Expiry: expiry}
	if scan != "" {
		if lot != "" || expiry != "" {
			return trace.Scan{}, fieldProblem("scan", "give either scan or lot and expiry, not both")
		}
		parsed, err := parseScan("scan", scan)
		if err != nil {
			return trace.Scan{}, err
		}
		if parsed.GTIN != g || parsed.Serial != sn {
			return trace.Scan{}, fieldProblem("scan", "the scan names pack %s/%s, not %s/%s", parsed.GTIN, parsed.Serial, g, sn)
		}
		sc = parsed
	}
	sc.Warnings = mergeWarnings(sc.Warnings, warnings)
	return sc, nil
}

func (s *Server) decommission(c echo.Context) error {
	var body DecommissionBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	sc, err := packScan(c, body.Scan, body.Lot, body.Expiry, body.Warnings)
	if err != nil {
		return err
	}
	req := trace.DecommissionRequest{RequestHeader: trace.RequestHeader{RequestID: ensureID(body.RequestID)}, Scan: sc, Reason: body.Reason}
	if err := req.Validate(); err != nil {
		return err
	}
	if role := identity(c).Role; !role.Has(trace.DecommissionRight(body.Reason)) {
		p := NewProblem(ProbForbidden, "role %s may not decommission a pack as %s", role, body.Reason)
		p.Field = "reason"
		return p
	}
	var res trace.ScanResult
	return s.submit(c, trace.TxDecommission, &req, &res)
}

// dispense records the supply of a pack to a patient: the same Dispense
// transaction as the scanner agent's (request ID from the body, so a
// pharmacy system's retry is applied once).
func (s *Server) dispense(c echo.Context) error { return s.scanWrite(c, trace.TxDispense) }

func (s *Server) undo(c echo.Context) error { return s.scanWrite(c, trace.TxUndo) }

// scanWrite runs fn (Dispense or Undo) on the pack named in the path, from
// a ScanBody.
func (s *Server) scanWrite(c echo.Context, fn string) error {
	var body ScanBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	sc, err := packScan(c, body.Scan, body.Lot, body.Expiry, body.Warnings)
	if err != nil {
		return err
	}
	req := trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: ensureID(body.RequestID)}, Scan: sc}
	var res trace.ScanResult
	return s.submit(c, fn, &req, &res)
}

func (s *Server) packHistory(c echo.Context) error {
	if err := checkQuery(c, []string{"limit"}); err != nil {
		return err
	}
	g, sn, err := pathPack(c)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 0, 1, trace.MaxHistory)
	if err != nil {
		return err
	}
	res, err := s.history(c, g, sn, limit)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, res)
}

// history is a pack's committed versions, newest first. Fabric keeps no
// history of a manufacturer's private pack records, so the versions come
// from the read model (built from the collection members' full events);
// the ledger's GetPack decides, for the caller, whether the pack may be
// seen at all (the regulator, its manufacturer, a party to its custody).
func (s *Server) history(c echo.Context, gtin, serial string, limit int) (trace.PackHistoryResult, error) {
	var cur trace.GetPackResult
	if err := s.evaluate(c, trace.TxGetPack, &trace.PackQuery{GTIN: gtin, Serial: serial}, &cur); err != nil {
		return trace.PackHistoryResult{}, err
	}
	if limit == 0 {
		limit = trace.DefaultHistory
	}
	// The read model follows the ledger within a second or so: wait a
	// little for it to hold the version GetPack returned; if it still
	// lags, the current version heads the answer anyway.
	ctx := c.Request().Context()
	deadline := time.Now().Add(2 * time.Second)
	for {
		tl, err := s.deps.Read.PackTimeline(ctx, gtin, serial, 0)
		if err != nil {
			return trace.PackHistoryResult{}, err
		}
		caughtUp := len(tl) > 0 && tl[len(tl)-1].TxID == cur.Pack.LastTx
		if caughtUp || time.Now().After(deadline) {
			if !caughtUp {
				tl = append(tl, readmodel.PackEvent{TxID: cur.Pack.LastTx, Event: cur.Pack.LastEvent, At: cur.Pack.UpdatedAt, Lot: cur.Pack.Lot,
					State: cur.Pack.State, Reason: cur.Pack.Reason, Custodian: cur.Pack.Custodian})
			}
			return historyFromTimeline(cur.Pack, tl, limit), nil
		}
		select {
		case <-ctx.Done():
			return trace.PackHistoryResult{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// historyFromTimeline turns the read model's rows of a pack (oldest first)
// into history entries (newest first): the current record with each
// version's state, custody and last transaction.
func historyFromTimeline(cur trace.Pack, tl []readmodel.PackEvent, limit int) trace.PackHistoryResult {
	res := trace.PackHistoryResult{Entries: []trace.PackHistoryEntry{}}
	for i := len(tl) - 1; i >= 0; i-- {
		if len(res.Entries) == limit {
			res.Truncated = true
			break
		}
		e := tl[i]
		p := cur
		p.Lot, p.State, p.Reason, p.Custodian = e.Lot, e.State, e.Reason, e.Custodian
		p.LastEvent, p.LastTx, p.UpdatedAt, p.Transit = e.Event, e.TxID, e.At, nil
		if e.Shipment != "" {
			p.Transit = &trace.Transit{Shipment: e.Shipment, From: e.Actor.Party()}
		}
		res.Entries = append(res.Entries, trace.PackHistoryEntry{TxID: e.TxID, Timestamp: e.At, Pack: &p})
	}
	return res
}

// ---- shipments ----

func (s *Server) ship(c echo.Context) error {
	var req trace.ShipRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	req.RequestID = ensureID(req.RequestID)
	var res trace.ShipmentResult
	return s.submit(c, trace.TxShip, &req, &res)
}

func (s *Server) getShipment(c echo.Context) error {
	var res trace.GetShipmentResult
	if err := s.evaluate(c, trace.TxGetShipment, &trace.ShipmentQuery{ID: c.Param("id")}, &res); err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, res.Shipment)
}

func (s *Server) receive(c echo.Context) error {
	var body ReceiveBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	req := trace.ReceiveRequest{RequestHeader: trace.RequestHeader{RequestID: ensureID(body.RequestID)}, ShipmentID: c.Param("id"),
		Packs: body.Packs, SSCCs: body.SSCCs, Warnings: body.Warnings}
	var res trace.ReceiveResult
	return s.submit(c, trace.TxReceive, &req, &res)
}

// ---- anomalies ----

// anomalyFilter reads the filter query parameters; a non-regulator only
// sees the anomalies its organisation reported and, for a manufacturer,
// those about its own products (readmodel.Scope).
func anomalyFilter(c echo.Context) (readmodel.AnomalyFilter, error) {
	var f readmodel.AnomalyFilter
	for _, v := range queryList(c, "type") {
		f.Codes = append(f.Codes, trace.AnomalyCode(v))
	}
	for _, v := range queryList(c, "severity") {
		f.Severities = append(f.Severities, trace.Severity(v))
	}
	for _, v := range queryList(c, "classification") {
		f.Classifications = append(f.Classifications, trace.Classification(v))
	}
	for _, v := range queryList(c, "status") {
		f.Statuses = append(f.Statuses, trace.AnomalyStatus(v))
	}
	f.GTIN, f.Lot, f.Serial, f.GLN, f.Org = c.QueryParam("gtin"), c.QueryParam("lot"), c.QueryParam("serial"), c.QueryParam("gln"), c.QueryParam("org")
	var err error
	if f.From, err = queryTime(c, "from"); err != nil {
		return f, err
	}
	if f.To, err = queryTime(c, "to"); err != nil {
		return f, err
	}
	id := identity(c)
	f.Scope = readmodel.ScopeOf(id.MSP, id.Role, id.GLN, id.GCP)
	return f, f.Validate()
}

func paramNames(ps []Param) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

func (s *Server) listAnomalies(c echo.Context) error {
	if err := checkQuery(c, append(paramNames(anomalyFilterParams()), "sort", "limit", "cursor")); err != nil {
		return err
	}
	f, err := anomalyFilter(c)
	if err != nil {
		return err
	}
	o, err := readmodel.ParseSort(c.QueryParam("sort"))
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", readmodel.DefaultLimit, 1, readmodel.MaxLimit)
	if err != nil {
		return err
	}
	page, err := s.deps.Read.ListAnomalies(c.Request().Context(), f, o, readmodel.Page{Limit: limit, Cursor: c.QueryParam("cursor")})
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, AnomalyList{Items: page.Anomalies, NextCursor: page.NextCursor})
}

// csvSafe neutralises cells a spreadsheet would run as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// AnomalyCSVHeader is the header row of the CSV export.
var AnomalyCSVHeader = []string{"id", "createdAt", "updatedAt", "type", "alert", "severity", "classification", "status", "closeReason",
	"gtin", "serial", "lot", "shipment", "site", "reportedByMsp", "reportedByRole", "reportedByGln", "counterpartMsp", "counterpartGln",
	"transaction", "txId", "packCount", "message"}

func anomalyRow(a *trace.Anomaly) []string {
	var gtin, serial, lot string
	if a.Pack != nil {
		gtin, serial = a.Pack.GTIN, a.Pack.Serial
	}
	if a.Lot != nil {
		gtin, lot = a.Lot.GTIN, a.Lot.Lot
	}
	var cp trace.Party
	if a.Evidence.Counterpart != nil {
		cp = *a.Evidence.Counterpart
	}
	n := a.Evidence.PackCount
	if n == 0 && a.Pack != nil {
		n = 1
	}
	row := []string{a.ID, a.CreatedAt.UTC().Format(time.RFC3339Nano), a.UpdatedAt.UTC().Format(time.RFC3339Nano), string(a.Code), string(a.Alert),
		string(a.Severity), string(a.Classification), string(a.Status), string(a.CloseReason), gtin, serial, lot, a.Shipment, a.Site,
		a.ReportedBy.MSP, string(a.ReportedBy.Role), a.ReportedBy.GLN, cp.MSP, cp.GLN, a.Transaction, a.TxID, strconv.Itoa(n), a.Evidence.Message}
	for i := range row {
		row[i] = csvSafe(row[i])
	}
	return row
}

// exportAnomalies streams every anomaly of the list as CSV, page by page.
func (s *Server) exportAnomalies(c echo.Context) error {
	if err := checkQuery(c, append(paramNames(anomalyFilterParams()), "sort")); err != nil {
		return err
	}
	f, err := anomalyFilter(c)
	if err != nil {
		return err
	}
	o, err := readmodel.ParseSort(c.QueryParam("sort"))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	page, err := s.deps.Read.ListAnomalies(ctx, f, o, readmodel.Page{Limit: readmodel.MaxLimit})
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="anomalies.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	_ = w.Write(AnomalyCSVHeader)
	for {
		for i := range page.Anomalies {
			if err := w.Write(anomalyRow(&page.Anomalies[i])); err != nil {
				return err
			}
		}
		w.Flush()
		if page.NextCursor == "" {
			return w.Error()
		}
		if page, err = s.deps.Read.ListAnomalies(ctx, f, o, readmodel.Page{Limit: readmodel.MaxLimit, Cursor: page.NextCursor}); err != nil {
			return err // the response has started: logged, the CSV ends early
		}
	}
}

// visibleAnomaly returns the anomaly if the caller may see it (regulator:
// all; others: reported by their organisation, or for a manufacturer about
// its own products); not found otherwise.
func (s *Server) visibleAnomaly(c echo.Context, id string) (trace.Anomaly, error) {
	who := identity(c)
	a, err := s.deps.Read.GetAnomalyIn(c.Request().Context(), id, readmodel.ScopeOf(who.MSP, who.Role, who.GLN, who.GCP))
	if errors.Is(err, readmodel.ErrNotFound) {
		return trace.Anomaly{}, NewProblem(ProbNotFound, "anomaly %s", id)
	}
	return a, err
}

func (s *Server) getAnomaly(c echo.Context) error {
	a, err := s.visibleAnomaly(c, c.Param("id"))
	if err != nil {
		return err
	}
	out := AnomalyDetail{Anomaly: a}
	if identity(c).Role == trace.RoleRegulator && a.Pack != nil {
		if out.Timeline, err = s.deps.Read.PackTimeline(c.Request().Context(), a.Pack.GTIN, a.Pack.Serial, 0); err != nil {
			return err
		}
	}
	return writeJSON(c, http.StatusOK, out)
}

func (s *Server) flagAnomaly(c echo.Context) error {
	var req trace.FlagAnomalyRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	req.RequestID = ensureID(req.RequestID)
	var res trace.AnomalyResult
	return s.submit(c, trace.TxFlagAnomaly, &req, &res)
}

func (s *Server) transitionAnomaly(c echo.Context) error {
	var body TransitionBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if body.To == trace.AnomalyClosed && body.Reason == "" {
		return fieldProblem("reason", "closing an anomaly needs a close reason (%s)", strings.Join(enumOf(trace.CloseReasons), ", "))
	}
	req := trace.TransitionAnomalyRequest{RequestHeader: trace.RequestHeader{RequestID: ensureID(body.RequestID)}, AnomalyID: c.Param("id"),
		To: body.To, Reason: body.Reason, Comment: body.Comment}
	var res trace.AnomalyResult
	return s.submit(c, trace.TxTransitionAnomaly, &req, &res)
}

func (s *Server) commentAnomaly(c echo.Context) error {
	var body CommentBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	req := trace.CommentAnomalyRequest{RequestHeader: trace.RequestHeader{RequestID: ensureID(body.RequestID)}, AnomalyID: c.Param("id"), Comment: body.Comment}
	var res trace.AnomalyResult
	return s.submit(c, trace.TxCommentAnomaly, &req, &res)
}

// ---- statistics ----

func (s *Server) anomaliesPerDay(c echo.Context) error {
	if err := checkQuery(c, paramNames(anomalyFilterParams())); err != nil {
		return err
	}
	f, err := anomalyFilter(c)
	if err != nil {
		return err
	}
	if f.To.IsZero() {
		f.To = s.now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	}
	if f.From.IsZero() {
		f.From = f.To.Add(-30 * 24 * time.Hour)
	}
	if err := f.Validate(); err != nil {
		return err
	}
	days, err := s.deps.Read.AnomaliesPerDay(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, PerDayStats{From: f.From.UTC().Format(time.RFC3339), To: f.To.UTC().Format(time.RFC3339), Days: days, ByType: byType(days)})
}

func byType(days []readmodel.DayCount) []TypeCount {
	sum := map[trace.AnomalyCode]int{}
	for _, d := range days {
		sum[d.Code] += d.Count
	}
	out := []TypeCount{}
	for k, v := range sum {
		out = append(out, TypeCount{Type: k, Count: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Type < out[j].Type
	})
	return out
}

func (s *Server) packsByState(c echo.Context) error {
	if err := checkQuery(c, []string{"gtin"}); err != nil {
		return err
	}
	g := c.QueryParam("gtin")
	if g != "" {
		if err := trace.CheckGTIN(g); err != nil {
			return fieldProblem("gtin", "%s", err)
		}
	}
	st, err := s.deps.Read.PacksByState(c.Request().Context(), g)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, PackStateStats{States: st})
}

func (s *Server) lotsAtRisk(c echo.Context) error {
	if err := checkQuery(c, []string{"limit"}); err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	lots, err := s.deps.Read.LotsAtRisk(c.Request().Context(), limit)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, LotRiskStats{Lots: lots})
}

// ---- dashboard actions ----

// dashActions performs the dashboard's workflow and recall actions with the
// logged-in regulator's identity.
type dashActions struct{ s *Server }

func (d dashActions) ledgerFor(id Identity) (Ledger, error) {
	l, err := d.s.deps.Ledgers.LedgerFor(id)
	if err != nil {
		return nil, fmt.Errorf("%w: no ledger identity for %s: %v", ErrUnavailable, id.Key(), err)
	}
	return timedLedger{l: l, m: d.s.metrics}, nil
}

// dashSubmit runs one write of the dashboard as the signed-in user,
// named by the transaction's descriptor.
func dashSubmit[Req, Res any, R interface {
	*Req
	trace.WriteRequest
}](ctx context.Context, d dashActions, id Identity, tx trace.Tx[Req, Res], req R) (Res, error) {
	var res Res
	if err := req.Validate(); err != nil {
		return res, err
	}
	led, err := d.ledgerFor(id)
	if err != nil {
		return res, err
	}
	err = led.Submit(ctx, tx.Name, req, &res)
	return res, err
}

// dashEvaluate runs one query of the dashboard as the signed-in user.
func dashEvaluate[Req, Res any, R interface {
	*Req
	trace.Request
}](ctx context.Context, d dashActions, id Identity, tx trace.Tx[Req, Res], req R) (Res, error) {
	var res Res
	if err := req.Validate(); err != nil {
		return res, err
	}
	led, err := d.ledgerFor(id)
	if err != nil {
		return res, err
	}
	err = led.Evaluate(ctx, tx.Name, req, &res)
	return res, err
}

func newHeader() trace.RequestHeader { return trace.RequestHeader{RequestID: ensureID("")} }

func (d dashActions) Transition(ctx context.Context, id Identity, anomalyID string, to trace.AnomalyStatus, reason trace.CloseReason, comment string) (trace.AnomalyResult, error) {
	return dashSubmit(ctx, d, id, trace.Txs.TransitionAnomaly, &trace.TransitionAnomalyRequest{RequestHeader: newHeader(), AnomalyID: anomalyID, To: to, Reason: reason, Comment: comment})
}

func (d dashActions) Recall(ctx context.Context, id Identity, gtin, lot, reason string) (trace.LotResult, error) {
	return dashSubmit(ctx, d, id, trace.Txs.RecallLot, &trace.LotStatusRequest{RequestHeader: newHeader(), GTIN: gtin, Lot: lot, Reason: reason})
}

func (d dashActions) Pack(ctx context.Context, id Identity, gtin, serial string) (trace.Pack, error) {
	res, err := dashEvaluate(ctx, d, id, trace.Txs.GetPack, &trace.PackQuery{GTIN: gtin, Serial: serial})
	return res.Pack, err
}

// Verify is the verification query alone: the regulator inspecting a
// suspect pack does not raise a new alert about it.
func (d dashActions) Verify(ctx context.Context, id Identity, sc trace.Scan) (trace.VerifyResult, error) {
	return dashEvaluate(ctx, d, id, trace.Txs.Verify, &trace.VerifyRequest{Scan: sc})
}

// Lock is the regulator's lock of one pack (Decommission, reason locked).
func (d dashActions) Lock(ctx context.Context, id Identity, sc trace.Scan) (trace.ScanResult, error) {
	return dashSubmit(ctx, d, id, trace.Txs.Decommission, &trace.DecommissionRequest{RequestHeader: newHeader(), Scan: sc, Reason: trace.ReasonLocked})
}

// Unlock undoes the regulator's lock (Undo).
func (d dashActions) Unlock(ctx context.Context, id Identity, sc trace.Scan) (trace.ScanResult, error) {
	return dashSubmit(ctx, d, id, trace.Txs.Undo, &trace.ScanRequest{RequestHeader: newHeader(), Scan: sc})
}

func (d dashActions) Flag(ctx context.Context, id Identity, req trace.FlagAnomalyRequest) (trace.AnomalyResult, error) {
	req.RequestHeader = newHeader()
	return dashSubmit(ctx, d, id, trace.Txs.FlagAnomaly, &req)
}
