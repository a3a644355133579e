package trace

import (
	"fmt"
	"time"
)

// UndoWindow is how long after a status change Undo may reverse it.
const UndoWindow = 10 * 24 * time.Hour

// Verdict is the state machine's answer to one action on one pack: the code
// (CodeNone when allowed) and the findings to record as anomalies. Findings
// can accompany an allowed action (e.g. custody mismatch).
type Verdict struct {
	Code     Code
	Message  string
	Findings []Finding
}

// OK reports whether the action is allowed.
func (v Verdict) OK() bool { return v.Code == CodeNone }

func (v *Verdict) refuse(code Code, format string, args ...any) {
	if v.Code == CodeNone {
		v.Code = code
		v.Message = fmt.Sprintf(format, args...)
	}
}

func (v *Verdict) add(f Finding) { v.Findings = append(v.Findings, f) }

func packFinding(p *Pack, code AnomalyCode, alert Code, sev Severity, class Classification, msg string, counterpart *Party) Finding {
	ref := p.Ref()
	lot := LotRef{GTIN: p.GTIN, Lot: p.Lot}
	var cp *Party
	if counterpart != nil {
		c := *counterpart
		cp = &c
	}
	return Finding{Code: code, Alert: alert, Severity: sev, Classification: class, Pack: &ref, Lot: &lot,
		Evidence: Evidence{Message: msg, Counterpart: cp}}
}

// merge combines the lot-gate verdict v with the state verdict st: the lot
// refusal wins; the state's low-severity process findings are then dropped
// as noise, its other findings (clone, diversion, custody...) kept.
func merge(v, st Verdict) Verdict {
	if v.OK() {
		v.Code, v.Message = st.Code, st.Message
		v.Findings = append(v.Findings, st.Findings...)
		return v
	}
	for _, f := range st.Findings {
		if f.Code != AnomalyAlreadyInState && f.Code != AnomalyStatusChange {
			v.add(f)
		}
	}
	return v
}

// lotGate applies the lot-level overrides: recalled, withdrawn, quarantined
// and expired (from the transaction time) packs are refused whatever their
// own state.
func lotGate(v *Verdict, p *Pack, l *Lot, now time.Time, finding bool) {
	var (
		code  Code
		ac    AnomalyCode
		sev   Severity
		msg   string
		class = ClassProcess
	)
	switch {
	case l.Status == LotRecalled:
		code, ac, sev, msg = CodeLotRecalled, AnomalyRecalledLot, SeverityHigh, fmt.Sprintf("lot %s is recalled", l.Lot)
	case l.Status == LotWithdrawn:
		code, ac, sev, msg = CodeLotWithdrawn, AnomalyWithdrawnLot, SeverityMedium, fmt.Sprintf("lot %s is withdrawn", l.Lot)
	case l.Status == LotQuarantined:
		code, ac, sev, msg = CodeLotQuarantined, AnomalyQuarantinedLot, SeverityMedium, fmt.Sprintf("lot %s is quarantined (not released)", l.Lot)
	case Expired(p.Expiry, now):
		code, ac, sev, msg = CodeExpired, AnomalyExpired, SeverityLow, fmt.Sprintf("pack expired (expiry %s)", p.Expiry)
	default:
		return
	}
	v.refuse(code, "%s", msg)
	if finding {
		v.add(packFinding(p, ac, code, sev, class, msg, nil))
	}
}

// CheckScanData compares a scan with the pack it names: batch mismatch (A68)
// before expiry mismatch (A52). A scanned batch that differs from the
// ledger's only by case or a Y/Z swap counts as a near miss (scanner fault).
func CheckScanData(s Scan, p *Pack, now time.Time) Verdict {
	var v Verdict
	ref, lot := p.Ref(), LotRef{GTIN: p.GTIN, Lot: p.Lot}
	switch {
	case s.Lot != p.Lot:
		var near []string
		for _, m := range NearMisses(s.Lot) {
			if m == p.Lot {
				near = []string{p.Lot}
			}
		}
		v.refuse(CodeBatchMismatch, "scanned batch %q does not match the pack's batch", s.Lot)
		f := ScanFinding(AnomalyBatchMismatch, CodeBatchMismatch, s, near, Evidence{Message: v.Message, Expected: p.Lot, Found: s.Lot})
		f.Pack, f.Lot = &ref, &lot
		v.add(f)
	case !SameExpiry(s.Expiry, p.Expiry, now):
		v.refuse(CodeExpiryMismatch, "scanned expiry %s does not match the pack's expiry", s.Expiry)
		f := ScanFinding(AnomalyExpiryMismatch, CodeExpiryMismatch, s, nil, Evidence{Message: v.Message, Expected: p.Expiry, Found: s.Expiry})
		f.Pack, f.Lot = &ref, &lot
		v.add(f)
	}
	return v
}

// siteBoundCheck reports whether presence-based rules (custody, clone,
// in-transit diversion) apply to the actor: only supply-chain sites;
// regulators and manufacturers inspect packs anywhere.
func siteBoundCheck(a Actor) bool { return a.Role == RolePharmacist || a.Role == RoleDistributor }

// inactivePresented is the finding for an inactive pack that shows up at
// actor a's site (other than for its own requested state).
func inactivePresented(p *Pack, a Actor) (Finding, bool) {
	by := p.StateChangedBy
	same := by == a.Party()
	switch p.Reason {
	case ReasonDispensed:
		if same {
			return Finding{}, false
		}
		return packFinding(p, AnomalyClone, CodeStatusChangeNotPossible, SeverityCritical, ClassCounterfeit,
			fmt.Sprintf("pack was dispensed at %s (%s) and is presented again at %s", by.GLN, by.MSP, a.GLN), &by), true
	case ReasonStolen, ReasonDestroyed:
		return packFinding(p, AnomalyInactivePack, CodeStatusChangeNotPossible, SeverityCritical, ClassCounterfeit,
			fmt.Sprintf("pack reported %s by %s (%s) is presented at %s", p.Reason, by.GLN, by.MSP, a.GLN), &by), true
	case ReasonExported:
		return packFinding(p, AnomalyInactivePack, CodeStatusChangeNotPossible, SeverityHigh, ClassDiversion,
			fmt.Sprintf("pack exported by %s (%s) is presented at %s", by.GLN, by.MSP, a.GLN), &by), true
	}
	if same {
		return Finding{}, false
	}
	return packFinding(p, AnomalyInactivePack, CodeStatusChangeNotPossible, SeverityMedium, ClassProcess,
		fmt.Sprintf("pack set %s by %s (%s) is presented at %s", p.Reason, by.GLN, by.MSP, a.GLN), &by), true
}

// custodyMismatch is the finding for an active pack handled by a site other
// than its custodian: same organisation → process, other organisation →
// diversion.
func custodyMismatch(p *Pack, a Actor) Finding {
	class := ClassDiversion
	if p.Custodian.MSP == a.MSP {
		class = ClassProcess
	}
	c := p.Custodian
	return packFinding(p, AnomalyCustodyMismatch, CodeNone, SeverityMedium, class,
		fmt.Sprintf("pack held by %s (%s) is handled at %s (%s)", c.GLN, c.MSP, a.GLN, a.MSP), &c)
}

// Assess is Verify's verdict on a known pack whose scan data matched: lot
// overrides first, then the pack state. Active and in-transit packs pass
// (with custody or diversion findings for a site that does not hold them);
// inactive packs are refused with CodePackInactive.
func Assess(p *Pack, l *Lot, a Actor, now time.Time) Verdict {
	var v Verdict
	lotGate(&v, p, l, now, true)
	site := siteBoundCheck(a)
	switch p.State {
	case StateActive:
		if site && p.Custodian != a.Party() {
			v.add(custodyMismatch(p, a))
		}
	case StateInTransit:
		if site && p.Transit != nil && p.Transit.To != a.Party() && p.Transit.From != a.Party() {
			to := p.Transit.To
			v.add(packFinding(p, AnomalyDiversion, CodeNone, SeverityHigh, ClassDiversion,
				fmt.Sprintf("pack in transit to %s (%s) in shipment %s is scanned at %s (%s)", to.GLN, to.MSP, p.Transit.Shipment, a.GLN, a.MSP), &to))
		}
	case StateInactive:
		v.refuse(CodePackInactive, "pack is inactive (%s)", p.Reason)
		if site {
			if f, ok := inactivePresented(p, a); ok {
				v.add(f)
			}
		}
	}
	return v
}

// regulatorLock reports whether the action is the regulator locking a pack:
// allowed on any active or in-transit pack, wherever it is, custody kept.
func regulatorLock(a Actor, r Reason) bool { return a.Role == RoleRegulator && r == ReasonLocked }

// toInactive checks whether actor a may set pack p inactive for reason r
// (the custody table of trace/doc.go). The regulator may lock any pack. A
// pharmacist may dispense an active pack it does not hold (custody mismatch
// finding: the pack in the patient's hand is the physical fact), and may
// decommission one held by another site of its own organisation; a pack
// held by another organisation it may not decommission — a pack presented
// to it as stolen is an alert, never a final state. Pharmacists may also
// act on a pack in transit to their own site (implicit receipt). Other
// roles must hold the pack.
func toInactive(v *Verdict, p *Pack, a Actor, r Reason) {
	if regulatorLock(a, r) && p.State != StateInactive {
		return
	}
	lenient := a.Role == RolePharmacist
	switch p.State {
	case StateActive:
		if p.Custodian == a.Party() {
			return
		}
		f := custodyMismatch(p, a)
		if lenient && (r == ReasonDispensed || p.Custodian.MSP == a.MSP) {
			v.add(f)
			return
		}
		f.Alert = CodeStatusChangeNotPossible
		if p.Custodian.MSP != a.MSP {
			f.Severity = SeverityHigh
			f.Evidence.Message = fmt.Sprintf("pack held by %s (%s) is reported %s at %s (%s)", p.Custodian.GLN, p.Custodian.MSP, r, a.GLN, a.MSP)
		}
		v.refuse(CodeStatusChangeNotPossible, "pack is held by %s (%s): only its holder may set it %s", p.Custodian.GLN, p.Custodian.MSP, r)
		v.add(f)
	case StateInTransit:
		t := p.Transit
		if t == nil {
			v.refuse(CodeStatusChangeNotPossible, "pack is in transit")
			return
		}
		if t.To == a.Party() {
			if lenient {
				return
			}
			v.refuse(CodeStatusChangeNotPossible, "pack is in transit to this site in shipment %s: receive it first", t.Shipment)
			v.add(packFinding(p, AnomalyStatusChange, CodeStatusChangeNotPossible, SeverityLow, ClassProcess, v.Message, nil))
			return
		}
		to := t.To
		v.refuse(CodeStatusChangeNotPossible, "pack is in transit to %s (%s) in shipment %s", to.GLN, to.MSP, t.Shipment)
		v.add(packFinding(p, AnomalyDiversion, CodeStatusChangeNotPossible, SeverityHigh, ClassDiversion, v.Message, &to))
	case StateInactive:
		by := p.StateChangedBy
		if p.Reason == r {
			if by == a.Party() {
				// An alert, as the EU hub raises one for any decommission
				// attempt of an inactive pack: a second dispense at the same
				// counter may be a second pack with a copied code.
				v.refuse(CodeAlreadyInState, "pack is already %s (at this site, %s)", r, p.StateChangedAt.UTC().Format(time.RFC3339))
				v.add(packFinding(p, AnomalyAlreadyInState, CodeAlreadyInState, SeverityMedium, ClassProcess, v.Message, nil))
				return
			}
			if r == ReasonDispensed {
				v.refuse(CodeStatusChangeNotPossible, "pack was already dispensed at another site")
			} else {
				v.refuse(CodeAlreadyInState, "pack is already %s (by %s)", r, by.GLN)
			}
		} else {
			v.refuse(CodeStatusChangeNotPossible, "pack is inactive (%s)", p.Reason)
		}
		if f, ok := inactivePresented(p, a); ok {
			v.add(f)
		} else {
			v.add(packFinding(p, AnomalyStatusChange, v.Code, SeverityLow, ClassProcess, v.Message, nil))
		}
	}
}

// setState records a state change. Times are stored in UTC whatever the
// location of now (the market's, for expiry).
func setState(p Pack, state PackState, reason Reason, a Actor, now time.Time, tx, txID string) Pack {
	now = now.UTC()
	p.State, p.Reason = state, reason
	p.StateChangedBy, p.StateChangedAt, p.StateChangedRole = a.Party(), now, a.Role
	p.LastEvent, p.LastTx, p.UpdatedAt = tx, txID, now
	return p
}

// Dispense decides and applies dispensing (supply to the patient) of pack p
// by a pharmacist at a's site.
func Dispense(p Pack, l *Lot, a Actor, now time.Time, txID string) (Pack, Verdict) {
	return Decommission(p, l, a, ReasonDispensed, now, txID)
}

// Decommission decides and applies setting pack p inactive for reason r
// (ReasonDispensed is Dispense). Lot overrides apply except that destroyed,
// stolen and locked stay possible for recalled, withdrawn, quarantined or
// expired packs (they must be taken out of the chain).
func Decommission(p Pack, l *Lot, a Actor, r Reason, now time.Time, txID string) (Pack, Verdict) {
	var v Verdict
	if r != ReasonDestroyed && r != ReasonStolen && r != ReasonLocked {
		lotGate(&v, &p, l, now, true)
	}
	st := Verdict{}
	toInactive(&st, &p, a, r)
	v = merge(v, st)
	if !v.OK() {
		return p, v
	}
	tx := TxDecommission
	if r == ReasonDispensed {
		tx = TxDispense
	}
	if regulatorLock(a, r) {
		// A lock from afar: the pack stays where it is (and in its
		// shipment), so that unlocking restores it.
		return setState(p, StateInactive, r, a, now, tx, txID), v
	}
	p = setState(p, StateInactive, r, a, now, tx, txID)
	p.Custodian, p.Transit = a.Party(), nil
	return p, v
}

// Undo reverses an inactive state back to active: only by the same
// organisation at the same site with the same role that made the change,
// within UndoWindow, before expiry, never for destroyed or stolen packs,
// never in a recalled or withdrawn lot. The regulator's lock is undone by
// the regulator only, with no time limit; the pack returns to its shipment
// if it was locked in transit.
func Undo(p Pack, l *Lot, a Actor, now time.Time, txID string) (Pack, Verdict) {
	var v Verdict
	refuse := func(code Code, sev Severity, class Classification, format string, args ...any) (Pack, Verdict) {
		v.refuse(code, format, args...)
		ac := AnomalyUndoRefused
		if code == CodeAlreadyInState {
			ac = AnomalyAlreadyInState
		}
		by := p.StateChangedBy
		v.add(packFinding(&p, ac, code, sev, class, v.Message, &by))
		return p, v
	}
	switch {
	case l.Status == LotRecalled:
		return refuse(CodeLotRecalled, SeverityMedium, ClassProcess, "undo refused: lot %s is recalled", l.Lot)
	case l.Status == LotWithdrawn:
		return refuse(CodeLotWithdrawn, SeverityMedium, ClassProcess, "undo refused: lot %s is withdrawn", l.Lot)
	case Expired(p.Expiry, now):
		return refuse(CodeExpired, SeverityLow, ClassProcess, "undo refused: pack expired (expiry %s)", p.Expiry)
	case p.State == StateActive:
		return refuse(CodeAlreadyInState, SeverityLow, ClassProcess, "pack is already active")
	case p.State != StateInactive:
		return refuse(CodeStatusChangeNotPossible, SeverityLow, ClassProcess, "undo refused: pack is %s", p.State)
	case p.Reason.Irreversible():
		return refuse(CodeStatusChangeNotPossible, SeverityHigh, ClassProcess, "undo refused: %s is irreversible", p.Reason)
	case p.StateChangedBy.MSP != a.MSP:
		return refuse(CodeStatusChangeNotPossible, SeverityHigh, ClassDiversion,
			"undo refused: pack was set %s by another organisation (%s)", p.Reason, p.StateChangedBy.MSP)
	case p.StateChangedBy.GLN != a.GLN:
		return refuse(CodeStatusChangeNotPossible, SeverityMedium, ClassProcess,
			"undo refused: pack was set %s at another site (%s)", p.Reason, p.StateChangedBy.GLN)
	case p.StateChangedRole != "" && p.StateChangedRole != a.Role:
		return refuse(CodeStatusChangeNotPossible, SeverityMedium, ClassProcess,
			"undo refused: pack was set %s by the %s role, not %s (the same person must undo)", p.Reason, p.StateChangedRole, a.Role)
	case p.StateChangedRole == RoleRegulator && p.Reason == ReasonLocked:
		np := setState(p, StateActive, "", a, now, TxUndo, txID)
		if p.Transit != nil {
			np.State = StateInTransit
		}
		return np, v
	case now.Sub(p.StateChangedAt) > UndoWindow || now.Before(p.StateChangedAt):
		return refuse(CodeStatusChangeNotPossible, SeverityLow, ClassProcess,
			"undo refused: pack was set %s on %s, more than 10 days ago", p.Reason, p.StateChangedAt.UTC().Format(time.RFC3339))
	}
	return setState(p, StateActive, "", a, now, TxUndo, txID), v
}

// CheckMovable decides whether actor a may pack (Aggregate) or ship pack p.
// The actor must hold the active pack. Packs of recalled, withdrawn,
// quarantined or expired lots may move only when returnToOwner (the
// destination is the product's owning manufacturer).
func CheckMovable(p *Pack, l *Lot, a Actor, now time.Time, returnToOwner bool) Verdict {
	var v Verdict
	if !returnToOwner {
		lotGate(&v, p, l, now, true)
	}
	st := Verdict{}
	switch p.State {
	case StateActive:
		if p.Custodian != a.Party() {
			f := custodyMismatch(p, a)
			f.Alert = CodeStatusChangeNotPossible
			f.Classification = ClassProcess
			st.refuse(CodeStatusChangeNotPossible, "pack is held by %s (%s)", p.Custodian.GLN, p.Custodian.MSP)
			st.add(f)
		}
	case StateInTransit:
		if p.Transit != nil && p.Transit.From == a.Party() {
			st.refuse(CodeAlreadyInState, "pack is already in transit in shipment %s", p.Transit.Shipment)
			st.add(packFinding(p, AnomalyAlreadyInState, CodeAlreadyInState, SeverityLow, ClassProcess, st.Message, nil))
		} else {
			var to *Party
			if p.Transit != nil {
				t := p.Transit.To
				to = &t
			}
			st.refuse(CodeStatusChangeNotPossible, "pack is in transit for another party")
			st.add(packFinding(p, AnomalyDiversion, CodeStatusChangeNotPossible, SeverityHigh, ClassDiversion, st.Message, to))
		}
	case StateInactive:
		by := p.StateChangedBy
		st.refuse(CodeStatusChangeNotPossible, "pack is inactive (%s)", p.Reason)
		if p.Reason == ReasonDispensed {
			st.add(packFinding(p, AnomalyMovementAfterDispense, CodeStatusChangeNotPossible, SeverityHigh, ClassDiversion,
				fmt.Sprintf("pack dispensed at %s (%s) is moved by %s (%s)", by.GLN, by.MSP, a.GLN, a.MSP), &by))
		} else if f, ok := inactivePresented(p, a); ok {
			st.add(f)
		} else {
			st.add(packFinding(p, AnomalyStatusChange, CodeStatusChangeNotPossible, SeverityLow, ClassProcess, st.Message, nil))
		}
	}
	return merge(v, st)
}

// Ship applies the departure of pack p in shipment t (after CheckMovable).
// Shipping a pack loose (not through its SSCC) breaks its case.
func Ship(p Pack, t Transit, viaSSCC bool, a Actor, now time.Time, txID string) Pack {
	p = setState(p, StateInTransit, "", a, now, TxShip, txID)
	tt := t
	p.Transit = &tt
	if !viaSSCC {
		p.SSCC = ""
	}
	return p
}

// ReceiveExpected decides the receipt of pack p, listed in shipment id, at
// a's site. It returns the updated pack and whether it changed; a refusal
// means the pack was not moved (with a finding).
func ReceiveExpected(p Pack, id string, a Actor, now time.Time, txID string) (Pack, bool, Verdict) {
	var v Verdict
	switch {
	case p.State == StateInTransit && p.Transit != nil && p.Transit.Shipment == id:
		p = setState(p, StateActive, "", a, now, TxReceive, txID)
		p.Custodian, p.Transit = a.Party(), nil
		return p, true, v
	case p.State == StateActive && p.Custodian == a.Party():
		return p, false, v // already received
	case p.State == StateInactive && p.StateChangedBy == a.Party():
		return p, false, v // received implicitly and decommissioned here
	case p.State == StateInactive && p.Reason == ReasonDispensed:
		by := p.StateChangedBy
		v.refuse(CodeStatusChangeNotPossible, "pack was dispensed at %s (%s)", by.GLN, by.MSP)
		v.add(packFinding(&p, AnomalyMovementAfterDispense, CodeStatusChangeNotPossible, SeverityHigh, ClassDiversion,
			fmt.Sprintf("pack dispensed at %s (%s) is received at %s (%s) in shipment %s", by.GLN, by.MSP, a.GLN, a.MSP, id), &by))
	case p.State == StateInactive:
		v.refuse(CodeStatusChangeNotPossible, "pack is inactive (%s)", p.Reason)
		if f, ok := inactivePresented(&p, a); ok {
			v.add(f)
		}
	default:
		c := p.Custodian
		v.refuse(CodeStatusChangeNotPossible, "pack listed in shipment %s is recorded at %s (%s)", id, c.GLN, c.MSP)
		v.add(packFinding(&p, AnomalyClone, CodeStatusChangeNotPossible, SeverityHigh, ClassCounterfeit,
			fmt.Sprintf("pack listed in shipment %s and received at %s (%s) is recorded as %s at %s (%s)", id, a.GLN, a.MSP, p.State, c.GLN, c.MSP), &c))
	}
	return p, false, v
}

// UnexpectedFinding is the finding for a known pack scanned at receipt of
// shipment sh but not listed in it (ok=false: nothing to report, e.g. the
// receiver already holds it).
func UnexpectedFinding(p *Pack, sh *Shipment, a Actor) (Finding, bool) {
	switch {
	case p.State == StateInTransit && p.Transit != nil:
		to := p.Transit.To
		f := packFinding(p, AnomalyDiversion, CodeNone, SeverityHigh, ClassDiversion,
			fmt.Sprintf("pack in transit to %s (%s) in shipment %s turned up in shipment %s at %s (%s)", to.GLN, to.MSP, p.Transit.Shipment, sh.ID, a.GLN, a.MSP), &to)
		f.Shipment = sh.ID
		return f, true
	case p.State == StateActive && p.Custodian == a.Party():
		return Finding{}, false
	case p.State == StateActive && p.Custodian == sh.From:
		f := packFinding(p, AnomalyUnexpectedPack, CodeNone, SeverityMedium, ClassProcess,
			fmt.Sprintf("pack held by the shipper is not listed in shipment %s", sh.ID), &sh.From)
		f.Shipment = sh.ID
		return f, true
	case p.State == StateActive:
		c := p.Custodian
		f := packFinding(p, AnomalyClone, CodeNone, SeverityHigh, ClassCounterfeit,
			fmt.Sprintf("pack held by %s (%s) turned up in shipment %s at %s (%s)", c.GLN, c.MSP, sh.ID, a.GLN, a.MSP), &c)
		f.Shipment = sh.ID
		return f, true
	case p.Reason == ReasonDispensed:
		by := p.StateChangedBy
		f := packFinding(p, AnomalyMovementAfterDispense, CodeNone, SeverityHigh, ClassDiversion,
			fmt.Sprintf("pack dispensed at %s (%s) turned up in shipment %s at %s (%s)", by.GLN, by.MSP, sh.ID, a.GLN, a.MSP), &by)
		f.Shipment = sh.ID
		return f, true
	}
	f, ok := inactivePresented(p, a)
	f.Shipment = sh.ID
	return f, ok
}

// SetLotStatus decides and applies a lot status change: recall is the
// strongest (from any other status), withdrawal from released or
// quarantined, release only from quarantined.
func SetLotStatus(l Lot, to LotStatus, reason string, a Actor, now time.Time, txID string) (Lot, Verdict) {
	var v Verdict
	switch {
	case l.Status == to:
		v.refuse(CodeAlreadyInState, "lot %s is already %s", l.Lot, to)
	case to == LotRecalled:
	case to == LotWithdrawn && l.Status == LotRecalled:
		v.refuse(CodeStatusChangeNotPossible, "lot %s is recalled; a recall cannot become a withdrawal", l.Lot)
	case to == LotWithdrawn:
	case to == LotReleased && l.Status != LotQuarantined:
		v.refuse(CodeStatusChangeNotPossible, "lot %s is %s and cannot be released", l.Lot, l.Status)
	case to == LotReleased:
	default:
		v.refuse(CodeStatusChangeNotPossible, "lot status %s cannot be set", to)
	}
	if !v.OK() {
		return l, v
	}
	act := a
	now = now.UTC()
	l.Status, l.StatusReason, l.StatusChangedBy, l.StatusChangedAt = to, reason, &act, now
	l.UpdatedAt, l.LastTx = now, txID
	return l, v
}
