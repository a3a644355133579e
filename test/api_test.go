//go:build integration

package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/test/testnet"
	"github.com/pharmatrace/pharmatrace/trace"
)

// apiServer is a pharmatrace-api process on the real network, with its
// own SQLite read model fed by the chaincode event stream.
type apiServer struct {
	t      *testing.T
	url    string
	tokens map[string]string // "Org/user" → bearer token
}

func startAPI(t *testing.T, n *testnet.Network, users ...string) *apiServer {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	bin := filepath.Join(n.Root, "bin", "pharmatrace-api")
	env := append(os.Environ(), "PHARMATRACE_API_DB="+filepath.Join(dir, "api.db"), "PHARMATRACE_RUN_DIR="+n.Dir,
		"PHARMATRACE_NETWORK="+n.RunSpec(), "PHARMATRACE_API_ADDR="+addr)
	a := &apiServer{t: t, url: "http://" + addr, tokens: map[string]string{}}
	for _, u := range users {
		cmd := exec.Command(bin, "token", "create", "-user", u)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("token create %s: %v\n%s", u, err, errb.String())
		}
		a.tokens[u] = strings.TrimSpace(out.String())
	}
	logf, err := os.Create(filepath.Join(dir, "api.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("api log:\n%s", tailLines(string(b), 40))
		}
	})
	testnet.Eventually(t, 30*time.Second, "API healthy", func() error {
		resp, err := http.Get(a.url + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("healthz %s", resp.Status)
		}
		return nil
	})
	return a
}

// do calls the API as user; body is JSON-encoded unless it is a string
// (sent as text/csv).
func (a *apiServer) do(user, method, path string, body any) (int, []byte) {
	a.t.Helper()
	switch b := body.(type) {
	case nil:
		return a.raw(user, method, path, "", nil)
	case string:
		return a.raw(user, method, path, "text/csv", []byte(b))
	}
	js, err := json.Marshal(body)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.raw(user, method, path, "application/json", js)
}

// raw calls the API with a body of the given media type.
func (a *apiServer) raw(user, method, path, contentType string, body []byte) (int, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.tokens[user])
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (a *apiServer) must(user, method, path string, body any, want int) []byte {
	a.t.Helper()
	code, out := a.do(user, method, path, body)
	if code != want {
		a.t.Fatalf("%s %s as %s: %d %s, want %d", method, path, user, code, out, want)
	}
	return out
}

// The regulator's view on the real network: the API commissions, ships,
// receives and verifies through each user's own identity; a clone made at
// two pharmacy counters appears in the read model within a second; the
// regulator works it in the dashboard in real headless Chromium.
func TestAPIAndDashboardOnRealNetwork(t *testing.T) {
	n := testnet.Get(t)
	const mfrU, phU, regU = "Manufacturer/mfr-alpha", "Pharmacy/pharm-central", "Regulator/inspector"
	a := startAPI(t, n, mfrU, phU, regU)
	tag := runTag()
	g, lot := randomGTIN("4012345"), "P"+tag

	a.must(mfrU, "POST", "/api/v1/products", trace.RegisterProductRequest{GTIN: g, Name: "Ibuprofen 400 mg", Form: "tablet", Strength: "400 mg", PackSize: 20}, http.StatusOK)

	// A CSV with one bad row among many: 4xx naming the row, nothing committed.
	var csv strings.Builder
	csv.WriteString("serial\n")
	for i := range 2000 {
		s := fmt.Sprintf("P%s%04d", tag, i)
		if i == 1234 {
			s = "BAD\u00e9ROW"
		}
		csv.WriteString(s + "\n")
	}
	code, out := a.do(mfrU, "PUT", "/api/v1/lots/"+g+"/"+lot+"/commissions/up-bad-"+tag+"?expiry=301231", csv.String())
	if code < 400 || code >= 500 || !strings.Contains(string(out), "1236") {
		t.Fatalf("upload with a bad row: %d %s; want a 4xx naming row 1236 (header is row 1)", code, out)
	}
	if code, _ := a.do(regU, "GET", "/api/v1/lots/"+g+"/"+lot, nil); code != http.StatusNotFound {
		t.Fatalf("after a rejected upload the lot exists (GET %d): something was partially committed", code)
	}

	// Commission through the API (streamed, batched), ship, receive, verify.
	serials := []string{"P" + tag + "A", "P" + tag + "B", "P" + tag + "C"}
	a.must(mfrU, "PUT", "/api/v1/lots/"+g+"/"+lot+"/commissions/up-"+tag+"?expiry=301231&wait=true", "serial\n"+strings.Join(serials, "\n")+"\n", http.StatusOK)
	ph, _ := n.User("Pharmacy", "pharm-central")
	asn := "ASN-API-" + tag
	a.must(mfrU, "POST", "/api/v1/shipments", trace.ShipRequest{ShipmentID: asn, To: trace.Party{MSP: ph.MSPID, GLN: ph.GLN}, Packs: refs(g, serials...)}, http.StatusOK)
	testnet.Eventually(t, 10*time.Second, "receipt through the API", func() error {
		if code, out := a.do(phU, "POST", "/api/v1/shipments/"+asn+"/receive", map[string]any{"packs": refs(g, serials...)}); code != http.StatusOK {
			return fmt.Errorf("%d %s", code, out)
		}
		return nil
	})
	scan := fmt.Sprintf("]d2\x1d01%s17301231%s%s\x1d21%s", g, "10", lot, serials[0])
	var v trace.VerifyResult
	if err := json.Unmarshal(a.must(phU, "POST", "/api/v1/packs/verify", map[string]string{"scan": scan}, http.StatusOK), &v); err != nil || !v.OK() {
		t.Fatalf("verify by scan string: %+v %v", v, err)
	}

	// The API's read model started empty and replays the whole ledger from
	// block 0; wait until it has caught up (an anomaly on this GTIN — an
	// unknown serial scanned at the counter — is visible) before timing.
	central, station := newActor(t, n, "Pharmacy", "pharm-central"), newActor(t, n, "Pharmacy", "pharm-station")
	unknown := submit[trace.ScanResult](t, central, "Dispense", trace.ScanRequest{RequestHeader: header(),
		Scan: trace.Scan{GTIN: g, Serial: "P" + tag + "X", Lot: lot, Expiry: "301231"}})
	wantOutcome(t, "unknown serial", unknown.Outcome, trace.StatusRefused, trace.CodeUnknownSerial)
	testnet.Eventually(t, 120*time.Second, "read model caught up", func() error {
		if code, out := a.do(regU, "GET", "/api/v1/anomalies?gtin="+g, nil); code != http.StatusOK || !strings.Contains(string(out), unknown.Outcome.Anomalies[0]) {
			return fmt.Errorf("%d %.200s", code, out)
		}
		return nil
	})

	// The clone: dispensed at one counter, then at the other pharmacy site.
	s := trace.Scan{GTIN: g, Serial: serials[0], Lot: lot, Expiry: "301231"}
	wantOutcome(t, "dispense", submit[trace.ScanResult](t, central, "Dispense", trace.ScanRequest{RequestHeader: header(), Scan: s}).Outcome, trace.StatusOK, "")
	d := submit[trace.ScanResult](t, station, "Dispense", trace.ScanRequest{RequestHeader: header(), Scan: s})
	wantOutcome(t, "clone dispense", d.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	committed := time.Now()
	cloneID := d.Outcome.Anomalies[0]
	testnet.Eventually(t, 10*time.Second, "clone in the read model", func() error {
		code, out := a.do(regU, "GET", "/api/v1/anomalies?type=CLONE&gtin="+g, nil)
		if code != http.StatusOK || !strings.Contains(string(out), cloneID) {
			return fmt.Errorf("%d %s", code, out)
		}
		return nil
	})
	lag := time.Since(committed)
	t.Logf("clone anomaly visible through the API %s after its commit returned", lag.Round(time.Millisecond))
	if lag > time.Second {
		t.Errorf("a committed transaction took %s to show in queries, want within 1s", lag)
	}

	// A failed verification through the API is on the ledger (Art. 36(b)):
	// an unknown serial verified at the counter is an anomaly the regulator
	// lists within 2 s, whatever the client does next.
	var uv trace.VerifyResult
	verified := time.Now()
	unknownScan := fmt.Sprintf("(01)%s(17)301231(10)%s(21)P%sNOPE", g, lot, tag)
	if err := json.Unmarshal(a.must(phU, "POST", "/api/v1/packs/verify", map[string]string{"scan": unknownScan}, http.StatusOK), &uv); err != nil ||
		uv.Code != trace.CodeUnknownSerial || len(uv.Anomalies) != 1 {
		t.Fatalf("verify of an unknown serial: %+v %v", uv, err)
	}
	testnet.Eventually(t, 2*time.Second, "the failed verification listed for the regulator", func() error {
		code, out := a.do(regU, "GET", "/api/v1/anomalies?type=UNKNOWN_SERIAL&gtin="+g, nil)
		if code != http.StatusOK || !strings.Contains(string(out), uv.Anomalies[0]) {
			return fmt.Errorf("%d %.200s", code, out)
		}
		return nil
	})
	t.Logf("failed verification through the API listed for the regulator %s after the request", time.Since(verified).Round(time.Millisecond))

	// The regulator works the anomaly in the dashboard (headless Chromium).
	browser := exec.Command("go", "test", "-count=1", "-tags", "browser", "-run", "TestBrowserRegulatorWorkflow", "-v", "./api/")
	browser.Dir = n.Root
	browser.Env = append(os.Environ(), "PHARMATRACE_API_URL="+a.url, "PHARMATRACE_API_TOKEN="+a.tokens[regU],
		"PHARMATRACE_CLONE_ID="+cloneID, "PHARMATRACE_CLONE_GTIN="+g, "PHARMATRACE_ARTIFACTS="+filepath.Join(n.Root, "test", "artifacts"))
	bout, err := browser.CombinedOutput()
	if err != nil || strings.Contains(string(bout), "--- SKIP") {
		t.Fatalf("browser test against the real network: %v\n%s", err, tailLines(string(bout), 25))
	}
	t.Logf("browser: %s", tailLines(string(bout), 3))
	var an struct {
		Anomaly trace.Anomaly `json:"anomaly"`
	}
	body := a.must(regU, "GET", "/api/v1/anomalies/"+cloneID, nil, http.StatusOK)
	if err := json.Unmarshal(body, &an); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"investigating"`) {
		t.Fatalf("after the dashboard action the anomaly is not investigating: %s", body)
	}
	// Chain of custody from the ledger.
	if h := a.must(regU, "GET", "/api/v1/packs/"+g+"/"+serials[0]+"/history", nil, http.StatusOK); !bytes.Contains(h, []byte("Dispense")) {
		t.Fatalf("history lacks the dispense: %s", h)
	}
}
