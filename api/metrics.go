package api

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

type metrics struct {
	http   *prometheus.HistogramVec
	ledger *prometheus.HistogramVec
	// alertsUnrecorded counts failed verifications whose alert could not
	// be recorded on the ledger (an operator must look: Art. 36(b)).
	alertsUnrecorded prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, read *readmodel.Store) (*metrics, error) {
	m := &metrics{
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "pharmatrace", Subsystem: "api", Name: "http_request_duration_seconds",
			Help:    "HTTP request duration by method, route template and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route", "status"}),
		ledger: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "pharmatrace", Subsystem: "api", Name: "ledger_duration_seconds",
			Help:    "Ledger call latency as seen by the API, by transaction and result (ok, refused, error class).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"fn", "result"}),
		alertsUnrecorded: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "pharmatrace", Subsystem: "api", Name: "verification_alerts_unrecorded_total",
			Help: "Failed verifications whose alert could not be recorded on the ledger (ReportScan failed).",
		}),
	}
	for _, c := range []prometheus.Collector{m.http, m.ledger, m.alertsUnrecorded, readmodel.NewAnomalyCollector(read)} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// timedLedger observes the latency of every ledger call.
type timedLedger struct {
	l Ledger
	m *metrics
}

func resultLabel(res any, err error) string {
	if err != nil {
		p := ProblemFor(err)
		return p.Kind()
	}
	if r, ok := res.(trace.Result); ok && !r.Out().OK() {
		return "refused"
	}
	return "ok"
}

func (t timedLedger) Submit(ctx context.Context, fn string, req trace.WriteRequest, result any) error {
	start := time.Now()
	err := t.l.Submit(ctx, fn, req, result)
	t.m.ledger.WithLabelValues(fn, resultLabel(result, err)).Observe(time.Since(start).Seconds())
	return err
}

func (t timedLedger) Evaluate(ctx context.Context, fn string, req trace.Request, result any) error {
	start := time.Now()
	err := t.l.Evaluate(ctx, fn, req, result)
	t.m.ledger.WithLabelValues(fn, resultLabel(nil, err)).Observe(time.Since(start).Seconds())
	return err
}
