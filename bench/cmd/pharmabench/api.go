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

// apiProcess is a real pharmatrace-api process on the network, with its
// own read model and a token per user.
type apiProcess struct {
	base, pprof string
	tokens      map[string]string // "Org/user" → token
	stop        func()
}

// startAPI starts bin/pharmatrace-api beside pharmabench on free ports
// (rate limit off) and waits until it answers.
func startAPI(ctx context.Context, e *env, users ...string) (*apiProcess, error) {
	dir, err := os.MkdirTemp("", "pharmabench-api-")
	if err != nil {
		return nil, err
	}
	free := func() (string, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer l.Close()
		return l.Addr().String(), nil
	}
	addr, err := free()
	if err != nil {
		return nil, err
	}
	pprofAddr, err := free()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(filepath.Dir(os.Args[0]), "pharmatrace-api")
	env := append(os.Environ(), "PHARMATRACE_API_DB="+filepath.Join(dir, "api.db"), "PHARMATRACE_RUN_DIR="+e.l.Dir,
		"PHARMATRACE_API_ADDR="+addr, "PHARMATRACE_API_LOG_LEVEL=warn", "PHARMATRACE_API_PPROF_ADDRESS="+pprofAddr)
	p := &apiProcess{base: "http://" + addr, pprof: pprofAddr, tokens: map[string]string{}}
	for _, u := range users {
		tc := exec.CommandContext(ctx, bin, "token", "create", "-user", u)
		tc.Env = env
		tok, err := tc.Output()
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("API token for %s: %w", u, err)
		}
		p.tokens[u] = strings.TrimSpace(string(tok))
	}
	cmd := exec.CommandContext(ctx, bin, "serve", "-rate", "0")
	cmd.Env = env
	logf, _ := os.Create(filepath.Join(dir, "api.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	p.stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
		os.RemoveAll(dir)
	}
	for start := time.Now(); ; {
		if resp, err := http.Get(p.base + "/healthz"); err == nil {
			resp.Body.Close()
			return p, nil
		}
		if time.Since(start) > 30*time.Second {
			b, _ := os.ReadFile(logf.Name())
			p.stop()
			return nil, fmt.Errorf("API did not start: %s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// apiVerify: a real pharmatrace-api process on the network; 50 concurrent
// HTTP clients (pharmacists with their own tokens) verify scan strings of
// packs held by their pharmacy. The API's CPU profile is saved beside the
// results.
func apiVerify(ctx context.Context, e *env) ([]bench.Figure, error) {
	mfr, g, err := e.newManufacturerProduct(ctx)
	if err != nil {
		return nil, err
	}
	defer mfr.Close()
	tag := requestID()[6:14]
	lot, serials := "H"+tag, serialsFor("H"+tag, 500)
	if err := commission(ctx, mfr, g, lot, serials); err != nil {
		return nil, err
	}

	api, err := startAPI(ctx, e, "Pharmacy/pharm-central")
	if err != nil {
		return nil, err
	}
	defer api.stop()
	base, token, pprofAddr := api.base, api.tokens["Pharmacy/pharm-central"], api.pprof
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

// apiBulkDispense: the packs of a prescription system's day (1,000; QUICK
// 300), held by pharm-central, dispensed in ONE bulk request through the
// API — one Dispense per pack, 32 at once — beside the dispense scenario's
// 50 independent counters.
func apiBulkDispense(ctx context.Context, e *env) ([]bench.Figure, error) {
	total := 1000
	if e.quick {
		total = 300
	}
	mfr, g, err := e.newManufacturerProduct(ctx)
	if err != nil {
		return nil, err
	}
	defer mfr.Close()
	tag := requestID()[6:14]
	lot, serials := "K"+tag, serialsFor("K"+tag, total)
	if err := commission(ctx, mfr, g, lot, serials); err != nil {
		return nil, err
	}
	ph, err := e.dial(ctx, "Pharmacy", "pharm-central")
	if err != nil {
		return nil, err
	}
	defer ph.Close()
	user, _ := e.l.User("Pharmacy", "pharm-central")
	if err := shipAndReceive(ctx, mfr, ph, trace.Party{MSP: user.MSPID, GLN: user.GLN}, g, serials); err != nil {
		return nil, err
	}
	api, err := startAPI(ctx, e, "Pharmacy/pharm-central")
	if err != nil {
		return nil, err
	}
	defer api.stop()
	type pack struct {
		GTIN   string `json:"gtin"`
		Serial string `json:"serial"`
		Lot    string `json:"lot"`
		Expiry string `json:"expiry"`
	}
	packs := make([]pack, len(serials))
	for i, s := range serials {
		packs[i] = pack{g, s, lot, "301231"}
	}
	body, _ := json.Marshal(map[string]any{"requestId": "bench-" + tag, "packs": packs})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, api.base+"/api/v1/bulk/dispense?wait=true", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+api.tokens["Pharmacy/pharm-central"])
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := (&http.Client{Timeout: 30 * time.Minute}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var job struct {
		Status string `json:"status"`
		Counts struct {
			OK       int `json:"ok"`
			Refused  int `json:"refused"`
			Rejected int `json:"rejected"`
			Failed   int `json:"failed"`
		} `json:"counts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&job); err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bulk dispense: %s %v", resp.Status, err)
	}
	el := time.Since(start)
	if job.Counts.OK == 0 {
		return nil, fmt.Errorf("bulk dispense: nothing dispensed (%+v)", job.Counts)
	}
	rate := float64(job.Counts.OK) / el.Seconds()
	figs := []bench.Figure{{Scenario: "API bulk dispense", Metric: "packs dispensed per second", Value: rate, Unit: "packs/s",
		Note: fmt.Sprintf("%d packs in one request in %s (32 ledger calls at once); %d refused, %d failed",
			total, el.Round(time.Millisecond), job.Counts.Refused, job.Counts.Failed)}}
	if e.dispenseRate > 0 {
		figs = append(figs, bench.Figure{Scenario: "API bulk dispense", Metric: "bulk / single dispense (50 counters)", Value: rate / e.dispenseRate, Unit: "x"})
	}
	return figs, nil
}
