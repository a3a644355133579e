package chaincode

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pharmatrace/pharmatrace/trace"
)

func refLess(a, b trace.PackRef) int {
	if c := strings.Compare(a.GTIN, b.GTIN); c != 0 {
		return c
	}
	return strings.Compare(a.Serial, b.Serial)
}

// movable is the per-pack check shared by Aggregate and Ship: unknown packs
// (A3, with near-miss lookups) and trace.CheckMovable.
type movable struct {
	packs    []*trace.Pack
	problems []trace.PackProblem
	findings []trace.Finding
}

func (t *txn) checkMovable(refs []trace.PackRef, returnTo func(*trace.Pack) (bool, error), extra func(*trace.Pack) *trace.PackProblem) (*movable, error) {
	packs, err := t.packs(refs)
	if err != nil {
		return nil, err
	}
	m := &movable{packs: packs}
	for i, p := range packs {
		if p == nil {
			near, err := t.nearMissSerials(refs[i].GTIN, refs[i].Serial)
			if err != nil {
				return nil, err
			}
			msg := fmt.Sprintf("serial %s is unknown for product %s", refs[i].Serial, refs[i].GTIN)
			ref := refs[i]
			f := trace.ScanFinding(trace.AnomalyUnknownSerial, trace.CodeUnknownSerial, trace.Scan{GTIN: ref.GTIN, Serial: ref.Serial}, near, trace.Evidence{Message: msg})
			f.Pack = &ref
			m.problems = append(m.problems, trace.PackProblem{Pack: ref, Code: trace.CodeUnknownSerial, Message: msg})
			m.findings = append(m.findings, f)
			continue
		}
		l, err := t.lotOf(p)
		if err != nil {
			return nil, err
		}
		ret := false
		if returnTo != nil {
			if ret, err = returnTo(p); err != nil {
				return nil, err
			}
		}
		v := trace.CheckMovable(p, l, t.actor, t.local(), ret)
		m.findings = append(m.findings, v.Findings...)
		if !v.OK() {
			m.problems = append(m.problems, trace.PackProblem{Pack: p.Ref(), Code: v.Code, Message: v.Message})
			continue
		}
		if extra != nil {
			if pr := extra(p); pr != nil {
				m.problems = append(m.problems, *pr)
			}
		}
	}
	return m, nil
}

// refuseMany builds the refused outcome of a multi-pack request: the code of
// the first problem, all findings grouped into anomalies.
func (t *txn) refuseMany(problems []trace.PackProblem, findings []trace.Finding) (trace.Outcome, error) {
	if err := t.record(trace.GroupFindings(findings)); err != nil {
		return trace.Outcome{}, err
	}
	first := problems[0]
	return trace.Refused(first.Code, fmt.Sprintf("%d of the packs cannot move; first: %s/%s: %s", len(problems), first.Pack.GTIN, first.Pack.Serial, first.Message)), nil
}

// aggregate packs loose packs the caller holds into a new SSCC (an SSCC is
// never reused, as GS1 requires).
func (c *Contract) aggregate(t *txn, req *trace.AggregateRequest) (trace.Result, error) {
	prev, err := t.aggregation(req.SSCC)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		return nil, trace.Conflict("SSCC %s is already in use (created by %s)", req.SSCC, prev.CreatedBy.GLN)
	}
	m, err := t.checkMovable(req.Packs, nil, func(p *trace.Pack) *trace.PackProblem {
		if p.SSCC != "" {
			return &trace.PackProblem{Pack: p.Ref(), Code: trace.CodeStatusChangeNotPossible, Message: "pack is already in SSCC " + p.SSCC}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(m.problems) > 0 {
		out, err := t.refuseMany(m.problems, m.findings)
		return &trace.AggregateResult{Outcome: out, Problems: m.problems}, err
	}
	if err := t.record(trace.GroupFindings(m.findings)); err != nil {
		return nil, err
	}
	refs := slices.Clone(req.Packs)
	slices.SortFunc(refs, refLess)
	for _, p := range m.packs {
		np := *p
		np.SSCC, np.LastEvent, np.LastTx, np.UpdatedAt = req.SSCC, trace.TxAggregate, t.txID, t.now
		if err := t.savePack(np); err != nil {
			return nil, err
		}
	}
	agg := trace.Aggregation{SSCC: req.SSCC, Packs: refs, CreatedBy: t.actor.Party(), CreatedAt: t.now, UpdatedAt: t.now, LastTx: t.txID}
	if err := t.saveAggregation(agg); err != nil {
		return nil, err
	}
	return &trace.AggregateResult{Outcome: trace.Accepted(fmt.Sprintf("%d packs aggregated into %s", len(refs), req.SSCC)), Aggregation: &agg}, nil
}

// knownOrg reports whether msp is a configured organisation.
func (c *Contract) knownOrg(msp string) bool {
	for _, o := range c.orgs {
		if o.msp == msp {
			return true
		}
	}
	return false
}

// ship moves packs (loose and in SSCCs) the caller holds into transit to
// another party, all or nothing.
func (c *Contract) ship(t *txn, req *trace.ShipRequest) (trace.Result, error) {
	if !c.knownOrg(req.To.MSP) {
		return nil, trace.Invalid("to.msp", "%q is not a PharmaTrace organisation", req.To.MSP)
	}
	if req.To == t.actor.Party() {
		return nil, trace.Invalid("to", "a shipment must leave the caller's site")
	}
	id := req.ShipmentID
	if id == "" {
		id = "S-" + t.txID
		if len(id) > 34 {
			id = id[:34]
		}
	}
	if prev, err := t.shipment(id); err != nil {
		return nil, err
	} else if prev != nil {
		return nil, trace.Conflict("shipment %s already exists", id)
	}
	// Expand SSCCs; a pack listed loose and in a listed SSCC is an error.
	refs := slices.Clone(req.Packs)
	viaSSCC := map[trace.PackRef]string{}
	var aggs []trace.Aggregation
	for i, s := range req.SSCCs {
		a, err := t.aggregation(s)
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, trace.NotFound("ssccs[%d]: SSCC %s is not aggregated", i, s)
		}
		aggs = append(aggs, *a)
		for _, r := range a.Packs {
			viaSSCC[r] = s
			refs = append(refs, r)
		}
	}
	for i, r := range req.Packs {
		if s, ok := viaSSCC[r]; ok {
			return nil, trace.Invalid(fmt.Sprintf("packs[%d]", i), "%s/%s is also in SSCC %s", r.GTIN, r.Serial, s)
		}
	}
	if len(refs) > trace.MaxShipmentPacks {
		return nil, trace.Invalid("packs", "%d packs (SSCC contents included) exceed the limit of %d per shipment", len(refs), trace.MaxShipmentPacks)
	}
	// Packs of recalled/withdrawn/expired lots may go back to the owner.
	returnTo := func(p *trace.Pack) (bool, error) {
		prod, err := t.product(p.GTIN)
		if err != nil || prod == nil {
			return false, err
		}
		return prod.OwnerMSP == req.To.MSP, nil
	}
	m, err := t.checkMovable(refs, returnTo, func(p *trace.Pack) *trace.PackProblem {
		if s, ok := viaSSCC[p.Ref()]; ok && p.SSCC != s {
			return &trace.PackProblem{Pack: p.Ref(), Code: trace.CodeStatusChangeNotPossible,
				Message: fmt.Sprintf("pack is no longer in SSCC %s (case broken): ship it loose", s)}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(m.problems) > 0 {
		out, err := t.refuseMany(m.problems, m.findings)
		return &trace.ShipmentResult{Outcome: out, Problems: m.problems}, err
	}
	if err := t.record(trace.GroupFindings(m.findings)); err != nil {
		return nil, err
	}
	transit := trace.Transit{Shipment: id, From: t.actor.Party(), To: req.To}
	for _, p := range m.packs {
		_, inCase := viaSSCC[p.Ref()]
		if err := t.savePack(trace.Ship(*p, transit, inCase, t.actor, t.now, t.txID)); err != nil {
			return nil, err
		}
	}
	for _, a := range aggs {
		a.Shipment, a.UpdatedAt, a.LastTx = id, t.now, t.txID
		if err := t.saveAggregation(a); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(refs, refLess)
	ssccs := slices.Clone(req.SSCCs)
	slices.Sort(ssccs)
	sh := trace.Shipment{ID: id, From: t.actor.Party(), To: req.To, SSCCs: ssccs, Packs: refs, Status: trace.ShipmentInTransit,
		ShippedAt: t.now, UpdatedAt: t.now, LastTx: t.txID}
	if err := t.saveShipment(sh); err != nil {
		return nil, err
	}
	return &trace.ShipmentResult{Outcome: trace.Accepted(fmt.Sprintf("%d packs shipped in %s", len(refs), id)), Shipment: &sh}, nil
}

// receive records the receipt of a shipment at the caller's site.
func (c *Contract) receive(t *txn, req *trace.ReceiveRequest) (trace.Result, error) {
	sh, err := t.shipment(req.ShipmentID)
	if err != nil {
		return nil, err
	}
	if sh == nil {
		return nil, trace.NotFound("shipment %s does not exist", req.ShipmentID)
	}
	here := t.actor.Party()
	to := sh.To
	res := &trace.ReceiveResult{}
	var findings []trace.Finding
	diversion := func(sev trace.Severity, msg string) trace.Finding {
		return trace.Finding{Code: trace.AnomalyDiversion, Alert: trace.CodeNone, Severity: sev, Classification: trace.ClassDiversion,
			Shipment: sh.ID, Evidence: trace.Evidence{Message: msg, Counterpart: &to, Expected: to.GLN, Found: t.actor.GLN}}
	}
	if t.actor.MSP != to.MSP {
		msg := fmt.Sprintf("shipment %s to %s (%s) is presented for receipt at %s (%s)", sh.ID, to.GLN, to.MSP, t.actor.GLN, t.actor.MSP)
		f := diversion(trace.SeverityCritical, msg)
		f.Alert = trace.CodeStatusChangeNotPossible
		if err := t.record([]trace.Finding{f}); err != nil {
			return nil, err
		}
		res.Outcome = trace.Refused(trace.CodeStatusChangeNotPossible, "receipt refused: "+msg)
		return res, nil
	}
	if sh.Status == trace.ShipmentReceived {
		msg := fmt.Sprintf("shipment %s was already received", sh.ID)
		f := trace.Finding{Code: trace.AnomalyAlreadyInState, Alert: trace.CodeAlreadyInState, Severity: trace.SeverityLow,
			Classification: trace.ClassProcess, Shipment: sh.ID, Evidence: trace.Evidence{Message: msg}}
		if err := t.record([]trace.Finding{f}); err != nil {
			return nil, err
		}
		res.Outcome, res.Shipment = trace.Refused(trace.CodeAlreadyInState, msg), sh
		return res, nil
	}
	if here != to {
		findings = append(findings, diversion(trace.SeverityHigh,
			fmt.Sprintf("shipment %s to %s is received at %s", sh.ID, to.GLN, t.actor.GLN)))
		sh.Diverted = true
	}
	// What was scanned: loose packs plus the contents of scanned SSCCs.
	scanned := slices.Clone(req.Packs)
	seen := map[trace.PackRef]bool{}
	for _, r := range scanned {
		seen[r] = true
	}
	for i, s := range req.SSCCs {
		a, err := t.aggregation(s)
		if err != nil {
			return nil, err
		}
		if a == nil {
			findings = append(findings, trace.Finding{Code: trace.AnomalyUnexpectedPack, Severity: trace.SeverityMedium,
				Classification: trace.ClassProcess, Shipment: sh.ID,
				Evidence: trace.Evidence{Message: fmt.Sprintf("ssccs[%d]: SSCC %s is unknown", i, s), Found: s}})
			res.Problems = append(res.Problems, trace.PackProblem{Code: trace.CodeStatusChangeNotPossible, Message: "unknown SSCC " + s})
			continue
		}
		for _, r := range a.Packs {
			if !seen[r] {
				seen[r] = true
				scanned = append(scanned, r)
			}
		}
	}
	if len(scanned) > trace.MaxShipmentPacks {
		return nil, trace.Invalid("packs", "%d scanned packs (SSCC contents included) exceed the limit of %d", len(scanned), trace.MaxShipmentPacks)
	}
	listed := map[trace.PackRef]bool{}
	for _, r := range sh.Packs {
		listed[r] = true
	}
	received := map[trace.PackRef]bool{}
	for _, r := range sh.Received {
		received[r] = true
	}
	packs, err := t.packs(scanned)
	if err != nil {
		return nil, err
	}
	n := 0
	for i, r := range scanned {
		p := packs[i]
		switch {
		case received[r]:
			continue // scanned twice across receipts: nothing to do
		case p == nil:
			near, err := t.nearMissSerials(r.GTIN, r.Serial)
			if err != nil {
				return nil, err
			}
			msg := fmt.Sprintf("serial %s is unknown for product %s (received in shipment %s)", r.Serial, r.GTIN, sh.ID)
			ref := r
			f := trace.ScanFinding(trace.AnomalyUnknownSerial, trace.CodeUnknownSerial,
				trace.Scan{GTIN: r.GTIN, Serial: r.Serial, Warnings: req.Warnings}, near, trace.Evidence{Message: msg})
			f.Pack, f.Shipment = &ref, sh.ID
			findings = append(findings, f)
			res.Unexpected = append(res.Unexpected, r)
		case !listed[r]:
			if f, ok := trace.UnexpectedFinding(p, sh, t.actor); ok {
				findings = append(findings, f)
			}
			res.Unexpected = append(res.Unexpected, r)
		default:
			np, changed, v := trace.ReceiveExpected(*p, sh.ID, t.actor, t.local(), t.txID)
			findings = append(findings, v.Findings...)
			if !v.OK() {
				res.Problems = append(res.Problems, trace.PackProblem{Pack: r, Code: v.Code, Message: v.Message})
				continue
			}
			if changed {
				if err := t.savePack(np); err != nil {
					return nil, err
				}
			}
			received[r] = true
			sh.Received = append(sh.Received, r)
			n++
		}
	}
	// Listed packs not scanned: those already at this site (received
	// implicitly by a pharmacy that dispensed them from the box) count as
	// received; the others are missing.
	var unscanned []trace.PackRef
	for _, r := range sh.Packs {
		if !received[r] {
			unscanned = append(unscanned, r)
		}
	}
	rest, err := t.packs(unscanned)
	if err != nil {
		return nil, err
	}
	for i, r := range unscanned {
		if p := rest[i]; p != nil && p.Transit == nil && p.Custodian == here {
			received[r] = true
			sh.Received = append(sh.Received, r)
			continue
		}
		res.Missing = append(res.Missing, r)
	}
	if len(res.Missing) > 0 {
		f := trace.Finding{Code: trace.AnomalyShortage, Severity: trace.SeverityMedium, Classification: trace.ClassDiversion,
			Shipment: sh.ID, Evidence: trace.Evidence{
				Message: fmt.Sprintf("%d of %d packs of shipment %s were not received", len(res.Missing), len(sh.Packs), sh.ID),
				Packs:   res.Missing[:min(len(res.Missing), trace.MaxEvidencePacks)], PackCount: len(res.Missing), Counterpart: &sh.From,
			}}
		findings = append(findings, f)
	}
	if err := t.record(trace.GroupFindings(findings)); err != nil {
		return nil, err
	}
	slices.SortFunc(sh.Received, refLess)
	sh.Status = trace.ShipmentReceived
	if len(res.Missing) > 0 {
		sh.Status = trace.ShipmentPartiallyReceived
	}
	if !slices.Contains(sh.ReceivedAt, here) {
		sh.ReceivedAt = append(sh.ReceivedAt, here)
	}
	sh.Shortage, sh.Unexpected = len(res.Missing), sh.Unexpected+len(res.Unexpected)
	sh.UpdatedAt, sh.LastTx = t.now, t.txID
	if err := t.saveShipment(*sh); err != nil {
		return nil, err
	}
	res.Shipment, res.Received = sh, n
	res.Outcome = trace.Accepted(fmt.Sprintf("%d packs received; %d missing; %d unexpected", n, len(res.Missing), len(res.Unexpected)))
	return res, nil
}
