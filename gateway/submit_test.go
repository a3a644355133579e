package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func put(id string) putRequest { return putRequest{RequestID: id, Key: "k-" + id, Value: "v"} }

func TestSubmitExactlyOnce(t *testing.T) {
	// The peer did not answer the submit in time: it may have forwarded
	// the transaction to the orderer.
	ambiguous := status.Error(codes.DeadlineExceeded, "context deadline exceeded")
	// Every orderer answered SERVICE_UNAVAILABLE (raft has no leader): the
	// peer is fine, nothing was ordered.
	noLeader := status.Error(codes.Unavailable, "no orderers could successfully process transaction")
	tests := []struct {
		name string
		// setup scripts faults on the two endpoints a and b (a is current).
		setup      func(l *fakeLedger, a, b *fakeEndpoint)
		lookup     bool
		wantEndors int  // transactions endorsed
		wantLookup bool // result came from the lookup
		// wantFailover: the client moved away from a.
		wantFailover bool
	}{
		{
			name:       "no failure",
			setup:      func(*fakeLedger, *fakeEndpoint, *fakeEndpoint) {},
			wantEndors: 1,
		},
		{
			name: "endorse unavailable fails over",
			setup: func(_ *fakeLedger, a, _ *fakeEndpoint) {
				a.addFault("endorse", fault{err: errUnavailable})
			},
			wantEndors: 2, wantFailover: true,
		},
		{
			name: "submit accepted but reported unavailable: same transaction resent elsewhere",
			setup: func(_ *fakeLedger, a, _ *fakeEndpoint) {
				a.addFault("submit", fault{err: errUnavailable, apply: true})
			},
			wantEndors: 1, wantFailover: true,
		},
		{
			name: "submit lost (never ordered): same transaction resent elsewhere",
			setup: func(_ *fakeLedger, a, _ *fakeEndpoint) {
				a.addFault("submit", fault{err: errUnavailable})
			},
			wantEndors: 1, wantFailover: true,
		},
		{
			name: "commit status fails for a committed transaction: asked elsewhere",
			setup: func(_ *fakeLedger, a, _ *fakeEndpoint) {
				a.addFault("status", fault{err: errUnavailable})
			},
			wantEndors: 1, wantFailover: true,
		},
		{
			name: "commit status unknown everywhere, lookup finds the request",
			setup: func(_ *fakeLedger, a, b *fakeEndpoint) {
				a.setAlways("status", fault{err: errUnavailable})
				b.setAlways("status", fault{err: errUnavailable})
			},
			lookup:     true,
			wantEndors: 1, wantLookup: true, wantFailover: true,
		},
		{
			name: "commit status unknown everywhere, no lookup: rerun returns the original outcome",
			setup: func(_ *fakeLedger, a, b *fakeEndpoint) {
				// Two failures on each: the four tries of the first
				// transaction's commit status all fail.
				a.addFault("status", fault{err: errUnavailable}, fault{err: errUnavailable})
				b.addFault("status", fault{err: errUnavailable}, fault{err: errUnavailable})
			},
			wantEndors: 2, wantFailover: true,
		},
		{
			name: "submit ambiguous everywhere and never ordered, lookup says not found: rerun",
			setup: func(_ *fakeLedger, a, b *fakeEndpoint) {
				a.addFault("submit", fault{err: ambiguous}, fault{err: ambiguous})
				b.addFault("submit", fault{err: ambiguous}, fault{err: ambiguous})
			},
			lookup:     true,
			wantEndors: 2, wantFailover: true,
		},
		{
			name: "submit ambiguous everywhere but ordered, lookup finds it",
			setup: func(_ *fakeLedger, a, b *fakeEndpoint) {
				a.setAlways("submit", fault{err: ambiguous, apply: true})
				b.setAlways("submit", fault{err: ambiguous, apply: true})
			},
			lookup:     true,
			wantEndors: 1, wantLookup: true, wantFailover: true,
		},
		{
			name: "orderers without a leader: the same transaction resent to the same healthy peer",
			setup: func(_ *fakeLedger, a, _ *fakeEndpoint) {
				a.addFault("submit", fault{err: noLeader}, fault{err: noLeader}, fault{err: noLeader})
			},
			wantEndors: 1,
		},
		{
			name: "accepted by the orderer, then lost (leader died): window missed, lookup, run again",
			setup: func(_ *fakeLedger, a, _ *fakeEndpoint) {
				a.addFault("submit", fault{}) // accepted, never ordered
			},
			lookup:     true,
			wantEndors: 2,
		},
		{
			name: "accepted, lost, no lookup: run again",
			setup: func(_ *fakeLedger, a, _ *fakeEndpoint) {
				a.addFault("submit", fault{})
			},
			wantEndors: 2,
		},
		{
			name: "MVCC conflict at commit: re-endorsed",
			setup: func(l *fakeLedger, a, _ *fakeEndpoint) {
				// Another writer touches the request key between endorsement
				// and commit of the first transaction only.
				l.bumpVersionOnNextOrder = true
			},
			wantEndors: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newFakeLedger()
			a, b := newFakeEndpoint("a:7051", l), newFakeEndpoint("b:7051", l)
			tt.setup(l, a, b)
			reg := prometheus.NewRegistry()
			m, err := NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			opts := []Option{WithMetrics(m)}
			if tt.lookup {
				opts = append(opts, lookupQuery())
			}
			c, clk := newTestClient(t, []*fakeEndpoint{a, b}, opts...)
			passCommitWindows(t, clk, l)

			var got putResult
			var rc Receipt
			err = c.Submit(context.Background(), "Put", "r1", put("r1"), &got, WithReceipt(&rc))
			if err != nil {
				t.Fatalf("Submit: %v", err)
			}
			if n := l.appliedCount("r1"); n != 1 {
				t.Fatalf("request applied %d times, want exactly 1", n)
			}
			// The returned result is the one stored by the single apply.
			if want := string(l.outcomes["r1"]); mustJSON(t, got) != want {
				t.Errorf("result %s, want the original outcome %s", mustJSON(t, got), want)
			}
			if rc.Endorsements != tt.wantEndors {
				t.Errorf("endorsements = %d, want %d", rc.Endorsements, tt.wantEndors)
			}
			if rc.FromLookup != tt.wantLookup {
				t.Errorf("FromLookup = %v, want %v", rc.FromLookup, tt.wantLookup)
			}
			if !tt.wantLookup && (rc.TxID == "" || rc.Block == 0) {
				t.Errorf("receipt %+v lacks tx ID or block", rc)
			}
			failovers := testutil.ToFloat64(m.Failovers.WithLabelValues("a:7051"))
			if (failovers > 0) != tt.wantFailover {
				t.Errorf("failovers from a = %v, want failover %v", failovers, tt.wantFailover)
			}
			if testutil.CollectAndCount(m.SubmitSeconds) != 1 {
				t.Errorf("submit latency not observed")
			}
		})
	}
}

func TestSubmitNeverRetriesDefinitiveFailures(t *testing.T) {
	tests := []struct {
		name     string
		req      any
		setup    func(a *fakeEndpoint)
		want     error
		wantCode string
	}{
		{name: "chaincode access denied", req: putRequest{RequestID: "r", Key: "denied"}, setup: func(*fakeEndpoint) {}, want: ErrAccessDenied},
		{name: "chaincode invalid request", req: map[string]int{"x": 1}, setup: func(*fakeEndpoint) {}, want: ErrInvalid},
		{name: "gRPC permission denied", req: put("r"), setup: func(a *fakeEndpoint) {
			a.addFault("endorse", fault{err: status.Error(codes.PermissionDenied, "creator not allowed")})
		}, want: ErrAccessDenied, wantCode: "PermissionDenied"},
		{name: "orderer forbids", req: put("r"), setup: func(a *fakeEndpoint) {
			a.addFault("submit", fault{err: status.Error(codes.Aborted, "received unsuccessful response from orderer: FORBIDDEN")})
		}, want: ErrAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newFakeLedger()
			a, b := newFakeEndpoint("a:1", l), newFakeEndpoint("b:1", l)
			tt.setup(a)
			c, clk := newTestClient(t, []*fakeEndpoint{a, b})
			var rc Receipt
			err := c.Submit(context.Background(), "Put", "r", tt.req, nil, WithReceipt(&rc))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err %T is not *Error", err)
			}
			if tt.wantCode != "" && e.Code != tt.wantCode {
				t.Errorf("Code = %q, want %q", e.Code, tt.wantCode)
			}
			if rc.Endorsements != 1 || a.callCount("submit") > 1 || b.callCount("endorse")+b.callCount("submit") != 0 {
				t.Errorf("retried a definitive failure: endorsements %d, a.submit %d, b.endorse %d", rc.Endorsements, a.callCount("submit"), b.callCount("endorse"))
			}
			if len(clk.delays()) != 0 {
				t.Errorf("slept %v", clk.delays())
			}
		})
	}
}

func TestSubmitCommitCodes(t *testing.T) {
	tests := []struct {
		code peer.TxValidationCode
		want error
	}{
		{peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, ErrEndorsementPolicy},
		{peer.TxValidationCode_BAD_PAYLOAD, ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			l := newFakeLedger()
			a := &statusOverride{fakeEndpoint: newFakeEndpoint("a:1", l), code: tt.code}
			c := newClient(&Config{Channel: "ch", Chaincode: "cc"}, []endpoint{a}, &options{log: discardLogger(), clock: newFakeClock(), randN: func(n int64) int64 { return 0 }})
			err := c.Submit(context.Background(), "Put", "r", put("r"), nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var ce *client.CommitError
			if !errors.As(err, &ce) || ce.Code != tt.code || ce.TransactionID == "" {
				t.Fatalf("err does not unwrap to *client.CommitError with code %v: %#v", tt.code, ce)
			}
			if a.callCount("endorse") != 1 {
				t.Errorf("endorsed %d times, want 1 (no retry)", a.callCount("endorse"))
			}
		})
	}
}

// statusOverride reports a fixed validation code for every transaction.
type statusOverride struct {
	*fakeEndpoint
	code peer.TxValidationCode
}

func (s *statusOverride) CommitStatus(ctx context.Context, txID string) (commitStatus, error) {
	st, err := s.fakeEndpoint.CommitStatus(ctx, txID)
	st.Code = s.code
	return st, err
}

func TestSubmitOutcomeUnknownWhenAttemptsRunOut(t *testing.T) {
	l := newFakeLedger()
	a, b := newFakeEndpoint("a:1", l), newFakeEndpoint("b:1", l)
	a.setAlways("status", fault{err: errUnavailable})
	b.setAlways("status", fault{err: errUnavailable})
	c, clk := newTestClient(t, []*fakeEndpoint{a, b})
	err := c.Submit(context.Background(), "Put", "r", put("r"), nil, WithMaxAttempts(2))
	if !errors.Is(err, ErrUnknownOutcome) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want unknown outcome (and unavailable)", err)
	}
	var cs *Error
	if !errors.As(err, &cs) || cs.TxID == "" {
		t.Fatalf("err lacks tx ID: %#v", cs)
	}
	// The request was applied once by the first transaction and replayed
	// (not applied again) by the second.
	if n := l.appliedCount("r"); n != 1 {
		t.Fatalf("applied %d times", n)
	}
	for _, d := range clk.delays() {
		if d < 0 || d > 80*time.Millisecond {
			t.Errorf("backoff %v outside [0, MaxDelay]", d)
		}
	}
}

func TestSubmitAllEndpointsDownBacksOffAndHonoursDeadline(t *testing.T) {
	l := newFakeLedger()
	a, b := newFakeEndpoint("a:1", l), newFakeEndpoint("b:1", l)
	a.setDown(true)
	b.setDown(true)
	c, clk := newTestClient(t, []*fakeEndpoint{a, b})
	err := c.Submit(context.Background(), "Put", "r", put("r"), nil)
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("err = %v, want unavailable with a known (not applied) outcome", err)
	}
	if got := a.callCount("endorse") + b.callCount("endorse"); got != 4 {
		t.Errorf("endorse calls = %d, want MaxAttempts = 4", got)
	}
	// Every retry slept (no endpoint was healthy), with jittered exponential
	// caps 10, 20, 40ms (the fake random source picks cap-1).
	want := []time.Duration{10*time.Millisecond - 1, 20*time.Millisecond - 1, 40*time.Millisecond - 1}
	if got := clk.delays(); !equalDurations(got, want) {
		t.Errorf("delays = %v, want %v", got, want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = c.Submit(ctx, "Put", "r2", put("r2"), nil)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

func TestSubmitRejectsEmptyRequestID(t *testing.T) {
	l := newFakeLedger()
	c, _ := newTestClient(t, []*fakeEndpoint{newFakeEndpoint("a:1", l)})
	if err := c.Submit(context.Background(), "Put", "", put("x"), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func TestSubmitAsAndEvaluate(t *testing.T) {
	l := newFakeLedger()
	a, b := newFakeEndpoint("a:1", l), newFakeEndpoint("b:1", l)
	c, _ := newTestClient(t, []*fakeEndpoint{a, b})
	ctx := context.Background()
	res, err := SubmitAs[putResult](ctx, c, "Put", "r", put("r"))
	if err != nil || res.Key != "k-r" {
		t.Fatalf("SubmitAs = %+v, %v", res, err)
	}

	a.addFault("evaluate", fault{err: errUnavailable})
	got, err := EvaluateAs[putResult](ctx, c, "GetPut", map[string]string{"requestId": "r"})
	if err != nil || got != res {
		t.Fatalf("EvaluateAs = %+v, %v; want %+v", got, err, res)
	}
	if b.callCount("evaluate") != 1 {
		t.Errorf("evaluate did not fail over to b")
	}

	_, err = EvaluateAs[putResult](ctx, c, "GetPut", map[string]string{"requestId": "nope"})
	var e *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &e) || e.Msg != "request nope" {
		t.Fatalf("err = %v (%#v), want not found with the chaincode message", err, e)
	}

	raw, err := c.EvaluateRaw(ctx, "Echo", []byte(`"x"`))
	if err != nil || string(raw) != `"x"` {
		t.Fatalf("EvaluateRaw = %s, %v", raw, err)
	}
	if err := c.Evaluate(ctx, "Echo", "x", new(int)); !errors.Is(err, ErrInternal) {
		t.Fatalf("undecodable result: err = %v, want ErrInternal", err)
	}
}

func TestSubmitKeepsLookupReserve(t *testing.T) {
	// Commit status never answers; the lookup must still run before the
	// caller's deadline, thanks to the reserve.
	l := newFakeLedger()
	a := &hangingStatus{newFakeEndpoint("a:1", l)}
	looked := 0
	lookup := func(ctx context.Context, fn, id string) (bool, []byte, error) {
		looked++
		if fn != "Put" {
			t.Errorf("lookup for fn %q", fn)
		}
		if ctx.Err() != nil {
			t.Errorf("lookup called with an ended context")
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		out, ok := l.outcomes[id]
		return ok, out, nil
	}
	c := newClient(&Config{Channel: "ch", Chaincode: "cc"}, []endpoint{a}, &options{log: discardLogger(), clock: newFakeClock(), randN: func(n int64) int64 { return 0 }, lookup: lookup})
	c.timeouts.LookupReserve = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	var rc Receipt
	if err := c.Submit(ctx, "Put", "r", put("r"), nil, WithReceipt(&rc)); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if looked == 0 || !rc.FromLookup {
		t.Fatalf("lookup not used (looked %d, receipt %+v)", looked, rc)
	}
}

// hangingStatus never answers a commit status before the context ends.
type hangingStatus struct{ *fakeEndpoint }

func (h *hangingStatus) CommitStatus(ctx context.Context, txID string) (commitStatus, error) {
	<-ctx.Done()
	return commitStatus{}, status.FromContextError(ctx.Err()).Err()
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGetRequestLookup(t *testing.T) {
	l := newFakeLedger()
	c, _ := newTestClient(t, []*fakeEndpoint{newFakeEndpoint("a:1", l)}, WithGetRequestLookup())
	ctx := context.Background()
	if found, _, err := c.lookup(ctx, "Put", "r"); found || err != nil {
		t.Fatalf("before submit: found %v, err %v", found, err)
	}
	var res putResult
	if err := c.Submit(ctx, "Put", "r", put("r"), &res); err != nil {
		t.Fatal(err)
	}
	found, out, err := c.lookup(ctx, "Put", "r")
	if !found || err != nil || string(out) != mustJSON(t, res) {
		t.Fatalf("after submit: found %v, %s, %v", found, out, err)
	}
	if _, _, err := c.lookup(ctx, "Dispense", "r"); err == nil {
		t.Fatal("a request ID recorded for another transaction was not reported")
	}
}
