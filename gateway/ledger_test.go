package gateway

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/trace"
)

func TestTypedMethodsMirrorEveryChaincodeFunction(t *testing.T) {
	want := append(slices.Clone(trace.SubmitTransactions), trace.EvaluateTransactions...)
	got := slices.Clone(mirrored)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("typed methods %v\nchaincode functions %v", got, want)
	}
}

func TestTypedMethodsValidateBeforeCallingTheLedger(t *testing.T) {
	c := &Client{} // no endpoints: a request that reached the network would panic
	_, err := c.Dispense(context.Background(), trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "r1"},
		Scan: trace.Scan{GTIN: "123", Serial: "S", Lot: "L", Expiry: "301231"}})
	var ge *Error
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &ge) || ge.Fn != "Dispense" || !strings.Contains(err.Error(), "gtin") {
		t.Fatalf("err = %v, want ErrInvalid naming gtin", err)
	}
	if _, err := c.Verify(context.Background(), trace.VerifyRequest{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Verify of an empty scan: %v", err)
	}
}
