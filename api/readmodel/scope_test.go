package readmodel_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/api/internal/dbtest"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

// mfrBeta is the second manufacturer of the network definition: same MSP
// as mfr-alpha, another company prefix.
var mfrBeta = trace.Actor{MSP: "ManufacturerMSP", Role: trace.RoleManufacturer, GLN: "5098765000002"}

const betaGTIN = "05098765000019"

// betaAnomalies registers mfr-beta's product and makes two anomalies about
// it: an unknown serial dispensed at a pharmacy and a regulator's finding.
func betaAnomalies(t *testing.T, sim *memledger.Ledger) []string {
	t.Helper()
	ctx := context.Background()
	var pr trace.ProductResult
	if err := sim.For(mfrBeta, "5098765").Submit(ctx, trace.TxRegisterProduct, &trace.RegisterProductRequest{RequestHeader: trace.RequestHeader{RequestID: "beta-p"},
		GTIN: betaGTIN, Name: "Beta", Form: "tablet", Strength: "1 mg", PackSize: 10}, &pr); err != nil || !pr.OK() {
		t.Fatalf("register beta's product: %+v %v", pr.Outcome, err)
	}
	var sr trace.ScanResult
	if err := sim.For(memledger.PharmCentral).Submit(ctx, trace.TxDispense, &trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "beta-d"},
		Scan: trace.Scan{GTIN: betaGTIN, Serial: "NOPE1", Lot: "L1", Expiry: "301231"}}, &sr); err != nil || len(sr.Anomalies) == 0 {
		t.Fatalf("dispense an unknown beta pack: %+v %v", sr.Outcome, err)
	}
	var ar trace.AnomalyResult
	if err := sim.For(memledger.Inspector).Submit(ctx, trace.TxFlagAnomaly, &trace.FlagAnomalyRequest{RequestHeader: trace.RequestHeader{RequestID: "beta-f"},
		Code: trace.AnomalyManual, Severity: trace.SeverityHigh, Classification: trace.ClassProcess,
		Pack: &trace.PackRef{GTIN: betaGTIN, Serial: "NOPE2"}, Message: "tip-off about a beta pack"}, &ar); err != nil || !ar.OK() {
		t.Fatalf("flag: %+v %v", ar.Outcome, err)
	}
	return append(sr.Anomalies, ar.Anomaly.ID)
}

// TestScopeManufacturerSeesItsProducts: a manufacturer lists and reads
// every anomaly about its own products whoever reported it, never another
// manufacturer's (even in the same MSP); others keep seeing what their
// organisation reported. Applied in reverse order too (the product's owner
// is learnt when the product event comes).
func TestScopeManufacturerSeesItsProducts(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			sim, res := demo(t)
			beta := betaAnomalies(t, sim)
			evs, pos := sim.Events()
			for _, order := range []string{"ledger", "reversed"} {
				t.Run(order, func(t *testing.T) {
					s := newStore(t, e)
					o := seq(len(evs))
					if order == "reversed" {
						for i, j := 0, len(o)-1; i < j; i, j = i+1, j-1 {
							o[i], o[j] = o[j], o[i]
						}
					}
					applyAll(t, s, evs, pos, o)
					list := func(sc *readmodel.Scope) map[string]trace.Anomaly {
						t.Helper()
						p, err := s.ListAnomalies(ctx, readmodel.AnomalyFilter{Scope: sc}, readmodel.Sort{Field: readmodel.SortCreated}, readmodel.Page{Limit: 500})
						if err != nil {
							t.Fatal(err)
						}
						out := map[string]trace.Anomaly{}
						for _, a := range p.Anomalies {
							out[a.ID] = a
						}
						return out
					}
					alpha := readmodel.ScopeOf("ManufacturerMSP", trace.RoleManufacturer, memledger.MfrAlpha.GLN, "4012345")
					betaScope := readmodel.ScopeOf("ManufacturerMSP", trace.RoleManufacturer, mfrBeta.GLN, "5098765")
					all, a, b := list(nil), list(alpha), list(betaScope)
					if _, ok := a[res.Clone]; !ok {
						t.Errorf("mfr-alpha does not see the clone of its pack (reported by a pharmacy)")
					}
					for id, an := range a {
						if g := gtinOf(an); !strings.HasPrefix(g, "04012345") {
							t.Errorf("mfr-alpha sees %s about %q", id, g)
						}
					}
					if len(b) != len(beta) {
						t.Errorf("mfr-beta sees %d anomalies, want its %d", len(b), len(beta))
					}
					for _, id := range beta {
						if _, ok := b[id]; !ok {
							t.Errorf("mfr-beta misses %s", id)
						}
						if _, ok := a[id]; ok {
							t.Errorf("mfr-alpha sees beta's %s", id)
						}
					}
					ph := list(readmodel.ScopeOf("PharmacyMSP", trace.RolePharmacist, memledger.PharmCentral.GLN, ""))
					for id, an := range ph {
						if an.ReportedBy.MSP != "PharmacyMSP" {
							t.Errorf("pharmacy sees %s reported by %s", id, an.ReportedBy.MSP)
						}
					}
					if len(ph) == 0 || len(a) == len(all) || len(b) == len(all) {
						t.Errorf("scopes do not discriminate: all %d, alpha %d, beta %d, pharmacy %d", len(all), len(a), len(b), len(ph))
					}
					if _, err := s.GetAnomalyIn(ctx, res.Clone, alpha); err != nil {
						t.Errorf("alpha reads the clone: %v", err)
					}
					if _, err := s.GetAnomalyIn(ctx, res.Clone, betaScope); !errors.Is(err, readmodel.ErrNotFound) {
						t.Errorf("beta reads alpha's clone: %v", err)
					}
				})
			}
		})
	}
}

func gtinOf(a trace.Anomaly) string {
	if a.Pack != nil {
		return a.Pack.GTIN
	}
	if a.Lot != nil {
		return a.Lot.GTIN
	}
	return ""
}
