package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// appendBlock adds a block with one event per tx ID (and a gap block
// without events first when gap is true).
func (l *fakeLedger) appendBlock(gap bool, txIDs ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if gap {
		l.blocks = append(l.blocks, &blockEvents{Block: uint64(len(l.blocks) + 1)})
	}
	be := &blockEvents{Block: uint64(len(l.blocks) + 1)}
	for _, id := range txIDs {
		be.Events = append(be.Events, rawEvent{TxID: id, Name: "Put", Payload: []byte(`{"tx":"` + id + `"}`)})
	}
	l.blocks = append(l.blocks, be)
	l.notifyLocked()
}

// ledgerOf builds a ledger with blocks of 1..3 events; it returns the tx
// IDs in ledger order.
func ledgerOf(blocks int) (*fakeLedger, []string) {
	l := newFakeLedger()
	var all []string
	for b := range blocks {
		var ids []string
		for i := range b%3 + 1 {
			ids = append(ids, fmt.Sprintf("b%d-t%d", b, i))
		}
		l.appendBlock(b%4 == 3, ids...)
		all = append(all, ids...)
	}
	return l, all
}

// consumer records events; it cancels its context after stopAfter events
// (simulating a crash) when stopAfter > 0.
type consumer struct {
	mu        sync.Mutex
	seen      []string
	cancel    context.CancelFunc
	stopAfter int
	failOn    string
}

func (c *consumer) handle(_ context.Context, ev Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.TxID == c.failOn {
		return errors.New("read model unavailable")
	}
	c.seen = append(c.seen, ev.TxID)
	if c.stopAfter > 0 && len(c.seen) == c.stopAfter {
		c.cancel()
	}
	return nil
}

func (c *consumer) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seen...)
}

// runUntil runs Events until the consumer has seen want events (then
// cancels) or the timeout.
func runUntil(t *testing.T, cl *Client, cp Checkpointer, c *consumer, want int, opts ...EventsOption) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.cancel = cancel
	if c.stopAfter == 0 || c.stopAfter > want {
		c.stopAfter = want
	}
	opts = append([]EventsOption{WithHeightProbe(0)}, opts...)
	return cl.Events(ctx, cp, c.handle, opts...)
}

func TestEventsResumeAfterCrashNoGapNoDuplicate(t *testing.T) {
	l, all := ledgerOf(12)
	a := newFakeEndpoint("a:1", l)
	cl, _ := newTestClient(t, []*fakeEndpoint{a})
	cp := &MemoryCheckpointer{} // kept across the simulated crashes

	var consumed []string
	// Crash after 5 events, then after 4 more (mid-block), then run to the end.
	for _, n := range []int{5, 4, len(all) - 9} {
		c := &consumer{}
		err := runUntil(t, cl, cp, c, n)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("run %d: Events = %v, want context.Canceled after the simulated crash; got %v", n, err, c.got())
		}
		consumed = append(consumed, c.got()...)
	}
	if fmt.Sprint(consumed) != fmt.Sprint(all) {
		t.Fatalf("consumed %d events\n %v\nwant %d\n %v", len(consumed), consumed, len(all), all)
	}

	// Replay from block 0 on demand delivers everything again.
	c := &consumer{}
	if err := runUntil(t, cl, cp, c, len(all), FromBlock(0)); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if fmt.Sprint(c.got()) != fmt.Sprint(all) {
		t.Fatalf("replay got %v", c.got())
	}
}

func TestEventsReconnectWithFailover(t *testing.T) {
	l, all := ledgerOf(9)
	a, b := newFakeEndpoint("a:1", l), newFakeEndpoint("b:1", l)
	m, _ := NewMetrics(nil)
	cl, _ := newTestClient(t, []*fakeEndpoint{a, b}, WithMetrics(m))
	cp := &MemoryCheckpointer{}

	c := &consumer{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.cancel = cancel
	done := make(chan error, 1)
	go func() {
		done <- cl.Events(ctx, cp, func(ctx context.Context, ev Event) error {
			err := c.handle(ctx, ev)
			if len(c.got()) == 4 {
				a.setDown(true) // the connected peer dies mid-stream
			}
			if len(c.got()) == len(all)+2 {
				cancel()
			}
			return err
		}, WithHeightProbe(0), WithReadAhead(1))
	}()
	// New events arrive while the stream runs on b.
	deadline := time.Now().Add(3 * time.Second)
	for len(c.got()) < len(all) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	l.appendBlock(false, "late-1", "late-2")
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Events = %v", err)
	}
	want := append(append([]string(nil), all...), "late-1", "late-2")
	if fmt.Sprint(c.got()) != fmt.Sprint(want) {
		t.Fatalf("got\n %v\nwant\n %v", c.got(), want)
	}
	if b.callCount("events") == 0 {
		t.Error("stream never moved to b")
	}
	if testutil.ToFloat64(m.StreamReconnects.WithLabelValues("cc")) < 1 || testutil.ToFloat64(m.StreamEvents.WithLabelValues("cc")) != float64(len(want)) {
		t.Errorf("metrics: reconnects %v, events %v", testutil.ToFloat64(m.StreamReconnects.WithLabelValues("cc")), testutil.ToFloat64(m.StreamEvents.WithLabelValues("cc")))
	}
	last, _ := cp.Load(context.Background())
	if last.TxID != "late-2" || last.Index != 1 {
		t.Errorf("checkpoint = %+v, want late-2 at index 1", last)
	}
}

func TestEventsResumeMidBlock(t *testing.T) {
	l := newFakeLedger()
	l.appendBlock(false, "t0")
	l.appendBlock(true, "t1", "t2", "t3") // block 3
	l.appendBlock(false, "t4")
	cl, _ := newTestClient(t, []*fakeEndpoint{newFakeEndpoint("a:1", l)})
	cp := &MemoryCheckpointer{}
	_ = cp.Save(context.Background(), Checkpoint{Block: 3, Index: 1, TxID: "t2"})
	c := &consumer{}
	if err := runUntil(t, cl, cp, c, 2); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if got := fmt.Sprint(c.got()); got != "[t3 t4]" {
		t.Fatalf("got %s, want [t3 t4]", got)
	}
}

func TestEventsCheckpointMismatch(t *testing.T) {
	l := newFakeLedger()
	l.appendBlock(false, "t0")
	l.appendBlock(true, "t1", "t2") // block 3
	tests := []struct {
		name string
		cp   Checkpoint
	}{
		{"other transaction at the index", Checkpoint{Block: 3, Index: 1, TxID: "other"}},
		{"index beyond the block", Checkpoint{Block: 3, Index: 5, TxID: "t2"}},
		{"block without events", Checkpoint{Block: 2, Index: 0, TxID: "t1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl, _ := newTestClient(t, []*fakeEndpoint{newFakeEndpoint("a:1", l)})
			cp := &MemoryCheckpointer{}
			_ = cp.Save(context.Background(), tt.cp)
			c := &consumer{}
			err := runUntil(t, cl, cp, c, 10)
			if !errors.Is(err, ErrCheckpointMismatch) {
				t.Fatalf("Events = %v, want ErrCheckpointMismatch", err)
			}
			if len(c.got()) != 0 {
				t.Errorf("delivered %v before detecting the mismatch", c.got())
			}
		})
	}
}

func TestEventsHandlerErrorStopsWithoutCheckpoint(t *testing.T) {
	l, _ := ledgerOf(3) // b0-t0 | b1-t0 b1-t1 | b2-t0 b2-t1 b2-t2
	cl, _ := newTestClient(t, []*fakeEndpoint{newFakeEndpoint("a:1", l)})
	cp := &MemoryCheckpointer{}
	c := &consumer{failOn: "b1-t1"}
	err := runUntil(t, cl, cp, c, 10)
	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("Events = %v, want the handler's error", err)
	}
	last, _ := cp.Load(context.Background())
	if last.TxID != "b1-t0" {
		t.Fatalf("checkpoint = %+v, want the event before the failure", last)
	}
	// The consumer recovers; the failed event comes again, nothing lost.
	c = &consumer{}
	if err := runUntil(t, cl, cp, c, 4); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if got := fmt.Sprint(c.got()); got != "[b1-t1 b2-t0 b2-t1 b2-t2]" {
		t.Fatalf("after recovery got %s", got)
	}
}

// sqlLike is a consumer-owned checkpoint: the handler stores its rows and
// the position together; Save does nothing.
type sqlLike struct {
	mu   sync.Mutex
	rows []string
	pos  Checkpoint
}

func (s *sqlLike) Load(context.Context) (Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos, nil
}
func (s *sqlLike) Save(context.Context, Checkpoint) error { return nil }
func (s *sqlLike) apply(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows = append(s.rows, ev.TxID)
	s.pos = ev.Checkpoint() // same "transaction" as the row
}

func TestEventsConsumerOwnedCheckpoint(t *testing.T) {
	l, all := ledgerOf(6)
	cl, _ := newTestClient(t, []*fakeEndpoint{newFakeEndpoint("a:1", l)})
	db := &sqlLike{}
	for _, n := range []int{3, len(all) - 3} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		count := 0
		err := cl.Events(ctx, db, func(_ context.Context, ev Event) error {
			db.apply(ev)
			if count++; count == n {
				cancel()
			}
			return nil
		}, WithHeightProbe(0))
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(db.rows) != fmt.Sprint(all) {
		t.Fatalf("rows %v, want %v", db.rows, all)
	}
}

func TestEventsStreamLagGauge(t *testing.T) {
	l, _ := ledgerOf(4) // blocks 1..5 (block 4 is empty)
	for range 3 {
		l.appendBlock(false) // blocks without events
	}
	a := newFakeEndpoint("a:1", l)
	m, _ := NewMetrics(nil)
	list := []endpoint{a}
	cl := newClient(&Config{Channel: "ch", Chaincode: "cc"}, list, &options{log: discardLogger(), metrics: m})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- cl.Events(ctx, &MemoryCheckpointer{}, func(context.Context, Event) error { return nil }, WithHeightProbe(10*time.Millisecond))
	}()
	// Height is 9 (blocks 1..8 plus the genesis block 0): latest block 8,
	// last event in block 5, so the lag settles at 3.
	deadline := time.Now().Add(3 * time.Second)
	var lag float64
	for time.Now().Before(deadline) {
		if lag = testutil.ToFloat64(m.StreamLagBlocks.WithLabelValues("cc")); lag == 3 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if lag != 3 {
		t.Fatalf("stream lag = %v, want 3", lag)
	}
	if a.callCount("height") == 0 {
		t.Error("height never probed")
	}
}
