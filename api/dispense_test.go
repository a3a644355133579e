package api_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/pharmatrace/pharmatrace/api"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/trace"
)

// TestDispenseRoute: a pharmacy system dispenses over HTTP with the same
// transaction as the scanner agent; refusals are 409 problems with the EU
// code, a retry with the same request ID returns the original outcome.
func TestDispenseRoute(t *testing.T) {
	h := newHarness(t)
	path := "/api/v1/packs/" + memledger.DemoGTIN + "/SA00002/dispense"
	scan := "]d201" + memledger.DemoGTIN + "17301231" + "10LOT-A1\x1d" + "21SA00002"
	body := map[string]any{"requestId": "till-7-0001", "scan": scan}
	r := h.do(request{method: http.MethodPost, path: path, role: trace.RolePharmacist, body: body})
	var res trace.ScanResult
	r.json(t, &res)
	if r.status != 200 || !res.OK() || res.Pack == nil || res.Pack.State != trace.StateInactive || res.Pack.Reason != trace.ReasonDispensed {
		t.Fatalf("dispense: %d %s", r.status, r.body)
	}
	calls := h.sim.Calls()
	if last := calls[len(calls)-1]; last.Fn != trace.TxDispense || last.RequestID != "till-7-0001" || last.Actor != users[trace.RolePharmacist].Actor() {
		t.Errorf("submitted %s %s as %+v", last.Fn, last.RequestID, last.Actor)
	}
	// The till retries (lost answer): the original outcome, nothing new.
	r2 := h.do(request{method: http.MethodPost, path: path, role: trace.RolePharmacist, body: body})
	if r2.status != 200 || !bytes.Equal(r.body, r2.body) {
		t.Errorf("retry: %d %s", r2.status, r2.body)
	}

	// A second pharmacy site dispenses the same pack: A24 and a clone.
	station := h.tokenFor(pharmStation)
	r = h.do(request{method: http.MethodPost, path: path, token: station, body: map[string]any{"lot": "LOT-A1", "expiry": "301231"}})
	p := expectProblem(t, r, 409, api.ProbRefused, "")
	if p.Code != trace.CodeStatusChangeNotPossible || len(p.Anomalies) == 0 || p.TxID == "" {
		t.Fatalf("second dispense: %+v", p)
	}
	h.sync()
	var d api.AnomalyDetail
	h.do(request{method: http.MethodGet, path: "/api/v1/anomalies/" + p.Anomalies[0], role: trace.RoleRegulator}).json(t, &d)
	if d.Anomaly.Code != trace.AnomalyClone {
		t.Errorf("anomaly of the second dispense: %+v", d.Anomaly)
	}

	// A pack of the recalled lot is refused.
	r = h.do(request{method: http.MethodPost, path: "/api/v1/packs/" + memledger.DemoGTIN2 + "/SB00001/dispense", role: trace.RolePharmacist,
		body: map[string]any{"scan": "(01)" + memledger.DemoGTIN2 + "(17)301231(10)LOT-B7(21)SB00001"}})
	if p := expectProblem(t, r, 409, api.ProbRefused, ""); p.Code != trace.CodeLotRecalled {
		t.Errorf("recalled lot: %+v", p)
	}

	// The body must name the pack of the path.
	before := writeCalls(h)
	r = h.do(request{method: http.MethodPost, path: path, role: trace.RolePharmacist, body: map[string]any{"scan": "(01)" + memledger.DemoGTIN + "(17)301231(10)LOT-A1(21)SA00003"}})
	expectProblem(t, r, 422, api.ProbInvalidField, "scan")
	r = h.do(request{method: http.MethodPost, path: path, role: trace.RolePharmacist, body: map[string]any{"lot": "LOT-A1"}})
	expectProblem(t, r, 422, api.ProbInvalidField, "expiry")
	if n := writeCalls(h); n != before {
		t.Errorf("invalid requests reached the ledger %d times", n-before)
	}
}
