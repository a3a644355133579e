package chaincode_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/internal/ledgertest"
	"github.com/pharmatrace/pharmatrace/trace"
)

// TestOperationCounts measures what each transaction costs the peer: state
// reads (a GetMultipleStates counts each key), range/history queries,
// writes and events, on a realistic supply chain. Each read or write is a
// peer↔chaincode round trip on Fabric 2.5, so these are the contract's own
// overhead beside Fabric's. The table is written to $PHARMATRACE_OPS_TABLE
// when set (make bench puts it beside its results); the ceilings fail the
// test when a change adds operations to the hot paths. Serial
// confidentiality added, per transaction on a manufacturer's packs, one
// read (the collection's pseudonym key) and one write (the full event, a
// private write beside the public stub); routing by SSCC or shipment ID a
// private-data hash read per identifier.
func TestOperationCounts(t *testing.T) {
	n := supplyChain(t) // S1-S4 at ph1; P5, AbY7, ZZ9 at the plant
	type row struct {
		name                          string
		r                             ledgertest.Response
		maxReads, maxWrites, maxRange int
	}
	var rows []row
	measure := func(name string, r ledgertest.Response, maxReads, maxWrites int) {
		t.Helper()
		if !r.OK() {
			t.Fatalf("%s: %s", name, r.Message)
		}
		rows = append(rows, row{name, r, maxReads, maxWrites, 0})
	}
	hdr := func() trace.RequestHeader { return trace.RequestHeader{RequestID: n.reqID()} }
	s1, s2, s3 := scan(gtinA, "S1", "L1", expiry), scan(gtinA, "S2", "L1", expiry), scan(gtinA, "S3", "L1", expiry)
	measure("Verify (ok, at the holder)", n.evaluate(ph1, "Verify", trace.VerifyRequest{Scan: s1}), 3, 0)
	measure("Dispense (ok)", n.submit(ph1, "Dispense", trace.ScanRequest{RequestHeader: hdr(), Scan: s1}), 4, 3)
	measure("Dispense (clone at a second site: refused + anomaly)", n.submit(ph2, "Dispense", trace.ScanRequest{RequestHeader: hdr(), Scan: s1}), 5, 6)
	measure("Dispense (retry of a request: original outcome)", n.l.Submit(n.cc, proposal(t, ph1, "Dispense",
		mustJSON(t, trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "req-dup"}, Scan: s2}))), 4, 3)
	measure("  …sent again", n.l.Submit(n.cc, proposal(t, ph1, "Dispense",
		mustJSON(t, trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "req-dup"}, Scan: s2}))), 1, 1)
	measure("Undo (ok)", n.submit(ph1, "Undo", trace.ScanRequest{RequestHeader: hdr(), Scan: s2}), 4, 3)
	measure("Decommission destroyed (ok)", n.submit(ph1, "Decommission", trace.DecommissionRequest{RequestHeader: hdr(), Scan: s3, Reason: trace.ReasonDestroyed}), 4, 3)
	measure("Verify (unknown serial)", n.evaluate(ph1, "Verify", trace.VerifyRequest{Scan: scan(gtinA, "NOPE1", "L1", expiry)}), 5, 0)
	measure("ReportScan (unknown serial: anomaly)", n.submit(ph1, "ReportScan", trace.ScanRequest{RequestHeader: hdr(), Scan: scan(gtinA, "NOPE1", "L1", expiry)}), 6, 6)
	serials := make([]string, 100)
	for i := range serials {
		serials[i] = fmt.Sprintf("OPS%03d", i)
	}
	measure("CommissionPacks (100 serials)", n.submit(mfgA, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: hdr(), GTIN: gtinA, Lot: "LOPS", Expiry: expiry, Serials: serials}), 105, 203)
	ten := refs(gtinA, serials[:10]...)
	measure("Ship (10 packs)", n.submit(mfgA, "Ship", trace.ShipRequest{RequestHeader: hdr(), ShipmentID: "SH-OPS", To: party(wh1), Packs: ten}), 16, 13)
	measure("Receive (10 packs)", n.submit(wh1, "Receive", trace.ReceiveRequest{RequestHeader: hdr(), ShipmentID: "SH-OPS", Packs: ten}), 16, 13)
	measure("RecallLot", n.submit(mfgA, "RecallLot", trace.LotStatusRequest{RequestHeader: hdr(), GTIN: gtinA, Lot: "LOPS", Reason: "ops"}), 3, 2)
	measure("FlagAnomaly", n.submit(reg, "FlagAnomaly", trace.FlagAnomalyRequest{RequestHeader: hdr(), Code: trace.AnomalyManual, Severity: trace.SeverityLow,
		Classification: trace.ClassProcess, Message: "ops", Lot: &trace.LotRef{GTIN: gtinA, Lot: "L1"}}), 2, 6)
	lq := n.evaluate(reg, "ListAnomalies", trace.ListAnomaliesQuery{PageSize: 10})
	rows = append(rows, row{"ListAnomalies (regulator, page of 10)", lq, 10, 0, 3}) // one range per space: public + 2 collections

	var b strings.Builder
	b.WriteString("| transaction | state reads | range/history queries | writes | events | write-set bytes |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d |\n", r.name, r.r.Reads, r.r.Ranges, r.r.Writes, r.r.EventCalls, r.r.WriteBytes)
		if r.r.Reads > r.maxReads || r.r.Writes > r.maxWrites || r.r.Ranges > r.maxRange {
			t.Errorf("%s: %d reads, %d writes, %d range queries; ceiling %d / %d / %d", r.name, r.r.Reads, r.r.Writes, r.r.Ranges, r.maxReads, r.maxWrites, r.maxRange)
		}
		if r.r.Writes > 0 && r.r.EventCalls != 1 && !strings.Contains(r.name, "sent again") { // a replay writes its marker, no event
			t.Errorf("%s: %d events, want exactly one per write transaction", r.name, r.r.EventCalls)
		}
	}
	t.Log("\n" + b.String())
	if p := os.Getenv("PHARMATRACE_OPS_TABLE"); p != "" {
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
