package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pharmatrace/pharmatrace/trace"
)

// fakeContract models what the routing tests need of the PharmaTrace
// contract: Route answers from routes (by transaction; absent: public); a
// transaction routed to a collection refuses an argument and reads its
// request from the transient map, sent to its endorsers only; lots are
// registered by RegisterLot and required by CommissionPacks.
type fakeContract struct {
	mu     sync.Mutex
	routes map[string]trace.RouteResult
	lots   map[string]trace.Lot // by GTIN + "/" + lot
	// commissionNotFound makes that many next CommissionPacks endorsements
	// fail as if an endorser had not committed the lot yet.
	commissionNotFound int
	// hideLots makes that many next GetLot queries report the lot not
	// found (it is registered meanwhile).
	hideLots int
	// keyed: the collection has its pseudonym key; keyInits counts the
	// InitCollection endorsements and lastKey is the key sent.
	keyed    bool
	keyLag   int // commissions that still find no key after it is set
	keyInits int
	lastKey  []byte
	onCommit func(fn string, result []byte)
}

const (
	gtinA = "04012345000016"
	gtinB = "04012345000023"
	ssccA = "106141411234567897"
	ssccB = "000000000000000017"
)

var privateRoute = trace.RouteResult{Collection: trace.Collection("MfrMSP"), Endorsers: []string{"MfrMSP", "RegulatorMSP"}}

func newFakeContract(l *fakeLedger) *fakeContract {
	c := &fakeContract{routes: map[string]trace.RouteResult{}, lots: map[string]trace.Lot{}}
	c.onCommit = func(fn string, result []byte) {
		if fn != trace.TxRegisterLot {
			return
		}
		var r trace.LotResult
		if json.Unmarshal(result, &r) == nil && r.Lot != nil {
			c.mu.Lock()
			c.lots[r.Lot.GTIN+"/"+r.Lot.Lot] = *r.Lot
			c.mu.Unlock()
		}
	}
	l.contract = c
	return c
}

func (c *fakeContract) setRoute(tx string, rt trace.RouteResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.routes[tx] = rt
}

func (c *fakeContract) route(tx string) trace.RouteResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.routes[tx]
}

func chaincodeError(msg string) error {
	return status.Error(codes.Unknown, "chaincode response 500, "+msg)
}

// request returns the JSON request of inv as the contract reads it.
func (c *fakeContract) request(inv invocation) ([]byte, error) {
	rt := c.route(txName(inv.Fn))
	if !rt.Private() {
		if inv.Transient != nil {
			return nil, chaincodeError("invalid request: transient data for a public transaction")
		}
		return inv.Arg, nil
	}
	if len(inv.Arg) != 0 {
		return nil, chaincodeError("invalid request: a routed request must travel as transient data, not as the argument")
	}
	if len(inv.Orgs) == 0 {
		return nil, chaincodeError("invalid request: no endorsing organisations for a routed request")
	}
	for _, o := range inv.Orgs {
		if !slices.Contains(rt.Endorsers, o) {
			return nil, chaincodeError("access denied: " + o + " is not a member of " + rt.Collection)
		}
	}
	req, ok := inv.Transient[trace.TransientRequest]
	if !ok {
		return nil, chaincodeError("invalid request: no transient request")
	}
	return req, nil
}

// endorseTrace endorses a trace write on the fake contract.
func (l *fakeLedger) endorseTrace(inv invocation) (*endorsedTx, error) {
	c := l.contract
	if c == nil {
		return nil, chaincodeError("invalid request: unknown function " + inv.Fn)
	}
	req, err := c.request(inv)
	if err != nil {
		return nil, err
	}
	var hdr trace.RequestHeader
	if err := json.Unmarshal(req, &hdr); err != nil || hdr.RequestID == "" {
		return nil, chaincodeError("invalid request: bad JSON")
	}
	apply := func(int) ([]byte, error) { return json.Marshal(trace.ScanResult{Outcome: trace.Accepted("done")}) }
	switch inv.Fn {
	case trace.TxRegisterLot:
		var r trace.RegisterLotRequest
		_ = json.Unmarshal(req, &r)
		apply = func(int) ([]byte, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if _, ok := c.lots[r.GTIN+"/"+r.Lot]; ok {
				return nil, chaincodeError("conflict: lot " + r.Lot + " of product " + r.GTIN + " is already registered")
			}
			lot := trace.Lot{GTIN: r.GTIN, Lot: r.Lot, Expiry: r.Expiry, Status: trace.LotReleased}
			return json.Marshal(trace.LotResult{Outcome: trace.Accepted("lot registered"), Lot: &lot})
		}
	case trace.TxInitCollection:
		var r trace.InitCollectionRequest
		_ = json.Unmarshal(req, &r)
		apply = func(int) ([]byte, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.keyInits++
			c.lastKey = r.Key
			if c.keyed {
				return nil, chaincodeError("conflict: collection serials-" + r.Manufacturer + " has its key already")
			}
			c.keyed = true
			return json.Marshal(trace.InitCollectionResult{Outcome: trace.Accepted("collection key set"), Collection: trace.Collection(r.Manufacturer)})
		}
	case trace.TxCommissionPacks:
		var r trace.CommissionPacksRequest
		_ = json.Unmarshal(req, &r)
		apply = func(int) ([]byte, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if !c.keyed || c.keyLag > 0 {
				if c.keyed {
					c.keyLag--
				}
				return nil, chaincodeError("conflict: collection serials-MfrMSP has no pseudonym key yet: its manufacturer sends InitCollection once")
			}
			lot, ok := c.lots[r.GTIN+"/"+r.Lot]
			if c.commissionNotFound > 0 {
				c.commissionNotFound--
				ok = false
			}
			if !ok {
				return nil, chaincodeError("not found: lot " + r.Lot + " of product " + r.GTIN + " is not registered")
			}
			return json.Marshal(trace.CommissionPacksResult{Outcome: trace.Accepted("commissioned"), Lot: &lot, Commissioned: len(r.Serials)})
		}
	}
	return l.prepare(inv.Fn, hdr.RequestID, apply)
}

// evaluateTrace answers the trace queries of the fake contract; ok is
// false for a function it leaves to evaluate.
func (l *fakeLedger) evaluateTrace(inv invocation) (res []byte, err error, ok bool) {
	c := l.contract
	switch inv.Fn {
	case trace.TxRoute:
		if inv.Transient != nil {
			return nil, chaincodeError("invalid request: Route takes its query as the argument"), true
		}
		var q trace.RouteQuery
		if err := json.Unmarshal(inv.Arg, &q); err != nil || q.Transaction == "" {
			return nil, chaincodeError("invalid request: bad route query"), true
		}
		res, err := json.Marshal(c.route(q.Transaction))
		return res, err, true
	case trace.TxGetLot:
		req, err := c.request(inv)
		if err != nil {
			return nil, err, true
		}
		var q trace.LotQuery
		_ = json.Unmarshal(req, &q)
		c.mu.Lock()
		lot, found := c.lots[q.GTIN+"/"+q.Lot]
		if c.hideLots > 0 {
			c.hideLots--
			found = false
		}
		c.mu.Unlock()
		if !found {
			return nil, chaincodeError("not found: lot " + q.Lot + " of product " + q.GTIN + " is not registered"), true
		}
		res, err := json.Marshal(trace.GetLotResult{Lot: lot})
		return res, err, true
	case trace.TxGetRequest, trace.TxVerify, trace.TxGetPack:
		req, err := c.request(inv)
		if err != nil {
			return nil, err, true
		}
		if inv.Fn != trace.TxGetRequest {
			return []byte(`{"outcome":{"status":"ok"}}`), nil, true
		}
		res, err := l.getRequest(req)
		return res, err, true
	}
	return nil, nil, false
}

func scan(id, gtin string) trace.ScanRequest {
	return trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: id}, Scan: trace.Scan{GTIN: gtin, Serial: "S" + id, Lot: "L1", Expiry: "301231"}}
}

// routedClient is a client of MSP MfrMSP over one fake endpoint whose
// contract routes Dispense, Aggregate, Verify, GetPack and GetRequest to
// MfrMSP's collection.
func routedClient(t *testing.T, opts ...Option) (*Client, *fakeEndpoint, *fakeContract) {
	t.Helper()
	l := newFakeLedger()
	fc := newFakeContract(l)
	fc.keyed = true
	for _, tx := range []string{trace.TxDispense, trace.TxAggregate, trace.TxVerify, trace.TxGetPack, trace.TxGetRequest, trace.TxCommissionPacks, trace.TxInitCollection} {
		fc.setRoute(tx, privateRoute)
	}
	ep := newFakeEndpoint("a:1", l)
	c, _ := newTestClient(t, []*fakeEndpoint{ep}, opts...)
	c.mspID = "MfrMSP"
	return c, ep, fc
}

func TestRoutedSubmitSendsTheRequestAsTransientDataToTheEndorsers(t *testing.T) {
	m, _ := NewMetrics(nil)
	c, ep, _ := routedClient(t, WithMetrics(m))
	c.orgs = []string{"Org1MSP", "Org2MSP"} // Config.EndorsingOrgs: not for a private route
	ctx := context.Background()
	req := scan("d1", gtinA)
	var rc Receipt
	res, err := c.Dispense(ctx, req, WithReceipt(&rc))
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || rc.TxID == "" || rc.Block == 0 {
		t.Fatalf("result %+v, receipt %+v", res, rc)
	}

	routes := ep.invocations(trace.TxRoute)
	if len(routes) != 1 {
		t.Fatalf("%d route queries, want 1", len(routes))
	}
	r := routes[0]
	wantQuery := mustJSON(t, trace.RouteQuery{Transaction: trace.TxDispense, Keys: trace.RouteKeys{GTINs: []string{gtinA}}})
	if r.op != "evaluate" || string(r.inv.Arg) != wantQuery || r.inv.Transient != nil || !slices.Equal(r.inv.Orgs, []string{"MfrMSP"}) {
		t.Errorf("route query %s %s transient %v orgs %v; want an evaluate of %s on MfrMSP without transient data", r.op, r.inv.Arg, r.inv.Transient, r.inv.Orgs, wantQuery)
	}

	sent := ep.invocations(trace.TxDispense)
	if len(sent) != 1 {
		t.Fatalf("%d Dispense proposals, want 1", len(sent))
	}
	inv := sent[0].inv
	if sent[0].op != "endorse" || inv.Arg == nil || len(inv.Arg) != 0 {
		t.Errorf("Dispense %s with argument %q, want an endorsement with the empty argument", sent[0].op, inv.Arg)
	}
	if got, want := string(inv.Transient[trace.TransientRequest]), mustJSON(t, &req); got != want || len(inv.Transient) != 2 || len(inv.Transient[trace.TransientResultKey]) != 32 {
		t.Errorf("transient %v, want %s under %q and a 32-byte %q", inv.Transient, want, trace.TransientRequest, trace.TransientResultKey)
	}
	if !slices.Equal(inv.Orgs, privateRoute.Endorsers) {
		t.Errorf("endorsing orgs %v, want the route's %v", inv.Orgs, privateRoute.Endorsers)
	}
	if got := testutil.ToFloat64(m.Routes.WithLabelValues(trace.TxDispense, "private")); got != 1 {
		t.Errorf("routes_total{private} = %v, want 1", got)
	}

	// A routed query: same route, evaluated by the route's endorsers.
	if _, err := c.Verify(ctx, trace.VerifyRequest{Scan: req.Scan}); err != nil {
		t.Fatal(err)
	}
	v := ep.invocations(trace.TxVerify)
	if len(v) != 1 || v[0].op != "evaluate" || len(v[0].inv.Arg) != 0 || v[0].inv.Transient == nil || !slices.Equal(v[0].inv.Orgs, privateRoute.Endorsers) {
		t.Errorf("Verify sent as %+v", v)
	}
}

func TestNotRoutedCallsAreSentAsBefore(t *testing.T) {
	c, ep, fc := routedClient(t)
	c.orgs = []string{"Org1MSP", "Org2MSP"}
	ctx := context.Background()
	req := trace.RegisterLotRequest{RequestHeader: trace.RequestHeader{RequestID: "l1"}, GTIN: gtinA, Lot: "L1", Expiry: "301231"}
	if _, err := c.RegisterLot(ctx, req); err != nil {
		t.Fatal(err)
	}
	sent := ep.invocations(trace.TxRegisterLot)
	if len(sent) != 1 || string(sent[0].inv.Arg) != mustJSON(t, &req) || sent[0].inv.Transient != nil || !slices.Equal(sent[0].inv.Orgs, c.orgs) {
		t.Fatalf("RegisterLot sent as %+v", sent)
	}
	if n := len(ep.invocations(trace.TxRoute)); n != 0 {
		t.Errorf("%d route queries for a transaction that is not routed", n)
	}

	// A routed transaction whose route is public: one route query, then
	// the request as the argument, with the usual endorsers.
	fc.setRoute(trace.TxUndo, trace.RouteResult{})
	u := scan("u1", gtinA)
	if _, err := c.Undo(ctx, u); err != nil {
		t.Fatal(err)
	}
	sent = ep.invocations(trace.TxUndo)
	if len(sent) != 1 || string(sent[0].inv.Arg) != mustJSON(t, &u) || sent[0].inv.Transient != nil || !slices.Equal(sent[0].inv.Orgs, c.orgs) {
		t.Fatalf("Undo (public route) sent as %+v", sent)
	}
	// The raw paths route too: the argument is decoded to find the keys.
	raw, err := c.SubmitRaw(ctx, trace.TxDispense, "d9", []byte(mustJSON(t, scan("d9", gtinB))))
	if err != nil || !strings.Contains(string(raw), `"ok"`) {
		t.Fatalf("SubmitRaw = %s, %v", raw, err)
	}
	sent = ep.invocations(trace.TxDispense)
	if len(sent) != 1 || len(sent[0].inv.Arg) != 0 || sent[0].inv.Transient == nil {
		t.Fatalf("SubmitRaw of a routed transaction sent as %+v", sent)
	}
}

func TestRouteCache(t *testing.T) {
	m, _ := NewMetrics(nil)
	c, ep, _ := routedClient(t, WithMetrics(m))
	ctx := context.Background()
	routeQueries := func() int { return len(ep.invocations(trace.TxRoute)) }

	tests := []struct {
		name       string
		call       func() error
		wantRoutes int // route queries made by the call
	}{
		{"GTIN only: looked up", func() error { _, err := c.Dispense(ctx, scan("c1", gtinA)); return err }, 1},
		{"same transaction and GTIN: cached", func() error { _, err := c.Dispense(ctx, scan("c2", gtinA)); return err }, 0},
		{"another GTIN: looked up", func() error { _, err := c.Dispense(ctx, scan("c3", gtinB)); return err }, 1},
		{"another transaction: looked up", func() error { _, err := c.Verify(ctx, trace.VerifyRequest{Scan: scan("", gtinA).Scan}); return err }, 1},
		{"SSCC keys: looked up", func() error {
			_, err := c.Aggregate(ctx, trace.AggregateRequest{RequestHeader: trace.RequestHeader{RequestID: "a1"}, SSCC: ssccA, Packs: []trace.PackRef{{GTIN: gtinA, Serial: "X1"}}})
			return err
		}, 1},
		{"same SSCC keys again: not cached", func() error {
			_, err := c.Aggregate(ctx, trace.AggregateRequest{RequestHeader: trace.RequestHeader{RequestID: "a2"}, SSCC: ssccA, Packs: []trace.PackRef{{GTIN: gtinA, Serial: "X1"}}})
			return err
		}, 1},
		{"request ID keys: not cached", func() error { _, err := c.GetRequest(ctx, trace.RequestQuery{RequestID: "c1"}); return err }, 1},
		{"request ID keys again", func() error { _, err := c.GetRequest(ctx, trace.RequestQuery{RequestID: "c1"}); return err }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := routeQueries()
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			if got := routeQueries() - before; got != tt.wantRoutes {
				t.Errorf("%d route queries, want %d", got, tt.wantRoutes)
			}
		})
	}
	if got := testutil.ToFloat64(m.Routes.WithLabelValues(trace.TxDispense, "cached")); got != 1 {
		t.Errorf("routes_total{Dispense,cached} = %v, want 1", got)
	}
	if n := c.routes.len(); n != 3 {
		t.Errorf("%d cached routes, want 3 (Dispense ×2 GTINs, Verify)", n)
	}
}

func TestRouteCacheKeyAndBound(t *testing.T) {
	tests := []struct {
		keys trace.RouteKeys
		want string
	}{
		{trace.RouteKeys{GTINs: []string{gtinB, gtinA, gtinB}}, "Ship\x00" + gtinA + "\x00" + gtinB},
		{trace.RouteKeys{GTINs: []string{gtinA}, SSCCs: []string{ssccA}}, ""},
		{trace.RouteKeys{GTINs: []string{gtinA}, Shipment: "S1"}, ""},
		{trace.RouteKeys{GTINs: []string{gtinA}, Anomaly: "A1"}, ""},
		{trace.RouteKeys{RequestID: "r"}, ""},
		{trace.RouteKeys{}, ""},
	}
	for _, tt := range tests {
		if got := routeCacheKey(trace.TxShip, tt.keys); got != tt.want {
			t.Errorf("routeCacheKey(%+v) = %q, want %q", tt.keys, got, tt.want)
		}
	}
	var rc routeCache
	for i := range routeCacheSize + 10 {
		rc.put(strconv.Itoa(i), privateRoute)
	}
	if rc.len() != routeCacheSize {
		t.Errorf("cache holds %d routes, want at most %d", rc.len(), routeCacheSize)
	}
}

func TestRouteFailuresAndNarrowing(t *testing.T) {
	c, ep, _ := routedClient(t)
	ctx := context.Background()

	// The caller may narrow the route's endorsers, not widen them.
	if _, err := c.Verify(ctx, trace.VerifyRequest{Scan: scan("", gtinA).Scan}, WithEndorsingOrgs("RegulatorMSP")); err != nil {
		t.Fatalf("narrowed to the regulator: %v", err)
	}
	if v := ep.invocations(trace.TxVerify); len(v) != 1 || !slices.Equal(v[0].inv.Orgs, []string{"RegulatorMSP"}) {
		t.Fatalf("Verify sent as %+v", v)
	}
	_, err := c.Verify(ctx, trace.VerifyRequest{Scan: scan("", gtinA).Scan}, WithEndorsingOrgs("PharmacyMSP"))
	var ge *Error
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &ge) || ge.Op != "route" || !strings.Contains(ge.Msg, "PharmacyMSP") {
		t.Fatalf("widened to a non-member: %v", err)
	}
	if n := len(ep.invocations(trace.TxVerify)); n != 1 {
		t.Fatalf("the request was sent to a non-member")
	}

	// The route query fails: nothing is sent, the error is the call's,
	// with the route query's kind.
	ep.setAlways("evaluate", fault{err: status.Error(codes.PermissionDenied, "access denied: creator org unknown")})
	_, err = c.Dispense(ctx, scan("f1", gtinB))
	if !errors.Is(err, ErrAccessDenied) || !errors.As(err, &ge) || ge.Fn != trace.TxDispense || ge.Op != "route" || ge.RequestID != "f1" {
		t.Fatalf("err = %v, want access denied from the route of Dispense f1", err)
	}
	if n := len(ep.invocations(trace.TxDispense)); n != 0 {
		t.Errorf("Dispense sent without a route")
	}
	ep.clearAlways("evaluate")

	// A failed call forgets its cached route.
	if _, err := c.Dispense(ctx, scan("f2", gtinB)); err != nil {
		t.Fatal(err)
	}
	key := routeCacheKey(trace.TxDispense, trace.RouteKeys{GTINs: []string{gtinB}})
	if _, ok := c.routes.get(key); !ok {
		t.Fatal("route not cached")
	}
	ep.addFault("endorse", fault{err: status.Error(codes.Unknown, "chaincode response 500, access denied: not a member")})
	if _, err := c.Dispense(ctx, scan("f3", gtinB)); !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("err = %v", err)
	}
	if _, ok := c.routes.get(key); ok {
		t.Error("the route of a failed call is still cached")
	}
}

func TestRoutedSubmitRecoversThroughTheRoutedLookup(t *testing.T) {
	// The commit status is unknown everywhere: the lookup (GetRequest,
	// itself routed) finds the request, through its own route.
	c, ep, _ := routedClient(t, lookupQuery())
	ep.setAlways("status", fault{err: errUnavailable})
	var rc Receipt
	res, err := c.Dispense(context.Background(), scan("u1", gtinA), WithReceipt(&rc), WithMaxAttempts(2))
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || !rc.FromLookup || rc.Endorsements != 1 {
		t.Fatalf("result %+v, receipt %+v: want the stored outcome from the lookup", res, rc)
	}
	if ep.ledger.appliedCount("u1") != 1 {
		t.Errorf("applied %d times", ep.ledger.appliedCount("u1"))
	}
	gr := ep.invocations(trace.TxGetRequest)
	if len(gr) == 0 {
		t.Fatal("no GetRequest lookup")
	}
	for _, s := range gr {
		if len(s.inv.Arg) != 0 || string(s.inv.Transient[trace.TransientRequest]) != `{"requestId":"u1"}` || !slices.Equal(s.inv.Orgs, privateRoute.Endorsers) {
			t.Errorf("GetRequest sent as %+v, want routed", s.inv)
		}
	}
	var routedLookups int
	for _, s := range ep.invocations(trace.TxRoute) {
		if strings.Contains(string(s.inv.Arg), `"requestId":"u1"`) {
			routedLookups++
		}
	}
	if routedLookups != len(gr) {
		t.Errorf("%d route queries for %d lookups (request-ID routes are never cached)", routedLookups, len(gr))
	}
}

func TestRoutedRequestTypesMatchTrace(t *testing.T) {
	for _, tx := range trace.AllTransactions {
		info, ok := trace.TxByName(tx.Name)
		if !ok || info.Routed != tx.Routed {
			t.Errorf("%s: found %v, routed %v, want routed %v", tx.Name, ok, info.Routed, tx.Routed)
			continue
		}
		if _, isRouted := info.NewRequest().(trace.Routed); isRouted != tx.Routed {
			t.Errorf("%s: %T routed %v, descriptor says %v", tx.Name, info.NewRequest(), isRouted, tx.Routed)
		}
	}
	keys, err := routeKeysOf(trace.TxShip, nil, []byte(`{"requestId":"s","shipmentId":"S1","ssccs":["`+ssccA+`"],"packs":[{"gtin":"`+gtinA+`","serial":"X"}]}`))
	if err != nil || keys.Shipment != "S1" || !slices.Equal(keys.SSCCs, []string{ssccA}) || !slices.Equal(keys.GTINs, []string{gtinA}) {
		t.Errorf("routeKeysOf(Ship) = %+v, %v", keys, err)
	}
	if _, err := routeKeysOf(trace.TxShip, nil, []byte(`not json`)); err == nil {
		t.Error("an undecodable routed request was given keys")
	}
	if info, _ := trace.TxByName(txName("pharmatrace:Dispense")); !info.Routed {
		t.Error("a contract-qualified function name is not recognised as routed")
	}
}

// A request carrying serials as transient data goes only through a peer of
// the client's own organisation or of the collection's members: with its
// own peer down, a pharmacy's dispense goes through the regulator's peer,
// never the distributor's, although the distributor's is next in line.
func TestPrivateRequestsAvoidOtherOrganisationsPeers(t *testing.T) {
	l := newFakeLedger()
	fc := newFakeContract(l)
	fc.keyed = true
	fc.setRoute(trace.TxDispense, privateRoute)
	own, dist, reg := newFakeEndpoint("pharmacy:1", l), newFakeEndpoint("distributor:1", l), newFakeEndpoint("regulator:1", l)
	c, _ := newTestClient(t, []*fakeEndpoint{own, dist, reg})
	c.mspID = "PharmacyMSP"
	c.pool.msps = []string{"PharmacyMSP", "DistributorMSP", "RegulatorMSP"}
	if _, err := c.Dispense(context.Background(), scan("d1", gtinA)); err != nil {
		t.Fatal(err)
	}
	if n := len(own.invocations(trace.TxDispense)); n != 1 {
		t.Fatalf("home up: %d dispenses through the own peer", n)
	}
	own.mu.Lock()
	own.down = true
	own.mu.Unlock()
	if _, err := c.Dispense(context.Background(), scan("d2", gtinA)); err != nil {
		t.Fatal(err)
	}
	if n := len(dist.invocations(trace.TxDispense)); n != 0 {
		t.Fatalf("%d dispenses (serials in transient data) went through the distributor's peer", n)
	}
	if n := len(reg.invocations(trace.TxDispense)); n != 1 {
		t.Fatalf("%d dispenses through the regulator's peer, want 1", n)
	}
}

// A routed write's result comes sealed under the call's key (the fakes
// above do not seal): openResult opens it with the invocation's key and
// the transaction ID, and leaves other results alone.
func TestOpenResult(t *testing.T) {
	key := make([]byte, 32)
	key[0] = 1
	inv := invocation{Fn: trace.TxDispense, Transient: map[string][]byte{trace.TransientResultKey: key}}
	sealed, err := trace.SealResult(key, "tx9", []byte(`{"ok":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := openResult(inv, "tx9", []byte(sealed)); err != nil || string(got) != `{"ok":1}` {
		t.Fatalf("%s %v", got, err)
	}
	if _, err := openResult(inv, "tx8", []byte(sealed)); err == nil {
		t.Fatal("opened under another transaction ID")
	}
	if got, _ := openResult(invocation{Fn: "Put"}, "tx9", []byte(`{"plain":1}`)); string(got) != `{"plain":1}` {
		t.Fatalf("plain result changed: %s", got)
	}
}

// With the own organisation's peers unreachable, a route is taken only
// when two other organisations give the same answer.
func TestRouteByAgreementWhenOwnOrgIsDown(t *testing.T) {
	unavailable := fault{err: status.Error(codes.Unavailable, "failed to find any endorsing peers for org(s): MfrMSP")}
	pass := fault{}
	c, ep, _ := routedClient(t)
	c.pool.msps = []string{"MfrMSP", "DistributorMSP", "RegulatorMSP"}
	// The own organisation's two quick tries fail; two others agree.
	ep.addFault("evaluate", unavailable, unavailable)
	if _, err := c.Dispense(context.Background(), scan("a1", gtinA)); err != nil {
		t.Fatal(err)
	}
	var asked [][]string
	for _, s := range ep.invocations(trace.TxRoute) {
		asked = append(asked, s.inv.Orgs)
	}
	if len(asked) != 4 || !slices.Equal(asked[2], []string{"DistributorMSP"}) || !slices.Equal(asked[3], []string{"RegulatorMSP"}) {
		t.Fatalf("route queries sent to %v", asked)
	}
	// Only one other organisation answers: its word is not taken, and the
	// own organisation, still down, decides.
	ep.addFault("evaluate", unavailable, unavailable, unavailable, pass, unavailable, unavailable, unavailable, unavailable)
	if _, err := c.Dispense(context.Background(), scan("a2", gtinB)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("one other organisation's answer accepted: %v", err)
	}
}
