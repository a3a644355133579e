package gateway

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAwaitVisibleRetriesOnlyNotFound(t *testing.T) {
	notFound := &Error{Kind: KindNotFound, Msg: "shipment S1 does not exist"}
	calls := 0
	got, err := AwaitVisible(context.Background(), 2*time.Second, func(context.Context) (int, error) {
		calls++
		if calls < 3 {
			return 0, notFound
		}
		return 42, nil
	})
	if err != nil || got != 42 || calls != 3 {
		t.Fatalf("got %d, %v after %d calls; want 42 after 3", got, err, calls)
	}

	calls = 0
	denied := &Error{Kind: KindAccessDenied}
	if _, err := AwaitVisible(context.Background(), time.Second, func(context.Context) (int, error) { calls++; return 0, denied }); !errors.Is(err, ErrAccessDenied) || calls != 1 {
		t.Fatalf("access denied retried: %d calls, %v", calls, err)
	}

	start := time.Now()
	if _, err := AwaitVisible(context.Background(), 300*time.Millisecond, func(context.Context) (int, error) { return 0, notFound }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a lasting not-found must be returned: %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("waited %s, bound was 300ms", el)
	}
}
