package serialscan

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"

	"github.com/pharmatrace/pharmatrace/scanner-agent/station"
)

type fakePort struct {
	reads   []string // "" = timeout
	timeout time.Duration
}

func (p *fakePort) Read(b []byte) (int, error) {
	if len(p.reads) == 0 {
		return 0, io.EOF
	}
	r := p.reads[0]
	p.reads = p.reads[1:]
	return copy(b, r), nil
}
func (p *fakePort) Write(b []byte) (int, error)          { return len(b), nil }
func (p *fakePort) SetReadTimeout(d time.Duration) error { p.timeout = d; return nil }
func (p *fakePort) Close() error                         { return nil }

func TestTimeoutPort(t *testing.T) {
	fp := &fakePort{reads: []string{"ab", ""}}
	tp, err := NewTimeoutPort(fp, 40*time.Millisecond)
	if err != nil || fp.timeout != 40*time.Millisecond {
		t.Fatalf("NewTimeoutPort: %v, timeout %v", err, fp.timeout)
	}
	buf := make([]byte, 8)
	if n, err := tp.Read(buf); n != 2 || err != nil {
		t.Errorf("Read = %d, %v", n, err)
	}
	if n, err := tp.Read(buf); n != 0 || !errors.Is(err, ErrReadTimeout) {
		t.Errorf("timeout Read = %d, %v; want ErrReadTimeout", n, err)
	}
	if _, err := tp.Read(buf); !errors.Is(err, io.EOF) {
		t.Errorf("error passes through: %v", err)
	}
	if _, err := NewTimeoutPort(fp, 0); err == nil {
		t.Error("zero timeout accepted")
	}
}

func TestMatchUSB(t *testing.T) {
	ports := []*enumerator.PortDetails{
		{Name: "/dev/ttyS0"},
		{Name: "/dev/ttyACM0", IsUSB: true, VID: "0C2E", PID: "0B61", SerialNumber: "A1"},
		{Name: "/dev/ttyACM1", IsUSB: true, VID: "0c2e", PID: "0b61", SerialNumber: "B2"},
		{Name: "/dev/ttyUSB0", IsUSB: true, VID: "05f9", PID: "4204", SerialNumber: "Z"},
	}
	tests := []struct {
		t    Target
		want string
		err  string
	}{
		{Target{VID: "05F9", PID: "4204"}, "/dev/ttyUSB0", ""},
		{Target{VID: "0c2e", PID: "0b61", Serial: "B2"}, "/dev/ttyACM1", ""},
		{Target{VID: "0c2e", PID: "0b61"}, "", "2 ports match (/dev/ttyACM0, /dev/ttyACM1)"},
		{Target{VID: "0c2e", PID: "0b61", Serial: "C3"}, "", "not present"},
		{Target{VID: "1234", PID: "5678"}, "", "not present"},
	}
	for _, tt := range tests {
		got, err := matchUSB(tt.t, ports)
		if got != tt.want || (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("matchUSB(%v) = %q, %v; want %q, %q", tt.t, got, err, tt.want, tt.err)
		}
	}
	if _, err := matchUSB(Target{VID: "1", PID: "2"}, nil); !errors.Is(err, ErrNoPort) {
		t.Errorf("no match is not ErrNoPort: %v", err)
	}
}

func TestLineSettingsMode(t *testing.T) {
	m, err := LineSettings{Baud: 115200, DataBits: 7, Parity: "even", StopBits: 2}.Mode()
	if err != nil || m.BaudRate != 115200 || m.DataBits != 7 || m.Parity != serial.EvenParity || m.StopBits != serial.TwoStopBits {
		t.Errorf("Mode = %+v, %v", m, err)
	}
	if _, err := (LineSettings{StopBits: 3}).Mode(); err == nil {
		t.Error("3 stop bits accepted")
	}
}

func TestFromStation(t *testing.T) {
	s := station.Scanner{Name: "dock", USB: &station.USBMatch{VID: "0c2e", PID: "0b61", Serial: "X"},
		Baud: 19200, DataBits: 8, Parity: "none", StopBits: 1, Suffix: "CRLF",
		InterCharTimeout: 80 * time.Millisecond, MaxFrame: 300, GSSubstitute: "~"}
	tgt, line, cfg := FromStation("st-9", s)
	if tgt.String() != "usb:0c2e:0b61:X" || line.Baud != 19200 || cfg.Name != "dock" || cfg.Station != "st-9" ||
		string(cfg.Framer.Suffix) != "\r\n" || cfg.Framer.MaxFrame != 300 || cfg.Framer.GSSubstitute != '~' ||
		cfg.InterCharTimeout != 80*time.Millisecond {
		t.Errorf("FromStation = %+v %+v %+v", tgt, line, cfg)
	}
}
