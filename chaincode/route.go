package chaincode

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pharmatrace/pharmatrace/trace"
)

// Routing of requests to a manufacturer's private collection (see
// trace/route.go and docs/confidentiality.md).

// requestArg returns the JSON request of a proposal: its argument, or, when
// the argument is empty, the transient map's trace.TransientRequest entry.
func requestArg(ctx TxCtx, arg string) (string, bool, error) {
	if arg != "" {
		return arg, false, nil
	}
	tm, err := ctx.GetStub().GetTransient()
	if err != nil {
		return "", false, fmt.Errorf("ledger: transient data: %w", err)
	}
	if b, ok := tm[trace.TransientRequest]; ok {
		return string(b), true, nil
	}
	return "", false, nil
}

// withRole returns the MSPs bound to role, sorted.
func (c *Contract) withRole(role trace.Role) []string {
	var out []string
	for _, o := range c.orgs {
		if slices.Contains(o.roles, role) {
			out = append(out, o.msp)
		}
	}
	return out
}

// manufacturers are the MSPs with a collection, sorted.
func (c *Contract) manufacturers() []string { return c.withRole(trace.RoleManufacturer) }

// regulators are the MSPs whose peers hold every collection, sorted.
func (c *Contract) regulators() []string { return c.withRole(trace.RoleRegulator) }

// holdsCollections reports whether msp's peer holds a collection.
func (c *Contract) holdsCollections(msp string) bool {
	for _, o := range c.orgs {
		if o.msp == msp {
			return slices.Contains(o.roles, trace.RoleManufacturer) || slices.Contains(o.roles, trace.RoleRegulator)
		}
	}
	return false
}

// prefixOwner returns the manufacturer MSP whose GS1 company prefixes hold
// gtin ("" : none). A registered product always lies in its owner's
// prefixes (RegisterProduct checks), so this is its owner, known without a
// read.
func (c *Contract) prefixOwner(gtin string) string {
	best, owner := "", ""
	for _, o := range c.orgs {
		if !slices.Contains(o.roles, trace.RoleManufacturer) {
			continue
		}
		if p, ok := ownsGTIN(o.prefixes, gtin); ok && len(p) > len(best) {
			best, owner = p, o.msp
		}
	}
	return owner
}

// route decides the collection of a request from its keys: the
// manufacturer whose company prefix holds each GTIN, the collection whose
// private-data hashes hold each SSCC, shipment, anomaly or request record.
// It reads configuration and private-data hashes only, so every peer
// computes the same answer.
func (t *txn) route(name string, k trace.RouteKeys) (trace.RouteResult, error) {
	colls := map[string]bool{}
	if k.Manufacturer != "" {
		if !slices.Contains(t.c.manufacturers(), k.Manufacturer) {
			return trace.RouteResult{}, trace.Invalid("manufacturer", "%s is not a manufacturer organisation of the network", k.Manufacturer)
		}
		colls[trace.Collection(k.Manufacturer)] = true
	}
	for _, g := range k.GTINs {
		if m := t.c.prefixOwner(g); m != "" {
			colls[trace.Collection(m)] = true
		}
	}
	find := func(key string, err error) error {
		if err != nil {
			return trace.Invalid("", "%v", err)
		}
		for _, m := range t.c.manufacturers() {
			h, err := t.stub.GetPrivateDataHash(trace.Collection(m), key)
			if err != nil {
				return fmt.Errorf("ledger: hash of %q in %s: %w", printable(key), trace.Collection(m), err)
			}
			if len(h) > 0 {
				colls[trace.Collection(m)] = true
			}
		}
		return nil
	}
	for _, s := range k.SSCCs {
		if err := find(ssccKey(s)); err != nil {
			return trace.RouteResult{}, err
		}
	}
	if k.Shipment != "" {
		if err := find(shipmentKey(k.Shipment)); err != nil {
			return trace.RouteResult{}, err
		}
	}
	if k.Anomaly != "" {
		if err := find(anomalyKey(k.Anomaly)); err != nil {
			return trace.RouteResult{}, err
		}
	}
	if k.RequestID != "" {
		if err := find(key(objRequest, t.actor.MSP, k.RequestID)); err != nil {
			return trace.RouteResult{}, err
		}
	}
	switch len(colls) {
	case 0:
		if name == trace.TxListAnomalies && k.Empty() {
			// Anomalies about packs live in the collections: a caller
			// whose peer holds none asks a regulator's peer.
			if t.c.holdsCollections(t.actor.MSP) {
				return trace.RouteResult{Endorsers: []string{t.actor.MSP}}, nil
			}
			return trace.RouteResult{Endorsers: t.c.regulators()}, nil
		}
		return trace.RouteResult{}, nil
	case 1:
		for coll := range colls {
			owner, _ := trace.CollectionOwner(coll)
			return trace.RouteResult{Collection: coll, Endorsers: append([]string{owner}, t.c.regulators()...)}, nil
		}
	}
	names := make([]string, 0, len(colls))
	for coll := range colls {
		owner, _ := trace.CollectionOwner(coll)
		names = append(names, owner)
	}
	slices.Sort(names)
	return trace.RouteResult{}, trace.Invalid("", "the request touches packs of %s, whose serials are kept apart: send one request per manufacturer", strings.Join(names, " and "))
}

// enter routes a decoded request: a routed request that belongs to a
// collection works there and must have come as transient data (an argument
// would put its serials in every peer's blocks).
func (t *txn) enter(req any, viaTransient bool) error {
	r, ok := req.(trace.Routed)
	if !ok {
		return nil
	}
	res, err := t.route(t.name, r.RouteKeys())
	if err != nil {
		return err
	}
	if res.Collection != "" && !viaTransient {
		return trace.Invalid("", "%s works on %s's packs: send the request as transient data (key %q) with an empty argument, endorsed by %s",
			t.name, strings.TrimPrefix(res.Collection, trace.CollectionPrefix), trace.TransientRequest, strings.Join(res.Endorsers, " and "))
	}
	t.coll = res.Collection
	return nil
}

// routeQuery answers the Route query.
func (c *Contract) routeQuery(t *txn, q *trace.RouteQuery) (any, error) {
	info, ok := trace.TxByName(q.Transaction)
	if !ok {
		return nil, trace.Invalid("transaction", "%q is not a transaction of the contract", q.Transaction)
	}
	if !info.Routed {
		return &trace.RouteResult{}, nil
	}
	res, err := t.route(q.Transaction, q.Keys)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// initCollection stores the collection's pseudonym key, once.
func (c *Contract) initCollection(t *txn, req *trace.InitCollectionRequest) (trace.Result, error) {
	if req.Manufacturer != t.actor.MSP {
		return nil, trace.Denied("%s of %s: only %s's own users may set its collection's key", t.name, req.Manufacturer, req.Manufacturer)
	}
	if _, ok, err := t.secret(); err != nil {
		return nil, err
	} else if ok {
		return nil, trace.Conflict("collection %s has its key already; it is never replaced (the pseudonyms of its packs depend on it)", t.coll)
	}
	if err := t.put(collectionKeyKey, collectionSecret{Key: req.Key}, false); err != nil {
		return nil, err
	}
	return &trace.InitCollectionResult{Outcome: trace.Accepted("collection key set"), Collection: t.coll}, nil
}
