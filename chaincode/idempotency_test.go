package chaincode_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/internal/ledgertest"
	"github.com/pharmatrace/pharmatrace/trace"
)

func TestIdempotentRetry(t *testing.T) {
	n := supplyChain(t)
	for _, tc := range []struct {
		name string
		fn   string
		req  any
	}{
		{"dispense ok", "Dispense", trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "retry-1"}, Scan: scan(gtinA, "S1", "L1", expiry)}},
		{"dispense refused with anomaly", "Dispense", trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "retry-2"}, Scan: scan(gtinA, "NOPE", "L1", expiry)}},
		{"commission", "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: trace.RequestHeader{RequestID: "retry-3"}, GTIN: gtinA, Lot: "L1", Expiry: expiry, Serials: []string{"N1", "N2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			who := ph1
			if tc.fn == "CommissionPacks" {
				who = mfgA
			}
			first := n.submit(who, tc.fn, tc.req)
			if !first.Committed() {
				t.Fatal(first.Message)
			}
			events, keys := len(n.l.Events()), n.l.Len()
			n.l.Advance(3600e9)
			again := n.submit(who, tc.fn, tc.req)
			if !again.Committed() || !bytes.Equal(first.Payload, again.Payload) {
				t.Fatalf("retry: %s\nvs %s", again.Payload, first.Payload)
			}
			// No record changes and no event. A routed request's replay
			// writes one private marker (so that its transaction is
			// validated against the collection's policy, not MAJORITY).
			if again.Writes > 1 || again.EventCalls != 0 || len(n.l.Events()) != events || n.l.Len() > keys+1 {
				t.Fatalf("retry wrote %d keys / %d events", again.Writes, again.EventCalls)
			}
			// The original transaction ID is in the replayed outcome.
			var res struct {
				Outcome trace.Outcome `json:"outcome"`
			}
			if err := json.Unmarshal(again.Payload, &res); err != nil || res.Outcome.TxID != first.TxID {
				t.Fatal(res.Outcome.TxID)
			}
			// GetRequest tells the gateway what happened.
			g := query[trace.GetRequestResult](n, who, "GetRequest", trace.RequestQuery{RequestID: requestIDOf(tc.req)})
			if !g.Found || g.Request.TxID != first.TxID || g.Request.Result != string(first.Payload) || g.Request.Transaction != tc.fn {
				t.Fatalf("%+v", g)
			}
		})
	}
	// Same ID, different payload: conflict, nothing written.
	n.fails(ph1, "Dispense", trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "retry-1"}, Scan: scan(gtinA, "S2", "L1", expiry)},
		trace.ErrConflict, `request ID "retry-1"`, "different payload")
	// Same ID used by the same org for another transaction: conflict too.
	n.fails(ph1, "Undo", trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "retry-1"}, Scan: scan(gtinA, "S1", "L1", expiry)},
		trace.ErrConflict, "Dispense")
	// Request IDs are per organisation: another MSP may use the same ID.
	r := n.submit(wh1, "ReportScan", trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "retry-1"}, Scan: scan(gtinA, "P5", "L1", expiry)})
	if !r.Committed() {
		t.Fatal(r.Message)
	}
	if g := query[trace.GetRequestResult](n, ph2, "GetRequest", trace.RequestQuery{RequestID: "unknown"}); g.Found {
		t.Fatal("found")
	}
	// Whitespace and field order of the JSON do not matter.
	raw := `{ "serial":"S1","requestId":"retry-1","gtin":"` + gtinA + `","lot":"L1","expiry":"` + expiry + `" }`
	if r := n.submit(ph1, "Dispense", raw); !r.Committed() || r.Writes > 1 {
		t.Fatal(r.Message)
	}
}

func requestIDOf(req any) string {
	switch r := req.(type) {
	case trace.ScanRequest:
		return r.RequestID
	case trace.CommissionPacksRequest:
		return r.RequestID
	}
	return ""
}

// TestConcurrentSameRequestID: two endorsements of one request ID race;
// Fabric's MVCC check on the request key lets only one commit.
func TestConcurrentSameRequestID(t *testing.T) {
	n := supplyChain(t)
	req := mustJSON(t, trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "race"}, Scan: scan(gtinA, "S1", "L1", expiry)})
	p := proposal(t, ph1, "Dispense", req)
	a := n.l.Simulate(n.cc, p)
	b := n.l.Simulate(n.cc, p)
	ra, rb := n.l.Commit(a), n.l.Commit(b)
	if !ra.Committed() || rb.Validation != ledgertest.MVCCReadConflict {
		t.Fatalf("%s %s", ra.Validation, rb.Validation)
	}
	// The client resubmits after the failed commit and gets the original outcome.
	again := n.l.Submit(n.cc, p)
	if !bytes.Equal(opened(t, again).Payload, opened(t, ra).Payload) || again.Writes != 1 { // the replay marker only
		t.Fatal(string(again.Payload))
	}
}

func TestDecodeErrors(t *testing.T) {
	n := supplyChain(t)
	for _, tc := range []struct {
		name, arg, want string
	}{
		{"empty", "", "invalid request: the argument is empty"},
		{"not json", "nope", "invalid request: invalid character"},
		{"unknown field", `{"requestId":"r","gtin":"` + gtinA + `","serial":"S1","lot":"L1","expiry":"` + expiry + `","color":"red"}`, `invalid request: unknown field "color"`},
		{"wrong type", `{"requestId":"r","gtin":4006381,"serial":"S1","lot":"L1","expiry":"` + expiry + `"}`, "invalid request: gtin: must be string, not number"},
		{"trailing data", `{"requestId":"r","gtin":"` + gtinA + `","serial":"S1","lot":"L1","expiry":"` + expiry + `"} {}`, "invalid request: unexpected data after the JSON object"},
		{"bad serial", `{"requestId":"r","gtin":"` + gtinA + `","serial":"S 1","lot":"L1","expiry":"` + expiry + `"}`, `invalid request: serial: "S 1" is not GS1 character set 82`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := n.submit(ph1, "Dispense", tc.arg)
			if r.OK() || !strings.HasPrefix(r.Message, tc.want) {
				t.Fatalf("got %q, want prefix %q", r.Message, tc.want)
			}
		})
	}
	// Commission: invalid serial named by index, duplicates, limit, already-commissioned serials listed.
	h := func() trace.RequestHeader { return trace.RequestHeader{RequestID: n.reqID()} }
	n.fails(mfgA, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L1", Expiry: expiry, Serials: []string{"A", "B", "C", "AB\x01"}},
		trace.ErrInvalidRequest, `invalid request: serials[3]: "AB\x01" is not GS1 character set 82`)
	n.fails(mfgA, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L1", Expiry: expiry, Serials: []string{"N1", "S1", "N2", "S2"}},
		trace.ErrConflict, `2 serials already commissioned for GTIN `+gtinA+`: ["S1" "S2"]`)
	big := make([]string, trace.DefaultMaxCommission+1)
	for i := range big {
		big[i] = "B" + strings.Repeat("0", 6-len(itoa(i))) + itoa(i)
	}
	n.fails(mfgA, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L1", Expiry: expiry, Serials: big},
		trace.ErrInvalidRequest, "5001 serials exceed the limit of 5000 per transaction")
	n.fails(mfgA, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L1", Expiry: "291231", Serials: []string{"N9"}},
		trace.ErrConflict, "lot L1 has expiry 281231")
	n.fails(mfgA, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: h(), GTIN: gtinA, Lot: "OLD", Expiry: "250101", Serials: []string{"N9"}},
		trace.ErrNotFound, "lot OLD of product "+gtinA+" is not registered: RegisterLot first")
	// Unknown function and unknown contract are errors too.
	if r := n.submit(ph1, "Nope", "{}"); r.OK() {
		t.Fatal("unknown function")
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(digits[i%10]) + s
	}
	return s
}
