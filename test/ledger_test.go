//go:build integration

package test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	gwproto "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/gs1"
	"github.com/pharmatrace/pharmatrace/test/testnet"
	"github.com/pharmatrace/pharmatrace/trace"
)

// actor is a CA-enrolled user of the demo network calling the PharmaTrace
// contract through package gateway (retries, failover), with JSON
// arguments exactly as they travel on the wire. gw/c are the raw Fabric
// Gateway of the same identity, for what package gateway deliberately does
// not offer (a transaction timestamp of one's choosing).
type actor struct {
	name string
	cl   *gateway.Client
	gw   *client.Gateway
	c    *client.Contract
	gln  string
	msp  string
}

func newActor(t *testing.T, n *testnet.Network, org, user string) *actor {
	t.Helper()
	gw := n.Gateway(t, org, user)
	id, err := n.User(org, user)
	if err != nil {
		t.Fatal(err)
	}
	return &actor{name: user, cl: n.Client(t, org, user, nil), gw: gw,
		c: gw.GetNetwork(n.Channel).GetContract(n.Chaincode.Name), gln: id.GLN, msp: id.MSPID}
}

func (a *actor) party() trace.Party { return trace.Party{MSP: a.msp, GLN: a.gln} }

// newRequestID returns a globally unique request ID.
func newRequestID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "it-" + hex.EncodeToString(b)
}

func header() trace.RequestHeader { return trace.RequestHeader{RequestID: newRequestID()} }

// submitErr submits fn(req) with req's request ID and decodes the result into res.
func (a *actor) submitErr(fn string, req, res any) error {
	arg, err := json.Marshal(req)
	if err != nil {
		return err
	}
	var h trace.RequestHeader
	if err := json.Unmarshal(arg, &h); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A record another org has just committed (the shipment this actor
	// receives) may reach this org's peers a moment later.
	out, err := gateway.AwaitVisible(ctx, 10*time.Second, func(ctx context.Context) ([]byte, error) {
		return a.cl.SubmitRaw(ctx, fn, h.RequestID, arg)
	})
	if err != nil {
		return err
	}
	return json.Unmarshal(out, res)
}

func submit[R any](t *testing.T, a *actor, fn string, req any) R {
	t.Helper()
	var res R
	if err := a.submitErr(fn, req, &res); err != nil {
		t.Fatalf("%s %s: %v", a.name, fn, err)
	}
	return res
}

func evaluate[R any](t *testing.T, a *actor, fn string, req any) R {
	t.Helper()
	arg, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// What another org has just committed may reach this org's peer a
	// moment later (the regulator reading a clone anomaly).
	out, err := gateway.AwaitVisible(ctx, 10*time.Second, func(ctx context.Context) ([]byte, error) {
		return a.cl.EvaluateRaw(ctx, fn, arg)
	})
	if err != nil {
		t.Fatalf("%s %s: %v", a.name, fn, err)
	}
	var res R
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%s %s: decode %s: %v", a.name, fn, out, err)
	}
	return res
}

// endorseAt endorses fn(req) with a transaction timestamp of ts instead of
// now — what a member's own client could write into its proposal — and
// returns the endorsement error. Endorsers refuse a timestamp too far from
// their own clocks; when the endorsement succeeds, the transaction is
// submitted and committed and its result decoded into res.
func (a *actor) endorseAt(t *testing.T, fn string, req any, ts time.Time, res any) error {
	t.Helper()
	arg, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.c.NewProposal(fn, client.WithArguments(string(arg)))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := p.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	raw, err = withTimestamp(raw, ts)
	if err != nil {
		t.Fatal(err)
	}
	p, err = a.gw.NewProposal(raw)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := p.Endorse()
	if err != nil {
		return fmt.Errorf("endorse %s at %s: %s", fn, ts.Format(time.RFC3339), fabconn.Describe(err))
	}
	commit, err := tx.Submit()
	if err != nil {
		t.Fatalf("submit %s: %v", fn, err)
	}
	st, err := commit.Status()
	if err != nil || !st.Successful {
		t.Fatalf("commit %s: %v %v", fn, st, err)
	}
	if err := json.Unmarshal(tx.Result(), res); err != nil {
		t.Fatal(err)
	}
	return nil
}

// withTimestamp rewrites the channel-header timestamp of an unsigned
// serialized proposal (the transaction ID does not depend on it).
func withTimestamp(raw []byte, ts time.Time) ([]byte, error) {
	var pt gwproto.ProposedTransaction
	var prop peer.Proposal
	var hdr common.Header
	var ch common.ChannelHeader
	if err := proto.Unmarshal(raw, &pt); err != nil {
		return nil, err
	}
	if err := proto.Unmarshal(pt.GetProposal().GetProposalBytes(), &prop); err != nil {
		return nil, err
	}
	if err := proto.Unmarshal(prop.GetHeader(), &hdr); err != nil {
		return nil, err
	}
	if err := proto.Unmarshal(hdr.GetChannelHeader(), &ch); err != nil {
		return nil, err
	}
	ch.Timestamp = timestamppb.New(ts)
	var err error
	if hdr.ChannelHeader, err = proto.Marshal(&ch); err != nil {
		return nil, err
	}
	if prop.Header, err = proto.Marshal(&hdr); err != nil {
		return nil, err
	}
	if pt.Proposal.ProposalBytes, err = proto.Marshal(&prop); err != nil {
		return nil, err
	}
	return proto.Marshal(&pt)
}

func wantOutcome(t *testing.T, step string, o trace.Outcome, status trace.OutcomeStatus, code trace.Code) {
	t.Helper()
	if o.Status != status || o.Code != code {
		t.Fatalf("%s: outcome %s/%s (%s), want %s/%s", step, o.Status, o.Code, o.Message, status, code)
	}
}

// gtin builds a GTIN-14 of company prefix gcp with a valid check digit.
func gtin(gcp, item string) string { return withCheckDigit("0" + gcp + item) }

// sscc builds an SSCC-18 (extension 0, company prefix gcp) with a valid check digit.
func sscc(gcp string, ref int) string {
	return withCheckDigit("0" + gcp + fmt.Sprintf("%0*d", 16-len(gcp), ref))
}

// withCheckDigit appends the GS1 mod-10 check digit.
func withCheckDigit(s string) string {
	d, _ := gs1.CheckDigit(s)
	return s + strconv.Itoa(d)
}

// runTag makes this run's identifiers unique on a ledger that outlives it.
func runTag() string { return fmt.Sprintf("%d", time.Now().UnixNano()%1e9) }

func refs(g string, serials ...string) []trace.PackRef {
	out := make([]trace.PackRef, len(serials))
	for i, s := range serials {
		out[i] = trace.PackRef{GTIN: g, Serial: s}
	}
	return out
}

// errHas checks that err is the gateway's want (e.g. gateway.ErrInvalid)
// and mentions text.
func errHas(err error, want error, text string) error {
	if err == nil {
		return errors.New("no error")
	}
	if !errors.Is(err, want) || !strings.Contains(err.Error(), text) {
		return fmt.Errorf("error %q: want %v containing %q", err, want, text)
	}
	return nil
}
