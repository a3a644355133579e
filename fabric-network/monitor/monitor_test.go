package monitor

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

var update = flag.Bool("update", false, "rewrite testdata/prometheus.golden.yml")

const repoRoot = "../.."

// promtool returns bin/promtool (built by `make unit`), skipping the test
// when it is not built.
func promtool(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PHARMATRACE_BIN_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot, "bin")
	}
	p, err := filepath.Abs(filepath.Join(dir, "promtool"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s is not built (make prometheus-bins; make unit builds it first)", p)
	}
	return p
}

// layout is the shipped network definition under a fresh run directory,
// with an empty file wherever the configuration names a certificate or key
// (promtool checks that they exist).
func layout(t *testing.T) *netspec.Layout {
	t.Helper()
	s, err := netspec.Load(filepath.Join(repoRoot, "fabric-network", "network.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := netspec.NewLayout(s, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, org := range append([]string{netspec.OrdererOrgKey}, orgKeys(l)...) {
		a := l.OrgAdmin(org)
		files = append(files, l.CACert(org), a.TLSCertFile, a.TLSKeyFile)
	}
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func orgKeys(l *netspec.Layout) []string {
	var out []string
	for i := range l.Orgs {
		out = append(out, l.Orgs[i].Key())
	}
	return out
}

func rulesFile(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(repoRoot, "deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The configuration for the shipped network is the golden file (run
// directory and repository replaced by placeholders): every node once,
// with its org's client certificate for the Fabric operations endpoints.
func TestConfigGolden(t *testing.T) {
	l := layout(t)
	b, err := Config(l, Options{Apps: true, RuleFiles: []string{"/repo/deploy/prometheus/alerts.yml"}})
	if err != nil {
		t.Fatal(err)
	}
	got := bytes.ReplaceAll(b, []byte(l.Dir), []byte("/run"))
	golden := filepath.Join("testdata", "prometheus.golden.yml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("config differs from %s (go test -update to accept):\n%s", golden, got)
	}
	// Every node of the network and every monitoring process is a target.
	for _, n := range append(l.Nodes(), l.MonitorNodes()...) {
		if n.Kind == "chaincode" {
			continue // serve no metrics
		}
		if !strings.Contains(string(b), "node: "+n.Name+"\n") {
			t.Errorf("node %s is not scraped", n.Name)
		}
	}
}

// promtool accepts the generated configuration (with the shipped alerting
// rules), for every variant fabnet writes.
func TestPromtoolChecksGeneratedConfig(t *testing.T) {
	bin := promtool(t)
	l := layout(t)
	for _, o := range []Options{
		{Apps: true, RuleFiles: []string{rulesFile(t)}},
		{Apps: false, ScrapeInterval: 2 * time.Second, EvaluationInterval: 2 * time.Second, RuleFiles: []string{rulesFile(t)}},
		{ScrapeInterval: 500 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("apps=%v,scrape=%s", o.Apps, o.ScrapeInterval), func(t *testing.T) {
			b, err := Config(l, o)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "prometheus.yml")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "check", "config", path).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool check config: %v\n%s\n%s", err, out, b)
			}
		})
	}
}

func TestPromDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{15 * time.Second: "15s", 2 * time.Minute: "2m", 500 * time.Millisecond: "500ms", 90 * time.Second: "90s"} {
		if got := promDuration(d); got != want {
			t.Errorf("promDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

// Every panel of the dashboard has a query, every query is valid PromQL
// (promtool checks them as recording rules) and names only metrics that
// some scraped process exports (checked on the live network by
// test/monitor_test.go).
func TestDashboardQueriesParse(t *testing.T) {
	panels, err := DashboardPanels(filepath.Join(repoRoot, "deploy", "grafana", "pharmatrace.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(panels) < 10 {
		t.Fatalf("%d panels, want the whole dashboard", len(panels))
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, p := range panels {
		if len(p.Exprs) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for j, e := range p.Exprs {
			e = ExpandQuery(e, time.Minute)
			if regexp.MustCompile(`\$\w+`).MatchString(e) {
				t.Errorf("panel %q: query %q keeps a Grafana variable ExpandQuery does not know", p.Title, e)
			}
			fmt.Fprintf(&rules, "      - record: dashboard:panel%d:query%d\n        expr: %q\n", i, j, e)
		}
	}
	bin := promtool(t)
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "rules", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules of the dashboard's queries: %v\n%s", err, out)
	}
}
