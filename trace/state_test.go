package trace

import (
	"strings"
	"testing"
	"time"
)

var (
	now   = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	phA   = Actor{MSP: "PharmacyMSP", Role: RolePharmacist, GLN: "4000000002017"}
	phB   = Actor{MSP: "PharmacyMSP", Role: RolePharmacist, GLN: "4000000002024"}
	phX   = Actor{MSP: "OtherPharmacyMSP", Role: RolePharmacist, GLN: "4000000002031"}
	whA   = Actor{MSP: "DistributorMSP", Role: RoleDistributor, GLN: "4000000001010"}
	whB   = Actor{MSP: "DistributorMSP", Role: RoleDistributor, GLN: "4000000001027"}
	mfg   = Actor{MSP: "ManufacturerMSP", Role: RoleManufacturer, GLN: "4006381000018"}
	regul = Actor{MSP: "RegulatorMSP", Role: RoleRegulator}
)

func lotWith(s LotStatus) *Lot {
	return &Lot{GTIN: "04006381000016", Lot: "L1", Expiry: "281231", Status: s}
}

func activeAt(a Actor) Pack {
	return Pack{GTIN: "04006381000016", Serial: "S1", Lot: "L1", Expiry: "281231", State: StateActive,
		Custodian: a.Party(), StateChangedBy: a.Party(), StateChangedAt: now.Add(-time.Hour)}
}

func inactive(r Reason, by Actor, ago time.Duration) Pack {
	p := activeAt(by)
	p.State, p.Reason, p.StateChangedAt = StateInactive, r, now.Add(-ago)
	return p
}

func inTransit(from, to Actor) Pack {
	p := activeAt(from)
	p.State = StateInTransit
	p.Transit = &Transit{Shipment: "SH1", From: from.Party(), To: to.Party()}
	return p
}

func findingCodes(v Verdict) string {
	var s []string
	for _, f := range v.Findings {
		s = append(s, string(f.Code)+"/"+string(f.Classification)+"/"+string(f.Severity))
	}
	return strings.Join(s, ",")
}

func TestDecommissionTransitions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pack     Pack
		lot      *Lot
		actor    Actor
		reason   Reason
		code     Code
		findings string
	}{
		{"dispense own active", activeAt(phA), lotWith(LotReleased), phA, ReasonDispensed, CodeNone, ""},
		{"dispense other site same org", activeAt(phB), lotWith(LotReleased), phA, ReasonDispensed, CodeNone, "CUSTODY_MISMATCH/process/medium"},
		{"dispense held by wholesaler", activeAt(whA), lotWith(LotReleased), phA, ReasonDispensed, CodeNone, "CUSTODY_MISMATCH/diversion/medium"},
		{"dispense in transit to me", inTransit(whA, phA), lotWith(LotReleased), phA, ReasonDispensed, CodeNone, ""},
		{"dispense in transit elsewhere", inTransit(whA, phB), lotWith(LotReleased), phA, ReasonDispensed, CodeStatusChangeNotPossible, "DIVERSION/diversion/high"},
		{"dispense twice same site", inactive(ReasonDispensed, phA, time.Hour), lotWith(LotReleased), phA, ReasonDispensed, CodeAlreadyInState, "ALREADY_IN_STATE/process/medium"},
		{"dispense clone other site", inactive(ReasonDispensed, phB, time.Hour), lotWith(LotReleased), phA, ReasonDispensed, CodeStatusChangeNotPossible, "CLONE/probable-counterfeit/critical"},
		{"dispense clone other org", inactive(ReasonDispensed, phX, time.Hour), lotWith(LotReleased), phA, ReasonDispensed, CodeStatusChangeNotPossible, "CLONE/probable-counterfeit/critical"},
		{"dispense stolen", inactive(ReasonStolen, whA, time.Hour), lotWith(LotReleased), phA, ReasonDispensed, CodeStatusChangeNotPossible, "INACTIVE_PACK_PRESENTED/probable-counterfeit/critical"},
		{"dispense destroyed", inactive(ReasonDestroyed, whA, time.Hour), lotWith(LotReleased), phA, ReasonDispensed, CodeStatusChangeNotPossible, "INACTIVE_PACK_PRESENTED/probable-counterfeit/critical"},
		{"dispense exported", inactive(ReasonExported, whA, time.Hour), lotWith(LotReleased), phA, ReasonDispensed, CodeStatusChangeNotPossible, "INACTIVE_PACK_PRESENTED/diversion/high"},
		{"dispense locked elsewhere", inactive(ReasonLocked, phB, time.Hour), lotWith(LotReleased), phA, ReasonDispensed, CodeStatusChangeNotPossible, "INACTIVE_PACK_PRESENTED/process/medium"},
		{"dispense locked here", inactive(ReasonLocked, phA, time.Hour), lotWith(LotReleased), phA, ReasonDispensed, CodeStatusChangeNotPossible, "STATUS_CHANGE_NOT_POSSIBLE/process/low"},
		{"dispense recalled", activeAt(phA), lotWith(LotRecalled), phA, ReasonDispensed, CodeLotRecalled, "RECALLED_LOT/process/high"},
		{"dispense withdrawn", activeAt(phA), lotWith(LotWithdrawn), phA, ReasonDispensed, CodeLotWithdrawn, "WITHDRAWN_LOT/process/medium"},
		{"dispense quarantined", activeAt(phA), lotWith(LotQuarantined), phA, ReasonDispensed, CodeLotQuarantined, "QUARANTINED_LOT/process/medium"},
		{"dispense recalled clone keeps clone finding", inactive(ReasonDispensed, phB, time.Hour), lotWith(LotRecalled), phA, ReasonDispensed, CodeLotRecalled, "RECALLED_LOT/process/high,CLONE/probable-counterfeit/critical"},
		{"destroy recalled allowed", activeAt(whA), lotWith(LotRecalled), whA, ReasonDestroyed, CodeNone, ""},
		{"export recalled refused", activeAt(whA), lotWith(LotRecalled), whA, ReasonExported, CodeLotRecalled, "RECALLED_LOT/process/high"},
		{"distributor not holding", activeAt(whB), lotWith(LotReleased), whA, ReasonExported, CodeStatusChangeNotPossible, "CUSTODY_MISMATCH/process/medium"},
		{"distributor in transit to it", inTransit(mfg, whA), lotWith(LotReleased), whA, ReasonExported, CodeStatusChangeNotPossible, "STATUS_CHANGE_NOT_POSSIBLE/process/low"},
		{"decommission same reason other site", inactive(ReasonSample, phB, time.Hour), lotWith(LotReleased), phA, ReasonSample, CodeAlreadyInState, "INACTIVE_PACK_PRESENTED/process/medium"},
		// The custody table: a pharmacy may not set another organisation's
		// stock inactive (stolen is then an alert, not a state).
		{"pharmacist reports a manufacturer's pack stolen", activeAt(mfg), lotWith(LotReleased), phA, ReasonStolen, CodeStatusChangeNotPossible, "CUSTODY_MISMATCH/diversion/high"},
		{"pharmacist destroys a wholesaler's pack", activeAt(whA), lotWith(LotReleased), phA, ReasonDestroyed, CodeStatusChangeNotPossible, "CUSTODY_MISMATCH/diversion/high"},
		{"pharmacist destroys a pack of its other site", activeAt(phB), lotWith(LotReleased), phA, ReasonDestroyed, CodeNone, "CUSTODY_MISMATCH/process/medium"},
		{"pharmacist stolen in transit to it", inTransit(whA, phA), lotWith(LotReleased), phA, ReasonStolen, CodeNone, ""},
		{"distributor supplies own pack (Art. 23)", activeAt(whA), lotWith(LotReleased), whA, ReasonSupplied, CodeNone, ""},
		{"regulator cannot destroy", activeAt(whA), lotWith(LotReleased), regul, ReasonDestroyed, CodeStatusChangeNotPossible, "CUSTODY_MISMATCH/diversion/high"},
		{"decommission dispensed pack here", inactive(ReasonDispensed, phA, time.Hour), lotWith(LotReleased), phA, ReasonDestroyed, CodeStatusChangeNotPossible, "STATUS_CHANGE_NOT_POSSIBLE/process/low"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, v := Decommission(tc.pack, tc.lot, tc.actor, tc.reason, now, "tx1")
			if v.Code != tc.code || findingCodes(v) != tc.findings {
				t.Fatalf("code %q findings %q (%s); want %q %q", v.Code, findingCodes(v), v.Message, tc.code, tc.findings)
			}
			if !v.OK() {
				if got.State != tc.pack.State || got.LastTx == "tx1" {
					t.Fatal("a refused action changed the pack")
				}
				return
			}
			if got.State != StateInactive || got.Reason != tc.reason || got.StateChangedBy != tc.actor.Party() ||
				!got.StateChangedAt.Equal(now) || got.Custodian != tc.actor.Party() || got.Transit != nil || got.LastTx != "tx1" {
				t.Fatalf("pack after: %+v", got)
			}
		})
	}
}

func TestRegulatorLocksAnyPackAndUnlocksIt(t *testing.T) {
	for _, tc := range []struct {
		name string
		pack Pack
		lot  *Lot
	}{
		{"held by a wholesaler", activeAt(whA), lotWith(LotReleased)},
		{"in transit", inTransit(whA, phA), lotWith(LotReleased)},
		{"of a quarantined lot", activeAt(phA), lotWith(LotQuarantined)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			locked, v := Decommission(tc.pack, tc.lot, regul, ReasonLocked, now, "tx-lock")
			if !v.OK() || len(v.Findings) != 0 || locked.State != StateInactive || locked.Reason != ReasonLocked {
				t.Fatalf("lock: %+v %+v", v, locked)
			}
			if locked.Custodian != tc.pack.Custodian || (tc.pack.Transit == nil) != (locked.Transit == nil) || locked.StateChangedRole != RoleRegulator {
				t.Fatalf("the lock moved the pack: %+v", locked)
			}
			// Nobody else undoes the regulator's lock: not the holder.
			if _, v := Undo(locked, tc.lot, Actor{MSP: locked.Custodian.MSP, Role: RolePharmacist, GLN: locked.Custodian.GLN}, now.Add(time.Hour), "tx-u1"); v.OK() {
				t.Fatal("the holder undid the regulator's lock")
			}
			// The regulator unlocks it a month later: back where it was.
			later := now.Add(30 * 24 * time.Hour)
			got, v := Undo(locked, tc.lot, regul, later, "tx-unlock")
			if !v.OK() || got.State != tc.pack.State || got.Custodian != tc.pack.Custodian {
				t.Fatalf("unlock: %+v %+v", v, got)
			}
		})
	}
}

func TestUndoByTheSameRoleOnly(t *testing.T) {
	// A site that holds both licences: the distributor role may not undo
	// the pharmacist's dispense (Art. 13(1)(a): the same person).
	both := Actor{MSP: phA.MSP, Role: RoleDistributor, GLN: phA.GLN}
	p, v := Dispense(activeAt(phA), lotWith(LotReleased), phA, now, "tx1")
	if !v.OK() {
		t.Fatal(v)
	}
	if _, v := Undo(p, lotWith(LotReleased), both, now.Add(time.Hour), "tx2"); v.OK() || !strings.Contains(v.Message, "same person") {
		t.Fatalf("undo by another role at the same site: %+v", v)
	}
	if _, v := Undo(p, lotWith(LotReleased), phA, now.Add(time.Hour), "tx2"); !v.OK() {
		t.Fatalf("undo by the same role: %+v", v)
	}
	// Dated before the change it undoes: refused (negative elapsed time).
	if _, v := Undo(p, lotWith(LotReleased), phA, now.Add(-48*time.Hour), "tx2"); v.OK() {
		t.Fatal("undo dated two days before the dispense was accepted")
	}
}

func TestExpiryDayZeroAndMarketTime(t *testing.T) {
	p := activeAt(phA)
	p.Expiry = "281200" // day 00: the last day of December 2028
	if v := CheckScanData(Scan{Lot: p.Lot, Expiry: "281231"}, &p, now); !v.OK() {
		t.Fatalf("281231 scanned for a lot registered as 281200: %+v", v)
	}
	if v := CheckScanData(Scan{Lot: p.Lot, Expiry: "281230"}, &p, now); v.Code != CodeExpiryMismatch {
		t.Fatalf("281230 for 281200: %+v", v)
	}
	// 01:30 on 1 April in Helsinki is still 31 March in UTC: expired there.
	hel, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	p.Expiry = "270331"
	at := time.Date(2027, 4, 1, 1, 30, 0, 0, hel)
	if !Expired(p.Expiry, at) || Expired(p.Expiry, at.UTC()) {
		t.Fatalf("expiry at %s: local %v, UTC %v", at, Expired(p.Expiry, at), Expired(p.Expiry, at.UTC()))
	}
	if _, v := Dispense(p, lotWith(LotReleased), phA, at, "tx"); v.Code != CodeExpired {
		t.Fatalf("dispense at 01:30 local on the day after expiry: %+v", v)
	}
	if got, _ := Dispense(p, lotWith(LotReleased), phA, at.Add(-2*time.Hour), "tx"); got.StateChangedAt.Location() != time.UTC {
		t.Fatalf("state change stored in %v, want UTC", got.StateChangedAt.Location())
	}
}

func TestExpiredOverridesState(t *testing.T) {
	p := activeAt(phA)
	p.Expiry = "260301" // the day before now
	if _, v := Dispense(p, lotWith(LotReleased), phA, now, "tx"); v.Code != CodeExpired {
		t.Fatalf("%+v", v)
	}
	p.Expiry = "260302" // today: still valid
	if _, v := Dispense(p, lotWith(LotReleased), phA, now, "tx"); !v.OK() {
		t.Fatalf("%+v", v)
	}
}

func TestUndoRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pack  Pack
		lot   *Lot
		actor Actor
		at    time.Time
		code  Code
		class Classification
	}{
		{"same site within window", inactive(ReasonDispensed, phA, 9*24*time.Hour), lotWith(LotReleased), phA, now, CodeNone, ""},
		{"exactly 10 days", inactive(ReasonDispensed, phA, UndoWindow), lotWith(LotReleased), phA, now, CodeNone, ""},
		{"10 days and a second", inactive(ReasonDispensed, phA, UndoWindow+time.Second), lotWith(LotReleased), phA, now, CodeStatusChangeNotPossible, ClassProcess},
		{"other site same org", inactive(ReasonDispensed, phB, time.Hour), lotWith(LotReleased), phA, now, CodeStatusChangeNotPossible, ClassProcess},
		{"other org", inactive(ReasonDispensed, phX, time.Hour), lotWith(LotReleased), phA, now, CodeStatusChangeNotPossible, ClassDiversion},
		{"destroyed", inactive(ReasonDestroyed, phA, time.Hour), lotWith(LotReleased), phA, now, CodeStatusChangeNotPossible, ClassProcess},
		{"stolen", inactive(ReasonStolen, phA, time.Hour), lotWith(LotReleased), phA, now, CodeStatusChangeNotPossible, ClassProcess},
		{"recalled lot", inactive(ReasonDispensed, phA, time.Hour), lotWith(LotRecalled), phA, now, CodeLotRecalled, ClassProcess},
		{"withdrawn lot", inactive(ReasonDispensed, phA, time.Hour), lotWith(LotWithdrawn), phA, now, CodeLotWithdrawn, ClassProcess},
		{"quarantined lot allowed", inactive(ReasonLocked, phA, time.Hour), lotWith(LotQuarantined), phA, now, CodeNone, ""},
		{"after expiry", inactive(ReasonDispensed, phA, time.Hour), lotWith(LotReleased), phA, time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC), CodeExpired, ClassProcess},
		{"already active", activeAt(phA), lotWith(LotReleased), phA, now, CodeAlreadyInState, ClassProcess},
		{"in transit", inTransit(whA, phA), lotWith(LotReleased), phA, now, CodeStatusChangeNotPossible, ClassProcess},
		{"exported by distributor", inactive(ReasonExported, whA, time.Hour), lotWith(LotReleased), whA, now, CodeNone, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.pack
			if tc.at != now {
				p.StateChangedAt = tc.at.Add(-time.Hour)
			}
			got, v := Undo(p, tc.lot, tc.actor, tc.at, "tx1")
			if v.Code != tc.code {
				t.Fatalf("code %q (%s), want %q", v.Code, v.Message, tc.code)
			}
			if !v.OK() {
				if len(v.Findings) != 1 || v.Findings[0].Classification != tc.class {
					t.Fatalf("findings %s", findingCodes(v))
				}
				return
			}
			if got.State != StateActive || got.Reason != "" || !got.StateChangedAt.Equal(tc.at) {
				t.Fatalf("%+v", got)
			}
		})
	}
}

func TestAssess(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pack     Pack
		lot      *Lot
		actor    Actor
		code     Code
		findings string
	}{
		{"active held", activeAt(phA), lotWith(LotReleased), phA, CodeNone, ""},
		{"active elsewhere", activeAt(whA), lotWith(LotReleased), phA, CodeNone, "CUSTODY_MISMATCH/diversion/medium"},
		{"regulator sees no custody issue", activeAt(whA), lotWith(LotReleased), regul, CodeNone, ""},
		{"manufacturer inspects", inactive(ReasonDispensed, phB, time.Hour), lotWith(LotReleased), mfg, CodePackInactive, ""},
		{"in transit to me", inTransit(whA, phA), lotWith(LotReleased), phA, CodeNone, ""},
		{"in transit at shipper", inTransit(whA, phA), lotWith(LotReleased), whA, CodeNone, ""},
		{"in transit elsewhere", inTransit(whA, phB), lotWith(LotReleased), phA, CodeNone, "DIVERSION/diversion/high"},
		{"dispensed here", inactive(ReasonDispensed, phA, time.Hour), lotWith(LotReleased), phA, CodePackInactive, ""},
		{"dispensed elsewhere", inactive(ReasonDispensed, phB, time.Hour), lotWith(LotReleased), phA, CodePackInactive, "CLONE/probable-counterfeit/critical"},
		{"recalled", activeAt(phA), lotWith(LotRecalled), phA, CodeLotRecalled, "RECALLED_LOT/process/high"},
		{"recalled for regulator too", activeAt(phA), lotWith(LotRecalled), regul, CodeLotRecalled, "RECALLED_LOT/process/high"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Assess(&tc.pack, tc.lot, tc.actor, now)
			if v.Code != tc.code || findingCodes(v) != tc.findings {
				t.Fatalf("code %q findings %q; want %q %q", v.Code, findingCodes(v), tc.code, tc.findings)
			}
		})
	}
}

func TestCheckMovable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pack     Pack
		lot      *Lot
		ret      bool
		code     Code
		findings string
	}{
		{"held", activeAt(whA), lotWith(LotReleased), false, CodeNone, ""},
		{"not held", activeAt(whB), lotWith(LotReleased), false, CodeStatusChangeNotPossible, "CUSTODY_MISMATCH/process/medium"},
		{"already shipped", inTransit(whA, phA), lotWith(LotReleased), false, CodeAlreadyInState, "ALREADY_IN_STATE/process/low"},
		{"in transit for others", inTransit(whB, phA), lotWith(LotReleased), false, CodeStatusChangeNotPossible, "DIVERSION/diversion/high"},
		{"after dispense", inactive(ReasonDispensed, phA, time.Hour), lotWith(LotReleased), false, CodeStatusChangeNotPossible, "MOVEMENT_AFTER_DISPENSE/diversion/high"},
		{"stolen", inactive(ReasonStolen, whB, time.Hour), lotWith(LotReleased), false, CodeStatusChangeNotPossible, "INACTIVE_PACK_PRESENTED/probable-counterfeit/critical"},
		{"recalled", activeAt(whA), lotWith(LotRecalled), false, CodeLotRecalled, "RECALLED_LOT/process/high"},
		{"recalled back to owner", activeAt(whA), lotWith(LotRecalled), true, CodeNone, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := CheckMovable(&tc.pack, tc.lot, whA, now, tc.ret)
			if v.Code != tc.code || findingCodes(v) != tc.findings {
				t.Fatalf("code %q findings %q; want %q %q", v.Code, findingCodes(v), tc.code, tc.findings)
			}
		})
	}
}

func TestReceive(t *testing.T) {
	p, changed, v := ReceiveExpected(inTransit(whA, phA), "SH1", phA, now, "tx")
	if !v.OK() || !changed || p.State != StateActive || p.Custodian != phA.Party() || p.Transit != nil {
		t.Fatalf("%+v %v", p, v)
	}
	if _, changed, v := ReceiveExpected(inactive(ReasonDispensed, phA, time.Hour), "SH1", phA, now, "tx"); !v.OK() || changed {
		t.Fatal("implicitly received pack")
	}
	if _, _, v := ReceiveExpected(inactive(ReasonDispensed, phB, time.Hour), "SH1", phA, now, "tx"); findingCodes(v) != "MOVEMENT_AFTER_DISPENSE/diversion/high" {
		t.Fatal(findingCodes(v))
	}
	if _, _, v := ReceiveExpected(activeAt(phB), "SH1", phA, now, "tx"); findingCodes(v) != "CLONE/probable-counterfeit/high" {
		t.Fatal(findingCodes(v))
	}
	sh := &Shipment{ID: "SH1", From: whA.Party(), To: phA.Party()}
	for _, tc := range []struct {
		pack Pack
		want string
	}{
		{activeAt(whA), "UNEXPECTED_PACK"},
		{activeAt(whB), "CLONE"},
		{activeAt(phA), ""},
		{inTransit(whB, phB), "DIVERSION"},
		{inactive(ReasonDispensed, phB, time.Hour), "MOVEMENT_AFTER_DISPENSE"},
	} {
		f, ok := UnexpectedFinding(&tc.pack, sh, phA)
		if string(f.Code) != tc.want || ok != (tc.want != "") {
			t.Errorf("%+v: %s %v, want %s", tc.pack.Custodian, f.Code, ok, tc.want)
		}
	}
}

func TestCheckScanData(t *testing.T) {
	p := activeAt(phA)
	p.Lot = "LOTYZ"
	if v := CheckScanData(Scan{Lot: "LOTYZ", Expiry: p.Expiry}, &p, now); !v.OK() {
		t.Fatal(v)
	}
	v := CheckScanData(Scan{Lot: "LOTX", Expiry: p.Expiry}, &p, now)
	if v.Code != CodeBatchMismatch || v.Findings[0].Classification != ClassCounterfeit {
		t.Fatal(findingCodes(v))
	}
	v = CheckScanData(Scan{Lot: "lotyz", Expiry: p.Expiry}, &p, now)
	if v.Code != CodeBatchMismatch || v.Findings[0].Classification != ClassScannerFault || v.Findings[0].Evidence.NearMiss[0] != "LOTYZ" {
		t.Fatal(findingCodes(v))
	}
	v = CheckScanData(Scan{Lot: "LOTZY", Expiry: p.Expiry}, &p, now)
	if v.Findings[0].Classification != ClassScannerFault {
		t.Fatal("Y/Z swap")
	}
	v = CheckScanData(Scan{Lot: "LOTYZ", Expiry: "281230"}, &p, now)
	if v.Code != CodeExpiryMismatch || v.Findings[0].Classification != ClassCounterfeit {
		t.Fatal(findingCodes(v))
	}
	v = CheckScanData(Scan{Lot: "LOTYZ", Expiry: "281230", Warnings: []string{WarnDroppedGS}}, &p, now)
	if v.Findings[0].Classification != ClassCounterfeit || v.Findings[0].Severity != SeverityHigh {
		t.Fatal("a scanner warning lowered a classification without ledger evidence")
	}
}

func TestSetLotStatus(t *testing.T) {
	for _, tc := range []struct {
		from, to LotStatus
		code     Code
	}{
		{LotReleased, LotRecalled, CodeNone},
		{LotQuarantined, LotRecalled, CodeNone},
		{LotWithdrawn, LotRecalled, CodeNone},
		{LotRecalled, LotRecalled, CodeAlreadyInState},
		{LotReleased, LotWithdrawn, CodeNone},
		{LotRecalled, LotWithdrawn, CodeStatusChangeNotPossible},
		{LotWithdrawn, LotWithdrawn, CodeAlreadyInState},
		{LotQuarantined, LotReleased, CodeNone},
		{LotReleased, LotReleased, CodeAlreadyInState},
		{LotRecalled, LotReleased, CodeStatusChangeNotPossible},
		{LotReleased, LotQuarantined, CodeStatusChangeNotPossible},
	} {
		t.Run(string(tc.from)+"→"+string(tc.to), func(t *testing.T) {
			l, v := SetLotStatus(*lotWith(tc.from), tc.to, "reason", regul, now, "tx")
			if v.Code != tc.code {
				t.Fatalf("%q: %s", v.Code, v.Message)
			}
			if v.OK() && (l.Status != tc.to || l.StatusChangedBy.MSP != regul.MSP || l.StatusReason != "reason") {
				t.Fatalf("%+v", l)
			}
		})
	}
}

func TestAnomalyWorkflow(t *testing.T) {
	a := NewAnomaly(Finding{Code: AnomalyClone, Severity: SeverityCritical, Classification: ClassCounterfeit}, AnomalyID("abcdef0123456789xyz", now, 3), TxDispense, "abcdef0123456789xyz", phA, now)
	if a.ID != "AN-20260302T090000.000Z-abcdef0123456789-03" || a.Status != AnomalyNew || len(a.Transitions) != 1 {
		t.Fatalf("%+v", a)
	}
	steps := []struct {
		to     AnomalyStatus
		reason CloseReason
		ok     bool
	}{
		{AnomalyEscalated, "", false},
		{AnomalyClosed, "", false},
		{AnomalyInvestigating, CloseResolved, false},
		{AnomalyInvestigating, "", true},
		{AnomalyInvestigating, "", false},
		{AnomalyEscalated, "", true},
		{AnomalyClosed, CloseConfirmedCounterfeit, true},
		{AnomalyInvestigating, "", false},
		{AnomalyClosed, CloseResolved, false},
	}
	for i, s := range steps {
		na, err := TransitionAnomaly(a, s.to, s.reason, "c", regul, now.Add(time.Duration(i)*time.Minute), "tx")
		if (err == nil) != s.ok {
			t.Fatalf("step %d → %s: %v", i, s.to, err)
		}
		if err == nil {
			a = na
		} else if ClassifyError(err) == nil {
			t.Fatalf("unclassified error %v", err)
		}
	}
	if a.Status != AnomalyClosed || a.CloseReason != CloseConfirmedCounterfeit || len(a.Transitions) != 4 || a.Transitions[3].From != AnomalyEscalated {
		t.Fatalf("%+v", a)
	}
	// closing straight from new is allowed (false positive)
	b := NewAnomaly(Finding{Code: AnomalyUnknownSerial}, "X", TxVerify, "t", phA, now)
	if _, err := TransitionAnomaly(b, AnomalyClosed, CloseFalsePositive, "", regul, now, "t2"); err != nil {
		t.Fatal(err)
	}
	c := CommentAnomaly(b, "note", regul, now, "t3")
	if len(c.Transitions) != 2 || len(b.Transitions) != 1 || c.Transitions[1].Comment != "note" {
		t.Fatal("comment must append without aliasing")
	}
}

func TestGroupFindings(t *testing.T) {
	var fs []Finding
	for i := 0; i < 150; i++ {
		p := activeAt(whB)
		p.Serial = "S" + string(rune('A'+i%26)) + string(rune('A'+i/26))
		fs = append(fs, custodyMismatch(&p, whA))
	}
	p := activeAt(whA)
	fs = append(fs, packFinding(&p, AnomalyClone, CodeNone, SeverityHigh, ClassCounterfeit, "clone", nil))
	g := GroupFindings(fs)
	if len(g) != 2 || g[0].Evidence.PackCount != 150 || len(g[0].Evidence.Packs) != MaxEvidencePacks || g[0].Pack != nil ||
		!strings.HasPrefix(g[0].Evidence.Message, "150 packs: ") || g[1].Pack == nil || g[1].Evidence.PackCount != 0 {
		t.Fatalf("%+v", g)
	}
}

func TestRights(t *testing.T) {
	if !RolePharmacist.Has(RightPackDispense) || RoleDistributor.Has(RightPackDispense) || RoleAdmin.Has(RightPackVerify) {
		t.Fatal("grants")
	}
	if !RoleDistributor.Has(DecommissionRight(ReasonExported)) || RolePharmacist.Has(DecommissionRight(ReasonExported)) ||
		!RolePharmacist.Has(DecommissionRight(ReasonCheckedOut)) || RoleManufacturer.Has(DecommissionRight(ReasonCheckedOut)) {
		t.Fatal("decommission grants")
	}
	for _, tx := range append(append([]string{}, SubmitTransactions...), EvaluateTransactions...) {
		if tx != TxDecommission && TransactionRights[tx] == "" {
			t.Errorf("%s has no right", tx)
		}
		if IsQuery(tx) != (TransactionRights[tx] != "" && contains(EvaluateTransactions, tx)) {
			t.Errorf("IsQuery(%s)", tx)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
