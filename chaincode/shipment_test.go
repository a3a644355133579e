package chaincode_test

import (
	"testing"

	"github.com/pharmatrace/pharmatrace/trace"
)

var (
	sscc1 = withCheck("10614141000000001")
	sscc2 = withCheck("10614141000000002")
)

func (n *net) aggregate(who, sscc string, packs []trace.PackRef) trace.AggregateResult {
	n.tb.Helper()
	return ok[trace.AggregateResult](n, who, "Aggregate", trace.AggregateRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, SSCC: sscc, Packs: packs})
}

func TestAggregateShipReceiveSSCC(t *testing.T) {
	n := newNet(t)
	n.registerProduct(mfgA, gtinA)
	n.commission(mfgA, gtinA, "L1", expiry, "C1", "C2", "C3", "L4")
	a := n.aggregate(mfgA, sscc1, refs(gtinA, "C3", "C1", "C2"))
	wantOutcome(t, a.Outcome, trace.StatusOK, "")
	if a.Aggregation.Packs[0].Serial != "C1" {
		t.Fatal("aggregation packs must be sorted")
	}
	n.fails(mfgA, "Aggregate", trace.AggregateRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, SSCC: sscc1, Packs: refs(gtinA, "L4")}, trace.ErrConflict, "already in use")
	// A pack already in a case cannot go into another.
	b := n.aggregate(mfgA, sscc2, refs(gtinA, "C1"))
	wantOutcome(t, b.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	sh := n.ship(mfgA, wh1, "SH1", refs(gtinA, "L4"), sscc1)
	wantOutcome(t, sh.Outcome, trace.StatusOK, "")
	if len(sh.Shipment.Packs) != 4 || sh.Shipment.SSCCs[0] != sscc1 {
		t.Fatalf("%+v", sh.Shipment)
	}
	for _, s := range []string{"C1", "L4"} {
		p := n.getPack(reg, gtinA, s)
		if p.State != trace.StateInTransit || p.Transit.To != party(wh1) {
			t.Fatalf("%+v", p)
		}
	}
	// Receiving by scanning the SSCC moves its packs.
	rr := n.receive(wh1, "SH1", refs(gtinA, "L4"), sscc1)
	if rr.Received != 4 || rr.Shipment.Status != trace.ShipmentReceived || len(rr.Outcome.Anomalies) != 0 {
		t.Fatalf("%+v", rr)
	}
	if p := n.getPack(wh1, gtinA, "C2"); p.State != trace.StateActive || p.Custodian != party(wh1) || p.SSCC != sscc1 {
		t.Fatalf("%+v", p)
	}
	// Shipping one pack loose breaks the case: the SSCC can no longer ship.
	n.ship(wh1, ph2, "SH2", refs(gtinA, "C1"))
	if p := n.getPack(reg, gtinA, "C1"); p.SSCC != "" {
		t.Fatal("loose shipment must clear the SSCC")
	}
	r := ok[trace.ShipmentResult](n, wh1, "Ship", trace.ShipRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, To: party(ph1), SSCCs: []string{sscc1}})
	wantOutcome(t, r.Outcome, trace.StatusRefused, trace.CodeAlreadyInState) // C1 is already in transit (SH2)
	n.receive(ph2, "SH2", refs(gtinA, "C1"))
	r = ok[trace.ShipmentResult](n, wh1, "Ship", trace.ShipRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, To: party(ph1), SSCCs: []string{sscc1}})
	wantOutcome(t, r.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	n.fails(wh1, "Ship", trace.ShipRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, To: party(ph1), Packs: refs(gtinA, "C2"), SSCCs: []string{sscc1}},
		trace.ErrInvalidRequest, "packs[0]", "also in SSCC")
}

func TestShipRules(t *testing.T) {
	n := supplyChain(t)
	// Pharmacist has no ship right (covered by the matrix); distributor shipping what it does not hold.
	h := func() trace.RequestHeader { return trace.RequestHeader{RequestID: n.reqID()} }
	r := ok[trace.ShipmentResult](n, wh2, "Ship", trace.ShipRequest{RequestHeader: h(), To: party(ph2), Packs: refs(gtinA, "S1")})
	wantOutcome(t, r.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	n.wantAnomaly(r.Outcome, trace.AnomalyCustodyMismatch, trace.ClassProcess)
	// Unknown pack: A3.
	r = ok[trace.ShipmentResult](n, mfgA, "Ship", trace.ShipRequest{RequestHeader: h(), To: party(wh1), Packs: refs(gtinA, "P5", "NOPE")})
	wantOutcome(t, r.Outcome, trace.StatusRefused, trace.CodeUnknownSerial)
	if len(r.Problems) != 1 || n.getPack(reg, gtinA, "P5").State != trace.StateActive {
		t.Fatal("all or nothing")
	}
	// Movement after dispense.
	n.scanTx(ph1, "Dispense", scan(gtinA, "S1", "L1", expiry))
	n.ship(mfgA, wh2, "SH-X", refs(gtinA, "P5"))
	n.receive(wh2, "SH-X", refs(gtinA, "P5"))
	// wh1 tries to ship a pack dispensed by ph1 (wh1 does not hold it either).
	r = ok[trace.ShipmentResult](n, wh1, "Ship", trace.ShipRequest{RequestHeader: h(), To: party(ph2), Packs: refs(gtinA, "S1")})
	wantOutcome(t, r.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	n.wantAnomaly(r.Outcome, trace.AnomalyMovementAfterDispense, trace.ClassDiversion)
	// Bad destinations are invalid requests.
	n.fails(wh2, "Ship", trace.ShipRequest{RequestHeader: h(), To: trace.Party{MSP: "NobodyMSP", GLN: glnPH1}, Packs: refs(gtinA, "P5")}, trace.ErrInvalidRequest, "to.msp")
	n.fails(wh2, "Ship", trace.ShipRequest{RequestHeader: h(), To: party(wh2), Packs: refs(gtinA, "P5")}, trace.ErrInvalidRequest, "leave the caller's site")
	n.fails(wh2, "Ship", trace.ShipRequest{RequestHeader: h(), To: party(ph1), SSCCs: []string{sscc2}}, trace.ErrNotFound, "SSCC")
	// Recalled lot: refused, except back to the owning manufacturer.
	ok[trace.LotResult](n, mfgA, "RecallLot", trace.LotStatusRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L1", Reason: "r"})
	r = ok[trace.ShipmentResult](n, wh2, "Ship", trace.ShipRequest{RequestHeader: h(), To: party(ph1), Packs: refs(gtinA, "P5")})
	wantOutcome(t, r.Outcome, trace.StatusRefused, trace.CodeLotRecalled)
	r = ok[trace.ShipmentResult](n, wh2, "Ship", trace.ShipRequest{RequestHeader: h(), To: party(mfgA), Packs: refs(gtinA, "P5")})
	wantOutcome(t, r.Outcome, trace.StatusOK, "")
	// Already in transit by the same shipper: A7.
	r = ok[trace.ShipmentResult](n, wh2, "Ship", trace.ShipRequest{RequestHeader: h(), To: party(mfgB), Packs: refs(gtinA, "P5")})
	wantOutcome(t, r.Outcome, trace.StatusRefused, trace.CodeAlreadyInState)
	// Shipment IDs are unique; a derived one is used when none is given.
	if r.Shipment != nil {
		t.Fatal("refused shipment returned")
	}
}

func TestReceiveRules(t *testing.T) {
	n := newNet(t)
	n.registerProduct(mfgA, gtinA)
	n.commission(mfgA, gtinA, "L1", expiry, "R1", "R2", "R3", "R4", "X1", "X2")
	sh := n.ship(mfgA, wh1, "", refs(gtinA, "R1", "R2", "R3", "R4"))
	id := sh.Shipment.ID
	if len(id) < 3 || id[:2] != "S-" {
		t.Fatal(id)
	}
	// Another organisation cannot receive it: refused + critical diversion.
	rr := ok[trace.ReceiveResult](n, ph1, "Receive", trace.ReceiveRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, ShipmentID: id, Packs: refs(gtinA, "R1")})
	wantOutcome(t, rr.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	if a := n.wantAnomaly(rr.Outcome, trace.AnomalyDiversion, trace.ClassDiversion); a.Severity != trace.SeverityCritical {
		t.Fatal(a.Severity)
	}
	// Receipt at the other warehouse: accepted, custody moves there, diversion anomaly.
	// Shortage of R4, an unexpected known pack X1 still at the shipper and an unknown pack.
	rr = n.receive(wh2, id, append(refs(gtinA, "R1", "R2", "R3", "X1"), trace.PackRef{GTIN: gtinA, Serial: "GHOST"}))
	wantOutcome(t, rr.Outcome, trace.StatusOK, "")
	n.wantAnomaly(rr.Outcome, trace.AnomalyDiversion, trace.ClassDiversion)
	short := n.wantAnomaly(rr.Outcome, trace.AnomalyShortage, trace.ClassDiversion)
	if short.Evidence.PackCount != 1 || short.Evidence.Packs[0].Serial != "R4" {
		t.Fatalf("%+v", short.Evidence)
	}
	n.wantAnomaly(rr.Outcome, trace.AnomalyUnexpectedPack, trace.ClassProcess)
	n.wantAnomaly(rr.Outcome, trace.AnomalyUnknownSerial, trace.ClassCounterfeit)
	if rr.Received != 3 || len(rr.Missing) != 1 || len(rr.Unexpected) != 2 || rr.Shipment.Status != trace.ShipmentPartiallyReceived || !rr.Shipment.Diverted {
		t.Fatalf("%+v", rr)
	}
	if p := n.getPack(reg, gtinA, "R1"); p.Custodian != party(wh2) || p.State != trace.StateActive {
		t.Fatalf("%+v", p)
	}
	if p := n.getPack(reg, gtinA, "X1"); p.Custodian != party(mfgA) {
		t.Fatal("an unexpected pack must not move")
	}
	// The late pack arrives: the shipment completes.
	rr = n.receive(wh2, id, refs(gtinA, "R4"))
	if rr.Shipment.Status != trace.ShipmentReceived || rr.Received != 1 {
		t.Fatalf("%+v", rr)
	}
	// A second receipt of a received shipment: A7.
	rr = ok[trace.ReceiveResult](n, wh2, "Receive", trace.ReceiveRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, ShipmentID: id, Packs: refs(gtinA, "R1")})
	wantOutcome(t, rr.Outcome, trace.StatusRefused, trace.CodeAlreadyInState)
	n.fails(wh2, "Receive", trace.ReceiveRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, ShipmentID: "NOPE", Packs: refs(gtinA, "R1")}, trace.ErrNotFound, "shipment NOPE")
}

func TestCloneAtReceipt(t *testing.T) {
	n := supplyChain(t)
	// S1 is at ph1. A shipment from the manufacturer to ph2 physically contains a pack with serial S1.
	n.ship(mfgA, ph2, "SH9", refs(gtinA, "P5"))
	rr := n.receive(ph2, "SH9", refs(gtinA, "P5", "S1"))
	n.wantAnomaly(rr.Outcome, trace.AnomalyClone, trace.ClassCounterfeit)
	// Dispensed pack turning up in a receipt: movement after dispense.
	n.scanTx(ph1, "Dispense", scan(gtinA, "S2", "L1", expiry))
	n.ship(mfgA, wh1, "SH10", refs(gtinA, "ZZ9"))
	rr = n.receive(wh1, "SH10", refs(gtinA, "ZZ9", "S2"))
	n.wantAnomaly(rr.Outcome, trace.AnomalyMovementAfterDispense, trace.ClassDiversion)
}
