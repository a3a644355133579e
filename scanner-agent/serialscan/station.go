package serialscan

import (
	"github.com/pharmatrace/pharmatrace/scanner-agent/station"
)

// FromStation maps one validated station scanner to the reader's target,
// line settings and configuration. The caller sets Config.Metrics,
// Config.Logger and Config.OnReject.
func FromStation(stationID string, s station.Scanner) (Target, LineSettings, Config) {
	var t Target
	if s.USB != nil {
		t = Target{VID: s.USB.VID, PID: s.USB.PID, Serial: s.USB.Serial}
	} else {
		t = Target{Device: s.Device}
	}
	gs, _ := s.GSByte()
	return t,
		LineSettings{Baud: s.Baud, DataBits: s.DataBits, Parity: s.Parity, StopBits: s.StopBits},
		Config{
			Name:             s.Name,
			Station:          stationID,
			InterCharTimeout: s.InterCharTimeout,
			Framer: FramerConfig{
				Suffix:       s.SuffixBytes(),
				MaxFrame:     s.MaxFrame,
				GSSubstitute: gs,
			},
		}
}
