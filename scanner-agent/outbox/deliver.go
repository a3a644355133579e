package outbox

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Handler processes one open record — verifies it against the ledger,
// submits it with the scan ID as request ID — and returns the record's new
// state. An error means "could not tell" (ledger unreachable, timeout): the
// record stays as it is and is handed to the Handler again later, so the
// Handler must be idempotent, which the ledger request ID makes it.
type Handler func(ctx context.Context, r Record) (Outcome, error)

// DeliverOptions configure Deliver.
type DeliverOptions struct {
	// Batch is how many open records are read per round; default 64.
	Batch int
	// MinBackoff and MaxBackoff bound the wait after a Handler error or a
	// non-terminal outcome; defaults 200ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// Idle is how often an idle loop looks for work without a
	// notification; default 5s.
	Idle time.Duration
	// Logger; nil: slog.Default().
	Logger *slog.Logger
}

// Deliver hands open records to h one at a time in sequence order until ctx
// is cancelled, and marks each with the outcome h returns. It is a default
// delivery loop; callers with other needs can build their own on Pending
// and Mark.
//
// Order is strict: when h fails, or returns a non-terminal state (e.g.
// submitted, commit status unknown), the same record is retried after a
// backoff before any later one is tried. A Mark that is refused as a
// transition error is logged and the record retried, as h saw a stale
// state. Deliver wakes up at once after an Append (Notify).
func (q *Queue) Deliver(ctx context.Context, h Handler, o DeliverOptions) error {
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.Idle <= 0 {
		o.Idle = 5 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("station", q.station)
	backoff := o.MinBackoff
	wait := func(d time.Duration, wake bool) error {
		t := time.NewTimer(d)
		defer t.Stop()
		var notify <-chan struct{}
		if wake {
			notify = q.notify
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-notify:
		}
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		recs, err := q.Pending(o.Batch)
		if err != nil {
			log.Error("outbox read failed", "err", err)
			if err := wait(backoff, false); err != nil {
				return err
			}
			backoff = min(backoff*2, o.MaxBackoff)
			continue
		}
		if len(recs) == 0 {
			if err := wait(o.Idle, true); err != nil {
				return err
			}
			continue
		}
		for _, r := range recs {
			out, err := h(ctx, r)
			if err == nil {
				_, err = q.Mark(ctx, r.ID, out)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil && out.State.Terminal() {
				backoff = o.MinBackoff
				continue
			}
			if err != nil {
				log.Warn("scan delivery failed; will retry", "scan_id", r.ID, "state", r.State, "err", err, "retry", backoff)
			}
			if err := wait(backoff, false); err != nil {
				return err
			}
			backoff = min(backoff*2, o.MaxBackoff)
			break
		}
	}
}

// RegisterMetrics registers gauges for the queue on reg:
// pharmatrace_outbox_depth (open records) and
// pharmatrace_outbox_oldest_age_seconds (age of the oldest open record).
func RegisterMetrics(reg prometheus.Registerer, q *Queue) error {
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pharmatrace_outbox_depth",
		Help: "Scans in the local durable queue not yet done on the ledger.",
	}, func() float64 {
		n, err := q.Depth()
		if err != nil {
			return math.NaN()
		}
		return float64(n)
	})
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pharmatrace_outbox_oldest_age_seconds",
		Help: "Age of the oldest scan in the local durable queue not yet done on the ledger; 0 when empty.",
	}, func() float64 {
		d, err := q.OldestAge()
		if err != nil {
			return math.NaN()
		}
		return d.Seconds()
	})
	if err := reg.Register(depth); err != nil {
		return err
	}
	return reg.Register(age)
}
