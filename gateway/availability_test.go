package gateway

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Availability under ordering faults (issue 21), on fakes with simulated
// time: a transaction the orderers accepted and lost is looked up and run
// again within the caller's deadline; retries end with the deadline, not a
// count; the ordering service's failures never make the client leave its
// healthy peer; a client comes back to its home peer once it is healthy.

var errNoLeader = status.Error(codes.Unavailable, "no orderers could successfully process transaction")

func TestLostTransactionsAreRunAgainWithinTheDeadline(t *testing.T) {
	l := newFakeLedger()
	a, b := newFakeEndpoint("a:1", l), newFakeEndpoint("b:1", l)
	// The orderers accept the first two transactions and lose them.
	a.addFault("submit", fault{}, fault{})
	m, _ := NewMetrics(nil)
	c, clk := newTestClient(t, []*fakeEndpoint{a, b}, lookupQuery(), WithMetrics(m))
	passCommitWindows(t, clk, l)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	start := clk.Now()
	var rc Receipt
	var got putResult
	if err := c.Submit(ctx, "Put", "r", put("r"), &got, WithReceipt(&rc)); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if rc.Endorsements != 3 || rc.FromLookup || l.appliedCount("r") != 1 || got.Key != "k-r" {
		t.Fatalf("receipt %+v, applied %d, result %+v: want the third transaction committed, once", rc, l.appliedCount("r"), got)
	}
	if n := testutil.ToFloat64(m.Retries.WithLabelValues("Put", "commit_window_not_found")); n != 2 {
		t.Errorf("commit-window retries = %v, want 2", n)
	}
	if a.suspects != 0 || c.pool.current() != a {
		t.Errorf("the healthy peer was blamed for the orderers (suspects %d)", a.suspects)
	}
	// Two commit windows of simulated time, no backoff before running a
	// lost request again.
	if d := clk.Now().Sub(start); d != 2*DefaultTimeouts().CommitWindow {
		t.Errorf("simulated time %v, want the two windows only", d)
	}
}

// The lost transaction was not lost after all: it commits after its
// window, while the second transaction of the request is in flight. The
// second then fails its read of the request key, and the third returns the
// first one's outcome: applied exactly once.
func TestLateCommitOfTheFirstTransactionAppliesTheRequestOnce(t *testing.T) {
	l := newFakeLedger()
	a := &lateOrderer{fakeEndpoint: newFakeEndpoint("a:1", l)}
	c, clk := newTestClient(t, []*fakeEndpoint{a.fakeEndpoint}, lookupQuery())
	c.pool = newPool([]endpoint{a}, discardLogger(), nil, clk, nil)
	passCommitWindows(t, clk, l)
	var rc Receipt
	var got putResult
	if err := c.Submit(context.Background(), "Put", "r", put("r"), &got, WithReceipt(&rc)); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if n := l.appliedCount("r"); n != 1 {
		t.Fatalf("applied %d times", n)
	}
	if mustJSON(t, got) != string(l.outcomes["r"]) || rc.Endorsements != 3 {
		t.Fatalf("result %s after %d endorsements, want the first transaction's outcome %s after 3", mustJSON(t, got), rc.Endorsements, l.outcomes["r"])
	}
}

// lateOrderer holds back the first transaction it is given and orders it
// just before the next one.
type lateOrderer struct {
	*fakeEndpoint
	mu   sync.Mutex
	held *endorsedTx
	n    int
}

func (e *lateOrderer) Submit(ctx context.Context, tx *endorsedTx) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	switch {
	case e.n == 1:
		e.held = tx // accepted; ordered late
		return nil
	case e.held != nil:
		e.ledger.order(e.held)
		e.held = nil
	}
	return e.fakeEndpoint.Submit(ctx, tx)
}

func TestRetriesEndWithTheDeadlineNotACount(t *testing.T) {
	t.Run("ordering back after 20 tries: committed", func(t *testing.T) {
		l := newFakeLedger()
		a, b := newFakeEndpoint("a:1", l), newFakeEndpoint("b:1", l)
		for range 20 {
			a.addFault("submit", fault{err: errNoLeader})
		}
		c, clk := newTestClient(t, []*fakeEndpoint{a, b}) // MaxAttempts 4
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var rc Receipt
		if err := c.Submit(ctx, "Put", "r", put("r"), nil, WithReceipt(&rc)); err != nil {
			t.Fatalf("Submit: %v", err)
		}
		if a.callCount("submit") != 21 || rc.Endorsements != 1 || b.callCount("submit")+b.callCount("endorse") != 0 || a.suspects != 0 {
			t.Errorf("submits on a %d, endorsements %d, calls on b %d, a suspect %d times: want the same transaction resent to a until ordering is back",
				a.callCount("submit"), rc.Endorsements, b.callCount("submit")+b.callCount("endorse"), a.suspects)
		}
		// Every retry on the same endpoint waited a backoff (no hot loop
		// against the orderers), capped by MaxDelay.
		if d := clk.delays(); len(d) != 20 || d[0] == 0 || d[19] != 80*time.Millisecond-1 {
			t.Errorf("delays %v", d)
		}
	})
	t.Run("ordering never back: unavailable at the deadline, not before", func(t *testing.T) {
		l := newFakeLedger()
		a := newFakeEndpoint("a:1", l)
		a.setAlways("submit", fault{err: errNoLeader})
		c, clk := newTestClient(t, []*fakeEndpoint{a})
		start := clk.Now()
		ctx, cancel := context.WithDeadline(context.Background(), start.Add(10*time.Second))
		defer cancel()
		err := c.Submit(ctx, "Put", "r", put("r"), nil)
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnknownOutcome) || !Retryable(err) {
			t.Fatalf("err = %v, want unavailable (nothing was ordered)", err)
		}
		if spent := clk.Now().Sub(start); spent < 9*time.Second || spent > 10*time.Second {
			t.Errorf("gave up after %v of simulated time, want close to the 10 s deadline", spent)
		}
		if n := a.callCount("submit"); n < 100 {
			t.Errorf("only %d tries in 10 s", n)
		}
	})
	t.Run("a count when the caller asks for one", func(t *testing.T) {
		l := newFakeLedger()
		a := newFakeEndpoint("a:1", l)
		a.setAlways("submit", fault{err: errNoLeader})
		c, _ := newTestClient(t, []*fakeEndpoint{a})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Submit(ctx, "Put", "r", put("r"), nil, WithMaxAttempts(3)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if n := a.callCount("submit"); n != 9 {
			t.Errorf("%d submits, want 3 of each of 3 endorsements", n)
		}
	})
}

// An ambiguous submit followed by the end of the budget: the lookup kept
// in reserve finds the request the orderers did commit.
func TestOutOfTimeTheReserveLooksTheRequestUp(t *testing.T) {
	l := newFakeLedger()
	a := newFakeEndpoint("a:1", l)
	a.setAlways("status", fault{err: errUnavailable}) // never confirms
	c, _ := newTestClient(t, []*fakeEndpoint{a}, lookupQuery())
	c.timeouts.LookupReserve = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var rc Receipt
	if err := c.Submit(ctx, "Put", "r", put("r"), nil, WithReceipt(&rc)); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if !rc.FromLookup || l.appliedCount("r") != 1 {
		t.Fatalf("receipt %+v, applied %d", rc, l.appliedCount("r"))
	}
}

func TestClientComesBackToItsHomePeer(t *testing.T) {
	l := newFakeLedger()
	home, other := &laggingPeer{fakeEndpoint: newFakeEndpoint("home:1", l)}, newFakeEndpoint("other:1", l)
	clk := newFakeClock()
	c := newClient(&Config{Channel: "ch", Chaincode: "cc"}, []endpoint{home, other},
		&options{log: discardLogger(), clock: clk, randN: func(n int64) int64 { return 0 }, getRequest: true})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	if err := c.Submit(ctx, "Put", "r1", put("r1"), nil); err != nil {
		t.Fatal(err)
	}
	home.setDown(true)
	if err := c.Submit(ctx, "Put", "r2", put("r2"), nil); err != nil {
		t.Fatal(err)
	}
	if c.pool.current() != other {
		t.Fatal("did not fail over")
	}
	// Home is back but has not caught up with the blocks this client saw
	// committed, then its chaincode fails: not yet.
	home.setDown(false)
	home.setBehind(2)
	probe(t, c, clk, 1)
	home.setBehind(0)
	home.setAlways("evaluate", fault{err: status.Error(codes.Aborted, "failed to evaluate: could not launch chaincode")})
	probe(t, c, clk, 2)
	if c.pool.current() != other {
		t.Fatal("went home to a peer that is behind or whose chaincode fails")
	}
	// Ready: home at the next probe, without any call in between.
	home.clearAlways("evaluate")
	start := clk.Now()
	probe(t, c, clk, 3)
	c.pool.mu.Lock()
	atHome := c.pool.cur == 0
	c.pool.mu.Unlock()
	if !atHome {
		t.Fatal("did not come back home")
	}
	if d := clk.Now().Sub(start); d > 5*time.Second {
		t.Errorf("came home after %v, want within 5 s", d)
	}
	// Home is used for the next calls.
	before := home.callCount("endorse")
	if err := c.Submit(ctx, "Put", "r3", put("r3"), nil); err != nil || home.callCount("endorse") != before+1 {
		t.Fatalf("next submit not on home: %v", err)
	}
}

// probe moves the simulated time by one probe interval and waits until
// the pool's home loop has made its n-th probe.
func probe(t *testing.T, c *Client, clk *fakeClock, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.pool.mu.Lock()
		done := c.pool.probes >= n
		c.pool.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("probe %d not made", n)
		}
		clk.fireNextTimer()
		time.Sleep(time.Millisecond)
	}
}

// laggingPeer reports a height some blocks behind the ledger.
type laggingPeer struct {
	*fakeEndpoint
	mu     sync.Mutex
	behind uint64
}

func (p *laggingPeer) setBehind(n uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.behind = n
}

func (p *laggingPeer) Height(ctx context.Context) (uint64, error) {
	h, err := p.fakeEndpoint.Height(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	return h - p.behind, err
}
