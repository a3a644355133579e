package trace

import (
	"errors"
	"strings"
	"testing"
)

func ref(serial string) PackRef { return PackRef{GTIN: "04006381000016", Serial: serial} }

func packAt(serial string, a Actor) *Pack {
	p := activeAt(a)
	p.Serial = serial
	return &p
}

func transitPack(serial string, from, to Actor, shipment string) *Pack {
	p := packAt(serial, from)
	p.State = StateInTransit
	p.Transit = &Transit{Shipment: shipment, From: from.Party(), To: to.Party()}
	return p
}

func TestPlanReceipt(t *testing.T) {
	sh := Shipment{ID: "SH1", From: whA.Party(), To: phA.Party(), Packs: []PackRef{ref("A"), ref("B"), ref("C")}, Status: ShipmentInTransit}
	inTransit := func(s string) *Pack { return transitPack(s, whA, phA, "SH1") }
	for _, tc := range []struct {
		name     string
		actor    Actor
		ship     Shipment
		scanned  []PackRef
		packs    []*Pack
		rest     []*Pack // for the pending (listed, not scanned) packs, in listing order
		code     Code
		received int
		missing  int
		status   ShipmentStatus
		findings string
	}{
		{"all scanned", phA, sh, []PackRef{ref("A"), ref("B"), ref("C")}, []*Pack{inTransit("A"), inTransit("B"), inTransit("C")}, nil,
			"", 3, 0, ShipmentReceived, ""},
		{"one short", phA, sh, []PackRef{ref("A"), ref("B")}, []*Pack{inTransit("A"), inTransit("B")}, []*Pack{inTransit("C")},
			"", 2, 1, ShipmentPartiallyReceived, "SHORTAGE/diversion/medium"},
		{"implicit receipt of a pack already here", phA, sh, []PackRef{ref("A"), ref("B")}, []*Pack{inTransit("A"), inTransit("B")}, []*Pack{packAt("C", phA)},
			"", 2, 0, ShipmentReceived, ""},
		{"another site of the addressee", phB, sh, []PackRef{ref("A"), ref("B"), ref("C")}, []*Pack{inTransit("A"), inTransit("B"), inTransit("C")}, nil,
			"", 3, 0, ShipmentReceived, "DIVERSION/diversion/high"},
		{"another organisation", whB, sh, []PackRef{ref("A")}, []*Pack{inTransit("A")}, nil,
			CodeStatusChangeNotPossible, 0, 0, "", "DIVERSION/diversion/critical"},
		{"already received", phA, func() Shipment { s := sh; s.Status = ShipmentReceived; return s }(), []PackRef{ref("A")}, []*Pack{inTransit("A")}, nil,
			CodeAlreadyInState, 0, 0, "", "ALREADY_IN_STATE/process/low"},
		{"unknown pack scanned", phA, sh, []PackRef{ref("A"), ref("B"), ref("C"), ref("X")}, []*Pack{inTransit("A"), inTransit("B"), inTransit("C"), nil}, nil,
			"", 3, 0, ShipmentReceived, "UNKNOWN_SERIAL/probable-counterfeit/high"},
		{"pack of a third party scanned", phA, sh, []PackRef{ref("A"), ref("B"), ref("C"), ref("Z")}, []*Pack{inTransit("A"), inTransit("B"), inTransit("C"), packAt("Z", mfg)}, nil,
			"", 3, 0, ShipmentReceived, "CLONE/probable-counterfeit/high"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &ReceiveRequest{ShipmentID: "SH1", Packs: tc.scanned}
			scanned, pending, err := ReceiptScope(req, &tc.ship, nil)
			if err != nil {
				t.Fatal(err)
			}
			rest := tc.rest
			if tc.code != "" { // refused up front: the pending packs are not looked at
				rest = make([]*Pack, len(pending))
			}
			if len(pending) != len(rest) {
				t.Fatalf("pending %v, want %d", pending, len(rest))
			}
			plan := PlanReceipt(ReceiptInput{Request: req, Shipment: tc.ship, Actor: tc.actor, Now: now, TxID: "tx1",
				Scanned: scanned, Packs: tc.packs, Pending: pending, Rest: rest})
			res := plan.Result
			got := findingCodes(Verdict{Findings: plan.Findings})
			if res.Code != tc.code || res.Received != tc.received || len(res.Missing) != tc.missing || got != tc.findings {
				t.Fatalf("code %q received %d missing %d findings %q (%s); want %q %d %d %q", res.Code, res.Received, len(res.Missing), got, res.Message,
					tc.code, tc.received, tc.missing, tc.findings)
			}
			if tc.code != "" {
				if len(plan.Packs) != 0 || plan.Shipment != nil {
					t.Fatalf("a refused receipt changes records: %+v", plan)
				}
				return
			}
			if plan.Shipment.Status != tc.status || len(plan.Packs) != tc.received {
				t.Fatalf("shipment %s, %d packs changed", plan.Shipment.Status, len(plan.Packs))
			}
			for _, p := range plan.Packs {
				if p.Custodian != tc.actor.Party() || p.State != StateActive || p.Transit != nil {
					t.Fatalf("received pack: %+v", p)
				}
			}
		})
	}
}

func TestShipScopeAndPlan(t *testing.T) {
	agg := Aggregation{SSCC: "000000000000000017", Packs: []PackRef{ref("C1"), ref("C2")}}
	req := &ShipRequest{To: phA.Party(), Packs: []PackRef{ref("L1")}, SSCCs: []string{agg.SSCC}}
	refs, via, err := ShipScope(req, []Aggregation{agg})
	if err != nil || len(refs) != 3 || via[ref("C2")] != agg.SSCC {
		t.Fatalf("scope %v %v %v", refs, via, err)
	}
	bad := &ShipRequest{To: phA.Party(), Packs: []PackRef{ref("C1")}, SSCCs: []string{agg.SSCC}}
	if _, _, err := ShipScope(bad, []Aggregation{agg}); !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), "packs[0]") {
		t.Fatalf("a pack both loose and in its SSCC: %v", err)
	}
	lot := lotWith(LotReleased)
	inCase := func(s string) *Pack { p := packAt(s, whA); p.SSCC = agg.SSCC; return p }
	plan := PlanShipment(ShipInput{Request: req, ID: "SH9", Actor: whA, Now: now, TxID: "tx9", Aggs: []Aggregation{agg}, ViaSSCC: via,
		Movable: Movable{Refs: refs, Packs: []*Pack{packAt("L1", whA), inCase("C1"), inCase("C2")}, Lots: []*Lot{lot, lot, lot}}})
	if !plan.Outcome.OK() || plan.Shipment == nil || len(plan.Packs) != 3 || plan.Aggs[0].Shipment != "SH9" {
		t.Fatalf("plan: %+v", plan)
	}
	for _, p := range plan.Packs {
		if p.State != StateInTransit || p.Transit.Shipment != "SH9" || (p.Serial != "L1") != (p.SSCC == agg.SSCC) {
			t.Fatalf("shipped pack: %+v", p)
		}
	}
	// A case broken earlier cannot ship through its SSCC; an unknown pack
	// refuses the whole shipment.
	broken := packAt("C2", whA)
	plan = PlanShipment(ShipInput{Request: req, ID: "SH9", Actor: whA, Now: now, TxID: "tx9", Aggs: []Aggregation{agg}, ViaSSCC: via,
		Movable: Movable{Refs: refs, Packs: []*Pack{nil, inCase("C1"), broken}, Lots: []*Lot{nil, lot, lot}}})
	if plan.Outcome.OK() || len(plan.Problems) != 2 || plan.Problems[0].Code != CodeUnknownSerial || plan.Shipment != nil || len(plan.Packs) != 0 {
		t.Fatalf("refused plan: %+v", plan)
	}
}
