package gateway

// These tests run the real code path (Dial, TLS, fabric-gateway's client,
// the fabricEndpoint adapter, error translation) against in-process gRPC
// servers that implement the Fabric Gateway service over the fakeLedger,
// on 127.0.0.1. Killing such a server is a real dropped connection.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	gwproto "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/pharmatrace/pharmatrace/trace"
)

// gatewayServer is a Fabric Gateway service over a shared fakeLedger.
type gatewayServer struct {
	gwproto.UnimplementedGatewayServer
	ledger *fakeLedger
	// failCommitStatus makes that many next commit-status calls fail with
	// Unavailable, although the transaction is committed.
	failCommitStatus atomic.Int32
	// afterOrder, when set, runs after a submitted transaction is ordered
	// and before the response is sent.
	afterOrder func()
	calls      sync.Map // method -> *atomic.Int32
	mu         sync.Mutex
	received   []invocation // endorse and evaluate proposals, as parsed
}

func (s *gatewayServer) receive(inv invocation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, inv)
}

// receivedFor returns the proposals of function fn received so far.
func (s *gatewayServer) receivedFor(fn string) []invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []invocation
	for _, inv := range s.received {
		if inv.Fn == fn {
			out = append(out, inv)
		}
	}
	return out
}

func (s *gatewayServer) count(method string) int {
	v, _ := s.calls.LoadOrStore(method, new(atomic.Int32))
	return int(v.(*atomic.Int32).Load())
}

func (s *gatewayServer) inc(method string) {
	v, _ := s.calls.LoadOrStore(method, new(atomic.Int32))
	v.(*atomic.Int32).Add(1)
}

type parsedProposal struct {
	header    *common.Header
	txID      string
	chaincode string
	args      [][]byte
	transient map[string][]byte
}

func parseProposal(sp *peer.SignedProposal) (*parsedProposal, error) {
	if len(sp.GetSignature()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "proposal not signed")
	}
	prop := &peer.Proposal{}
	if err := proto.Unmarshal(sp.GetProposalBytes(), prop); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	hdr := &common.Header{}
	chdr := &common.ChannelHeader{}
	payload := &peer.ChaincodeProposalPayload{}
	spec := &peer.ChaincodeInvocationSpec{}
	// Each step reads a field the previous one filled.
	for _, step := range []func() error{
		func() error { return proto.Unmarshal(prop.GetHeader(), hdr) },
		func() error { return proto.Unmarshal(hdr.GetChannelHeader(), chdr) },
		func() error { return proto.Unmarshal(prop.GetPayload(), payload) },
		func() error { return proto.Unmarshal(payload.GetInput(), spec) },
	} {
		if err := step(); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	return &parsedProposal{header: hdr, txID: chdr.GetTxId(), chaincode: spec.GetChaincodeSpec().GetChaincodeId().GetName(), args: spec.GetChaincodeSpec().GetInput().GetArgs(),
		transient: payload.GetTransientMap()}, nil
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func (s *gatewayServer) Endorse(ctx context.Context, req *gwproto.EndorseRequest) (*gwproto.EndorseResponse, error) {
	s.inc("Endorse")
	p, err := parseProposal(req.GetProposedTransaction())
	if err != nil {
		return nil, err
	}
	if len(p.args) != 2 {
		return nil, status.Error(codes.InvalidArgument, "want fn and one argument")
	}
	inv := invocation{Fn: string(p.args[0]), Arg: p.args[1], Transient: p.transient, Orgs: req.GetEndorsingOrganizations()}
	s.receive(inv)
	tx, err := s.ledger.endorse(inv)
	if err != nil {
		return nil, err
	}
	action := &peer.ChaincodeAction{Response: &peer.Response{Status: 200, Payload: tx.Result}, Results: tx.Prepared}
	prp := &peer.ProposalResponsePayload{Extension: mustMarshal(action)}
	cap := &peer.ChaincodeActionPayload{Action: &peer.ChaincodeEndorsedAction{ProposalResponsePayload: mustMarshal(prp)}}
	ptx := &peer.Transaction{Actions: []*peer.TransactionAction{{Header: p.header.GetSignatureHeader(), Payload: mustMarshal(cap)}}}
	env := &common.Envelope{Payload: mustMarshal(&common.Payload{Header: p.header, Data: mustMarshal(ptx)})}
	return &gwproto.EndorseResponse{PreparedTransaction: env}, nil
}

func (s *gatewayServer) Submit(ctx context.Context, req *gwproto.SubmitRequest) (*gwproto.SubmitResponse, error) {
	s.inc("Submit")
	env := req.GetPreparedTransaction()
	if len(env.GetSignature()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "prepared transaction must be signed")
	}
	payload := &common.Payload{}
	chdr := &common.ChannelHeader{}
	ptx := &peer.Transaction{}
	cap := &peer.ChaincodeActionPayload{}
	prp := &peer.ProposalResponsePayload{}
	action := &peer.ChaincodeAction{}
	if err := proto.Unmarshal(env.GetPayload(), payload); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	_ = proto.Unmarshal(payload.GetHeader().GetChannelHeader(), chdr)
	_ = proto.Unmarshal(payload.GetData(), ptx)
	_ = proto.Unmarshal(ptx.GetActions()[0].GetPayload(), cap)
	_ = proto.Unmarshal(cap.GetAction().GetProposalResponsePayload(), prp)
	_ = proto.Unmarshal(prp.GetExtension(), action)
	if chdr.GetTxId() != req.GetTransactionId() {
		return nil, status.Error(codes.InvalidArgument, "transaction ID mismatch")
	}
	s.ledger.order(&endorsedTx{TxID: chdr.GetTxId(), Result: action.GetResponse().GetPayload(), Prepared: action.GetResults()})
	if s.afterOrder != nil {
		s.afterOrder()
	}
	return &gwproto.SubmitResponse{}, nil
}

func (s *gatewayServer) CommitStatus(ctx context.Context, req *gwproto.SignedCommitStatusRequest) (*gwproto.CommitStatusResponse, error) {
	s.inc("CommitStatus")
	if len(req.GetSignature()) == 0 {
		return nil, status.Error(codes.PermissionDenied, "unsigned commit status request")
	}
	r := &gwproto.CommitStatusRequest{}
	if err := proto.Unmarshal(req.GetRequest(), r); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	st, err := s.ledger.status(ctx, r.GetTransactionId())
	if err != nil {
		return nil, err
	}
	if s.failCommitStatus.Load() > 0 && s.failCommitStatus.Add(-1) >= 0 {
		return nil, status.Error(codes.Unavailable, "peer stopping")
	}
	return &gwproto.CommitStatusResponse{Result: st.Code, BlockNumber: st.Block}, nil
}

func (s *gatewayServer) Evaluate(ctx context.Context, req *gwproto.EvaluateRequest) (*gwproto.EvaluateResponse, error) {
	s.inc("Evaluate")
	p, err := parseProposal(req.GetProposedTransaction())
	if err != nil {
		return nil, err
	}
	if p.chaincode == "qscc" {
		s.ledger.mu.Lock()
		h := uint64(len(s.ledger.blocks) + 1)
		s.ledger.mu.Unlock()
		return &gwproto.EvaluateResponse{Result: &peer.Response{Status: 200, Payload: mustMarshal(&common.BlockchainInfo{Height: h})}}, nil
	}
	inv := invocation{Fn: string(p.args[0]), Arg: p.args[1], Transient: p.transient, Orgs: req.GetTargetOrganizations()}
	s.receive(inv)
	res, err := s.ledger.evaluate(inv)
	if err != nil {
		return nil, err
	}
	return &gwproto.EvaluateResponse{Result: &peer.Response{Status: 200, Payload: res}}, nil
}

func (s *gatewayServer) ChaincodeEvents(req *gwproto.SignedChaincodeEventsRequest, stream gwproto.Gateway_ChaincodeEventsServer) error {
	s.inc("ChaincodeEvents")
	if len(req.GetSignature()) == 0 {
		return status.Error(codes.PermissionDenied, "unsigned events request")
	}
	r := &gwproto.ChaincodeEventsRequest{}
	if err := proto.Unmarshal(req.GetRequest(), r); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	next := uint64(0)
	if sp, ok := r.GetStartPosition().GetType().(*orderer.SeekPosition_Specified); ok {
		next = sp.Specified.GetNumber()
	}
	fs := &fakeStream{ctx: stream.Context(), l: s.ledger, next: next, ep: newFakeEndpoint("server", s.ledger)}
	for {
		be, err := fs.Recv()
		if err != nil {
			return err
		}
		resp := &gwproto.ChaincodeEventsResponse{BlockNumber: be.Block}
		for _, ev := range be.Events {
			resp.Events = append(resp.Events, &peer.ChaincodeEvent{ChaincodeId: r.GetChaincodeId(), TxId: ev.TxID, EventName: ev.Name, Payload: ev.Payload})
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// deliverServer is a peer's Deliver service that streams scripted blocks
// with private data (DeliverWithPrivateData only).
type deliverServer struct {
	peer.UnimplementedDeliverServer
	mu     sync.Mutex
	blocks []*peer.BlockAndPrivateData
	forbid bool     // answer FORBIDDEN, as to a client without access
	starts []uint64 // start block of each request
}

func (d *deliverServer) DeliverWithPrivateData(srv peer.Deliver_DeliverWithPrivateDataServer) error {
	env, err := srv.Recv()
	if err != nil {
		return err
	}
	payload := &common.Payload{}
	chdr := &common.ChannelHeader{}
	seek := &orderer.SeekInfo{}
	if proto.Unmarshal(env.GetPayload(), payload) != nil || proto.Unmarshal(payload.GetHeader().GetChannelHeader(), chdr) != nil ||
		proto.Unmarshal(payload.GetData(), seek) != nil || len(env.GetSignature()) == 0 ||
		chdr.GetType() != int32(common.HeaderType_DELIVER_SEEK_INFO) || chdr.GetChannelId() != "pharmatrace" {
		return srv.Send(statusResponse(common.Status_BAD_REQUEST))
	}
	start := seek.GetStart().GetSpecified().GetNumber()
	d.mu.Lock()
	d.starts = append(d.starts, start)
	forbid, blocks := d.forbid, d.blocks
	d.mu.Unlock()
	if forbid {
		return srv.Send(statusResponse(common.Status_FORBIDDEN))
	}
	for _, b := range blocks {
		if b.GetBlock().GetHeader().GetNumber() >= start {
			if err := srv.Send(blockResponse(b)); err != nil {
				return err
			}
		}
	}
	<-srv.Context().Done()
	return status.FromContextError(srv.Context().Err()).Err()
}

// peerProc is one fake peer: a gRPC server on a fixed 127.0.0.1 address
// that can be killed and restarted.
type peerProc struct {
	t       *testing.T
	addr    string
	tls     *tls.Config
	srv     *gatewayServer
	deliver *deliverServer
	mu      sync.Mutex
	g       *grpc.Server
}

func (p *peerProc) start() {
	p.t.Helper()
	var lis net.Listener
	var err error
	for range 50 { // the port may linger briefly after a kill
		if lis, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatal(err)
	}
	p.addr = lis.Addr().String()
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(p.tls)))
	gwproto.RegisterGatewayServer(g, p.srv)
	peer.RegisterDeliverServer(g, p.deliver)
	p.mu.Lock()
	p.g = g
	p.mu.Unlock()
	go func() { _ = g.Serve(lis) }()
}

func (p *peerProc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.g != nil {
		p.g.Stop()
		p.g = nil
	}
}

// fakeNetwork is a shared ledger behind n fake peers, with TLS and an
// identity on disk, and the Config to reach it.
type fakeNetwork struct {
	ledger *fakeLedger
	peers  []*peerProc
	cfg    Config
}

func newFakeNetwork(t *testing.T, n int) *fakeNetwork {
	t.Helper()
	ca := newTestCA(t)
	dir := t.TempDir()
	serverKey, serverKeyPEM := newKeyPEM(t, true)
	pair, err := tls.X509KeyPair(ca.issue(t, "peer", &serverKey.PublicKey, "127.0.0.1", "peer0.example.com"), serverKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	root := writeFile(t, filepath.Join(dir, "tls-ca.pem"), ca.pem)
	userKey, userKeyPEM := newKeyPEM(t, false)
	net := &fakeNetwork{ledger: newFakeLedger()}
	net.cfg = Config{
		Identity:          Identity{MSPID: "Org1MSP", CertFile: writeFile(t, filepath.Join(dir, "cert.pem"), ca.issue(t, "user1", &userKey.PublicKey)), KeyFile: writeFile(t, filepath.Join(dir, "key.pem"), userKeyPEM)},
		Channel:           "pharmatrace",
		Chaincode:         "pharmatrace",
		ReconnectMaxDelay: 300 * time.Millisecond,
		DialTimeout:       2 * time.Second,
		Retry:             RetryPolicy{MaxAttempts: 6, BaseDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond},
		Timeouts:          Timeouts{CommitWindow: 2 * time.Second},
	}
	for range n {
		p := &peerProc{t: t, addr: "127.0.0.1:0", tls: tlsConf, srv: &gatewayServer{ledger: net.ledger}, deliver: &deliverServer{}}
		p.start()
		t.Cleanup(p.kill)
		net.peers = append(net.peers, p)
		net.cfg.Endpoints = append(net.cfg.Endpoints, Endpoint{Address: p.addr, TLSRootCertFile: root, ServerNameOverride: "peer0.example.com"})
	}
	return net
}

func dialFake(t *testing.T, n *fakeNetwork, opts ...Option) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, n.cfg, append([]Option{WithLogger(discardLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRealPathSubmitEvaluateErrors(t *testing.T) {
	n := newFakeNetwork(t, 1)
	c := dialFake(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var rc Receipt
	res, err := SubmitAs[putResult](ctx, c, "Put", "r1", put("r1"), WithReceipt(&rc))
	if err != nil {
		t.Fatal(err)
	}
	if res.Key != "k-r1" || rc.TxID == "" || rc.Block != 1 || rc.Endpoint != n.peers[0].addr {
		t.Fatalf("result %+v, receipt %+v", res, rc)
	}
	got, err := EvaluateAs[putResult](ctx, c, "GetPut", map[string]string{"requestId": "r1"})
	if err != nil || got != res {
		t.Fatalf("GetRequest = %+v, %v", got, err)
	}

	// A chaincode refusal at endorsement: translated, and still the
	// fabric-gateway error underneath.
	err = c.Submit(ctx, "Put", "r2", putRequest{RequestID: "r2", Key: "denied"}, nil)
	var ee *client.EndorseError
	var ge *Error
	if !errors.Is(err, ErrAccessDenied) || !errors.As(err, &ee) || !errors.As(err, &ge) {
		t.Fatalf("err = %v, want ErrAccessDenied over *client.EndorseError", err)
	}
	if ge.Msg != "key is reserved" || ee.TransactionID == "" {
		t.Errorf("Msg %q, tx %q", ge.Msg, ee.TransactionID)
	}
	if _, err := EvaluateAs[putResult](ctx, c, "GetPut", map[string]string{"requestId": "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if h, err := c.pool.current().Height(ctx); err != nil || h != 2 {
		t.Fatalf("Height = %d, %v", h, err)
	}
}

func TestRealPathRoutedCalls(t *testing.T) {
	// Through fabric-gateway's client: the routed request reaches the
	// peer's gateway in the proposal's transient map, with an empty
	// argument and the route's endorsers (EndorseRequest) or target
	// organisations (EvaluateRequest); the route query itself goes to the
	// client's own organisation with its query as the argument.
	n := newFakeNetwork(t, 1)
	fc := newFakeContract(n.ledger)
	fc.setRoute(trace.TxDispense, privateRoute)
	fc.setRoute(trace.TxGetPack, privateRoute)
	c := dialFake(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := scan("d1", gtinA)
	if _, err := c.Dispense(ctx, req); err != nil {
		t.Fatal(err)
	}
	srv := n.peers[0].srv
	route := srv.receivedFor(trace.TxRoute)
	if len(route) != 1 || route[0].Transient != nil || !slices.Equal(route[0].Orgs, []string{"Org1MSP"}) || !strings.Contains(string(route[0].Arg), `"transaction":"Dispense"`) {
		t.Fatalf("route query received as %+v", route)
	}
	d := srv.receivedFor(trace.TxDispense)
	if len(d) != 1 || len(d[0].Arg) != 0 || string(d[0].Transient[trace.TransientRequest]) != mustJSON(t, &req) || !slices.Equal(d[0].Orgs, privateRoute.Endorsers) {
		t.Fatalf("Dispense received as %+v", d)
	}
	if _, err := c.GetPack(ctx, trace.PackQuery{GTIN: gtinA, Serial: "Sd1"}); err != nil {
		t.Fatal(err)
	}
	g := srv.receivedFor(trace.TxGetPack)
	if len(g) != 1 || len(g[0].Arg) != 0 || g[0].Transient == nil || !slices.Equal(g[0].Orgs, privateRoute.Endorsers) {
		t.Fatalf("GetPack received as %+v", g)
	}
}

func TestRealPathPrivateEvents(t *testing.T) {
	// Through a real gRPC Deliver stream: the signed seek request, the
	// merged events with the chaincode events' positions, a resume from a
	// checkpoint inside a block, and a refusal.
	n := newFakeNetwork(t, 1)
	d := n.peers[0].deliver
	d.blocks = []*peer.BlockAndPrivateData{testBlock(3), mixedBlock(true),
		testBlock(9, testTx{id: "tx-9", code: peer.TxValidationCode_VALID, chaincode: testCC, event: "E", payload: `{"n":9}`})}
	c := dialFake(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	collect := func(cp Checkpointer, n int) ([]Event, error) {
		sctx, stop := context.WithCancel(ctx)
		defer stop()
		var got []Event
		err := c.Events(sctx, cp, func(_ context.Context, ev Event) error {
			got = append(got, ev)
			if len(got) == n {
				stop()
			}
			return nil
		}, WithPrivateEvents(nil), WithHeightProbe(0))
		return got, err
	}
	cp := &MemoryCheckpointer{}
	got, err := collect(cp, 2)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Events = %v", err)
	}
	want := []Event{
		{Name: trace.TxRegisterLot, Payload: []byte(`{"type":"RegisterLot"}`), TxID: "tx-public", Block: 7, Index: 0},
		{Name: trace.TxDispense, Payload: []byte(fullPayload("tx-routed")), TxID: "tx-routed", Block: 7, Index: 1},
	}
	if !slices.EqualFunc(got, want, func(a, b Event) bool {
		return a.Name == b.Name && string(a.Payload) == string(b.Payload) && a.TxID == b.TxID && a.Block == b.Block && a.Index == b.Index
	}) {
		t.Fatalf("events %+v\nwant %+v", got, want)
	}
	// Resume from the checkpoint (block 7, event 1): the stream starts at
	// block 7 again, checks the checkpointed event and goes on.
	got, err = collect(cp, 1)
	if !errors.Is(err, context.Canceled) || len(got) != 1 || got[0].TxID != "tx-9" || got[0].Block != 9 || got[0].Index != 0 {
		t.Fatalf("after resume: %+v, %v", got, err)
	}
	d.mu.Lock()
	starts := slices.Clone(d.starts)
	d.forbid = true
	d.mu.Unlock()
	if !slices.Equal(starts, []uint64{0, 7}) {
		t.Errorf("deliver requests from blocks %v, want [0 7]", starts)
	}
	if _, err := collect(&MemoryCheckpointer{}, 1); !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("FORBIDDEN: Events = %v, want ErrAccessDenied", err)
	}
}

func TestRealPathCommitStatusFailureOnCommittedTransaction(t *testing.T) {
	// The issue's measurement: a commit-status call fails for a transaction
	// that did commit. The client asks the other peer; the request is on the
	// ledger exactly once and the caller gets its outcome.
	n := newFakeNetwork(t, 2)
	n.peers[0].srv.failCommitStatus.Store(1)
	m, _ := NewMetrics(nil)
	c := dialFake(t, n, WithMetrics(m))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rc Receipt
	if err := c.Submit(ctx, "Put", "r1", put("r1"), nil, WithReceipt(&rc)); err != nil {
		t.Fatal(err)
	}
	if n.ledger.appliedCount("r1") != 1 || rc.Endorsements != 1 || rc.Endpoint != n.peers[1].addr {
		t.Fatalf("applied %d, receipt %+v", n.ledger.appliedCount("r1"), rc)
	}
	if n.peers[1].srv.count("CommitStatus") != 1 || testutil.ToFloat64(m.Retries.WithLabelValues("Put", "commit_status_unavailable")) != 1 {
		t.Errorf("commit status not asked again on the other peer")
	}
}

func TestRealPathFailoverWhenConnectedPeerDies(t *testing.T) {
	n := newFakeNetwork(t, 3)
	m, _ := NewMetrics(nil)
	c := dialFake(t, n, WithMetrics(m), lookupQuery())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const total = 30
	var worst time.Duration
	for i := range total {
		if i == 10 {
			n.peers[0].kill() // the connected peer dies
		}
		if i == 20 {
			n.peers[0].start() // comes back...
			n.peers[1].kill()  // ...and the next one dies
		}
		if i == 25 {
			n.peers[2].kill() // the last one dies: the restarted peer serves
		}
		id := fmt.Sprintf("r%02d", i)
		start := time.Now()
		if err := c.Submit(ctx, "Put", id, put(id), nil); err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		if i == 10 || i == 20 || i == 25 {
			worst = max(worst, time.Since(start))
		}
	}
	for i := range total {
		id := fmt.Sprintf("r%02d", i)
		if got := n.ledger.appliedCount(id); got != 1 {
			t.Errorf("%s applied %d times", id, got)
		}
	}
	if worst > time.Second {
		t.Errorf("a submit across a peer death took %v, want failover within 1s", worst)
	}
	if f := testutil.ToFloat64(m.Failovers.WithLabelValues(n.peers[0].addr)); f < 1 {
		t.Errorf("no failover counted away from the killed peer")
	}
	if f := testutil.ToFloat64(m.Failovers.WithLabelValues(n.peers[1].addr)); f < 1 {
		t.Errorf("no failover counted away from the second killed peer")
	}
	if got := n.peers[0].srv.count("Submit"); got < 15 {
		t.Errorf("restarted peer served %d submits, want the 15 before its death and after the last failover", got)
	}
}

func TestRealPathEventStreamSurvivesPeerDeath(t *testing.T) {
	n := newFakeNetwork(t, 2)
	c := dialFake(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 5 {
		id := fmt.Sprintf("a%d", i)
		if err := c.Submit(ctx, "Put", id, put(id), nil); err != nil {
			t.Fatal(err)
		}
	}
	checkpoint := &MemoryCheckpointer{}
	var mu sync.Mutex
	var seen []string
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	killed := make(chan struct{})
	go func() {
		done <- c.Events(sctx, checkpoint, func(_ context.Context, ev Event) error {
			var r putResult
			if err := json.Unmarshal(ev.Payload, &r); err != nil {
				return err
			}
			mu.Lock()
			seen = append(seen, r.Key)
			k := len(seen)
			mu.Unlock()
			if k == 3 {
				n.peers[0].kill() // the streaming peer dies mid-stream
				close(killed)
			}
			if k == 10 {
				stop()
			}
			return nil
		}, WithHeightProbe(0), WithReadAhead(1))
	}()
	// More transactions while the stream fails over.
	select {
	case <-killed:
	case <-ctx.Done():
		t.Fatal("stream did not start")
	}
	for i := range 5 {
		id := fmt.Sprintf("b%d", i)
		if err := c.Submit(ctx, "Put", id, put(id), nil); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Events = %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("stream stalled; saw %v", seen)
	}
	want := "[k-a0 k-a1 k-a2 k-a3 k-a4 k-b0 k-b1 k-b2 k-b3 k-b4]"
	if got := fmt.Sprint(seen); got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	cp, err := checkpoint.Load(ctx)
	if err != nil || cp.Block != 10 {
		t.Fatalf("checkpoint %+v, %v; want block 10", cp, err)
	}
	if n.peers[1].srv.count("ChaincodeEvents") == 0 {
		t.Error("stream never moved to the second peer")
	}
}

func TestRealPathPeerDiesAfterOrderingBeforeAnswering(t *testing.T) {
	n := newFakeNetwork(t, 2)
	p0 := n.peers[0]
	p0.srv.afterOrder = func() {
		go p0.kill()
		time.Sleep(100 * time.Millisecond) // the answer never leaves
	}
	c := dialFake(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rc Receipt
	res, err := SubmitAs[putResult](ctx, c, "Put", "r1", put("r1"), WithReceipt(&rc))
	if err != nil {
		t.Fatal(err)
	}
	if n.ledger.appliedCount("r1") != 1 || rc.Endorsements != 1 || res.Key != "k-r1" {
		t.Fatalf("applied %d times, receipt %+v, result %+v", n.ledger.appliedCount("r1"), rc, res)
	}
	if n.peers[1].srv.count("Submit") != 1 {
		t.Errorf("the same transaction was not re-sent through the other peer")
	}
}

func TestDialErrors(t *testing.T) {
	n := newFakeNetwork(t, 1)
	cfg := n.cfg
	cfg.Endpoints = append([]Endpoint(nil), cfg.Endpoints...)
	cfg.Endpoints[0].TLSRootCertFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := Dial(context.Background(), cfg, WithLogger(discardLogger())); err == nil {
		t.Error("Dial with a missing TLS root succeeded")
	}
	cfg = n.cfg
	cfg.Channel = ""
	if _, err := Dial(context.Background(), cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Dial with an invalid config: %v", err)
	}
	// A peer that is down at start is not an error.
	n.peers[0].kill()
	cfg = n.cfg
	cfg.DialTimeout = 200 * time.Millisecond
	c, err := Dial(context.Background(), cfg, WithLogger(discardLogger()))
	if err != nil {
		t.Fatalf("Dial with the peer down: %v", err)
	}
	_ = c.Close()
}
