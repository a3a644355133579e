package gateway

import (
	"context"
	"errors"
	"time"
)

// AwaitVisible runs call and, while it fails with ErrNotFound, runs it
// again for up to wait. A record another organisation has just committed
// (a shipment the receiver is about to receive) may not have reached the
// caller's peers yet: commit status comes from the submitter's own peer,
// and the others commit the same block a moment later. Other errors, and
// a not-found that outlasts wait, are returned as they are.
func AwaitVisible[R any](ctx context.Context, wait time.Duration, call func(context.Context) (R, error)) (R, error) {
	deadline := time.Now().Add(wait)
	delay := 50 * time.Millisecond
	for {
		r, err := call(ctx)
		if err == nil || !errors.Is(err, ErrNotFound) || time.Now().Add(delay).After(deadline) {
			return r, err
		}
		select {
		case <-ctx.Done():
			return r, err
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}
