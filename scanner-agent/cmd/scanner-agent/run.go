package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/scanner-agent/counter"
	"github.com/pharmatrace/pharmatrace/scanner-agent/intake"
	"github.com/pharmatrace/pharmatrace/scanner-agent/outbox"
	"github.com/pharmatrace/pharmatrace/scanner-agent/serialscan"
	"github.com/pharmatrace/pharmatrace/scanner-agent/station"
)

// setFlags collects repeated -set key=value overrides.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// drainTimeout bounds how long a graceful shutdown waits for queued scans
// to reach the ledger after the scanners are closed.
const drainTimeout = 10 * time.Second

// runRun is the station daemon: scanners → durable outbox → verdict at the
// counter → ledger, until SIGINT/SIGTERM.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", os.Getenv("PHARMATRACE_STATION_CONFIG"), "station configuration `file` (YAML; env PHARMATRACE_STATION_CONFIG)")
	var sets setFlags
	fs.Var(&sets, "set", "override a setting, `key=value`, repeatable (keys as PHARMATRACE_STATION_*, lower case: -set mode=verify)")
	verbose := fs.Bool("v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *configPath == "" {
		fmt.Fprintln(stderr, "scanner-agent run: -config is required")
		return errUsage
	}
	cfg, err := station.Load(*configPath)
	if err != nil {
		return err
	}
	if err := cfg.ApplyEnv(os.Environ()); err != nil {
		return err
	}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("-set %q: want key=value", kv)
		}
		if err := cfg.Set(k, v); err != nil {
			return err
		}
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid station configuration %s:\n%w", *configPath, err)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("station", cfg.StationID)
	return serve(ctx, cfg, stdout, log)
}

func serve(ctx context.Context, cfg *station.Config, stdout io.Writer, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	q, err := outbox.Open(cfg.Queue.Path, outbox.Options{Station: cfg.StationID})
	if err != nil {
		return err
	}
	defer q.Close()
	if err := outbox.RegisterMetrics(reg, q); err != nil {
		return err
	}
	gm, err := gateway.NewMetrics(reg)
	if err != nil {
		return err
	}
	ledger, err := gateway.Dial(ctx, ledgerConfig(cfg), gateway.WithLogger(log), gateway.WithMetrics(gm), gateway.WithGetRequestLookup())
	if err != nil {
		return err
	}
	defer ledger.Close()

	sm, err := serialscan.NewMetrics(reg)
	if err != nil {
		return err
	}
	readers := map[string]*serialscan.Reader{}
	var list []*serialscan.Reader
	refuseBytes := map[string][]byte{}
	for _, sc := range cfg.Scanners {
		tgt, line, rc := serialscan.FromStation(cfg.StationID, sc)
		rc.Metrics, rc.Logger = sm, log
		open, err := serialscan.SerialOpener(tgt, line)
		if err != nil {
			return fmt.Errorf("scanner %s: %w", sc.Name, err)
		}
		r := serialscan.NewReader(open, rc)
		readers[sc.Name], refuseBytes[sc.Name] = r, sc.RefuseBytes()
		list = append(list, r)
	}
	cm, err := counter.NewMetrics(reg)
	if err != nil {
		return err
	}
	st, err := counter.New(counter.Config{StationID: cfg.StationID, GLN: cfg.GLN, Mode: cfg.Mode, Ledger: ledger,
		Out: stdout, Log: log, Metrics: cm,
		Refuse: func(scanner string) {
			if r, b := readers[scanner], refuseBytes[scanner]; r != nil && len(b) > 0 {
				fctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				if err := r.Feedback(fctx, b); err != nil {
					log.Debug("refusal feedback not sent", "scanner", scanner, "err", err)
				}
			}
		}})
	if err != nil {
		return err
	}

	// One group runs the station's background parts; the intake runs in
	// the foreground and stops with ctx (storing every frame already read),
	// then the delivery goes on for up to drainTimeout to hand queued scans
	// over, and the group stops: delivery, compaction, status server.
	deliverCtx, stopDeliver := context.WithCancel(context.Background())
	defer stopDeliver()
	g, gctx := errgroup.WithContext(deliverCtx)
	if cfg.Metrics.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("metrics.listen: %w", err)
		}
		srv := &http.Server{Handler: statusHandler(cfg, st, q, reg), ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("status server: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
		log.Info("status page", "url", "http://"+ln.Addr().String()+"/")
	}
	g.Go(func() error {
		err := q.Deliver(gctx, st.Deliver, outbox.DeliverOptions{Logger: log, MaxBackoff: 2 * time.Second})
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("delivery: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
				if n, err := q.Compact(gctx, cfg.Queue.Retention); err != nil {
					log.Warn("outbox compaction", "err", err)
				} else if n > 0 {
					log.Info("outbox compacted", "records", n)
				}
			}
		}
	})
	log.Info("station running", "mode", cfg.Mode, "gln", cfg.GLN, "scanners", len(list), "queue", cfg.Queue.Path)
	err = intake.Serve(ctx, list, q, counter.Decode, intake.Options{Registerer: reg, Logger: log, OnStored: st.OnStored, OnDecoded: st.Prefetch}, 0)

	drain(q, drainTimeout, log)
	stopDeliver()
	if gerr := g.Wait(); gerr != nil {
		log.Error("station part stopped with an error", "err", gerr)
		if err == nil || errors.Is(err, context.Canceled) {
			err = gerr
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("station stopped")
	return nil
}

// drain waits until the outbox has no open scan, or timeout.
func drain(q *outbox.Queue, timeout time.Duration, log *slog.Logger) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		n, err := q.Depth()
		if err != nil || n == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	n, _ := q.Depth()
	log.Warn("stopping with scans still queued; they are kept and sent at the next start", "queued", n)
}

func ledgerConfig(cfg *station.Config) gateway.Config {
	gc := gateway.Config{
		Channel:   cfg.Ledger.Channel,
		Chaincode: cfg.Ledger.Chaincode,
		Identity:  gateway.Identity{MSPID: cfg.Identity.MSPID, CertFile: cfg.Identity.CertFile, KeyFile: cfg.Identity.KeyFile, MSPDir: cfg.Identity.MSPDir},
	}
	for _, p := range cfg.Ledger.Peers {
		gc.Endpoints = append(gc.Endpoints, gateway.Endpoint{Address: p.Endpoint, TLSRootCertFile: p.TLSRootCertFile, ServerNameOverride: p.ServerName, MSPID: p.MSPID})
	}
	return gc
}

var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>PharmaTrace station {{.Station}}</title>
<style>body{font:15px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;width:100%}
td,th{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left}.OK,.DONE{color:#166534}
.REFUSED,.NOTICE{color:#b91c1c;font-weight:bold}.QUEUED{color:#92400e}.SCANNER{color:#6b21a8}</style></head>
<body><h1>Station {{.Station}} <small>({{.Mode}}, GLN {{.GLN}})</small></h1>
<p>Queued scans: <b>{{.Depth}}</b></p>
<table><tr><th>time</th><th>verdict</th><th>code</th><th>detail</th><th>scan</th></tr>
{{range .Lines}}<tr><td>{{.At.Format "15:04:05"}}</td><td class="{{.Verdict}}">{{.Verdict}}</td><td>{{.Code}}</td><td>{{.Text}}</td><td><code>{{.ScanID}}</code></td></tr>
{{end}}</table></body></html>`))

// statusHandler serves the counter's status page, /healthz, /metrics and
// /api/recent (the same lines as JSON).
func statusHandler(cfg *station.Config, st *counter.Station, q *outbox.Queue, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if _, err := q.Depth(); err != nil {
			http.Error(w, "outbox: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/api/recent", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st.Recent())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		lines := st.Recent()
		for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
			lines[i], lines[j] = lines[j], lines[i]
		}
		depth, _ := q.Depth()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = statusPage.Execute(w, map[string]any{"Station": cfg.StationID, "Mode": cfg.Mode, "GLN": cfg.GLN, "Depth": depth, "Lines": lines})
	})
	return mux
}
