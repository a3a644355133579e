package trace

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Shipment and receipt planning: the custody rules of Aggregate, Ship and
// Receive as pure functions. The contract reads the records a plan needs
// (the scope functions say which), calls the planner, then records the
// plan's findings and writes its records; it decides nothing itself.

// PackRefLess orders pack references by GTIN, then serial.
func PackRefLess(a, b PackRef) int {
	if c := strings.Compare(a.GTIN, b.GTIN); c != 0 {
		return c
	}
	return strings.Compare(a.Serial, b.Serial)
}

// Movable is the per-pack check shared by Aggregate and Ship: every pack
// must be known (A3 otherwise, with the near misses found on the ledger)
// and movable by the actor (CheckMovable). Packs, Lots and NearMiss are
// parallel to Refs (Lots[i] is the lot of Packs[i]; NearMiss[i] the
// near-miss serials of an unknown Refs[i]).
type Movable struct {
	Refs     []PackRef
	Packs    []*Pack
	Lots     []*Lot
	NearMiss [][]string
	// ReturnTo[i] reports that pack i goes back to its product's owner
	// (packs of recalled, withdrawn or expired lots may).
	ReturnTo []bool
	// Extra is an additional per-pack check (nil: none).
	Extra func(*Pack) *PackProblem
}

// Check applies the checks: the problems (refusals) and the findings
// (anomalies to record, refusal or not).
func (m Movable) Check(a Actor, now time.Time) (problems []PackProblem, findings []Finding) {
	for i, p := range m.Packs {
		if p == nil {
			ref := m.Refs[i]
			msg := fmt.Sprintf("serial %s is unknown for product %s", ref.Serial, ref.GTIN)
			var near []string
			if i < len(m.NearMiss) {
				near = m.NearMiss[i]
			}
			f := ScanFinding(AnomalyUnknownSerial, CodeUnknownSerial, Scan{GTIN: ref.GTIN, Serial: ref.Serial}, near, Evidence{Message: msg})
			f.Pack = &ref
			problems = append(problems, PackProblem{Pack: ref, Code: CodeUnknownSerial, Message: msg})
			findings = append(findings, f)
			continue
		}
		ret := i < len(m.ReturnTo) && m.ReturnTo[i]
		v := CheckMovable(p, m.Lots[i], a, now, ret)
		findings = append(findings, v.Findings...)
		if !v.OK() {
			problems = append(problems, PackProblem{Pack: p.Ref(), Code: v.Code, Message: v.Message})
			continue
		}
		if m.Extra != nil {
			if pr := m.Extra(p); pr != nil {
				problems = append(problems, *pr)
			}
		}
	}
	return problems, findings
}

// RefuseMany is the refused outcome of a multi-pack request: the code of
// the first problem and how many packs cannot move.
func RefuseMany(problems []PackProblem) Outcome {
	first := problems[0]
	return Refused(first.Code, fmt.Sprintf("%d of the packs cannot move; first: %s/%s: %s", len(problems), first.Pack.GTIN, first.Pack.Serial, first.Message))
}

// ShipScope expands a shipment request: the loose packs then the contents
// of its SSCCs (aggs parallel to req.SSCCs, all known). A pack listed loose
// and inside a listed SSCC is an invalid request; so is a shipment over
// MaxShipmentPacks.
func ShipScope(req *ShipRequest, aggs []Aggregation) (refs []PackRef, viaSSCC map[PackRef]string, err error) {
	refs = slices.Clone(req.Packs)
	viaSSCC = map[PackRef]string{}
	for i, a := range aggs {
		for _, r := range a.Packs {
			viaSSCC[r] = req.SSCCs[i]
			refs = append(refs, r)
		}
	}
	for i, r := range req.Packs {
		if s, ok := viaSSCC[r]; ok {
			return nil, nil, Invalid(fmt.Sprintf("packs[%d]", i), "%s/%s is also in SSCC %s", r.GTIN, r.Serial, s)
		}
	}
	if len(refs) > MaxShipmentPacks {
		return nil, nil, Invalid("packs", "%d packs (SSCC contents included) exceed the limit of %d per shipment", len(refs), MaxShipmentPacks)
	}
	return refs, viaSSCC, nil
}

// ShipPlan is what a shipment does.
type ShipPlan struct {
	Outcome  Outcome
	Problems []PackProblem
	Findings []Finding     // to record as anomalies (grouped), accepted or not
	Packs    []Pack        // new versions (accepted only)
	Aggs     []Aggregation // new versions of the shipped SSCCs (accepted only)
	Shipment *Shipment     // the new shipment (accepted only)
}

// ShipInput is what PlanShipment decides from.
type ShipInput struct {
	Request *ShipRequest
	ID      string // the shipment ID (the request's, or one derived from the transaction)
	Actor   Actor
	Now     time.Time
	TxID    string
	Aggs    []Aggregation      // the request's SSCCs, parallel to Request.SSCCs
	ViaSSCC map[PackRef]string // from ShipScope
	Movable Movable            // the packs of ShipScope's refs, their lots, near misses, returns
}

// PlanShipment decides a shipment, all or nothing: one pack that cannot
// move refuses the request. A pack shipped loose leaves its case; a pack
// that left its case can no longer ship through the SSCC.
func PlanShipment(in ShipInput) ShipPlan {
	m := in.Movable
	m.Extra = func(p *Pack) *PackProblem {
		if s, ok := in.ViaSSCC[p.Ref()]; ok && p.SSCC != s {
			return &PackProblem{Pack: p.Ref(), Code: CodeStatusChangeNotPossible,
				Message: fmt.Sprintf("pack is no longer in SSCC %s (case broken): ship it loose", s)}
		}
		return nil
	}
	problems, findings := m.Check(in.Actor, in.Now)
	plan := ShipPlan{Problems: problems, Findings: GroupFindings(findings)}
	if len(problems) > 0 {
		plan.Outcome = RefuseMany(problems)
		return plan
	}
	now := in.Now.UTC()
	transit := Transit{Shipment: in.ID, From: in.Actor.Party(), To: in.Request.To}
	for _, p := range m.Packs {
		_, inCase := in.ViaSSCC[p.Ref()]
		plan.Packs = append(plan.Packs, Ship(*p, transit, inCase, in.Actor, now, in.TxID))
	}
	for _, a := range in.Aggs {
		a.Shipment, a.UpdatedAt, a.LastTx = in.ID, now, in.TxID
		plan.Aggs = append(plan.Aggs, a)
	}
	refs := slices.Clone(m.Refs)
	slices.SortFunc(refs, PackRefLess)
	ssccs := slices.Clone(in.Request.SSCCs)
	slices.Sort(ssccs)
	plan.Shipment = &Shipment{ID: in.ID, From: in.Actor.Party(), To: in.Request.To, SSCCs: ssccs, Packs: refs, Status: ShipmentInTransit,
		ShippedAt: now, UpdatedAt: now, LastTx: in.TxID}
	plan.Outcome = Accepted(fmt.Sprintf("%d packs shipped in %s", len(refs), in.ID))
	return plan
}

// ReceiptScope lists the packs a receipt concerns: those scanned (loose,
// then the contents of the scanned SSCCs, without repeats; aggs parallel to
// req.SSCCs, nil for an unknown SSCC) and those listed in the shipment and
// not yet received (a receipt decides about them too: shortage or
// implicit receipt). The contract reads the packs of both lists.
func ReceiptScope(req *ReceiveRequest, sh *Shipment, aggs []*Aggregation) (scanned, pending []PackRef, err error) {
	scanned = slices.Clone(req.Packs)
	seen := map[PackRef]bool{}
	for _, r := range scanned {
		seen[r] = true
	}
	for _, a := range aggs {
		if a == nil {
			continue
		}
		for _, r := range a.Packs {
			if !seen[r] {
				seen[r] = true
				scanned = append(scanned, r)
			}
		}
	}
	if len(scanned) > MaxShipmentPacks {
		return nil, nil, Invalid("packs", "%d scanned packs (SSCC contents included) exceed the limit of %d", len(scanned), MaxShipmentPacks)
	}
	received := map[PackRef]bool{}
	for _, r := range sh.Received {
		received[r] = true
	}
	for _, r := range sh.Packs {
		if !received[r] && !seen[r] {
			pending = append(pending, r)
		}
	}
	return scanned, pending, nil
}

// ReceiptInput is what PlanReceipt decides from.
type ReceiptInput struct {
	Request  *ReceiveRequest
	Shipment Shipment
	Actor    Actor
	Now      time.Time
	TxID     string
	Aggs     []*Aggregation // parallel to Request.SSCCs; nil: unknown SSCC
	Scanned  []PackRef      // from ReceiptScope
	Packs    []*Pack        // parallel to Scanned; nil: unknown pack
	NearMiss [][]string     // parallel to Scanned: near misses of unknown packs
	Pending  []PackRef      // from ReceiptScope
	Rest     []*Pack        // parallel to Pending
}

// ReceiptPlan is what a receipt does.
type ReceiptPlan struct {
	Result   ReceiveResult // the result, without the anomaly IDs
	Findings []Finding     // to record as anomalies (grouped)
	Packs    []Pack        // changed packs
	Shipment *Shipment     // the new version of the shipment (nil: unchanged)
}

// PlanReceipt decides the receipt of a shipment at the actor's site (the
// rules of trace/doc.go "Receipt"): another organisation is refused (A24,
// critical diversion) and moves nothing; a second receipt is A7; another
// site of the addressee organisation receives with a diversion finding;
// scanned packs listed in the shipment move to the actor; scanned packs
// not listed, unknown packs and unknown SSCCs are reported and do not move;
// listed packs not scanned are received implicitly when the actor already
// holds them (dispensed from the box before the receipt was recorded), the
// others are missing (SHORTAGE).
func PlanReceipt(in ReceiptInput) ReceiptPlan {
	sh, a := in.Shipment, in.Actor
	here, to := a.Party(), sh.To
	now := in.Now.UTC()
	var plan ReceiptPlan
	res := &plan.Result
	diversion := func(sev Severity, msg string) Finding {
		return Finding{Code: AnomalyDiversion, Alert: CodeNone, Severity: sev, Classification: ClassDiversion,
			Shipment: sh.ID, Evidence: Evidence{Message: msg, Counterpart: &to, Expected: to.GLN, Found: a.GLN}}
	}
	if a.MSP != to.MSP {
		msg := fmt.Sprintf("shipment %s to %s (%s) is presented for receipt at %s (%s)", sh.ID, to.GLN, to.MSP, a.GLN, a.MSP)
		f := diversion(SeverityCritical, msg)
		f.Alert = CodeStatusChangeNotPossible
		plan.Findings = []Finding{f}
		res.Outcome = Refused(CodeStatusChangeNotPossible, "receipt refused: "+msg)
		return plan
	}
	if sh.Status == ShipmentReceived {
		msg := fmt.Sprintf("shipment %s was already received", sh.ID)
		plan.Findings = []Finding{{Code: AnomalyAlreadyInState, Alert: CodeAlreadyInState, Severity: SeverityLow,
			Classification: ClassProcess, Shipment: sh.ID, Evidence: Evidence{Message: msg}}}
		shc := sh
		res.Outcome, res.Shipment = Refused(CodeAlreadyInState, msg), &shc
		return plan
	}
	var findings []Finding
	if here != to {
		findings = append(findings, diversion(SeverityHigh, fmt.Sprintf("shipment %s to %s is received at %s", sh.ID, to.GLN, a.GLN)))
		sh.Diverted = true
	}
	for i, agg := range in.Aggs {
		if agg == nil {
			s := in.Request.SSCCs[i]
			findings = append(findings, Finding{Code: AnomalyUnexpectedPack, Severity: SeverityMedium, Classification: ClassProcess, Shipment: sh.ID,
				Evidence: Evidence{Message: fmt.Sprintf("ssccs[%d]: SSCC %s is unknown", i, s), Found: s}})
			res.Problems = append(res.Problems, PackProblem{Code: CodeStatusChangeNotPossible, Message: "unknown SSCC " + s})
		}
	}
	listed := map[PackRef]bool{}
	for _, r := range sh.Packs {
		listed[r] = true
	}
	received := map[PackRef]bool{}
	for _, r := range sh.Received {
		received[r] = true
	}
	sh.Received = slices.Clone(sh.Received)
	for i, r := range in.Scanned {
		p := in.Packs[i]
		switch {
		case received[r]:
			continue // scanned twice across receipts: nothing to do
		case p == nil:
			msg := fmt.Sprintf("serial %s is unknown for product %s (received in shipment %s)", r.Serial, r.GTIN, sh.ID)
			ref := r
			var near []string
			if i < len(in.NearMiss) {
				near = in.NearMiss[i]
			}
			f := ScanFinding(AnomalyUnknownSerial, CodeUnknownSerial, Scan{GTIN: r.GTIN, Serial: r.Serial, Warnings: in.Request.Warnings}, near, Evidence{Message: msg})
			f.Pack, f.Shipment = &ref, sh.ID
			findings = append(findings, f)
			res.Unexpected = append(res.Unexpected, r)
		case !listed[r]:
			if f, ok := UnexpectedFinding(p, &sh, a); ok {
				findings = append(findings, f)
			}
			res.Unexpected = append(res.Unexpected, r)
		default:
			np, changed, v := ReceiveExpected(*p, sh.ID, a, now, in.TxID)
			findings = append(findings, v.Findings...)
			if !v.OK() {
				res.Problems = append(res.Problems, PackProblem{Pack: r, Code: v.Code, Message: v.Message})
				continue
			}
			if changed {
				plan.Packs = append(plan.Packs, np)
			}
			received[r] = true
			sh.Received = append(sh.Received, r)
			res.Received++
		}
	}
	for i, r := range in.Pending {
		if received[r] {
			continue
		}
		if p := in.Rest[i]; p != nil && p.Transit == nil && p.Custodian == here {
			received[r] = true
			sh.Received = append(sh.Received, r)
			continue
		}
		res.Missing = append(res.Missing, r)
	}
	if len(res.Missing) > 0 {
		findings = append(findings, Finding{Code: AnomalyShortage, Severity: SeverityMedium, Classification: ClassDiversion,
			Shipment: sh.ID, Evidence: Evidence{
				Message: fmt.Sprintf("%d of %d packs of shipment %s were not received", len(res.Missing), len(sh.Packs), sh.ID),
				Packs:   res.Missing[:min(len(res.Missing), MaxEvidencePacks)], PackCount: len(res.Missing), Counterpart: &sh.From,
			}})
	}
	plan.Findings = GroupFindings(findings)
	slices.SortFunc(sh.Received, PackRefLess)
	sh.Status = ShipmentReceived
	if len(res.Missing) > 0 {
		sh.Status = ShipmentPartiallyReceived
	}
	if !slices.Contains(sh.ReceivedAt, here) {
		sh.ReceivedAt = append(slices.Clone(sh.ReceivedAt), here)
	}
	sh.Shortage, sh.Unexpected = len(res.Missing), sh.Unexpected+len(res.Unexpected)
	sh.UpdatedAt, sh.LastTx = now, in.TxID
	plan.Shipment = &sh
	res.Shipment = &sh
	res.Outcome = Accepted(fmt.Sprintf("%d packs received; %d missing; %d unexpected", res.Received, len(res.Missing), len(res.Unexpected)))
	return plan
}
