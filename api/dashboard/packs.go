package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/gs1"
	"github.com/pharmatrace/pharmatrace/trace"
)

// packTimeline is a pack's chain of custody from the read model with the
// anomalies about it, oldest first; highlight marks one anomaly.
func (h *Handler) packTimeline(ctx context.Context, gtin, serial, highlight string) ([]timelineItem, []readmodel.PackEvent, []trace.Anomaly, error) {
	events, err := h.read.PackTimeline(ctx, gtin, serial, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	var items []timelineItem
	for _, e := range events {
		it := timelineItem{At: e.At, Kind: "event", Title: e.Event, State: string(e.State),
			Actor:  fmt.Sprintf("%s (%s) at %s", e.Actor.MSP, e.Actor.Role, e.Actor.GLN),
			Detail: fmt.Sprintf("custodian %s at %s", e.Custodian.MSP, e.Custodian.GLN)}
		if e.Reason != "" {
			it.State += " (" + string(e.Reason) + ")"
		}
		if e.Shipment != "" {
			it.Detail += ", shipment " + e.Shipment
		}
		if e.Outcome == string(trace.StatusRefused) {
			it.Detail += ", refused " + string(e.Code)
		}
		items = append(items, it)
	}
	related, err := h.read.ListAnomalies(ctx, readmodel.AnomalyFilter{GTIN: gtin, Serial: serial}, readmodel.Sort{Field: readmodel.SortCreated}, readmodel.Page{Limit: 100})
	if err != nil {
		return nil, nil, nil, err
	}
	for _, r := range related.Anomalies {
		items = append(items, timelineItem{At: r.CreatedAt, Kind: "anomaly", Title: string(r.Code) + " (" + string(r.Severity) + ")",
			Detail: r.Evidence.Message, Actor: fmt.Sprintf("%s (%s) at %s", r.ReportedBy.MSP, r.ReportedBy.Role, r.ReportedBy.GLN),
			State: string(r.Status), Highlight: r.ID == highlight, Link: "/dashboard/anomalies/" + url.PathEscape(r.ID)})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].At.Before(items[j].At) })
	return items, events, related.Anomalies, nil
}

func checkPack(gtin, serial string) error {
	if err := trace.CheckGTIN(gtin); err != nil {
		return trace.Invalid("gtin", "%s", err)
	}
	if err := trace.CheckSerial(serial); err != nil {
		return trace.Invalid("serial", "%s", err)
	}
	return nil
}

type lookupData struct {
	Code      string
	Error     string
	GTIN      string
	Serial    string
	Scan      *trace.Scan
	Pack      *trace.Pack
	Unknown   bool // not on the ledger
	Verify    *trace.VerifyResult
	Lot       *trace.Lot
	Timeline  []timelineItem
	Anomalies []trace.Anomaly
	CanLock   bool
	CanUnlock bool
}

// parseCode reads a pasted or scanned code: a GS1 element string (with
// group separators, or the bracketed form printed under the symbol) or a
// GS1 Digital Link URI. GTIN and serial are required; lot and expiry,
// when present, let the page verify the code as a pharmacy would.
func parseCode(code string) (trace.Scan, error) {
	sc, err := gs1.ParseString(code)
	if err != nil {
		return trace.Scan{}, err
	}
	out := trace.Scan{GTIN: sc.GTIN, Serial: sc.Serial, Lot: sc.Lot}
	out.Expiry, _ = sc.Get("17")
	if out.GTIN == "" || out.Serial == "" {
		return out, errors.New("the code has no GTIN (AI 01) and serial number (AI 21): it does not name one pack")
	}
	for _, w := range sc.Warnings {
		out.Warnings = append(out.Warnings, w.Kind.String())
	}
	return out, nil
}

// lookup shows a pack from a pasted code (or gtin and serial): its state
// and custodian on the ledger, the verdict a pharmacy would get for that
// code, its chain of custody and the anomalies about it, and lock/unlock.
func (h *Handler) lookup(c echo.Context) error {
	ctx := c.Request().Context()
	q := c.Request().URL.Query()
	d := lookupData{Code: strings.TrimSpace(q.Get("code")), GTIN: q.Get("gtin"), Serial: q.Get("serial")}
	if d.Code == "" && (d.GTIN == "" || d.Serial == "") {
		return h.render(c, http.StatusOK, "pack", page{Title: "Pack lookup", Data: d})
	}
	id := identity(c)
	if d.Code != "" {
		sc, err := parseCode(d.Code)
		if err != nil {
			d.Error = err.Error()
			return h.render(c, http.StatusUnprocessableEntity, "pack", page{Title: "Pack lookup", Data: d})
		}
		d.Scan, d.GTIN, d.Serial = &sc, sc.GTIN, sc.Serial
	} else if err := checkPack(d.GTIN, d.Serial); err != nil {
		d.Error = err.Error()
		return h.render(c, http.StatusUnprocessableEntity, "pack", page{Title: "Pack lookup", Data: d})
	}
	p, err := h.act.Pack(ctx, id, d.GTIN, d.Serial)
	switch {
	case err == nil:
		d.Pack = &p
		d.CanLock = p.State != trace.StateInactive
		d.CanUnlock = p.State == trace.StateInactive && p.Reason == trace.ReasonLocked && p.StateChangedRole == trace.RoleRegulator
		if l, err := h.read.GetLot(ctx, p.GTIN, p.Lot); err == nil {
			d.Lot = &l
		}
	case trace.ClassifyError(err) == trace.ErrNotFound:
		d.Unknown = true
	default:
		return err
	}
	if d.Scan != nil && d.Scan.Lot != "" && d.Scan.Expiry != "" {
		v, err := h.act.Verify(ctx, id, *d.Scan)
		if err != nil && trace.ClassifyError(err) != trace.ErrInvalidRequest {
			return err
		}
		if err == nil {
			d.Verify = &v
		}
	}
	if d.Timeline, _, d.Anomalies, err = h.packTimeline(ctx, d.GTIN, d.Serial, ""); err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "pack", page{Title: "Pack " + d.GTIN + "/" + d.Serial, Data: d})
}

// lockAction locks (Decommission, reason locked) or unlocks (Undo) a pack
// with the regulator's identity: its lot and expiry come from the ledger.
func (h *Handler) lockAction(lock bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := h.checkForm(c, true); err != nil {
			return err
		}
		ctx := c.Request().Context()
		gtin, serial := c.Param("gtin"), c.Param("serial")
		if err := checkPack(gtin, serial); err != nil {
			return err
		}
		id := identity(c)
		p, err := h.act.Pack(ctx, id, gtin, serial)
		if err != nil {
			return err
		}
		sc := trace.Scan{GTIN: p.GTIN, Serial: p.Serial, Lot: p.Lot, Expiry: p.Expiry}
		var res trace.ScanResult
		what := "unlocked: it verifies as before the lock"
		if lock {
			res, err = h.act.Lock(ctx, id, sc)
			what = "locked: every verification of it is refused until you unlock it"
		} else {
			res, err = h.act.Unlock(ctx, id, sc)
		}
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("Pack %s/%s %s.", gtin, serial, what)
		if !res.OK() {
			msg = fmt.Sprintf("Refused: %s %s", res.Code, res.Message)
		} else {
			h.waitFor(ctx, func(ctx context.Context) bool {
				ev, err := h.read.PackTimeline(ctx, gtin, serial, 0)
				return err == nil && len(ev) > 0 && ev[len(ev)-1].TxID == res.TxID
			})
		}
		h.setFlash(c, msg)
		return c.Redirect(http.StatusSeeOther, "/dashboard/packs?gtin="+url.QueryEscape(gtin)+"&serial="+url.QueryEscape(serial))
	}
}

type lotsData struct {
	Lots []readmodel.LotRisk
}

// lots lists the lots at risk.
func (h *Handler) lots(c echo.Context) error {
	lots, err := h.read.LotsAtRisk(c.Request().Context(), 200)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "lots", page{Title: "Lots at risk", Data: lotsData{Lots: lots}})
}

type statesData struct {
	GTIN   string
	Error  string
	Chart  chart
	States []readmodel.StateCount
	Total  int
}

// states charts the packs by state and reason (optionally of one GTIN).
func (h *Handler) states(c echo.Context) error {
	d := statesData{GTIN: strings.TrimSpace(c.QueryParam("gtin"))}
	if d.GTIN != "" {
		if err := trace.CheckGTIN(d.GTIN); err != nil {
			d.Error = "GTIN: " + err.Error()
			d.Chart = stateChart(nil)
			return h.render(c, http.StatusUnprocessableEntity, "states", page{Title: "Packs by state", Data: d})
		}
	}
	st, err := h.read.PacksByState(c.Request().Context(), d.GTIN)
	if err != nil {
		return err
	}
	d.States, d.Chart = st, stateChart(st)
	for _, s := range st {
		d.Total += s.Count
	}
	return h.render(c, http.StatusOK, "states", page{Title: "Packs by state", Data: d})
}

// flagForm is the state of the flag form, echoed back on an error.
type flagForm struct {
	Code, Severity, Classification, GTIN, Serial, Lot, Shipment, Site, Message string
}

type flagData struct {
	Form    flagForm
	Options formOptions
	Error   string
}

func (h *Handler) flagPage(c echo.Context) error {
	q := c.Request().URL.Query()
	f := flagForm{Code: string(trace.AnomalyManual), Severity: string(trace.SeverityHigh), GTIN: q.Get("gtin"), Serial: q.Get("serial"), Lot: q.Get("lot")}
	return h.render(c, http.StatusOK, "flag", page{Title: "Flag an anomaly", Data: flagData{Form: f, Options: options}})
}

// flag records an anomaly by hand (FlagAnomaly) and opens it.
func (h *Handler) flag(c echo.Context) error {
	if err := h.checkForm(c, true); err != nil {
		return err
	}
	f := flagForm{}
	for _, x := range []struct {
		p    *string
		name string
	}{{&f.Code, "code"}, {&f.Severity, "severity"}, {&f.Classification, "classification"}, {&f.GTIN, "gtin"}, {&f.Serial, "serial"},
		{&f.Lot, "lot"}, {&f.Shipment, "shipment"}, {&f.Site, "site"}, {&f.Message, "message"}} {
		*x.p = strings.TrimSpace(c.FormValue(x.name))
	}
	req := trace.FlagAnomalyRequest{Code: trace.AnomalyCode(f.Code), Severity: trace.Severity(f.Severity), Classification: trace.Classification(f.Classification),
		Shipment: f.Shipment, Site: f.Site, Message: f.Message}
	var problem string
	switch {
	case f.Serial != "" && f.GTIN == "":
		problem = "a serial needs its GTIN"
	case f.Lot != "" && f.GTIN == "":
		problem = "a lot needs its GTIN"
	case f.GTIN != "" && f.Serial == "" && f.Lot == "":
		problem = "give the serial (one pack) or the lot with the GTIN"
	}
	if f.GTIN != "" && f.Serial != "" {
		req.Pack = &trace.PackRef{GTIN: f.GTIN, Serial: f.Serial}
	}
	if f.GTIN != "" && f.Lot != "" {
		req.Lot = &trace.LotRef{GTIN: f.GTIN, Lot: f.Lot}
	}
	var res trace.AnomalyResult
	var err error
	if problem == "" {
		res, err = h.act.Flag(c.Request().Context(), identity(c), req)
		if err != nil && trace.ClassifyError(err) == trace.ErrInvalidRequest {
			problem, err = err.Error(), nil
		}
		if err != nil {
			return err
		}
		if problem == "" && !res.OK() {
			problem = fmt.Sprintf("refused: %s %s", res.Code, res.Message)
		}
	}
	if problem != "" {
		return h.render(c, http.StatusUnprocessableEntity, "flag", page{Title: "Flag an anomaly", Data: flagData{Form: f, Options: options, Error: problem}})
	}
	aid := res.Anomaly.ID
	h.waitFor(c.Request().Context(), func(ctx context.Context) bool {
		_, err := h.read.GetAnomaly(ctx, aid)
		return err == nil
	})
	h.setFlash(c, "Anomaly "+aid+" recorded on the ledger.")
	return c.Redirect(http.StatusSeeOther, "/dashboard/anomalies/"+url.PathEscape(aid))
}
