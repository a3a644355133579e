package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/api"
	"github.com/pharmatrace/pharmatrace/api/bulk"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/trace"
)

// bulkFixture commissions n packs of DemoGTIN in lot LOT-BK (serials
// BK00000…), ships them to pharm-central and receives them there.
func bulkFixture(t *testing.T, h *harness, n int) []string {
	t.Helper()
	ctx := context.Background()
	serials := serialList("BK", n)
	mfr := h.sim.For(memledger.MfrAlpha, "4012345")
	var cr trace.CommissionPacksResult
	if err := mfr.Submit(ctx, trace.TxCommissionPacks, &trace.CommissionPacksRequest{RequestHeader: trace.RequestHeader{RequestID: "bk-fix-c"},
		GTIN: memledger.DemoGTIN, Lot: "LOT-BK", Expiry: "301231", Serials: serials}, &cr); err != nil || !cr.OK() {
		t.Fatalf("commission: %+v %v", cr.Outcome, err)
	}
	refs := make([]trace.PackRef, n)
	for i, s := range serials {
		refs[i] = trace.PackRef{GTIN: memledger.DemoGTIN, Serial: s}
	}
	var sr trace.ShipmentResult
	if err := mfr.Submit(ctx, trace.TxShip, &trace.ShipRequest{RequestHeader: trace.RequestHeader{RequestID: "bk-fix-s"}, ShipmentID: "ASN-BK",
		To: memledger.PharmCentral.Party(), Packs: refs}, &sr); err != nil || !sr.OK() {
		t.Fatalf("ship: %+v %v", sr.Outcome, err)
	}
	var rr trace.ReceiveResult
	if err := h.sim.For(memledger.PharmCentral).Submit(ctx, trace.TxReceive, &trace.ReceiveRequest{RequestHeader: trace.RequestHeader{RequestID: "bk-fix-r"},
		ShipmentID: "ASN-BK", Packs: refs}, &rr); err != nil || !rr.OK() {
		t.Fatalf("receive: %+v %v", rr.Outcome, err)
	}
	return serials
}

func fields(gtin, serial, lot, expiry string) api.BulkPack {
	return api.BulkPack{GTIN: gtin, Serial: serial, Lot: lot, Expiry: expiry}
}

// pollBulk reads a bulk request until it is no longer running.
func pollBulk(t *testing.T, h *harness, role trace.Role, loc string) bulk.Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var j bulk.Job
		r := h.do(request{method: http.MethodGet, path: loc, role: role})
		r.json(t, &j)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", loc, r.status, r.body)
		}
		if j.Status != bulk.JobRunning {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("bulk request still running: %+v", j.Counts)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expectItems checks each listed pack's status and code.
func expectItems(t *testing.T, j bulk.Job, want map[int]struct {
	st   bulk.Status
	code trace.Code
}) {
	t.Helper()
	for i, w := range want {
		it := j.Items[i]
		if it.Index != i || it.Status != w.st || it.Code != w.code {
			t.Errorf("packs[%d] %s/%s: %s %s (%s), want %s %s", i, it.GTIN, it.Serial, it.Status, it.Code, it.Message, w.st, w.code)
		}
	}
}

type outcome = struct {
	st   bulk.Status
	code trace.Code
}

// TestBulkVerifyThousandPacks: 1,000 packs verified in one request, run
// asynchronously with a progress resource; refused and rejected packs are
// reported pack by pack without stopping the others.
func TestBulkVerifyThousandPacks(t *testing.T) {
	h := newHarness(t)
	serials := bulkFixture(t, h, 1000)
	g := memledger.DemoGTIN
	var packs []api.BulkPack
	for _, s := range serials[:980] {
		if len(packs)%2 == 0 {
			packs = append(packs, api.BulkPack{Scan: "]d201" + g + "17301231" + "10LOT-BK\x1d21" + s})
		} else {
			packs = append(packs, fields(g, s, "LOT-BK", "301231"))
		}
	}
	want := map[int]outcome{0: {bulk.ItemOK, ""}, 979: {bulk.ItemOK, ""}}
	add := func(p api.BulkPack, st bulk.Status, code trace.Code) {
		want[len(packs)] = outcome{st, code}
		packs = append(packs, p)
	}
	for i := 1; i <= 5; i++ {
		add(fields(memledger.DemoGTIN2, fmt.Sprintf("SB%05d", i), memledger.DemoLot2, "301231"), bulk.ItemRefused, trace.CodeLotRecalled)
		add(fields(g, fmt.Sprintf("NOSUCH%d", i), "LOT-BK", "301231"), bulk.ItemRefused, trace.CodeUnknownSerial)
		add(fields(g, serials[980+i], "LOT-BK", "291231"), bulk.ItemRefused, trace.CodeExpiryMismatch)
	}
	add(api.BulkPack{Scan: "(01)" + g + "(17)261331(10)LOT-BK(21)X1"}, bulk.ItemRejected, "")
	add(api.BulkPack{Scan: "(01)" + g + "(17)301231(10)LOT-BK"}, bulk.ItemRejected, "")
	add(fields(g, "A B", "LOT-BK", "301231"), bulk.ItemRejected, "")
	add(fields(g, serials[10], "LOT-BK", "301231"), bulk.ItemRejected, "") // repeats packs[10]
	add(fields(g, serials[11], "LOT-BK", "301231"), bulk.ItemRejected, "")
	if len(packs) != 1000 {
		t.Fatalf("%d packs", len(packs))
	}
	body := api.BulkBody{RequestID: "delivery-0815", Packs: packs}
	reports := h.sim.SubmitCount(trace.TxReportScan)
	start := time.Now()
	r := h.do(request{method: http.MethodPost, path: "/api/v1/bulk/verify", role: trace.RolePharmacist, body: body})
	if r.status != http.StatusAccepted || r.header.Get("Location") != "/api/v1/bulk/requests/delivery-0815" {
		t.Fatalf("1,000 packs: %d (Location %q), want 202 at once: %.300s", r.status, r.header.Get("Location"), r.body)
	}
	j := pollBulk(t, h, trace.RolePharmacist, r.header.Get("Location"))
	t.Logf("1,000 packs verified in %s", time.Since(start).Round(time.Millisecond))
	if j.Status != bulk.JobCompleted || j.Total != 1000 || j.Done != 1000 || j.Counts != (bulk.Counts{OK: 980, Refused: 15, Rejected: 5}) {
		t.Fatalf("job: %s %d/%d %+v", j.Status, j.Done, j.Total, j.Counts)
	}
	expectItems(t, j, want)
	if it := j.Items[995]; it.Field != "packs[995].scan" || !strings.Contains(it.Message, "month 13") {
		t.Errorf("bad scan string: %+v", it)
	}
	if it := j.Items[998]; it.Field != "packs[998]" || !strings.Contains(it.Message, "packs[10]") {
		t.Errorf("repeated pack: %+v", it)
	}
	if it := j.Items[0]; it.State != trace.StateActive || it.TxID != "" {
		t.Errorf("verified pack: %+v", it)
	}
	// Every failed verification raised its alert on the ledger (ReportScan,
	// once per pack, under the pack's derived request ID).
	if n := h.sim.SubmitCount(trace.TxReportScan) - reports; n != 15 {
		t.Errorf("%d ReportScan for 15 failed verifications", n)
	}
	for i := 980; i < 995; i++ {
		if it := j.Items[i]; it.TxID == "" || len(it.Anomalies) == 0 || it.RequestID != bulk.RequestID("delivery-0815", bulk.OpVerify, it.GTIN, it.Serial) {
			t.Errorf("failed verification without its recorded alert: %+v", it)
		}
	}
	// Sent again: the recorded outcomes, at once.
	r = h.do(request{method: http.MethodPost, path: "/api/v1/bulk/verify", role: trace.RolePharmacist, body: body})
	var again bulk.Job
	r.json(t, &again)
	if r.status != 200 || again.Counts != j.Counts || again.Status != bulk.JobCompleted {
		t.Errorf("sent again: %d %+v", r.status, again.Counts)
	}
	if n := h.sim.SubmitCount(trace.TxReportScan) - reports; n != 15 {
		t.Errorf("sent again: %d ReportScan in all, want the first 15", n)
	}
	// Another organisation does not see it.
	expectProblem(t, h.do(request{method: http.MethodGet, path: "/api/v1/bulk/requests/delivery-0815", role: trace.RoleDistributor}), 404, api.ProbNotFound, "")
}

// TestBulkDispenseIdempotent: 200 packs dispensed in one request, some
// refused on purpose; the same request again applies nothing; a pack that
// failed on the ledger side is retried (alone) by sending the request again.
func TestBulkDispenseIdempotent(t *testing.T) {
	h := newHarness(t)
	serials := bulkFixture(t, h, 200)
	g := memledger.DemoGTIN
	var packs []api.BulkPack
	for _, s := range serials[:190] {
		packs = append(packs, api.BulkPack{Scan: "(01)" + g + "(17)301231(10)LOT-BK(21)" + s})
	}
	want := map[int]outcome{0: {bulk.ItemOK, ""}, 189: {bulk.ItemOK, ""}}
	add := func(p api.BulkPack, st bulk.Status, code trace.Code) {
		want[len(packs)] = outcome{st, code}
		packs = append(packs, p)
	}
	add(fields(memledger.DemoGTIN2, "SB00001", memledger.DemoLot2, "301231"), bulk.ItemRefused, trace.CodeLotRecalled)
	add(fields(g, "SA00001", memledger.DemoLot, "301231"), bulk.ItemRefused, trace.CodeAlreadyInState) // dispensed here before
	for i := 1; i <= 3; i++ {
		add(fields(g, fmt.Sprintf("NOSUCH%d", i), "LOT-BK", "301231"), bulk.ItemRefused, trace.CodeUnknownSerial)
	}
	add(fields(g, serials[190], "LOT-BK", "301299"), bulk.ItemRejected, "")
	add(fields(g, serials[0], "LOT-BK", "301231"), bulk.ItemRejected, "")
	for _, s := range serials[191:194] {
		add(fields(g, s, "LOT-BK", "301231"), bulk.ItemOK, "")
	}
	if len(packs) != 200 {
		t.Fatalf("%d packs", len(packs))
	}
	body := api.BulkBody{RequestID: "rx-2026-0042", Packs: packs}
	before := writeCalls(h)
	start := time.Now()
	r := h.do(request{method: http.MethodPost, path: "/api/v1/bulk/dispense?wait=true", role: trace.RolePharmacist, body: body})
	var j bulk.Job
	r.json(t, &j)
	if r.status != 200 || j.Status != bulk.JobCompleted || j.Counts != (bulk.Counts{OK: 193, Refused: 5, Rejected: 2}) {
		t.Fatalf("dispense 200: %d %s %+v", r.status, j.Status, j.Counts)
	}
	t.Logf("200 packs dispensed in %s", time.Since(start).Round(time.Millisecond))
	expectItems(t, j, want)
	sent := writeCalls(h) - before
	if sent != 198 {
		t.Errorf("%d ledger writes, want one per valid pack (198)", sent)
	}
	ids := map[string]bool{}
	for _, it := range j.Items {
		if it.Status == bulk.ItemRejected {
			continue
		}
		if it.RequestID != bulk.RequestID("rx-2026-0042", bulk.OpDispense, it.GTIN, it.Serial) || ids[it.RequestID] {
			t.Errorf("packs[%d] request ID %q", it.Index, it.RequestID)
		}
		ids[it.RequestID] = true
	}
	for _, c := range h.sim.Calls()[before:] {
		if c.Fn != trace.TxDispense || !ids[c.RequestID] || c.Actor != users[trace.RolePharmacist].Actor() {
			t.Errorf("ledger call %s %s as %+v", c.Fn, c.RequestID, c.Actor)
		}
	}
	h.sync()
	var states api.PackStateStats
	h.do(request{method: http.MethodGet, path: "/api/v1/stats/packs-by-state?gtin=" + g, role: trace.RoleRegulator}).json(t, &states)
	dispensed := 0
	for _, s := range states.States {
		if s.Reason == trace.ReasonDispensed {
			dispensed = s.Count
		}
	}
	if dispensed != 193+1 { // and the demo's SA00001
		t.Errorf("%d packs of %s dispensed, want 194", dispensed, g)
	}

	// The till sends it again: the same answer, nothing applied.
	before = writeCalls(h)
	r2 := h.do(request{method: http.MethodPost, path: "/api/v1/bulk/dispense?wait=true", role: trace.RolePharmacist, body: body})
	if r2.status != 200 || !bytes.Equal(r.body, r2.body) {
		t.Errorf("sent again: %d %.300s", r2.status, r2.body)
	}
	if n := writeCalls(h) - before; n != 0 {
		t.Errorf("sending the request again made %d ledger writes", n)
	}
	// The same request ID with another list: a conflict.
	other := body
	other.Packs = packs[:10]
	expectProblem(t, h.do(request{method: http.MethodPost, path: "/api/v1/bulk/dispense", role: trace.RolePharmacist, body: other}), 409, api.ProbConflict, "")

	// One pack fails on the ledger side: the request ends failed; sent
	// again, that pack alone is retried, under the same request ID.
	small := api.BulkBody{RequestID: "rx-2026-0043", Packs: []api.BulkPack{fields(g, serials[194], "LOT-BK", "301231"), fields(g, serials[195], "LOT-BK", "301231")}}
	before = writeCalls(h)
	h.sim.FailNext(fmt.Errorf("%w: peer down", api.ErrUnavailable))
	r = h.do(request{method: http.MethodPost, path: "/api/v1/bulk/dispense", role: trace.RolePharmacist, body: small})
	j = bulk.Job{}
	r.json(t, &j)
	if r.status != 200 || j.Status != bulk.JobFailed || j.Counts != (bulk.Counts{OK: 1, Failed: 1}) {
		t.Fatalf("with a ledger failure: %d %s %+v", r.status, j.Status, j.Counts)
	}
	var failedID string
	for _, it := range j.Items {
		if it.Status == bulk.ItemFailed {
			failedID = it.RequestID
		}
	}
	r = h.do(request{method: http.MethodPost, path: "/api/v1/bulk/dispense", role: trace.RolePharmacist, body: small})
	j = bulk.Job{}
	r.json(t, &j)
	if r.status != 200 || j.Status != bulk.JobCompleted || j.Counts != (bulk.Counts{OK: 2}) {
		t.Fatalf("retried: %d %s %+v", r.status, j.Status, j.Counts)
	}
	calls := h.sim.Calls()[before:]
	if len(calls) != 3 || calls[2].RequestID != failedID {
		t.Errorf("retry sent %d calls (last %+v), want the failed pack alone (%s)", len(calls), calls[len(calls)-1], failedID)
	}
}

func TestBulkDecommissionAndLimits(t *testing.T) {
	h := newHarness(t, withConfig(func(c *api.Config) { c.BulkMaxPacks = 50 }))
	g := memledger.DemoGTIN
	// wh-north holds SA00003 and SA00004 after the demo.
	body := api.BulkBody{RequestID: "case-77", Reason: trace.ReasonDestroyed, Packs: []api.BulkPack{
		fields(g, "SA00003", memledger.DemoLot, "301231"), {Scan: "(01)" + g + "(17)301231(10)" + memledger.DemoLot + "(21)SA00004"}}}
	r := h.do(request{method: http.MethodPost, path: "/api/v1/bulk/decommission", role: trace.RoleDistributor, body: body})
	var j bulk.Job
	r.json(t, &j)
	if r.status != 200 || j.Counts != (bulk.Counts{OK: 2}) || j.Items[1].State != trace.StateInactive || j.Items[1].Reason != trace.ReasonDestroyed {
		t.Fatalf("decommission: %d %s", r.status, r.body)
	}
	calls := h.sim.Calls()
	if c := calls[len(calls)-1]; c.Fn != trace.TxDecommission || c.Req.(*trace.DecommissionRequest).Reason != trace.ReasonDestroyed {
		t.Errorf("last call %s %+v", c.Fn, c.Req)
	}
	bad := []struct {
		name, path string
		role       trace.Role
		body       any
		status     int
		kind       string
		field      string
	}{
		{"reason outside the role", "/api/v1/bulk/decommission", trace.RolePharmacist, api.BulkBody{Reason: trace.ReasonExported, Packs: body.Packs}, 403, api.ProbForbidden, "reason"},
		{"no reason", "/api/v1/bulk/decommission", trace.RoleDistributor, api.BulkBody{Packs: body.Packs}, 422, api.ProbInvalidField, "reason"},
		{"reason on a dispense", "/api/v1/bulk/dispense", trace.RolePharmacist, api.BulkBody{Reason: trace.ReasonDestroyed, Packs: body.Packs}, 422, api.ProbInvalidField, "reason"},
		{"empty", "/api/v1/bulk/verify", trace.RolePharmacist, api.BulkBody{}, 422, api.ProbInvalidField, "packs"},
		{"bad request ID", "/api/v1/bulk/verify", trace.RolePharmacist, api.BulkBody{RequestID: "a/b", Packs: body.Packs}, 422, api.ProbInvalidField, "requestId"},
		{"too many", "/api/v1/bulk/verify", trace.RolePharmacist, api.BulkBody{Packs: make([]api.BulkPack, 51)}, 413, api.ProbTooLarge, "packs"},
	}
	before := writeCalls(h)
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			expectProblem(t, h.do(request{method: http.MethodPost, path: tc.path, role: tc.role, body: tc.body}), tc.status, tc.kind, tc.field)
		})
	}
	if n := writeCalls(h) - before; n != 0 {
		t.Errorf("rejected requests reached the ledger %d times", n)
	}
}
