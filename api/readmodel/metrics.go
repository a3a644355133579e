package readmodel

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pharmatrace/pharmatrace/trace"
)

// Metrics are the read model's collectors.
type Metrics struct {
	// Lag is the time between the commit of the last applied event (its
	// transaction timestamp) and its application to the read model.
	Lag prometheus.Gauge
	// Block is the block of the last applied event.
	Block prometheus.Gauge
	// Events counts events by type and result (applied, duplicate).
	Events *prometheus.CounterVec
	// LastApplied is the Unix time of the last application.
	LastApplied prometheus.Gauge
}

// NewMetrics registers the read model's collectors on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "pharmatrace", Subsystem: "api", Name: "readmodel_lag_seconds",
			Help: "Seconds between the commit of the last applied chaincode event and its application to the read model.",
		}),
		Block: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "pharmatrace", Subsystem: "api", Name: "readmodel_block",
			Help: "Block number of the last event applied to the read model.",
		}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "pharmatrace", Subsystem: "api", Name: "readmodel_events_total",
			Help: "Chaincode events seen by the read model, by type and result (applied, duplicate).",
		}, []string{"type", "result"}),
		LastApplied: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "pharmatrace", Subsystem: "api", Name: "readmodel_last_applied_timestamp_seconds",
			Help: "Unix time of the last event application.",
		}),
	}
	for _, c := range []prometheus.Collector{m.Lag, m.Block, m.Events, m.LastApplied} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) observe(ev trace.Event, pos Position, applied bool, now time.Time) {
	result := "duplicate"
	if applied {
		result = "applied"
		m.Lag.Set(max(0, now.Sub(ev.Timestamp).Seconds()))
		m.Block.Set(float64(pos.Block))
		m.LastApplied.Set(float64(now.UnixNano()) / 1e9)
	}
	m.Events.WithLabelValues(ev.Type, result).Inc()
}

// AnomalyCollector exports the number of anomalies by code and status,
// counted in the read model at scrape time.
type AnomalyCollector struct {
	store   *Store
	desc    *prometheus.Desc
	timeout time.Duration
}

// NewAnomalyCollector returns the collector (register it on the API's registry).
func NewAnomalyCollector(s *Store) *AnomalyCollector {
	return &AnomalyCollector{store: s, timeout: 2 * time.Second, desc: prometheus.NewDesc(
		"pharmatrace_api_anomalies", "Anomalies in the read model by code (type) and workflow status.", []string{"code", "status"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *AnomalyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *AnomalyCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.store.AnomalyCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n.Count), string(n.Code), string(n.Status))
	}
}
