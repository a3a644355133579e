package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pharmatrace/pharmatrace/fabric-network/certexpiry"
	"github.com/pharmatrace/pharmatrace/fabric-network/monitor"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

// monitorOptions parses the flags of `fabnet monitor` and `fabnet
// monitor-config`.
func (n *network) monitorOptions(cmd string, args []string) (monitor.Options, error) {
	fs := flag.NewFlagSet("fabnet "+cmd, flag.ContinueOnError)
	scrape := fs.Duration("scrape-interval", 15*time.Second, "how often Prometheus scrapes every node")
	eval := fs.Duration("evaluation-interval", 15*time.Second, "how often Prometheus evaluates the alerting rules")
	rules := fs.String("rules", "deploy/prometheus/alerts.yml", "alerting rules `file`")
	if err := fs.Parse(args); err != nil {
		return monitor.Options{}, err
	}
	if fs.NArg() > 0 {
		return monitor.Options{}, fmt.Errorf("fabnet %s: unexpected argument %q", cmd, fs.Arg(0))
	}
	o := monitor.Options{ScrapeInterval: *scrape, EvaluationInterval: *eval, Apps: !n.noApps}
	if *rules != "" {
		abs, err := filepath.Abs(*rules)
		if err != nil {
			return o, err
		}
		if _, err := os.Stat(abs); err != nil {
			return o, fmt.Errorf("-rules: %w", err)
		}
		o.RuleFiles = []string{abs}
	}
	return o, nil
}

func (n *network) prometheusConfig() string { return filepath.Join(n.l.MonitorDir(), "prometheus.yml") }

// writeMonitorConfig writes <run>/monitor/prometheus.yml and checks it with
// promtool when promtool is built.
func (n *network) writeMonitorConfig(ctx context.Context, o monitor.Options) error {
	b, err := monitor.Config(n.l, o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(n.l.MonitorDir(), "stations"), 0o755); err != nil {
		return err
	}
	tmp := n.prometheusConfig() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if exists(n.bin("promtool")) {
		if _, err := execTool(ctx, nil, n.bin("promtool"), "check", "config", tmp); err != nil {
			return err
		}
	}
	return os.Rename(tmp, n.prometheusConfig())
}

func (n *network) prometheusProc(node netspec.Node) proc {
	return proc{node: node, bin: n.bin("prometheus"), args: []string{
		"--config.file=" + n.prometheusConfig(),
		"--storage.tsdb.path=" + node.DataDir,
		// 35 days: the dashboard's availability over 30 days.
		"--storage.tsdb.retention.time=35d",
		"--web.listen-address=" + node.Address,
		"--log.level=warn",
	}, ready: httpReady("http://" + node.Address + "/-/ready")}
}

func (n *network) certExporterProc(node netspec.Node) proc {
	return proc{node: node, bin: n.bin("fabnet"), args: []string{"-spec", n.specPath, "-run", n.l.Dir,
		"-port-offset", strconv.Itoa(n.portOffset), "cert-exporter"},
		ready: httpReady("http://" + node.Address + "/healthz")}
}

// monitorUp starts the certificate exporter and Prometheus against the
// running network. On a Prometheus that already runs it rewrites the
// configuration and has Prometheus reload it (SIGHUP).
func (n *network) monitorUp(ctx context.Context, o monitor.Options, stdout io.Writer) error {
	if !exists(n.bin("prometheus")) {
		return fmt.Errorf("prometheus is missing in %s: run `make monitor` (it builds it)", n.binDir)
	}
	if err := n.writeMonitorConfig(ctx, o); err != nil {
		return err
	}
	nodes := n.l.MonitorNodes()
	prom, certs := nodes[0], nodes[1]
	if err := start(ctx, n.certExporterProc(certs)); err != nil {
		return err
	}
	if pid, ok := readPID(prom); ok {
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			return fmt.Errorf("prometheus: reload: %w", err)
		}
		log.Info("prometheus configuration reloaded", "pid", pid)
	} else if err := start(ctx, n.prometheusProc(prom)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Prometheus: http://%s (alerts: http://%s/api/v1/alerts)\nconfig:     %s\ndata:       %s\n",
		prom.Address, prom.Address, n.prometheusConfig(), prom.DataDir)
	return nil
}

// serveCertExporter serves the certificate expiry metrics of the network
// (package certexpiry) until ctx ends.
func (n *network) serveCertExporter(ctx context.Context) error {
	node := n.l.MonitorNodes()[1]
	reg := prometheus.NewRegistry()
	reg.MustRegister(certexpiry.NewCollector(n.l.Dir))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	ln, err := net.Listen("tcp", node.Address)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("certificate exporter serving", "addr", node.Address, "run", n.l.Dir)
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
