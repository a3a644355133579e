package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pharmatrace/pharmatrace/bench"
	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/scanner-agent/simscan"
	"github.com/pharmatrace/pharmatrace/trace"
)

// scanToVerdict: a real scanner-agent process (dispense mode, the
// network up) reads frames from a simulated scanner on a pseudo-terminal;
// measured is the time from the frame's last byte written to the verdict
// line printed at the counter (the agent's stdout).
func scanToVerdict(ctx context.Context, e *env) ([]bench.Figure, error) {
	n := 300
	if e.quick {
		n = 100
	}
	site := "pharm-central"
	mfr, g, err := e.newManufacturerProduct(ctx)
	if err != nil {
		return nil, err
	}
	defer mfr.Close()
	ph, err := e.dial(ctx, "Pharmacy", site)
	if err != nil {
		return nil, err
	}
	defer ph.Close()
	pid, _ := e.l.User("Pharmacy", site)
	tag := requestID()[6:14]
	lot, serials := "V"+tag, serialsFor("V"+tag, n)
	if err := commission(ctx, mfr, g, lot, serials); err != nil {
		return nil, err
	}
	if err := shipAndReceive(ctx, mfr, ph, trace.Party{MSP: pid.MSPID, GLN: pid.GLN}, g, serials); err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "pharmabench-agent-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	link := filepath.Join(dir, "scanner")
	sim, err := simscan.New(simscan.Options{Link: link, Suffix: []byte("\r")})
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	cfgPath, err := fabconn.WriteStationConfig(e.l, "Pharmacy", site, "bench", dir, "")
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(filepath.Dir(os.Args[0]), "scanner-agent"), "run", "-config", cfgPath)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start scanner-agent: %w", err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()

	type line struct {
		at   time.Time
		text string
	}
	lines := make(chan line, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- line{time.Now(), sc.Text()}
		}
		close(lines)
	}()
	verdict := func(l string) bool {
		return strings.Contains(l, " OK ") || strings.Contains(l, " REFUSED ") || strings.Contains(l, " QUEUED ") || strings.Contains(l, " SCANNER FAULT ")
	}
	var lat []time.Duration
	var notOK int
	for i, s := range serials {
		frame := []byte(fmt.Sprintf("]d2\x1d01%s17%s10%s\x1d21%s", g, "301231", lot, s))
		var typed time.Time
		if _, err := sim.Run(ctx, slices.Values([][]byte{frame}), func(simscan.Typed) { typed = time.Now() }); err != nil {
			return nil, fmt.Errorf("scan %d: %w", i, err)
		}
		deadline := time.After(10 * time.Second)
	wait:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return nil, fmt.Errorf("scanner-agent exited; see %s", logf.Name())
				}
				if verdict(l.text) {
					lat = append(lat, l.at.Sub(typed))
					if !strings.Contains(l.text, " OK ") {
						notOK++
					}
					break wait
				}
			case <-deadline:
				return nil, fmt.Errorf("no verdict for scan %d within 10s", i)
			}
		}
		time.Sleep(20 * time.Millisecond) // the next pack is picked up
	}
	sum := bench.Summarize(lat)
	note := fmt.Sprintf("%d scans, one at a time, dispense mode; %d verdicts not OK", len(lat), notOK)
	return []bench.Figure{
		{Scenario: "scanner agent", Metric: "scan-to-verdict p50", Value: bench.Ms(sum.P50), Unit: "ms"},
		{Scenario: "scanner agent", Metric: "scan-to-verdict p99", Value: bench.Ms(sum.P99), Unit: "ms", Target: "<= 20", Note: note},
	}, nil
}
