//go:build integration

package test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/test/testnet"
	"github.com/pharmatrace/pharmatrace/trace"
)

// packVersion is one committed version of a pack record.
type packVersion struct {
	TxID string
	Pack trace.Pack
}

// packHistories returns the committed versions of every pack of gtin,
// oldest first, by serial. Fabric keeps no key history of private data
// (a manufacturer's packs live in its collection, docs/confidentiality.md),
// so the chain of custody comes from the regulator's event stream: blocks
// with the private data of every collection, each routed transaction's
// full event (what the API's read model consumes). The stream is read
// from block 0 up to a marker transaction submitted now.
func packHistories(t *testing.T, n *testnet.Network, gtin string) map[string][]packVersion {
	t.Helper()
	c := n.Client(t, "Regulator", "inspector", nil)
	// The end of the stream: a product registered now by the manufacturer.
	end, err := n.Client(t, "Manufacturer", "mfr-alpha", nil).RegisterProduct(context.Background(), productRequest(randomGTIN("4012345")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := map[string][]packVersion{}
	add := func(txID string, p trace.Pack) {
		if p.GTIN == gtin {
			out[p.Serial] = append(out[p.Serial], packVersion{TxID: txID, Pack: p})
		}
	}
	err = c.Events(ctx, &gateway.MemoryCheckpointer{}, func(_ context.Context, ev gateway.Event) error {
		if ev.TxID == end.TxID {
			cancel()
			return nil
		}
		var e trace.Event
		if err := json.Unmarshal(ev.Payload, &e); err != nil {
			return err
		}
		if e.Private != "" {
			t.Errorf("event of %s is the public stub: the regulator's stream must carry the full event", ev.TxID)
		}
		if e.Commissioned != nil {
			for _, p := range e.Commissioned.Packs(e.TxID, e.Timestamp) {
				add(e.TxID, p)
			}
		}
		for _, p := range e.Packs {
			add(e.TxID, p)
		}
		return nil
	}, gateway.FromBlock(0), gateway.WithPrivateEvents(nil))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("regulator's event stream: %v", err)
	}
	return out
}
