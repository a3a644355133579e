package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := env(map[string]string{"PHARMATRACE_API_DB": filepath.Join(dir, "api.db"), "PHARMATRACE_NETWORK": filepath.Join("..", "..", "..", "fabric-network", "network.yaml")})
	call := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := run(ctx, args, e, &out, &errb)
		return out.String(), errb.String(), err
	}
	out, _, err := call("migrate")
	if err != nil || !strings.Contains(out, "readmodel schema version 3") || !strings.Contains(out, "auth schema version 1") {
		t.Fatalf("migrate: %q %v", out, err)
	}
	tok, info, err := call("token", "create", "-user", "Regulator/inspector")
	tok = strings.TrimSpace(tok)
	if err != nil || !strings.HasPrefix(tok, "ptk_") || strings.Count(tok, "\n") != 0 || !strings.Contains(info, "RegulatorMSP") {
		t.Fatalf("token create: %q %q %v", tok, info, err)
	}
	if _, _, err := call("token", "create", "-user", "Regulator/nobody"); err == nil {
		t.Error("token for an unknown user created")
	}
	out, _, _ = call("token", "list")
	id := strings.Split(tok, "_")[1]
	if !strings.Contains(out, id) || !strings.Contains(out, "active") || strings.Contains(out, tok) {
		t.Errorf("token list: %q", out)
	}
	if out, _, err = call("token", "revoke", id); err != nil || !strings.Contains(out, "revoked") {
		t.Errorf("revoke: %q %v", out, err)
	}
	out, _, _ = call("token", "list")
	if !strings.Contains(out, "revoked") {
		t.Errorf("list after revoke: %q", out)
	}
	for _, bad := range [][]string{{}, {"nonsense"}, {"token"}, {"token", "fly"}, {"serve", "-bogus"}} {
		if _, _, err := call(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	// Without the network's wallets, serve names the identity it lacks.
	if _, _, err := call("serve", "-addr", "127.0.0.1:0", "-run", t.TempDir()); err == nil ||
		!strings.Contains(err.Error(), "events identity Regulator/inspector") || !strings.Contains(err.Error(), "cert.pem") {
		t.Errorf("serve without wallets: %v", err)
	}
}

func TestServeFakeLedgerAndShutdown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	e := env(map[string]string{"PHARMATRACE_API_DB": filepath.Join(dir, "api.db"), "PHARMATRACE_API_ADDR": addr,
		"PHARMATRACE_NETWORK": filepath.Join("..", "..", "..", "fabric-network", "network.yaml"), "PHARMATRACE_API_LOG_LEVEL": "warn"})
	var tokOut, stderr bytes.Buffer
	if err := run(context.Background(), []string{"token", "create", "-user", "Regulator/inspector"}, e, &tokOut, &stderr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "-fake-ledger", "-fake-demo"}, e, &bytes.Buffer{}, &stderr) }()
	base := "http://" + addr
	var res *http.Response
	for i := 0; i < 100; i++ {
		if res, err = http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	// The demo's anomalies reach the read model through the consumer.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/anomalies?type=CLONE", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tokOut.String()))
	deadline := time.Now().Add(3 * time.Second)
	for {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		res.Body.Close()
		if res.StatusCode == 200 && strings.Contains(b.String(), `"code":"CLONE"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("clone not listed: %d %s", res.StatusCode, b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}
