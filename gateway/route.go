package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/trace"
)

// Routed requests (trace/route.go, docs/confidentiality.md). A transaction
// whose request implements trace.Routed may touch a manufacturer's private
// data collection. Before sending one, the client asks the contract's Route
// query, on a peer of its own organisation (the route decides who sees the
// request, so only the client's own organisation is trusted to answer it),
// where the request goes. A public route: the request is sent as every
// other one (the JSON request as the one argument). A private route: the
// JSON request travels in the proposal's transient map under
// trace.TransientRequest, the argument is the empty string, and only the
// route's Endorsers endorse (submit) or answer (evaluate) it.
//
// The transient map never reaches the orderer or the blocks: the peer's
// gateway builds the transaction it returns for signing from the proposal
// payload without it (Fabric v2.5 internal/pkg/gateway/submit.go,
// prepareTransaction: ChaincodeProposalPayload{Input, TransientMap: nil}),
// and fabric-gateway's client signs and submits those bytes as they are
// (client.Transaction.Bytes/Digest over the PreparedTransaction envelope).
// The transaction and request IDs are those of any other submit: the
// request ID is inside the JSON request, the transaction ID is the
// proposal's.

// invocation is one proposal as an endpoint sends it: the chaincode
// function, its one argument, the transient data (nil unless routed to a
// collection) and the organisations that must endorse (submit) or may
// answer (evaluate) it (nil: the peer's gateway chooses).
type invocation struct {
	Fn        string
	Arg       []byte
	Transient map[string][]byte
	Orgs      []string
	// Collection is the collection of a private route, for logs.
	Collection string
}

// private reports whether the invocation carries its request as transient
// data.
func (inv invocation) private() bool { return inv.Transient != nil }

// routeCacheSize bounds the route cache.
const routeCacheSize = 4096

// routeCache holds private routes of GTIN-only requests (see
// routeCacheKey). Full, it drops an arbitrary entry for a new one.
type routeCache struct {
	mu sync.Mutex
	m  map[string]trace.RouteResult
}

func (rc *routeCache) get(key string) (trace.RouteResult, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r, ok := rc.m[key]
	return r, ok
}

func (rc *routeCache) put(key string, r trace.RouteResult) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.m == nil {
		rc.m = make(map[string]trace.RouteResult)
	}
	if _, ok := rc.m[key]; !ok && len(rc.m) >= routeCacheSize {
		for k := range rc.m {
			delete(rc.m, k)
			break
		}
	}
	rc.m[key] = r
}

func (rc *routeCache) forget(key string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	delete(rc.m, key)
}

func (rc *routeCache) len() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.m)
}

// routeCacheKey is the cache key of the route of transaction name with
// keys: the name and the sorted, distinct GTINs. It is "" (not cached)
// unless the keys name GTINs and nothing else: the owner of a GTIN never
// changes, whereas the collection of an SSCC, shipment, anomaly or request
// record depends on what the ledger holds now.
func routeCacheKey(name string, k trace.RouteKeys) string {
	if len(k.GTINs) == 0 || len(k.SSCCs) > 0 || k.Shipment != "" || k.Anomaly != "" || k.RequestID != "" {
		return ""
	}
	gtins := slices.Compact(slices.Sorted(slices.Values(k.GTINs)))
	return name + "\x00" + strings.Join(gtins, "\x00")
}

// txName is the transaction name of chaincode function fn (which may be
// qualified by the contract name, "pharmatrace:Dispense").
func txName(fn string) string { return strings.TrimPrefix(fn, trace.ContractName+":") }

// routeKeysOf returns the route keys of a request of routed transaction
// name: req's own when it is a trace.Routed, else those of arg decoded as
// the transaction's request type.
func routeKeysOf(name string, req any, arg []byte) (trace.RouteKeys, error) {
	if r, ok := req.(trace.Routed); ok {
		return r.RouteKeys(), nil
	}
	info, ok := trace.TxByName(name)
	if !ok {
		return trace.RouteKeys{}, fmt.Errorf("no request type known for %s", name)
	}
	v := info.NewRequest()
	if err := json.Unmarshal(arg, v); err != nil {
		return trace.RouteKeys{}, fmt.Errorf("decode the %s request: %w", name, err)
	}
	r, ok := v.(trace.Routed)
	if !ok {
		return trace.RouteKeys{}, fmt.Errorf("%T is not routed", v)
	}
	return r.RouteKeys(), nil
}

// ownOrgs is the client's own organisation as an endorsing-organisations
// list (nil when the client's MSP is not known: the peer's gateway then
// evaluates on its own organisation's peers first).
func (c *Client) ownOrgs() []string {
	if c.mspID == "" {
		return nil
	}
	return []string{c.mspID}
}

// invocation returns what to send for a call of fn with the encoded
// request arg (req, the request itself, may be nil). A transaction that is
// not routed is sent as it always was. A routed one is sent as its route
// says (see the top of this file); cacheKey names the cache entry the
// route came from or went into ("" if none), to be forgotten if the call
// fails.
func (c *Client) invocation(ctx context.Context, fn, requestID string, req any, arg []byte, co *callOptions) (inv invocation, cacheKey string, err error) {
	inv = invocation{Fn: fn, Arg: arg, Orgs: co.orgs}
	name := txName(fn)
	info, _ := trace.TxByName(name)
	if !info.Routed {
		return inv, "", nil
	}
	keys, err := routeKeysOf(name, req, arg)
	if err != nil {
		return inv, "", &Error{Kind: KindInvalid, Op: "route", Fn: fn, RequestID: requestID, Msg: err.Error(), Reason: reasonOf(KindInvalid, err.Error()), Err: err}
	}
	rt, cacheKey, rerr := c.route(ctx, name, keys, co)
	if rerr != nil {
		// The route query's failure, as a failure of this call (nothing
		// was sent): same kind and reason, the route query's error inside.
		e := *rerr
		e.Op, e.Fn, e.RequestID = "route", fn, requestID
		e.Err = rerr
		return inv, "", &e
	}
	if !rt.Private() {
		return inv, cacheKey, nil
	}
	orgs := rt.Endorsers
	if co.orgsSet {
		// The caller may narrow the route's endorsers (to query one
		// organisation's peer), never widen them: the request must reach
		// only the collection's members.
		for _, o := range co.orgs {
			if !slices.Contains(rt.Endorsers, o) {
				msg := fmt.Sprintf("WithEndorsingOrgs names %s, which is not an endorser of the route (%s: %v)", o, rt.Collection, rt.Endorsers)
				return inv, cacheKey, &Error{Kind: KindInvalid, Op: "route", Fn: fn, RequestID: requestID, Msg: msg, Reason: reasonOf(KindInvalid, msg)}
			}
		}
		orgs = co.orgs
	}
	// With no endorsers named the peer's gateway sends transient data
	// only to the collections' members itself (Fabric v2.5
	// internal/pkg/gateway/endorse.go planFromFirstEndorser, evaluate.go:
	// its own organisation only).
	tm := map[string][]byte{trace.TransientRequest: arg}
	if !info.Query {
		// A write's result is in every peer's blocks: the contract seals
		// it under a key only this call knows (trace/seal.go).
		key := make([]byte, trace.ResultKeySize)
		if _, err := rand.Read(key); err != nil {
			return inv, cacheKey, &Error{Kind: KindInternal, Op: "route", Fn: fn, RequestID: requestID, Msg: "no randomness for the result key", Err: err}
		}
		tm[trace.TransientResultKey] = key
	}
	return invocation{Fn: fn, Arg: []byte{}, Transient: tm, Orgs: orgs, Collection: rt.Collection}, cacheKey, nil
}

// openResult opens a sealed result of a routed write with the key its
// invocation sent; any other result is returned as it is.
func openResult(inv invocation, txID string, result []byte) ([]byte, error) {
	key := inv.Transient[trace.TransientResultKey]
	if key == nil || !trace.IsSealed(result) {
		return result, nil
	}
	return trace.OpenResult(key, txID, result)
}

// route returns the route of a request of transaction name with keys:
// from the cache, or from the Route query evaluated on the client's own
// organisation (with the usual retries and failover).
func (c *Client) route(ctx context.Context, name string, keys trace.RouteKeys, co *callOptions) (trace.RouteResult, string, *Error) {
	key := routeCacheKey(name, keys)
	if key != "" {
		if rt, ok := c.routes.get(key); ok {
			c.metrics.route(name, "cached")
			return rt, key, nil
		}
	}
	q, err := json.Marshal(trace.RouteQuery{Transaction: name, Keys: keys})
	if err != nil {
		return trace.RouteResult{}, "", &Error{Kind: KindInvalid, Op: "encode", Fn: trace.TxRoute, Reason: reasonOf(KindInvalid, "cannot encode the route query"), Err: err}
	}
	// The own organisation first, briefly: when its peers are down, two
	// other organisations that agree will do; failing that, the own
	// organisation again, with what is left of the caller's budget.
	rco := &callOptions{orgs: c.ownOrgs(), orgsSet: true, maxAttempts: 2}
	own := func(ctx context.Context, attempts int) ([]byte, error) {
		rco.maxAttempts = attempts
		return c.evaluate(ctx, invocation{Fn: trace.TxRoute, Arg: q, Orgs: rco.orgs}, rco)
	}
	octx, cancel := context.WithTimeout(ctx, ownRouteWait)
	raw, err := own(octx, 2)
	cancel()
	if err != nil && (asError(err).Kind == KindUnavailable || octx.Err() != nil) && ctx.Err() == nil {
		if raw, err = c.routeByAgreement(ctx, q, co, err); err != nil && asError(err).Kind == KindUnavailable && ctx.Err() == nil {
			raw, err = own(ctx, co.maxAttempts)
		}
	}
	if err != nil {
		c.metrics.route(name, "error")
		return trace.RouteResult{}, "", asError(err)
	}
	var rt trace.RouteResult
	if err := json.Unmarshal(raw, &rt); err != nil {
		c.metrics.route(name, "error")
		return trace.RouteResult{}, "", &Error{Kind: KindInternal, Op: "decode", Fn: trace.TxRoute, Msg: "undecodable route", Err: err}
	}
	result := "public"
	if rt.Private() {
		result = "private"
		// Only private routes are kept: a GTIN whose product is not
		// registered yet has no owner, and its (public) route changes
		// when the product is registered.
		if key != "" {
			c.routes.put(key, rt)
		}
	} else {
		key = ""
	}
	c.metrics.route(name, result)
	c.log.Debug("route", "fn", name, "route", result, "collection", rt.Collection, "endorsers", rt.Endorsers)
	return rt, key, nil
}

// ownRouteWait bounds the first try of the own organisation's Route.
const ownRouteWait = 2 * time.Second

// routeByAgreement asks the Route query of two other organisations when
// the client's own organisation's peers cannot answer (own: that error).
// A route decides who receives the request's serials, so one other
// organisation's word is not enough: the two answers (the route is computed
// from public records and private-data hashes, the same on every peer) must
// agree byte for byte. Organisations are taken from the endpoints' MSPIDs.
func (c *Client) routeByAgreement(ctx context.Context, q []byte, co *callOptions, own error) ([]byte, error) {
	var answers [][]byte
	var orgs []string
	for _, m := range c.pool.msps {
		if m == "" || m == c.mspID || slices.Contains(orgs, m) {
			continue
		}
		orgs = append(orgs, m)
		rco := &callOptions{orgs: []string{m}, orgsSet: true, maxAttempts: 1}
		raw, err := c.evaluate(ctx, invocation{Fn: trace.TxRoute, Arg: q, Orgs: rco.orgs}, rco)
		if err != nil {
			continue
		}
		answers = append(answers, raw)
		if len(answers) == 2 {
			break
		}
	}
	switch {
	case len(answers) < 2:
		return nil, own
	case !bytes.Equal(answers[0], answers[1]):
		msg := fmt.Sprintf("the own organisation's peers are unreachable and two other organisations disagree on the route (%s / %s)", answers[0], answers[1])
		return nil, &Error{Kind: KindInternal, Op: "route", Fn: trace.TxRoute, Msg: msg, Reason: reasonOf(KindInternal, msg)}
	}
	c.log.Info("route agreed by two other organisations (own organisation's peers unreachable)", "orgs", orgs)
	return answers[0], nil
}

// asError returns err as an *Error (evaluate returns only those).
func asError(err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return &Error{Kind: KindInternal, Err: err}
}
