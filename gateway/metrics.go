package gateway

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the gateway's Prometheus collectors. Create them once with
// NewMetrics on a registerer you own and pass them to every Client with
// WithMetrics. A nil *Metrics records nothing.
type Metrics struct {
	// SubmitSeconds: latency of Submit by fn and outcome ("ok", "refused" or
	// an error Kind name such as "unavailable").
	SubmitSeconds *prometheus.HistogramVec
	// EvaluateSeconds: latency of Evaluate by fn and outcome.
	EvaluateSeconds *prometheus.HistogramVec
	// Retries: retried steps by fn and reason (e.g. "endorse_unavailable",
	// "commit_conflict", "commit_status_unavailable").
	Retries *prometheus.CounterVec
	// Failovers: moves away from an endpoint, by that endpoint.
	Failovers *prometheus.CounterVec
	// Lookups: request lookups after an ambiguous failure, by result
	// ("found", "not_found", "error").
	Lookups *prometheus.CounterVec
	// StreamLagBlocks: latest block known on the channel minus the block of
	// the last processed event, by stream (chaincode) name.
	StreamLagBlocks *prometheus.GaugeVec
	// StreamEvents: events handed to the handler, by stream.
	StreamEvents *prometheus.CounterVec
	// StreamReconnects: event stream reconnections, by stream.
	StreamReconnects *prometheus.CounterVec
	// Routes: routes of routed requests, by transaction and result
	// ("cached", "public", "private" from the Route query, or "error").
	Routes *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them on reg (if reg is
// not nil) under the pharmatrace_gateway_ prefix.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns, sub = "pharmatrace", "gateway"
	latency := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	m := &Metrics{
		SubmitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "submit_seconds",
			Help: "Latency of ledger submits (endorse, order, commit, retries included).", Buckets: latency,
		}, []string{"fn", "outcome"}),
		EvaluateSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "evaluate_seconds",
			Help: "Latency of ledger queries (retries included).", Buckets: latency,
		}, []string{"fn", "outcome"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "retries_total",
			Help: "Retried steps of ledger calls.",
		}, []string{"fn", "reason"}),
		Failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "failovers_total",
			Help: "Moves from a failing endpoint to another one.",
		}, []string{"endpoint"}),
		Lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "request_lookups_total",
			Help: "Request lookups after an ambiguous submit failure.",
		}, []string{"result"}),
		StreamLagBlocks: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "stream_lag_blocks",
			Help: "Latest known block minus the block of the last processed event.",
		}, []string{"stream"}),
		StreamEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "stream_events_total",
			Help: "Chaincode events processed.",
		}, []string{"stream"}),
		StreamReconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "stream_reconnects_total",
			Help: "Event stream reconnections.",
		}, []string{"stream"}),
		Routes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "routes_total",
			Help: "Routes of routed requests: from the cache, or the Route query's answer (public, private) or failure.",
		}, []string{"fn", "result"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{
		m.SubmitSeconds, m.EvaluateSeconds, m.Retries, m.Failovers, m.Lookups,
		m.StreamLagBlocks, m.StreamEvents, m.StreamReconnects, m.Routes,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) observeSubmit(fn, outcome string, d time.Duration) {
	if m != nil {
		m.SubmitSeconds.WithLabelValues(fn, outcome).Observe(d.Seconds())
	}
}

func (m *Metrics) observeEvaluate(fn, outcome string, d time.Duration) {
	if m != nil {
		m.EvaluateSeconds.WithLabelValues(fn, outcome).Observe(d.Seconds())
	}
}

func (m *Metrics) retry(fn, reason string) {
	if m != nil {
		m.Retries.WithLabelValues(fn, reason).Inc()
	}
}

func (m *Metrics) failover(from string) {
	if m != nil {
		m.Failovers.WithLabelValues(from).Inc()
	}
}

func (m *Metrics) lookup(result string) {
	if m != nil {
		m.Lookups.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) streamLag(stream string, lag uint64) {
	if m != nil {
		m.StreamLagBlocks.WithLabelValues(stream).Set(float64(lag))
	}
}

func (m *Metrics) streamEvent(stream string) {
	if m != nil {
		m.StreamEvents.WithLabelValues(stream).Inc()
	}
}

func (m *Metrics) streamReconnect(stream string) {
	if m != nil {
		m.StreamReconnects.WithLabelValues(stream).Inc()
	}
}

func (m *Metrics) route(fn, result string) {
	if m != nil {
		m.Routes.WithLabelValues(fn, result).Inc()
	}
}
