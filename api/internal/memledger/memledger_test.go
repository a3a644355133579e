package memledger_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

func TestDemoRunsTheContractAndStreamsItsEvents(t *testing.T) {
	l, err := memledger.New(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	res, err := l.Demo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evs, pos := l.Events()
	if len(evs) == 0 || len(evs) != len(pos) {
		t.Fatalf("%d events, %d positions", len(evs), len(pos))
	}
	for i := 1; i < len(pos); i++ {
		if !pos[i].After(pos[i-1]) {
			t.Fatalf("positions out of order at %d: %+v after %+v", i, pos[i], pos[i-1])
		}
	}
	// The clone anomaly is the contract's, with its pack and the second site.
	var got trace.GetAnomalyResult
	if err := l.For(memledger.Inspector).Evaluate(ctx, trace.TxGetAnomaly, &trace.AnomalyQuery{ID: res.Clone}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Anomaly.Code != trace.AnomalyClone || got.Anomaly.Site != memledger.PharmStation.GLN {
		t.Errorf("clone anomaly: %+v", got.Anomaly)
	}
	// Stream from the middle: exactly the later events, then a new one live.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var streamed []readmodel.Position
	done := make(chan error, 1)
	go func() {
		done <- l.Stream(sctx, pos[2], func(_ context.Context, _ trace.Event, p readmodel.Position) error {
			streamed = append(streamed, p)
			if len(streamed) == len(pos)-3+1 {
				cancel()
			}
			return nil
		})
	}()
	var fr trace.AnomalyResult
	if err := l.For(memledger.Inspector).Submit(ctx, trace.TxFlagAnomaly, &trace.FlagAnomalyRequest{RequestHeader: trace.RequestHeader{RequestID: "live"},
		Code: trace.AnomalyManual, Severity: trace.SeverityLow, Classification: trace.ClassProcess, Message: "live"}, &fr); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("stream: %v", err)
	}
	if len(streamed) != len(pos)-3+1 || streamed[0] != pos[3] {
		t.Errorf("streamed %v, want from %v", streamed, pos[3])
	}
}

func TestErrorsKeepTheirClass(t *testing.T) {
	l, err := memledger.New(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// mfr-alpha without its company prefix: the contract denies.
	err = l.For(memledger.MfrAlpha).Submit(t.Context(), trace.TxRegisterProduct, &trace.RegisterProductRequest{RequestHeader: trace.RequestHeader{RequestID: "p"},
		GTIN: memledger.DemoGTIN, Name: "X", Form: "tablet", Strength: "1 mg", PackSize: 1}, &trace.ProductResult{})
	if !errors.Is(trace.ClassifyError(err), trace.ErrAccessDenied) || !strings.Contains(err.Error(), "gcp") {
		t.Errorf("register without a prefix: %v", err)
	}
	boom := errors.New("boom")
	l.FailNext(boom)
	if err := l.For(memledger.Inspector).Submit(t.Context(), trace.TxFlagAnomaly, &trace.FlagAnomalyRequest{}, nil); !errors.Is(err, boom) {
		t.Errorf("FailNext: %v", err)
	}
	if n := l.SubmitCount(trace.TxFlagAnomaly); n != 1 {
		t.Errorf("SubmitCount = %d", n)
	}
}
