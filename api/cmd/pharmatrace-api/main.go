// Command pharmatrace-api serves the PharmaTrace regulator and partner HTTP
// API and dashboard, keeps its read model up to date from the chaincode's
// events, and manages API tokens.
//
//	pharmatrace-api serve   [-addr 127.0.0.1:8080] [-db run/api/readmodel.db | -pg-dsn DSN]
//	pharmatrace-api migrate
//	pharmatrace-api rebuild [-idle 5s]
//	pharmatrace-api token create -user <org>/<name> [-ttl 720h]
//	pharmatrace-api token revoke <token-id> | -user <org>/<name>
//	pharmatrace-api token list
//
// Environment: PHARMATRACE_API_ADDR, PHARMATRACE_API_DB,
// PHARMATRACE_API_PG_DSN, PHARMATRACE_NETWORK (network definition used to
// resolve users, default fabric-network/network.yaml),
// PHARMATRACE_API_LOG_LEVEL (debug, info, warn, error). Flags win over the
// environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pharmatrace/pharmatrace/api"
	"github.com/pharmatrace/pharmatrace/api/alerts"
	"github.com/pharmatrace/pharmatrace/api/auth"
	"github.com/pharmatrace/pharmatrace/api/bulk"
	"github.com/pharmatrace/pharmatrace/api/commission"
	"github.com/pharmatrace/pharmatrace/api/db"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/internal/pprofsrv"
	"github.com/pharmatrace/pharmatrace/internal/shutdown"
)

func main() {
	ctx, stop := shutdown.Context(context.Background(), os.Stderr)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "pharmatrace-api:", err)
		}
		os.Exit(2)
	}
}

const usage = `usage: pharmatrace-api <command> [flags]

commands:
  serve                          serve the API and dashboard, follow the ledger
  migrate                        create or upgrade the database schema
  rebuild                        drop the read model and replay the ledger from block 0
  token create -user <org>/<name> [-ttl 720h]
                                 issue a token (printed once) for a user of the network
  token revoke <token-id> | -user <org>/<name>
  token list
`

// config is everything the commands read from flags and environment.
type config struct {
	addr, dbPath, pgDSN, network, logLevel string
	runDir, eventsUser                     string
	fakeLedger, fakeDemo                   bool
	bulkWorkers                            int
	webhookHTTP                            bool
	api                                    api.Config
	idle                                   time.Duration
	user                                   string
	ttl                                    time.Duration
	shutdown                               time.Duration
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func flags(name string, getenv func(string) string, stderr io.Writer) (*flag.FlagSet, *config) {
	c := &config{api: api.DefaultConfig(), bulkWorkers: 32}
	fs := flag.NewFlagSet("pharmatrace-api "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.dbPath, "db", envOr(getenv, "PHARMATRACE_API_DB", "run/api/readmodel.db"), "SQLite database file ($PHARMATRACE_API_DB)")
	fs.StringVar(&c.pgDSN, "pg-dsn", getenv("PHARMATRACE_API_PG_DSN"), "PostgreSQL DSN, instead of SQLite ($PHARMATRACE_API_PG_DSN)")
	fs.StringVar(&c.logLevel, "log-level", envOr(getenv, "PHARMATRACE_API_LOG_LEVEL", "info"), "debug, info, warn or error")
	if name == "serve" || name == "rebuild" {
		fs.StringVar(&c.network, "network", envOr(getenv, "PHARMATRACE_NETWORK", "fabric-network/network.yaml"), "network definition ($PHARMATRACE_NETWORK)")
		fs.StringVar(&c.runDir, "run", envOr(getenv, "PHARMATRACE_RUN_DIR", "run"), "network run directory holding the per-org wallets ($PHARMATRACE_RUN_DIR)")
		fs.StringVar(&c.eventsUser, "events-user", envOr(getenv, "PHARMATRACE_API_EVENTS_USER", "Regulator/inspector"), "<org>/<name> whose identity reads the chaincode events")
	}
	switch name {
	case "serve":
		fs.StringVar(&c.addr, "addr", envOr(getenv, "PHARMATRACE_API_ADDR", "127.0.0.1:8080"), "listen address ($PHARMATRACE_API_ADDR)")
		fs.Float64Var(&c.api.RateLimit, "rate", c.api.RateLimit, "requests per second per token (0: no limit)")
		fs.IntVar(&c.api.RateBurst, "burst", c.api.RateBurst, "rate-limit burst per token")
		fs.Int64Var(&c.api.JSONBodyLimit, "json-limit", c.api.JSONBodyLimit, "JSON body limit (bytes)")
		fs.Int64Var(&c.api.UploadBodyLimit, "upload-limit", c.api.UploadBodyLimit, "commissioning upload limit (bytes)")
		fs.DurationVar(&c.api.RequestTimeout, "timeout", c.api.RequestTimeout, "per-request timeout")
		fs.IntVar(&c.api.BulkMaxPacks, "bulk-max", c.api.BulkMaxPacks, "packs per bulk request")
		fs.IntVar(&c.bulkWorkers, "bulk-workers", c.bulkWorkers, "ledger calls all bulk requests make at once")
		fs.BoolVar(&c.webhookHTTP, "webhook-allow-http", false, "accept http:// webhook endpoints on other hosts than loopback (default: https only)")
		fs.BoolVar(&c.api.SecureCookies, "secure-cookies", false, "mark dashboard cookies Secure (behind TLS)")
		fs.DurationVar(&c.shutdown, "shutdown-timeout", 15*time.Second, "how long to wait for requests at shutdown")
		fs.BoolVar(&c.fakeLedger, "fake-ledger", false, "serve on an in-memory ledger running the real contract (demo and tests only)")
		fs.BoolVar(&c.fakeDemo, "fake-demo", false, "with -fake-ledger: record the demo flow (products, lots, shipments, a clone) at start")
	case "rebuild":
		fs.DurationVar(&c.idle, "idle", 5*time.Second, "stop after this long without a new event")
		fs.BoolVar(&c.fakeLedger, "fake-ledger", false, "replay the in-memory ledger (tests only)")
	case "token":
		fs.StringVar(&c.network, "network", envOr(getenv, "PHARMATRACE_NETWORK", "fabric-network/network.yaml"), "network definition ($PHARMATRACE_NETWORK)")
		fs.StringVar(&c.user, "user", "", "<org>/<name> of a user of the network definition")
		fs.DurationVar(&c.ttl, "ttl", 0, "token lifetime (0: until revoked)")
	}
	return fs, c
}

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	cmd, rest := args[0], args[1:]
	sub := ""
	if cmd == "token" {
		if len(rest) == 0 {
			fmt.Fprint(stderr, usage)
			return errors.New("token: missing create, revoke or list")
		}
		sub, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "serve", "migrate", "rebuild", "token":
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	fs, c := flags(cmd, getenv, stderr)
	if err := fs.Parse(rest); err != nil {
		return err
	}
	log, err := newLogger(c.logLevel, stderr)
	if err != nil {
		return err
	}
	d, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer d.Close()
	store := readmodel.New(d, readmodel.WithLogger(log))
	tokens := auth.NewStore(d)
	uploads := commission.NewManager(d, commission.WithLogger(log))
	defer uploads.Close()
	bulks := bulk.NewManager(d, bulk.WithLogger(log), bulk.WithWorkers(c.bulkWorkers))
	defer bulks.Close()
	acfg := alerts.DefaultConfig()
	acfg.AllowHTTP = c.webhookHTTP
	al := alerts.New(d, store, alerts.WithLogger(log), alerts.WithConfig(acfg))
	if err := migrate(ctx, store, tokens, uploads, bulks, al); err != nil {
		return err
	}
	switch cmd {
	case "migrate":
		for _, comp := range []string{readmodel.Component, auth.Migrations().Component, commission.Migrations().Component, bulk.Migrations().Component,
			alerts.Migrations().Component} {
			v, err := d.Version(ctx, comp)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s schema version %d\n", comp, v)
		}
		return nil
	case "token":
		return tokenCmd(ctx, sub, c, fs.Args(), tokens, stdout, stderr)
	case "rebuild":
		be, err := newBackend(ctx, *c, log)
		if err != nil {
			return err
		}
		defer be.Close()
		res, err := readmodel.Rebuild(ctx, store, be.Events, c.idle)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "read model rebuilt: %d events applied, last %s\n", res.Events, res.Last)
		return nil
	}
	return serve(ctx, c, log, store, tokens, uploads, bulks, al)
}

func openDB(ctx context.Context, c *config) (*db.DB, error) {
	cfg := db.Config{Path: c.dbPath, PostgresDSN: c.pgDSN}
	if cfg.PostgresDSN != "" {
		cfg.Path = ""
	}
	return db.Open(ctx, cfg)
}

func migrate(ctx context.Context, store *readmodel.Store, tokens *auth.Store, uploads *commission.Manager, bulks *bulk.Manager, al *alerts.Service) error {
	for _, m := range []func(context.Context) error{store.Migrate, tokens.Migrate, uploads.Migrate, bulks.Migrate, al.Migrate} {
		if err := m(ctx); err != nil {
			return err
		}
	}
	return nil
}

func serve(ctx context.Context, c *config, log *slog.Logger, store *readmodel.Store, tokens *auth.Store, uploads *commission.Manager, bulks *bulk.Manager,
	al *alerts.Service) error {
	be, err := newBackend(ctx, *c, log)
	if err != nil {
		return err
	}
	defer be.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rm, err := readmodel.NewMetrics(reg)
	if err != nil {
		return err
	}
	store = readmodel.New(store.DB(), readmodel.WithLogger(log), readmodel.WithMetrics(rm), readmodel.WithHook(al))
	srv, err := api.New(c.api, api.Deps{Ledgers: be.Ledgers, Tokens: tokens, Read: store, Uploads: uploads, Bulk: bulks, Alerts: al, Registry: reg, GLNs: be.GLNs}, api.WithLogger(log))
	if err != nil {
		return err
	}
	if pa := os.Getenv("PHARMATRACE_API_PPROF_ADDRESS"); pa != "" {
		if err := pprofsrv.Serve(ctx, pa, log); err != nil {
			return fmt.Errorf("PHARMATRACE_API_PPROF_ADDRESS: %w", err)
		}
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	consumerCtx, stopConsumer := context.WithCancel(context.Background())
	consumerDone := make(chan error, 1)
	go func() {
		consumerDone <- readmodel.NewConsumer(store, be.Events, readmodel.WithConsumerLogger(log)).Run(consumerCtx)
	}()
	// Webhooks leave from their own goroutines, off the consumer's path.
	alertsDone := make(chan error, 1)
	go func() { alertsDone <- al.Run(consumerCtx) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("api: serving", "addr", ln.Addr().String(), "db", d(c))

	var result error
	select {
	case <-ctx.Done():
		log.Info("api: shutting down")
	case err := <-serveErr:
		result = err
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdown)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && result == nil {
		result = fmt.Errorf("shutdown: %w", err)
	}
	stopConsumer()
	if err := <-consumerDone; err != nil && result == nil {
		result = err
	}
	if err := <-alertsDone; err != nil && result == nil {
		result = err
	}
	uploads.Close()
	bulks.Close()
	log.Info("api: stopped")
	if errors.Is(result, http.ErrServerClosed) {
		return nil
	}
	return result
}

func d(c *config) string {
	if c.pgDSN != "" {
		return "postgres"
	}
	return c.dbPath
}

func tokenCmd(ctx context.Context, sub string, c *config, args []string, tokens *auth.Store, stdout, stderr io.Writer) error {
	switch sub {
	case "create":
		if c.user == "" {
			return errors.New("token create: -user <org>/<name> is required")
		}
		org, name, err := auth.ParseUser(c.user)
		if err != nil {
			return err
		}
		spec, err := netspec.Load(c.network)
		if err != nil {
			return err
		}
		id, err := auth.NetworkDirectory{Spec: spec}.Lookup(org, name)
		if err != nil {
			return err
		}
		tok, t, err := tokens.Create(ctx, id, c.ttl)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "token %s for %s (%s, role %s, gln %s); shown once, store it now\n", t.ID, id.Key(), id.MSP, id.Role, id.GLN)
		fmt.Fprintln(stdout, tok)
		return nil
	case "revoke":
		if c.user != "" {
			org, name, err := auth.ParseUser(c.user)
			if err != nil {
				return err
			}
			n, err := tokens.RevokeUser(ctx, org, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "revoked %d token(s) of %s\n", n, c.user)
			return nil
		}
		if len(args) != 1 {
			return errors.New("token revoke: give one token ID or -user <org>/<name>")
		}
		if err := tokens.Revoke(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", args[0])
		return nil
	case "list":
		list, err := tokens.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tMSP\tROLE\tGLN\tCREATED\tSTATE")
		for _, t := range list {
			state := "active"
			switch {
			case !t.RevokedAt.IsZero():
				state = "revoked " + t.RevokedAt.Format(time.RFC3339)
			case !t.Active(time.Now()):
				state = "expired"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Identity.Key(), t.Identity.MSP, t.Identity.Role, t.Identity.GLN,
				t.CreatedAt.Format(time.RFC3339), state)
		}
		return tw.Flush()
	}
	return fmt.Errorf("token: unknown subcommand %q (create, revoke, list)", strings.TrimSpace(sub))
}
