package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/api"
	"github.com/pharmatrace/pharmatrace/api/alerts"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/trace"
)

// receiver is a subscriber's webhook endpoint: it checks every signature
// and answers the statuses of plan in turn (then 200).
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	plan   []int
	got    []alerts.Notification
	codes  []int
	hang   chan struct{} // when set, requests block until it is closed
	bad    int           // requests with a wrong signature
}

func newReceiver(t *testing.T, plan ...int) *receiver {
	r := &receiver{t: t, plan: plan}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		hang, secret := r.hang, r.secret
		r.mu.Unlock()
		if hang != nil {
			<-hang
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if !alerts.Verify(secret, body, req.Header.Get(alerts.SignatureHeader)) {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var n alerts.Notification
		if err := json.Unmarshal(body, &n); err != nil || n.ID != req.Header.Get("X-PharmaTrace-Delivery") || n.Event != alerts.EventAnomalyCreated {
			r.bad++
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		code := http.StatusOK
		if len(r.plan) > 0 {
			code, r.plan = r.plan[0], r.plan[1:]
		}
		r.got = append(r.got, n)
		r.codes = append(r.codes, code)
		w.WriteHeader(code)
	}))
	t.Cleanup(func() {
		r.mu.Lock()
		if r.hang != nil {
			close(r.hang)
			r.hang = nil
		}
		r.mu.Unlock()
		r.srv.Close()
	})
	return r
}

// delivered returns the anomaly IDs answered 2xx.
func (r *receiver) delivered() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for i, n := range r.got {
		if r.codes[i] < 300 {
			out = append(out, n.Anomaly.ID)
		}
	}
	return out
}

func (r *receiver) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got) + r.bad
}

// subscribe creates a subscription to r's URL with the token's user.
func (h *harness) subscribe(t *testing.T, rq request, r *receiver) alerts.Subscription {
	t.Helper()
	rq.method, rq.path, rq.body = http.MethodPost, "/api/v1/subscriptions", api.SubscribeBody{URL: r.srv.URL + "/hook", Description: "test receiver"}
	res := h.do(rq)
	var sub alerts.Subscription
	res.json(t, &sub)
	if res.status != http.StatusCreated || sub.Secret == "" || !strings.HasPrefix(sub.ID, "sub-") {
		t.Fatalf("subscribe: %d %s", res.status, res.body)
	}
	r.mu.Lock()
	r.secret = sub.Secret
	r.mu.Unlock()
	return sub
}

// clone dispenses a pack at pharm-central, then at pharm-station (a clone
// of mfr-alpha's pack), applies the events and returns the clone's ID.
func (h *harness) clone(t *testing.T, serial string) string {
	t.Helper()
	path := "/api/v1/packs/" + memledger.DemoGTIN + "/" + serial + "/dispense"
	body := map[string]any{"lot": memledger.DemoLot, "expiry": "301231"}
	if r := h.do(request{method: http.MethodPost, path: path, role: trace.RolePharmacist, body: body}); r.status != 200 {
		t.Fatalf("dispense %s: %d %s", serial, r.status, r.body)
	}
	r := h.do(request{method: http.MethodPost, path: path, token: h.tokenFor(pharmStation), body: body})
	p := expectProblem(t, r, 409, api.ProbRefused, "")
	if len(p.Anomalies) == 0 {
		t.Fatalf("second dispense of %s recorded no anomaly: %+v", serial, p)
	}
	h.sync()
	return p.Anomalies[0]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func eventually(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebhooks: the manufacturer of the product receives the clone a
// pharmacy raised, signed, retried after a 500; the delivery log shows
// both attempts; another manufacturer (same MSP, other prefix) receives
// nothing; the regulator receives everything; anomalies from before the
// subscription are not sent.
func TestWebhooks(t *testing.T) {
	h := newHarness(t)
	alpha, beta, regulator := newReceiver(t, http.StatusInternalServerError), newReceiver(t), newReceiver(t)
	betaToken := h.tokenFor(mfrBeta)
	subA := h.subscribe(t, request{role: trace.RoleManufacturer}, alpha)
	subB := h.subscribe(t, request{token: betaToken}, beta)
	h.subscribe(t, request{role: trace.RoleRegulator}, regulator)
	if !strings.Contains(subA.Scope, "4012345") || strings.Contains(subA.Scope, "5098765") {
		t.Errorf("alpha's scope: %q", subA.Scope)
	}

	start := time.Now()
	clone := h.clone(t, "SA00002")
	eventually(t, 2*time.Second, "the regulator's and mfr-alpha's endpoints received the clone", func() bool {
		return len(regulator.delivered()) == 1 && len(alpha.delivered()) == 1
	})
	t.Logf("clone delivered to the manufacturer (after one 500) %s after it was applied", time.Since(start).Round(time.Millisecond))
	if got := alpha.delivered(); got[0] != clone || alpha.requests() != 2 || alpha.bad != 0 {
		t.Errorf("alpha got %v in %d requests (%d badly signed), want %s after one retry", got, alpha.requests(), alpha.bad, clone)
	}
	if n := alpha.got[1]; n.Anomaly.ProductOwner != "ManufacturerMSP" || n.Anomaly.ReportedBy.MSP != "PharmacyMSP" || n.Subscription != subA.ID {
		t.Errorf("notification: %+v", n)
	}
	if got := regulator.delivered(); got[0] != clone {
		t.Errorf("regulator got %v", got)
	}
	time.Sleep(300 * time.Millisecond)
	if n := beta.requests(); n != 0 {
		t.Errorf("mfr-beta's endpoint received %d requests about mfr-alpha's products", n)
	}

	// The delivery log, as the subscriber sees it.
	var log api.DeliveryList
	h.do(request{method: http.MethodGet, path: "/api/v1/subscriptions/" + subA.ID + "/deliveries", role: trace.RoleManufacturer}).json(t, &log)
	if len(log.Items) != 1 {
		t.Fatalf("delivery log: %+v", log)
	}
	d := log.Items[0]
	if d.AnomalyID != clone || d.Status != alerts.DeliveryDelivered || d.Attempts != 2 || len(d.History) != 2 ||
		d.History[0].StatusCode != 500 || d.History[1].StatusCode != 200 || d.DeliveredAt.IsZero() {
		t.Errorf("delivery: %+v", d)
	}
	var sub alerts.Subscription
	h.do(request{method: http.MethodGet, path: "/api/v1/subscriptions/" + subA.ID, role: trace.RoleManufacturer}).json(t, &sub)
	if sub.Delivered != 1 || sub.Pending != 0 || sub.Secret != "" {
		t.Errorf("subscription: %+v", sub)
	}
	// Subscriptions are their owner's.
	expectProblem(t, h.do(request{method: http.MethodGet, path: "/api/v1/subscriptions/" + subA.ID + "/deliveries", token: betaToken}), 404, api.ProbNotFound, "")
	var list api.SubscriptionList
	h.do(request{method: http.MethodGet, path: "/api/v1/subscriptions", token: betaToken}).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != subB.ID {
		t.Errorf("mfr-beta's subscriptions: %+v", list)
	}

	// Unsubscribed: nothing more.
	if r := h.do(request{method: http.MethodDelete, path: "/api/v1/subscriptions/" + subA.ID, role: trace.RoleManufacturer}); r.status != http.StatusNoContent {
		t.Fatalf("unsubscribe: %d %s", r.status, r.body)
	}
	second := h.clone(t, "SA00005")
	eventually(t, 2*time.Second, "the regulator received the second clone", func() bool { return contains(regulator.delivered(), second) })
	time.Sleep(200 * time.Millisecond)
	if n := alpha.requests(); n != 2 {
		t.Errorf("after unsubscribing, alpha's endpoint received %d requests in all", n)
	}
}

// TestSlowEndpointDelaysNothingElse: an endpoint that never answers holds
// one sender until the timeout; the read model applies events at full
// speed and another subscriber is served at once.
func TestSlowEndpointDelaysNothingElse(t *testing.T) {
	h := newHarness(t)
	stuck, fine := newReceiver(t), newReceiver(t)
	stuck.hang = make(chan struct{})
	h.subscribe(t, request{role: trace.RoleManufacturer}, stuck)
	h.subscribe(t, request{role: trace.RoleRegulator}, fine)
	start := time.Now()
	h.clone(t, "SA00002")
	eventually(t, time.Second, "the healthy endpoint received the clone while the other hangs", func() bool { return len(fine.delivered()) == 1 })
	second := h.clone(t, "SA00005")
	if el := time.Since(start); el > time.Second {
		t.Errorf("two clones and their read-model updates took %s with a hanging subscriber", el)
	}
	eventually(t, time.Second, "the healthy endpoint received the second clone", func() bool { return contains(fine.delivered(), second) })
}

func TestSubscriptionValidation(t *testing.T) {
	h := newHarness(t, withoutDemo())
	for _, u := range []string{"ftp://example.com/x", "http://example.com/hook", "/relative", "https://user:pw@example.com/", ""} {
		r := h.do(request{method: http.MethodPost, path: "/api/v1/subscriptions", role: trace.RoleManufacturer, body: api.SubscribeBody{URL: u}})
		expectProblem(t, r, 422, api.ProbInvalidField, "url")
	}
	r := h.do(request{method: http.MethodPost, path: "/api/v1/subscriptions", role: trace.RoleManufacturer, body: api.SubscribeBody{URL: "https://erp.example.com/pharmatrace"}})
	if r.status != http.StatusCreated {
		t.Errorf("https endpoint: %d %s", r.status, r.body)
	}
	expectProblem(t, h.do(request{method: http.MethodDelete, path: "/api/v1/subscriptions/sub-nope", role: trace.RoleManufacturer}), 404, api.ProbNotFound, "")
	expectProblem(t, h.do(request{method: http.MethodGet, path: "/api/v1/subscriptions/sub-nope/deliveries?status=lost", role: trace.RoleManufacturer}), 422, api.ProbInvalidField, "status")
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	id, event, data string
}

// stream opens the anomaly stream as rq's user and returns its events.
func (h *harness) stream(t *testing.T, rq request, query string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.ts.URL+"/api/v1/anomalies/stream"+query, nil)
	tok := rq.token
	if tok == "" {
		tok = h.tokens[rq.role]
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("stream: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	out := make(chan sseEvent, 100)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	t.Cleanup(cancel)
	return out
}

// TestAnomalyStream: the manufacturer's live stream carries the clone of
// its pack within 2 s; another manufacturer's stream carries nothing; the
// regulator catches up from a Last-Event-ID.
func TestAnomalyStream(t *testing.T) {
	h := newHarness(t)
	alpha := h.stream(t, request{role: trace.RoleManufacturer}, "")
	beta := h.stream(t, request{token: h.tokenFor(mfrBeta)}, "?timeout=2")
	eventually(t, 2*time.Second, "both streams listening", func() bool { return h.alerts.Listeners() == 2 })
	start := time.Now()
	clone := h.clone(t, "SA00002")
	select {
	case ev := <-alpha:
		var a trace.Anomaly
		if err := json.Unmarshal([]byte(ev.data), &a); err != nil || ev.id != clone || ev.event != "anomaly" || a.ID != clone || a.Code != trace.AnomalyClone {
			t.Errorf("event %+v (%v)", ev, err)
		}
		t.Logf("clone on mfr-alpha's stream %s after the dispense", time.Since(start).Round(time.Millisecond))
	case <-time.After(2 * time.Second):
		t.Fatal("mfr-alpha's stream did not carry the clone within 2 s")
	}
	for ev := range beta { // closed by its timeout
		t.Errorf("mfr-beta's stream carried %+v", ev)
	}

	// The regulator reconnects after the demo's clone: everything since.
	catchUp := h.stream(t, request{role: trace.RoleRegulator}, "?timeout=0&lastEventId="+h.demo.Clone)
	var ids []string
	for ev := range catchUp {
		ids = append(ids, ev.id)
	}
	if len(ids) == 0 || ids[len(ids)-1] != clone {
		t.Errorf("catch-up after %s: %v, want the anomalies since, ending with %s", h.demo.Clone, ids, clone)
	}
	for _, id := range ids {
		if id == h.demo.Clone {
			t.Errorf("catch-up repeats the last event seen")
		}
	}
	r := h.do(request{method: http.MethodGet, path: "/api/v1/anomalies/stream?timeout=0&lastEventId=AN-nope", role: trace.RoleRegulator})
	expectProblem(t, r, 422, api.ProbInvalidField, "lastEventId")
}
