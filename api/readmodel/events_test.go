package readmodel_test

import (
	"context"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/api/internal/dbtest"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

func TestEventsStoredInLedgerOrder(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			sim, res := demo(t)
			evs, pos := sim.Events()
			s := newStore(t, e)
			// Applied shuffled and twice: still once each, in ledger order.
			order := rand.New(rand.NewSource(7)).Perm(len(evs))
			applyAll(t, s, evs, pos, order)
			applyAll(t, s, evs, pos, seq(len(evs)))

			txs := func(q readmodel.EventQuery) []string {
				t.Helper()
				var out []string
				for ev, err := range s.Events(ctx, q) {
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, ev.TxID)
				}
				return out
			}
			var all []string
			for _, ev := range evs {
				all = append(all, ev.TxID)
			}
			// Ledger order: the sim's events are in block order.
			var tl []string
			timeline, err := s.PackTimeline(ctx, memledger.DemoGTIN, res.CloneSerial, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, pe := range timeline {
				tl = append(tl, pe.TxID)
			}
			first, last := evs[0].Timestamp, evs[len(evs)-1].Timestamp
			tests := []struct {
				name string
				q    readmodel.EventQuery
				want []string
			}{
				{"everything", readmodel.EventQuery{}, all},
				{"pack", readmodel.EventQuery{GTIN: memledger.DemoGTIN, Serial: res.CloneSerial}, tl},
				{"unknown pack", readmodel.EventQuery{GTIN: memledger.DemoGTIN, Serial: "NOPE"}, nil},
				{"time range: everything", readmodel.EventQuery{From: first, To: last.Add(time.Millisecond)}, all},
				{"time range: none", readmodel.EventQuery{To: first}, nil},
			}
			for _, tc := range tests {
				if got := txs(tc.q); !slices.Equal(got, tc.want) {
					t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
				}
			}
			// A lot's and a shipment's events: a subsequence of the ledger
			// that contains the pack's.
			for _, q := range []readmodel.EventQuery{{GTIN: memledger.DemoGTIN, Lot: memledger.DemoLot}, {Shipment: res.Shipment}} {
				got := txs(q)
				for _, tx := range tl {
					if !slices.Contains(got, tx) {
						t.Errorf("%+v lacks the pack's tx %s", q, tx)
					}
				}
				if len(got) >= len(all) || !isSubsequence(got, all) {
					t.Errorf("%+v: %d events, not a strict subsequence of the ledger's %d", q, len(got), len(all))
				}
			}
			for ev, err := range s.Events(ctx, readmodel.EventQuery{GTIN: memledger.DemoGTIN, Serial: res.CloneSerial}) {
				if err != nil || ev.Type != trace.TxCommissionPacks || ev.Commissioned == nil || len(ev.Commissioned.Serials) == 0 {
					t.Errorf("the first stored event does not round-trip: %+v %v", ev, err)
				}
				break // stopping early closes the rows
			}

			if msp, err := s.PartyMSP(ctx, memledger.WhNorth.GLN); err != nil || msp != memledger.WhNorth.MSP {
				t.Errorf("party of %s: %q %v", memledger.WhNorth.GLN, msp, err)
			}
			if msp, err := s.PartyMSP(ctx, "4999999000008"); err != nil || msp != "" {
				t.Errorf("unknown party: %q %v", msp, err)
			}
			// Every product records its owner's company prefix.
			prod := trace.Event{Type: trace.TxRegisterProduct, TxID: "tx-product", Timestamp: last.Add(time.Second), Outcome: trace.Outcome{Status: trace.StatusOK},
				Products: []trace.Product{{GTIN: "09501101530003", Name: "Other", OwnerMSP: "OtherMSP", CompanyPrefix: "950110", CreatedAt: last}}}
			if _, err := s.Apply(ctx, prod, readmodel.Position{Block: pos[len(pos)-1].Block + 1, TxID: prod.TxID}); err != nil {
				t.Fatal(err)
			}
			if p, err := s.CompanyPrefixes(ctx); err != nil || !slices.Equal(p, []string{"4012345", "950110"}) {
				t.Errorf("company prefixes %v %v", p, err)
			}
			if sh, err := s.GetShipment(ctx, res.Shipment); err != nil || len(sh.Packs) == 0 {
				t.Errorf("shipment %s: %+v %v", res.Shipment, sh, err)
			}
			if _, err := s.GetShipment(ctx, "NOPE"); err == nil || !strings.Contains(err.Error(), "not") {
				t.Errorf("unknown shipment: %v", err)
			}
		})
	}
}

func isSubsequence(sub, all []string) bool {
	i := 0
	for _, x := range all {
		if i < len(sub) && sub[i] == x {
			i++
		}
	}
	return i == len(sub)
}
