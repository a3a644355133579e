package commission_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/api/commission"
	"github.com/pharmatrace/pharmatrace/api/internal/dbtest"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/trace"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Run(m)) }

func csvOf(header bool, serials ...string) string {
	var b strings.Builder
	if header {
		b.WriteString("serial\r\n")
	}
	for _, s := range serials {
		b.WriteString(s + "\n")
	}
	return b.String()
}

func serials(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("SN%08d", i+1)
	}
	return out
}

func TestParse(t *testing.T) {
	tenK := serials(10000)
	bad := append([]string(nil), tenK...)
	bad[7342] = "BAD SERIAL" // space: not GS1 character set 82
	tests := []struct {
		name    string
		f       commission.Format
		body    string
		want    int
		badRows []int
		errPart string
	}{
		{"csv with header", commission.CSV, csvOf(true, "A1", "B2", "C3"), 3, nil, ""},
		{"csv without header, BOM", commission.CSV, "\ufeff" + csvOf(false, "A1", "B2"), 2, nil, ""},
		{"csv one bad row among 10,000", commission.CSV, csvOf(true, bad...), 0, []int{7344}, ""},
		{"csv too long and duplicate", commission.CSV, csvOf(false, "A1", strings.Repeat("X", 21), "A1"), 0, []int{2, 3}, ""},
		{"csv two fields", commission.CSV, "A1\nB2,C3\n", 0, []int{2}, ""},
		{"csv empty", commission.CSV, "serial\n", 0, nil, "no serial"},
		{"json", commission.JSON, `["A1","B2"]`, 2, nil, ""},
		{"json wrong type", commission.JSON, `["A1",42,"B2"]`, 0, []int{2}, ""},
		{"json not an array", commission.JSON, `{"serials":[]}`, 0, nil, "want a JSON array"},
		{"json truncated", commission.JSON, `["A1",`, 0, nil, "JSON"},
		{"json trailing data", commission.JSON, `["A1"] ["B2"]`, 0, nil, "after the JSON array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := commission.Parse(strings.NewReader(tc.body), tc.f, 20000)
			var ve *commission.ValidationError
			switch {
			case tc.badRows != nil:
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want a ValidationError", err)
				}
				var rows []int
				for _, r := range ve.Rows {
					rows = append(rows, r.Row)
				}
				if fmt.Sprint(rows) != fmt.Sprint(tc.badRows) || ve.Total != len(tc.badRows) || got != nil {
					t.Errorf("bad rows %v (total %d), want %v", rows, ve.Total, tc.badRows)
				}
				if !errors.Is(err, trace.ErrInvalidRequest) {
					t.Error("validation error is not an invalid request")
				}
			case tc.errPart != "":
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Errorf("err = %v, want %q", err, tc.errPart)
				}
			default:
				if err != nil || len(got) != tc.want {
					t.Errorf("got %d serials, %v; want %d", len(got), err, tc.want)
				}
			}
		})
	}
	if _, err := commission.Parse(strings.NewReader(csvOf(false, serials(11)...)), commission.CSV, 10); !errors.Is(err, commission.ErrTooMany) {
		t.Errorf("11 serials with max 10: %v", err)
	}
}

func wait(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("upload did not end")
	}
}

func TestManagerBatchesAndResumes(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			sim, err := memledger.New(time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			var pr trace.ProductResult
			if err := sim.For(memledger.MfrAlpha, memledger.DemoGCPs[memledger.MfrAlpha.GLN]...).Submit(ctx, trace.TxRegisterProduct, &trace.RegisterProductRequest{RequestHeader: trace.RequestHeader{RequestID: "p"},
				GTIN: memledger.DemoGTIN, Name: "X", Form: "tablet", Strength: "1 mg", PackSize: 1}, &pr); err != nil {
				t.Fatal(err)
			}
			m := commission.NewManager(dbtest.Open(t, e), commission.WithBatchSize(1000))
			defer m.Close()
			if err := m.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			list := serials(4500)
			spec := commission.Spec{ID: "up-1", MSP: "ManufacturerMSP", By: "Manufacturer/mfr-alpha", GTIN: memledger.DemoGTIN, Lot: "L1", Expiry: "301231"}
			led := &failingAt{Caller: sim.For(memledger.MfrAlpha, memledger.DemoGCPs[memledger.MfrAlpha.GLN]...), failAt: 2}
			up, done, err := m.Start(ctx, led, spec, list)
			if err != nil {
				t.Fatal(err)
			}
			if up.BatchCount != 5 || up.Batches[4].Serials != 500 || up.Batches[2].RequestID != "cm-up-1-00002" {
				t.Errorf("batches: %+v", up.Batches)
			}
			wait(t, done)
			up, _ = m.Get(ctx, spec.MSP, spec.ID)
			if up.Status != commission.StatusFailed || up.Confirmed != 2 || up.Commissioned != 2000 || !strings.Contains(up.Error, "rows 2001-3000") {
				t.Fatalf("after failure: %s confirmed=%d commissioned=%d err=%q", up.Status, up.Confirmed, up.Commissioned, up.Error)
			}
			// Another list under the same ID is a conflict.
			if _, _, err := m.Start(ctx, led, spec, serials(4499)); !errors.Is(err, trace.ErrConflict) {
				t.Errorf("different list: %v", err)
			}
			// Resume: batches 0 and 1 are not submitted again.
			before := sim.SubmitCount(trace.TxCommissionPacks)
			_, done, err = m.Start(ctx, led, spec, list)
			if err != nil {
				t.Fatal(err)
			}
			wait(t, done)
			up, _ = m.Get(ctx, spec.MSP, spec.ID)
			if up.Status != commission.StatusCompleted || up.Commissioned != 4500 {
				t.Fatalf("after resume: %s %d (%s)", up.Status, up.Commissioned, up.Error)
			}
			if n := sim.SubmitCount(trace.TxCommissionPacks) - before; n != 3 {
				t.Errorf("resume submitted %d batches, want 3", n)
			}
			var lot trace.GetLotResult
			if err := sim.For(memledger.MfrAlpha, memledger.DemoGCPs[memledger.MfrAlpha.GLN]...).Evaluate(ctx, trace.TxGetLot, &trace.LotQuery{GTIN: memledger.DemoGTIN, Lot: "L1"}, &lot); err != nil || lot.Lot.PackCount != 4500 {
				t.Errorf("lot pack count %d, %v", lot.Lot.PackCount, err)
			}
			// A completed upload sent again does nothing.
			before = sim.SubmitCount(trace.TxCommissionPacks)
			up, done, err = m.Start(ctx, led, spec, list)
			if err != nil || up.Status != commission.StatusCompleted {
				t.Fatalf("re-upload of a completed list: %v %s", err, up.Status)
			}
			wait(t, done)
			if sim.SubmitCount(trace.TxCommissionPacks) != before {
				t.Error("completed upload submitted again")
			}
		})
	}
}

// failingAt fails the first submission of batch failAt with an
// infrastructure error, as a dead network would.
type failingAt struct {
	*memledger.Caller
	failAt int
	failed bool
}

func (f *failingAt) Submit(ctx context.Context, fn string, req trace.WriteRequest, res any) error {
	if !f.failed && req.ID() == commission.RequestID("up-1", f.failAt) {
		f.failed = true
		return errors.New("gateway: unavailable: every endpoint failed")
	}
	return f.Caller.Submit(ctx, fn, req, res)
}

func TestSpecValidate(t *testing.T) {
	ok := commission.Spec{ID: "u", MSP: "M", GTIN: memledger.DemoGTIN, Lot: "L", Expiry: "301231"}
	for field, mod := range map[string]func(*commission.Spec){
		"uploadId": func(s *commission.Spec) { s.ID = "a/b" },
		"gtin":     func(s *commission.Spec) { s.GTIN = "04012345000015" },
		"lot":      func(s *commission.Spec) { s.Lot = strings.Repeat("L", 21) },
		"expiry":   func(s *commission.Spec) { s.Expiry = "301331" },
	} {
		s := ok
		mod(&s)
		if err := s.Validate(); err == nil || !strings.HasPrefix(err.Error(), "invalid request: "+field+":") {
			t.Errorf("%s: %v", field, err)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
}
