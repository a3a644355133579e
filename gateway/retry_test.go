package gateway

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBackoffCap(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 10, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	tests := []struct {
		n    int
		want time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, time.Second},
		{1000, time.Second}, // no overflow
	}
	for _, tt := range tests {
		if got := p.backoffCap(tt.n); got != tt.want {
			t.Errorf("backoffCap(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestBackoffFullJitterBounds(t *testing.T) {
	p := DefaultRetryPolicy()
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 8; n++ {
		c := p.backoffCap(n)
		var lo, hi time.Duration = c, 0
		for range 2000 {
			d := p.backoff(n, r.Int64N)
			if d < 0 || d >= c {
				t.Fatalf("backoff(%d) = %v outside [0, %v)", n, d, c)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		// Full jitter spreads over the whole range, not around the cap.
		if lo > c/10 || hi < c*9/10 {
			t.Errorf("retry %d: delays span [%v, %v], want most of [0, %v)", n, lo, hi, c)
		}
	}
}

func TestRetryPolicyDefaultsAndValidate(t *testing.T) {
	if got := (RetryPolicy{}).withDefaults(); got != DefaultRetryPolicy() {
		t.Errorf("withDefaults = %+v", got)
	}
	if got := (RetryPolicy{BaseDelay: 5 * time.Second}).withDefaults(); got.MaxDelay != 5*time.Second {
		t.Errorf("MaxDelay not raised to BaseDelay: %+v", got)
	}
	tests := []struct {
		p     RetryPolicy
		field string
	}{
		{RetryPolicy{MaxAttempts: -1}, "Retry.MaxAttempts"},
		{RetryPolicy{BaseDelay: -1}, "Retry.BaseDelay"},
		{RetryPolicy{MaxDelay: -1}, "Retry.MaxDelay"},
		{RetryPolicy{BaseDelay: 2 * time.Second, MaxDelay: time.Second}, "Retry.BaseDelay"},
	}
	for _, tt := range tests {
		err := tt.p.validate("Retry")
		ce, ok := err.(*ConfigError)
		if !ok || ce.Field != tt.field {
			t.Errorf("validate(%+v) = %v, want field %s", tt.p, err, tt.field)
		}
	}
}

func TestRetrierFailoverIsImmediate(t *testing.T) {
	l := newFakeLedger()
	a, b := newFakeEndpoint("a:1", l), newFakeEndpoint("b:1", l)
	clk := newFakeClock()
	r := newRetrier(RetryPolicy{MaxAttempts: 5, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}, clk, func(n int64) int64 { return n / 2 }, true)
	r.failedOn("a:1")
	if d := r.delay(b); d != 0 {
		t.Errorf("delay before a first try on healthy b = %v, want 0", d)
	}
	if d := r.delay(a); d != 50*time.Millisecond {
		t.Errorf("delay before retrying failed a = %v, want jittered 50ms", d)
	}
	b.setDown(true)
	if d := r.delay(b); d == 0 {
		t.Error("no backoff before an unhealthy endpoint")
	}
	for !r.exhausted() {
		if err := r.wait(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	if r.tries != 5 {
		t.Errorf("tries = %d, want 5", r.tries)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(ctx, realClock{}, time.Hour); err == nil {
		t.Error("sleep ignored a cancelled context")
	}
}

func TestPoolFailover(t *testing.T) {
	l := newFakeLedger()
	a, b, c := newFakeEndpoint("a:1", l), newFakeEndpoint("b:1", l), newFakeEndpoint("c:1", l)
	m, _ := NewMetrics(nil)
	p := newPool([]endpoint{a, b, c}, discardLogger(), m, newFakeClock(), nil)
	step := func(want *fakeEndpoint) {
		t.Helper()
		if got := p.current(); got != want {
			t.Fatalf("current = %s, want %s", got.Addr(), want.Addr())
		}
	}
	step(a)
	step(a) // sticky

	p.fail(a) // call failed on a: next healthy
	step(b)
	if a.suspects != 1 {
		t.Errorf("a not marked suspect")
	}
	p.fail(a) // stale report about a former endpoint: no move
	step(b)

	c.setDown(true)
	p.fail(b) // c is down: skip to a
	step(a)

	a.setDown(true) // a turns unhealthy: current() moves to the healthy b
	step(b)

	b.setDown(true) // nothing healthy: current stays (no flapping)
	step(b)
	p.fail(b) // but a failed call still rotates, and every connection is
	step(c)   // asked to reconnect at once
	if a.callCount("reconnect") != 1 || c.callCount("reconnect") != 1 {
		t.Errorf("reconnects: a %d, c %d; want 1 each", a.callCount("reconnect"), c.callCount("reconnect"))
	}

	if got := testutil.ToFloat64(m.Failovers.WithLabelValues("a:1")); got != 2 {
		t.Errorf("failovers from a = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.Failovers.WithLabelValues("b:1")); got != 2 {
		t.Errorf("failovers from b = %v, want 2", got)
	}

	single := newPool([]endpoint{a}, discardLogger(), nil, newFakeClock(), nil)
	single.fail(a)
	if single.current() != a {
		t.Error("single endpoint pool moved")
	}
}
