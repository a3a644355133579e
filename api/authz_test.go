package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/pharmatrace/pharmatrace/api"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/trace"
)

const (
	mfr  = trace.RoleManufacturer
	dist = trace.RoleDistributor
	ph   = trace.RolePharmacist
	reg  = trace.RoleRegulator
	adm  = trace.RoleAdmin
)

// expectedAccess is the authorization matrix, written by hand (not derived
// from the server's table): every route Echo serves must appear here, and
// every role is tried on every protected route. "public" routes need no
// token.
var expectedAccess = map[string][]trace.Role{
	"GET /healthz":                                      nil,
	"GET /metrics":                                      nil,
	"GET /api/v1/openapi.json":                          {mfr, dist, ph, reg, adm},
	"GET /api/v1/me":                                    {mfr, dist, ph, reg, adm},
	"POST /api/v1/products":                             {mfr},
	"GET /api/v1/products/:gtin":                        {mfr, dist, ph, reg},
	"GET /api/v1/lots/:gtin/:lot":                       {mfr, dist, ph, reg},
	"POST /api/v1/lots/:gtin/:lot/recall":               {mfr, reg},
	"POST /api/v1/lots/:gtin/:lot/withdraw":             {mfr, reg},
	"PUT /api/v1/lots/:gtin/:lot/commissions/:uploadId": {mfr},
	"GET /api/v1/lots/:gtin/:lot/commissions/:uploadId": {mfr},
	"POST /api/v1/packs/verify":                         {mfr, dist, ph, reg},
	"GET /api/v1/packs/by-digital-link":                 {mfr, dist, ph, reg},
	"GET /api/v1/packs/:gtin/:serial/history":           {mfr, dist, ph, reg},
	"POST /api/v1/packs/:gtin/:serial/dispense":         {ph},
	"POST /api/v1/packs/:gtin/:serial/decommission":     {mfr, dist, ph, reg}, // the regulator locks
	"POST /api/v1/packs/:gtin/:serial/undo":             {mfr, dist, ph, reg}, // and unlocks
	"POST /api/v1/bulk/verify":                          {mfr, dist, ph, reg},
	"POST /api/v1/bulk/dispense":                        {ph},
	"POST /api/v1/bulk/decommission":                    {mfr, dist, ph, reg},
	"GET /api/v1/bulk/requests/:id":                     {mfr, dist, ph, reg},
	"POST /api/v1/shipments":                            {mfr, dist},
	"GET /api/v1/shipments/:id":                         {mfr, dist, ph, reg},
	"POST /api/v1/shipments/:id/receive":                {mfr, dist, ph},
	"GET /api/v1/anomalies":                             {mfr, dist, ph, reg},
	"GET /api/v1/anomalies/export.csv":                  {mfr, dist, ph, reg},
	"GET /api/v1/anomalies/:id":                         {mfr, dist, ph, reg},
	"GET /api/v1/anomalies/stream":                      {mfr, dist, ph, reg},
	"POST /api/v1/subscriptions":                        {mfr, dist, ph, reg},
	"GET /api/v1/subscriptions":                         {mfr, dist, ph, reg},
	"GET /api/v1/subscriptions/:id":                     {mfr, dist, ph, reg},
	"DELETE /api/v1/subscriptions/:id":                  {mfr, dist, ph, reg},
	"GET /api/v1/subscriptions/:id/deliveries":          {mfr, dist, ph, reg},
	"POST /api/v1/anomalies":                            {reg},
	"GET /api/v1/anomalies/:id/report":                  {reg},
	"POST /api/v1/anomalies/:id/transitions":            {reg},
	"POST /api/v1/anomalies/:id/comments":               {mfr, dist, ph, reg},
	"GET /api/v1/stats/anomalies-per-day":               {reg},
	"GET /api/v1/epcis/events":                          {mfr, reg},
	"POST /api/v1/epcis/import":                         {mfr, dist, ph},
	"GET /api/v1/stats/packs-by-state":                  {reg},
	"GET /api/v1/stats/lots-at-risk":                    {reg},
	"GET /dashboard":                                    nil,
	"GET /dashboard/login":                              nil,
	"POST /dashboard/login":                             nil,
	"POST /dashboard/logout":                            nil,
	"GET /dashboard/assets/:name":                       nil,
	"GET /dashboard/anomalies":                          {reg},
	"GET /dashboard/anomalies/:id":                      {reg},
	"POST /dashboard/anomalies/:id/transition":          {reg},
	"POST /dashboard/lots/:gtin/:lot/recall":            {reg},
	"GET /dashboard/anomalies/new":                      {reg},
	"POST /dashboard/anomalies":                         {reg},
	"GET /dashboard/packs":                              {reg},
	"POST /dashboard/packs/:gtin/:serial/lock":          {reg},
	"POST /dashboard/packs/:gtin/:serial/unlock":        {reg},
	"GET /dashboard/lots":                               {reg},
	"GET /dashboard/stats/packs":                        {reg},
}

// concrete fills a route's parameters with values of the demo flow.
func concrete(path string, h *harness) string {
	r := strings.NewReplacer(":gtin", memledger.DemoGTIN, ":lot", memledger.DemoLot, ":serial", "SA00004", ":uploadId", "up-m",
		":id", url.PathEscape(h.demo.Clone), ":name", "style.css")
	p := r.Replace(path)
	if strings.HasSuffix(p, "/stream") {
		p += "?timeout=0" // the catch-up only, then close
	}
	if strings.HasPrefix(p, "/api/v1/shipments/") {
		p = strings.Replace(p, url.PathEscape(h.demo.Clone), "ASN-1001", 1)
	}
	return p
}

func TestAuthorizationMatrix(t *testing.T) {
	h := newHarness(t)
	seen := map[string]bool{}
	var routes []string
	for _, r := range h.srv.Echo().Routes() {
		key := r.Method + " " + r.Path
		if seen[key] {
			continue
		}
		seen[key] = true
		routes = append(routes, key)
	}
	sort.Strings(routes)
	for key := range expectedAccess {
		if !seen[key] {
			t.Errorf("the matrix names %s, which the server does not serve", key)
		}
	}
	for _, key := range routes {
		allowed, ok := expectedAccess[key]
		if !ok {
			t.Errorf("route %s has no row in the authorization matrix: add one", key)
			continue
		}
		method, path, _ := strings.Cut(key, " ")
		p := concrete(path, h)
		dash := strings.HasPrefix(path, "/dashboard")
		t.Run(key, func(t *testing.T) {
			if allowed == nil { // public
				r := h.do(request{method: method, path: p, body: formOrJSON(method, dash), contentType: contentType(method, dash), header: http.Header{"Origin": {h.ts.URL}}})
				if r.status == http.StatusUnauthorized {
					t.Errorf("public route answered 401")
				}
				return
			}
			// Without credentials: 401 (the dashboard redirects a GET to its login).
			r := h.do(request{method: method, path: p, body: formOrJSON(method, dash), contentType: contentType(method, dash)})
			if dash && method == http.MethodGet {
				if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/dashboard/login") {
					t.Errorf("no session: %d → %q, want a redirect to the login", r.status, r.header.Get("Location"))
				}
			} else if r.status != http.StatusUnauthorized {
				t.Errorf("no credentials: %d, want 401", r.status)
			}
			for _, role := range trace.Roles {
				want := false
				for _, a := range allowed {
					want = want || a == role
				}
				var r response
				if dash {
					if method == http.MethodPost {
						r = h.form(p, role, url.Values{"to": {"investigating"}, "reason": {"matrix"}, "back": {"/dashboard/anomalies"}})
					} else {
						r = h.do(request{method: method, path: p, cookie: h.session(role)})
					}
				} else {
					r = h.do(request{method: method, path: p, role: role, body: formOrJSON(method, false), contentType: contentType(method, false)})
				}
				denied := r.status == http.StatusForbidden && isForbiddenRole(r)
				if want && denied {
					t.Errorf("%s denied: %s", role, r.body)
				}
				if !want && !denied {
					t.Errorf("%s allowed (status %d), want 403 forbidden", role, r.status)
				}
			}
		})
	}
}

func isForbiddenRole(r response) bool {
	if strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		return strings.Contains(string(r.body), api.ProbForbidden)
	}
	var p api.Problem
	return json.Unmarshal(r.body, &p) == nil && p.Type == api.ProblemBase+api.ProbForbidden
}

func formOrJSON(method string, dash bool) any {
	if method != http.MethodPost && method != http.MethodPut {
		return nil
	}
	if dash {
		return ""
	}
	return "{}"
}

func contentType(method string, dash bool) string {
	if method != http.MethodPost && method != http.MethodPut {
		return ""
	}
	if dash {
		return "application/x-www-form-urlencoded"
	}
	return "application/json"
}

// TestRouteTableDeniesByDefault: a protected route whose rule names no role
// is callable by nobody.
func TestRouteTableDeniesByDefault(t *testing.T) {
	r := api.Route{Method: http.MethodGet, Path: "/x"}
	for _, role := range trace.Roles {
		if r.Allows(role) {
			t.Errorf("empty rule allows %s", role)
		}
	}
}

func TestOpenAPIDocumentsEveryRouteBothWays(t *testing.T) {
	h := newHarness(t, withoutDemo())
	r := h.do(request{method: http.MethodGet, path: "/api/v1/openapi.json", role: trace.RoleAdmin})
	if r.status != 200 {
		t.Fatalf("openapi.json: %d", r.status)
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3: %v", err)
	}
	served := map[string]bool{}
	for _, rt := range h.srv.Echo().Routes() {
		key := rt.Method + " " + api.OpenAPIPath(rt.Path)
		served[key] = true
		if item := doc.Paths.Find(api.OpenAPIPath(rt.Path)); item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("served but not documented: %s", key)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("documented but not served: %s %s", method, path)
			}
			if op.Responses.Default() == nil {
				t.Errorf("%s %s documents no problem response", method, path)
			}
		}
	}
	if len(served) < 30 {
		t.Errorf("only %d routes", len(served))
	}
}
