package readmodel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/trace"
)

// ApplyFunc processes one event at its ledger position.
type ApplyFunc func(ctx context.Context, ev trace.Event, pos Position) error

// EventSource delivers the chaincode's events in ledger order. Stream calls
// apply for every event strictly after from (the zero Position: from block
// 0), one at a time, and only moves on when apply returned nil; an error
// from apply stops Stream with that error (the event will be delivered
// again by the next Stream from the checkpoint). Stream runs until ctx ends
// (then it returns ctx.Err()) or the stream fails.
//
// The API's implementation sits on the gateway's checkpointed event stream:
// the checkpoint is owned by the read model (Load returns from, Save does
// nothing), because Apply commits it in the same SQL transaction as the rows.
type EventSource interface {
	Stream(ctx context.Context, from Position, apply ApplyFunc) error
}

// HeightSource is optionally implemented by an EventSource that can tell the
// current ledger height (number of blocks); Rebuild then stops once it has
// applied the last block that existed when it started.
type HeightSource interface {
	Height(ctx context.Context) (uint64, error)
}

// Consumer keeps a Store up to date from an EventSource.
type Consumer struct {
	store   *Store
	src     EventSource
	log     *slog.Logger
	backoff time.Duration
	maxWait time.Duration

	mu      sync.Mutex
	lastErr error
}

// ConsumerOption configures a Consumer.
type ConsumerOption func(*Consumer)

// WithConsumerLogger sets the consumer's logger.
func WithConsumerLogger(l *slog.Logger) ConsumerOption { return func(c *Consumer) { c.log = l } }

// WithRetry sets the first and the longest wait between stream restarts
// (default 500ms, 30s).
func WithRetry(first, longest time.Duration) ConsumerOption {
	return func(c *Consumer) { c.backoff, c.maxWait = first, longest }
}

// NewConsumer returns a consumer applying src's events to s.
func NewConsumer(s *Store, src EventSource, opts ...ConsumerOption) *Consumer {
	c := &Consumer{store: s, src: src, log: s.log, backoff: 500 * time.Millisecond, maxWait: 30 * time.Second}
	for _, o := range opts {
		o(c)
	}
	return c
}

func (c *Consumer) apply(ctx context.Context, ev trace.Event, pos Position) error {
	_, err := c.store.Apply(ctx, ev, pos)
	return err
}

// Err returns the last stream error (nil while healthy).
func (c *Consumer) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

func (c *Consumer) setErr(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

// Run streams events from the stored checkpoint until ctx ends, restarting
// the stream with exponential backoff after a failure. It returns nil when
// ctx ends.
func (c *Consumer) Run(ctx context.Context) error {
	wait := c.backoff
	for {
		from, err := c.store.Checkpoint(ctx)
		if err == nil {
			c.log.Info("readmodel: streaming events", "from", from.String())
			err = c.src.Stream(ctx, from, func(ctx context.Context, ev trace.Event, pos Position) error {
				err := c.apply(ctx, ev, pos)
				if err == nil {
					wait = c.backoff
					c.setErr(nil)
				}
				return err
			})
		}
		if ctx.Err() != nil {
			return nil
		}
		c.setErr(err)
		c.log.Warn("readmodel: event stream stopped; restarting", "err", err, "wait", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(wait*2, c.maxWait)
	}
}

// RebuildResult reports a rebuild.
type RebuildResult struct {
	Events int
	Last   Position
}

// Rebuild drops the read model, re-creates it and replays the ledger from
// block 0. It returns once caught up: when src is a HeightSource, after the
// last block that existed at the start was applied; in any case after idle
// passed without a new event (default 5s).
func Rebuild(ctx context.Context, s *Store, src EventSource, idle time.Duration) (RebuildResult, error) {
	if idle <= 0 {
		idle = 5 * time.Second
	}
	if err := s.Reset(ctx); err != nil {
		return RebuildResult{}, fmt.Errorf("readmodel: rebuild: %w", err)
	}
	var target uint64
	hasTarget := false
	if h, ok := src.(HeightSource); ok {
		n, err := h.Height(ctx)
		if err != nil {
			return RebuildResult{}, fmt.Errorf("readmodel: rebuild: ledger height: %w", err)
		}
		if n > 0 {
			target, hasTarget = n-1, true
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		res   RebuildResult
		done  = errors.New("caught up")
		ticks = make(chan struct{}, 1)
	)
	errc := make(chan error, 1)
	go func() {
		errc <- src.Stream(sctx, Position{}, func(ctx context.Context, ev trace.Event, pos Position) error {
			if _, err := s.Apply(ctx, ev, pos); err != nil {
				return err
			}
			mu.Lock()
			res.Events++
			res.Last = pos
			mu.Unlock()
			select {
			case ticks <- struct{}{}:
			default:
			}
			if hasTarget && pos.Block >= target {
				return done
			}
			return nil
		})
	}()
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		select {
		case err := <-errc:
			mu.Lock()
			defer mu.Unlock()
			if errors.Is(err, done) || (err != nil && sctx.Err() != nil && ctx.Err() == nil) {
				return res, nil
			}
			if err == nil {
				return res, nil
			}
			return res, fmt.Errorf("readmodel: rebuild: %w", err)
		case <-ticks:
			timer.Reset(idle) // Go ≥ 1.23: Reset drops a pending expiry
		case <-timer.C:
			cancel() // idle: caught up
		case <-ctx.Done():
			cancel()
			<-errc
			return res, ctx.Err()
		}
	}
}
