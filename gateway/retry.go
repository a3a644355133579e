package gateway

import (
	"context"
	"math/rand/v2"
	"time"
)

// RetryPolicy paces the retries of one call. Zero fields mean the defaults
// of DefaultRetryPolicy. A call whose context has a deadline retries
// transient failures until that deadline, however many tries it takes (an
// ordering service that regains its quorum after 10 s must not end requests
// that still have time left); a call without a deadline is bounded by
// MaxAttempts.
type RetryPolicy struct {
	// MaxAttempts is the number of tries of each step of a call (endorse
	// and evaluate, submit, commit status), first try included, when the
	// call's context has no deadline (WithMaxAttempts applies it to every
	// call). Default 6.
	MaxAttempts int
	// BaseDelay is the cap of the first backoff; it doubles each retry.
	// Default 100ms.
	BaseDelay time.Duration
	// MaxDelay caps every backoff. Default 2s.
	MaxDelay time.Duration
}

// DefaultRetryPolicy returns the defaults used for zero RetryPolicy fields.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 6, BaseDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = p.BaseDelay
	}
	return p
}

func (p RetryPolicy) validate(field string) error {
	switch {
	case p.MaxAttempts < 0:
		return &ConfigError{field + ".MaxAttempts", "negative"}
	case p.BaseDelay < 0:
		return &ConfigError{field + ".BaseDelay", "negative duration"}
	case p.MaxDelay < 0:
		return &ConfigError{field + ".MaxDelay", "negative duration"}
	case p.MaxDelay > 0 && p.BaseDelay > p.MaxDelay:
		return &ConfigError{field + ".BaseDelay", "greater than MaxDelay"}
	}
	return nil
}

// backoffCap is the upper bound of the delay before retry number n (n >= 1):
// min(MaxDelay, BaseDelay * 2^(n-1)).
func (p RetryPolicy) backoffCap(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := p.BaseDelay
	for i := 1; i < n; i++ {
		d *= 2
		if d >= p.MaxDelay || d <= 0 { // d <= 0: overflow
			return p.MaxDelay
		}
	}
	if d > p.MaxDelay {
		return p.MaxDelay
	}
	return d
}

// backoff returns the delay before retry number n with full jitter: uniform
// in [0, backoffCap(n)). randN(k) must return a uniform value in [0, k).
func (p RetryPolicy) backoff(n int, randN func(int64) int64) time.Duration {
	c := p.backoffCap(n)
	if c <= 0 {
		return 0
	}
	return time.Duration(randN(int64(c)))
}

// clock is time, replaceable in tests.
type clock interface {
	Now() time.Time
	// After behaves as time.After but the returned stop func releases the
	// timer. It paces sleeps (backoff).
	After(d time.Duration) (<-chan time.Time, func())
	// Timer is After for a window the code races against (the commit
	// window): a fake clock fires it only once its time has passed it,
	// where it may fire a sleep at once.
	Timer(d time.Duration) (<-chan time.Time, func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

func (c realClock) Timer(d time.Duration) (<-chan time.Time, func()) { return c.After(d) }

// sleep waits d or until ctx ends, whichever comes first.
func sleep(ctx context.Context, clk clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	c, stop := clk.After(d)
	defer stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c:
		return nil
	}
}

func defaultRandN(n int64) int64 { return rand.Int64N(n) }

// retrier paces the retries of one step of one call: no wait when moving
// to another endpoint that looks healthy and has not failed during this
// call (failover must be fast), backoff with full jitter otherwise (the
// same endpoint again, e.g. while the ordering service elects a leader).
// Tries are counted against MaxAttempts only when counted is set (the
// call's context has no deadline, or the caller asked for a count);
// otherwise the deadline alone ends them (see wait).
type retrier struct {
	policy  RetryPolicy
	clock   clock
	randN   func(int64) int64
	counted bool
	tries   int
	failed  map[string]bool
}

func newRetrier(p RetryPolicy, clk clock, randN func(int64) int64, counted bool) *retrier {
	return &retrier{policy: p, clock: clk, randN: randN, counted: counted, tries: 1, failed: map[string]bool{}}
}

// exhausted reports whether every allowed try has been made.
func (r *retrier) exhausted() bool { return r.counted && r.tries >= r.policy.MaxAttempts }

// failedOn records that the try on endpoint addr failed.
func (r *retrier) failedOn(addr string) { r.failed[addr] = true }

// delay returns the wait before the next try, on endpoint next.
func (r *retrier) delay(next endpoint) time.Duration {
	if next != nil && !r.failed[next.Addr()] && next.Healthy() {
		return 0
	}
	return r.policy.backoff(r.tries, r.randN)
}

// wait sleeps before the next try on next and counts it. It fails at once
// with context.DeadlineExceeded when the next try would start after ctx's
// deadline: sleeping until then could not help.
func (r *retrier) wait(ctx context.Context, next endpoint) error {
	d := r.delay(next)
	r.tries++
	if dl, ok := ctx.Deadline(); ok && !r.clock.Now().Add(d).Before(dl) {
		return context.DeadlineExceeded
	}
	return sleep(ctx, r.clock, d)
}
