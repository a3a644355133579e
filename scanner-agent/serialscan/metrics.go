package serialscan

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the reader's Prometheus collectors, labelled by scanner name.
// One Metrics value serves every Reader of a station.
type Metrics struct {
	// Frames counts accepted frames: pharmatrace_scanner_frames_total{scanner}.
	Frames *prometheus.CounterVec
	// Rejected counts rejected frames:
	// pharmatrace_scanner_frames_rejected_total{scanner,reason}.
	Rejected *prometheus.CounterVec
	// Up is 1 while the scanner's port is open: pharmatrace_scanner_port_up{scanner}.
	Up *prometheus.GaugeVec
	// Opens counts successful port opens (first connect and every
	// reconnect): pharmatrace_scanner_port_opens_total{scanner}.
	Opens *prometheus.CounterVec
	// Disconnects counts lost ports: pharmatrace_scanner_port_disconnects_total{scanner}.
	Disconnects *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them on reg; a nil reg
// leaves them unregistered (tests). Registering on a registry that already
// has them (a second NewMetrics on the same registry) reuses the existing
// collectors.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pharmatrace_scanner_frames_total",
			Help: "Frames read from the scanner and accepted by the framer.",
		}, []string{"scanner"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pharmatrace_scanner_frames_rejected_total",
			Help: "Frames rejected by the framer, by reason (overlong, control_byte, invalid_utf8, truncated).",
		}, []string{"scanner", "reason"}),
		Up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pharmatrace_scanner_port_up",
			Help: "1 while the scanner's serial port is open, 0 while it is unplugged or failing.",
		}, []string{"scanner"}),
		Opens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pharmatrace_scanner_port_opens_total",
			Help: "Successful opens of the scanner's serial port (connects and reconnects).",
		}, []string{"scanner"}),
		Disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pharmatrace_scanner_port_disconnects_total",
			Help: "Times the scanner's serial port was lost (read error, unplug).",
		}, []string{"scanner"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.Frames, err = register(reg, m.Frames)
	if err != nil {
		return nil, err
	}
	if m.Rejected, err = register(reg, m.Rejected); err != nil {
		return nil, err
	}
	if m.Up, err = register(reg, m.Up); err != nil {
		return nil, err
	}
	if m.Opens, err = register(reg, m.Opens); err != nil {
		return nil, err
	}
	if m.Disconnects, err = register(reg, m.Disconnects); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// init pre-creates the series of one scanner so that dashboards see zeros
// rather than absent series.
func (m *Metrics) init(scanner string) {
	m.Frames.WithLabelValues(scanner)
	for _, r := range Reasons {
		m.Rejected.WithLabelValues(scanner, string(r))
	}
	m.Up.WithLabelValues(scanner).Set(0)
	m.Opens.WithLabelValues(scanner)
	m.Disconnects.WithLabelValues(scanner)
}
