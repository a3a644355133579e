package serialscan

import (
	"errors"
	"fmt"
	"time"
)

// Port is the part of a serial port the reader uses. go.bug.st/serial's
// Port satisfies it; tests may use any implementation.
type Port interface {
	// Read blocks until at least one byte arrives, the read timeout set by
	// SetReadTimeout passes — then it returns (0, nil) — or the port fails.
	Read(p []byte) (int, error)
	// Write sends bytes to the scanner (feedback).
	Write(p []byte) (int, error)
	// SetReadTimeout bounds each Read.
	SetReadTimeout(t time.Duration) error
	// Close releases the port; it unblocks a pending Read.
	Close() error
}

// ErrReadTimeout is returned by TimeoutPort.Read when no byte arrived within
// the read timeout.
var ErrReadTimeout = errors.New("serial read timeout")

// TimeoutPort wraps a Port so that a read timeout is an error, not a
// successful read of zero bytes: go.bug.st/serial's Read returns (0, nil)
// when its timeout passes, which io.Reader users would take for "try
// again" at best and a busy loop at worst.
type TimeoutPort struct {
	Port
}

// NewTimeoutPort sets the read timeout on p and wraps it. d must be > 0.
func NewTimeoutPort(p Port, d time.Duration) (*TimeoutPort, error) {
	if d <= 0 {
		return nil, fmt.Errorf("read timeout %v: must be positive", d)
	}
	if err := p.SetReadTimeout(d); err != nil {
		return nil, fmt.Errorf("set read timeout: %w", err)
	}
	return &TimeoutPort{Port: p}, nil
}

// Read reads from the port; it returns (0, ErrReadTimeout) when the port's
// Read timed out and never (0, nil).
func (t *TimeoutPort) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := t.Port.Read(p)
	if n == 0 && err == nil {
		return 0, ErrReadTimeout
	}
	return n, err
}
