package counter

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the station's collectors; a nil *Metrics records nothing.
type Metrics struct {
	scans  *prometheus.CounterVec
	verify *prometheus.HistogramVec
	commit *prometheus.HistogramVec
}

// NewMetrics registers the station's collectors on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	buckets := []float64{.002, .005, .01, .02, .05, .1, .2, .3, .5, 1, 2, 5}
	m := &Metrics{
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pharmatrace_station_scans_total",
			Help: "Lines shown at the counter, by verdict (OK, REFUSED, QUEUED, SCANNER FAULT, NOTICE, DONE).",
		}, []string{"verdict"}),
		verify: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pharmatrace_station_verify_seconds", Help: "Ledger verification (query) latency.", Buckets: buckets,
		}, []string{"result"}),
		commit: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pharmatrace_station_commit_seconds", Help: "Ledger state change latency, submit to commit.", Buckets: buckets,
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.scans, m.verify, m.commit} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

func (m *Metrics) scan(v Verdict) {
	if m != nil {
		m.scans.WithLabelValues(string(v)).Inc()
	}
}

func (m *Metrics) observeVerify(d time.Duration, err error) {
	if m != nil {
		m.verify.WithLabelValues(result(err)).Observe(d.Seconds())
	}
}

func (m *Metrics) observeCommit(d time.Duration, err error) {
	if m != nil {
		m.commit.WithLabelValues(result(err)).Observe(d.Seconds())
	}
}
