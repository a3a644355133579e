package chaincode_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/trace"
)

// TestAcceptanceScenario is the lead's real-network integration test run
// against the in-memory peer, step by step with the same identities.
func TestAcceptanceScenario(t *testing.T) {
	n := newNet(t)
	h := func() trace.RequestHeader { return trace.RequestHeader{RequestID: n.reqID()} }

	// Commission a lot as a manufacturer (1,000 serials in one transaction).
	n.registerProduct(mfgA, gtinA)
	serials := make([]string, 1000)
	for i := range serials {
		serials[i] = fmt.Sprintf("SN%05d", i)
	}
	c := n.commission(mfgA, gtinA, "LOT-1", expiry, serials...)
	if c.Commissioned != 1000 || c.Lot.PackCount != 1000 {
		t.Fatalf("%+v", c)
	}
	// Aggregate 10 packs into an SSCC, ship to a distributor, receive.
	caseRefs := refs(gtinA, serials[:10]...)
	n.aggregate(mfgA, sscc1, caseRefs)
	n.ship(mfgA, wh1, "ASN-1", nil, sscc1)
	if r := n.receive(wh1, "ASN-1", nil, sscc1); r.Received != 10 || len(r.Outcome.Anomalies) != 0 {
		t.Fatalf("%+v", r)
	}
	// Ship to a pharmacy, receive, verify, dispense → OK.
	n.ship(wh1, ph1, "ASN-2", nil, sscc1)
	n.receive(ph1, "ASN-2", nil, sscc1)
	s0 := scan(gtinA, serials[0], "LOT-1", expiry)
	wantOutcome(t, n.verify(ph1, s0).Outcome, trace.StatusOK, "")
	wantOutcome(t, n.scanTx(ph1, "Dispense", s0).Outcome, trace.StatusOK, "")

	// Dispense the same pack at a second pharmacy site → A24 + committed clone anomaly visible to the regulator.
	d := n.scanTx(ph2, "Dispense", s0)
	wantOutcome(t, d.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	clone := n.wantAnomaly(d.Outcome, trace.AnomalyClone, trace.ClassCounterfeit)
	seen := false
	for _, a := range query[trace.ListAnomaliesResult](n, reg, "ListAnomalies", trace.ListAnomaliesQuery{Status: trace.AnomalyNew}).Anomalies {
		seen = seen || a.ID == clone.ID
	}
	if !seen {
		t.Fatal("clone anomaly not listed for the regulator")
	}

	// Undo after more than 10 days refused; undo from another site refused.
	s1 := scan(gtinA, serials[1], "LOT-1", expiry)
	wantOutcome(t, n.scanTx(ph1, "Dispense", s1).Outcome, trace.StatusOK, "")
	wantOutcome(t, n.scanTx(ph2, "Undo", s1).Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	n.l.Advance(11 * 24 * time.Hour)
	wantOutcome(t, n.scanTx(ph1, "Undo", s1).Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)

	// A pharmacist trying to commission → access denied.
	n.fails(ph1, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: h(), GTIN: gtinA, Lot: "LOT-1", Expiry: expiry, Serials: []string{"X"}},
		trace.ErrAccessDenied, `needs right "pack.commission"`)

	// Ship to a distributor, receive at the other warehouse site → diversion anomaly.
	n.ship(mfgA, wh1, "ASN-3", refs(gtinA, serials[20:25]...))
	r := n.receive(wh2, "ASN-3", refs(gtinA, serials[20:25]...))
	wantOutcome(t, r.Outcome, trace.StatusOK, "")
	n.wantAnomaly(r.Outcome, trace.AnomalyDiversion, trace.ClassDiversion)

	// Recall the lot → verify refuses it at every site.
	ok[trace.LotResult](n, mfgA, "RecallLot", trace.LotStatusRequest{RequestHeader: h(), GTIN: gtinA, Lot: "LOT-1", Reason: "out of specification"})
	for _, who := range []string{ph1, ph2, wh1, wh2} {
		wantOutcome(t, n.verify(who, scan(gtinA, serials[2], "LOT-1", expiry)).Outcome, trace.StatusRefused, trace.CodeLotRecalled)
	}
}
