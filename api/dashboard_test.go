package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/api/dashboard"
	"github.com/pharmatrace/pharmatrace/trace"
)

func TestDashboard(t *testing.T) {
	h := newHarness(t)
	t.Run("login page", func(t *testing.T) {
		r := h.do(request{method: http.MethodGet, path: "/dashboard/login?next=/dashboard/anomalies/x"})
		if r.status != 200 || !strings.Contains(string(r.body), `name="token"`) || !strings.Contains(string(r.body), `value="/dashboard/anomalies/x"`) {
			t.Errorf("login page: %d %s", r.status, r.body)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("CSP %q", csp)
		}
	})
	t.Run("login sets an HttpOnly SameSite=Strict cookie", func(t *testing.T) {
		r := h.do(request{method: http.MethodPost, path: "/dashboard/login", body: url.Values{"token": {h.tokens[trace.RoleRegulator]}, "next": {"//evil.example/"}}.Encode(),
			contentType: "application/x-www-form-urlencoded", header: http.Header{"Origin": {h.ts.URL}}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/dashboard/anomalies" {
			t.Fatalf("login: %d → %q", r.status, r.header.Get("Location"))
		}
		ck := (&http.Response{Header: r.header}).Cookies()
		if len(ck) != 1 || ck[0].Name != dashboard.SessionCookie || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Path != "/dashboard" {
			t.Errorf("cookie: %+v", ck)
		}
	})
	t.Run("login refused", func(t *testing.T) {
		for name, tc := range map[string]struct {
			token, origin string
			status        int
			text          string
		}{
			"bad token":     {"ptk_nope_nope", h.ts.URL, 422, "not valid"},
			"not regulator": {h.tokens[trace.RolePharmacist], h.ts.URL, 403, "for regulators"},
			"cross-site":    {h.tokens[trace.RoleRegulator], "https://evil.example", 403, "could not be verified"},
		} {
			t.Run(name, func(t *testing.T) {
				r := h.do(request{method: http.MethodPost, path: "/dashboard/login", body: url.Values{"token": {tc.token}}.Encode(),
					contentType: "application/x-www-form-urlencoded", header: http.Header{"Origin": {tc.origin}}})
				if r.status != tc.status || !strings.Contains(string(r.body), tc.text) || len((&http.Response{Header: r.header}).Cookies()) != 0 {
					t.Errorf("%d %s", r.status, r.body)
				}
			})
		}
	})
	t.Run("anomaly list with filters and charts", func(t *testing.T) {
		r := h.do(request{method: http.MethodGet, path: "/dashboard/anomalies", cookie: h.session(trace.RoleRegulator)})
		body := string(r.body)
		for _, want := range []string{`data-id="` + h.demo.Clone + `"`, `<svg class="chart"`, "<rect", "Anomalies per day", `id="filter-form"`, "RECALLED_LOT"} {
			if !strings.Contains(body, want) {
				t.Errorf("list page lacks %q", want)
			}
		}
		r = h.do(request{method: http.MethodGet, path: "/dashboard/anomalies?type=RECALLED_LOT", cookie: h.session(trace.RoleRegulator)})
		if body := string(r.body); strings.Contains(body, `data-id="`+h.demo.Clone+`"`) || !strings.Contains(body, `data-type="RECALLED_LOT"`) {
			t.Error("type filter not applied")
		}
		r = h.do(request{method: http.MethodGet, path: "/dashboard/anomalies?gtin=12", cookie: h.session(trace.RoleRegulator)})
		if r.status != 422 || !strings.Contains(string(r.body), `id="filter-error"`) {
			t.Errorf("bad filter: %d", r.status)
		}
	})
	t.Run("detail with timeline and workflow", func(t *testing.T) {
		r := h.do(request{method: http.MethodGet, path: "/dashboard/anomalies/" + h.demo.Clone, cookie: h.session(trace.RoleRegulator)})
		body := string(r.body)
		for _, want := range []string{`id="timeline"`, "CommissionPacks", "Receive", "Dispense", `class="anomaly current"`, `id="to-investigating"`,
			`id="recall"`, `name="_csrf" value="` + dashboard.CSRFToken(h.tokens[trace.RoleRegulator]) + `"`} {
			if !strings.Contains(body, want) {
				t.Errorf("detail page lacks %q", want)
			}
		}
		if strings.Count(body, "<li class=\"event") != 6 {
			t.Errorf("timeline has %d pack events, want 6", strings.Count(body, "<li class=\"event"))
		}
	})
	t.Run("workflow post needs the CSRF token and the origin", func(t *testing.T) {
		path := "/dashboard/anomalies/" + h.demo.Clone + "/transition"
		before := h.sim.SubmitCount(trace.TxTransitionAnomaly)
		r := h.do(request{method: http.MethodPost, path: path, body: "to=investigating", contentType: "application/x-www-form-urlencoded",
			header: http.Header{"Origin": {h.ts.URL}}, cookie: h.session(trace.RoleRegulator)})
		if r.status != 403 {
			t.Errorf("without CSRF token: %d", r.status)
		}
		r = h.do(request{method: http.MethodPost, path: path, body: url.Values{"to": {"investigating"}, "_csrf": {dashboard.CSRFToken(h.tokens[trace.RoleRegulator])}}.Encode(),
			contentType: "application/x-www-form-urlencoded", header: http.Header{"Origin": {"https://evil.example"}}, cookie: h.session(trace.RoleRegulator)})
		if r.status != 403 {
			t.Errorf("cross-origin: %d", r.status)
		}
		if h.sim.SubmitCount(trace.TxTransitionAnomaly) != before {
			t.Fatal("a rejected form reached the ledger")
		}
		r = h.form(path, trace.RoleRegulator, url.Values{"to": {"investigating"}, "comment": {"opened by test"}})
		if r.status != http.StatusSeeOther || h.sim.SubmitCount(trace.TxTransitionAnomaly) != before+1 {
			t.Fatalf("transition: %d %s", r.status, r.body)
		}
		h.sync()
		flash := (&http.Response{Header: r.header}).Cookies()
		req := request{method: http.MethodGet, path: "/dashboard/anomalies/" + h.demo.Clone, cookie: h.session(trace.RoleRegulator)}
		if len(flash) == 1 {
			req.header = http.Header{"Cookie": {flash[0].Name + "=" + flash[0].Value}}
		}
		body := string(h.do(req).body)
		if !strings.Contains(body, `id="anomaly-status">investigating`) || !strings.Contains(body, "Moved to investigating") || !strings.Contains(body, "opened by test") {
			t.Errorf("detail after transition lacks the new status, flash or comment")
		}
	})
	t.Run("recall from the detail page", func(t *testing.T) {
		r := h.form("/dashboard/lots/04012345000016/LOT-A1/recall", trace.RoleRegulator, url.Values{"reason": {"clones found"}, "back": {"/dashboard/anomalies/" + h.demo.Clone}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/dashboard/anomalies/"+h.demo.Clone {
			t.Fatalf("recall: %d → %s", r.status, r.header.Get("Location"))
		}
		h.sync()
		body := string(h.do(request{method: http.MethodGet, path: "/dashboard/anomalies/" + h.demo.Clone, cookie: h.session(trace.RoleRegulator)}).body)
		if !strings.Contains(body, `id="lot-status">recalled`) || strings.Contains(body, `id="recall"`) {
			t.Error("detail page does not show the recalled lot")
		}
	})
	t.Run("assets are embedded", func(t *testing.T) {
		for name, ct := range map[string]string{"style.css": "text/css", "app.js": "text/javascript"} {
			r := h.do(request{method: http.MethodGet, path: "/dashboard/assets/" + name})
			if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), ct) || len(r.body) < 200 {
				t.Errorf("%s: %d %q", name, r.status, r.header.Get("Content-Type"))
			}
		}
		if r := h.do(request{method: http.MethodGet, path: "/dashboard/assets/..%2Fdashboard.go"}); r.status != 404 {
			t.Errorf("asset path traversal: %d", r.status)
		}
	})
	t.Run("non-regulator session", func(t *testing.T) {
		r := h.do(request{method: http.MethodGet, path: "/dashboard/anomalies", cookie: h.session(trace.RoleManufacturer)})
		if r.status != 403 || !strings.Contains(string(r.body), "Role not allowed") {
			t.Errorf("%d", r.status)
		}
	})
}
