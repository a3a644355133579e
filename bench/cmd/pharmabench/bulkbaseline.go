package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/bench"
	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
)

// Bulk baseline: the keys a bulk commissioning writes, written by the
// probe's trivial PutMany — same network, same chaincode server, same
// transactions per second shape (10,000 keys per transaction: a pack and an
// index key for each of 5,000 serials; 300-byte values, about a pack
// record's; four writers in parallel) — so that the commissioning figure is
// a ratio to what Fabric itself costs. The baseline writes public state
// under MAJORITY (three endorsers); a commissioning writes a manufacturer's
// collection under AND(manufacturer, regulator): two endorsers, plus the
// private data stores.
const (
	bulkKeysPerTx    = 10_000
	bulkValueSize    = 300
	bulkWriters      = 4
	keysPerSerial    = 2
	serialsPerBulkTx = bulkKeysPerTx / keysPerSerial
)

func bulkTotal(e *env) int {
	total := 1_000_000
	if e.quick {
		total = 20_000
	}
	if v := os.Getenv("BULK_N"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			total = n
		}
	}
	return total
}

func bulkBaseline(ctx context.Context, e *env) ([]bench.Figure, error) {
	c, closeProbe, err := probeContract(e)
	if err != nil {
		return nil, err
	}
	defer closeProbe()
	txs := (bulkTotal(e) + serialsPerBulkTx - 1) / serialsPerBulkTx
	run := time.Now().UnixNano()
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	start := time.Now()
	for range bulkWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				_, err := c.SubmitTransaction("PutMany", fmt.Sprintf("bulk-%d-%d", run, i), strconv.Itoa(bulkKeysPerTx), strconv.Itoa(bulkValueSize))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("bulk baseline: %w", fabconn.Describe(err))
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range txs {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	el := time.Since(start)
	e.bulkBaselineRate = float64(txs*serialsPerBulkTx) / el.Seconds()
	return []bench.Figure{{Scenario: "bulk baseline (raw put)", Metric: "serial-equivalents written per second", Value: e.bulkBaselineRate, Unit: "/s",
		Note: fmt.Sprintf("%d transactions of %d keys (%d-byte values) in %s, %d in parallel", txs, bulkKeysPerTx, bulkValueSize, el.Round(time.Second), bulkWriters)}}, nil
}
