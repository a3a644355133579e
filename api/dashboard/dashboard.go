// Package dashboard is the regulator's web dashboard: server-rendered HTML
// (html/template) with its templates, stylesheet and a small vanilla
// JavaScript file embedded in the binary — no CDN, no JavaScript library,
// works offline. Charts are inline SVG computed on the server.
//
// Pages: login (paste an API token), the anomaly list with a filter form,
// charts of anomalies over time and by type, and the anomaly detail with
// the evidence, the workflow history, the pack's chain of custody as a
// timeline, workflow buttons (investigating, escalated, closed with a
// reason) and a recall button for the lot; the pack lookup (paste or scan
// a GS1 element string or Digital Link: the pack's state and custodian on
// the ledger, the verdict a pharmacy would get for that code, its chain of
// custody and anomalies, and lock/unlock of that one pack); the lots at
// risk; packs by state as a chart; and a form to flag an anomaly by hand.
//
// # Session and CSRF
//
// Logging in stores the token in the "pt_session" cookie: HttpOnly,
// SameSite=Strict, Path=/dashboard (Secure when configured). The API under
// /api/v1 never reads that cookie (it only takes Authorization: Bearer), so
// a forged cross-site request cannot reach the API with a dashboard
// session. The dashboard's own form posts are protected three ways:
// SameSite=Strict keeps the cookie off cross-site requests, the Origin (or
// Referer) header must name this host, and every form carries a
// synchronizer token derived from the session (hex SHA-256 of "csrf:" +
// token), compared in constant time; the login form, which has no session
// yet, relies on the Origin check.
package dashboard

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pharmatrace/pharmatrace/api/auth"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/*
var assetFS embed.FS

// Reader is the read model as the dashboard uses it (*readmodel.Store).
type Reader interface {
	ListAnomalies(ctx context.Context, f readmodel.AnomalyFilter, o readmodel.Sort, p readmodel.Page) (readmodel.AnomalyPage, error)
	GetAnomaly(ctx context.Context, id string) (trace.Anomaly, error)
	PackTimeline(ctx context.Context, gtin, serial string, limit int) ([]readmodel.PackEvent, error)
	AnomaliesPerDay(ctx context.Context, f readmodel.AnomalyFilter) ([]readmodel.DayCount, error)
	GetLot(ctx context.Context, gtin, lot string) (trace.Lot, error)
	PacksByState(ctx context.Context, gtin string) ([]readmodel.StateCount, error)
	LotsAtRisk(ctx context.Context, limit int) ([]readmodel.LotRisk, error)
}

// Actions are the ledger writes the dashboard offers, done with the
// logged-in user's identity.
type Actions interface {
	Transition(ctx context.Context, id auth.Identity, anomalyID string, to trace.AnomalyStatus, reason trace.CloseReason, comment string) (trace.AnomalyResult, error)
	Recall(ctx context.Context, id auth.Identity, gtin, lot, reason string) (trace.LotResult, error)
	// Pack reads a pack from the ledger; Verify verifies a scan (a query:
	// the regulator's lookup records nothing).
	Pack(ctx context.Context, id auth.Identity, gtin, serial string) (trace.Pack, error)
	Verify(ctx context.Context, id auth.Identity, sc trace.Scan) (trace.VerifyResult, error)
	// Lock decommissions a pack as locked (custody unchanged); Unlock undoes
	// the regulator's lock.
	Lock(ctx context.Context, id auth.Identity, sc trace.Scan) (trace.ScanResult, error)
	Unlock(ctx context.Context, id auth.Identity, sc trace.Scan) (trace.ScanResult, error)
	// Flag records an anomaly by hand (its request ID is chosen here).
	Flag(ctx context.Context, id auth.Identity, req trace.FlagAnomalyRequest) (trace.AnomalyResult, error)
}

// Authenticator checks a pasted token at login.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (auth.Token, error)
}

// Config tunes the dashboard.
type Config struct {
	// SecureCookies sets the Secure attribute (serve over TLS).
	SecureCookies bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// SyncWait is how long an action waits for the read model to show its
	// own committed result before redirecting (read your writes; 0: no
	// wait). The page shows whatever the read model holds then.
	SyncWait time.Duration
}

// Handler serves the dashboard.
type Handler struct {
	cfg     Config
	read    Reader
	act     Actions
	tokens  Authenticator
	log     *slog.Logger
	pages   map[string]*template.Template
	version string
}

// SessionCookie is the name of the session cookie.
const SessionCookie = "pt_session"

// New parses the templates and returns the handler.
func New(cfg Config, read Reader, act Actions, tokens Authenticator, log *slog.Logger) (*Handler, error) {
	if read == nil || act == nil || tokens == nil {
		return nil, errors.New("dashboard: Reader, Actions and Authenticator are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{cfg: cfg, read: read, act: act, tokens: tokens, log: log, pages: map[string]*template.Template{}}
	sum := sha256.New()
	_ = fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := assetFS.ReadFile(p)
			sum.Write(b)
		}
		return nil
	})
	h.version = hex.EncodeToString(sum.Sum(nil))[:12]
	for _, page := range []string{"login", "anomalies", "anomaly", "error", "pack", "lots", "states", "flag"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", page, err)
		}
		h.pages[page] = t
	}
	return h, nil
}

// Route is one dashboard route; the API's route table adds the access rule
// (regulator) to the non-public ones.
type Route struct {
	Method, Path, Name, Summary string
	Public                      bool
	Asset                       bool
	Status                      int
	Handler                     echo.HandlerFunc
}

// Routes lists the dashboard's routes.
func (h *Handler) Routes() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "/dashboard", Name: "dashboardRoot", Summary: "Redirect to the dashboard", Public: true, Status: http.StatusSeeOther, Handler: h.root},
		{Method: http.MethodGet, Path: "/dashboard/login", Name: "dashboardLoginForm", Summary: "Login page", Public: true, Handler: h.loginForm},
		{Method: http.MethodPost, Path: "/dashboard/login", Name: "dashboardLogin", Summary: "Log in with an API token", Public: true, Status: http.StatusSeeOther, Handler: h.login},
		{Method: http.MethodPost, Path: "/dashboard/logout", Name: "dashboardLogout", Summary: "Log out", Public: true, Status: http.StatusSeeOther, Handler: h.logout},
		{Method: http.MethodGet, Path: "/dashboard/assets/:name", Name: "dashboardAsset", Summary: "Embedded stylesheet and script", Public: true, Asset: true, Handler: h.asset},
		{Method: http.MethodGet, Path: "/dashboard/anomalies", Name: "dashboardAnomalies", Summary: "Anomaly list with filters and charts", Handler: h.anomalies},
		{Method: http.MethodGet, Path: "/dashboard/anomalies/:id", Name: "dashboardAnomaly", Summary: "Anomaly detail with chain of custody", Handler: h.anomaly},
		{Method: http.MethodPost, Path: "/dashboard/anomalies/:id/transition", Name: "dashboardTransition", Summary: "Workflow action", Status: http.StatusSeeOther, Handler: h.transition},
		{Method: http.MethodPost, Path: "/dashboard/lots/:gtin/:lot/recall", Name: "dashboardRecall", Summary: "Recall a lot", Status: http.StatusSeeOther, Handler: h.recall},
		{Method: http.MethodGet, Path: "/dashboard/anomalies/new", Name: "dashboardFlagForm", Summary: "Form to flag an anomaly by hand", Handler: h.flagPage},
		{Method: http.MethodPost, Path: "/dashboard/anomalies", Name: "dashboardFlag", Summary: "Flag an anomaly by hand", Status: http.StatusSeeOther, Handler: h.flag},
		{Method: http.MethodGet, Path: "/dashboard/packs", Name: "dashboardPack", Summary: "Pack lookup by pasted or scanned GS1 code or Digital Link: status, verdict, chain of custody",
			Handler: h.lookup},
		{Method: http.MethodPost, Path: "/dashboard/packs/:gtin/:serial/lock", Name: "dashboardLock", Summary: "Lock one pack (its verifications are refused)",
			Status: http.StatusSeeOther, Handler: h.lockAction(true)},
		{Method: http.MethodPost, Path: "/dashboard/packs/:gtin/:serial/unlock", Name: "dashboardUnlock", Summary: "Unlock a pack the regulator locked",
			Status: http.StatusSeeOther, Handler: h.lockAction(false)},
		{Method: http.MethodGet, Path: "/dashboard/lots", Name: "dashboardLots", Summary: "Lots at risk", Handler: h.lots},
		{Method: http.MethodGet, Path: "/dashboard/stats/packs", Name: "dashboardPackStates", Summary: "Packs by state (chart)", Handler: h.states},
	}
}

// SessionToken returns the token held in the session cookie ("" if none).
func SessionToken(c echo.Context) string {
	ck, err := c.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return ck.Value
}

// CSRFToken is the synchronizer token of a session.
func CSRFToken(session string) string {
	h := sha256.Sum256([]byte("csrf:" + session))
	return hex.EncodeToString(h[:])
}

// ErrCSRF rejects a form post that fails the CSRF checks.
var ErrCSRF = echo.NewHTTPError(http.StatusForbidden, "the form could not be verified (cross-site request or expired page); reload the page and try again")

// sameOrigin checks the Origin (or Referer) header against the Host.
func sameOrigin(c echo.Context) bool {
	r := c.Request()
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		o = r.Header.Get("Referer")
	}
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func (h *Handler) checkForm(c echo.Context, session bool) error {
	if !sameOrigin(c) {
		return ErrCSRF
	}
	if session {
		want := CSRFToken(SessionToken(c))
		if subtle.ConstantTimeCompare([]byte(c.FormValue("_csrf")), []byte(want)) != 1 {
			return ErrCSRF
		}
	}
	return nil
}

func (h *Handler) setSession(c echo.Context, value string, maxAge int) {
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: value, Path: "/dashboard", HttpOnly: true, Secure: h.cfg.SecureCookies,
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
}

// page is the data of every page.
type page struct {
	Title    string
	User     *auth.Identity
	CSRF     string
	Version  string
	Flash    string
	FlashBad bool
	Data     any
}

// flashCookie carries a one-shot message to the page after a redirect.
const flashCookie = "pt_flash"

func (h *Handler) setFlash(c echo.Context, msg string) {
	c.SetCookie(&http.Cookie{Name: flashCookie, Value: url.QueryEscape(msg), Path: "/dashboard", HttpOnly: true, Secure: h.cfg.SecureCookies,
		SameSite: http.SameSiteStrictMode, MaxAge: 60})
}

func (h *Handler) render(c echo.Context, status int, name string, p page) error {
	p.Version = h.version
	if ck, err := c.Cookie(flashCookie); err == nil && ck.Value != "" {
		if msg, err := url.QueryUnescape(ck.Value); err == nil && p.Flash == "" {
			p.Flash, p.FlashBad = msg, strings.HasPrefix(msg, "Refused")
		}
		c.SetCookie(&http.Cookie{Name: flashCookie, Value: "", Path: "/dashboard", HttpOnly: true, Secure: h.cfg.SecureCookies,
			SameSite: http.SameSiteStrictMode, MaxAge: -1})
	}
	if t, ok := auth.FromContext(c.Request().Context()); ok {
		id := t.Identity
		p.User = &id
		p.CSRF = CSRFToken(SessionToken(c))
	}
	var b strings.Builder
	if err := h.pages[name].Execute(&b, p); err != nil {
		return fmt.Errorf("dashboard: render %s: %w", name, err)
	}
	hd := c.Response().Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	return c.HTML(status, b.String())
}

// ErrorView is an error as the dashboard shows it.
type ErrorView struct {
	Status int
	Type   string
	Title  string
	Detail string
	Field  string
}

// RenderError renders an error page (a 401 redirects to the login page).
func (h *Handler) RenderError(c echo.Context, e ErrorView) error {
	if e.Status == http.StatusUnauthorized && c.Request().Method == http.MethodGet {
		next := c.Request().URL.RequestURI()
		return c.Redirect(http.StatusSeeOther, "/dashboard/login?next="+url.QueryEscape(next))
	}
	return h.render(c, e.Status, "error", page{Title: e.Title, Data: e})
}

func (h *Handler) root(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/dashboard/anomalies")
}

func (h *Handler) asset(c echo.Context) error {
	name := path.Base(c.Param("name"))
	b, err := assetFS.ReadFile("assets/" + name)
	if err != nil {
		return echo.ErrNotFound
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	c.Response().Header().Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, ct, b)
}

// safeNext keeps a post-login redirect inside the dashboard.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/dashboard/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") && !strings.Contains(next, "/../") {
		return next
	}
	return "/dashboard/anomalies"
}

type loginData struct {
	Next  string
	Error string
}

func (h *Handler) loginForm(c echo.Context) error {
	return h.render(c, http.StatusOK, "login", page{Title: "Log in", Data: loginData{Next: safeNext(c.QueryParam("next"))}})
}

func (h *Handler) login(c echo.Context) error {
	if err := h.checkForm(c, false); err != nil {
		return err
	}
	token := strings.TrimSpace(c.FormValue("token"))
	next := safeNext(c.FormValue("next"))
	t, err := h.tokens.Authenticate(c.Request().Context(), token)
	if err != nil {
		if errors.Is(err, auth.ErrInvalidToken) {
			return h.render(c, http.StatusUnprocessableEntity, "login", page{Title: "Log in", Data: loginData{Next: next, Error: "This token is not valid (unknown, revoked or expired)."}})
		}
		return err
	}
	if t.Identity.Role != trace.RoleRegulator {
		return h.render(c, http.StatusForbidden, "login", page{Title: "Log in",
			Data: loginData{Next: next, Error: fmt.Sprintf("The dashboard is for regulators; this token belongs to %s (%s).", t.Identity.Key(), t.Identity.Role)}})
	}
	h.setSession(c, token, 0)
	h.log.Info("dashboard: login", "user", t.Identity.Key(), "msp", t.Identity.MSP)
	return c.Redirect(http.StatusSeeOther, next)
}

func (h *Handler) logout(c echo.Context) error {
	if err := h.checkForm(c, false); err != nil {
		return err
	}
	h.setSession(c, "", -1)
	return c.Redirect(http.StatusSeeOther, "/dashboard/login")
}

func identity(c echo.Context) auth.Identity {
	t, _ := auth.FromContext(c.Request().Context())
	return t.Identity
}

func (h *Handler) transition(c echo.Context) error {
	if err := h.checkForm(c, true); err != nil {
		return err
	}
	id := c.Param("id")
	to := trace.AnomalyStatus(c.FormValue("to"))
	reason := trace.CloseReason(c.FormValue("reason"))
	if to != trace.AnomalyClosed {
		reason = ""
	}
	res, err := h.act.Transition(c.Request().Context(), identity(c), id, to, reason, strings.TrimSpace(c.FormValue("comment")))
	if err != nil {
		return err
	}
	msg := "Moved to " + string(to) + "."
	if !res.OK() {
		msg = "Refused: " + res.Message
	} else if res.Anomaly != nil {
		want := len(res.Anomaly.Transitions)
		h.waitFor(c.Request().Context(), func(ctx context.Context) bool {
			a, err := h.read.GetAnomaly(ctx, id)
			return err == nil && len(a.Transitions) >= want
		})
	}
	h.setFlash(c, msg)
	return c.Redirect(http.StatusSeeOther, "/dashboard/anomalies/"+url.PathEscape(id))
}

func (h *Handler) recall(c echo.Context) error {
	if err := h.checkForm(c, true); err != nil {
		return err
	}
	gtin, lot := c.Param("gtin"), c.Param("lot")
	back := safeNext(c.FormValue("back"))
	res, err := h.act.Recall(c.Request().Context(), identity(c), gtin, lot, strings.TrimSpace(c.FormValue("reason")))
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Lot %s of %s recalled.", lot, gtin)
	if !res.OK() {
		msg = "Refused: " + res.Message
	} else {
		h.waitFor(c.Request().Context(), func(ctx context.Context) bool {
			l, err := h.read.GetLot(ctx, gtin, lot)
			return err == nil && l.Status == trace.LotRecalled
		})
	}
	h.setFlash(c, msg)
	return c.Redirect(http.StatusSeeOther, back)
}

// waitFor polls the read model until done reports true or SyncWait passed.
func (h *Handler) waitFor(ctx context.Context, done func(context.Context) bool) {
	if h.cfg.SyncWait <= 0 {
		return
	}
	deadline := time.Now().Add(h.cfg.SyncWait)
	for !done(ctx) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(25 * time.Millisecond)
	}
}
