package chaincode

import (
	"fmt"
	"slices"

	"github.com/pharmatrace/pharmatrace/trace"
)

// movable reads what trace.Movable needs for refs: the packs, their lots
// and, for unknown packs, the near-miss serials on the ledger.
func (t *txn) movable(refs []trace.PackRef, returnTo func(*trace.Pack) (bool, error)) (trace.Movable, error) {
	packs, err := t.packs(refs)
	if err != nil {
		return trace.Movable{}, err
	}
	m := trace.Movable{Refs: refs, Packs: packs, Lots: make([]*trace.Lot, len(refs)), NearMiss: make([][]string, len(refs)), ReturnTo: make([]bool, len(refs))}
	for i, p := range packs {
		if p == nil {
			if m.NearMiss[i], err = t.nearMissSerials(refs[i].GTIN, refs[i].Serial); err != nil {
				return trace.Movable{}, err
			}
			continue
		}
		if m.Lots[i], err = t.lotOf(p); err != nil {
			return trace.Movable{}, err
		}
		// Only a pack that may not move otherwise (its lot recalled,
		// withdrawn or expired) needs to know whether it goes home.
		if returnTo != nil && (m.Lots[i].Status != trace.LotReleased || trace.Expired(p.Expiry, t.local())) {
			if m.ReturnTo[i], err = returnTo(p); err != nil {
				return trace.Movable{}, err
			}
		}
	}
	return m, nil
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
	m, err := t.movable(req.Packs, nil)
	if err != nil {
		return nil, err
	}
	m.Extra = func(p *trace.Pack) *trace.PackProblem {
		if p.SSCC != "" {
			return &trace.PackProblem{Pack: p.Ref(), Code: trace.CodeStatusChangeNotPossible, Message: "pack is already in SSCC " + p.SSCC}
		}
		return nil
	}
	problems, findings := m.Check(t.actor, t.local())
	if err := t.record(trace.GroupFindings(findings)); err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return &trace.AggregateResult{Outcome: trace.RefuseMany(problems), Problems: problems}, nil
	}
	refs := slices.Clone(req.Packs)
	slices.SortFunc(refs, trace.PackRefLess)
	for _, p := range m.Packs {
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
	aggs := make([]trace.Aggregation, len(req.SSCCs))
	for i, sscc := range req.SSCCs {
		a, err := t.aggregation(sscc)
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, trace.NotFound("ssccs[%d]: SSCC %s is not aggregated", i, sscc)
		}
		aggs[i] = *a
	}
	refs, viaSSCC, err := trace.ShipScope(req, aggs)
	if err != nil {
		return nil, err
	}
	// Packs of recalled/withdrawn/expired lots may go back to the owner.
	m, err := t.movable(refs, func(p *trace.Pack) (bool, error) {
		prod, err := t.product(p.GTIN)
		if err != nil || prod == nil {
			return false, err
		}
		return prod.OwnerMSP == req.To.MSP, nil
	})
	if err != nil {
		return nil, err
	}
	plan := trace.PlanShipment(trace.ShipInput{Request: req, ID: id, Actor: t.actor, Now: t.local(), TxID: t.txID, Aggs: aggs, ViaSSCC: viaSSCC, Movable: m})
	if err := t.record(plan.Findings); err != nil {
		return nil, err
	}
	for _, p := range plan.Packs {
		if err := t.savePack(p); err != nil {
			return nil, err
		}
	}
	for _, a := range plan.Aggs {
		if err := t.saveAggregation(a); err != nil {
			return nil, err
		}
	}
	if plan.Shipment != nil {
		if err := t.saveShipment(*plan.Shipment); err != nil {
			return nil, err
		}
	}
	return &trace.ShipmentResult{Outcome: plan.Outcome, Shipment: plan.Shipment, Problems: plan.Problems}, nil
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
	aggs := make([]*trace.Aggregation, len(req.SSCCs))
	for i, sscc := range req.SSCCs {
		if aggs[i], err = t.aggregation(sscc); err != nil {
			return nil, err
		}
	}
	scanned, pending, err := trace.ReceiptScope(req, sh, aggs)
	if err != nil {
		return nil, err
	}
	packs, err := t.packs(append(slices.Clone(scanned), pending...))
	if err != nil {
		return nil, err
	}
	in := trace.ReceiptInput{Request: req, Shipment: *sh, Actor: t.actor, Now: t.local(), TxID: t.txID, Aggs: aggs,
		Scanned: scanned, Packs: packs[:len(scanned)], NearMiss: make([][]string, len(scanned)), Pending: pending, Rest: packs[len(scanned):]}
	if t.actor.MSP == sh.To.MSP && sh.Status != trace.ShipmentReceived {
		for i, p := range in.Packs {
			if p == nil {
				if in.NearMiss[i], err = t.nearMissSerials(scanned[i].GTIN, scanned[i].Serial); err != nil {
					return nil, err
				}
			}
		}
	}
	plan := trace.PlanReceipt(in)
	if err := t.record(plan.Findings); err != nil {
		return nil, err
	}
	for _, p := range plan.Packs {
		if err := t.savePack(p); err != nil {
			return nil, err
		}
	}
	if plan.Shipment != nil {
		if err := t.saveShipment(*plan.Shipment); err != nil {
			return nil, err
		}
	}
	res := plan.Result
	return &res, nil
}
