// Command pharmatrace-epcis is the operators' EPCIS tool: it imports
// EPCIS documents (2.0 JSON-LD, 2.0 XML or 1.2 XML) into the ledger,
// exports events as EPCIS 2.0 documents (JSON-LD or XML) and generates test
// documents.
//
//	pharmatrace-epcis import [-as Org/user]... [-default Org/user] [-workers 8] [-report FILE] FILE|-
//	pharmatrace-epcis import -api URL -token TOKEN FILE|-
//	pharmatrace-epcis export -api URL -token TOKEN [-gtin G (-serial S | -lot L) | -shipment ID] [-from T] [-to T] [-epc-form sgtin|digitallink] [-format json|xml] [-o FILE]
//	pharmatrace-epcis generate -n N -gtin G -lot L -expiry YYMMDD -gln GLN [-format json|xml] [-o FILE]
//
// import tells XML from JSON by the document's first byte that is not
// white space ('<' is XML).
//
// import without -api writes straight to the ledger through package
// gateway (package epcis/importer) with the network definition's
// identities: each event is signed by the identity whose GLN is the
// event's site (bizLocation, else readPoint), so a history of several
// parties (commissioned by a manufacturer, received by a wholesaler,
// dispensed by a pharmacy) replays as those parties. -as restricts the
// identities (default: every manufacturer, distributor and pharmacist of
// the network); an event whose site is none of theirs goes to -default or
// is rejected. With -api the document is posted to the API's import route
// and signed by the token's user alone. Importing a document again applies
// nothing new: every event is reported skipped ("already applied").
//
// The report (JSON, as the API's) goes to -report or stdout; a summary goes
// to stderr. On a terminal, import and export draw a progress bar on
// stderr (bytes of the document read, events applied so far); when stderr
// is not a terminal they draw nothing and import logs its progress every
// 2 seconds instead. Exit status: 0 when every event was applied or skipped, 3 when
// some were rejected, 1 on errors (an interrupted import is resumed by
// running it again), 2 on bad usage.
//
// Environment: PHARMATRACE_NETWORK (network definition, default
// fabric-network/network.yaml; a second network's is <run>/network.yaml),
// PHARMATRACE_RUN_DIR (default run), PHARMATRACE_API_URL,
// PHARMATRACE_API_TOKEN.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/epcis"
	"github.com/pharmatrace/pharmatrace/epcis/importer"
	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/internal/shutdown"
	"github.com/pharmatrace/pharmatrace/trace"
)

// errRejected: the import finished but rejected some events.
var errRejected = errors.New("some events were rejected")

// usageError marks bad command lines (exit status 2).
type usageError struct{ error }

func main() {
	ctx, stop := shutdown.Context(context.Background(), os.Stderr)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	var ue usageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "pharmatrace-epcis:", err)
		os.Exit(2)
	case errors.Is(err, errRejected):
		os.Exit(3)
	default:
		fmt.Fprintln(os.Stderr, "pharmatrace-epcis:", err)
		os.Exit(1)
	}
}

const usage = `usage: pharmatrace-epcis <command> [flags]

commands:
  import    apply an EPCIS document (2.0 JSON-LD, 2.0 or 1.2 XML) to the ledger (idempotent)
  export    write the ledger's events as an EPCIS 2.0 document, JSON-LD or XML (through the API)
  generate  write a commissioning document of n events (for tests and load)

run "pharmatrace-epcis <command> -h" for a command's flags`

func run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return usageError{errors.New("no command")}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	switch args[0] {
	case "import":
		return runImport(ctx, args[1:], env, stdin, stdout, stderr, log)
	case "export":
		return runExport(ctx, args[1:], env, stdout, stderr)
	case "generate":
		return runGenerate(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stderr, usage)
		return flag.ErrHelp
	}
	fmt.Fprintln(stderr, usage)
	return usageError{fmt.Errorf("unknown command %q", args[0])}
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}

// openInput opens the document named by the command's one argument.
func openInput(fs *flag.FlagSet, stdin io.Reader) (io.ReadCloser, error) {
	if fs.NArg() != 1 {
		return nil, usageError{errors.New("give one document: a file name, or - for standard input")}
	}
	if fs.Arg(0) == "-" {
		return io.NopCloser(stdin), nil
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return nil, err
	}
	return f, nil
}

func runImport(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	specPath := fs.String("spec", or(env("PHARMATRACE_NETWORK"), "fabric-network/network.yaml"), "network definition `file` (env PHARMATRACE_NETWORK)")
	runDir := fs.String("run", or(env("PHARMATRACE_RUN_DIR"), "run"), "network run `directory` holding the identities (env PHARMATRACE_RUN_DIR)")
	var as multi
	fs.Var(&as, "as", "sign with `Org/user` (repeatable; default: every manufacturer, distributor and pharmacist of the network)")
	def := fs.String("default", "", "sign events whose site is none of the identities' GLNs with `Org/user` (default: reject them)")
	workers := fs.Int("workers", 8, "independent writes in flight at once")
	reportPath := fs.String("report", "", "write the JSON report to `file` (default: standard output)")
	apiURL := fs.String("api", "", "post the document to this PharmaTrace API `URL` instead (signed by the token's user; env PHARMATRACE_API_URL is not used here)")
	token := fs.String("token", env("PHARMATRACE_API_TOKEN"), "API `token` for -api (env PHARMATRACE_API_TOKEN)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	in, err := openInput(fs, stdin)
	if err != nil {
		return err
	}
	defer in.Close()
	start := time.Now()
	var rep *epcis.Report
	if *apiURL != "" {
		bar := newProgress(stderr, sizeOf(in), "import: upload")
		format, doc, err := epcis.DetectFormat(bar.reader(in))
		if err != nil {
			bar.done()
			return fmt.Errorf("read the document: %w", err)
		}
		rep, err = importViaAPI(ctx, *apiURL, *token, doc, format.MediaType())
		bar.done()
		if err != nil {
			return err
		}
	} else {
		ids, err := newIdentities(*specPath, *runDir, as, *def, log)
		if err != nil {
			return err
		}
		defer ids.close()
		// The document is read segment by segment as events are applied:
		// the bytes read are the progress.
		bar := newProgress(stderr, sizeOf(in), "import")
		format, doc, err := epcis.DetectFormat(bar.reader(in))
		if err != nil {
			bar.done()
			return fmt.Errorf("read the document: %w", err)
		}
		rd := epcis.NewFormatReader(doc, format, epcis.ImportOptions{LookupGLN: ids.lookupGLN, LookupPack: ids.lookupPack(ctx)})
		last := time.Now()
		rep, err = importer.Run(ctx, rd, importer.Options{
			LedgerFor: ids.ledgerFor,
			// The gateway decides: a failure the ledger did not judge
			// stops the import (running it again resumes it), a refusal
			// rejects the event.
			Stop:    gateway.Retryable,
			Workers: *workers,
			Progress: func(a, s, r int) {
				if bar.on() {
					bar.describe(fmt.Sprintf("import: %d applied, %d skipped, %d rejected", a, s, r))
					return
				}
				if time.Since(last) >= 2*time.Second {
					last = time.Now()
					log.Info("import: progress", "applied", a, "skipped", s, "rejected", r)
				}
			},
		})
		bar.done()
		if err != nil {
			a, s, r := 0, 0, 0
			if rep != nil {
				a, s, r = rep.Counts()
			}
			return fmt.Errorf("import stopped after %d applied, %d skipped, %d rejected events (run it again to resume; nothing is applied twice): %w", a, s, r, err)
		}
	}
	if err := writeReport(*reportPath, stdout, rep); err != nil {
		return err
	}
	a, s, r := rep.Counts()
	fmt.Fprintf(stderr, "import: %d applied, %d skipped, %d rejected in %s\n", a, s, r, time.Since(start).Round(time.Millisecond))
	if r > 0 {
		for _, x := range rep.Rejected[:min(len(rep.Rejected), 10)] {
			fmt.Fprintf(stderr, "  rejected event %d: %s\n", x.EventIndex, x.Reason)
		}
		return errRejected
	}
	return nil
}

// report is the JSON report, in the API's shape.
type report struct {
	Applied  int          `json:"applied"`
	Skipped  int          `json:"skipped"`
	Rejected int          `json:"rejected"`
	Events   epcis.Report `json:"events"`
}

func writeReport(path string, stdout io.Writer, rep *epcis.Report) error {
	out := report{Events: *rep}
	out.Applied, out.Skipped, out.Rejected = rep.Counts()
	w := stdout
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if f, ok := w.(*os.File); ok && path != "" {
		return f.Sync()
	}
	return nil
}

// identities are the network users the import signs with, by GLN.
type identities struct {
	l       *netspec.Layout
	log     *slog.Logger
	byGLN   map[string]string // GLN -> "Org/user"
	glnMSP  map[string]string // every network user's GLN -> MSP
	def     string
	names   []string
	mu      sync.Mutex
	clients map[string]*gateway.Client
}

func newIdentities(specPath, runDir string, as []string, def string, log *slog.Logger) (*identities, error) {
	spec, err := netspec.Load(specPath)
	if err != nil {
		return nil, err
	}
	l, err := netspec.NewLayout(spec, runDir)
	if err != nil {
		return nil, err
	}
	ids := &identities{l: l, log: log, byGLN: map[string]string{}, glnMSP: map[string]string{}, clients: map[string]*gateway.Client{}}
	users := map[string]netspec.User{}
	all := len(as) == 0
	for _, o := range spec.Orgs {
		for _, u := range o.Users {
			key := o.Name + "/" + u.Name
			users[key] = u
			if u.GLN != "" {
				ids.glnMSP[u.GLN] = o.MSPID
			}
			if all && slices.Contains([]string{"manufacturer", "distributor", "pharmacist"}, u.Role) {
				as = append(as, key)
			}
		}
	}
	for _, key := range as {
		u, ok := users[key]
		if !ok {
			return nil, usageError{fmt.Errorf("-as %s: no such user in %s (want Org/user, e.g. Manufacturer/mfr-alpha)", key, specPath)}
		}
		if prev, dup := ids.byGLN[u.GLN]; dup {
			return nil, usageError{fmt.Errorf("-as %s and %s have the same GLN %s: the site cannot tell them apart", prev, key, u.GLN)}
		}
		ids.byGLN[u.GLN] = key
		ids.names = append(ids.names, key)
	}
	if def != "" {
		if _, ok := users[def]; !ok {
			return nil, usageError{fmt.Errorf("-default %s: no such user in %s", def, specPath)}
		}
		ids.def = def
	}
	return ids, nil
}

func (ids *identities) client(key string) (*gateway.Client, error) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if c, ok := ids.clients[key]; ok {
		return c, nil
	}
	org, user, _ := strings.Cut(key, "/")
	cfg, err := fabconn.GatewayConfig(ids.l, org, user)
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", key, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := gateway.Dial(ctx, cfg, gateway.WithLogger(ids.log.With("user", key)), gateway.WithGetRequestLookup())
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", key, err)
	}
	ids.clients[key] = c
	return c, nil
}

func (ids *identities) close() {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	for _, c := range ids.clients {
		c.Close()
	}
}

// ledgerFor picks the identity of the event's site.
func (ids *identities) ledgerFor(p *epcis.Planned) (importer.Ledger, error) {
	key, ok := ids.byGLN[p.Site]
	if !ok {
		key = ids.def
	}
	if key == "" {
		site := p.Site
		if site == "" {
			site = "(none: the event has no bizLocation or readPoint)"
		}
		return nil, fmt.Errorf("no identity for the event's site %s among %s (pass -as or -default)", site, strings.Join(ids.names, ", "))
	}
	c, err := ids.client(key)
	if err != nil {
		return nil, err
	}
	return ledger{c}, nil
}

func (ids *identities) lookupGLN(gln string) (string, bool) {
	msp, ok := ids.glnMSP[gln]
	return msp, ok
}

// lookupPack reads a pack's lot and expiry with the default identity, else
// the first.
func (ids *identities) lookupPack(ctx context.Context) func(trace.PackRef) (string, string, bool, error) {
	return func(ref trace.PackRef) (string, string, bool, error) {
		key := ids.def
		if key == "" {
			key = ids.names[0]
		}
		c, err := ids.client(key)
		if err != nil {
			return "", "", false, err
		}
		return importer.LookupPack(ctx, ledger{c})(ref)
	}
}

// ledger adapts a gateway client to importer.Ledger.
type ledger struct{ c *gateway.Client }

func (l ledger) Submit(ctx context.Context, fn string, req trace.WriteRequest, result any) error {
	return l.c.Submit(ctx, fn, req.ID(), req, result)
}

func (l ledger) Evaluate(ctx context.Context, fn string, req trace.Request, result any) error {
	return l.c.Evaluate(ctx, fn, req, result)
}

// apiCall sends one request to the PharmaTrace API and fails with the
// problem document's detail on a non-200 answer.
func apiCall(ctx context.Context, method, base, path, token, contentType, accept string, body io.Reader) (*http.Response, error) {
	if base == "" {
		return nil, usageError{errors.New("-api: give the API's URL (e.g. http://127.0.0.1:8080)")}
	}
	if token == "" {
		return nil, usageError{errors.New("-token: give an API token (pharmatrace-api token create -user Org/user)")}
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(base, "/")+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var p struct {
			Title, Detail string
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		if json.Unmarshal(b, &p) == nil && p.Detail != "" {
			return nil, fmt.Errorf("%s %s: %s: %s: %s", method, path, resp.Status, p.Title, p.Detail)
		}
		return nil, fmt.Errorf("%s %s: %s: %.300s", method, path, resp.Status, b)
	}
	return resp, nil
}

func importViaAPI(ctx context.Context, base, token string, in io.Reader, mediaType string) (*epcis.Report, error) {
	resp, err := apiCall(ctx, http.MethodPost, base, "/api/v1/epcis/import", token, mediaType, "", in)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out report
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("the API's import report: %w", err)
	}
	return &out.Events, nil
}

func runExport(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	apiURL := fs.String("api", or(env("PHARMATRACE_API_URL"), "http://127.0.0.1:8080"), "PharmaTrace API `URL` (env PHARMATRACE_API_URL)")
	token := fs.String("token", env("PHARMATRACE_API_TOKEN"), "API `token` (env PHARMATRACE_API_TOKEN); the regulator sees every company's events, a manufacturer its own")
	out := fs.String("o", "", "write the document to `file` (default: standard output)")
	format := fs.String("format", "json", "document `format`: json (EPCIS 2.0 JSON-LD) or xml (EPCIS 2.0 XML)")
	q := url.Values{}
	for _, f := range []struct{ name, query, help string }{
		{"gtin", "gtin", "the packs of `GTIN` (with -serial or -lot)"},
		{"serial", "serial", "one pack: `serial` of -gtin"},
		{"lot", "lot", "one lot: `lot` of -gtin"},
		{"shipment", "shipment", "every event of the packs of shipment `ID`"},
		{"from", "from", "events at or after `time` (RFC 3339 or YYYY-MM-DD)"},
		{"to", "to", "events before `time`"},
		{"epc-form", "epcForm", "pack identifiers as `sgtin` EPC URIs or digitallink URIs"},
	} {
		fs.Func(f.name, f.help, func(v string) error { q.Set(f.query, v); return nil })
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	f, err := parseFormat(*format)
	if err != nil {
		return err
	}
	path := "/api/v1/epcis/events"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := apiCall(ctx, http.MethodGet, *apiURL, path, *token, "", f.MediaType(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// No bar when the document itself goes to the same terminal.
	body := io.Reader(resp.Body)
	if *out != "" || !isTerminal(stdout) {
		bar := newProgress(stderr, resp.ContentLength, "export")
		defer bar.done()
		body = bar.reader(body)
	}
	return writeTo(*out, stdout, body)
}

// writeTo copies r to the file path (via a temporary file renamed when
// complete, so a failed export never leaves a truncated document under
// the name) or to stdout.
func writeTo(path string, stdout io.Writer, r io.Reader) error {
	if path == "" {
		_, err := io.Copy(stdout, r)
		return err
	}
	tmp := path + ".partial"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// parseFormat reads a -format flag.
func parseFormat(s string) (epcis.Format, error) {
	switch s {
	case "json":
		return epcis.FormatJSON, nil
	case "xml":
		return epcis.FormatXML, nil
	}
	return 0, usageError{fmt.Errorf("-format %q: want json or xml", s)}
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	n := fs.Int("n", 1000, "number of commissioning events (one pack each)")
	gtin := fs.String("gtin", "", "`GTIN`-14 of the packs")
	lot := fs.String("lot", "", "`lot` number")
	expiry := fs.String("expiry", "", "expiry date `YYMMDD`")
	gln := fs.String("gln", "", "`GLN` of the commissioning site (readPoint and bizLocation)")
	out := fs.String("o", "", "write the document to `file` (default: standard output)")
	format := fs.String("format", "json", "document `format`: json (EPCIS 2.0 JSON-LD) or xml (EPCIS 2.0 XML)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	f, err := parseFormat(*format)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(epcis.GenerateCommissioningAs(pw, f, *n, *gtin, *lot, *expiry, *gln)) }()
	if err := writeTo(*out, stdout, pr); err != nil {
		if strings.Contains(err.Error(), "GenerateCommissioning") {
			return usageError{err}
		}
		return err
	}
	return nil
}
