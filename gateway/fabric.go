package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	gwproto "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
)

// suspectFor is how long an endpoint on which a call failed is not chosen
// as a failover target (unless its connection comes back READY first).
const suspectFor = 2 * time.Second

// fabricEndpoint is the real endpoint: one gRPC connection to one peer's
// gateway service and a fabric-gateway client.Gateway over it.
type fabricEndpoint struct {
	addr      string
	channel   string
	chaincode string
	conn      *grpc.ClientConn
	gw        *client.Gateway
	network   *client.Network
	contract  *client.Contract
	raw       gwproto.GatewayClient
	signer    *signer
	log       *slog.Logger

	mu           sync.Mutex
	sawFailure   bool // connection failed or dropped since it was last READY
	suspectUntil time.Time

	stopWatch context.CancelFunc
	watchDone chan struct{}
}

// dialEndpoint creates the connection to ep and waits (up to
// cfg.DialTimeout) for it to be ready. A peer that is down is not an error:
// the connection keeps trying in the background.
func dialEndpoint(ctx context.Context, cfg *Config, ep Endpoint, s *signer, log *slog.Logger) (endpoint, error) {
	tlsConf, certHash, err := endpointTLS(ep)
	if err != nil {
		return nil, err
	}
	reconnect := cfg.ReconnectMaxDelay
	if reconnect <= 0 {
		reconnect = time.Second
	}
	dialTimeout := cfg.DialTimeout
	if dialTimeout <= 0 {
		dialTimeout = 3 * time.Second
	}
	kaTime, kaTimeout := cfg.KeepaliveTime, cfg.KeepaliveTimeout
	if kaTime <= 0 {
		kaTime = 60 * time.Second
	}
	if kaTimeout <= 0 {
		kaTimeout = 20 * time.Second
	}
	bo := backoff.DefaultConfig
	bo.BaseDelay = 100 * time.Millisecond
	bo.MaxDelay = reconnect
	conn, err := grpc.NewClient(ep.Address,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsConf)),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: dialTimeout}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: kaTime, Timeout: kaTimeout, PermitWithoutStream: true}),
		// Fail fast on a broken connection instead of queueing: the pool
		// moves the call to another endpoint.
		grpc.WithDefaultCallOptions(grpc.WaitForReady(false)),
	)
	if err != nil {
		return nil, fmt.Errorf("gateway: endpoint %s: %w", ep.Address, err)
	}
	connectOpts := []client.ConnectOption{client.WithSign(s.sign), client.WithClientConnection(conn)}
	if certHash != nil {
		connectOpts = append(connectOpts, client.WithTLSClientCertificateHash(certHash))
	}
	gw, err := client.Connect(s.id, connectOpts...)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("gateway: endpoint %s: %w", ep.Address, err)
	}
	network := gw.GetNetwork(cfg.Channel)
	wctx, stop := context.WithCancel(context.Background())
	e := &fabricEndpoint{
		addr:      ep.Address,
		channel:   cfg.Channel,
		chaincode: cfg.Chaincode,
		conn:      conn,
		gw:        gw,
		network:   network,
		contract:  network.GetContract(cfg.Chaincode),
		raw:       gwproto.NewGatewayClient(conn),
		signer:    s,
		log:       log.With("endpoint", ep.Address),
		stopWatch: stop,
		watchDone: make(chan struct{}),
	}
	conn.Connect()
	go e.watch(wctx)

	rctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	for st := conn.GetState(); st != connectivity.Ready; st = conn.GetState() {
		if st == connectivity.TransientFailure {
			// Down (refused, unreachable, TLS failure): no point waiting;
			// the watcher keeps reconnecting.
			e.log.Warn("ledger endpoint not ready yet; will keep trying", "state", st.String())
			break
		}
		if !conn.WaitForStateChange(rctx, st) {
			e.log.Warn("ledger endpoint not ready yet; will keep trying", "state", conn.GetState().String())
			break
		}
	}
	return e, nil
}

func endpointTLS(ep Endpoint) (*tls.Config, []byte, error) {
	rootPEM, err := os.ReadFile(ep.TLSRootCertFile)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: endpoint %s: read TLS root: %w", ep.Address, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		return nil, nil, fmt.Errorf("gateway: endpoint %s: no certificate in %s", ep.Address, ep.TLSRootCertFile)
	}
	conf := &tls.Config{RootCAs: roots, ServerName: ep.ServerNameOverride, MinVersion: tls.VersionTLS12}
	var certHash []byte
	if ep.TLSClientCertFile != "" {
		pair, err := tls.LoadX509KeyPair(ep.TLSClientCertFile, ep.TLSClientKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("gateway: endpoint %s: load TLS client certificate: %w", ep.Address, err)
		}
		conf.Certificates = []tls.Certificate{pair}
		sum := sha256.Sum256(pair.Certificate[0])
		certHash = sum[:]
	}
	return conf, certHash, nil
}

// watch follows the connection state: it records failures, and reconnects
// an IDLE connection at once (gRPC leaves a dropped connection IDLE until
// the next call) so that a restarted peer is ready before it is needed.
func (e *fabricEndpoint) watch(ctx context.Context) {
	defer close(e.watchDone)
	prev := connectivity.Idle
	for {
		st := e.conn.GetState()
		e.mu.Lock()
		switch st {
		case connectivity.Ready:
			e.sawFailure = false
		case connectivity.TransientFailure:
			e.sawFailure = true
		case connectivity.Idle:
			if prev == connectivity.Ready {
				e.sawFailure = true
			}
		}
		e.mu.Unlock()
		if st != prev {
			e.log.Debug("ledger endpoint connection state", "state", st.String())
		}
		switch st {
		case connectivity.Shutdown:
			return
		case connectivity.Idle:
			e.conn.Connect()
		}
		prev = st
		if !e.conn.WaitForStateChange(ctx, st) {
			return
		}
	}
}

func (e *fabricEndpoint) Addr() string { return e.addr }

func (e *fabricEndpoint) Healthy() bool {
	st := e.conn.GetState()
	if st == connectivity.TransientFailure || st == connectivity.Shutdown {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if time.Now().Before(e.suspectUntil) {
		return false
	}
	return st == connectivity.Ready || !e.sawFailure
}

func (e *fabricEndpoint) Suspect() {
	e.mu.Lock()
	e.suspectUntil = time.Now().Add(suspectFor)
	e.mu.Unlock()
}

func (e *fabricEndpoint) Reconnect() {
	if e.conn.GetState() == connectivity.TransientFailure {
		e.conn.ResetConnectBackoff()
	}
}

// proposal builds the proposal of inv. Its transient data stays in the
// proposal: the peer's gateway leaves it out of the transaction it returns
// (see route.go).
func (e *fabricEndpoint) proposal(contract *client.Contract, inv invocation) (*client.Proposal, error) {
	opts := []client.ProposalOption{client.WithBytesArguments(inv.Arg)}
	if inv.Transient != nil {
		opts = append(opts, client.WithTransient(inv.Transient))
	}
	if len(inv.Orgs) > 0 {
		opts = append(opts, client.WithEndorsingOrganizations(inv.Orgs...))
	}
	return contract.NewProposal(inv.Fn, opts...)
}

func (e *fabricEndpoint) Endorse(ctx context.Context, inv invocation) (*endorsedTx, error) {
	p, err := e.proposal(e.contract, inv)
	if err != nil {
		return nil, err
	}
	txn, err := p.EndorseWithContext(ctx)
	if err != nil {
		return nil, err
	}
	// Sign once, here, so that every endpoint submits identical bytes.
	sig, err := e.signer.sign(txn.Digest())
	if err != nil {
		return nil, fmt.Errorf("sign transaction: %w", err)
	}
	prepared, err := txn.Bytes()
	if err != nil {
		return nil, err
	}
	return &endorsedTx{TxID: txn.TransactionID(), Result: txn.Result(), Prepared: prepared, Signature: sig}, nil
}

func (e *fabricEndpoint) Submit(ctx context.Context, tx *endorsedTx) error {
	txn, err := e.gw.NewSignedTransaction(tx.Prepared, tx.Signature)
	if err != nil {
		return err
	}
	_, err = txn.SubmitWithContext(ctx)
	return err
}

func (e *fabricEndpoint) CommitStatus(ctx context.Context, txID string) (commitStatus, error) {
	creator, err := e.signer.creator()
	if err != nil {
		return commitStatus{}, err
	}
	req, err := proto.Marshal(&gwproto.CommitStatusRequest{ChannelId: e.channel, TransactionId: txID, Identity: creator})
	if err != nil {
		return commitStatus{}, err
	}
	signed, err := proto.Marshal(&gwproto.SignedCommitStatusRequest{Request: req})
	if err != nil {
		return commitStatus{}, err
	}
	commit, err := e.gw.NewCommit(signed)
	if err != nil {
		return commitStatus{}, err
	}
	st, err := commit.StatusWithContext(ctx)
	if err != nil {
		return commitStatus{}, err
	}
	return commitStatus{Code: st.Code, Block: st.BlockNumber}, nil
}

func (e *fabricEndpoint) Evaluate(ctx context.Context, inv invocation) ([]byte, error) {
	p, err := e.proposal(e.contract, inv)
	if err != nil {
		return nil, err
	}
	return p.EvaluateWithContext(ctx)
}

// Events opens the gateway's ChaincodeEvents stream directly (the request
// built and signed as fabric-gateway does), rather than through
// client.Network.ChaincodeEvents, whose channel hides the stream's error
// and the block boundaries that the checkpoint index needs. With priv it
// opens the peer's DeliverWithPrivateData stream instead.
func (e *fabricEndpoint) Events(ctx context.Context, startBlock uint64, priv *privateEvents) (eventStream, error) {
	if priv != nil {
		return e.privateEvents(ctx, startBlock, priv)
	}
	req, err := e.network.NewChaincodeEventsRequest(e.chaincode, client.WithStartBlock(startBlock))
	if err != nil {
		return nil, err
	}
	b, err := req.Bytes()
	if err != nil {
		return nil, err
	}
	signed := &gwproto.SignedChaincodeEventsRequest{}
	if err := proto.Unmarshal(b, signed); err != nil {
		return nil, err
	}
	if signed.Signature, err = e.signer.sign(req.Digest()); err != nil {
		return nil, fmt.Errorf("sign events request: %w", err)
	}
	stream, err := e.raw.ChaincodeEvents(ctx, signed)
	if err != nil {
		return nil, err
	}
	return fabricEventStream{stream}, nil
}

// privateEvents opens the peer's DeliverWithPrivateData stream from
// startBlock, also raw: the request is built by fabric-gateway
// (client.Network.NewBlockAndPrivateDataEventsRequest: a seek envelope
// whose channel header carries the TLS client certificate hash the peer
// checks), signed here and sent on the peer's Deliver service. The channel
// of BlockAndPrivateDataEventsRequest.Events closes on any failure, and on
// a status response such as FORBIDDEN, without saying which, so a
// refusal could not be told from a dropped connection.
func (e *fabricEndpoint) privateEvents(ctx context.Context, startBlock uint64, priv *privateEvents) (eventStream, error) {
	req, err := e.network.NewBlockAndPrivateDataEventsRequest(client.WithStartBlock(startBlock))
	if err != nil {
		return nil, err
	}
	b, err := req.Bytes()
	if err != nil {
		return nil, err
	}
	env := &common.Envelope{}
	if err := proto.Unmarshal(b, env); err != nil {
		return nil, err
	}
	if env.Signature, err = e.signer.sign(req.Digest()); err != nil {
		return nil, fmt.Errorf("sign deliver request: %w", err)
	}
	stream, err := peer.NewDeliverClient(e.conn).DeliverWithPrivateData(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(env); err != nil {
		if errors.Is(err, io.EOF) {
			// The stream is broken; its error is what Recv returns.
			_, err = stream.Recv()
		}
		return nil, err
	}
	return &deliverEventStream{s: stream, chaincode: e.chaincode, priv: priv}, nil
}

type fabricEventStream struct {
	s gwproto.Gateway_ChaincodeEventsClient
}

func (f fabricEventStream) Recv() (*blockEvents, error) {
	resp, err := f.s.Recv()
	if err != nil {
		return nil, err
	}
	be := &blockEvents{Block: resp.GetBlockNumber(), Events: make([]rawEvent, 0, len(resp.GetEvents()))}
	for _, ev := range resp.GetEvents() {
		be.Events = append(be.Events, rawEvent{TxID: ev.GetTxId(), Name: ev.GetEventName(), Payload: ev.GetPayload()})
	}
	return be, nil
}

// Height asks the query system chaincode for the channel's height.
func (e *fabricEndpoint) Height(ctx context.Context) (uint64, error) {
	res, err := e.network.GetContract("qscc").EvaluateWithContext(ctx, "GetChainInfo", client.WithArguments(e.channel))
	if err != nil {
		return 0, err
	}
	var info common.BlockchainInfo
	if err := proto.Unmarshal(res, &info); err != nil {
		return 0, fmt.Errorf("decode chain info: %w", err)
	}
	return info.GetHeight(), nil
}

func (e *fabricEndpoint) Close() error {
	e.stopWatch()
	_ = e.gw.Close()
	err := e.conn.Close()
	<-e.watchDone
	return err
}
