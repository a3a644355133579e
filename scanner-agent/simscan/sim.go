// Package simscan is a virtual barcode scanner on a pseudo-terminal. It
// types frames — from a file or generated pharmaceutical DataMatrix
// element strings — into the master side of a pty at a given rate, with
// optional fault injection (dropped GS, CAPS LOCK, keyboard-layout swap,
// line noise, frames split into small chunks, unplug/replug), while the
// agent reads the slave side as if it were a serial scanner.
//
// The simulate subcommand of scanner-agent is a thin wrapper; tests use the
// package directly.
//
// An unplug closes the pty (the agent's read returns EOF and unread bytes
// are discarded, as when a USB cable is pulled) and opens a new one, whose
// slave has a new path. Options.Link names a symlink that is re-pointed at
// the current slave, like a udev /dev/serial/by-id link, so the agent can
// find the scanner again. Before an unplug the simulator waits until the
// agent has read everything typed, so no frame is lost to the simulation
// itself.
package simscan

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Options configure a Simulator.
type Options struct {
	// Suffix is typed after every frame; default CR. Empty (use NoSuffix)
	// types none: set Gap above the agent's inter-character timeout.
	Suffix []byte
	// NoSuffix types frames without any suffix.
	NoSuffix bool
	// GSSubstitute, when not 0, is typed instead of GS.
	GSSubstitute byte
	// Rate is frames per second; 0 is as fast as the pty takes them.
	Rate float64
	// Gap is a pause after every frame (for suffix-less framing).
	Gap time.Duration

	// Probabilities, per frame, of each fault.
	DropGS float64 // GS characters left out
	Caps   float64 // CAPS LOCK: letter case inverted
	Layout float64 // keyboard layout swapped (LayoutKind)
	Noise  float64 // a garbage frame typed before the frame
	// LayoutKind is the layout swap; default LayoutQWERTZ.
	LayoutKind Layout

	// Split types each frame (suffix included) in random chunks of 1 to
	// SplitMaxChunk bytes (default 8) with pauses of up to SplitMaxPause
	// (default 2ms) between them.
	Split         bool
	SplitMaxChunk int
	SplitMaxPause time.Duration

	// UnplugEvery unplugs and replugs the scanner after every N frames;
	// 0 never.
	UnplugEvery int
	// UnplugPause is how long the scanner stays unplugged; default 100ms.
	UnplugPause time.Duration
	// Link, if set, is a symlink kept pointing at the current slave.
	Link string
	// DrainTimeout bounds the wait for the agent to read everything typed,
	// before an unplug and at the end of Run; default 10s.
	DrainTimeout time.Duration

	// Seed makes faults and noise reproducible; 0 picks one at random.
	Seed uint64
	// OnPlug is called with the slave path of every pty, the first one
	// included.
	OnPlug func(path string)
	// OnFeedback is called with bytes the agent writes back to the
	// scanner (beep/flash commands).
	OnFeedback func([]byte)
	// Logger; nil: slog.Default().
	Logger *slog.Logger
}

// Typed describes one frame as typed.
type Typed struct {
	// Index is the position of the source frame, -1 for a noise frame.
	Index int
	// Source is the frame before faults; nil for noise.
	Source []byte
	// Sent is what was typed, suffix excluded, after faults and GS
	// substitution.
	Sent []byte
	// Faults lists the faults applied: "drop-gs", "caps", "layout",
	// "noise".
	Faults []string
}

// Stats summarise a Run.
type Stats struct {
	Frames  int // source frames typed
	Noise   int // garbage frames typed
	Faulty  int // source frames typed with at least one fault
	Unplugs int
	Bytes   int64
	Elapsed time.Duration
}

// Simulator is a virtual scanner. Create it with New, call Run, then
// Close.
type Simulator struct {
	o   Options
	rng *rand.Rand
	log *slog.Logger

	mu  sync.Mutex // guards pty
	pty *PTY
	fb  sync.WaitGroup
}

// New opens the first pty (and points Link at it).
func New(o Options) (*Simulator, error) {
	if len(o.Suffix) == 0 && !o.NoSuffix {
		o.Suffix = []byte("\r")
	}
	if o.NoSuffix {
		o.Suffix = nil
	}
	if o.LayoutKind == "" {
		o.LayoutKind = LayoutQWERTZ
	}
	if o.LayoutKind != LayoutQWERTZ && o.LayoutKind != LayoutAZERTY {
		return nil, fmt.Errorf("layout %q: want qwertz or azerty", o.LayoutKind)
	}
	for name, p := range map[string]float64{"drop-gs": o.DropGS, "caps": o.Caps, "layout": o.Layout, "noise": o.Noise} {
		if p < 0 || p > 1 {
			return nil, fmt.Errorf("%s probability %v: want 0..1", name, p)
		}
	}
	if o.Rate < 0 {
		return nil, fmt.Errorf("rate %v: negative", o.Rate)
	}
	if o.SplitMaxChunk <= 0 {
		o.SplitMaxChunk = 8
	}
	if o.SplitMaxPause <= 0 {
		o.SplitMaxPause = 2 * time.Millisecond
	}
	if o.UnplugPause <= 0 {
		o.UnplugPause = 100 * time.Millisecond
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 10 * time.Second
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Simulator{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed>>1|1)), log: o.Logger}
	if err := s.plug(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the current slave path.
func (s *Simulator) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pty == nil {
		return ""
	}
	return s.pty.Path
}

// plug opens a new pty, points the link at it and starts reading
// feedback from it.
func (s *Simulator) plug() error {
	p, err := OpenPTY()
	if err != nil {
		return err
	}
	return s.attach(p)
}

// attach makes p the current pty.
func (s *Simulator) attach(p *PTY) error {
	if s.o.Link != "" {
		if err := repoint(s.o.Link, p.Path); err != nil {
			p.Close()
			return err
		}
	}
	s.mu.Lock()
	s.pty = p
	s.mu.Unlock()
	s.fb.Add(1)
	go s.readFeedback(p)
	if s.o.OnPlug != nil {
		s.o.OnPlug(p.Path)
	}
	s.log.Debug("scanner plugged in", "port", p.Path)
	return nil
}

// repoint atomically makes link a symlink to target.
func repoint(link, target string) error {
	tmp := filepath.Join(filepath.Dir(link), "."+filepath.Base(link)+".tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("symlink %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("symlink %s: %w", link, err)
	}
	return nil
}

// readFeedback drains the master: whatever the agent writes to the
// scanner. Without it the agent's writes would eventually block.
func (s *Simulator) readFeedback(p *PTY) {
	defer s.fb.Done()
	buf := make([]byte, 256)
	for {
		n, err := p.Master.Read(buf)
		if n > 0 && s.o.OnFeedback != nil {
			s.o.OnFeedback(append([]byte(nil), buf[:n]...))
		}
		if err != nil {
			return
		}
	}
}

// Unplug waits (up to DrainTimeout) for the agent to read what was typed,
// removes Link, then closes the pty: the agent's reads fail and the slave
// path goes away.
func (s *Simulator) Unplug(ctx context.Context) error {
	s.mu.Lock()
	p := s.pty
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	derr := p.WaitDrained(ctx, s.o.DrainTimeout)
	if derr != nil && ctx.Err() == nil {
		s.log.Warn("unplugging with unread bytes; they are lost", "port", p.Path, "err", derr)
	}
	s.mu.Lock()
	s.pty = nil
	s.mu.Unlock()
	// Like udev, remove the link first: the agent must never follow it to
	// a /dev/pts number the kernel has handed to someone else meanwhile.
	s.removeLink(p.Path)
	err := p.Close()
	s.log.Debug("scanner unplugged", "port", p.Path)
	return errors.Join(derr, err)
}

// Replug unplugs the scanner, waits UnplugPause and plugs it in again.
// The new pty is allocated before the old one is closed, so its path
// differs — as a re-enumerated USB device's may — and only Link (like a
// udev by-id symlink) leads to it.
func (s *Simulator) Replug(ctx context.Context) error {
	next, err := OpenPTY()
	if err != nil {
		return err
	}
	if err := s.Unplug(ctx); err != nil && !errors.Is(err, ErrNotDrained) {
		next.Close()
		return err
	}
	select {
	case <-ctx.Done():
		next.Close()
		return ctx.Err()
	case <-time.After(s.o.UnplugPause):
	}
	return s.attach(next)
}

// Close unplugs without waiting (removing Link first).
func (s *Simulator) Close() error {
	s.mu.Lock()
	p := s.pty
	s.pty = nil
	s.mu.Unlock()
	var err error
	if p != nil {
		s.removeLink(p.Path)
		err = p.Close()
	}
	s.fb.Wait()
	return err
}

// removeLink removes Link if it points at path.
func (s *Simulator) removeLink(path string) {
	if s.o.Link == "" {
		return
	}
	if target, err := os.Readlink(s.o.Link); err == nil && target == path {
		os.Remove(s.o.Link)
	}
}

// Drain waits until the agent has read everything typed so far.
func (s *Simulator) Drain(ctx context.Context) error {
	s.mu.Lock()
	p := s.pty
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.WaitDrained(ctx, s.o.DrainTimeout)
}

// Run types frames until they run out or ctx is cancelled, calling
// onTyped (if not nil) after each frame, noise included, has been written.
// At the end it waits for the agent to read everything (Drain).
func (s *Simulator) Run(ctx context.Context, frames iter.Seq[[]byte], onTyped func(Typed)) (Stats, error) {
	var st Stats
	start := time.Now()
	defer func() { st.Elapsed = time.Since(start) }()
	// A write into a full pty blocks until the agent reads; cancellation
	// unblocks it through the master's write deadline.
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.pty != nil {
			s.pty.Master.SetWriteDeadline(time.Now())
		}
	})
	defer stop()
	i := 0
	for src := range frames {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if s.o.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / s.o.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
					return st, ctx.Err()
				case <-time.After(d):
				}
			}
		}
		if s.o.Noise > 0 && s.rng.Float64() < s.o.Noise {
			nf := noiseFrame(s.rng)
			if err := s.typeFrame(ctx, nf, &st); err != nil {
				return st, err
			}
			st.Noise++
			if onTyped != nil {
				onTyped(Typed{Index: -1, Sent: nf, Faults: []string{"noise"}})
			}
		}
		sent, faults := s.applyFaults(src)
		if err := s.typeFrame(ctx, sent, &st); err != nil {
			return st, err
		}
		st.Frames++
		if len(faults) > 0 {
			st.Faulty++
		}
		if onTyped != nil {
			onTyped(Typed{Index: i, Source: src, Sent: sent, Faults: faults})
		}
		i++
		if s.o.UnplugEvery > 0 && i%s.o.UnplugEvery == 0 {
			if err := s.Replug(ctx); err != nil {
				return st, err
			}
			st.Unplugs++
		}
	}
	err := s.Drain(ctx)
	st.Elapsed = time.Since(start)
	return st, err
}

func (s *Simulator) applyFaults(src []byte) ([]byte, []string) {
	f := src
	var faults []string
	if s.o.DropGS > 0 && s.rng.Float64() < s.o.DropGS {
		f = dropGS(f)
		faults = append(faults, "drop-gs")
	}
	if s.o.Caps > 0 && s.rng.Float64() < s.o.Caps {
		f = invertCase(f)
		faults = append(faults, "caps")
	}
	if s.o.Layout > 0 && s.rng.Float64() < s.o.Layout {
		f = swapLayout(f, s.o.LayoutKind)
		faults = append(faults, "layout")
	}
	if s.o.GSSubstitute != 0 {
		g := make([]byte, len(f))
		for i, b := range f {
			if b == 0x1d {
				b = s.o.GSSubstitute
			}
			g[i] = b
		}
		f = g
	}
	return f, faults
}

// typeFrame writes one frame and its suffix to the current pty.
func (s *Simulator) typeFrame(ctx context.Context, f []byte, st *Stats) error {
	s.mu.Lock()
	p := s.pty
	s.mu.Unlock()
	if p == nil {
		return errors.New("scanner is unplugged")
	}
	msg := make([]byte, 0, len(f)+len(s.o.Suffix))
	msg = append(msg, f...)
	msg = append(msg, s.o.Suffix...)
	if !s.o.Split {
		if _, err := p.Master.Write(msg); err != nil {
			return fmt.Errorf("type into %s: %w", p.Path, err)
		}
	} else {
		for len(msg) > 0 {
			n := min(len(msg), 1+s.rng.IntN(s.o.SplitMaxChunk))
			if _, err := p.Master.Write(msg[:n]); err != nil {
				return fmt.Errorf("type into %s: %w", p.Path, err)
			}
			msg = msg[n:]
			st.Bytes += int64(n)
			if len(msg) > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Duration(s.rng.Int64N(int64(s.o.SplitMaxPause) + 1))):
				}
			}
		}
	}
	if !s.o.Split {
		st.Bytes += int64(len(f) + len(s.o.Suffix))
	}
	if s.o.Gap > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.o.Gap):
		}
	}
	return nil
}
