package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// recorder is a FlushFunc that records batches and answers item*10.
type recorder struct {
	mu       sync.Mutex
	batches  [][]int
	ids      map[string]bool
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	hold     chan struct{} // when not nil, flushes wait for it
	err      error
}

func (r *recorder) flush(ctx context.Context, batchID string, items []int) ([]int, error) {
	n := r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	for {
		m := r.maxSeen.Load()
		if n <= m || r.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if r.hold != nil {
		<-r.hold
	}
	r.mu.Lock()
	r.batches = append(r.batches, append([]int(nil), items...))
	if r.ids == nil {
		r.ids = map[string]bool{}
	}
	r.ids[batchID] = true
	r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	out := make([]int, len(items))
	for i, it := range items {
		out[i] = it * 10
	}
	return out, nil
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []int
	for _, b := range r.batches {
		s = append(s, len(b))
	}
	return s
}

func TestBatcherBounds(t *testing.T) {
	tests := []struct {
		name      string
		opts      []BatchOption
		size      func(int) int
		items     int
		wantSizes []int
	}{
		{"count", []BatchOption{BatchMaxItems(3), BatchMaxDelay(time.Hour)}, nil, 7, []int{3, 3, 1}},
		{"bytes", []BatchOption{BatchMaxItems(100), BatchMaxBytes(10), BatchMaxDelay(time.Hour)}, func(int) int { return 4 }, 5, []int{2, 2, 1}},
		{"json bytes by default", []BatchOption{BatchMaxBytes(5), BatchMaxDelay(time.Hour)}, nil, 4, []int{2, 2}}, // "10" is 2 bytes
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			m, _ := NewMetrics(nil)
			b := NewBatcher(r.flush, tt.size, append(tt.opts, BatchMetrics(m), BatchName("t"))...)
			ctx := context.Background()
			var ps []*Pending[int]
			for i := range tt.items {
				p, err := b.Add(ctx, i+10)
				if err != nil {
					t.Fatal(err)
				}
				ps = append(ps, p)
			}
			if err := b.Close(ctx); err != nil {
				t.Fatal(err)
			}
			for i, p := range ps {
				got, err := p.Wait(ctx)
				if err != nil || got != (i+10)*10 {
					t.Errorf("item %d: %d, %v; want %d", i, got, err, (i+10)*10)
				}
			}
			if got := r.sizes(); fmt.Sprint(got) != fmt.Sprint(tt.wantSizes) {
				t.Errorf("batch sizes %v, want %v", got, tt.wantSizes)
			}
			if len(r.ids) != len(tt.wantSizes) {
				t.Errorf("%d distinct batch IDs for %d batches", len(r.ids), len(tt.wantSizes))
			}
			if n := testutil.CollectAndCount(m.BatchItems); n != 1 {
				t.Errorf("batch metrics: %d series", n)
			}
			if _, err := b.Add(ctx, 1); !errors.Is(err, ErrBatcherClosed) {
				t.Errorf("Add after Close = %v", err)
			}
		})
	}
}

func TestBatcherMaxDelay(t *testing.T) {
	r := &recorder{}
	b := NewBatcher(r.flush, nil, BatchMaxItems(100), BatchMaxDelay(30*time.Millisecond))
	defer b.Close(context.Background())
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := b.Do(ctx, 4)
	if err != nil || got != 40 {
		t.Fatalf("Do = %d, %v", got, err)
	}
	if el := time.Since(start); el < 25*time.Millisecond {
		t.Errorf("flushed after %v, before the 30ms delay", el)
	}
	if fmt.Sprint(r.sizes()) != "[1]" {
		t.Errorf("sizes %v", r.sizes())
	}
}

func TestBatcherErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("flush error reaches every item", func(t *testing.T) {
		r := &recorder{err: errors.New("ledger down")}
		b := NewBatcher(r.flush, nil, BatchMaxItems(2))
		p1, _ := b.Add(ctx, 1)
		p2, _ := b.Add(ctx, 2)
		for _, p := range []*Pending[int]{p1, p2} {
			if _, err := p.Wait(ctx); err == nil || err.Error() != "ledger down" {
				t.Errorf("err = %v", err)
			}
		}
		_ = b.Close(ctx)
	})
	t.Run("too large", func(t *testing.T) {
		b := NewBatcher((&recorder{}).flush, func(int) int { return 100 }, BatchMaxBytes(10))
		if _, err := b.Add(ctx, 1); !errors.Is(err, ErrItemTooLarge) {
			t.Errorf("err = %v", err)
		}
		_ = b.Close(ctx)
	})
	t.Run("wrong outcome count", func(t *testing.T) {
		b := NewBatcher(func(context.Context, string, []int) ([]int, error) { return []int{1}, nil }, nil, BatchMaxItems(2))
		_, _ = b.Add(ctx, 1)
		p, _ := b.Add(ctx, 2)
		if _, err := p.Wait(ctx); err == nil {
			t.Error("no error for a short outcome list")
		}
		_ = b.Close(ctx)
	})
	t.Run("panicking flush", func(t *testing.T) {
		b := NewBatcher(func(context.Context, string, []int) ([]int, error) { panic("boom") }, nil, BatchMaxItems(1))
		if _, err := b.Do(ctx, 1); err == nil {
			t.Error("no error from a panicking flush")
		}
		_ = b.Close(ctx)
	})
}

func TestBatcherInFlightBoundAndClose(t *testing.T) {
	r := &recorder{hold: make(chan struct{})}
	b := NewBatcher(r.flush, nil, BatchMaxItems(1), BatchMaxInFlight(2), BatchMaxDelay(time.Hour))
	ctx := context.Background()
	var ps []*Pending[int]
	for i := range 2 {
		p, err := b.Add(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	// Both slots are busy: a third full batch makes Add wait, bounded by its
	// context; the item is still flushed later.
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	p3, err := b.Add(short, 2)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 25*time.Millisecond {
		t.Error("Add did not wait for a flush slot")
	}
	ps = append(ps, p3)

	closed := make(chan error, 1)
	go func() { closed <- b.Close(ctx) }()
	select {
	case <-closed:
		t.Fatal("Close returned while flushes were still running")
	case <-time.After(20 * time.Millisecond):
	}
	close(r.hold)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		select {
		case <-p.Done():
		default:
			t.Fatalf("item %d not done after Close", i)
		}
	}
	if r.maxSeen.Load() > 2 {
		t.Errorf("%d flushes at once, bound 2", r.maxSeen.Load())
	}

	// Close with an expired context reports it.
	r2 := &recorder{hold: make(chan struct{})}
	b2 := NewBatcher(r2.flush, nil, BatchMaxItems(1))
	_, _ = b2.Add(ctx, 1)
	expired, cancel2 := context.WithCancel(ctx)
	cancel2()
	if err := b2.Close(expired); !errors.Is(err, context.Canceled) {
		t.Errorf("Close = %v", err)
	}
	close(r2.hold)
}
