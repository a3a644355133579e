package simscan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// PTY is a pseudo-terminal pair. The master is the scanner's end: bytes
// written to it arrive on the slave, which the agent opens as a serial
// device at Path (e.g. /dev/pts/7).
//
// The simulator keeps its own descriptor of the slave, in raw mode, for the
// life of the pair: the line discipline then never echoes, never turns CR
// into LF and never waits for a line, whether or not the agent has the
// slave open, and bytes typed while the agent is reconnecting wait in the
// slave's input queue instead of being lost.
type PTY struct {
	Master *os.File
	slave  *os.File
	Path   string
}

// OpenPTY opens a new pseudo-terminal pair via /dev/ptmx (posix_openpt,
// unlockpt, ptsname) and puts the slave in raw mode.
func OpenPTY() (*PTY, error) {
	// os.OpenFile registers the descriptor with the runtime poller, so
	// Close unblocks a pending Read or Write on the master.
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	var n uint32
	err = control(m, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return fmt.Errorf("unlockpt: %w", err)
		}
		var err error
		n, err = unix.IoctlGetUint32(fd, unix.TIOCGPTN)
		if err != nil {
			return fmt.Errorf("ptsname: %w", err)
		}
		return nil
	})
	if err != nil {
		m.Close()
		return nil, err
	}
	path := fmt.Sprintf("/dev/pts/%d", n)
	s, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := control(s, makeRaw); err != nil {
		s.Close()
		m.Close()
		return nil, fmt.Errorf("raw mode on %s: %w", path, err)
	}
	return &PTY{Master: m, slave: s, Path: path}, nil
}

// makeRaw is cfmakeraw(3).
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// control runs fn on f's descriptor without switching it to blocking mode
// (as f.Fd() would).
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// Unread returns how many typed bytes wait in the slave's input queue, not
// yet read by the agent.
func (p *PTY) Unread() (int, error) {
	var n int
	err := control(p.slave, func(fd int) error {
		var err error
		n, err = unix.IoctlGetInt(fd, unix.TIOCINQ)
		return err
	})
	return n, err
}

// ErrNotDrained is returned by WaitDrained when the agent did not read
// everything in time.
var ErrNotDrained = errors.New("typed bytes not read by the agent")

// drainSettle is how long the input queue must stay empty before it
// counts as drained: bytes written to the master pass through the kernel's
// flip buffer, pushed to the slave's input queue by a kernel worker, and
// TIOCINQ does not see them until then.
const drainSettle = 100 * time.Millisecond

// WaitDrained waits until the agent has read every typed byte — the input
// queue has stayed empty for 100ms, so that bytes still in the kernel's
// flip buffer are not missed — or timeout passes.
func (p *PTY) WaitDrained(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var emptySince time.Time
	for {
		n, err := p.Unread()
		if err != nil {
			return err
		}
		now := time.Now()
		switch {
		case n > 0:
			emptySince = time.Time{}
		case emptySince.IsZero():
			emptySince = now
		case now.Sub(emptySince) >= drainSettle:
			return nil
		}
		if now.After(deadline) {
			return fmt.Errorf("%w: %d bytes after %v", ErrNotDrained, n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Close closes both ends. Closing the master hangs up the slave: a reader
// of the slave gets EOF (read returns 0; go.bug.st/serial reports
// PortClosed) and unread input is discarded — an unplug.
func (p *PTY) Close() error {
	err1 := p.slave.Close()
	err2 := p.Master.Close()
	return errors.Join(err1, err2)
}
