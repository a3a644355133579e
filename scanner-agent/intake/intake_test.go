package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pharmatrace/pharmatrace/scanner-agent/outbox"
	"github.com/pharmatrace/pharmatrace/scanner-agent/serialscan"
	"github.com/pharmatrace/pharmatrace/scanner-agent/simscan"
)

// fakeDecoder stands in for the GS1 parser: a frame must start with the
// DataMatrix symbology identifier ]d2 and contain a GS.
func fakeDecoder(frame []byte) ([]byte, error) {
	if !bytes.HasPrefix(frame, []byte("]d201")) || !bytes.Contains(frame, []byte{0x1d}) {
		return nil, errors.New("not a GS1 DataMatrix element string")
	}
	return fmt.Appendf(nil, `{"gtin":%q}`, frame[5:19]), nil
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type pipeline struct {
	q      *outbox.Queue
	cancel context.CancelFunc
	done   chan error
	reader *serialscan.Reader
	m      *serialscan.Metrics
	reg    *prometheus.Registry
	once   sync.Once
}

// startPipeline runs reader (production SerialOpener on device) → intake
// → outbox through Serve.
func startPipeline(t *testing.T, device string, fcfg serialscan.FramerConfig, decode Decoder, onStored func(outbox.Record)) *pipeline {
	t.Helper()
	q, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), outbox.Options{Station: "st-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	open, err := serialscan.SerialOpener(serialscan.Target{Device: device}, serialscan.LineSettings{Baud: 115200})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, _ := serialscan.NewMetrics(reg)
	r := serialscan.NewReader(open, serialscan.Config{
		Name: "dock", Station: "st-1", Framer: fcfg,
		InterCharTimeout: 500 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Metrics: m, Logger: quietLogger(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	p := &pipeline{q: q, cancel: cancel, done: make(chan error, 1), reader: r, m: m, reg: reg}
	go func() {
		p.done <- Serve(ctx, []*serialscan.Reader{r}, q, decode, Options{Logger: quietLogger(), Registerer: reg, OnStored: onStored}, 0)
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *pipeline) stop() {
	p.once.Do(func() {
		p.cancel()
		select {
		case err := <-p.done:
			if err != nil {
				panic(fmt.Sprintf("Serve: %v", err))
			}
		case <-time.After(10 * time.Second):
			panic("Serve did not return")
		}
	})
}

// waitStored waits until n records are in the queue.
func waitStored(t *testing.T, q *outbox.Queue, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		count := 0
		q.All(func(outbox.Record) bool { count++; return true })
		if count >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records stored before timeout", count, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkQueue asserts that the queue holds exactly want, in order, once
// each.
func checkQueue(t *testing.T, q *outbox.Queue, want [][]byte) []outbox.Record {
	t.Helper()
	var recs []outbox.Record
	if err := q.All(func(r outbox.Record) bool { recs = append(recs, r); return true }); err != nil {
		t.Fatal(err)
	}
	ids := map[outbox.ScanID]bool{}
	lost, dup, misordered := 0, 0, 0
	if len(recs) != len(want) {
		t.Errorf("queue holds %d records, typed %d", len(recs), len(want))
	}
	for i, r := range recs {
		if ids[r.ID] {
			dup++
		}
		ids[r.ID] = true
		if i < len(want) && !bytes.Equal(r.Frame, want[i]) {
			misordered++
			if misordered < 3 {
				t.Errorf("record %d = %q, want %q", i, r.Frame, want[i])
			}
		}
		if i > 0 && r.Seq <= recs[i-1].Seq {
			t.Errorf("sequence not increasing at %d", i)
		}
	}
	// Every typed frame exactly once (multiset check, independent of order).
	count := map[string]int{}
	for _, r := range recs {
		count[string(r.Frame)]++
	}
	for _, w := range want {
		switch count[string(w)] {
		case 0:
			lost++
		case 1:
		default:
			dup++
		}
		count[string(w)] = -1 << 30
	}
	if lost+dup+misordered > 0 {
		t.Errorf("lost %d, duplicated %d, out of order %d", lost, dup, misordered)
	}
	return recs
}

// TestTenThousandScansFullSpeed: simulator → pty → reader → intake →
// outbox at full speed; every typed frame once in the queue, in order.
func TestTenThousandScansFullSpeed(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	seq, err := simscan.Generate(n, "", 2026)
	if err != nil {
		t.Fatal(err)
	}
	frames := slices.Collect(seq)
	link := filepath.Join(t.TempDir(), "scanner")
	sim, err := simscan.New(simscan.Options{Seed: 1, Logger: quietLogger(), DrainTimeout: 30 * time.Second, Link: link})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	var mu sync.Mutex
	var stored []time.Time
	p := startPipeline(t, link, serialscan.FramerConfig{Suffix: []byte("\r")}, fakeDecoder, func(outbox.Record) {
		mu.Lock()
		stored = append(stored, time.Now())
		mu.Unlock()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	st, err := sim.Run(ctx, slices.Values(frames), nil)
	if err != nil {
		t.Fatal(err)
	}
	typed := time.Since(start)
	waitStored(t, p.q, n, time.Minute)
	elapsed := time.Since(start)
	recs := checkQueue(t, p.q, frames)
	for _, r := range recs {
		if r.State != outbox.StatePending || len(r.Payload) == 0 {
			t.Fatalf("record %+v not pending with payload", r)
		}
	}
	commits := 0
	if mfs, err := p.reg.Gather(); err == nil {
		for _, mf := range mfs {
			if mf.GetName() == "pharmatrace_intake_batch_size" {
				commits = int(mf.GetMetric()[0].GetHistogram().GetSampleCount())
			}
		}
	}
	t.Logf("%d scans (%d bytes) typed in %v; all durable in the queue after %v: %.0f scans/s end to end, in %d group commits",
		st.Frames, st.Bytes, typed.Round(time.Millisecond), elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), commits)
}

// TestFaultsUnplugEndToEnd: split frames, line noise, GS substitute and
// unplug/replug through a re-pointed symlink; every frame the simulator
// typed appears once in the queue in order; noise frames (rejected by
// the framer) do not.
func TestFaultsUnplugEndToEnd(t *testing.T) {
	seq, _ := simscan.Generate(600, "", 5)
	frames := slices.Collect(seq)
	link := filepath.Join(t.TempDir(), "scanner")
	sim, err := simscan.New(simscan.Options{
		Seed: 11, Logger: quietLogger(), Link: link, Suffix: []byte("\r\n"), GSSubstitute: '~',
		Noise: 0.05, Split: true, SplitMaxChunk: 32, SplitMaxPause: 200 * time.Microsecond,
		UnplugEvery: 150, UnplugPause: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	p := startPipeline(t, link, serialscan.FramerConfig{Suffix: []byte("\r\n"), GSSubstitute: '~'}, fakeDecoder, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := sim.Run(ctx, slices.Values(frames), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitStored(t, p.q, len(frames), 30*time.Second)
	time.Sleep(100 * time.Millisecond) // nothing more may arrive
	checkQueue(t, p.q, frames)
	t.Logf("typed %d frames, %d noise frames, %d unplugs", st.Frames, st.Noise, st.Unplugs)
	if st.Noise == 0 || st.Unplugs != 4 {
		t.Errorf("faults not exercised: %+v", st)
	}
}

// TestDecoderRefusalStoredAsRejected: frames the decoder refuses (CAPS
// LOCK, dropped GS) are stored as rejected, in order, never lost.
func TestDecoderRefusalStoredAsRejected(t *testing.T) {
	seq, _ := simscan.Generate(100, "", 9)
	frames := slices.Collect(seq)
	var typed [][]byte
	var faulty int
	link := filepath.Join(t.TempDir(), "scanner")
	sim, err := simscan.New(simscan.Options{Seed: 4, Logger: quietLogger(), Caps: 0.2, DropGS: 0.2, Link: link})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	p := startPipeline(t, link, serialscan.FramerConfig{Suffix: []byte("\r")}, fakeDecoder, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := sim.Run(ctx, slices.Values(frames), func(ty simscan.Typed) {
		typed = append(typed, ty.Sent)
		if len(ty.Faults) > 0 {
			faulty++
		}
	}); err != nil {
		t.Fatal(err)
	}
	waitStored(t, p.q, len(typed), 30*time.Second)
	recs := checkQueue(t, p.q, typed)
	rejected := 0
	for _, r := range recs {
		if r.State == outbox.StateRejected {
			rejected++
			if r.Detail != "not a GS1 DataMatrix element string" {
				t.Errorf("detail %q", r.Detail)
			}
		}
	}
	if rejected != faulty || faulty == 0 {
		t.Errorf("%d rejected, %d typed with faults", rejected, faulty)
	}
	if d, _ := p.q.Depth(); d != len(typed)-faulty {
		t.Errorf("depth %d", d)
	}
}

// TestDecoderPanicIsContained: a panicking decoder does not crash the
// agent; the frame is stored as rejected.
func TestDecoderPanicIsContained(t *testing.T) {
	q, err := outbox.Open(filepath.Join(t.TempDir(), "q.db"), outbox.Options{Station: "st-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ch := make(chan serialscan.Frame, 2)
	ch <- serialscan.Frame{Scanner: "s", Data: []byte("boom")}
	ch <- serialscan.Frame{Scanner: "s", Data: []byte("]d201ok\x1d")}
	close(ch)
	dec := func(f []byte) ([]byte, error) {
		if string(f) == "boom" {
			panic("index out of range")
		}
		return []byte("{}"), nil
	}
	if err := Run(context.Background(), ch, q, dec, Options{Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	var states []outbox.State
	q.All(func(r outbox.Record) bool { states = append(states, r.State); return true })
	if fmt.Sprint(states) != "[rejected pending]" {
		t.Errorf("states %v", states)
	}
}

// TestServeDrainsOnShutdown: frames already read when the station shuts
// down are stored before Serve returns.
func TestServeDrainsOnShutdown(t *testing.T) {
	seq, _ := simscan.Generate(500, "", 1)
	frames := slices.Collect(seq)
	link := filepath.Join(t.TempDir(), "scanner")
	sim, err := simscan.New(simscan.Options{Seed: 2, Logger: quietLogger(), Link: link})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	slowDecode := func(f []byte) ([]byte, error) {
		time.Sleep(200 * time.Microsecond) // the intake lags behind the reader
		return fakeDecoder(f)
	}
	p := startPipeline(t, link, serialscan.FramerConfig{Suffix: []byte("\r")}, slowDecode, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := sim.Run(ctx, slices.Values(frames), nil); err != nil {
		t.Fatal(err)
	}
	p.stop() // cancel while frames are still in the channel
	n := int(0)
	p.q.All(func(outbox.Record) bool { n++; return true })
	read := int(promValue(p.m.Frames.WithLabelValues("dock")))
	if n != read {
		t.Errorf("reader accepted %d frames, queue holds %d after shutdown", read, n)
	}
	t.Logf("read %d of %d frames before shutdown; %d stored", read, len(frames), n)
}
