package api_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/trace"
)

// FuzzRequests sends arbitrary bodies, query strings and path values to
// every route of the API, as every role, through the router (in process,
// on the real contract and a real SQLite read model). Invariants: no
// panic, no 5xx, and a request answered 4xx changes nothing on the ledger
// (except a business refusal, 409 "refused", which commits its anomalies).
//
//	go test -run '^$' -fuzz FuzzRequests -fuzztime 10m ./api/
func FuzzRequests(f *testing.F) {
	h := newHarness(f)
	var routes []string
	seen := map[string]bool{}
	for _, r := range h.srv.Echo().Routes() {
		if k := r.Method + " " + r.Path; !seen[k] {
			seen[k] = true
			routes = append(routes, k)
		}
	}
	sort.Strings(routes)
	sessions := map[trace.Role]*http.Cookie{}
	for _, role := range trace.Roles {
		sessions[role] = h.session(role)
	}
	for i, seed := range []struct{ body, query, param string }{
		{`{"scan":"(01)04012345000016(17)301231(10)LOT-A1(21)SA00002"}`, "", "SA00002"},
		{`{"gtin":"04012345000016","serial":"SA00002","lot":"LOT-A1","expiry":"301231","SERIAL":"x"}`, "limit=2", "SA00001"},
		{`{"requestId":"r","to":{"msp":"PharmacyMSP","gln":"4300123000014"},"packs":[{"gtin":"04012345000016","serial":"SA00003"}]}`, "type=CLONE&sort=-createdAt", "ASN-1001"},
		{`{"reason":"stolen","lot":"LOT-A1","expiry":"301231"}`, "cursor=%ff", "LOT-A1"},
		{"serial\nA1\nA2\n", "expiry=301231&wait=true", "up-1"},
		{`{"to":"investigating","reason":"x"}`, "gtin=0401234500001&severity=nope", "%00"},
		{"", "", ""}, {"null", "", ""}, {"{", "a=b&a=c", "x"},
	} {
		f.Add(uint16(i*7), uint8(i), seed.body, seed.query, seed.param)
	}
	f.Fuzz(func(t *testing.T, routeIdx uint16, roleIdx uint8, body, query, param string) {
		method, path, _ := strings.Cut(routes[int(routeIdx)%len(routes)], " ")
		role := trace.Roles[int(roleIdx)%len(trace.Roles)]
		p := strings.NewReplacer(":gtin", "04012345000016", ":lot", "LOT-A1", ":serial", url.PathEscape(param), ":uploadId", url.PathEscape(param),
			":id", url.PathEscape(param), ":name", url.PathEscape(param)).Replace(path)
		// The URL is set after NewRequest, which panics on a request line a
		// client could not send (spaces); the router sees the raw values.
		req := httptest.NewRequest(method, "http://api.test/", bytes.NewReader([]byte(body)))
		if strings.HasSuffix(p, "/stream") {
			query = "timeout=0&" + query // the live stream would otherwise stay open for its 30 minutes
		}
		req.URL = &url.URL{Scheme: "http", Host: "api.test", Path: p, RawQuery: query}
		req.RequestURI = req.URL.RequestURI()
		if strings.Contains(body, "serial\n") {
			req.Header.Set("Content-Type", "text/csv")
		} else if strings.HasPrefix(path, "/dashboard") && method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(sessions[role])
			req.Header.Set("Origin", h.ts.URL)
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+h.tokens[role])
		before := h.sim.Peer().Height()
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s as %s with body %q: %d %s", method, p, role, body, rec.Code, rec.Body.String())
		}
		// A business refusal (409 refused) is a committed outcome with its
		// anomalies; every other 4xx must leave the ledger as it was.
		refused := rec.Code == http.StatusConflict && strings.Contains(rec.Body.String(), "/problems/refused")
		if rec.Code >= 400 && !refused && h.sim.Peer().Height() != before {
			t.Fatalf("%s %s as %s answered %d but the ledger moved from %d to %d blocks", method, p, role, rec.Code, before, h.sim.Peer().Height())
		}
	})
}
