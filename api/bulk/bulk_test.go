package bulk_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/api/bulk"
	"github.com/pharmatrace/pharmatrace/api/internal/dbtest"
	"github.com/pharmatrace/pharmatrace/trace"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Run(m)) }

// gatedLedger answers every write ok once a token is in gate (or at once
// when gate is nil), and counts the calls per request ID.
type gatedLedger struct {
	gate chan struct{}
	mu   sync.Mutex
	sent map[string]int
}

func (l *gatedLedger) Submit(ctx context.Context, fn string, req trace.WriteRequest, result any) error {
	if l.gate != nil {
		select {
		case <-l.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	l.mu.Lock()
	l.sent[req.ID()]++
	l.mu.Unlock()
	res := result.(*trace.ScanResult)
	res.Outcome = trace.Accepted("dispensed")
	res.TxID = "tx-" + req.ID()
	return nil
}

func (l *gatedLedger) Evaluate(context.Context, string, trace.Request, any) error {
	return errors.New("not used")
}

func packs(n int) []bulk.Pack {
	out := make([]bulk.Pack, n)
	for i := range out {
		out[i] = bulk.Pack{Scan: trace.Scan{GTIN: "04012345000016", Serial: fmt.Sprintf("S%04d", i), Lot: "L1", Expiry: "301231"}}
	}
	return out
}

// TestInterruptedRequestResumes: the API stops mid-request (Close); the
// request is interrupted with its unfinished packs pending; sent again to
// a new manager over the same database it completes, and no pack whose
// outcome was recorded is sent to the ledger twice.
func TestInterruptedRequestResumes(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			d := dbtest.Open(t, e)
			m := bulk.NewManager(d, bulk.WithWorkers(4))
			if err := m.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			spec := bulk.Spec{ID: "rx-1", MSP: "PharmacyMSP", By: "Pharmacy/pharm-central", Op: bulk.OpDispense}
			list := packs(50)
			led := &gatedLedger{gate: make(chan struct{}), sent: map[string]int{}}
			j, done, err := m.Start(ctx, led, spec, list)
			if err != nil || j.Status != bulk.JobRunning || j.Total != 50 || j.Counts.Pending != 50 {
				t.Fatalf("start: %+v %v", j, err)
			}
			for range 10 {
				led.gate <- struct{}{}
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				j, err = m.Get(ctx, spec.MSP, spec.ID)
				if err != nil {
					t.Fatal(err)
				}
				if j.Counts.OK == 10 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("outcomes not recorded: %+v", j.Counts)
				}
				time.Sleep(20 * time.Millisecond)
			}
			m.Close()
			<-done
			j, _ = m.Get(ctx, spec.MSP, spec.ID)
			if j.Status != bulk.JobInterrupted || j.Counts != (bulk.Counts{OK: 10, Pending: 40}) {
				t.Fatalf("after Close: %s %+v", j.Status, j.Counts)
			}
			recorded := map[string]bool{}
			for _, it := range j.Items {
				if it.Status == bulk.ItemOK {
					recorded[it.RequestID] = true
				}
			}

			m2 := bulk.NewManager(d)
			t.Cleanup(m2.Close)
			if err := m2.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			led.gate = nil
			if _, _, err := m2.Start(ctx, led, bulk.Spec{ID: "rx-1", MSP: "PharmacyMSP", Op: bulk.OpDispense}, list[:49]); !errors.Is(err, trace.ErrConflict) {
				t.Errorf("same ID, another list: %v", err)
			}
			_, done, err = m2.Start(ctx, led, spec, list)
			if err != nil {
				t.Fatal(err)
			}
			<-done
			j, _ = m2.Get(ctx, spec.MSP, spec.ID)
			if j.Status != bulk.JobCompleted || j.Counts != (bulk.Counts{OK: 50}) {
				t.Fatalf("resumed: %s %+v", j.Status, j.Counts)
			}
			for id := range recorded {
				if n := led.sent[id]; n != 1 {
					t.Errorf("%s sent %d times", id, n)
				}
			}
			for _, it := range j.Items {
				if it.TxID != "tx-"+it.RequestID || it.RequestID != bulk.RequestID("rx-1", bulk.OpDispense, it.GTIN, it.Serial) {
					t.Errorf("item %+v", it)
				}
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		spec  bulk.Spec
		field string
	}{
		{bulk.Spec{ID: "", MSP: "M", Op: bulk.OpVerify}, "requestId"},
		{bulk.Spec{ID: "a b", MSP: "M", Op: bulk.OpVerify}, "requestId"},
		{bulk.Spec{ID: "x", MSP: "M", Op: "ship"}, "operation"},
		{bulk.Spec{ID: "x", MSP: "M", Op: bulk.OpDecommission, Reason: trace.ReasonDispensed}, "reason"},
		{bulk.Spec{ID: "x", MSP: "M", Op: bulk.OpDispense, Reason: trace.ReasonLocked}, "reason"},
	} {
		err := tc.spec.Validate()
		if !errors.Is(err, trace.ErrInvalidRequest) || err == nil {
			t.Errorf("%+v: %v, want invalid %s", tc.spec, err, tc.field)
		}
	}
	if id := bulk.RequestID("0123456789012345678901234567890123456789", bulk.OpDecommission, "04012345000016", "ABCDEFGHIJKLMNOPQRST"); trace.CheckID(id) != nil {
		t.Errorf("derived request ID %q is not a valid ledger request ID: %v", id, trace.CheckID(id))
	}
}
