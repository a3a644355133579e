package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pharmatrace/pharmatrace/api"
	"github.com/pharmatrace/pharmatrace/api/alerts"
	"github.com/pharmatrace/pharmatrace/api/auth"
	"github.com/pharmatrace/pharmatrace/api/bulk"
	"github.com/pharmatrace/pharmatrace/api/commission"
	"github.com/pharmatrace/pharmatrace/api/dashboard"
	"github.com/pharmatrace/pharmatrace/api/internal/dbtest"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

func TestMain(m *testing.M) {
	openapi3filter.RegisterBodyDecoder("text/csv", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/css", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/javascript", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
	os.Exit(dbtest.Run(m))
}

// users: one demo user per role (as in fabric-network/network.yaml).
var users = map[trace.Role]auth.Identity{
	trace.RoleManufacturer: {Org: "Manufacturer", MSP: "ManufacturerMSP", User: "mfr-alpha", Role: trace.RoleManufacturer, GLN: "4012345000009", GCP: "4012345"},
	trace.RoleDistributor:  {Org: "Distributor", MSP: "DistributorMSP", User: "wh-north", Role: trace.RoleDistributor, GLN: "4098765000010"},
	trace.RolePharmacist:   {Org: "Pharmacy", MSP: "PharmacyMSP", User: "pharm-central", Role: trace.RolePharmacist, GLN: "4300123000014"},
	trace.RoleRegulator:    {Org: "Regulator", MSP: "RegulatorMSP", User: "inspector", Role: trace.RoleRegulator, GLN: "4900000000009"},
	trace.RoleAdmin:        {Org: "Regulator", MSP: "RegulatorMSP", User: "admin", Role: trace.RoleAdmin, GLN: "4900000000009"},
}

type harness struct {
	t       testing.TB
	srv     *api.Server
	ts      *httptest.Server
	sim     *memledger.Ledger
	store   *readmodel.Store
	uploads *commission.Manager
	bulk    *bulk.Manager
	alerts  *alerts.Service
	auth    *auth.Store
	tokens  map[trace.Role]string
	reg     *prometheus.Registry
	router  routers.Router
	demo    memledger.DemoResult

	mu      sync.Mutex
	applied int
}

type harnessOpt func(*harnessConfig)

type harnessConfig struct {
	engine  dbtest.Engine
	api     api.Config
	demo    bool
	ledgers func(*memledger.Ledger) api.Ledgers
}

func withEngine(e dbtest.Engine) harnessOpt     { return func(c *harnessConfig) { c.engine = e } }
func withConfig(f func(*api.Config)) harnessOpt { return func(c *harnessConfig) { f(&c.api) } }
func withoutDemo() harnessOpt                   { return func(c *harnessConfig) { c.demo = false } }
func withLedgers(f func(*memledger.Ledger) api.Ledgers) harnessOpt {
	return func(c *harnessConfig) { c.ledgers = f }
}

func simLedgers(sim *memledger.Ledger) api.Ledgers {
	return api.LedgersFunc(func(id api.Identity) (api.Ledger, error) { return sim.For(id.Actor(), id.GCP), nil })
}

// newHarness starts the API on the in-memory ledger and a real database, with a
// token per role; the demo flow is recorded and applied unless disabled.
func newHarness(t testing.TB, opts ...harnessOpt) *harness {
	t.Helper()
	hc := harnessConfig{engine: dbtest.SQLite, api: api.DefaultConfig(), demo: true, ledgers: simLedgers}
	hc.api.RateLimit = 0
	hc.api.DashboardSyncWait = 0 // tests apply events with h.sync()
	for _, o := range opts {
		o(&hc)
	}
	ctx := context.Background()
	d := dbtest.Open(t, hc.engine)
	sim, err := memledger.New(testStart())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, sim: sim, tokens: map[trace.Role]string{}, reg: prometheus.NewRegistry()}
	rm, err := readmodel.NewMetrics(h.reg)
	if err != nil {
		t.Fatal(err)
	}
	h.alerts = alerts.New(d, readmodel.New(d), alerts.WithConfig(alerts.Config{FirstRetry: 20 * time.Millisecond, MaxRetry: 200 * time.Millisecond,
		MaxAttempts: 5, Timeout: 2 * time.Second, Senders: 4, MaxSubscriptions: 10, Poll: 200 * time.Millisecond}))
	h.store = readmodel.New(d, readmodel.WithMetrics(rm), readmodel.WithHook(h.alerts))
	tokens := auth.NewStore(d)
	h.auth = tokens
	h.uploads = commission.NewManager(d)
	t.Cleanup(h.uploads.Close)
	h.bulk = bulk.NewManager(d, bulk.WithWorkers(8))
	t.Cleanup(h.bulk.Close)
	for _, m := range []func(context.Context) error{h.store.Migrate, tokens.Migrate, h.uploads.Migrate, h.bulk.Migrate, h.alerts.Migrate} {
		if err := m(ctx); err != nil {
			t.Fatal(err)
		}
	}
	actx, stopAlerts := context.WithCancel(context.Background())
	alertsDone := make(chan error, 1)
	go func() { alertsDone <- h.alerts.Run(actx) }()
	t.Cleanup(func() { stopAlerts(); <-alertsDone })
	for role, id := range users {
		tok, _, err := tokens.Create(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		h.tokens[role] = tok
	}
	h.srv, err = api.New(hc.api, api.Deps{Ledgers: hc.ledgers(h.sim), Tokens: tokens, Read: h.store, Uploads: h.uploads, Bulk: h.bulk, Alerts: h.alerts, Registry: h.reg})
	if err != nil {
		t.Fatal(err)
	}
	h.ts = httptest.NewServer(h.srv.Handler())
	t.Cleanup(h.ts.Close)
	doc, err := openapi3.NewLoader().LoadFromData(h.srv.OpenAPI())
	if err != nil {
		t.Fatalf("load OpenAPI document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: h.ts.URL}}
	if h.router, err = legacy.NewRouter(doc); err != nil {
		t.Fatal(err)
	}
	if hc.demo {
		if h.demo, err = h.sim.Demo(ctx); err != nil {
			t.Fatal(err)
		}
		h.sync()
	}
	return h
}

// testStart is where the ledger's clock starts: close to now, so that "the
// last 30 days" of the statistics contain the demo.
func testStart() time.Time { return time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second) }

// sync applies the in-memory ledger's new events to the read model (what the
// consumer does in production; done synchronously to keep tests exact).
func (h *harness) sync() {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	evs, pos := h.sim.Events()
	for ; h.applied < len(evs); h.applied++ {
		if _, err := h.store.Apply(context.Background(), evs[h.applied], pos[h.applied]); err != nil {
			h.t.Fatal(err)
		}
	}
}

// request is one HTTP call of a test.
type request struct {
	method, path string
	role         trace.Role // "" for no token
	token        string     // instead of role's token (tokenFor)
	body         any        // string, []byte or a value encoded as JSON
	contentType  string
	header       http.Header
	cookie       *http.Cookie
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) problem(t *testing.T) api.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d with content type %q, want a problem: %s", r.status, ct, r.body)
	}
	var p api.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request and validates the response against the OpenAPI
// document (status, media type and body schema).
func (h *harness) do(rq request) response {
	h.t.Helper()
	var body io.Reader
	switch b := rq.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader:
		body = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		body = bytes.NewReader(j)
		if rq.contentType == "" {
			rq.contentType = "application/json"
		}
	}
	req, err := http.NewRequest(rq.method, h.ts.URL+rq.path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range rq.header {
		req.Header[k] = v
	}
	if rq.contentType != "" {
		req.Header.Set("Content-Type", rq.contentType)
	}
	if rq.role != "" {
		req.Header.Set("Authorization", "Bearer "+h.tokens[rq.role])
	}
	if rq.token != "" {
		req.Header.Set("Authorization", "Bearer "+rq.token)
	}
	if rq.cookie != nil {
		req.AddCookie(rq.cookie)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, body: b}
	h.validate(req, out)
	return out
}

// validate checks a response against the document: the route exists, the
// status is documented (or covered by "default") and the body matches.
func (h *harness) validate(req *http.Request, r response) {
	h.t.Helper()
	if r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed {
		if r.header.Get("Content-Type") != "application/problem+json" && !strings.HasPrefix(req.URL.Path, "/dashboard") {
			h.t.Errorf("%s %s: %d without a problem body", req.Method, req.URL.Path, r.status)
		}
		if _, _, err := h.router.FindRoute(req); err != nil {
			return // not a documented route: nothing more to check
		}
	}
	route, params, err := h.router.FindRoute(req)
	if err != nil {
		h.t.Errorf("%s %s: not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{ExcludeRequestBody: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: r.status, Header: r.header, Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(r.body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		h.t.Errorf("%s %s → %d does not match the OpenAPI document: %v\nbody: %.600s", req.Method, req.URL.Path, r.status, err, r.body)
	}
}

// tokenFor issues a token for another user than the one per role (a second
// pharmacy site, a second manufacturer).
func (h *harness) tokenFor(id auth.Identity) string {
	h.t.Helper()
	tok, _, err := h.auth.Create(context.Background(), id, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// Other demo users of fabric-network/network.yaml.
var (
	pharmStation = auth.Identity{Org: "Pharmacy", MSP: "PharmacyMSP", User: "pharm-station", Role: trace.RolePharmacist, GLN: "4300123000021"}
	mfrBeta      = auth.Identity{Org: "Manufacturer", MSP: "ManufacturerMSP", User: "mfr-beta", Role: trace.RoleManufacturer, GLN: "5098765000002", GCP: "5098765"}
)

// session logs a role into the dashboard and returns its cookie.
func (h *harness) session(role trace.Role) *http.Cookie {
	return &http.Cookie{Name: dashboard.SessionCookie, Value: h.tokens[role]}
}

// form posts a dashboard form with a valid Origin and CSRF token.
func (h *harness) form(path string, role trace.Role, vals url.Values) response {
	if vals == nil {
		vals = url.Values{}
	}
	vals.Set("_csrf", dashboard.CSRFToken(h.tokens[role]))
	return h.do(request{method: http.MethodPost, path: path, body: vals.Encode(), contentType: "application/x-www-form-urlencoded",
		header: http.Header{"Origin": {h.ts.URL}}, cookie: h.session(role)})
}

func expectProblem(t *testing.T, r response, status int, kind, field string) api.Problem {
	t.Helper()
	p := r.problem(t)
	if r.status != status || p.Status != status || p.Type != api.ProblemBase+kind || (field != "" && p.Field != field) {
		t.Errorf("got %d %s field=%q (%s), want %d %s field=%q", r.status, p.Type, p.Field, p.Detail, status, kind, field)
	}
	return p
}

func fmtPath(format string, args ...any) string { return fmt.Sprintf(format, args...) }
