package outbox

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// frame is a typical GS1 DataMatrix pharma frame.
var benchFrame = []byte("]d201095011010209171725123110LOT12345\x1d21SERIAL0000001234")

// BenchmarkAppend measures one durable append per scan: one commit, two
// fdatasyncs.
func BenchmarkAppend(b *testing.B) {
	q := openTest(b, filepath.Join(b.TempDir(), "q.db"), nil)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := q.Append(ctx, Entry{Scanner: "s", Frame: benchFrame, Payload: benchFrame}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scans/s")
}

// BenchmarkAppendBatch measures group commit: scans per second when
// appended in batches.
func BenchmarkAppendBatch(b *testing.B) {
	for _, size := range []int{8, 64, 256} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			q := openTest(b, filepath.Join(b.TempDir(), "q.db"), nil)
			ctx := context.Background()
			entries := make([]Entry, size)
			for i := range entries {
				entries[i] = Entry{Scanner: "s", Frame: benchFrame, Payload: benchFrame}
			}
			for b.Loop() {
				if _, err := q.AppendBatch(ctx, entries); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "scans/s")
		})
	}
}

// TestAppendThroughput appends 2,000 scans one fsync each and reports the
// rate and latency percentiles; it fails only if the rate is absurdly low
// (under 100/s), which would mean the disk cannot serve a dock.
func TestAppendThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 fsyncs")
	}
	q := openTest(t, filepath.Join(t.TempDir(), "q.db"), nil)
	ctx := context.Background()
	const n = 2000
	lat := make([]time.Duration, n)
	start := time.Now()
	for i := range n {
		t0 := time.Now()
		if _, err := q.Append(ctx, Entry{Scanner: "s", Frame: benchFrame, Payload: benchFrame}); err != nil {
			t.Fatal(err)
		}
		lat[i] = time.Since(t0)
	}
	el := time.Since(start)
	slices.Sort(lat)
	rate := float64(n) / el.Seconds()
	t.Logf("%d single appends in %v: %.0f scans/s; latency p50 %v p99 %v max %v",
		n, el.Round(time.Millisecond), rate, lat[n/2], lat[n*99/100], lat[n-1])
	if rate < 100 {
		t.Errorf("append rate %.0f/s is below 100/s", rate)
	}
}
