package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pharmatrace/pharmatrace/bench"
	"github.com/pharmatrace/pharmatrace/trace"
)

// apiVerify: a real pharmatrace-api process on the network; 50 concurrent
// HTTP clients (pharmacists with their own tokens) verify scan strings of
// packs held by their pharmacy. The API's CPU profile is saved beside the
// results.
func apiVerify(ctx context.Context, e *env) ([]bench.Figure, error) {
	mfr, err := e.dial(ctx, "Manufacturer", "mfr-alpha")
	if err != nil {
		return nil, err
	}
	defer mfr.Close()
	mid, _ := e.l.User("Manufacturer", "mfr-alpha")
	g, err := newProduct(ctx, mfr, mid.GCP)
	if err != nil {
		return nil, err
	}
	tag := requestID()[6:14]
	lot, serials := "H"+tag, serialsFor("H"+tag, 500)
	if err := commission(ctx, mfr, g, lot, serials); err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "pharmabench-api-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	bin := filepath.Join(filepath.Dir(os.Args[0]), "pharmatrace-api")
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	pprofAddr := pl.Addr().String()
	pl.Close()
	env := append(os.Environ(), "PHARMATRACE_API_DB="+filepath.Join(dir, "api.db"), "PHARMATRACE_RUN_DIR="+e.l.Dir,
		"PHARMATRACE_API_ADDR="+addr, "PHARMATRACE_API_LOG_LEVEL=warn", "PHARMATRACE_API_PPROF_ADDRESS="+pprofAddr)
	tc := exec.CommandContext(ctx, bin, "token", "create", "-user", "Pharmacy/pharm-central")
	tc.Env = env
	tok, err := tc.Output()
	if err != nil {
		return nil, fmt.Errorf("API token: %w", err)
	}
	token := strings.TrimSpace(string(tok))
	cmd := exec.CommandContext(ctx, bin, "serve", "-rate", "0")
	cmd.Env = env
	logf, _ := os.Create(filepath.Join(dir, "api.log"))
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	base := "http://" + addr
	for start := time.Now(); ; {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 30*time.Second {
			return nil, fmt.Errorf("API did not start; see %s", logf.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	verify := func(ctx context.Context, serial string) error {
		body, _ := json.Marshal(map[string]string{"scan": fmt.Sprintf("]d2\x1d01%s17301231%s%s\x1d21%s", g, "10", lot, serial)})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/packs/verify", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var v trace.VerifyResult
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
			return fmt.Errorf("verify: %s %v", resp.Status, err)
		}
		return nil
	}
	_ = verify(ctx, serials[0]) // warm up connections and the API's ledger client
	d := 20 * time.Second
	if e.quick {
		d = 8 * time.Second
	}
	profile := e.profile(ctx, pprofAddr, "api-verify.pprof")
	r := bench.ClosedLoop(ctx, counters, d, func(ctx context.Context, client, seq int) error {
		return verify(ctx, serials[(client*31+seq)%len(serials)])
	})
	if err := profile(); err != nil {
		e.log.Warn("API profile", "err", err)
	}
	if r.OK == 0 {
		return nil, fmt.Errorf("no verify succeeded: %v", r.FirstErr)
	}
	note := fmt.Sprintf("%d clients, %.0f verifies/s, %d failed", r.Clients, r.PerSecond(), r.Errors)
	return []bench.Figure{
		{Scenario: "API", Metric: "verify over HTTP p50", Value: bench.Ms(r.Latency.P50), Unit: "ms"},
		{Scenario: "API", Metric: "verify over HTTP p99", Value: bench.Ms(r.Latency.P99), Unit: "ms", Target: "<= 15", Note: note},
	}, nil
}
