//go:build integration

package test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/test/testnet"
)

func uniqueKey(t *testing.T) string {
	return fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
}

// submitRetrying submits through the gateway, retrying for a while when the
// ordering service is briefly unavailable (e.g. during a raft election).
func submitRetrying(t *testing.T, c *client.Contract, timeout time.Duration, fn string, args ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := c.SubmitTransaction(fn, args...)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("submit %s: %v", fn, fabconn.Describe(err))
		}
		t.Logf("submit %s: retrying after %v", fn, err)
		time.Sleep(250 * time.Millisecond)
	}
}

func TestGatewaySubmitAndEvaluate(t *testing.T) {
	n := testnet.Get(t)
	for _, org := range []string{"Manufacturer", "Pharmacy"} {
		t.Run(org, func(t *testing.T) {
			c := n.Contract(n.Gateway(t, org, ""), "probe")
			key, value := uniqueKey(t), "v-"+org
			if _, err := c.SubmitTransaction("Put", key, value); err != nil {
				t.Fatalf("submit: %v", fabconn.Describe(err))
			}
			got, err := c.EvaluateTransaction("Get", key)
			if err != nil {
				t.Fatalf("evaluate: %v", fabconn.Describe(err))
			}
			if string(got) != value {
				t.Fatalf("read back %q, want %q", got, value)
			}
		})
	}
}

// One organisation alone must not be able to change the ledger: the
// chaincode's endorsement policy is MAJORITY, so a transaction endorsed by
// the Manufacturer's peer only is invalidated at commit, and its write is
// not applied.
func TestSingleOrgEndorsementRejectedAtCommit(t *testing.T) {
	n := testnet.Get(t)
	c := n.Contract(n.Gateway(t, "Manufacturer", ""), "probe")
	key := uniqueKey(t)
	proposal, err := c.NewProposal("Put", client.WithArguments(key, "forged"),
		client.WithEndorsingOrganizations("ManufacturerMSP"))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := proposal.Endorse()
	if err != nil {
		t.Fatalf("endorse: %v", fabconn.Describe(err))
	}
	commit, err := tx.Submit()
	if err != nil {
		t.Fatalf("submit to orderer: %v", err)
	}
	status, err := commit.Status()
	if err != nil {
		t.Fatalf("commit status: %v", err)
	}
	if status.Successful || status.Code != peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE {
		t.Fatalf("commit status = %v (successful=%v), want ENDORSEMENT_POLICY_FAILURE", status.Code, status.Successful)
	}
	if _, err := c.EvaluateTransaction("Get", key); err == nil {
		t.Fatal("the rejected write is visible on the ledger")
	}
}

// The ordering service survives the loss of its raft leader: a new leader
// is elected and a new transaction commits.
func TestRaftLeaderKilledSubmitStillCommits(t *testing.T) {
	n := testnet.Get(t)
	leader := n.RaftLeader(t)
	n.Fabnet(t, "kill", leader.Name)
	t.Cleanup(func() { n.StartOrderer(t, leader) })
	t.Logf("killed raft leader %s", leader.Name)

	c := n.Contract(n.Gateway(t, "Distributor", ""), "probe")
	key := uniqueKey(t)
	start := time.Now()
	submitRetrying(t, c, 30*time.Second, "Put", key, "after-leader-loss")
	t.Logf("committed %s after the leader was killed", time.Since(start).Round(time.Millisecond))
	got, err := c.EvaluateTransaction("Get", key)
	if err != nil || string(got) != "after-leader-loss" {
		t.Fatalf("read back %q, %v", got, err)
	}
	if now := n.RaftLeader(t); now.Name == leader.Name {
		t.Fatalf("leader is still %s, which was killed", now.Name)
	}
}

// A peer that was down while blocks were committed catches up to the same
// height as the others when it comes back, and serves the new state.
func TestStoppedPeerCatchesUp(t *testing.T) {
	n := testnet.Get(t)
	reg, _ := n.Org("Regulator")
	mfr, _ := n.Org("Manufacturer")
	regPeer, mfrPeer := n.PeerNode(reg), n.PeerNode(mfr)
	n.Fabnet(t, "stop", regPeer.Name)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			n.StartPeer(t, regPeer)
		}
	})

	c := n.Contract(n.Gateway(t, "Manufacturer", ""), "probe")
	key := uniqueKey(t)
	for i := range 3 {
		submitRetrying(t, c, 60*time.Second, "Put", key, fmt.Sprint("v", i))
	}
	ctx := context.Background()
	want, err := n.Height(ctx, mfrPeer)
	if err != nil {
		t.Fatal(err)
	}
	n.StartPeer(t, regPeer)
	restarted = true
	testnet.Eventually(t, 60*time.Second, "regulator peer catches up", func() error {
		got, err := n.Height(ctx, regPeer)
		if err != nil {
			return err
		}
		if got < want {
			return fmt.Errorf("height %d, manufacturer peer has %d", got, want)
		}
		return nil
	})
	rc := n.Contract(n.Gateway(t, "Regulator", ""), "probe")
	testnet.Eventually(t, 30*time.Second, "regulator peer serves the new state", func() error {
		got, err := rc.EvaluateTransaction("Get", key)
		if err != nil {
			return err
		}
		if string(got) != "v2" {
			return errors.New("stale value " + string(got))
		}
		return nil
	})
}
