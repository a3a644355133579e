package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pharmatrace/pharmatrace/api/alerts"
	"github.com/pharmatrace/pharmatrace/api/auth"
	"github.com/pharmatrace/pharmatrace/api/bulk"
	"github.com/pharmatrace/pharmatrace/api/commission"
	"github.com/pharmatrace/pharmatrace/api/dashboard"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

// Config is the server's tunable behaviour.
type Config struct {
	// RateLimit is the sustained requests per second allowed per token (0
	// disables), RateBurst the bucket size.
	RateLimit float64
	RateBurst int
	// JSONBodyLimit caps JSON request bodies (bytes).
	JSONBodyLimit int64
	// UploadBodyLimit caps a commissioning upload (bytes, streamed).
	UploadBodyLimit int64
	// MaxUploadSerials caps the serials of one upload.
	MaxUploadSerials int
	// RequestTimeout bounds every request but uploads and streamed exports;
	// UploadTimeout bounds an upload that waits for its batches
	// (?wait=true), an EPCIS import and an EPCIS export.
	RequestTimeout time.Duration
	UploadTimeout  time.Duration
	// SecureCookies marks the dashboard's cookies Secure (behind TLS).
	SecureCookies bool
	// DashboardSyncWait is how long a dashboard action waits for the read
	// model to show its result (read your writes).
	DashboardSyncWait time.Duration
	// BulkMaxPacks caps the packs of one bulk request, BulkSyncMax is the
	// longest list answered when done by default (longer: 202 at once),
	// BulkBodyLimit caps a bulk request's body (bytes).
	BulkMaxPacks  int
	BulkSyncMax   int
	BulkBodyLimit int64
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		RateLimit: 20, RateBurst: 40,
		JSONBodyLimit: 1 << 20, UploadBodyLimit: 64 << 20, MaxUploadSerials: 1_000_000,
		RequestTimeout: 30 * time.Second, UploadTimeout: 30 * time.Minute, DashboardSyncWait: 2 * time.Second,
		BulkMaxPacks: 10_000, BulkSyncMax: 100, BulkBodyLimit: 4 << 20,
	}
}

// Validate checks the configuration, naming the offending field.
func (c Config) Validate() error {
	switch {
	case c.RateLimit < 0:
		return fmt.Errorf("api config: RateLimit: %v is negative", c.RateLimit)
	case c.RateLimit > 0 && c.RateBurst < 1:
		return fmt.Errorf("api config: RateBurst: %d, want at least 1", c.RateBurst)
	case c.JSONBodyLimit < 1024:
		return fmt.Errorf("api config: JSONBodyLimit: %d, want at least 1024", c.JSONBodyLimit)
	case c.UploadBodyLimit < 1024:
		return fmt.Errorf("api config: UploadBodyLimit: %d, want at least 1024", c.UploadBodyLimit)
	case c.MaxUploadSerials < 1:
		return fmt.Errorf("api config: MaxUploadSerials: %d, want at least 1", c.MaxUploadSerials)
	case c.RequestTimeout <= 0:
		return fmt.Errorf("api config: RequestTimeout: %v, want > 0", c.RequestTimeout)
	case c.UploadTimeout <= 0:
		return fmt.Errorf("api config: UploadTimeout: %v, want > 0", c.UploadTimeout)
	case c.DashboardSyncWait < 0:
		return fmt.Errorf("api config: DashboardSyncWait: %v is negative", c.DashboardSyncWait)
	case c.BulkMaxPacks < 1:
		return fmt.Errorf("api config: BulkMaxPacks: %d, want at least 1", c.BulkMaxPacks)
	case c.BulkSyncMax < 0:
		return fmt.Errorf("api config: BulkSyncMax: %d is negative", c.BulkSyncMax)
	case c.BulkBodyLimit < 1024:
		return fmt.Errorf("api config: BulkBodyLimit: %d, want at least 1024", c.BulkBodyLimit)
	}
	return nil
}

// Authenticator checks bearer tokens (auth.Store).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (auth.Token, error)
}

// Deps are the server's collaborators.
type Deps struct {
	Ledgers Ledgers
	Tokens  Authenticator
	Read    *readmodel.Store
	Uploads *commission.Manager
	Bulk    *bulk.Manager
	// Alerts keeps webhook subscriptions and feeds the live stream; the
	// read model must carry it as its hook (readmodel.WithHook) and its Run
	// must be running for webhooks to leave.
	Alerts *alerts.Service
	// Registry receives the HTTP, ledger and anomaly collectors and is
	// served at /metrics.
	Registry *prometheus.Registry
	// GLNs maps the GLNs of the network's users to their MSP IDs (EPCIS
	// import resolves shipping destinations through it, then through the
	// read model); optional.
	GLNs map[string]string
}

func (d Deps) validate() error {
	switch {
	case d.Ledgers == nil:
		return errors.New("api deps: Ledgers: nil")
	case d.Tokens == nil:
		return errors.New("api deps: Tokens: nil")
	case d.Read == nil:
		return errors.New("api deps: Read: nil")
	case d.Uploads == nil:
		return errors.New("api deps: Uploads: nil")
	case d.Bulk == nil:
		return errors.New("api deps: Bulk: nil")
	case d.Alerts == nil:
		return errors.New("api deps: Alerts: nil")
	case d.Registry == nil:
		return errors.New("api deps: Registry: nil")
	}
	return nil
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithClock sets the clock (rate limits, request IDs).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithReadiness sets the check behind /healthz (default: the read model's
// database answers).
func WithReadiness(f func(context.Context) error) Option { return func(s *Server) { s.ready = f } }

// Server is the PharmaTrace HTTP API and dashboard.
type Server struct {
	cfg        Config
	deps       Deps
	log        *slog.Logger
	now        func() time.Time
	ready      func(context.Context) error
	echo       *echo.Echo
	routes     []Route
	limits     *limiter
	metrics    *metrics
	dash       *dashboard.Handler
	htmlErrors func(echo.Context, *Problem) error
	openapi    []byte
}

// New builds the server: routes, middleware, error handler, metrics.
func New(cfg Config, deps Deps, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := deps.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, deps: deps, log: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.ready == nil {
		s.ready = func(ctx context.Context) error { return deps.Read.DB().Ping(ctx) }
	}
	var err error
	if s.metrics, err = newMetrics(deps.Registry, deps.Read); err != nil {
		return nil, err
	}
	s.limits = newLimiter(cfg.RateLimit, cfg.RateBurst, s.now)
	s.dash, err = dashboard.New(dashboard.Config{SecureCookies: cfg.SecureCookies, SyncWait: cfg.DashboardSyncWait, Now: s.now}, deps.Read, dashActions{s}, deps.Tokens, s.log)
	if err != nil {
		return nil, err
	}
	s.htmlErrors = func(c echo.Context, p *Problem) error {
		return s.dash.RenderError(c, dashboard.ErrorView{Status: p.Status, Title: p.Title, Detail: p.Detail, Field: p.Field, Type: p.Kind()})
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(s.instrument, s.recoverer)
	s.echo = e
	s.routes = s.routeTable()
	for i := range s.routes {
		r := &s.routes[i]
		e.Add(r.Method, r.Path, r.Handler, s.middlewareFor(r)...).Name = r.Name
	}
	if s.openapi, err = buildOpenAPI(s.routes); err != nil {
		return nil, fmt.Errorf("api: OpenAPI document: %w", err)
	}
	return s, nil
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo returns the Echo instance (for tests that walk its routes).
func (s *Server) Echo() *echo.Echo { return s.echo }

// Routes returns the route table.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// OpenAPI returns the OpenAPI 3 document served at /api/v1/openapi.json.
func (s *Server) OpenAPI() []byte { return s.openapi }

func (s *Server) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("api: panic", "route", c.Path(), "panic", v)
				err = fmt.Errorf("panic: %v", v)
			}
		}()
		return next(c)
	}
}

// instrument observes the duration of every request by route template and
// status (after the error handler ran, so problems count with their status).
func (s *Server) instrument(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := s.now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		s.metrics.http.WithLabelValues(c.Request().Method, route, strconv.Itoa(status)).Observe(s.now().Sub(start).Seconds())
		return nil
	}
}

// middlewareFor builds a route's chain: timeout, body limit, then for
// protected routes authentication, rate limit and the role check.
func (s *Server) middlewareFor(r *Route) []echo.MiddlewareFunc {
	timeout := s.cfg.RequestTimeout
	if r.Upload || r.Stream || r.Bulk {
		timeout = s.cfg.UploadTimeout
	}
	limit := s.cfg.JSONBodyLimit
	switch {
	case r.Upload:
		limit = s.cfg.UploadBodyLimit
	case r.Bulk:
		limit = s.cfg.BulkBodyLimit
	}
	mw := []echo.MiddlewareFunc{
		func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				ctx, cancel := context.WithTimeout(c.Request().Context(), timeout)
				defer cancel()
				req := c.Request().WithContext(ctx)
				req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
				if req.ContentLength > limit {
					return NewProblem(ProbTooLarge, "the request body (%d bytes) exceeds %d bytes", req.ContentLength, limit)
				}
				c.SetRequest(req)
				return next(c)
			}
		},
	}
	if r.Public {
		if r.Method == http.MethodPost {
			mw = append(mw, s.rateLimit(func(c echo.Context) string { return "ip:" + c.RealIP() }))
		}
		return mw
	}
	return append(mw, s.authenticate(strings.HasPrefix(r.Path, "/dashboard")),
		s.rateLimit(func(c echo.Context) string { t, _ := auth.FromContext(c.Request().Context()); return "token:" + t.ID }),
		s.requireRole(r))
}

// authenticate resolves the bearer token (API) or the session cookie
// (dashboard) to the user's identity. The API never reads the cookie, so a
// cross-site request cannot act on the API with a dashboard session.
func (s *Server) authenticate(cookie bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			var token string
			if cookie {
				token = dashboard.SessionToken(c)
			} else {
				h := c.Request().Header.Get(echo.HeaderAuthorization)
				scheme, tok, ok := strings.Cut(h, " ")
				if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
					return NewProblem(ProbUnauthorized, "send the API token as Authorization: Bearer <token>")
				}
				token = strings.TrimSpace(tok)
			}
			if token == "" {
				return NewProblem(ProbUnauthorized, "log in first")
			}
			t, err := s.deps.Tokens.Authenticate(c.Request().Context(), token)
			if err != nil {
				return err
			}
			c.SetRequest(c.Request().WithContext(auth.NewContext(c.Request().Context(), t)))
			return next(c)
		}
	}
}

func (s *Server) rateLimit(key func(echo.Context) string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ok, wait := s.limits.allow(key(c))
			if !ok {
				c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
				return NewProblem(ProbRateLimited, "rate limit of %.0f requests per second exceeded; retry in %v", s.cfg.RateLimit, wait.Round(time.Millisecond))
			}
			return next(c)
		}
	}
}

func (s *Server) requireRole(r *Route) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			t, _ := auth.FromContext(c.Request().Context())
			if !r.Allows(t.Identity.Role) {
				return NewProblem(ProbForbidden, "role %s may not %s %s (allowed: %s)", t.Identity.Role, r.Method, r.Path, rolesString(r.Roles))
			}
			return next(c)
		}
	}
}

func rolesString(rs []trace.Role) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return strings.Join(out, ", ")
}

// identity returns the caller's identity (protected routes only).
func identity(c echo.Context) Identity {
	t, _ := auth.FromContext(c.Request().Context())
	return t.Identity
}

// ledger returns the caller's Ledger.
func (s *Server) ledger(c echo.Context) (Ledger, error) {
	l, err := s.deps.Ledgers.LedgerFor(identity(c))
	if err != nil {
		return nil, fmt.Errorf("%w: no ledger identity for %s: %v", ErrUnavailable, identity(c).Key(), err)
	}
	return timedLedger{l: l, m: s.metrics}, nil
}

// healthz answers 200 when the database answers, 503 otherwise.
func (s *Server) healthz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return writeJSON(c, http.StatusServiceUnavailable, Health{Status: "unavailable", Detail: err.Error()})
	}
	h := Health{Status: "ok"}
	if cp, err := s.deps.Read.Checkpoint(ctx); err == nil {
		h.ReadModel = &cp
	}
	return writeJSON(c, http.StatusOK, h)
}

// Health is the /healthz answer.
type Health struct {
	Status    string              `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	ReadModel *readmodel.Position `json:"readModel,omitempty"`
}

func (s *Server) metricsHandler() echo.HandlerFunc {
	h := promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{})
	return echo.WrapHandler(h)
}

// authToken returns the ID of the caller's token.
func authToken(c echo.Context) (string, bool) {
	t, ok := auth.FromContext(c.Request().Context())
	return t.ID, ok
}
