package serialscan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Frame is one accepted scan frame.
type Frame struct {
	// Scanner is the configured scanner name.
	Scanner string
	// Device is the device path the frame was read from.
	Device string
	// Data is the frame without suffix, GS substitutes replaced by GS.
	Data []byte
	// End says what ended the frame.
	End End
	// At is when the frame's last byte was read.
	At time.Time
}

// ErrPortDown is returned by Feedback while the scanner is not connected.
var ErrPortDown = errors.New("scanner port is not open")

// Config configures a Reader.
type Config struct {
	// Name is the scanner's name in logs and metrics.
	Name string
	// Station is the station ID, for logs.
	Station string
	// Framer configures framing.
	Framer FramerConfig
	// InterCharTimeout is the silence that ends (or, with a suffix,
	// truncates) a frame. Default 50ms.
	InterCharTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between reopen attempts;
	// defaults 50ms and 1s.
	MinBackoff, MaxBackoff time.Duration
	// Metrics receives the counters; nil: NewMetrics(nil).
	Metrics *Metrics
	// Logger; nil: slog.Default().
	Logger *slog.Logger
	// OnReject, if set, is called for every rejected frame after it has
	// been counted and logged (e.g. to beep the scanner).
	OnReject func(*Rejection)
}

// pollInterval bounds one Read so that cancellation is noticed quickly even
// with a long inter-character timeout.
const pollInterval = 100 * time.Millisecond

// Reader reads one scanner, reconnecting after unplug. Create it with
// NewReader and call Run once.
type Reader struct {
	open Opener
	cfg  Config
	log  *slog.Logger

	mu     sync.RWMutex // guards port; held for reading during Feedback writes
	port   Port
	device string
}

// NewReader returns a Reader for the port open opens.
func NewReader(open Opener, cfg Config) *Reader {
	if cfg.InterCharTimeout <= 0 {
		cfg.InterCharTimeout = 50 * time.Millisecond
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 50 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.Metrics == nil {
		cfg.Metrics, _ = NewMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Metrics.init(cfg.Name)
	return &Reader{
		open: open,
		cfg:  cfg,
		log:  cfg.Logger.With("station", cfg.Station, "scanner", cfg.Name),
	}
}

// Run reads the scanner until ctx is cancelled, sending accepted frames to
// out. It opens the port, and whenever the port fails (unplug, device gone,
// read error) it abandons any partial frame, closes the port and reopens
// it with exponential backoff from MinBackoff to MaxBackoff. The backoff is
// reset once a connection has lasted a second or produced a frame.
//
// A send on out blocks reading, so the consumer must keep up: at full
// speed a serial line has no flow control and the kernel's buffer (4 KiB
// on Linux) is all the slack there is.
//
// Run returns ctx.Err() when ctx is cancelled; it returns no other error.
func (r *Reader) Run(ctx context.Context, out chan<- Frame) error {
	m := r.cfg.Metrics
	backoff := r.cfg.MinBackoff
	var lastErr string
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		port, dev, err := r.open(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Log the first failure and each change of error; repeats of
			// the same one (scanner still unplugged) at debug level.
			if msg := err.Error(); msg != lastErr {
				r.log.Warn("scanner port unavailable", "port", dev, "err", err, "retry", backoff)
				lastErr = msg
			} else {
				r.log.Debug("scanner port still unavailable", "port", dev, "err", err)
			}
			if !sleep(ctx, backoff) {
				return ctx.Err()
			}
			backoff = min(backoff*2, r.cfg.MaxBackoff)
			continue
		}
		lastErr = ""
		r.mu.Lock()
		r.port, r.device = port, dev
		r.mu.Unlock()
		m.Up.WithLabelValues(r.cfg.Name).Set(1)
		m.Opens.WithLabelValues(r.cfg.Name).Inc()
		r.log.Info("scanner connected", "port", dev)

		start := time.Now()
		frames, err := r.readLoop(ctx, port, dev, out)

		r.mu.Lock()
		r.port, r.device = nil, ""
		cerr := port.Close()
		r.mu.Unlock()
		m.Up.WithLabelValues(r.cfg.Name).Set(0)
		if ctx.Err() != nil {
			r.log.Info("scanner closed", "port", dev)
			return ctx.Err()
		}
		m.Disconnects.WithLabelValues(r.cfg.Name).Inc()
		r.log.Warn("scanner disconnected", "port", dev, "err", err, "close_err", cerr, "frames", frames)
		if frames > 0 || time.Since(start) > time.Second {
			backoff = r.cfg.MinBackoff
		} else {
			// Opened but failed at once: do not spin.
			if !sleep(ctx, backoff) {
				return ctx.Err()
			}
			backoff = min(backoff*2, r.cfg.MaxBackoff)
		}
	}
}

// readLoop reads and frames until the port fails or ctx is cancelled. It
// returns the number of frames accepted and the read error.
func (r *Reader) readLoop(ctx context.Context, port Port, dev string, out chan<- Frame) (int, error) {
	m := r.cfg.Metrics
	poll := min(r.cfg.InterCharTimeout, pollInterval)
	tp, err := NewTimeoutPort(port, poll)
	if err != nil {
		return 0, err
	}
	fr := NewFramer(r.cfg.Framer)
	buf := make([]byte, 4096)
	var results []Result
	var lastByte time.Time
	frames := 0
	deliver := func() error {
		for _, res := range results {
			if res.Reject != nil {
				m.Rejected.WithLabelValues(r.cfg.Name, string(res.Reject.Reason)).Inc()
				r.log.Error("scanner frame rejected", "port", dev, "reason", res.Reject.Reason,
					"detail", res.Reject.Detail, "len", res.Reject.Len, "sample", res.Reject.Sample)
				if r.cfg.OnReject != nil {
					r.cfg.OnReject(res.Reject)
				}
				continue
			}
			f := Frame{Scanner: r.cfg.Name, Device: dev, Data: res.Frame, End: res.End, At: lastByte}
			if err := r.send(ctx, out, f); err != nil {
				return err
			}
			m.Frames.WithLabelValues(r.cfg.Name).Inc()
			frames++
		}
		results = results[:0]
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return frames, err
		}
		n, err := tp.Read(buf)
		if n > 0 {
			lastByte = time.Now()
			results = fr.Feed(buf[:n], results)
		}
		switch {
		case errors.Is(err, ErrReadTimeout):
			if fr.Pending() && time.Since(lastByte) >= r.cfg.InterCharTimeout {
				results = fr.Timeout(results)
			}
		case err != nil:
			results = fr.Abort(results)
			if derr := deliver(); derr != nil {
				return frames, derr
			}
			return frames, fmt.Errorf("read %s: %w", dev, err)
		}
		if err := deliver(); err != nil {
			return frames, err
		}
	}
}

// shutdownGrace is how long a frame already read may wait for the consumer
// after cancellation (Serve-style consumers drain until the readers stop).
const shutdownGrace = 2 * time.Second

// send delivers f; after cancellation it still tries for shutdownGrace, so
// that a frame read just before shutdown is not lost.
func (r *Reader) send(ctx context.Context, out chan<- Frame, f Frame) error {
	select {
	case out <- f:
		return nil
	case <-ctx.Done():
	}
	t := time.NewTimer(shutdownGrace)
	defer t.Stop()
	select {
	case out <- f:
		return nil // the read loop notices the cancellation next
	case <-t.C:
		r.log.Error("scan frame dropped at shutdown: nobody consumed it", "port", f.Device, "sample", sample(f.Data))
		return ctx.Err()
	}
}

// Feedback writes b to the scanner (e.g. a beep or red-light command
// configured as refuse_feedback). It returns ErrPortDown while the scanner
// is unplugged, and ctx's error if the write does not finish in time (the
// write itself then completes or fails in the background).
func (r *Reader) Feedback(ctx context.Context, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		// The read lock keeps the port from being closed (and its file
		// descriptor reused) during the write.
		r.mu.RLock()
		defer r.mu.RUnlock()
		if r.port == nil {
			done <- ErrPortDown
			return
		}
		_, err := r.port.Write(b)
		if err != nil {
			err = fmt.Errorf("feedback to %s: %w", r.device, err)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Device returns the device path of the open port, "" while disconnected.
func (r *Reader) Device() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.device
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
