package serialscan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"
)

// ErrNoPort means the scanner's port is not there (unplugged, or no USB
// device matches). The Reader keeps retrying.
var ErrNoPort = errors.New("scanner port not present")

// Target says which port a scanner is on: a device path, or a USB match.
type Target struct {
	// Device is a device path or a symlink to one (e.g.
	// /dev/serial/by-id/usb-…); it is resolved on every open.
	Device string
	// VID and PID (4 hex digits) select a USB port when Device is empty;
	// Serial, if set, must equal its USB serial number.
	VID, PID, Serial string
}

func (t Target) String() string {
	if t.Device != "" {
		return t.Device
	}
	s := "usb:" + strings.ToLower(t.VID) + ":" + strings.ToLower(t.PID)
	if t.Serial != "" {
		s += ":" + t.Serial
	}
	return s
}

// Opener opens a scanner's port and returns it with the device path it
// resolved to.
type Opener func(ctx context.Context) (p Port, device string, err error)

// LineSettings are the serial line parameters.
type LineSettings struct {
	Baud     int    // e.g. 9600
	DataBits int    // 5–8
	Parity   string // none, odd, even, mark, space
	StopBits int    // 1 or 2
}

// Mode converts the settings to go.bug.st/serial's Mode.
func (l LineSettings) Mode() (*serial.Mode, error) {
	m := &serial.Mode{BaudRate: l.Baud, DataBits: l.DataBits}
	switch strings.ToLower(l.Parity) {
	case "", "none":
		m.Parity = serial.NoParity
	case "odd":
		m.Parity = serial.OddParity
	case "even":
		m.Parity = serial.EvenParity
	case "mark":
		m.Parity = serial.MarkParity
	case "space":
		m.Parity = serial.SpaceParity
	default:
		return nil, fmt.Errorf("parity %q: not none, odd, even, mark or space", l.Parity)
	}
	switch l.StopBits {
	case 0, 1:
		m.StopBits = serial.OneStopBit
	case 2:
		m.StopBits = serial.TwoStopBits
	default:
		return nil, fmt.Errorf("stop bits %d: not 1 or 2", l.StopBits)
	}
	return m, nil
}

// SerialOpener returns an Opener that opens t with go.bug.st/serial.
//
// A Device is resolved with filepath.EvalSymlinks on every call, so a
// udev symlink (/dev/serial/by-id/…) — or, in tests, a symlink re-pointed
// at a new pseudo-terminal — is followed to wherever the device is now. A
// USB target is looked up with enumerator.GetDetailedPortsList on every
// call. A missing device yields an error wrapping ErrNoPort.
//
// go.bug.st/serial.Open works on a pseudo-terminal slave: it sets raw
// termios and the line settings (the pty ignores the baud rate), and
// skips modem-bit ioctls unless InitialStatusBits is set, which we leave
// nil because TIOCMGET fails on a pty.
func SerialOpener(t Target, line LineSettings) (Opener, error) {
	mode, err := line.Mode()
	if err != nil {
		return nil, err
	}
	if t.Device == "" && (t.VID == "" || t.PID == "") {
		return nil, errors.New("target: set a device path or a USB VID and PID")
	}
	return func(ctx context.Context) (Port, string, error) {
		dev, err := resolve(t, enumerator.GetDetailedPortsList)
		if err != nil {
			return nil, "", err
		}
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		p, err := serial.Open(dev, mode)
		if err != nil {
			var pe *serial.PortError
			if errors.As(err, &pe) && pe.Code() == serial.PortNotFound {
				return nil, dev, fmt.Errorf("open %s: %w: %w", dev, ErrNoPort, err)
			}
			if errors.Is(err, fs.ErrNotExist) {
				return nil, dev, fmt.Errorf("open %s: %w: %w", dev, ErrNoPort, err)
			}
			return nil, dev, fmt.Errorf("open %s: %w", dev, err)
		}
		return p, dev, nil
	}, nil
}

// resolve finds the device path for t now.
func resolve(t Target, list func() ([]*enumerator.PortDetails, error)) (string, error) {
	if t.Device != "" {
		dev, err := filepath.EvalSymlinks(t.Device)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("resolve %s: %w: %w", t.Device, ErrNoPort, err)
			}
			return "", fmt.Errorf("resolve %s: %w", t.Device, err)
		}
		return dev, nil
	}
	ports, err := list()
	if err != nil {
		return "", fmt.Errorf("enumerate serial ports: %w", err)
	}
	return matchUSB(t, ports)
}

// matchUSB picks the one port matching t's VID, PID and serial number.
func matchUSB(t Target, ports []*enumerator.PortDetails) (string, error) {
	var found []string
	for _, p := range ports {
		if p == nil || !p.IsUSB {
			continue
		}
		if !strings.EqualFold(p.VID, t.VID) || !strings.EqualFold(p.PID, t.PID) {
			continue
		}
		if t.Serial != "" && p.SerialNumber != t.Serial {
			continue
		}
		found = append(found, p.Name)
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%s: %w", t, ErrNoPort)
	case 1:
		return found[0], nil
	}
	sort.Strings(found)
	return "", fmt.Errorf("%s: %d ports match (%s); set the USB serial number to pick one",
		t, len(found), strings.Join(found, ", "))
}
