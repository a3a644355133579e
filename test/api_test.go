//go:build integration

package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/api/alerts"
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
	// It also looks the clone up by its GS1 string, locks serials[1] (held
	// by pharm-central, active) and flags an anomaly about it.
	hri := func(serial string) string { return fmt.Sprintf("(01)%s(17)301231(10)%s(21)%s", g, lot, serial) }
	browser.Env = append(os.Environ(), "PHARMATRACE_API_URL="+a.url, "PHARMATRACE_API_TOKEN="+a.tokens[regU],
		"PHARMATRACE_CLONE_ID="+cloneID, "PHARMATRACE_CLONE_GTIN="+g, "PHARMATRACE_ARTIFACTS="+filepath.Join(n.Root, "test", "artifacts"),
		"PHARMATRACE_CLONE_GS1="+hri(serials[0]), "PHARMATRACE_LOCK_GS1="+hri(serials[1]))
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
	// The pack the regulator locked in the dashboard: refused at the
	// pharmacy holding it, until the regulator unlocks it.
	locked := map[string]string{"scan": hri(serials[1])}
	var lv trace.VerifyResult
	if err := json.Unmarshal(a.must(phU, "POST", "/api/v1/packs/verify", locked, http.StatusOK), &lv); err != nil || lv.OK() ||
		lv.Pack == nil || lv.Pack.Reason != trace.ReasonLocked {
		t.Fatalf("verify of the pack locked in the dashboard: %+v %v", lv, err)
	}
	a.must(regU, "POST", "/api/v1/packs/"+g+"/"+serials[1]+"/undo", map[string]string{"lot": lot, "expiry": "301231"}, http.StatusOK)
	if err := json.Unmarshal(a.must(phU, "POST", "/api/v1/packs/verify", locked, http.StatusOK), &lv); err != nil || !lv.OK() {
		t.Fatalf("verify after the regulator's unlock: %+v %v", lv, err)
	}
}

// webhookReceiver is a subscriber's endpoint in the test process: it
// checks every delivery's signature and keeps what it received.
type webhookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	got    []alerts.Notification
	at     []time.Time
	bad    int
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	r := &webhookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		var n alerts.Notification
		if !alerts.Verify(r.secret, body, req.Header.Get(alerts.SignatureHeader)) || json.Unmarshal(body, &n) != nil {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.got, r.at = append(r.got, n), append(r.at, time.Now())
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// received returns when the anomaly arrived (zero: not yet).
func (r *webhookReceiver) received(id string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, n := range r.got {
		if n.Anomaly.ID == id {
			return r.at[i]
		}
	}
	return time.Time{}
}

// subscribe subscribes user's webhook to r.
func (a *apiServer) subscribe(user string, r *webhookReceiver) alerts.Subscription {
	a.t.Helper()
	var sub alerts.Subscription
	if err := json.Unmarshal(a.must(user, "POST", "/api/v1/subscriptions", map[string]string{"url": r.srv.URL + "/pharmatrace", "description": "integration test"},
		http.StatusCreated), &sub); err != nil {
		a.t.Fatal(err)
	}
	r.mu.Lock()
	r.secret = sub.Secret
	r.mu.Unlock()
	return sub
}

// sseEvent is one event of the anomaly stream, with when it arrived.
type sseEvent struct {
	id   string
	data string
	at   time.Time
}

// stream opens user's anomaly stream; its events arrive on the channel.
func (a *apiServer) stream(user string) <-chan sseEvent {
	a.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url+"/api/v1/anomalies/stream?timeout=120", nil)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.tokens[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		a.t.Fatalf("stream as %s: %s %s", user, resp.Status, b)
	}
	out := make(chan sseEvent, 1000)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.id != "" {
					ev.at = time.Now()
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return out
}

// TestAPIDispenseAndAlertsOnRealNetwork: pharmacy systems dispense over
// HTTP; a second pharmacy dispensing the same pack gets 409 A24; the
// regulator lists the clone within 2 s; the product's manufacturer lists
// it and receives it on its webhook and its live stream within 2 s while
// another manufacturer (same MSP, other company prefix) sees none of it; a
// pack of a recalled lot is refused; a bulk dispense answers pack by pack
// and applies nothing twice.
func TestAPIDispenseAndAlertsOnRealNetwork(t *testing.T) {
	n := testnet.Get(t)
	const mfrU, betaU, phU, stU, regU = "Manufacturer/mfr-alpha", "Manufacturer/mfr-beta", "Pharmacy/pharm-central", "Pharmacy/pharm-station", "Regulator/inspector"
	a := startAPI(t, n, mfrU, betaU, phU, stU, regU)
	tag := runTag()
	g, lot, recalled := randomGTIN("4012345"), "Q"+tag, "R"+tag
	a.must(mfrU, "POST", "/api/v1/products", trace.RegisterProductRequest{GTIN: g, Name: "Amlodipine 5 mg", Form: "tablet", Strength: "5 mg", PackSize: 30}, http.StatusOK)
	serials := []string{"Q" + tag + "A", "Q" + tag + "B", "Q" + tag + "C", "Q" + tag + "D"}
	rserials := []string{"R" + tag + "A"}
	a.must(mfrU, "PUT", "/api/v1/lots/"+g+"/"+lot+"/commissions/q-"+tag+"?expiry=301231&wait=true", "serial\n"+strings.Join(serials, "\n")+"\n", http.StatusOK)
	a.must(mfrU, "PUT", "/api/v1/lots/"+g+"/"+recalled+"/commissions/r-"+tag+"?expiry=301231&wait=true", "serial\n"+strings.Join(rserials, "\n")+"\n", http.StatusOK)
	ph, _ := n.User("Pharmacy", "pharm-central")
	all := refs(g, append(append([]string{}, serials...), rserials...)...)
	asn := "ASN-ALR-" + tag
	a.must(mfrU, "POST", "/api/v1/shipments", trace.ShipRequest{ShipmentID: asn, To: trace.Party{MSP: ph.MSPID, GLN: ph.GLN}, Packs: all}, http.StatusOK)
	testnet.Eventually(t, 10*time.Second, "receipt through the API", func() error {
		if code, out := a.do(phU, "POST", "/api/v1/shipments/"+asn+"/receive", map[string]any{"packs": all}); code != http.StatusOK {
			return fmt.Errorf("%d %s", code, out)
		}
		return nil
	})

	// The API's read model replays the ledger from block 0: wait until it
	// has caught up (an unknown serial verified here is listed) before the
	// subscriptions, which start from the read model's position.
	var uv trace.VerifyResult
	if err := json.Unmarshal(a.must(phU, "POST", "/api/v1/packs/verify", map[string]string{"scan": fmt.Sprintf("(01)%s(17)301231(10)%s(21)Q%sNOPE", g, lot, tag)},
		http.StatusOK), &uv); err != nil || len(uv.Anomalies) == 0 {
		t.Fatalf("verify of an unknown serial: %+v %v", uv, err)
	}
	testnet.Eventually(t, 120*time.Second, "read model caught up", func() error {
		if code, out := a.do(regU, "GET", "/api/v1/anomalies?gtin="+g, nil); code != http.StatusOK || !strings.Contains(string(out), uv.Anomalies[0]) {
			return fmt.Errorf("%d %.200s", code, out)
		}
		return nil
	})

	alpha, beta := newWebhookReceiver(t), newWebhookReceiver(t)
	subA := a.subscribe(mfrU, alpha)
	a.subscribe(betaU, beta)
	alphaStream, betaStream := a.stream(mfrU), a.stream(betaU)

	// Dispensed at pharm-central through the new route, then at
	// pharm-station: 409 with A24, and the clone.
	dispense := func(user, serial, lotNo string) (int, []byte) {
		return a.do(user, "POST", "/api/v1/packs/"+g+"/"+serial+"/dispense", map[string]string{"requestId": "rx-" + tag + "-" + serial + "-" + strings.ReplaceAll(user, "/", "-"),
			"scan": fmt.Sprintf("(01)%s(17)301231(10)%s(21)%s", g, lotNo, serial)})
	}
	var ok trace.ScanResult
	code, out := dispense(phU, serials[0], lot)
	if err := json.Unmarshal(out, &ok); code != http.StatusOK || err != nil || !ok.OK() || ok.Pack.Reason != trace.ReasonDispensed {
		t.Fatalf("dispense through the API: %d %s", code, out)
	}
	code, out = dispense(stU, serials[0], lot)
	var p struct {
		Type      string     `json:"type"`
		Code      trace.Code `json:"code"`
		Anomalies []string   `json:"anomalies"`
	}
	if err := json.Unmarshal(out, &p); code != http.StatusConflict || err != nil || p.Code != trace.CodeStatusChangeNotPossible || len(p.Anomalies) == 0 {
		t.Fatalf("second pharmacy's dispense: %d %s, want 409 A24 with the clone", code, out)
	}
	refused := time.Now()
	var clone string
	testnet.Eventually(t, 2*time.Second, "the regulator lists the clone", func() error {
		code, out := a.do(regU, "GET", "/api/v1/anomalies?type=CLONE&gtin="+g, nil)
		var l struct {
			Items []trace.Anomaly `json:"items"`
		}
		if code != http.StatusOK || json.Unmarshal(out, &l) != nil || len(l.Items) == 0 {
			return fmt.Errorf("%d %.200s", code, out)
		}
		clone = l.Items[0].ID
		return nil
	})
	t.Logf("clone %s listed for the regulator %s after the refusal", clone, time.Since(refused).Round(time.Millisecond))
	if !slices.Contains(p.Anomalies, clone) {
		t.Errorf("the refusal's anomalies %v do not include the listed clone %s", p.Anomalies, clone)
	}

	// The manufacturer of the product: listed, webhook, stream, within 2 s.
	testnet.Eventually(t, 2*time.Second, "mfr-alpha lists the clone of its pack", func() error {
		if code, out := a.do(mfrU, "GET", "/api/v1/anomalies?type=CLONE&gtin="+g, nil); code != http.StatusOK || !strings.Contains(string(out), clone) {
			return fmt.Errorf("%d %.200s", code, out)
		}
		return nil
	})
	testnet.Eventually(t, 2*time.Second, "mfr-alpha's webhook receives the clone", func() error {
		if alpha.received(clone).IsZero() {
			alpha.mu.Lock()
			defer alpha.mu.Unlock()
			return fmt.Errorf("not yet (%d deliveries, %d badly signed)", len(alpha.got), alpha.bad)
		}
		return nil
	})
	t.Logf("clone on mfr-alpha's webhook %s after the refusal", alpha.received(clone).Sub(refused).Round(time.Millisecond))
	deadline := time.After(2 * time.Second)
	for got := false; !got; {
		select {
		case ev, open := <-alphaStream:
			if !open {
				t.Fatal("mfr-alpha's stream closed")
			}
			got = ev.id == clone
			if got {
				t.Logf("clone on mfr-alpha's stream %s after the refusal", ev.at.Sub(refused).Round(time.Millisecond))
			}
		case <-deadline:
			t.Fatal("mfr-alpha's stream did not carry the clone within 2 s")
		}
	}
	var log struct {
		Items []alerts.Delivery `json:"items"`
	}
	if err := json.Unmarshal(a.must(mfrU, "GET", "/api/v1/subscriptions/"+subA.ID+"/deliveries", nil, http.StatusOK), &log); err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(log.Items, func(d alerts.Delivery) bool { return d.AnomalyID == clone }); i < 0 || log.Items[i].Status != alerts.DeliveryDelivered {
		t.Errorf("mfr-alpha's delivery log: %+v", log.Items)
	}

	// Another manufacturer sees none of it: not listed, not readable, not
	// pushed (anything it receives is about its own prefix).
	time.Sleep(500 * time.Millisecond)
	if code, out := a.do(betaU, "GET", "/api/v1/anomalies?gtin="+g, nil); code != http.StatusOK || strings.Contains(string(out), clone) || strings.Contains(string(out), g) {
		t.Errorf("mfr-beta lists anomalies of mfr-alpha's product: %d %.300s", code, out)
	}
	if code, _ := a.do(betaU, "GET", "/api/v1/anomalies/"+clone, nil); code != http.StatusNotFound {
		t.Errorf("mfr-beta reads mfr-alpha's clone: %d", code)
	}
	alphaProduct := func(a trace.Anomaly) bool {
		return a.Pack != nil && strings.HasPrefix(a.Pack.GTIN, "04012345") || a.Lot != nil && strings.HasPrefix(a.Lot.GTIN, "04012345")
	}
	beta.mu.Lock()
	for _, n := range beta.got {
		if alphaProduct(n.Anomaly) {
			t.Errorf("mfr-beta's webhook received %s about mfr-alpha's product", n.Anomaly.ID)
		}
	}
	beta.mu.Unlock()
	for more := true; more; {
		select {
		case ev, open := <-betaStream:
			var an trace.Anomaly
			if open && (ev.id == clone || json.Unmarshal([]byte(ev.data), &an) != nil || alphaProduct(an)) {
				t.Errorf("mfr-beta's stream carried %s", ev.id)
			}
			more = open
		default:
			more = false
		}
	}

	// A pack of a recalled lot is refused at the till.
	a.must(mfrU, "POST", "/api/v1/lots/"+g+"/"+recalled+"/recall", map[string]string{"reason": "integration test recall"}, http.StatusOK)
	code, out = dispense(phU, rserials[0], recalled)
	if err := json.Unmarshal(out, &p); code != http.StatusConflict || err != nil || p.Code != trace.CodeLotRecalled {
		t.Errorf("dispense of a recalled lot's pack: %d %s, want 409 LOT_RECALLED", code, out)
	}

	// A prescription of three packs in one bulk request, one unknown; sent
	// again, the same answer and nothing applied twice.
	body := map[string]any{"requestId": "rx-bulk-" + tag, "packs": []map[string]string{
		{"scan": fmt.Sprintf("(01)%s(17)301231(10)%s(21)%s", g, lot, serials[2])},
		{"gtin": g, "serial": serials[3], "lot": lot, "expiry": "301231"},
		{"gtin": g, "serial": "Q" + tag + "NOPE2", "lot": lot, "expiry": "301231"}}}
	var j1, j2 struct {
		Status string       `json:"status"`
		Items  []bulkResult `json:"items"`
	}
	if err := json.Unmarshal(a.must(phU, "POST", "/api/v1/bulk/dispense", body, http.StatusOK), &j1); err != nil || j1.Status != "completed" || len(j1.Items) != 3 ||
		j1.Items[0].Status != "ok" || j1.Items[1].Status != "ok" || j1.Items[2].Status != "refused" || j1.Items[2].Code != trace.CodeUnknownSerial {
		t.Fatalf("bulk dispense: %+v %v", j1, err)
	}
	if err := json.Unmarshal(a.must(phU, "POST", "/api/v1/bulk/dispense", body, http.StatusOK), &j2); err != nil || !reflect.DeepEqual(j1, j2) {
		t.Errorf("bulk dispense sent again: %+v, first %+v (%v)", j2, j1, err)
	}
	var hist trace.PackHistoryResult
	if err := json.Unmarshal(a.must(regU, "GET", "/api/v1/packs/"+g+"/"+serials[2]+"/history", nil, http.StatusOK), &hist); err != nil {
		t.Fatal(err)
	}
	dispenses := 0
	for _, e := range hist.Entries {
		if e.Pack != nil && e.Pack.LastEvent == trace.TxDispense {
			dispenses++
		}
	}
	if dispenses != 1 {
		t.Errorf("%s has %d Dispense versions in its history, want 1", serials[2], dispenses)
	}
}

type bulkResult struct {
	Status    string     `json:"status"`
	Code      trace.Code `json:"code"`
	RequestID string     `json:"requestId"`
	TxID      string     `json:"txId"`
}
