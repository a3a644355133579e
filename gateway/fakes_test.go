package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	gwproto "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pharmatrace/pharmatrace/trace"
)

// fakeLedger is a tiny model of a channel running a chaincode that
// de-duplicates by request ID, with MVCC validation: enough to check that a
// request is applied at most once whatever fails around it.
type fakeLedger struct {
	mu       sync.Mutex
	outcomes map[string][]byte // request ID -> stored outcome
	fns      map[string]string // request ID -> function that stored it
	version  map[string]int    // request ID -> version of its key
	applied  map[string]int    // request ID -> times its effect was applied
	txs      map[string]commitStatus
	blocks   []*blockEvents
	seq      int
	changed  chan struct{} // closed and replaced on every new block
	waiting  int           // commit-status calls waiting for a transaction
	// bumpVersionOnNextOrder simulates another writer committing to the
	// request key between the next transaction's endorsement and its commit.
	bumpVersionOnNextOrder bool
	// contract, when set, answers the trace functions (routing tests).
	contract *fakeContract
}

func newFakeLedger() *fakeLedger {
	return &fakeLedger{
		outcomes: map[string][]byte{}, fns: map[string]string{}, version: map[string]int{}, applied: map[string]int{},
		txs: map[string]commitStatus{}, changed: make(chan struct{}),
	}
}

// putRequest is the fake chaincode's argument.
type putRequest struct {
	RequestID string `json:"requestId"`
	Key       string `json:"key"`
	Value     string `json:"value"`
}

type putResult struct {
	Status string `json:"status"`
	Key    string `json:"key"`
	Value  string `json:"value"`
	Seq    int    `json:"seq"` // ledger sequence when first endorsed: differs on a double apply
}

// fakePrepared is what the fake puts in endorsedTx.Prepared.
type fakePrepared struct {
	Fn          string `json:"fn"`
	RequestID   string `json:"requestId"`
	ReadVersion int    `json:"readVersion"`
	Replay      bool   `json:"replay"`
	Event       string `json:"event"`
}

func (l *fakeLedger) endorse(inv invocation) (*endorsedTx, error) {
	if inv.Fn != "Put" {
		return l.endorseTrace(inv)
	}
	if inv.Transient != nil {
		return nil, status.Error(codes.Unknown, "chaincode response 500, invalid request: Put takes no transient data")
	}
	var req putRequest
	if err := json.Unmarshal(inv.Arg, &req); err != nil || req.RequestID == "" {
		return nil, status.Error(codes.Unknown, "chaincode response 500, invalid request: bad JSON")
	}
	if req.Key == "denied" {
		st, _ := status.New(codes.Aborted, "failed to endorse transaction, see attached details for more info").
			WithDetails(&gwproto.ErrorDetail{Address: "peer0:7051", MspId: "Org1MSP", Message: "chaincode response 500, access denied: key is reserved"})
		return nil, st.Err()
	}
	return l.prepare("Put", req.RequestID, func(seq int) ([]byte, error) {
		return json.Marshal(putResult{Status: "ok", Key: req.Key, Value: req.Value, Seq: seq})
	})
}

// prepare endorses a write of request requestID: a replay of its stored
// outcome, or the result that apply returns.
func (l *fakeLedger) prepare(fn, requestID string, apply func(seq int) ([]byte, error)) (*endorsedTx, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	p := fakePrepared{Fn: fn, RequestID: requestID, ReadVersion: l.version[requestID]}
	var result []byte
	if out, ok := l.outcomes[requestID]; ok {
		result, p.Replay = out, true
	} else {
		var err error
		if result, err = apply(l.seq); err != nil {
			return nil, err
		}
	}
	p.Event = string(result)
	prepared, _ := json.Marshal(p)
	return &endorsedTx{TxID: fmt.Sprintf("tx%03d", l.seq), Result: result, Prepared: prepared}, nil
}

// order appends tx to the ledger in a new block and validates it.
func (l *fakeLedger) order(tx *endorsedTx) {
	var p fakePrepared
	if err := json.Unmarshal(tx.Prepared, &p); err != nil {
		panic(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	block := uint64(len(l.blocks) + 1)
	if _, dup := l.txs[tx.TxID]; dup {
		l.blocks = append(l.blocks, &blockEvents{Block: block}) // DUPLICATE_TXID: no event, status unchanged
		l.notifyLocked()
		return
	}
	if l.bumpVersionOnNextOrder {
		l.bumpVersionOnNextOrder = false
		l.version[p.RequestID]++
	}
	code := peer.TxValidationCode_VALID
	switch {
	case l.version[p.RequestID] != p.ReadVersion:
		code = peer.TxValidationCode_MVCC_READ_CONFLICT
	case !p.Replay:
		l.outcomes[p.RequestID] = tx.Result
		l.fns[p.RequestID] = p.Fn
		l.version[p.RequestID]++
		l.applied[p.RequestID]++
	}
	l.txs[tx.TxID] = commitStatus{Code: code, Block: block}
	be := &blockEvents{Block: block}
	if code == peer.TxValidationCode_VALID && !p.Replay {
		be.Events = append(be.Events, rawEvent{TxID: tx.TxID, Name: p.Fn, Payload: []byte(p.Event)})
	}
	if code == peer.TxValidationCode_VALID && !p.Replay && l.contract != nil && l.contract.onCommit != nil {
		l.contract.onCommit(p.Fn, tx.Result)
	}
	l.blocks = append(l.blocks, be)
	l.notifyLocked()
}

func (l *fakeLedger) notifyLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *fakeLedger) status(ctx context.Context, txID string) (commitStatus, error) {
	for {
		l.mu.Lock()
		st, ok := l.txs[txID]
		ch := l.changed
		l.mu.Unlock()
		if ok {
			return st, nil
		}
		l.setWaiting(+1)
		select {
		case <-ctx.Done():
			l.setWaiting(-1)
			return commitStatus{}, status.FromContextError(ctx.Err()).Err()
		case <-ch:
			l.setWaiting(-1)
		}
	}
}

func (l *fakeLedger) setWaiting(d int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waiting += d
}

// passCommitWindows lets the simulated time pass every commit window that a
// commit-status call of l is waiting out (a transaction the orderers lost),
// until the test ends.
func passCommitWindows(t *testing.T, clk *fakeClock, l *fakeLedger) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
			l.mu.Lock()
			waiting := l.waiting
			l.mu.Unlock()
			if waiting > 0 {
				clk.fireNextTimer()
			}
		}
	}()
}

func (l *fakeLedger) appliedCount(requestID string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.applied[requestID]
}

func (l *fakeLedger) evaluate(inv invocation) ([]byte, error) {
	fn, arg := inv.Fn, inv.Arg
	if l.contract != nil {
		if res, err, ok := l.evaluateTrace(inv); ok {
			return res, err
		}
	}
	switch fn {
	case "Route": // no contract: every route is public
		return []byte(`{}`), nil
	case "GetRequest":
		return l.getRequest(arg)
	case "GetPut":
		var req trace.RequestQuery
		_ = json.Unmarshal(arg, &req)
		l.mu.Lock()
		defer l.mu.Unlock()
		if out, ok := l.outcomes[req.RequestID]; ok {
			return out, nil
		}
		return nil, status.Error(codes.Unknown, "evaluate call to endorser returned error: chaincode response 500, not found: request "+req.RequestID)
	case "Echo":
		return arg, nil
	}
	return nil, status.Error(codes.Unknown, "evaluate call to endorser returned error: chaincode response 500, invalid request: unknown function "+fn)
}

// getRequest answers GetRequest as the PharmaTrace chaincode does.
func (l *fakeLedger) getRequest(arg []byte) ([]byte, error) {
	var req trace.RequestQuery
	_ = json.Unmarshal(arg, &req)
	l.mu.Lock()
	defer l.mu.Unlock()
	res := trace.GetRequestResult{}
	if out, ok := l.outcomes[req.RequestID]; ok {
		res = trace.GetRequestResult{Found: true, Request: &trace.RequestRecord{RequestID: req.RequestID, Transaction: l.fns[req.RequestID], Result: string(out)}}
	}
	return json.Marshal(res)
}

// fault is a scripted failure of one call of one kind on one endpoint.
type fault struct {
	err error
	// apply: the call takes effect although err is returned (a submit the
	// orderer accepted, a commit status of a committed transaction).
	apply bool
}

var errUnavailable = status.Error(codes.Unavailable, "connection refused")

// fakeEndpoint is an endpoint over a fakeLedger with scripted faults.
type fakeEndpoint struct {
	addr   string
	ledger *fakeLedger

	mu       sync.Mutex
	down     bool // every call fails Unavailable, Healthy false
	faults   map[string][]fault
	always   map[string]fault // fails every call of that kind
	calls    map[string]int
	suspects int
	streams  []*fakeStream
	height   uint64
	sent     []sentInvocation
}

func newFakeEndpoint(addr string, l *fakeLedger) *fakeEndpoint {
	return &fakeEndpoint{addr: addr, ledger: l, faults: map[string][]fault{}, always: map[string]fault{}, calls: map[string]int{}}
}

func (f *fakeEndpoint) addFault(op string, fs ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[op] = append(f.faults[op], fs...)
}

func (f *fakeEndpoint) setAlways(op string, ft fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.always[op] = ft
}

func (f *fakeEndpoint) clearAlways(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.always, op)
}

func (f *fakeEndpoint) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeEndpoint) callCount(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// enter counts the call and returns the fault to apply, if any.
func (f *fakeEndpoint) enter(op string) (fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if f.down {
		return fault{err: errUnavailable}, true
	}
	if ft, ok := f.always[op]; ok {
		return ft, true
	}
	if q := f.faults[op]; len(q) > 0 {
		f.faults[op] = q[1:]
		return q[0], true
	}
	return fault{}, false
}

func (f *fakeEndpoint) Addr() string { return f.addr }

func (f *fakeEndpoint) Healthy() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.down
}

func (f *fakeEndpoint) Suspect() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.suspects++
}

func (f *fakeEndpoint) Reconnect() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["reconnect"]++
}

func (f *fakeEndpoint) Endorse(ctx context.Context, inv invocation) (*endorsedTx, error) {
	f.record("endorse", inv)
	if ft, ok := f.enter("endorse"); ok {
		return nil, ft.err
	}
	return f.ledger.endorse(inv)
}

// record keeps inv, sent by the op ("endorse", "evaluate") call.
func (f *fakeEndpoint) record(op string, inv invocation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sentInvocation{op, inv})
}

// sentInvocation is an invocation an endpoint was asked to send.
type sentInvocation struct {
	op  string
	inv invocation
}

// invocations returns the invocations of function fn sent so far.
func (f *fakeEndpoint) invocations(fn string) []sentInvocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sentInvocation
	for _, s := range f.sent {
		if s.inv.Fn == fn {
			out = append(out, s)
		}
	}
	return out
}

func (f *fakeEndpoint) Submit(ctx context.Context, tx *endorsedTx) error {
	if ft, ok := f.enter("submit"); ok {
		if ft.apply {
			f.ledger.order(tx)
		}
		return ft.err
	}
	f.ledger.order(tx)
	return nil
}

func (f *fakeEndpoint) CommitStatus(ctx context.Context, txID string) (commitStatus, error) {
	if ft, ok := f.enter("status"); ok {
		return commitStatus{}, ft.err
	}
	return f.ledger.status(ctx, txID)
}

func (f *fakeEndpoint) Evaluate(ctx context.Context, inv invocation) ([]byte, error) {
	f.record("evaluate", inv)
	if ft, ok := f.enter("evaluate"); ok && ft.err != nil { // fault{}: this call goes through
		return nil, ft.err
	}
	return f.ledger.evaluate(inv)
}

func (f *fakeEndpoint) Events(ctx context.Context, startBlock uint64, _ *privateEvents) (eventStream, error) {
	if ft, ok := f.enter("events"); ok && !ft.apply {
		return nil, ft.err
	}
	s := &fakeStream{ctx: ctx, l: f.ledger, next: startBlock, ep: f}
	f.mu.Lock()
	f.streams = append(f.streams, s)
	f.mu.Unlock()
	return s, nil
}

func (f *fakeEndpoint) Height(ctx context.Context) (uint64, error) {
	if ft, ok := f.enter("height"); ok {
		return 0, ft.err
	}
	f.ledger.mu.Lock()
	defer f.ledger.mu.Unlock()
	return uint64(len(f.ledger.blocks) + 1), nil
}

func (f *fakeEndpoint) Close() error { return nil }

// fakeStream streams the fake ledger's blocks with events from next on,
// like the gateway's ChaincodeEvents (blocks without events are skipped).
// It fails with Unavailable when its endpoint goes down or after failAfter
// responses (if > 0).
type fakeStream struct {
	ctx       context.Context
	l         *fakeLedger
	ep        *fakeEndpoint
	next      uint64
	sent      int
	failAfter int
}

func (s *fakeStream) Recv() (*blockEvents, error) {
	for {
		s.ep.mu.Lock()
		down, failAfter := s.ep.down, s.failAfter
		s.ep.mu.Unlock()
		if down || (failAfter > 0 && s.sent >= failAfter) {
			return nil, errUnavailable
		}
		s.l.mu.Lock()
		var found *blockEvents
		for _, b := range s.l.blocks {
			if b.Block >= s.next && len(b.Events) > 0 {
				found = b
				break
			}
		}
		ch := s.l.changed
		s.l.mu.Unlock()
		if found != nil {
			s.next = found.Block + 1
			s.sent++
			cp := *found
			cp.Events = append([]rawEvent(nil), found.Events...)
			return &cp, nil
		}
		select {
		case <-s.ctx.Done():
			return nil, status.FromContextError(s.ctx.Err()).Err()
		case <-ch:
		case <-time.After(20 * time.Millisecond): // re-check the endpoint
		}
	}
}

// fakeClock is simulated time: a sleep (After) returns at once and moves
// the time forward by its duration, and records it; a Timer fires when the
// time passes it (a sleep or Advance). It starts at the real time, so that
// real context deadlines bound the simulated retries (retrier.wait
// compares them with Now).
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	timers []*fakeTimer
}

type fakeTimer struct {
	due time.Time
	ch  chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.advanceLocked(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch, func() {}
}

func (c *fakeClock) Timer(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{due: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	return t.ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.timers = slices.DeleteFunc(c.timers, func(x *fakeTimer) bool { return x == t })
	}
}

// Advance moves the time forward by d, firing the timers it passes.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked(d)
}

// fireNextTimer moves the time to the earliest pending timer, if any,
// firing it.
func (c *fakeClock) fireNextTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return
	}
	next := c.timers[0].due
	for _, t := range c.timers[1:] {
		if t.due.Before(next) {
			next = t.due
		}
	}
	c.advanceLocked(max(next.Sub(c.now), 0))
}

func (c *fakeClock) advanceLocked(d time.Duration) {
	c.now = c.now.Add(d)
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool {
		if t.due.After(c.now) {
			return false
		}
		t.ch <- c.now
		return true
	})
}

func (c *fakeClock) delays() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestClient builds a Client over fake endpoints with a fake clock and a
// deterministic "random" source that always picks the top of the jitter
// range minus one.
func newTestClient(t *testing.T, eps []*fakeEndpoint, opts ...Option) (*Client, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	o := &options{log: discardLogger(), clock: clk, randN: func(n int64) int64 { return n - 1 }}
	for _, opt := range opts {
		opt(o)
	}
	list := make([]endpoint, len(eps))
	for i, e := range eps {
		list[i] = e
	}
	cfg := &Config{Channel: "ch", Chaincode: "cc", Retry: RetryPolicy{MaxAttempts: 4, BaseDelay: 10 * time.Millisecond, MaxDelay: 80 * time.Millisecond}}
	return newClient(cfg, list, o), clk
}

func lookupQuery() Option { return WithGetRequestLookup() }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
