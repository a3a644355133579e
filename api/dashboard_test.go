package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/api/dashboard"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
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

// TestDashboardPackPages: the regulator's pack lookup, lock and unlock,
// hand-flagged anomaly, lots at risk and packs by state.
func TestDashboardPackPages(t *testing.T) {
	h := newHarness(t)
	t.Run("pack lookup by pasted code", func(t *testing.T) {
		g := memledger.DemoGTIN
		for _, code := range []string{"(01)" + g + "(17)301231(10)LOT-A1(21)SA00001", "]d201" + g + "17301231" + "10LOT-A1\x1d21SA00001",
			"https://id.gs1.org/01/" + g + "/10/LOT-A1/21/SA00001?17=301231"} {
			r := h.do(request{method: http.MethodGet, path: "/dashboard/packs?code=" + url.QueryEscape(code), cookie: h.session(trace.RoleRegulator)})
			body := string(r.body)
			for _, want := range []string{`id="pack-state">inactive (dispensed)`, `id="verify-outcome" class="verdict refused"`, "INACTIVE", `id="timeline"`,
				"CommissionPacks", "Dispense", `data-type="CLONE"`, `href="/dashboard/anomalies/` + h.demo.Clone + `"`} {
				if r.status != 200 || !strings.Contains(body, want) {
					t.Errorf("lookup %q: %d, page lacks %q", code, r.status, want)
				}
			}
			if strings.Contains(body, `id="lock"`) {
				t.Error("a dispensed pack offers a lock")
			}
		}
		r := h.do(request{method: http.MethodGet, path: "/dashboard/packs?code=" + url.QueryEscape("(01)"+g+"(17)301331(10)LOT-A1(21)SA00001"), cookie: h.session(trace.RoleRegulator)})
		if r.status != 422 || !strings.Contains(string(r.body), `id="lookup-error"`) {
			t.Errorf("bad code: %d", r.status)
		}
		r = h.do(request{method: http.MethodGet, path: "/dashboard/packs?code=" + url.QueryEscape("(01)"+g+"(17)301231(10)LOT-A1(21)FAKE1"), cookie: h.session(trace.RoleRegulator)})
		if body := string(r.body); r.status != 200 || !strings.Contains(body, `id="pack-unknown"`) || !strings.Contains(body, "A3") {
			t.Errorf("unknown serial: %d %s", r.status, body)
		}
	})
	t.Run("lock and unlock one pack", func(t *testing.T) {
		g := memledger.DemoGTIN
		page := "/dashboard/packs?gtin=" + g + "&serial=SA00004"
		if body := string(h.do(request{method: http.MethodGet, path: page, cookie: h.session(trace.RoleRegulator)}).body); !strings.Contains(body, `id="lock"`) {
			t.Fatal("no lock button on an active pack")
		}
		r := h.form("/dashboard/packs/"+g+"/SA00004/lock", trace.RoleRegulator, nil)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != page {
			t.Fatalf("lock: %d → %s %s", r.status, r.header.Get("Location"), r.body)
		}
		calls := h.sim.Calls()
		if c := calls[len(calls)-1]; c.Fn != trace.TxDecommission || c.Actor.Role != trace.RoleRegulator || c.Req.(*trace.DecommissionRequest).Reason != trace.ReasonLocked {
			t.Errorf("lock sent %s %+v as %+v", c.Fn, c.Req, c.Actor)
		}
		verify := func() trace.VerifyResult {
			var v trace.VerifyResult
			h.do(request{method: http.MethodPost, path: "/api/v1/packs/verify", role: trace.RoleDistributor,
				body: map[string]string{"gtin": g, "serial": "SA00004", "lot": "LOT-A1", "expiry": "301231"}}).json(t, &v)
			return v
		}
		if v := verify(); v.OK() || v.Pack == nil || v.Pack.Reason != trace.ReasonLocked {
			t.Errorf("verify of the locked pack: %+v", v)
		}
		h.sync()
		body := string(h.do(request{method: http.MethodGet, path: page, cookie: h.session(trace.RoleRegulator)}).body)
		if !strings.Contains(body, `id="pack-state">inactive (locked)`) || !strings.Contains(body, `id="unlock"`) || strings.Contains(body, `id="lock"`) {
			t.Errorf("page of the locked pack:\n%s", body)
		}
		if r := h.form("/dashboard/packs/"+g+"/SA00004/unlock", trace.RoleRegulator, nil); r.status != http.StatusSeeOther {
			t.Fatalf("unlock: %d %s", r.status, r.body)
		}
		if v := verify(); !v.OK() {
			t.Errorf("verify after unlock: %+v", v)
		}
	})
	t.Run("flag an anomaly by hand", func(t *testing.T) {
		g := memledger.DemoGTIN
		r := h.do(request{method: http.MethodGet, path: "/dashboard/anomalies/new?gtin=" + g + "&serial=SA00003", cookie: h.session(trace.RoleRegulator)})
		if body := string(r.body); r.status != 200 || !strings.Contains(body, `id="flag-serial" value="SA00003"`) || !strings.Contains(body, `id="flag-form"`) {
			t.Fatalf("flag form: %d", r.status)
		}
		before := h.sim.SubmitCount(trace.TxFlagAnomaly)
		r = h.form("/dashboard/anomalies", trace.RoleRegulator, url.Values{"code": {"MANUAL"}, "severity": {"high"}, "classification": {"diversion"},
			"gtin": {g}, "serial": {"SA00003"}})
		if r.status != 422 || !strings.Contains(string(r.body), `id="flag-error"`) || h.sim.SubmitCount(trace.TxFlagAnomaly) != before {
			t.Errorf("flag without a message: %d", r.status)
		}
		r = h.form("/dashboard/anomalies", trace.RoleRegulator, url.Values{"code": {"MANUAL"}, "severity": {"high"}, "classification": {"diversion"},
			"gtin": {g}, "serial": {"SA00003"}, "message": {"inspection: pack offered online"}})
		loc := r.header.Get("Location")
		if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/dashboard/anomalies/AN-") {
			t.Fatalf("flag: %d → %q %s", r.status, loc, r.body)
		}
		h.sync()
		body := string(h.do(request{method: http.MethodGet, path: loc, cookie: h.session(trace.RoleRegulator)}).body)
		if !strings.Contains(body, "inspection: pack offered online") || !strings.Contains(body, "SA00003") {
			t.Errorf("flagged anomaly page lacks its message or pack")
		}
	})
	t.Run("lots at risk and packs by state", func(t *testing.T) {
		r := h.do(request{method: http.MethodGet, path: "/dashboard/lots", cookie: h.session(trace.RoleRegulator)})
		if body := string(r.body); r.status != 200 || !strings.Contains(body, `data-lot="LOT-B7" data-status="recalled"`) {
			t.Errorf("lots at risk: %d", r.status)
		}
		r = h.do(request{method: http.MethodGet, path: "/dashboard/stats/packs", cookie: h.session(trace.RoleRegulator)})
		body := string(r.body)
		for _, want := range []string{`<svg class="chart"`, "<rect", `data-state="active"`, `data-reason="dispensed"`, "inactive (dispensed)"} {
			if r.status != 200 || !strings.Contains(body, want) {
				t.Errorf("packs by state: %d, page lacks %q", r.status, want)
			}
		}
		r = h.do(request{method: http.MethodGet, path: "/dashboard/stats/packs?gtin=" + memledger.DemoGTIN2, cookie: h.session(trace.RoleRegulator)})
		if body := string(r.body); strings.Contains(body, `data-reason="dispensed"`) || !strings.Contains(body, `data-state="active"`) {
			t.Errorf("packs by state of one GTIN")
		}
		if r := h.do(request{method: http.MethodGet, path: "/dashboard/stats/packs?gtin=123", cookie: h.session(trace.RoleRegulator)}); r.status != 422 {
			t.Errorf("bad GTIN: %d", r.status)
		}
	})
}
