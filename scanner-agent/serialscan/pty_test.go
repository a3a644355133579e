package serialscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pharmatrace/pharmatrace/scanner-agent/simscan"
)

// These tests run the production path end to end on a real pseudo-terminal
// pair: simscan types into the master, and the Reader opens the slave with
// go.bug.st/serial.Open through SerialOpener.

type harness struct {
	reader  *Reader
	frames  chan Frame
	metrics *Metrics
	cancel  context.CancelFunc
	done    chan error
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func startReader(t *testing.T, device string, cfg Config) *harness {
	return startReaderWrapped(t, device, cfg, nil)
}

// countingPort counts reads that returned data, to show frames really
// arrive split across reads.
type countingPort struct {
	Port
	last  byte // the suffix's last byte
	mu    sync.Mutex
	reads int
	cuts  int // reads that ended inside a frame
}

func (c *countingPort) Read(p []byte) (int, error) {
	n, err := c.Port.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.reads++
		if p[n-1] != c.last {
			c.cuts++
		}
		c.mu.Unlock()
	}
	return n, err
}

func startReaderWrapped(t *testing.T, device string, cfg Config, wrap func(Port) Port) *harness {
	t.Helper()
	open, err := SerialOpener(Target{Device: device}, LineSettings{Baud: 9600})
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		inner := open
		open = func(ctx context.Context) (Port, string, error) {
			p, dev, err := inner(ctx)
			if err != nil {
				return nil, dev, err
			}
			return wrap(p), dev, nil
		}
	}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	cfg.Station = "st-1"
	cfg.Metrics = m
	cfg.Logger = testLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{reader: NewReader(open, cfg), frames: make(chan Frame, 1024), metrics: m, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- h.reader.Run(ctx, h.frames) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

// collect reads n frames or fails after timeout.
func (h *harness) collect(t *testing.T, n int, timeout time.Duration) []Frame {
	t.Helper()
	var got []Frame
	deadline := time.After(timeout)
	for len(got) < n {
		select {
		case f := <-h.frames:
			got = append(got, f)
		case <-deadline:
			t.Fatalf("got %d of %d frames before timeout", len(got), n)
		}
	}
	return got
}

func (h *harness) rejected(reason Reason) int {
	return int(testutil.ToFloat64(h.metrics.Rejected.WithLabelValues("test", string(reason))))
}

func newSim(t *testing.T, o simscan.Options) *sim {
	t.Helper()
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Link == "" {
		// Read through a per-test symlink, never a bare /dev/pts/N: after
		// an unplug the kernel may hand that number to a parallel test.
		o.Link = filepath.Join(t.TempDir(), "scanner")
	}
	o.Logger = testLogger(t)
	s, err := simscan.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &sim{Simulator: s, link: o.Link}
}

// sim is a simulator and the symlink the reader opens it by.
type sim struct {
	*simscan.Simulator
	link string
}

func generate(t *testing.T, n int) [][]byte {
	seq, err := simscan.Generate(n, "", 7)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Collect(seq)
}

func sameFrames(t *testing.T, got []Frame, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].Data, want[i]) {
			t.Fatalf("frame %d = %q, want %q", i, got[i].Data, want[i])
		}
	}
}

func TestPTYFramesSplitAcrossReads(t *testing.T) {
	frames := generate(t, 120)
	for _, suffix := range []string{"\r", "\r\n"} {
		t.Run(fmt.Sprintf("%q", suffix), func(t *testing.T) {
			sim := newSim(t, simscan.Options{Suffix: []byte(suffix), Split: true, SplitMaxChunk: 6, SplitMaxPause: 500 * time.Microsecond})
			cp := &countingPort{last: suffix[len(suffix)-1]}
			h := startReaderWrapped(t, sim.link, Config{
				Framer:           FramerConfig{Suffix: []byte(suffix)},
				InterCharTimeout: 500 * time.Millisecond, // generous: CI machines stall
			}, func(p Port) Port { cp.Port = p; return cp })
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if _, err := sim.Run(ctx, slices.Values(frames), nil); err != nil {
				t.Fatal(err)
			}
			got := h.collect(t, len(frames), 10*time.Second)
			sameFrames(t, got, frames)
			cp.mu.Lock()
			reads, cuts := cp.reads, cp.cuts
			cp.mu.Unlock()
			t.Logf("%d frames arrived in %d reads, %d of which ended mid-frame", len(frames), reads, cuts)
			if cuts < 10 {
				t.Errorf("only %d reads ended mid-frame: reassembly not exercised", cuts)
			}
			for _, r := range Reasons {
				if n := h.rejected(r); n != 0 {
					t.Errorf("%d frames rejected as %s", n, r)
				}
			}
			if got[0].Device != sim.Path() || got[0].End != EndSuffix || got[0].Scanner != "test" || got[0].At.IsZero() {
				t.Errorf("frame metadata %+v", got[0])
			}
		})
	}
}

func TestPTYInterCharTimeoutFraming(t *testing.T) {
	frames := generate(t, 4)
	sim := newSim(t, simscan.Options{NoSuffix: true, Gap: 400 * time.Millisecond, GSSubstitute: '~'})
	h := startReader(t, sim.link, Config{
		Framer:           FramerConfig{GSSubstitute: '~'}, // no suffix
		InterCharTimeout: 60 * time.Millisecond,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sim.Run(ctx, slices.Values(frames), nil); err != nil {
		t.Fatal(err)
	}
	got := h.collect(t, len(frames), 5*time.Second)
	sameFrames(t, got, frames) // '~' back to GS
	for _, f := range got {
		if f.End != EndTimeout {
			t.Errorf("frame ended by %v", f.End)
		}
	}
}

func TestPTYUnplugReplugViaSymlink(t *testing.T) {
	frames := generate(t, 250)
	link := filepath.Join(t.TempDir(), "by-id-scanner")
	var mu sync.Mutex
	var paths []string
	sim := newSim(t, simscan.Options{Link: link, UnplugEvery: 50, UnplugPause: 50 * time.Millisecond,
		OnPlug: func(p string) { mu.Lock(); paths = append(paths, p); mu.Unlock() }})
	h := startReader(t, link, Config{
		Framer:           FramerConfig{Suffix: []byte("\r")},
		InterCharTimeout: 500 * time.Millisecond,
		MaxBackoff:       200 * time.Millisecond,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := sim.Run(ctx, slices.Values(frames), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := h.collect(t, len(frames), 10*time.Second)
	sameFrames(t, got, frames)
	if st.Unplugs != 5 {
		t.Errorf("%d unplugs", st.Unplugs)
	}
	// The reader must have reconnected after every unplug but the last
	// (after which nothing more is typed): 1 + 4 opens at least, and
	// frames came from several devices.
	waitFor(t, 5*time.Second, func() bool {
		return testutil.ToFloat64(h.metrics.Opens.WithLabelValues("test")) >= 6
	})
	if d := testutil.ToFloat64(h.metrics.Disconnects.WithLabelValues("test")); d < 5 {
		t.Errorf("%v disconnects, want ≥5", d)
	}
	devices := map[string]bool{}
	for _, f := range got {
		devices[f.Device] = true
	}
	mu.Lock()
	t.Logf("ptys %v; frames read from %d devices", paths, len(devices))
	mu.Unlock()
	if len(devices) < 2 {
		t.Errorf("frames from %d device(s); replug not exercised", len(devices))
	}
	if up := testutil.ToFloat64(h.metrics.Up.WithLabelValues("test")); up != 1 {
		t.Errorf("port_up = %v after replug", up)
	}
	if r := h.rejected(ReasonTruncated); r != 0 {
		t.Errorf("%d truncated frames", r)
	}
}

func TestPTYGarbageAndOverlong(t *testing.T) {
	good := generate(t, 200)
	var src [][]byte
	for i, f := range good {
		src = append(src, f)
		if i%50 == 10 {
			src = append(src, bytes.Repeat([]byte("9"), 700)) // overlong
		}
		if i%40 == 5 {
			src = append(src, []byte("10AB\xff\xfe21X")) // invalid UTF-8
		}
	}
	sim := newSim(t, simscan.Options{Noise: 0.2, Seed: 99})
	h := startReader(t, sim.link, Config{
		Framer:           FramerConfig{Suffix: []byte("\r"), MaxFrame: 512},
		InterCharTimeout: 500 * time.Millisecond,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := sim.Run(ctx, slices.Values(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := h.collect(t, len(good), 10*time.Second)
	sameFrames(t, got, good)
	select {
	case f := <-h.frames:
		t.Fatalf("extra frame %q", f.Data)
	case <-time.After(50 * time.Millisecond):
	}
	ctl, utf, over := h.rejected(ReasonControl), h.rejected(ReasonInvalidUTF8), h.rejected(ReasonOverlong)
	if over != 4 {
		t.Errorf("%d overlong, want 4", over)
	}
	// Every noise frame has a control byte; the invalid UTF-8 frames have
	// none.
	if ctl != st.Noise || utf != 5 {
		t.Errorf("control %d (noise typed %d), invalid UTF-8 %d (want 5)", ctl, st.Noise, utf)
	}
	if st.Noise == 0 {
		t.Error("no noise typed")
	}
	if n := testutil.ToFloat64(h.metrics.Frames.WithLabelValues("test")); int(n) != len(good) {
		t.Errorf("frames_total = %v", n)
	}
}

func TestPTYFeedback(t *testing.T) {
	got := make(chan []byte, 10)
	sim := newSim(t, simscan.Options{OnFeedback: func(b []byte) { got <- b }})
	h := startReader(t, sim.link, Config{Framer: FramerConfig{Suffix: []byte("\r")}})
	waitFor(t, 5*time.Second, func() bool { return h.reader.Device() != "" })
	if err := h.reader.Feedback(context.Background(), []byte("\a\x1b[5q")); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if string(b) != "\a\x1b[5q" {
			t.Errorf("scanner got %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no feedback reached the scanner")
	}
	sim.Close()
	waitFor(t, 5*time.Second, func() bool { return h.reader.Device() == "" })
	if err := h.reader.Feedback(context.Background(), []byte("\a")); !errors.Is(err, ErrPortDown) {
		t.Errorf("Feedback while unplugged = %v", err)
	}
}

// TestPTYLateDevice starts the reader before the device exists; it must
// keep retrying (backoff capped) and connect once the link appears.
func TestPTYLateDevice(t *testing.T) {
	link := filepath.Join(t.TempDir(), "scanner")
	h := startReader(t, link, Config{Framer: FramerConfig{Suffix: []byte("\r")}, MaxBackoff: 300 * time.Millisecond})
	time.Sleep(700 * time.Millisecond)
	if up := testutil.ToFloat64(h.metrics.Up.WithLabelValues("test")); up != 0 {
		t.Fatalf("port_up = %v with no device", up)
	}
	sim := newSim(t, simscan.Options{Link: link})
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := sim.Run(ctx, slices.Values([][]byte{[]byte("hello")}), nil); err != nil {
		t.Fatal(err)
	}
	got := h.collect(t, 1, 5*time.Second)
	if string(got[0].Data) != "hello" {
		t.Errorf("got %q", got[0].Data)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("connected after %v; backoff not capped", el)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOpenerErrors checks the opener's "not there" classification.
func TestOpenerErrors(t *testing.T) {
	open, err := SerialOpener(Target{Device: filepath.Join(t.TempDir(), "none")}, LineSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := open(context.Background()); !errors.Is(err, ErrNoPort) {
		t.Errorf("missing device: %v", err)
	}
	f := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(f, nil, 0o600)
	if _, _, err := open(context.Background()); err == nil {
		t.Error("opened nothing")
	}
	if _, err := SerialOpener(Target{}, LineSettings{}); err == nil {
		t.Error("empty target accepted")
	}
	if _, err := SerialOpener(Target{Device: "/dev/x"}, LineSettings{Parity: "often"}); err == nil {
		t.Error("bad parity accepted")
	}
}
