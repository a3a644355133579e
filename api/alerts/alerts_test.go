package alerts_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/api/alerts"
	"github.com/pharmatrace/pharmatrace/api/db"
	"github.com/pharmatrace/pharmatrace/api/internal/dbtest"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Run(m)) }

type fixedCheckpoint readmodel.Position

func (c fixedCheckpoint) Checkpoint(context.Context) (readmodel.Position, error) {
	return readmodel.Position(c), nil
}

func anomaly(id, gtin string) readmodel.NewAnomaly {
	return readmodel.NewAnomaly{
		Anomaly:      trace.Anomaly{ID: id, Code: trace.AnomalyClone, Pack: &trace.PackRef{GTIN: gtin, Serial: "S1"}, ReportedBy: trace.Actor{MSP: "PharmacyMSP", GLN: "4300123000021"}},
		ProductOwner: "ManufacturerMSP", ProductGCP: "4012345",
	}
}

// apply runs the hook as the read model does: inside a transaction, then
// after the commit.
func apply(t *testing.T, d *db.DB, s *alerts.Service, pos readmodel.Position, created ...readmodel.NewAnomaly) {
	t.Helper()
	if err := d.InTx(context.Background(), func(tx *db.Tx) error { return s.AnomaliesInTx(context.Background(), tx, pos, created) }); err != nil {
		t.Fatal(err)
	}
	s.AnomaliesCommitted(pos, created)
}

// TestQueueAndRetries, on both engines: a subscription receives only what
// its scope sees and what was applied after it was created, each anomaly
// once however often the event is replayed; a failing endpoint is retried
// with growing waits until the last attempt, then the delivery fails.
func TestQueueAndRetries(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			d := dbtest.Open(t, e)
			var mu sync.Mutex
			var times []time.Time
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			defer srv.Close()
			s := alerts.New(d, fixedCheckpoint{Block: 10, Index: 0, TxID: "tx10"}, alerts.WithConfig(alerts.Config{
				FirstRetry: 40 * time.Millisecond, MaxRetry: 100 * time.Millisecond, MaxAttempts: 4, Timeout: time.Second, Senders: 2, Poll: time.Second}))
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			alpha := alerts.Subscriber{Owner: "Manufacturer/mfr-alpha", MSP: "ManufacturerMSP", Role: trace.RoleManufacturer, GLN: "4012345000009", GCPs: "4012345"}
			beta := alerts.Subscriber{Owner: "Manufacturer/mfr-beta", MSP: "ManufacturerMSP", Role: trace.RoleManufacturer, GLN: "5098765000002", GCPs: "5098765"}
			subA, err := s.Subscribe(ctx, alpha, srv.URL, "")
			if err != nil {
				t.Fatal(err)
			}
			subB, err := s.Subscribe(ctx, beta, srv.URL, "")
			if err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- s.Run(rctx) }()
			defer func() { cancel(); <-done }()

			apply(t, d, s, readmodel.Position{Block: 9, TxID: "tx9"}, anomaly("AN-old", "04012345000016")) // before the subscriptions
			apply(t, d, s, readmodel.Position{Block: 11, TxID: "tx11"}, anomaly("AN-1", "04012345000016"))
			apply(t, d, s, readmodel.Position{Block: 11, TxID: "tx11"}, anomaly("AN-1", "04012345000016")) // replayed
			deadline := time.Now().Add(5 * time.Second)
			for {
				list, err := s.Deliveries(ctx, alpha.Owner, subA.ID, "", 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(list) == 1 && list[0].Status == alerts.DeliveryFailed {
					if list[0].AnomalyID != "AN-1" || list[0].Attempts != 4 || len(list[0].History) != 4 || list[0].History[3].StatusCode != 503 {
						t.Errorf("failed delivery: %+v", list[0])
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("deliveries: %+v", list)
				}
				time.Sleep(20 * time.Millisecond)
			}
			mu.Lock()
			if len(times) != 4 {
				t.Errorf("%d requests, want 4 (one delivery, 4 attempts)", len(times))
			}
			for i := 2; i < len(times); i++ {
				if gap := times[i].Sub(times[i-1]); gap < 35*time.Millisecond {
					t.Errorf("attempt %d only %s after the previous one", i+1, gap)
				}
			}
			mu.Unlock()
			if list, _ := s.Deliveries(ctx, beta.Owner, subB.ID, "", 10); len(list) != 0 {
				t.Errorf("mfr-beta got deliveries about mfr-alpha's product: %+v", list)
			}
			if _, err := s.Deliveries(ctx, beta.Owner, subA.ID, "", 10); err == nil {
				t.Error("mfr-beta reads mfr-alpha's delivery log")
			}
			sub, err := s.Subscription(ctx, alpha.Owner, subA.ID)
			if err != nil || sub.Failed != 1 || sub.Secret != "" {
				t.Errorf("subscription: %+v %v", sub, err)
			}
		})
	}
}

func TestSignature(t *testing.T) {
	body := []byte(`{"id":"dl-1"}`)
	sig := alerts.Sign("whsec_x", body)
	if !alerts.Verify("whsec_x", body, sig) || alerts.Verify("whsec_y", body, sig) || alerts.Verify("whsec_x", []byte(`{"id":"dl-2"}`), sig) {
		t.Error("signature does not bind secret and body")
	}
	// Known answer: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
	if got := alerts.Sign("key", []byte("The quick brown fox jumps over the lazy dog")); got != "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8" {
		t.Errorf("Sign = %s", got)
	}
}
