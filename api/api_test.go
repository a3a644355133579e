package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/api"
	"github.com/pharmatrace/pharmatrace/api/commission"
	"github.com/pharmatrace/pharmatrace/api/internal/dbtest"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/trace"
)

// writeCalls counts the in-memory ledger's write calls.
func writeCalls(h *harness) int {
	n := 0
	for _, c := range h.sim.Calls() {
		if !trace.IsQuery(c.Fn) {
			n++
		}
	}
	return n
}

func TestBadJSONIsAProblemNamingTheField(t *testing.T) {
	h := newHarness(t, withoutDemo())
	ship := "/api/v1/shipments"
	tests := []struct {
		name, path, body, ct string
		status               int
		kind, field          string
	}{
		{"malformed", ship, `{"to": {"msp": "X"`, "", 400, api.ProbInvalidJSON, "body"},
		{"syntax error", ship, `{"to": {"msp" "X"}}`, "", 400, api.ProbInvalidJSON, "body"},
		{"empty body", ship, ``, "", 400, api.ProbInvalidJSON, "body"},
		{"trailing data", ship, `{"packs":[]} {"x":1}`, "", 400, api.ProbInvalidJSON, "body"},
		{"wrong type, nested in an array", ship, `{"to":{"msp":"DistributorMSP","gln":"4098765000010"},"packs":[{"gtin":"04012345000016","serial":"A"},{"gtin":"04012345000016","serial":17}]}`,
			"", 400, api.ProbTypeMismatch, "packs[1].serial"},
		{"wrong type at the top", "/api/v1/products", `{"gtin":"04012345000016","name":"X","form":"f","strength":"s","packSize":"20"}`, "", 400, api.ProbTypeMismatch, "packSize"},
		{"unknown field, nested", ship, `{"to":{"msp":"DistributorMSP","gln":"4098765000010","city":"Berlin"},"packs":[]}`, "", 400, api.ProbUnknownField, "to.city"},
		{"unknown field", "/api/v1/products", `{"gtin":"04012345000016","colour":"red"}`, "", 400, api.ProbUnknownField, "colour"},
		{"not JSON", ship, `packs=1`, "application/x-www-form-urlencoded", 415, api.ProbUnsupportedMedia, ""},
		{"invalid GTIN check digit", "/api/v1/products", `{"gtin":"04012345000015","name":"X","form":"f","strength":"s","packSize":20}`, "", 422, api.ProbInvalidField, "gtin"},
		{"invalid serial in a list", ship, `{"to":{"msp":"DistributorMSP","gln":"4098765000010"},"packs":[{"gtin":"04012345000016","serial":"A B"}]}`,
			"", 422, api.ProbInvalidField, "packs[0].serial"},
		{"invalid GS1 scan", "/api/v1/packs/verify", `{"scan":"(01)04012345000016(17)261331(10)LOT-A1(21)SA00001"}`, "", 422, api.ProbInvalidGS1, "scan"},
		{"scan without serial", "/api/v1/packs/verify", `{"scan":"(01)04012345000016(17)301231(10)LOT-A1"}`, "", 422, api.ProbInvalidGS1, "scan"},
		{"invalid close", "/api/v1/anomalies/AN-1/transitions", `{"to":"closed"}`, "", 422, api.ProbInvalidField, "reason"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.ct
			if ct == "" {
				ct = "application/json"
			}
			role := trace.RoleManufacturer
			if strings.Contains(tc.path, "anomalies") {
				role = trace.RoleRegulator
			}
			r := h.do(request{method: http.MethodPost, path: tc.path, role: role, body: tc.body, contentType: ct})
			p := expectProblem(t, r, tc.status, tc.kind, tc.field)
			if p.Detail == "" {
				t.Error("problem without detail")
			}
		})
	}
	if n := writeCalls(h); n != 0 {
		t.Errorf("rejected requests reached the ledger %d times", n)
	}
	t.Run("scan position", func(t *testing.T) {
		r := h.do(request{method: http.MethodPost, path: "/api/v1/packs/verify", role: trace.RolePharmacist, body: `{"scan":"(01)04012345000016(17)261331(10)LOT-A1(21)SA00001"}`})
		if p := r.problem(t); p.Position == 0 {
			t.Errorf("GS1 problem without byte position: %+v", p)
		}
	})
	t.Run("oversized JSON", func(t *testing.T) {
		big := `{"to":{"msp":"DistributorMSP","gln":"4098765000010"},"packs":[` + strings.Repeat(`{"gtin":"04012345000016","serial":"AAAAAAAAAAAA"},`, 30000) + `{}]}`
		r := h.do(request{method: http.MethodPost, path: ship, role: trace.RoleManufacturer, body: big})
		expectProblem(t, r, 413, api.ProbTooLarge, "")
	})
	t.Run("unknown query parameter", func(t *testing.T) {
		r := h.do(request{method: http.MethodGet, path: "/api/v1/anomalies?colour=red", role: trace.RoleRegulator})
		expectProblem(t, r, 422, api.ProbInvalidField, "colour")
	})
	t.Run("bad query value", func(t *testing.T) {
		r := h.do(request{method: http.MethodGet, path: "/api/v1/anomalies?severity=apocalyptic", role: trace.RoleRegulator})
		expectProblem(t, r, 422, api.ProbInvalidField, "severity")
		r = h.do(request{method: http.MethodGet, path: "/api/v1/anomalies?limit=9999", role: trace.RoleRegulator})
		expectProblem(t, r, 422, api.ProbInvalidField, "limit")
		r = h.do(request{method: http.MethodGet, path: "/api/v1/anomalies?from=yesterday", role: trace.RoleRegulator})
		expectProblem(t, r, 422, api.ProbInvalidField, "from")
	})
	t.Run("bad path parameter", func(t *testing.T) {
		r := h.do(request{method: http.MethodGet, path: "/api/v1/products/123", role: trace.RoleRegulator})
		expectProblem(t, r, 422, api.ProbInvalidField, "gtin")
	})
	t.Run("no such route", func(t *testing.T) {
		r := h.do(request{method: http.MethodGet, path: "/api/v1/nothing", role: trace.RoleRegulator})
		expectProblem(t, r, 404, api.ProbNotFound, "")
	})
}

func csvBody(serials []string) string {
	var b strings.Builder
	b.WriteString("serial\n")
	for _, s := range serials {
		b.WriteString(s + "\n")
	}
	return b.String()
}

func serialList(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%07d", prefix, i+1)
	}
	return out
}

func TestCommissionUpload(t *testing.T) {
	h := newHarness(t, withConfig(func(c *api.Config) { c.UploadBodyLimit = 256 << 10 }))
	base := "/api/v1/lots/" + memledger.DemoGTIN + "/LOT-C9/commissions/"
	before := h.sim.SubmitCount(trace.TxCommissionPacks)

	t.Run("one bad row among 10,000", func(t *testing.T) {
		list := serialList("C", 10000)
		list[4711] = "C0004712!" // '!' is in CS82: make it really bad: a space
		list[4711] = "C 0004712"
		r := h.do(request{method: http.MethodPut, path: base + "u1?expiry=301231", role: trace.RoleManufacturer, body: csvBody(list), contentType: "text/csv"})
		p := expectProblem(t, r, 422, api.ProbInvalidUpload, "body")
		if p.Row != 4713 || p.BadRows != 1 || len(p.Rows) != 1 || !strings.Contains(p.Detail, "row 4713") {
			t.Errorf("problem names row %d (%d bad): %s", p.Row, p.BadRows, p.Detail)
		}
		if n := h.sim.SubmitCount(trace.TxCommissionPacks) - before; n != 0 {
			t.Errorf("%d CommissionPacks submitted for a rejected upload", n)
		}
		r = h.do(request{method: http.MethodGet, path: base + "u1", role: trace.RoleManufacturer})
		expectProblem(t, r, 404, api.ProbNotFound, "")
	})
	t.Run("oversized upload", func(t *testing.T) {
		r := h.do(request{method: http.MethodPut, path: base + "u2?expiry=301231", role: trace.RoleManufacturer, body: csvBody(serialList("D", 30000)), contentType: "text/csv"})
		expectProblem(t, r, 413, api.ProbTooLarge, "")
		if n := h.sim.SubmitCount(trace.TxCommissionPacks) - before; n != 0 {
			t.Errorf("%d CommissionPacks submitted for an oversized upload", n)
		}
	})
	t.Run("missing expiry", func(t *testing.T) {
		r := h.do(request{method: http.MethodPut, path: base + "u3", role: trace.RoleManufacturer, body: csvBody(serialList("E", 3)), contentType: "text/csv"})
		expectProblem(t, r, 422, api.ProbInvalidField, "expiry")
	})
	t.Run("wrong media type", func(t *testing.T) {
		r := h.do(request{method: http.MethodPut, path: base + "u3?expiry=301231", role: trace.RoleManufacturer, body: "x", contentType: "application/xml"})
		expectProblem(t, r, 415, api.ProbUnsupportedMedia, "")
	})
	t.Run("CSV in batches, waited for", func(t *testing.T) {
		list := serialList("F", 12001)
		r := h.do(request{method: http.MethodPut, path: base + "big-1?expiry=301231&wait=true", role: trace.RoleManufacturer, body: csvBody(list), contentType: "text/csv"})
		var up commission.Upload
		r.json(t, &up)
		if r.status != 200 || up.Status != commission.StatusCompleted || up.BatchCount != 3 || up.Commissioned != 12001 || up.Batches[2].Serials != 2001 {
			t.Fatalf("upload: %d %+v", r.status, up)
		}
		if n := h.sim.SubmitCount(trace.TxCommissionPacks) - before; n != 3 {
			t.Errorf("%d CommissionPacks submitted, want 3", n)
		}
		g := h.do(request{method: http.MethodGet, path: base + "big-1", role: trace.RoleManufacturer})
		var got commission.Upload
		g.json(t, &got)
		if g.status != 200 || got.Confirmed != 3 {
			t.Errorf("progress: %d %+v", g.status, got)
		}
		// Sending the same list again resumes: nothing left to do.
		r = h.do(request{method: http.MethodPut, path: base + "big-1?expiry=301231&wait=true", role: trace.RoleManufacturer, body: csvBody(list), contentType: "text/csv"})
		if r.status != 200 || h.sim.SubmitCount(trace.TxCommissionPacks)-before != 3 {
			t.Errorf("re-upload: %d, submissions %d", r.status, h.sim.SubmitCount(trace.TxCommissionPacks)-before)
		}
		// Another list under the same upload ID is a conflict.
		r = h.do(request{method: http.MethodPut, path: base + "big-1?expiry=301231", role: trace.RoleManufacturer, body: csvBody(list[:100]), contentType: "text/csv"})
		expectProblem(t, r, 409, api.ProbConflict, "")
		// Another organisation does not see the upload.
		r = h.do(request{method: http.MethodGet, path: base + "big-1", role: trace.RoleRegulator})
		expectProblem(t, r, 403, api.ProbForbidden, "")
	})
	t.Run("JSON, asynchronous", func(t *testing.T) {
		r := h.do(request{method: http.MethodPut, path: base + "js-1?expiry=301231", role: trace.RoleManufacturer, body: serialList("G", 50)})
		if r.status != 202 && r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if loc := r.header.Get("Location"); loc != base+"js-1" {
			t.Errorf("Location %q", loc)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			var up commission.Upload
			h.do(request{method: http.MethodGet, path: base + "js-1", role: trace.RoleManufacturer}).json(t, &up)
			if up.Status == commission.StatusCompleted {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("upload still %s", up.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("refused batch", func(t *testing.T) {
		// Recall the lot, then commission more: the ledger refuses.
		r := h.do(request{method: http.MethodPost, path: "/api/v1/lots/" + memledger.DemoGTIN + "/LOT-C9/recall", role: trace.RoleRegulator, body: map[string]string{"reason": "test"}})
		if r.status != 200 {
			t.Fatalf("recall: %d %s", r.status, r.body)
		}
		r = h.do(request{method: http.MethodPut, path: base + "late?expiry=301231&wait=true", role: trace.RoleManufacturer, body: csvBody(serialList("H", 10)), contentType: "text/csv"})
		var up commission.Upload
		r.json(t, &up)
		// The contract refuses to commission into a recalled lot (a
		// conflict, not a business outcome): the upload fails and says why.
		if up.Status != commission.StatusFailed || !strings.Contains(up.Error, "LOT-C9 is recalled") || up.Commissioned != 0 {
			t.Errorf("upload into a recalled lot: %s %q (%d commissioned)", up.Status, up.Error, up.Commissioned)
		}
	})
}

func TestWritesThroughTheCallersLedger(t *testing.T) {
	h := newHarness(t)
	t.Run("register and get a product", func(t *testing.T) {
		body := map[string]any{"requestId": "p-77", "gtin": "04012345000030", "name": "Paracetamol", "form": "tablet", "strength": "500 mg", "packSize": 10}
		r := h.do(request{method: http.MethodPost, path: "/api/v1/products", role: trace.RoleManufacturer, body: body})
		var res trace.ProductResult
		r.json(t, &res)
		if r.status != 200 || !res.OK() || res.Product.OwnerMSP != "ManufacturerMSP" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		calls := h.sim.Calls()
		last := calls[len(calls)-1]
		if last.Actor != users[trace.RoleManufacturer].Actor() || last.RequestID != "p-77" {
			t.Errorf("submitted as %+v with request %s, want the caller's identity", last.Actor, last.RequestID)
		}
		// The same request ID and payload again: the original result.
		r2 := h.do(request{method: http.MethodPost, path: "/api/v1/products", role: trace.RoleManufacturer, body: body})
		if r2.status != 200 || !bytes.Equal(r.body, r2.body) {
			t.Errorf("retry: %d %s", r2.status, r2.body)
		}
		g := h.do(request{method: http.MethodGet, path: "/api/v1/products/04012345000030", role: trace.RolePharmacist})
		var p trace.Product
		g.json(t, &p)
		if g.status != 200 || p.Name != "Paracetamol" {
			t.Errorf("get: %d %s", g.status, g.body)
		}
		expectProblem(t, h.do(request{method: http.MethodGet, path: "/api/v1/products/04012345000047", role: trace.RolePharmacist}), 404, api.ProbNotFound, "")
		// Another manufacturer's prefix: the contract refuses, whatever the API lets through.
		other := map[string]any{"requestId": "p-78", "gtin": "05098765000019", "name": "Not mine", "form": "tablet", "strength": "1 mg", "packSize": 1}
		expectProblem(t, h.do(request{method: http.MethodPost, path: "/api/v1/products", role: trace.RoleManufacturer, body: other}), 403, api.ProbAccessDenied, "")
	})
	t.Run("verify by scan string and by fields", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"scan": "]d2" + "01" + memledger.DemoGTIN + "17301231" + "10LOT-A1\x1d" + "21SA00002"},
			{"scan": "(01)" + memledger.DemoGTIN + "(17)301231(10)LOT-A1(21)SA00002"},
			{"gtin": memledger.DemoGTIN, "serial": "SA00002", "lot": "LOT-A1", "expiry": "301231"},
		} {
			r := h.do(request{method: http.MethodPost, path: "/api/v1/packs/verify", role: trace.RolePharmacist, body: body})
			var res trace.VerifyResult
			r.json(t, &res)
			if r.status != 200 || res.Pack == nil || res.Pack.Serial != "SA00002" || !res.OK() {
				t.Errorf("verify %v: %d %s", body, r.status, r.body)
			}
		}
		// The dispensed clone: a refused answer is still a 200 answer.
		r := h.do(request{method: http.MethodPost, path: "/api/v1/packs/verify", role: trace.RolePharmacist,
			body: map[string]any{"gtin": memledger.DemoGTIN, "serial": "SA00001", "lot": "LOT-A1", "expiry": "301231"}})
		var res trace.VerifyResult
		r.json(t, &res)
		if r.status != 200 || res.Code != trace.CodePackInactive {
			t.Errorf("verify dispensed pack: %d %s", r.status, r.body)
		}
	})
	t.Run("refusal is a problem with the code", func(t *testing.T) {
		path := "/api/v1/lots/" + memledger.DemoGTIN2 + "/" + memledger.DemoLot2 + "/recall"
		r := h.do(request{method: http.MethodPost, path: path, role: trace.RoleRegulator, body: map[string]string{"reason": "again"}})
		p := expectProblem(t, r, 409, api.ProbRefused, "")
		if p.Code != trace.CodeAlreadyInState || p.TxID == "" || p.Result == nil {
			t.Errorf("refusal problem: %+v", p)
		}
	})
	t.Run("decommission reason outside the role", func(t *testing.T) {
		path := "/api/v1/packs/" + memledger.DemoGTIN + "/SA00002/decommission"
		r := h.do(request{method: http.MethodPost, path: path, role: trace.RolePharmacist, body: map[string]string{"lot": "LOT-A1", "expiry": "301231", "reason": "exported"}})
		expectProblem(t, r, 403, api.ProbForbidden, "reason")
		r = h.do(request{method: http.MethodPost, path: path, role: trace.RolePharmacist, body: map[string]string{"scan": "(01)" + memledger.DemoGTIN + "(17)301231(10)LOT-A1(21)SA00003", "reason": "destroyed"}})
		expectProblem(t, r, 422, api.ProbInvalidField, "scan")
		r = h.do(request{method: http.MethodPost, path: path, role: trace.RolePharmacist, body: map[string]string{"scan": "(01)" + memledger.DemoGTIN + "(17)301231(10)LOT-A1(21)SA00002", "reason": "sample"}})
		var res trace.ScanResult
		r.json(t, &res)
		if r.status != 200 || res.Pack.State != trace.StateInactive || res.Pack.Reason != trace.ReasonSample {
			t.Fatalf("decommission: %d %s", r.status, r.body)
		}
		r = h.do(request{method: http.MethodPost, path: "/api/v1/packs/" + memledger.DemoGTIN + "/SA00002/undo", role: trace.RolePharmacist, body: map[string]string{"lot": "LOT-A1", "expiry": "301231"}})
		r.json(t, &res)
		if r.status != 200 || res.Pack.State != trace.StateActive {
			t.Errorf("undo: %d %s", r.status, r.body)
		}
		h2 := h.do(request{method: http.MethodGet, path: "/api/v1/packs/" + memledger.DemoGTIN + "/SA00002/history?limit=2", role: trace.RoleRegulator})
		var hist trace.PackHistoryResult
		h2.json(t, &hist)
		if h2.status != 200 || len(hist.Entries) != 2 || !hist.Truncated || hist.Entries[0].Pack.LastEvent != trace.TxUndo {
			t.Errorf("history: %d %s", h2.status, h2.body)
		}
	})
	t.Run("ship, receive, get shipment", func(t *testing.T) {
		ship := map[string]any{"shipmentId": "ASN-9", "to": map[string]string{"msp": "PharmacyMSP", "gln": "4300123000021"},
			"packs": []map[string]string{{"gtin": memledger.DemoGTIN, "serial": "SA00003"}}}
		r := h.do(request{method: http.MethodPost, path: "/api/v1/shipments", role: trace.RoleDistributor, body: ship})
		if r.status != 200 {
			t.Fatalf("ship: %d %s", r.status, r.body)
		}
		g := h.do(request{method: http.MethodGet, path: "/api/v1/shipments/ASN-9", role: trace.RoleDistributor})
		var sh trace.Shipment
		g.json(t, &sh)
		if g.status != 200 || sh.Status != trace.ShipmentInTransit {
			t.Errorf("get: %d %s", g.status, g.body)
		}
	})
	t.Run("anomaly workflow", func(t *testing.T) {
		base := "/api/v1/anomalies/" + url.PathEscape(h.demo.Clone)
		r := h.do(request{method: http.MethodPost, path: base + "/transitions", role: trace.RoleRegulator, body: map[string]string{"to": "investigating", "comment": "CCTV requested"}})
		var res trace.AnomalyResult
		r.json(t, &res)
		if r.status != 200 || res.Anomaly.Status != trace.AnomalyInvestigating {
			t.Fatalf("transition: %d %s", r.status, r.body)
		}
		r = h.do(request{method: http.MethodPost, path: base + "/transitions", role: trace.RoleRegulator, body: map[string]string{"to": "investigating"}})
		expectProblem(t, r, 409, api.ProbConflict, "")
		r = h.do(request{method: http.MethodPost, path: base + "/comments", role: trace.RolePharmacist, body: map[string]string{"comment": "pack handed back"}})
		if r.status != 200 {
			t.Errorf("comment by the reporting organisation: %d %s", r.status, r.body)
		}
		r = h.do(request{method: http.MethodPost, path: "/api/v1/anomalies", role: trace.RoleRegulator,
			body: map[string]any{"code": "MANUAL", "severity": "high", "classification": "diversion", "message": "tip-off", "lot": map[string]string{"gtin": memledger.DemoGTIN, "lot": "LOT-A1"}}})
		if r.status != 200 {
			t.Errorf("flag: %d %s", r.status, r.body)
		}
	})
}

func TestReadModelEndpoints(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			h := newHarness(t, withEngine(e))
			var list api.AnomalyList
			r := h.do(request{method: http.MethodGet, path: "/api/v1/anomalies?type=CLONE&severity=critical,high&sort=-severity", role: trace.RoleRegulator})
			r.json(t, &list)
			if r.status != 200 || len(list.Items) != 1 || list.Items[0].ID != h.demo.Clone {
				t.Fatalf("clone list: %d %s", r.status, r.body)
			}
			// Pagination over everything, one by one.
			var ids []string
			cursor := ""
			for i := 0; i < 50; i++ {
				q := "/api/v1/anomalies?limit=1&sort=createdAt"
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				var page api.AnomalyList
				h.do(request{method: http.MethodGet, path: q, role: trace.RoleRegulator}).json(t, &page)
				for _, a := range page.Items {
					ids = append(ids, a.ID)
				}
				if cursor = page.NextCursor; cursor == "" {
					break
				}
			}
			var all api.AnomalyList
			h.do(request{method: http.MethodGet, path: "/api/v1/anomalies?sort=createdAt&limit=500", role: trace.RoleRegulator}).json(t, &all)
			if len(ids) != len(all.Items) || len(ids) < 2 {
				t.Errorf("paged %d anomalies, listed %d", len(ids), len(all.Items))
			}
			// Detail with chain of custody.
			var d api.AnomalyDetail
			r = h.do(request{method: http.MethodGet, path: "/api/v1/anomalies/" + h.demo.Clone, role: trace.RoleRegulator})
			r.json(t, &d)
			if r.status != 200 || len(d.Timeline) != 6 || d.Anomaly.Evidence.Counterpart == nil {
				t.Errorf("detail: %d %s", r.status, r.body)
			}
			// Scope: the reporting organisation sees it (without the
			// timeline), another does not.
			r = h.do(request{method: http.MethodGet, path: "/api/v1/anomalies/" + h.demo.Clone, role: trace.RolePharmacist})
			d = api.AnomalyDetail{}
			r.json(t, &d)
			if r.status != 200 || d.Timeline != nil {
				t.Errorf("pharmacist detail: %d %s", r.status, r.body)
			}
			expectProblem(t, h.do(request{method: http.MethodGet, path: "/api/v1/anomalies/" + h.demo.Clone, role: trace.RoleDistributor}), 404, api.ProbNotFound, "")
			var mine api.AnomalyList
			h.do(request{method: http.MethodGet, path: "/api/v1/anomalies?org=RegulatorMSP", role: trace.RoleDistributor}).json(t, &mine)
			if len(mine.Items) != 0 {
				t.Errorf("distributor sees %d anomalies of others", len(mine.Items))
			}
			// CSV export of the same list.
			r = h.do(request{method: http.MethodGet, path: "/api/v1/anomalies/export.csv?sort=createdAt", role: trace.RoleRegulator})
			if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
				t.Fatalf("export: %d %s", r.status, r.header.Get("Content-Type"))
			}
			rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(all.Items)+1 || strings.Join(rows[0], ",") != strings.Join(api.AnomalyCSVHeader, ",") || rows[1][0] != all.Items[0].ID {
				t.Errorf("export: %d rows, header %v", len(rows), rows[0])
			}
			// Statistics.
			var perDay api.PerDayStats
			r = h.do(request{method: http.MethodGet, path: "/api/v1/stats/anomalies-per-day", role: trace.RoleRegulator})
			r.json(t, &perDay)
			total := 0
			for _, x := range perDay.ByType {
				total += x.Count
			}
			if r.status != 200 || total != len(all.Items) {
				t.Errorf("per day: %d, total %d, want %d: %s", r.status, total, len(all.Items), r.body)
			}
			var states api.PackStateStats
			h.do(request{method: http.MethodGet, path: "/api/v1/stats/packs-by-state", role: trace.RoleRegulator}).json(t, &states)
			packs := 0
			for _, s := range states.States {
				packs += s.Count
			}
			if packs != 12 {
				t.Errorf("packs by state: %+v", states)
			}
			var risk api.LotRiskStats
			h.do(request{method: http.MethodGet, path: "/api/v1/stats/lots-at-risk", role: trace.RoleRegulator}).json(t, &risk)
			if len(risk.Lots) == 0 || risk.Lots[0].Status != trace.LotRecalled {
				t.Errorf("lots at risk: %+v", risk)
			}
		})
	}
}

func TestRateLimitPerToken(t *testing.T) {
	h := newHarness(t, withoutDemo(), withConfig(func(c *api.Config) { c.RateLimit, c.RateBurst = 0.5, 3 }))
	for i := 0; i < 3; i++ {
		if r := h.do(request{method: http.MethodGet, path: "/api/v1/me", role: trace.RoleRegulator}); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := h.do(request{method: http.MethodGet, path: "/api/v1/me", role: trace.RoleRegulator})
	expectProblem(t, r, 429, api.ProbRateLimited, "")
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// Another token has its own bucket.
	if r := h.do(request{method: http.MethodGet, path: "/api/v1/me", role: trace.RolePharmacist}); r.status != 200 {
		t.Errorf("other token: %d", r.status)
	}
}

// slowLedger blocks every call until the request's context ends.
type slowLedger struct{}

func (slowLedger) Submit(ctx context.Context, _ string, _ trace.WriteRequest, _ any) error {
	<-ctx.Done()
	return ctx.Err()
}

func (slowLedger) Evaluate(ctx context.Context, _ string, _ trace.Request, _ any) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestRequestTimeout(t *testing.T) {
	h := newHarness(t, withoutDemo(), withConfig(func(c *api.Config) { c.RequestTimeout = 150 * time.Millisecond }),
		withLedgers(func(*memledger.Ledger) api.Ledgers {
			return api.LedgersFunc(func(api.Identity) (api.Ledger, error) { return slowLedger{}, nil })
		}))
	start := time.Now()
	r := h.do(request{method: http.MethodGet, path: "/api/v1/products/" + memledger.DemoGTIN, role: trace.RoleRegulator})
	expectProblem(t, r, 504, api.ProbTimeout, "")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t, withoutDemo())
	for name, hdr := range map[string]string{"none": "", "basic": "Basic eDp5", "unknown token": "Bearer ptk_aaaaaaaaaa_bbbb", "not ours": "Bearer abc"} {
		t.Run(name, func(t *testing.T) {
			rq := request{method: http.MethodGet, path: "/api/v1/me"}
			if hdr != "" {
				rq.header = http.Header{"Authorization": {hdr}}
			}
			r := h.do(rq)
			expectProblem(t, r, 401, api.ProbUnauthorized, "")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate")
			}
		})
	}
	var me api.Me
	r := h.do(request{method: http.MethodGet, path: "/api/v1/me", role: trace.RoleDistributor})
	r.json(t, &me)
	if me.Identity != users[trace.RoleDistributor] {
		t.Errorf("me = %+v", me)
	}
	// The dashboard cookie does not authenticate the API.
	r = h.do(request{method: http.MethodGet, path: "/api/v1/me", cookie: h.session(trace.RoleRegulator)})
	expectProblem(t, r, 401, api.ProbUnauthorized, "")
	// /healthz and /metrics are open.
	for _, p := range []string{"/healthz", "/metrics"} {
		if r := h.do(request{method: http.MethodGet, path: p}); r.status != 200 {
			t.Errorf("%s: %d", p, r.status)
		}
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	h.do(request{method: http.MethodGet, path: "/api/v1/anomalies/" + h.demo.Clone, role: trace.RoleRegulator})
	h.do(request{method: http.MethodGet, path: "/api/v1/products/" + memledger.DemoGTIN, role: trace.RoleRegulator})
	r := h.do(request{method: http.MethodGet, path: "/metrics"})
	body := string(r.body)
	for _, want := range []string{
		`pharmatrace_api_http_request_duration_seconds_count{method="GET",route="/api/v1/anomalies/:id",status="200"} 1`,
		`pharmatrace_api_ledger_duration_seconds_count{fn="GetProduct",result="ok"} 1`,
		`pharmatrace_api_anomalies{code="CLONE",status="new"} 1`,
		`pharmatrace_api_readmodel_lag_seconds`,
		`pharmatrace_api_readmodel_block 15`, // 12 demo transactions + 2 lots registered + the collection key set before commissioning
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestReceiptRulesThroughTheAPI: the receipt rules are the contract's —
// a shortage and a receipt by the wrong organisation, through the routes.
func TestReceiptRulesThroughTheAPI(t *testing.T) {
	h := newHarness(t)
	ship := func(t *testing.T, from trace.Role, id string, serials ...string) {
		t.Helper()
		var packs []trace.PackRef
		for _, s := range serials {
			gtin := memledger.DemoGTIN
			if strings.HasPrefix(s, "SB") {
				gtin = memledger.DemoGTIN2
			}
			packs = append(packs, trace.PackRef{GTIN: gtin, Serial: s})
		}
		body := trace.ShipRequest{RequestHeader: trace.RequestHeader{RequestID: "ship-" + id}, ShipmentID: id, To: memledger.PharmCentral.Party(), Packs: packs}
		r := h.do(request{method: http.MethodPost, path: "/api/v1/shipments", role: from, body: body})
		var res trace.ShipmentResult
		r.json(t, &res)
		if r.status != 200 || !res.OK() {
			t.Fatalf("ship %s: %d %s", id, r.status, r.body)
		}
	}
	anomalies := func(code trace.AnomalyCode, shipment string) []trace.Anomaly {
		t.Helper()
		h.sync()
		r := h.do(request{method: http.MethodGet, path: "/api/v1/anomalies?type=" + string(code), role: trace.RoleRegulator})
		var list api.AnomalyList
		r.json(t, &list)
		var out []trace.Anomaly
		for _, a := range list.Items {
			if a.Shipment == shipment {
				out = append(out, a)
			}
		}
		return out
	}
	t.Run("shortage", func(t *testing.T) {
		ship(t, trace.RoleDistributor, "ASN-SHORT", "SA00003", "SA00004")
		r := h.do(request{method: http.MethodPost, path: "/api/v1/shipments/ASN-SHORT/receive", role: trace.RolePharmacist,
			body: map[string]any{"packs": []trace.PackRef{{GTIN: memledger.DemoGTIN, Serial: "SA00003"}}}})
		var res trace.ReceiveResult
		r.json(t, &res)
		if r.status != 200 || !res.OK() || res.Received != 1 || len(res.Missing) != 1 || res.Missing[0].Serial != "SA00004" {
			t.Fatalf("receipt with a pack missing: %d %s", r.status, r.body)
		}
		if res.Shipment.Status != trace.ShipmentPartiallyReceived || res.Shipment.Shortage != 1 {
			t.Errorf("shipment after a short receipt: %+v", res.Shipment)
		}
		if got := anomalies(trace.AnomalyShortage, "ASN-SHORT"); len(got) != 1 || got[0].Evidence.PackCount != 1 {
			t.Errorf("shortage anomalies for the regulator: %+v", got)
		}
	})
	t.Run("receipt by another organisation", func(t *testing.T) {
		ship(t, trace.RoleManufacturer, "ASN-WRONG", "SA00005")
		// A distributor records the receipt of a shipment addressed to a
		// pharmacy: refused, critical diversion.
		r := h.do(request{method: http.MethodPost, path: "/api/v1/shipments/ASN-WRONG/receive", role: trace.RoleDistributor,
			body: map[string]any{"packs": []trace.PackRef{{GTIN: memledger.DemoGTIN, Serial: "SA00005"}}}})
		var prob struct {
			Code trace.Code `json:"code"`
		}
		r.json(t, &prob)
		if r.status != http.StatusConflict || prob.Code != trace.CodeStatusChangeNotPossible {
			t.Fatalf("receipt at the wrong organisation: %d %s", r.status, r.body)
		}
		got := anomalies(trace.AnomalyDiversion, "ASN-WRONG")
		if len(got) != 1 || got[0].Severity != trace.SeverityCritical {
			t.Errorf("diversion anomalies for the regulator: %+v", got)
		}
		g := h.do(request{method: http.MethodGet, path: "/api/v1/shipments/ASN-WRONG", role: trace.RoleRegulator})
		var sh trace.Shipment
		g.json(t, &sh)
		if sh.Status != trace.ShipmentInTransit || len(sh.Received) != 0 {
			t.Errorf("a refused receipt changed the shipment: %+v", sh)
		}
	})
}

// TestFailedVerificationIsRecorded: a verification that fails through the
// API raises its alert on the ledger (Art. 36(b)), once per request ID; a
// verification that passes writes nothing.
func TestFailedVerificationIsRecorded(t *testing.T) {
	h := newHarness(t)
	before := h.sim.SubmitCount(trace.TxReportScan)
	ok := h.do(request{method: http.MethodPost, path: "/api/v1/packs/verify", role: trace.RolePharmacist,
		body: map[string]any{"gtin": memledger.DemoGTIN, "serial": "SA00002", "lot": "LOT-A1", "expiry": "301231"}})
	if ok.status != 200 || h.sim.SubmitCount(trace.TxReportScan) != before {
		t.Fatalf("a passing verification: %d %s (%d reports)", ok.status, ok.body, h.sim.SubmitCount(trace.TxReportScan)-before)
	}
	body := map[string]any{"requestId": "ver-unknown-1", "scan": "(01)" + memledger.DemoGTIN + "(17)301231(10)LOT-A1(21)NOSUCH1"}
	r := h.do(request{method: http.MethodPost, path: "/api/v1/packs/verify", role: trace.RolePharmacist, body: body})
	var res trace.VerifyResult
	r.json(t, &res)
	if r.status != 200 || res.Code != trace.CodeUnknownSerial || len(res.Anomalies) != 1 || r.header.Get("PharmaTrace-Alert-Recorded") != "true" {
		t.Fatalf("unknown serial: %d %s (header %q)", r.status, r.body, r.header.Get("PharmaTrace-Alert-Recorded"))
	}
	h.sync()
	g := h.do(request{method: http.MethodGet, path: "/api/v1/anomalies/" + url.PathEscape(res.Anomalies[0]), role: trace.RoleRegulator})
	var d api.AnomalyDetail
	g.json(t, &d)
	if g.status != 200 || d.Anomaly.Code != trace.AnomalyUnknownSerial || d.Anomaly.Site != users[trace.RolePharmacist].GLN {
		t.Fatalf("the regulator's view: %d %s", g.status, g.body)
	}
	// The same request again: the same alert, nothing new on the ledger.
	again := h.do(request{method: http.MethodPost, path: "/api/v1/packs/verify", role: trace.RolePharmacist, body: body})
	var res2 trace.VerifyResult
	again.json(t, &res2)
	if len(res2.Anomalies) != 1 || res2.Anomalies[0] != res.Anomalies[0] {
		t.Fatalf("retry recorded another alert: %s", again.body)
	}
}
