package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
)

// smoke submits a probe transaction through the Fabric Gateway of the first
// org's peer as that org's admin, waits for its commit and reads it back.
func (n *network) smoke(ctx context.Context) (time.Duration, error) {
	o := &n.l.Orgs[0]
	node := n.l.PeerNode(o)
	gw, conn, err := fabconn.Connect(node, n.l.Admin(o))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	defer gw.Close()
	contract := gw.GetNetwork(n.l.Channel).GetContractWithName(n.l.Chaincode.Name, "probe")
	value := time.Now().UTC().Format(time.RFC3339Nano)
	start := time.Now()
	// On a new network the gateway can plan a MAJORITY endorsement only
	// once gossip has found the other orgs' peers through the anchor peers,
	// and the first invocation waits for the peers to reach their
	// chaincode servers: retry for up to a minute.
	var lastErr error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		if _, lastErr = contract.SubmitTransaction("Put", "smoke", value); lastErr == nil {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	if lastErr != nil {
		return 0, fmt.Errorf("smoke submit through %s: %w", node.Address, fabconn.Describe(lastErr))
	}
	took := time.Since(start)
	got, err := contract.EvaluateTransaction("Get", "smoke")
	if err != nil {
		return 0, fmt.Errorf("smoke evaluate: %w", fabconn.Describe(err))
	}
	if string(got) != value {
		return 0, fmt.Errorf("smoke read back %q, wrote %q", got, value)
	}
	return took, nil
}

// meshReady waits until every organisation's peer gateway has found every
// other organisation's peer (gossip membership, through the anchor peers):
// a request routed to a manufacturer's collection names its endorsing
// organisations, and a gateway that has not met a named organisation's
// peer yet refuses it ("failed to find any endorsing peers for org(s)").
// Each org's admin evaluates the probe's smoke key on each other org.
func (n *network) meshReady(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for i := range n.l.Orgs {
		o := &n.l.Orgs[i]
		gw, conn, err := fabconn.Connect(n.l.PeerNode(o), n.l.Admin(o))
		if err != nil {
			return err
		}
		contract := gw.GetNetwork(n.l.Channel).GetContractWithName(n.l.Chaincode.Name, "probe")
		for j := range n.l.Orgs {
			other := n.l.Orgs[j].MSPID
			var lastErr error
			for time.Now().Before(deadline) {
				if _, lastErr = contract.Evaluate("Get", client.WithArguments("smoke"), client.WithEndorsingOrganizations(other)); lastErr == nil {
					break
				}
				select {
				case <-ctx.Done():
					gw.Close()
					conn.Close()
					return ctx.Err()
				case <-time.After(200 * time.Millisecond):
				}
			}
			log.Debug("gateway reaches organisation", "org", o.Name, "other", other, "ok", lastErr == nil)
			if lastErr != nil {
				gw.Close()
				conn.Close()
				return fmt.Errorf("%s's gateway does not reach %s's peer: %w", o.Name, other, fabconn.Describe(lastErr))
			}
		}
		gw.Close()
		conn.Close()
	}
	return nil
}
