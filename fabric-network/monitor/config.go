// Package monitor writes the Prometheus configuration of a PharmaTrace
// network from its definition and layout (netspec), and reads the queries
// of the Grafana dashboard shipped in deploy/grafana, so that tests can run
// them against a live Prometheus.
//
// Every process is a scrape target labelled with its node name, kind and
// org:
//
//   - peers and orderers: their operations endpoints over TLS; /metrics
//     wants a client certificate from the node org's CA (the org admin's
//     TLS certificate), so each org's nodes are a scrape job of their own,
//     relabelled to job="peer" or job="orderer";
//   - Fabric CAs: their operations endpoints (plain HTTP: fabnet starts
//     the CAs without operations TLS);
//   - the API and the scanner stations: /metrics over HTTP; stations other
//     than the demo one are added as file_sd target files in
//     <run>/monitor/stations/*.json;
//   - the certificate expiry exporter (package certexpiry) and Prometheus
//     itself.
//
// Chaincode servers are not scraped: pharmatrace-cc serves no metrics (its
// peer exports the chaincode_* metrics of every call it makes).
package monitor

import (
	"bytes"
	"fmt"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

// Options tune the generated configuration.
type Options struct {
	// ScrapeInterval and EvaluationInterval default to 15s.
	ScrapeInterval     time.Duration
	EvaluationInterval time.Duration
	// RuleFiles are the alerting rule files (absolute paths).
	RuleFiles []string
	// Apps adds the API and the demo station (fabnet -no-apps leaves them out).
	Apps bool
	// StationsDir holds file_sd target files of further scanner stations
	// (default <run>/monitor/stations).
	StationsDir string
}

// Target labels every scrape target carries.
const (
	LabelNode = "node"
	LabelKind = "kind"
	LabelOrg  = "org"
)

type config struct {
	Global        global         `yaml:"global"`
	RuleFiles     []string       `yaml:"rule_files,omitempty"`
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
}

type global struct {
	ScrapeInterval     string            `yaml:"scrape_interval"`
	ScrapeTimeout      string            `yaml:"scrape_timeout"`
	EvaluationInterval string            `yaml:"evaluation_interval"`
	ExternalLabels     map[string]string `yaml:"external_labels,omitempty"`
}

type scrapeConfig struct {
	JobName        string          `yaml:"job_name"`
	Scheme         string          `yaml:"scheme,omitempty"`
	MetricsPath    string          `yaml:"metrics_path,omitempty"`
	TLSConfig      *tlsConfig      `yaml:"tls_config,omitempty"`
	StaticConfigs  []staticConfig  `yaml:"static_configs,omitempty"`
	FileSDConfigs  []fileSDConfig  `yaml:"file_sd_configs,omitempty"`
	RelabelConfigs []relabelConfig `yaml:"relabel_configs,omitempty"`
}

type tlsConfig struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

type staticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

type fileSDConfig struct {
	Files []string `yaml:"files"`
}

type relabelConfig struct {
	TargetLabel string `yaml:"target_label"`
	Replacement string `yaml:"replacement"`
}

// promDuration formats d as Prometheus writes durations ("15s", "2m", "500ms").
func promDuration(d time.Duration) string {
	switch {
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	default:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
}

func target(n netspec.Node, addr string) staticConfig {
	labels := map[string]string{LabelNode: n.Name, LabelKind: n.Kind}
	if n.Org != "" {
		labels[LabelOrg] = n.Org
	}
	return staticConfig{Targets: []string{addr}, Labels: labels}
}

// Config renders prometheus.yml for the network laid out by l.
func Config(l *netspec.Layout, o Options) ([]byte, error) {
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = 15 * time.Second
	}
	if o.EvaluationInterval <= 0 {
		o.EvaluationInterval = 15 * time.Second
	}
	if o.StationsDir == "" {
		o.StationsDir = filepath.Join(l.MonitorDir(), "stations")
	}
	// A scrape must end before the next one starts.
	timeout := min(10*time.Second, o.ScrapeInterval)
	c := config{
		Global: global{ScrapeInterval: promDuration(o.ScrapeInterval), ScrapeTimeout: promDuration(timeout),
			EvaluationInterval: promDuration(o.EvaluationInterval), ExternalLabels: map[string]string{"channel": l.Channel}},
		RuleFiles: o.RuleFiles,
	}
	add := func(sc scrapeConfig) { c.ScrapeConfigs = append(c.ScrapeConfigs, sc) }
	mon := l.MonitorNodes()
	add(scrapeConfig{JobName: "prometheus", StaticConfigs: []staticConfig{target(mon[0], mon[0].Address)}})
	add(scrapeConfig{JobName: "certexporter", StaticConfigs: []staticConfig{target(mon[1], mon[1].Address)}})

	// One job per org and kind: each org's nodes want that org's client certificate.
	fabricJob := func(kind, orgKey string, nodes []netspec.Node) {
		admin := l.OrgAdmin(orgKey)
		sc := scrapeConfig{JobName: kind + "-" + orgKey, Scheme: "https",
			TLSConfig:      &tlsConfig{CAFile: l.CACert(orgKey), CertFile: admin.TLSCertFile, KeyFile: admin.TLSKeyFile},
			RelabelConfigs: []relabelConfig{{TargetLabel: "job", Replacement: kind}}}
		for _, n := range nodes {
			sc.StaticConfigs = append(sc.StaticConfigs, target(n, n.OpsAddr))
		}
		add(sc)
	}
	fabricJob("orderer", netspec.OrdererOrgKey, l.OrdererNodes())
	for _, p := range l.PeerNodes() {
		fabricJob("peer", p.Org, []netspec.Node{p})
	}
	ca := scrapeConfig{JobName: "ca"}
	for _, n := range l.CANodes() {
		ca.StaticConfigs = append(ca.StaticConfigs, target(n, n.OpsAddr))
	}
	add(ca)

	stations := scrapeConfig{JobName: "station", FileSDConfigs: []fileSDConfig{{Files: []string{filepath.Join(o.StationsDir, "*.json")}}}}
	if o.Apps {
		apps := l.AppNodes()
		add(scrapeConfig{JobName: "api", StaticConfigs: []staticConfig{target(withKind(apps[0], "api"), apps[0].Address)}})
		stations.StaticConfigs = []staticConfig{target(withKind(apps[1], "station"), apps[1].Address)}
	}
	add(stations)

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&c); err != nil {
		return nil, err
	}
	head := fmt.Sprintf("# Written by `fabnet monitor` from the network definition (run directory %s).\n"+
		"# Chaincode servers are not scraped: they serve no metrics (their peers export chaincode_*).\n", l.Dir)
	return append([]byte(head), buf.Bytes()...), nil
}

// withKind returns n labelled as kind: the layout calls both apps "app".
func withKind(n netspec.Node, kind string) netspec.Node {
	n.Kind = kind
	return n
}
