// Package intake moves scans from the scanners into the durable queue:
// frames from serialscan Readers are decoded by a pluggable Decoder and
// appended to the outbox in group commits, in arrival order, before
// anything else happens to them.
//
// The decoder is a function value so that the GS1 parser can be plugged in
// without this package depending on it. A frame the decoder refuses is
// still stored — as a rejected record carrying the decoder's reason — so
// that every frame a scanner delivered is accounted for in the queue.
//
// Shutdown order matters for "never drop a scan": Serve stops the readers
// first, then lets the intake drain every frame already read, and only
// then returns.
package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pharmatrace/pharmatrace/scanner-agent/outbox"
	"github.com/pharmatrace/pharmatrace/scanner-agent/serialscan"
)

// Decoder turns one frame (suffix removed, GS as 0x1D) into the payload
// stored with the scan, e.g. the GS1 parse as JSON. An error means the
// frame is not a valid scan; its text is stored as the rejection reason.
// A Decoder must be safe to call from one goroutine at a time; it need
// not be safe for concurrent use.
type Decoder func(frame []byte) (payload []byte, err error)

// Options configure Run and Serve.
type Options struct {
	// MaxBatch bounds the scans appended in one transaction; default 256.
	MaxBatch int
	// Logger; nil: slog.Default().
	Logger *slog.Logger
	// Registerer, if set, receives the intake metrics.
	Registerer prometheus.Registerer
	// OnStored, if set, is called with every record once it is durable,
	// in order — the place for live feedback at the counter (e.g. ask the
	// ledger at once in dispense mode, beep on a rejected frame).
	OnStored func(outbox.Record)
	// OnDecoded, if set, is called with a frame's payload as soon as it is
	// decoded, before it is stored (it must not block): a station starts
	// its ledger query then, and shows the verdict once OnStored says the
	// scan is durable.
	OnDecoded func(payload []byte)
	// RetryBackoff is the wait between attempts when an append fails
	// (disk full, I/O error); the batch is held, never dropped. Default
	// 100ms, doubling to 5s.
	RetryBackoff time.Duration
}

type metrics struct {
	stored   *prometheus.CounterVec
	batch    prometheus.Histogram
	appendS  prometheus.Histogram
	failures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		stored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pharmatrace_intake_scans_stored_total",
			Help: "Scans appended to the durable queue, by state at append (pending, rejected).",
		}, []string{"state"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pharmatrace_intake_batch_size",
			Help:    "Scans per durable append (group commit size).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		appendS: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pharmatrace_intake_append_seconds",
			Help:    "Latency of one durable append (commit and fsync).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pharmatrace_intake_append_failures_total",
			Help: "Failed durable appends (retried).",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.stored, m.batch, m.appendS, m.failures} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("intake metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Run appends every frame received on frames to q until frames is closed,
// then returns nil. Frames waiting in the channel are taken together, up
// to MaxBatch, and appended in one transaction (group commit): at low
// rates every scan is its own commit, at full speed the batch grows until
// the disk keeps up.
//
// ctx only aborts the retries of a failing append (Run then returns ctx's
// error with the frames in hand not stored); to stop normally, close
// frames — Serve does it in the right order.
func Run(ctx context.Context, frames <-chan serialscan.Frame, q *outbox.Queue, decode Decoder, o Options) error {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 100 * time.Millisecond
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("station", q.Station())
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return err
	}
	batch := make([]serialscan.Frame, 0, o.MaxBatch)
	entries := make([]outbox.Entry, 0, o.MaxBatch)
	for {
		f, ok := <-frames
		if !ok {
			return nil
		}
		batch = append(batch[:0], f)
	fill:
		for len(batch) < o.MaxBatch {
			select {
			case f, ok := <-frames:
				if !ok {
					break fill
				}
				batch = append(batch, f)
			default:
				break fill
			}
		}
		entries = entries[:0]
		for _, f := range batch {
			e := outbox.Entry{Scanner: f.Scanner, Frame: f.Data, ScannedAt: f.At}
			payload, err := safeDecode(decode, f.Data)
			if err != nil {
				e.Invalid = err.Error()
			} else {
				e.Payload = payload
				if o.OnDecoded != nil {
					o.OnDecoded(payload)
				}
			}
			entries = append(entries, e)
		}
		recs, err := appendWithRetry(ctx, q, entries, m, log, o.RetryBackoff)
		if err != nil {
			return err
		}
		m.batch.Observe(float64(len(recs)))
		for _, r := range recs {
			m.stored.WithLabelValues(string(r.State)).Inc()
			if r.State == outbox.StateRejected {
				log.Warn("scan refused by decoder; stored as rejected", "scanner", r.Scanner, "scan_id", r.ID, "reason", r.Detail)
			}
			if o.OnStored != nil {
				o.OnStored(r)
			}
		}
	}
}

func safeDecode(decode Decoder, frame []byte) (payload []byte, err error) {
	if decode == nil {
		return nil, nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panic: %v", p)
		}
	}()
	return decode(frame)
}

func appendWithRetry(ctx context.Context, q *outbox.Queue, entries []outbox.Entry, m *metrics, log *slog.Logger, backoff time.Duration) ([]outbox.Record, error) {
	for {
		start := time.Now()
		// The append itself must not be aborted by ctx: frames in hand
		// are stored even during shutdown.
		recs, err := q.AppendBatch(context.WithoutCancel(ctx), entries)
		if err == nil {
			m.appendS.Observe(time.Since(start).Seconds())
			return recs, nil
		}
		m.failures.Inc()
		log.Error("durable append failed; holding the scans and retrying", "scans", len(entries), "err", err, "retry", backoff)
		if errors.Is(err, outbox.ErrClosed) {
			return nil, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%d scans not stored: %w", len(entries), ctx.Err())
		case <-t.C:
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// Serve runs readers and the intake until ctx is cancelled. On
// cancellation it stops the readers, waits for them, closes the frame
// channel and lets the intake store every frame already read, then
// returns. Readers share one channel of capacity buffer (default 1024).
// It returns the intake's error, if any.
func Serve(ctx context.Context, readers []*serialscan.Reader, q *outbox.Queue, decode Decoder, o Options, buffer int) error {
	if buffer <= 0 {
		buffer = 1024
	}
	frames := make(chan serialscan.Frame, buffer)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Run(rctx, frames) // returns rctx.Err() only
		}()
	}
	done := make(chan error, 1)
	go func() {
		// ctx only stops Run from retrying a failing append forever at
		// shutdown; a healthy Run drains frames until they are closed.
		err := Run(ctx, frames, q, decode, o)
		if err != nil {
			cancel() // the queue is unusable: stop reading
		}
		done <- err
	}()
	wg.Wait()
	close(frames)
	return <-done
}
