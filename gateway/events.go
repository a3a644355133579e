package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// Event is one chaincode event. The PharmaTrace chaincode emits one per
// transaction: Name is the transaction type and Payload its JSON.
type Event struct {
	Name    string
	Payload []byte
	TxID    string
	Block   uint64
	// Index is the event's position among the chaincode's events of its
	// block (0-based, in transaction order).
	Index int
}

// Checkpoint returns the position of e, to be saved once e is processed.
func (e Event) Checkpoint() Checkpoint {
	return Checkpoint{Block: e.Block, Index: e.Index, TxID: e.TxID}
}

// EventHandler processes one event. Returning an error stops Events with
// that error; the event is not checkpointed and will be delivered again
// after a restart.
type EventHandler func(ctx context.Context, ev Event) error

// EventsOption configures Events.
type EventsOption func(*eventsOptions)

type eventsOptions struct {
	fromBlock uint64
	replay    bool
	probe     time.Duration
	buffer    int
	name      string
	private   *privateEvents
}

// FromBlock replays from block n (0 for the whole ledger), ignoring the
// position the Checkpointer holds; checkpoints are saved as usual from then
// on. Use it to rebuild a read model.
func FromBlock(n uint64) EventsOption {
	return func(o *eventsOptions) { o.fromBlock, o.replay = n, true }
}

// WithHeightProbe sets how often the channel height is asked (qscc
// GetChainInfo) to keep the stream-lag gauge right while the stream catches
// up or is idle; 0 disables the probe. Default 10s.
func WithHeightProbe(interval time.Duration) EventsOption {
	return func(o *eventsOptions) { o.probe = interval }
}

// WithStreamName sets the stream's name in metrics and logs (default: the
// chaincode name).
func WithStreamName(name string) EventsOption {
	return func(o *eventsOptions) { o.name = name }
}

// WithReadAhead sets how many blocks of events may be received ahead of
// the handler (default 64).
func WithReadAhead(blocks int) EventsOption {
	return func(o *eventsOptions) { o.buffer = blocks }
}

// WithPrivateEvents makes Events deliver, for each routed write
// transaction, its full event instead of the public stub its chaincode
// event is (trace.Event.Public; docs/confidentiality.md): the stream reads
// the blocks with their private data from the peer's Deliver service
// (DeliverWithPrivateData, which needs the channel's block-event access)
// and takes the full event from the transaction's private write under
// trace.PrivateEventKey in the collection the stub names. Block numbers,
// transaction IDs, event names and order, and so checkpoints, are those of
// the chaincode events.
//
// expect reports whether the client's organisation reads a collection (is
// a member of it); nil means every collection (a regulator). The stub of a
// collection the client expects to read whose full event the peer did not
// deliver stops Events with an ErrPrivateEventMissing error naming the
// transaction, block and collection (the peer may receive the data later,
// by reconciliation: run Events again later, from the checkpoint). The
// stub of any other collection is delivered as it is, with its Private
// field set. A manufacturer expects its own collection:
//
//	gateway.WithPrivateEvents(func(coll string) bool { return coll == trace.Collection(mspID) })
func WithPrivateEvents(expect func(collection string) bool) EventsOption {
	return func(o *eventsOptions) { o.private = &privateEvents{expect: expect} }
}

// Events delivers the chaincode's events to handler, in ledger order, one
// at a time, starting after the position cp holds (from the first block
// when it holds none), and saves each processed event's position with
// cp.Save. When the stream breaks it reconnects, on another endpoint when
// the current one is down, from the last processed event: no gap and no
// duplicate. It returns when ctx ends (with ctx.Err()), when handler or
// cp.Save fails, on a permanent error (access denied, checkpoint
// mismatch), or when a private event is missing (WithPrivateEvents).
func (c *Client) Events(ctx context.Context, cp Checkpointer, handler EventHandler, opts ...EventsOption) error {
	o := eventsOptions{probe: 10 * time.Second, buffer: 64, name: c.chaincode}
	for _, opt := range opts {
		opt(&o)
	}
	if o.buffer < 1 {
		o.buffer = 1
	}
	pos, err := cp.Load(ctx)
	if err != nil {
		return fmt.Errorf("gateway: load checkpoint: %w", err)
	}
	from := uint64(0)
	if o.replay {
		pos, from = Checkpoint{}, o.fromBlock
	}
	s := &eventStreamer{c: c, cp: cp, handler: handler, opts: o, pos: pos, from: from}
	s.processed.Store(pos.Block)
	log := c.log.With("stream", o.name)
	log.Info("event stream starting", "from", pos.String(), "from_block", from)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.probe > 0 {
		go s.probeHeight(ctx)
	}

	pol := c.policy
	pol.MaxAttempts = math.MaxInt
	r := newRetrier(pol, c.clock, c.randN, true)
	for {
		ep := c.pool.current()
		progressed, permanent, err := s.run(ctx, ep)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if permanent {
			log.Error("event stream stopped", "endpoint", ep.Addr(), "at", s.pos.String(), "err", err)
			return err
		}
		v := classify(phaseEvents, err)
		if v.endpointSuspect {
			c.pool.fail(ep)
		}
		if progressed {
			r = newRetrier(pol, c.clock, c.randN, true)
		}
		r.failedOn(ep.Addr())
		c.metrics.streamReconnect(o.name)
		log.Warn("event stream broken; reconnecting", "endpoint", ep.Addr(), "at", s.pos.String(), "err", err)
		if err := r.wait(ctx, c.pool.current()); err != nil {
			return err
		}
	}
}

type eventStreamer struct {
	c       *Client
	cp      Checkpointer
	handler EventHandler
	opts    eventsOptions
	pos     Checkpoint // last processed event
	from    uint64     // first block when pos is zero
	// processed is the block of the last processed event, for the lag
	// gauge (read by the probe goroutine).
	processed atomic.Uint64
}

type recvResult struct {
	be  *blockEvents
	err error
}

// run streams from one endpoint until the stream fails (permanent false) or
// the handler, the checkpointer or the ledger's content fail (permanent
// true). progressed reports whether any event was processed.
func (s *eventStreamer) run(ctx context.Context, ep endpoint) (progressed, permanent bool, err error) {
	start := s.from
	if !s.pos.IsZero() {
		start = s.pos.Block
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := ep.Events(sctx, start, s.opts.private)
	if err != nil {
		return false, !classify(phaseEvents, err).transient, s.streamError(ep, err)
	}
	ch := make(chan recvResult, s.opts.buffer)
	go func() {
		for {
			be, err := stream.Recv()
			if err == nil {
				s.c.observeBlock(be.Block)
			}
			select {
			case ch <- recvResult{be, err}:
			case <-sctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	first := true
	for {
		var r recvResult
		select {
		case <-ctx.Done():
			return progressed, true, ctx.Err()
		case r = <-ch:
		}
		var missing *PrivateEventError
		if errors.As(r.err, &missing) {
			// Not the endpoint's fault, and not worth a reconnection now:
			// the caller runs the stream again later.
			return progressed, true, &Error{Kind: KindUnavailable, Op: "events", TxID: missing.TxID, Code: "PrivateEventMissing", Msg: missing.Error(), Err: r.err}
		}
		if r.err != nil {
			return progressed, !classify(phaseEvents, r.err).transient, s.streamError(ep, r.err)
		}
		be := r.be
		if err := s.checkResume(be, first); err != nil {
			return progressed, true, err
		}
		first = false
		for i, re := range be.Events {
			if !s.pos.After(be.Block, i) {
				continue
			}
			if ctx.Err() != nil {
				return progressed, true, ctx.Err()
			}
			ev := Event{Name: re.Name, Payload: re.Payload, TxID: re.TxID, Block: be.Block, Index: i}
			if err := s.handler(ctx, ev); err != nil {
				return progressed, true, fmt.Errorf("gateway: event handler at %s: %w", ev.Checkpoint(), err)
			}
			// The event is processed: record it even if ctx ended meanwhile,
			// or it would be delivered again.
			saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := s.cp.Save(saveCtx, ev.Checkpoint())
			cancel()
			if err != nil {
				return progressed, true, fmt.Errorf("gateway: save checkpoint %s: %w", ev.Checkpoint(), err)
			}
			s.pos = ev.Checkpoint()
			s.processed.Store(s.pos.Block)
			progressed = true
			s.c.metrics.streamEvent(s.opts.name)
		}
		s.updateLag()
	}
}

// checkResume verifies, on the blocks at the resume point, that the ledger
// has the checkpointed event where the checkpoint says.
func (s *eventStreamer) checkResume(be *blockEvents, first bool) error {
	if s.pos.IsZero() || be.Block > s.pos.Block && !first {
		return nil
	}
	switch {
	case be.Block < s.pos.Block:
		return fmt.Errorf("%w: asked for blocks from %d, got block %d", ErrCheckpointMismatch, s.pos.Block, be.Block)
	case be.Block > s.pos.Block:
		return fmt.Errorf("%w: block %d has no event of chaincode %s (checkpoint %s)", ErrCheckpointMismatch, s.pos.Block, s.c.chaincode, s.pos)
	case s.pos.Index >= len(be.Events):
		return fmt.Errorf("%w: block %d has %d events (checkpoint %s)", ErrCheckpointMismatch, be.Block, len(be.Events), s.pos)
	case be.Events[s.pos.Index].TxID != s.pos.TxID:
		return fmt.Errorf("%w: event %d of block %d is tx %s (checkpoint %s)", ErrCheckpointMismatch, s.pos.Index, be.Block, be.Events[s.pos.Index].TxID, s.pos)
	}
	return nil
}

func (s *eventStreamer) streamError(ep endpoint, err error) error {
	v := classify(phaseEvents, err)
	e := errorFrom(v, "events", "", "", "", err)
	if v.msg == "" {
		e.Msg = "stream from " + ep.Addr() + " failed"
	}
	return e
}

func (s *eventStreamer) updateLag() {
	latest, done := s.c.latestBlock.Load(), s.processed.Load()
	var lag uint64
	if latest > done {
		lag = latest - done
	}
	s.c.metrics.streamLag(s.opts.name, lag)
}

// probeHeight keeps the latest known block up to date from the channel
// height, so that the lag gauge reflects blocks the stream has not
// delivered yet.
func (s *eventStreamer) probeHeight(ctx context.Context) {
	for {
		pctx, cancel := callCtx(ctx, s.c.timeouts.Evaluate)
		h, err := s.c.pool.current().Height(pctx)
		cancel()
		if err == nil && h > 0 {
			s.c.observeBlock(h - 1)
			s.updateLag()
		}
		if sleep(ctx, s.c.clock, s.opts.probe) != nil {
			return
		}
	}
}
