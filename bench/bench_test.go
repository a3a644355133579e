package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSummarizeNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	got := Summarize(s)
	want := Summary{N: 100, P50: 50 * time.Millisecond, P95: 95 * time.Millisecond, P99: 99 * time.Millisecond,
		Max: 100 * time.Millisecond, Mean: 50500 * time.Microsecond}
	if got != want {
		t.Fatalf("Summarize = %+v, want %+v", got, want)
	}
	if (Summarize(nil) != Summary{}) {
		t.Fatal("empty input must give a zero summary")
	}
}

func TestClosedLoopCountsOnlySuccesses(t *testing.T) {
	boom := errors.New("boom")
	r := ClosedLoop(context.Background(), 4, 50*time.Millisecond, func(ctx context.Context, client, seq int) error {
		time.Sleep(time.Millisecond)
		if seq%2 == 1 {
			return boom
		}
		return nil
	})
	if r.OK == 0 || r.Errors == 0 || !errors.Is(r.FirstErr, boom) {
		t.Fatalf("result %+v: want both successes and errors, first error boom", r)
	}
	if r.Latency.N != r.OK {
		t.Fatalf("latency samples %d != successes %d", r.Latency.N, r.OK)
	}
}

func TestFigureCheckAndMarkdown(t *testing.T) {
	tests := []struct {
		f    Figure
		want bool
	}{
		{Figure{Value: 9, Target: "<= 10"}, true},
		{Figure{Value: 11, Target: "<= 10"}, false},
		{Figure{Value: 250, Target: ">= 200"}, true},
		{Figure{Value: 150, Target: ">= 200"}, false},
	}
	for _, tt := range tests {
		if got := tt.f.Check(); got.Met == nil || *got.Met != tt.want {
			t.Errorf("%+v.Check().Met = %v, want %v", tt.f, got.Met, tt.want)
		}
	}
	if (Figure{Value: 1}).Check().Met != nil {
		t.Error("a figure without target must not be judged")
	}
	r := &Report{Machine: Machine{CPUs: 2}, Figures: []Figure{Figure{Scenario: "baseline", Metric: "tx/s", Value: 300, Unit: "tx/s", Target: ">= 200"}.Check()}}
	if md := r.Markdown(); !strings.Contains(md, "| baseline | tx/s | 300 tx/s | >= 200 | yes |") {
		t.Fatalf("markdown row missing:\n%s", md)
	}
}
