package readmodel_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pharmatrace/pharmatrace/api/db"
	"github.com/pharmatrace/pharmatrace/api/internal/dbtest"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Run(m)) }

func newStore(t *testing.T, e dbtest.Engine, opts ...readmodel.Option) *readmodel.Store {
	t.Helper()
	s := readmodel.New(dbtest.Open(t, e), opts...)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// newLedger is the real contract on an in-memory peer whose clock starts
// at start (zero: two hours ago).
func newLedger(t *testing.T, start time.Time) *memledger.Ledger {
	t.Helper()
	l, err := memledger.New(start)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func demo(t *testing.T) (*memledger.Ledger, memledger.DemoResult) {
	t.Helper()
	sim := newLedger(t, time.Time{})
	res, err := sim.Demo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sim, res
}

func applyAll(t *testing.T, s *readmodel.Store, evs []trace.Event, pos []readmodel.Position, order []int) {
	t.Helper()
	for _, i := range order {
		if _, err := s.Apply(context.Background(), evs[i], pos[i]); err != nil {
			t.Fatalf("apply %s: %v", evs[i].Type, err)
		}
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// dump renders every read-model table (except wall-clock columns) in key
// order, so that two stores can be compared.
func dump(t *testing.T, s *readmodel.Store) string {
	t.Helper()
	queries := []string{
		`SELECT gtin, name, owner_msp, created_at, last_tx, pos_block, pos_index, doc FROM rm_products ORDER BY gtin`,
		`SELECT gtin, lot, status, status_reason, pack_count, last_tx, pos_block, doc FROM rm_lots ORDER BY gtin, lot`,
		`SELECT gtin, serial, lot, state, reason, custodian_msp, custodian_gln, shipment, last_event, last_tx, pos_block FROM rm_packs ORDER BY gtin, serial`,
		`SELECT gtin, serial, tx_id, event_type, at, state, custodian_gln, outcome, code FROM rm_pack_events ORDER BY gtin, serial, tx_id`,
		`SELECT id, status, pack_count, received_count, last_tx, doc FROM rm_shipments ORDER BY id`,
		`SELECT id, code, severity, status, gtin, serial, lot, reported_msp, counterpart_gln, pos_block, product_owner, product_gcp, doc FROM rm_anomalies ORDER BY id`,
		`SELECT anomaly_id, seq, from_status, to_status, reason, comment, is_comment, by_msp, at FROM rm_anomaly_transitions ORDER BY anomaly_id, seq`,
		`SELECT tx_id, pos_block, pos_index, event_type FROM rm_applied ORDER BY tx_id`,
		`SELECT pos_block, pos_index, tx_id, event_at FROM rm_checkpoint`,
	}
	var b strings.Builder
	for _, q := range queries {
		rows, err := s.DB().QueryContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				b.WriteString(v.String)
				b.WriteByte('|')
			}
			b.WriteByte('\n')
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

func TestApplyDemoFlow(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			sim, res := demo(t)
			evs, pos := sim.Events()
			reg := prometheus.NewRegistry()
			m, err := readmodel.NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			s := newStore(t, e, readmodel.WithMetrics(m))
			applyAll(t, s, evs, pos, seq(len(evs)))

			cp, err := s.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cp != pos[len(pos)-1] {
				t.Errorf("checkpoint %v, want %v", cp, pos[len(pos)-1])
			}
			if got := testutil.ToFloat64(m.Block); got != float64(pos[len(pos)-1].Block) {
				t.Errorf("block gauge %v", got)
			}
			if got := testutil.ToFloat64(m.Events.WithLabelValues(trace.TxDispense, "applied")); got != 2 {
				t.Errorf("dispense events applied = %v, want 2", got)
			}

			a, err := s.GetAnomaly(ctx, res.Clone)
			if err != nil {
				t.Fatal(err)
			}
			if a.Code != trace.AnomalyClone || a.Severity != trace.SeverityCritical || a.Status != trace.AnomalyNew {
				t.Errorf("clone anomaly = %s %s %s", a.Code, a.Severity, a.Status)
			}
			tl, err := s.PackTimeline(ctx, memledger.DemoGTIN, res.CloneSerial, 0)
			if err != nil {
				t.Fatal(err)
			}
			var steps []string
			for _, e := range tl {
				steps = append(steps, e.Event+"@"+e.Custodian.GLN+":"+string(e.State))
			}
			want := "CommissionPacks@4012345000009:active Ship@4012345000009:in_transit Receive@4098765000010:active " +
				"Ship@4098765000010:in_transit Receive@4300123000014:active Dispense@4300123000014:inactive"
			if got := strings.Join(steps, " "); got != want {
				t.Errorf("timeline\n got %s\nwant %s", got, want)
			}

			states, err := s.PacksByState(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for _, c := range states {
				counts[string(c.State)+"/"+string(c.Reason)] = c.Count
			}
			// 12 packs: 1 dispensed; 7 shipped to wh-north, of which 3 went on to
			// pharm-central (received); the rest still at the manufacturer.
			if counts["inactive/dispensed"] != 1 || counts["active/"] != 11 {
				t.Errorf("packs by state = %v", counts)
			}

			risk, err := s.LotsAtRisk(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(risk) == 0 || risk[0].Lot != memledger.DemoLot2 || risk[0].Status != trace.LotRecalled || risk[0].ActivePacks != 6 {
				t.Errorf("lots at risk = %+v", risk)
			}

			days, err := s.AnomaliesPerDay(ctx, readmodel.AnomalyFilter{})
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			types := map[trace.AnomalyCode]int{}
			for _, d := range days {
				total += d.Count
				types[d.Code] += d.Count
				if len(d.Day) != 10 {
					t.Errorf("day %q", d.Day)
				}
			}
			if types[trace.AnomalyClone] != 1 || types[trace.AnomalyRecalledLot] != 1 {
				t.Errorf("anomalies by type = %v", types)
			}
			page, err := s.ListAnomalies(ctx, readmodel.AnomalyFilter{}, readmodel.Sort{Field: readmodel.SortCreated}, readmodel.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Anomalies) != total {
				t.Errorf("listed %d anomalies, per-day stats count %d", len(page.Anomalies), total)
			}
		})
	}
}

func TestApplyIdempotentAndOrderIndependent(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			sim, res := demo(t)
			// A workflow on top of the demo: investigate, comment, escalate.
			insp := sim.For(memledger.Inspector)
			var ar trace.AnomalyResult
			for i, req := range []trace.WriteRequest{
				&trace.TransitionAnomalyRequest{RequestHeader: trace.RequestHeader{RequestID: "w1"}, AnomalyID: res.Clone, To: trace.AnomalyInvestigating},
				&trace.CommentAnomalyRequest{RequestHeader: trace.RequestHeader{RequestID: "w2"}, AnomalyID: res.Clone, Comment: "asked both pharmacies for CCTV"},
				&trace.TransitionAnomalyRequest{RequestHeader: trace.RequestHeader{RequestID: "w3"}, AnomalyID: res.Clone, To: trace.AnomalyEscalated},
			} {
				fn := trace.TxTransitionAnomaly
				if i == 1 {
					fn = trace.TxCommentAnomaly
				}
				if err := insp.Submit(ctx, fn, req, &ar); err != nil {
					t.Fatal(err)
				}
			}
			evs, pos := sim.Events()

			ref := newStore(t, e)
			applyAll(t, ref, evs, pos, seq(len(evs)))
			want := dump(t, ref)

			t.Run("twice", func(t *testing.T) {
				for i := range evs {
					applied, err := ref.Apply(ctx, evs[i], pos[i])
					if err != nil || applied {
						t.Fatalf("re-apply %d: applied=%v err=%v", i, applied, err)
					}
				}
				if got := dump(t, ref); got != want {
					t.Errorf("state changed by re-applying:\n%s", diff(want, got))
				}
			})
			for _, name := range []string{"reversed", "shuffled"} {
				t.Run(name, func(t *testing.T) {
					order := seq(len(evs))
					if name == "reversed" {
						for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
							order[i], order[j] = order[j], order[i]
						}
					} else {
						rand.New(rand.NewSource(7)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
					}
					s := newStore(t, e)
					applyAll(t, s, evs, pos, order)
					applyAll(t, s, evs, pos, order[:len(order)/2]) // and some twice
					if got := dump(t, s); got != want {
						t.Errorf("state after %s replay differs:\n%s", name, diff(want, got))
					}
				})
			}
			a, err := ref.GetAnomaly(ctx, res.Clone)
			if err != nil {
				t.Fatal(err)
			}
			if a.Status != trace.AnomalyEscalated || len(a.Transitions) != 4 {
				t.Errorf("anomaly status %s with %d steps", a.Status, len(a.Transitions))
			}
		})
	}
}

func diff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d\nwant %s\n got %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(al), len(bl))
}

func TestApplyRejectsMismatchedPosition(t *testing.T) {
	s := newStore(t, dbtest.SQLite)
	ev := trace.Event{Type: trace.TxFlagAnomaly, TxID: "aaa", Timestamp: time.Now()}
	if _, err := s.Apply(context.Background(), ev, readmodel.Position{Block: 3, TxID: "bbb"}); err == nil {
		t.Fatal("position of another transaction accepted")
	}
	if _, err := s.Apply(context.Background(), trace.Event{Type: "X"}, readmodel.Position{Block: 3}); err == nil {
		t.Fatal("event without transaction ID accepted")
	}
}

// flagMany records n anomalies with varied severities through the in-memory ledger.
func flagMany(t *testing.T, sim *memledger.Ledger, n int, prefix string) {
	t.Helper()
	insp := sim.For(memledger.Inspector)
	for i := 0; i < n; i++ {
		var r trace.AnomalyResult
		err := insp.Submit(context.Background(), trace.TxFlagAnomaly, &trace.FlagAnomalyRequest{
			RequestHeader: trace.RequestHeader{RequestID: fmt.Sprintf("%s-%d", prefix, i)},
			Code:          trace.AnomalyManual, Severity: trace.Severities[i%4], Classification: trace.ClassProcess,
			Lot:     &trace.LotRef{GTIN: memledger.DemoGTIN, Lot: memledger.DemoLot},
			Message: fmt.Sprintf("manual finding %d", i),
		}, &r)
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestCursorPaginationStable(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			sim := newLedger(t, time.Time{})
			flagMany(t, sim, 23, "a")
			s := newStore(t, e)
			evs, pos := sim.Events()
			applyAll(t, s, evs, pos, seq(len(evs)))
			for _, sortSpec := range []string{"createdAt", "-createdAt", "severity", "-severity", "-updatedAt"} {
				t.Run(sortSpec, func(t *testing.T) {
					o, err := readmodel.ParseSort(sortSpec)
					if err != nil {
						t.Fatal(err)
					}
					full, err := s.ListAnomalies(ctx, readmodel.AnomalyFilter{}, o, readmodel.Page{Limit: 500})
					if err != nil {
						t.Fatal(err)
					}
					if len(full.Anomalies) != 23 || full.NextCursor != "" {
						t.Fatalf("full list: %d, cursor %q", len(full.Anomalies), full.NextCursor)
					}
					// Page by 5; halfway through, new anomalies arrive (they sort
					// after or before, but must not disturb the original rows).
					var got []string
					cursor := ""
					for pages := 0; ; pages++ {
						p, err := s.ListAnomalies(ctx, readmodel.AnomalyFilter{}, o, readmodel.Page{Limit: 5, Cursor: cursor})
						if err != nil {
							t.Fatal(err)
						}
						for _, a := range p.Anomalies {
							got = append(got, a.ID)
						}
						if pages == 1 {
							sim2 := newLedger(t, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
							flagMany(t, sim2, 3, "late")
							e2, p2 := sim2.Events()
							for i := range e2 {
								p2[i].Block += 1000
								e2[i].TxID = fmt.Sprintf("late-%d", i)
								p2[i].TxID = e2[i].TxID
								for j := range e2[i].Anomalies {
									e2[i].Anomalies[j].ID = fmt.Sprintf("AN-LATE-%d", i)
								}
								if _, err := s.Apply(ctx, e2[i], p2[i]); err != nil {
									t.Fatal(err)
								}
							}
						}
						if p.NextCursor == "" {
							break
						}
						cursor = p.NextCursor
						if pages > 20 {
							t.Fatal("pagination does not end")
						}
					}
					var orig []string
					seen := map[string]int{}
					for _, id := range got {
						seen[id]++
						if !strings.HasPrefix(id, "AN-LATE") {
							orig = append(orig, id)
						}
					}
					for id, n := range seen {
						if n > 1 {
							t.Errorf("%s listed %d times", id, n)
						}
					}
					var want []string
					for _, a := range full.Anomalies {
						want = append(want, a.ID)
					}
					if strings.Join(orig, ",") != strings.Join(want, ",") {
						t.Errorf("paged order\n got %v\nwant %v", orig, want)
					}
					// Remove the late rows for the next sort order.
					if _, err := s.DB().ExecContext(ctx, `DELETE FROM rm_anomalies WHERE id LIKE 'AN-LATE%'`); err != nil {
						t.Fatal(err)
					}
				})
			}
			if _, err := s.ListAnomalies(ctx, readmodel.AnomalyFilter{}, readmodel.Sort{Field: readmodel.SortSeverity}, readmodel.Page{Limit: 5, Cursor: "bogus"}); !isInvalid(err, "cursor") {
				t.Errorf("bogus cursor: %v", err)
			}
			first, _ := s.ListAnomalies(ctx, readmodel.AnomalyFilter{}, readmodel.Sort{Field: readmodel.SortSeverity}, readmodel.Page{Limit: 5})
			if _, err := s.ListAnomalies(ctx, readmodel.AnomalyFilter{}, readmodel.Sort{Field: readmodel.SortCreated}, readmodel.Page{Limit: 5, Cursor: first.NextCursor}); !isInvalid(err, "cursor") {
				t.Errorf("cursor of another sort order: %v", err)
			}
		})
	}
}

func isInvalid(err error, field string) bool {
	return err != nil && strings.HasPrefix(err.Error(), "invalid request: "+field+":")
}

func TestListFilters(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			sim, res := demo(t)
			flagMany(t, sim, 8, "f")
			var ar trace.AnomalyResult
			if err := sim.For(memledger.Inspector).Submit(ctx, trace.TxTransitionAnomaly, &trace.TransitionAnomalyRequest{
				RequestHeader: trace.RequestHeader{RequestID: "inv"}, AnomalyID: res.Clone, To: trace.AnomalyInvestigating}, &ar); err != nil {
				t.Fatal(err)
			}
			evs, pos := sim.Events()
			s := newStore(t, e)
			applyAll(t, s, evs, pos, seq(len(evs)))
			all, err := s.ListAnomalies(ctx, readmodel.AnomalyFilter{}, readmodel.Sort{Field: readmodel.SortCreated}, readmodel.Page{Limit: 500})
			if err != nil {
				t.Fatal(err)
			}
			clone, _ := s.GetAnomaly(ctx, res.Clone)
			tests := []struct {
				name string
				f    readmodel.AnomalyFilter
				keep func(a trace.Anomaly) bool
			}{
				{"type", readmodel.AnomalyFilter{Codes: []trace.AnomalyCode{trace.AnomalyClone}}, func(a trace.Anomaly) bool { return a.Code == trace.AnomalyClone }},
				{"severities", readmodel.AnomalyFilter{Severities: []trace.Severity{trace.SeverityHigh, trace.SeverityCritical}},
					func(a trace.Anomaly) bool {
						return a.Severity == trace.SeverityHigh || a.Severity == trace.SeverityCritical
					}},
				{"classification", readmodel.AnomalyFilter{Classifications: []trace.Classification{trace.ClassProcess}}, func(a trace.Anomaly) bool { return a.Classification == trace.ClassProcess }},
				{"status", readmodel.AnomalyFilter{Statuses: []trace.AnomalyStatus{trace.AnomalyNew}}, func(a trace.Anomaly) bool { return a.Status == trace.AnomalyNew }},
				{"gtin+lot", readmodel.AnomalyFilter{GTIN: memledger.DemoGTIN2, Lot: memledger.DemoLot2}, func(a trace.Anomaly) bool { return a.Lot != nil && a.Lot.Lot == memledger.DemoLot2 }},
				{"gln of the counterpart", readmodel.AnomalyFilter{GLN: memledger.PharmCentral.GLN}, func(a trace.Anomaly) bool {
					return a.Site == memledger.PharmCentral.GLN || (a.Evidence.Counterpart != nil && a.Evidence.Counterpart.GLN == memledger.PharmCentral.GLN)
				}},
				{"org", readmodel.AnomalyFilter{Org: "PharmacyMSP"}, func(a trace.Anomaly) bool { return a.ReportedBy.MSP == "PharmacyMSP" }},
				{"reported by", readmodel.AnomalyFilter{ReportedBy: "RegulatorMSP"}, func(a trace.Anomaly) bool { return a.ReportedBy.MSP == "RegulatorMSP" }},
				{"time range", readmodel.AnomalyFilter{From: clone.CreatedAt, To: clone.CreatedAt.Add(time.Millisecond)}, func(a trace.Anomaly) bool { return a.CreatedAt.Equal(clone.CreatedAt) }},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					got, err := s.ListAnomalies(ctx, tc.f, readmodel.Sort{Field: readmodel.SortCreated}, readmodel.Page{Limit: 500})
					if err != nil {
						t.Fatal(err)
					}
					var want []string
					for _, a := range all.Anomalies {
						if tc.keep(a) {
							want = append(want, a.ID)
						}
					}
					var ids []string
					for _, a := range got.Anomalies {
						ids = append(ids, a.ID)
					}
					if len(want) == 0 || len(want) == len(all.Anomalies) {
						t.Fatalf("filter does not discriminate (%d of %d)", len(want), len(all.Anomalies))
					}
					if strings.Join(ids, ",") != strings.Join(want, ",") {
						t.Errorf("got %v\nwant %v", ids, want)
					}
				})
			}
			bad := []struct {
				f     readmodel.AnomalyFilter
				field string
			}{
				{readmodel.AnomalyFilter{Codes: []trace.AnomalyCode{"NOPE"}}, "type"},
				{readmodel.AnomalyFilter{GTIN: "123"}, "gtin"},
				{readmodel.AnomalyFilter{GLN: "4300123000015"}, "gln"},
				{readmodel.AnomalyFilter{From: time.Now(), To: time.Now().Add(-time.Hour)}, "to"},
			}
			for _, b := range bad {
				if _, err := s.ListAnomalies(ctx, b.f, readmodel.Sort{}, readmodel.Page{}); !isInvalid(err, b.field) {
					t.Errorf("filter %+v: %v, want invalid %s", b.f, err, b.field)
				}
			}
		})
	}
}

func TestRebuildReplaysFromZero(t *testing.T) {
	ctx := context.Background()
	sim, res := demo(t)
	s := newStore(t, dbtest.SQLite)
	evs, pos := sim.Events()
	applyAll(t, s, evs, pos, seq(len(evs)))
	want := dump(t, s)
	// Damage the read model, then rebuild from the (fake) ledger.
	if _, err := s.DB().ExecContext(ctx, `DELETE FROM rm_anomalies`); err != nil {
		t.Fatal(err)
	}
	out, err := readmodel.Rebuild(ctx, s, sim, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if out.Events != len(evs) || out.Last != pos[len(pos)-1] {
		t.Errorf("rebuild applied %d events up to %v, want %d up to %v", out.Events, out.Last, len(evs), pos[len(pos)-1])
	}
	if got := dump(t, s); got != want {
		t.Errorf("rebuilt state differs:\n%s", diff(want, got))
	}
	if _, err := s.GetAnomaly(ctx, res.Clone); err != nil {
		t.Error(err)
	}
}

func TestConsumerFollowsLedgerWithinASecond(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim := newLedger(t, time.Time{})
	s := newStore(t, dbtest.SQLite)
	c := readmodel.NewConsumer(s, sim)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	flagMany(t, sim, 1, "live")
	evs, _ := sim.Events()
	id := evs[0].Anomalies[0].ID
	deadline := time.Now().Add(time.Second)
	for {
		if _, err := s.GetAnomaly(ctx, id); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("committed anomaly not visible within one second")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestMigrateIsIdempotentAndResetKeepsOtherComponents(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t, dbtest.SQLite)
	s := readmodel.New(d)
	for i := 0; i < 2; i++ {
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := d.Version(ctx, readmodel.Component); v != 3 {
		t.Errorf("version %d", v)
	}
	if _, err := d.ExecContext(ctx, `CREATE TABLE other_component (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM other_component`).Scan(&n); err != nil {
		t.Errorf("reset dropped another component's table: %v", err)
	}
	if cp, err := s.Checkpoint(ctx); err != nil || !cp.IsZero() {
		t.Errorf("checkpoint after reset = %v, %v", cp, err)
	}
	_ = db.SQLite
}
