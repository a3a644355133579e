//go:build integration

package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/fabric-network/monitor"
	"github.com/pharmatrace/pharmatrace/scanner-agent/simscan"
	"github.com/pharmatrace/pharmatrace/test/testnet"
)

// Prometheus runs with these intervals in the tests, so that alerts are
// decided within seconds of their `for:` window.
const (
	monScrape = 2 * time.Second
	monEval   = 2 * time.Second
)

// prom is the HTTP API of the Prometheus that `fabnet monitor` started.
type prom struct {
	t   *testing.T
	url string
}

// startMonitor starts Prometheus and the certificate exporter against the
// test network (`fabnet monitor`, what `make monitor` runs) with short
// intervals, and stops both when the test ends.
func startMonitor(t *testing.T, n *testnet.Network) *prom {
	t.Helper()
	rules := filepath.Join(n.Root, "deploy", "prometheus", "alerts.yml")
	n.Fabnet(t, "monitor", "-scrape-interval", monScrape.String(), "-evaluation-interval", monEval.String(), "-rules", rules)
	t.Cleanup(func() {
		for _, m := range n.MonitorNodes() {
			n.Fabnet(t, "stop", m.Name)
		}
	})
	p := &prom{t: t, url: "http://" + n.MonitorNodes()[0].Address}
	// Every target scraped successfully at least once.
	testnet.Eventually(t, 60*time.Second, "every target up", func() error {
		var res struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		}
		if err := p.get("/api/v1/targets", nil, &res); err != nil {
			return err
		}
		var bad []string
		for _, tg := range res.ActiveTargets {
			if tg.Health != "up" {
				bad = append(bad, fmt.Sprintf("%s: %s %s", tg.Labels["node"], tg.Health, tg.LastError))
			}
		}
		if len(res.ActiveTargets) == 0 || len(bad) > 0 {
			return fmt.Errorf("%d targets, not up: %v", len(res.ActiveTargets), bad)
		}
		return nil
	})
	return p
}

// get calls the Prometheus API and decodes its data field into v.
func (p *prom) get(path string, q url.Values, v any) error {
	u := p.url + path
	if q != nil {
		u += "?" + q.Encode()
	}
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, v)
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) float() float64 {
	v, _ := s.Value[1].(string)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// query runs an instant query.
func (p *prom) query(expr string) ([]sample, error) {
	var res struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {expr}}, &res); err != nil {
		return nil, err
	}
	if res.ResultType == "scalar" {
		var v [2]any
		if err := json.Unmarshal(res.Result, &v); err != nil {
			return nil, err
		}
		return []sample{{Value: v}}, nil
	}
	var out []sample
	return out, json.Unmarshal(res.Result, &out)
}

type alert struct {
	Labels   map[string]string `json:"labels"`
	State    string            `json:"state"`
	ActiveAt time.Time         `json:"activeAt"`
}

func (p *prom) alerts() ([]alert, error) {
	var res struct {
		Alerts []alert `json:"alerts"`
	}
	return res.Alerts, p.get("/api/v1/alerts", nil, &res)
}

// ruleFor returns the `for:` duration of an alerting rule as Prometheus
// loaded it.
func (p *prom) ruleFor(name string) time.Duration {
	p.t.Helper()
	var res struct {
		Groups []struct {
			Rules []struct {
				Name     string  `json:"name"`
				Type     string  `json:"type"`
				Duration float64 `json:"duration"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get("/api/v1/rules", nil, &res); err != nil {
		p.t.Fatal(err)
	}
	for _, g := range res.Groups {
		for _, r := range g.Rules {
			if r.Type == "alerting" && r.Name == name {
				return time.Duration(r.Duration * float64(time.Second))
			}
		}
	}
	p.t.Fatalf("Prometheus has no alerting rule %s", name)
	return 0
}

// demoTraffic makes the network do what the dashboard shows: pack
// verifications through the network's API, and scans at its demo station
// (a demo pack, and a serial the ledger does not know: an UNKNOWN_SERIAL
// anomaly).
func demoTraffic(t *testing.T, n *testnet.Network) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.Dir, "station", "demo-frames.txt"))
	if err != nil {
		t.Fatalf("demo station frames (fabnet up seeds them): %v", err)
	}
	frames, err := simscan.ParseFrames(bytes.NewReader(b))
	if err != nil || len(frames) == 0 {
		t.Fatalf("demo frames: %d, %v", len(frames), err)
	}
	prefix, _, ok := bytes.Cut(frames[0], []byte("\x1d21"))
	if !ok {
		t.Fatalf("demo frame %q has no serial", frames[0])
	}
	unknown := append(slices.Clone(prefix), []byte("\x1d21MON"+runTag())...)

	// Verifications through the API that `fabnet up` started, as the
	// station's pharmacist.
	tokens, err := os.ReadFile(filepath.Join(n.Dir, "api", "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	var token string
	for _, line := range strings.Split(string(tokens), "\n") {
		if u, tok, ok := strings.Cut(line, " "); ok && u == n.Apps.StationUser {
			token = tok
		}
	}
	api := &apiServer{t: t, url: "http://" + n.Addr(n.Apps.APIPort), tokens: map[string]string{"station": token}}
	// Counters and histograms appear with their first observation; rates
	// need an increase between two scrapes, so the traffic comes in two
	// bursts more than a scrape apart.
	for burst := range 2 {
		if burst > 0 {
			time.Sleep(2 * monScrape)
		}
		for i := range 10 {
			api.must("station", http.MethodPost, "/api/v1/packs/verify", map[string]string{"scan": string(frames[i%len(frames)])}, http.StatusOK)
		}
	}

	// Scans at the demo station: its scanner is the pty link in run/station.
	sim, err := simscan.New(simscan.Options{Link: filepath.Join(n.Dir, "station", "scanner"), Suffix: []byte("\r"), Rate: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	station := "http://" + n.Addr(n.Apps.StationPort) + "/metrics"
	metric := func(name string) float64 {
		resp, err := http.Get(station)
		if err != nil {
			return math.NaN()
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.HasPrefix(l, name) {
				f, _ := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
				return f
			}
		}
		return 0
	}
	testnet.Eventually(t, 30*time.Second, "demo station opens the simulated scanner", func() error {
		if metric(`pharmatrace_scanner_port_up{scanner="counter"}`) != 1 {
			return fmt.Errorf("pharmatrace_scanner_port_up is not 1")
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, f := range [][]byte{frames[len(frames)-1], unknown} {
		if i > 0 {
			time.Sleep(2 * monScrape)
		}
		before := metric("pharmatrace_scanner_frames_total")
		if _, err := sim.Run(ctx, slices.Values([][]byte{f}), nil); err != nil {
			t.Fatal(err)
		}
		testnet.Eventually(t, 30*time.Second, "demo station read the frame", func() error {
			if got := metric("pharmatrace_scanner_frames_total"); got < before+1 {
				return fmt.Errorf("frames %v, want %v", got, before+1)
			}
			return nil
		})
	}
}

// Every panel query of the Grafana dashboard (deploy/grafana) returns data
// from the Prometheus that scrapes the test network: at least one series
// with a number (not NaN) for every query.
func TestMonitorDashboardQueriesReturnData(t *testing.T) {
	n := testnet.Get(t)
	p := startMonitor(t, n)
	demoTraffic(t, n)

	panels, err := monitor.DashboardPanels(filepath.Join(n.Root, "deploy", "grafana", "pharmatrace.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Grafana's $__rate_interval is at least four scrape intervals.
	const rateInterval = 30 * time.Second
	pending := map[string]string{} // query → panel
	for _, pn := range panels {
		for _, e := range pn.Exprs {
			pending[monitor.ExpandQuery(e, rateInterval)] = pn.Title
		}
	}
	total := len(pending)
	deadline := time.Now().Add(90 * time.Second)
	var last map[string]string
	for len(pending) > 0 && time.Now().Before(deadline) {
		last = map[string]string{}
		for q, title := range pending {
			res, err := p.query(q)
			if err != nil {
				t.Fatalf("panel %q: %s: %v", title, q, err)
			}
			if i := slices.IndexFunc(res, func(s sample) bool { return !math.IsNaN(s.float()) }); i >= 0 {
				t.Logf("panel %-45q %2d series, e.g. %v = %s", title, len(res), res[i].Metric, res[i].Value[1])
				delete(pending, q)
				continue
			}
			last[q] = fmt.Sprintf("%d series, all NaN", len(res))
		}
		time.Sleep(monScrape)
	}
	for q, title := range pending {
		t.Errorf("panel %q: no data from %s (%s)", title, q, last[q])
	}
	t.Logf("%d panels, %d queries: %d returned data", len(panels), total, total-len(pending))
}

// Killing an orderer makes the NodeDown alert fire within its `for:`
// window (plus one scrape and one rule evaluation); the orderer is then
// restarted and rejoins.
func TestMonitorOrdererDownAlertFires(t *testing.T) {
	n := testnet.Get(t)
	p := startMonitor(t, n)
	window := p.ruleFor("NodeDown")
	leader := n.RaftLeader(t)
	var victim string
	for _, o := range n.OrdererNodes() {
		if o.Name != leader.Name {
			victim = o.Name
			break
		}
	}
	node, _ := n.NodeByName(victim)
	killed := time.Now()
	n.Fabnet(t, "kill", victim)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			n.StartOrderer(t, node)
		}
	})

	// Scrape fails within a scrape interval (plus its timeout); the rule
	// sees it at the next evaluation, is pending for `window`, and fires
	// at the first evaluation after that.
	limit := window + 2*monScrape + 2*monEval + 3*time.Second
	var pendingSeen, firing time.Duration
	for firing == 0 {
		if time.Since(killed) > limit {
			t.Fatalf("NodeDown{node=%q} not firing %s after the kill (for: %s, limit %s)", victim, time.Since(killed).Round(time.Millisecond), window, limit)
		}
		as, err := p.alerts()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if a.Labels["alertname"] != "NodeDown" || a.Labels["node"] != victim {
				continue
			}
			switch a.State {
			case "pending":
				if pendingSeen == 0 {
					pendingSeen = time.Since(killed)
				}
			case "firing":
				firing = time.Since(killed)
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("%s killed: NodeDown pending after %s, firing after %s (for: %s, limit %s)",
		victim, pendingSeen.Round(time.Millisecond), firing.Round(time.Millisecond), window, limit)
	if firing < window {
		t.Errorf("NodeDown fired after %s, before its for: window of %s", firing, window)
	}

	n.StartOrderer(t, node)
	restarted = true
	testnet.Eventually(t, 30*time.Second, victim+" scraped again", func() error {
		res, err := p.query(fmt.Sprintf(`up{node=%q}`, victim))
		if err != nil {
			return err
		}
		if len(res) != 1 || res[0].float() != 1 {
			return fmt.Errorf("up{node=%q} = %v", victim, res)
		}
		return nil
	})
}
