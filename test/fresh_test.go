//go:build integration

package test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/test/testnet"
	"github.com/pharmatrace/pharmatrace/trace"
)

// A second network started beside the first (testnet.Fresh) is its own
// ledger: a product registered on it is readable there and unknown to the
// first network.
func TestFreshSecondNetwork(t *testing.T) {
	first := testnet.Get(t)
	second := testnet.Fresh(t, testnet.FreshOffset)
	if first.Dir == second.Dir || first.PeerNodes()[0].Address == second.PeerNodes()[0].Address {
		t.Fatalf("second network shares run directory or peer address with the first: %s %s",
			second.Dir, second.PeerNodes()[0].Address)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	mfr2 := second.Client(t, "Manufacturer", "mfr-alpha", nil)
	req := productRequest(randomGTIN("4012345"))
	res, err := mfr2.RegisterProduct(ctx, req)
	if err != nil || !res.OK() {
		t.Fatalf("RegisterProduct on the second network = %+v, %v", res, err)
	}
	got, err := mfr2.GetProduct(ctx, trace.ProductQuery{GTIN: req.GTIN})
	if err != nil || got.Product.GTIN != req.GTIN || got.Product.Name != req.Name {
		t.Fatalf("GetProduct on the second network = %+v, %v; want %s %q", got, err, req.GTIN, req.Name)
	}

	mfr1 := first.Client(t, "Manufacturer", "mfr-alpha", nil)
	if p, err := mfr1.GetProduct(ctx, trace.ProductQuery{GTIN: req.GTIN}); !errors.Is(err, gateway.ErrNotFound) {
		t.Fatalf("GetProduct on the first network = %+v, %v; want ErrNotFound", p, err)
	}
}
