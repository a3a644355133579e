package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrBatcherClosed is returned by Add after Close.
var ErrBatcherClosed = errors.New("gateway: batcher closed")

// ErrItemTooLarge is returned by Add for an item bigger than the byte bound
// of a whole batch.
var ErrItemTooLarge = errors.New("gateway: item larger than a batch")

// FlushFunc submits one batch, typically as one transaction, and returns one
// outcome per item, in order. batchID is unique per batch, fit to be the
// transaction's request ID (a retried flush keeps it). A non-nil error is
// every item's outcome.
type FlushFunc[T, R any] func(ctx context.Context, batchID string, items []T) ([]R, error)

// BatchOption configures a Batcher.
type BatchOption func(*batchOptions)

type batchOptions struct {
	maxItems     int
	maxBytes     int
	maxDelay     time.Duration
	maxInFlight  int
	flushTimeout time.Duration
	name         string
	metrics      *Metrics
	clock        clock
}

// BatchMaxItems bounds the items of a batch (default 100).
func BatchMaxItems(n int) BatchOption { return func(o *batchOptions) { o.maxItems = n } }

// BatchMaxBytes bounds the summed size of a batch's items (default 512 KiB;
// Fabric's orderer refuses transactions over its AbsoluteMaxBytes).
func BatchMaxBytes(n int) BatchOption { return func(o *batchOptions) { o.maxBytes = n } }

// BatchMaxDelay bounds how long the first item of a batch waits for others
// (default 200ms).
func BatchMaxDelay(d time.Duration) BatchOption { return func(o *batchOptions) { o.maxDelay = d } }

// BatchMaxInFlight bounds the flushes running at once (default 1: batches
// are submitted one after the other; Add blocks while a full batch waits).
func BatchMaxInFlight(n int) BatchOption { return func(o *batchOptions) { o.maxInFlight = n } }

// BatchFlushTimeout bounds one flush (default 2m).
func BatchFlushTimeout(d time.Duration) BatchOption {
	return func(o *batchOptions) { o.flushTimeout = d }
}

// BatchName names the batcher in metrics.
func BatchName(name string) BatchOption { return func(o *batchOptions) { o.name = name } }

// BatchMetrics records batch sizes into m.
func BatchMetrics(m *Metrics) BatchOption { return func(o *batchOptions) { o.metrics = m } }

// Batcher packs items added by many callers into batches bounded by item
// count, bytes and delay, hands each full (or timed-out) batch to a
// FlushFunc and returns each caller its item's outcome.
type Batcher[T, R any] struct {
	flush FlushFunc[T, R]
	size  func(T) (int, error)
	o     batchOptions
	sem   chan struct{}

	mu      sync.Mutex
	cur     *batch[T, R]
	closed  bool
	flushes sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
}

type batch[T, R any] struct {
	items   []T
	pending []*Pending[R]
	bytes   int
	stop    func()        // stops the delay timer
	sealed  chan struct{} // closed when the batch leaves for flushing
}

// Pending is the future outcome of one added item.
type Pending[R any] struct {
	done   chan struct{}
	result R
	err    error
}

// Done is closed when the outcome is known.
func (p *Pending[R]) Done() <-chan struct{} { return p.done }

// Wait returns the item's outcome, or ctx's error if ctx ends first (the
// item stays in its batch).
func (p *Pending[R]) Wait(ctx context.Context) (R, error) {
	select {
	case <-p.done:
		return p.result, p.err
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	}
}

// NewBatcher returns a Batcher flushing with flush. size measures an item
// for the byte bound; nil means the length of its JSON encoding.
func NewBatcher[T, R any](flush FlushFunc[T, R], size func(T) int, opts ...BatchOption) *Batcher[T, R] {
	o := batchOptions{maxItems: 100, maxBytes: 512 << 10, maxDelay: 200 * time.Millisecond, maxInFlight: 1, flushTimeout: 2 * time.Minute, name: "batch"}
	for _, opt := range opts {
		opt(&o)
	}
	if o.clock == nil {
		o.clock = realClock{}
	}
	if o.maxItems < 1 {
		o.maxItems = 1
	}
	if o.maxInFlight < 1 {
		o.maxInFlight = 1
	}
	b := &Batcher[T, R]{flush: flush, o: o, sem: make(chan struct{}, o.maxInFlight)}
	if size != nil {
		b.size = func(t T) (int, error) { return size(t), nil }
	} else {
		b.size = func(t T) (int, error) {
			j, err := json.Marshal(t)
			return len(j), err
		}
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

// Add queues item and returns its future outcome. It blocks only while the
// flushes in flight are at their bound and item's batch is full; ctx bounds
// that wait.
func (b *Batcher[T, R]) Add(ctx context.Context, item T) (*Pending[R], error) {
	n, err := b.size(item)
	if err != nil {
		return nil, fmt.Errorf("gateway: batch item size: %w", err)
	}
	if b.o.maxBytes > 0 && n > b.o.maxBytes {
		return nil, fmt.Errorf("%w: %d bytes, bound %d", ErrItemTooLarge, n, b.o.maxBytes)
	}
	p := &Pending[R]{done: make(chan struct{})}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrBatcherClosed
	}
	var sealed []*batch[T, R]
	if b.cur != nil && b.o.maxBytes > 0 && b.cur.bytes+n > b.o.maxBytes {
		sealed = append(sealed, b.sealLocked())
	}
	if b.cur == nil {
		c, stop := b.o.clock.After(b.o.maxDelay)
		cur := &batch[T, R]{stop: stop, sealed: make(chan struct{})}
		b.cur = cur
		go func() {
			select {
			case <-c:
				b.timeout(cur)
			case <-cur.sealed:
			case <-b.ctx.Done():
			}
		}()
	}
	b.cur.items = append(b.cur.items, item)
	b.cur.pending = append(b.cur.pending, p)
	b.cur.bytes += n
	if len(b.cur.items) >= b.o.maxItems {
		sealed = append(sealed, b.sealLocked())
	}
	b.mu.Unlock()

	for i, s := range sealed {
		if err := b.start(ctx, s); err != nil {
			// ctx ended while waiting for a flush slot: the batches still go,
			// in the background, so that no added item is lost.
			for _, rest := range sealed[i:] {
				b.startAsync(rest)
			}
			return p, nil
		}
	}
	return p, nil
}

// Do adds item and waits for its outcome.
func (b *Batcher[T, R]) Do(ctx context.Context, item T) (R, error) {
	p, err := b.Add(ctx, item)
	if err != nil {
		var zero R
		return zero, err
	}
	return p.Wait(ctx)
}

// sealLocked takes the current batch out for flushing.
func (b *Batcher[T, R]) sealLocked() *batch[T, R] {
	s := b.cur
	b.cur = nil
	s.stop()
	close(s.sealed)
	b.flushes.Add(1)
	return s
}

// timeout flushes batch s when its delay expires, if it is still open.
func (b *Batcher[T, R]) timeout(s *batch[T, R]) {
	b.mu.Lock()
	if b.cur != s {
		b.mu.Unlock()
		return
	}
	b.sealLocked()
	b.mu.Unlock()
	b.startAsync(s)
}

// start waits for a flush slot (bounded by ctx) and runs the flush.
func (b *Batcher[T, R]) start(ctx context.Context, s *batch[T, R]) error {
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	go b.run(s)
	return nil
}

func (b *Batcher[T, R]) startAsync(s *batch[T, R]) {
	go func() {
		b.sem <- struct{}{}
		b.run(s)
	}()
}

// run flushes s (holding a slot) and delivers the outcomes.
func (b *Batcher[T, R]) run(s *batch[T, R]) {
	defer b.flushes.Done()
	defer func() { <-b.sem }()
	b.o.metrics.batch(b.o.name, len(s.items), s.bytes)
	ctx, cancel := context.WithTimeout(context.Background(), b.o.flushTimeout)
	defer cancel()
	results, err := b.callFlush(ctx, s.items)
	if err == nil && len(results) != len(s.items) {
		err = fmt.Errorf("gateway: batch flush returned %d outcomes for %d items", len(results), len(s.items))
	}
	for i, p := range s.pending {
		if err != nil {
			p.err = err
		} else {
			p.result = results[i]
		}
		close(p.done)
	}
}

func (b *Batcher[T, R]) callFlush(ctx context.Context, items []T) (res []R, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gateway: batch flush panicked: %v", r)
		}
	}()
	return b.flush(ctx, newBatchID(), items)
}

func newBatchID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "batch-" + hex.EncodeToString(b[:])
}

// Close flushes the open batch, waits for every flush to finish (or ctx to
// end) and refuses further Adds.
func (b *Batcher[T, R]) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	var s *batch[T, R]
	if b.cur != nil {
		s = b.sealLocked()
	}
	b.mu.Unlock()
	if s != nil {
		b.startAsync(s)
	}
	done := make(chan struct{})
	go func() {
		b.flushes.Wait()
		close(done)
	}()
	select {
	case <-done:
		b.cancel()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gateway: batcher close: %w", ctx.Err())
	}
}
