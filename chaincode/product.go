package chaincode

import (
	"fmt"
	"strings"

	"github.com/pharmatrace/pharmatrace/trace"
)

// registerProduct: a manufacturer registers a GTIN allocated under one of
// its company prefixes.
func (c *Contract) registerProduct(t *txn, req *trace.RegisterProductRequest) (trace.Result, error) {
	prefix, ok := ownsGTIN(t.gcps, req.GTIN)
	if !ok {
		return nil, trace.Denied("%s needs the company prefix of GTIN %s in the %q certificate attribute; the caller has [%s]",
			t.name, req.GTIN, trace.AttrGCP, strings.Join(t.gcps, ","))
	}
	prev, err := t.product(req.GTIN)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		return nil, trace.Conflict("product %s is already registered (by %s)", req.GTIN, prev.OwnerMSP)
	}
	p := trace.Product{
		GTIN: req.GTIN, Name: req.Name, Form: req.Form, Strength: req.Strength, PackSize: req.PackSize, NHRN: req.NHRN,
		OwnerMSP: t.actor.MSP, CompanyPrefix: prefix, CreatedAt: t.now, LastTx: t.txID,
	}
	if err := t.saveProduct(p); err != nil {
		return nil, err
	}
	return &trace.ProductResult{Outcome: trace.Accepted("product registered"), Product: &p}, nil
}

// ownedProduct loads a product the caller must own (manufacturer) or, when
// regulatorToo, may act on as the regulator.
func (t *txn) ownedProduct(gtin string, regulatorToo bool) (*trace.Product, error) {
	p, err := t.product(gtin)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, trace.NotFound("product %s is not registered", gtin)
	}
	if regulatorToo && t.actor.Role == trace.RoleRegulator {
		return p, nil
	}
	if err := t.requireOwner(p); err != nil {
		return nil, err
	}
	return p, nil
}

// newLot builds a lot record.
func (t *txn) newLot(p *trace.Product, lot, expiry string, status trace.LotStatus) (trace.Lot, error) {
	if trace.Expired(expiry, t.local()) {
		return trace.Lot{}, trace.Conflict("lot %s: expiry %s is in the past", lot, expiry)
	}
	a := t.actor
	return trace.Lot{
		GTIN: p.GTIN, Lot: lot, Expiry: expiry, Status: status, StatusChangedBy: &a, StatusChangedAt: t.now,
		OwnerMSP: p.OwnerMSP, CreatedAt: t.now, UpdatedAt: t.now, LastTx: t.txID,
	}, nil
}

func (c *Contract) registerLot(t *txn, req *trace.RegisterLotRequest) (trace.Result, error) {
	p, err := t.ownedProduct(req.GTIN, false)
	if err != nil {
		return nil, err
	}
	prev, err := t.lot(req.GTIN, req.Lot)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		return nil, trace.Conflict("lot %s of product %s is already registered", req.Lot, req.GTIN)
	}
	status := req.Status
	if status == "" {
		status = trace.LotReleased
	}
	l, err := t.newLot(p, req.Lot, req.Expiry, status)
	if err != nil {
		return nil, err
	}
	if err := t.saveLot(l); err != nil {
		return nil, err
	}
	return &trace.LotResult{Outcome: trace.Accepted("lot registered"), Lot: &l}, nil
}

// lotStatus returns the handler of RecallLot, WithdrawLot or ReleaseLot.
func (c *Contract) lotStatus(to trace.LotStatus) func(*txn, *trace.LotStatusRequest) (trace.Result, error) {
	return func(t *txn, req *trace.LotStatusRequest) (trace.Result, error) {
		if to != trace.LotReleased && req.Reason == "" {
			return nil, trace.Invalid("reason", "is empty (a %s needs a reason)", to)
		}
		if _, err := t.ownedProduct(req.GTIN, to != trace.LotReleased); err != nil {
			return nil, err
		}
		l, err := t.lot(req.GTIN, req.Lot)
		if err != nil {
			return nil, err
		}
		if l == nil {
			return nil, trace.NotFound("lot %s of product %s is not registered", req.Lot, req.GTIN)
		}
		nl, v := trace.SetLotStatus(*l, to, req.Reason, t.actor, t.now, t.txID)
		if !v.OK() {
			return &trace.LotResult{Outcome: trace.Refused(v.Code, v.Message), Lot: l}, nil
		}
		if err := t.saveLot(nl); err != nil {
			return nil, err
		}
		return &trace.LotResult{Outcome: trace.Accepted(fmt.Sprintf("lot %s", to)), Lot: &nl}, nil
	}
}

// commissionPacks creates the packs of one lot (the lot is registered on
// the fly, released, if it does not exist). One read per serial (a single
// GetMultipleStates), two writes per serial (pack and lot index).
func (c *Contract) commissionPacks(t *txn, req *trace.CommissionPacksRequest) (trace.Result, error) {
	if len(req.Serials) > c.maxCommission {
		return nil, trace.Invalid("serials", "%d serials exceed the limit of %d per transaction", len(req.Serials), c.maxCommission)
	}
	if _, err := t.ownedProduct(req.GTIN, false); err != nil {
		return nil, err
	}
	l, err := t.lot(req.GTIN, req.Lot)
	if err != nil {
		return nil, err
	}
	if l == nil {
		// Lots are public records (MAJORITY), packs private: a
		// commissioning, endorsed by the collection's members only, cannot
		// create one.
		return nil, trace.NotFound("lot %s of product %s is not registered: RegisterLot first", req.Lot, req.GTIN)
	}
	switch {
	case l.Expiry != req.Expiry:
		return nil, trace.Conflict("lot %s has expiry %s, the request says %s", l.Lot, l.Expiry, req.Expiry)
	case l.Status == trace.LotRecalled || l.Status == trace.LotWithdrawn:
		return nil, trace.Conflict("lot %s is %s", l.Lot, l.Status)
	case trace.Expired(l.Expiry, t.local()):
		return nil, trace.Conflict("lot %s expired on %s", l.Lot, l.Expiry)
	}
	if err := t.requireSecret(); err != nil {
		return nil, err
	}
	keys := make([]string, len(req.Serials))
	for i, s := range req.Serials {
		if keys[i], err = t.packKeyOrErr(req.GTIN, s); err != nil {
			return nil, trace.Invalid(fmt.Sprintf("serials[%d]", i), "%v", err)
		}
	}
	if err := t.prefetch(keys); err != nil {
		return nil, err
	}
	var dups []string
	for i, k := range keys {
		if v, err := t.raw(k); err != nil {
			return nil, err
		} else if v != nil {
			dups = append(dups, req.Serials[i])
		}
	}
	if len(dups) > 0 {
		shown := dups
		more := ""
		if len(shown) > 50 {
			shown, more = shown[:50], fmt.Sprintf(" and %d more", len(dups)-50)
		}
		return nil, trace.Conflict("%d serials already commissioned for GTIN %s: %q%s", len(dups), req.GTIN, shown, more)
	}
	custodian := t.actor.Party()
	for i, s := range req.Serials {
		pk := trace.Pack{
			GTIN: req.GTIN, Serial: s, Lot: l.Lot, Expiry: l.Expiry, State: trace.StateActive, Custodian: custodian,
			StateChangedBy: custodian, StateChangedAt: t.now, LastEvent: trace.TxCommissionPacks, LastTx: t.txID,
			CommissionedAt: t.now, UpdatedAt: t.now,
		}
		if err := t.put(keys[i], pk, false); err != nil {
			return nil, err
		}
		id, _, err := t.serialID(req.GTIN, s)
		if err != nil {
			return nil, err
		}
		ik, err := key(objPackByLot, req.GTIN, l.Lot, id)
		if err != nil {
			return nil, err
		}
		t.putRaw(ik, indexValue)
	}
	n, err := t.lotPacks(l)
	if err != nil {
		return nil, err
	}
	l.PackCount = n + len(req.Serials)
	if err := t.saveLotPacks(*l); err != nil {
		return nil, err
	}
	t.event.Commissioned = &trace.Commissioned{
		GTIN: req.GTIN, Lot: l.Lot, Expiry: l.Expiry, State: trace.StateActive, Custodian: custodian, Serials: req.Serials,
	}
	return &trace.CommissionPacksResult{
		Outcome: trace.Accepted(fmt.Sprintf("%d packs commissioned", len(req.Serials))), Lot: l, Commissioned: len(req.Serials),
	}, nil
}
