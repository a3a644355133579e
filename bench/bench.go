// Package bench is PharmaTrace's performance harness: a closed-loop load
// generator, latency summaries and the report (markdown table + JSON) that
// `make bench` writes, with the machine and Fabric settings beside every
// figure so that numbers are never quoted without their context.
package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Summary describes a latency distribution.
type Summary struct {
	N    int           `json:"n"`
	P50  time.Duration `json:"p50"`
	P95  time.Duration `json:"p95"`
	P99  time.Duration `json:"p99"`
	Max  time.Duration `json:"max"`
	Mean time.Duration `json:"mean"`
}

// Summarize computes percentiles (nearest-rank) of samples; it sorts them.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(samples)))) - 1
		return samples[max(i, 0)]
	}
	return Summary{N: len(samples), P50: rank(0.50), P95: rank(0.95), P99: rank(0.99),
		Max: samples[len(samples)-1], Mean: sum / time.Duration(len(samples))}
}

// LoadResult is what a closed-loop run measured.
type LoadResult struct {
	Clients  int
	Elapsed  time.Duration
	OK       int
	Errors   int
	FirstErr error
	Latency  Summary
}

// PerSecond is successful operations per second.
func (r LoadResult) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// ClosedLoop runs clients goroutines, each calling op back to back with an
// increasing per-client sequence number, until d has passed or ctx ends.
// Only successful operations count towards latency and throughput.
func ClosedLoop(ctx context.Context, clients int, d time.Duration, op func(ctx context.Context, client, seq int) error) LoadResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu       sync.Mutex
		all      []time.Duration
		errs     atomic.Int64
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for seq := 0; ctx.Err() == nil; seq++ {
				t0 := time.Now()
				err := op(ctx, c, seq)
				if err != nil {
					if ctx.Err() != nil {
						break // cut off by the end of the run, not a failure
					}
					if errs.Add(1) == 1 {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return LoadResult{Clients: clients, Elapsed: time.Since(start), OK: len(all), Errors: int(errs.Load()),
		FirstErr: firstErr, Latency: Summarize(all)}
}

// Figure is one reported number with its target, if it has one.
type Figure struct {
	Scenario string  `json:"scenario"`
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// Target is e.g. "<= 10" or ">= 200"; empty when the figure has none.
	Target string `json:"target,omitempty"`
	Met    *bool  `json:"met,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Ms converts a duration to fractional milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Check sets Met from Target.
func (f Figure) Check() Figure {
	var op string
	var want float64
	if _, err := fmt.Sscanf(f.Target, "%s %g", &op, &want); err != nil {
		return f
	}
	met := (op == "<=" && f.Value <= want) || (op == ">=" && f.Value >= want)
	f.Met = &met
	return f
}
