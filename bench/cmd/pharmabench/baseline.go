package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/pharmatrace/pharmatrace/bench"
	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
)

// baselineClients is the concurrency of the raw-Fabric baseline.
const baselineClients = 32

// baseline: a trivial single-key put (the probe contract) on the same
// chaincode, network and endorsement policy, at 32 concurrent clients, each
// writing its own keys (no MVCC conflicts).
func baseline(ctx context.Context, e *env) ([]bench.Figure, error) {
	c, closeProbe, err := probeContract(e)
	if err != nil {
		return nil, err
	}
	defer closeProbe()
	d := 30 * time.Second
	if e.quick {
		d = 10 * time.Second
	}
	run := time.Now().UnixNano()
	r := bench.ClosedLoop(ctx, baselineClients, d, func(ctx context.Context, client, seq int) error {
		_, err := c.SubmitTransaction("Put", fmt.Sprintf("bench-%d-%d-%d", run, client, seq), "x")
		return err
	})
	if r.OK == 0 {
		return nil, fmt.Errorf("no baseline transaction committed: %v", fabconn.Describe(r.FirstErr))
	}
	e.baselineTPS = r.PerSecond()
	note := fmt.Sprintf("%d clients, %d committed, %d failed", r.Clients, r.OK, r.Errors)
	return []bench.Figure{
		{Scenario: "baseline (raw put)", Metric: "committed tx/s", Value: r.PerSecond(), Unit: "tx/s", Note: note},
		{Scenario: "baseline (raw put)", Metric: "commit latency p50", Value: bench.Ms(r.Latency.P50), Unit: "ms"},
		{Scenario: "baseline (raw put)", Metric: "commit latency p99", Value: bench.Ms(r.Latency.P99), Unit: "ms"},
	}, nil
}

// probeContract connects to the probe contract of the chaincode as the
// first organisation's admin (the raw-Fabric baselines).
func probeContract(e *env) (*client.Contract, func(), error) {
	o := &e.l.Orgs[0]
	gw, conn, err := fabconn.Connect(e.l.PeerNode(o), e.l.Admin(o))
	if err != nil {
		return nil, nil, err
	}
	c := gw.GetNetwork(e.l.Channel).GetContractWithName(e.l.Chaincode.Name, "probe")
	return c, func() { gw.Close(); conn.Close() }, nil
}
