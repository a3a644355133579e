package gateway

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// endpoint is one peer gateway as the retry, failover and stream logic see
// it. fabricEndpoint is the real implementation; tests use fakes. Errors are
// those of the fabric-gateway client (gRPC status errors, possibly wrapped
// in *client.EndorseError and friends); they are classified by the caller.
type endpoint interface {
	Addr() string
	// Healthy reports whether the endpoint looks usable: its connection is
	// not failing and no call failed on it recently.
	Healthy() bool
	// Suspect marks the endpoint as failing after a call failed on it.
	Suspect()
	// Reconnect asks a failing connection to try again now rather than
	// after its reconnect backoff.
	Reconnect()
	// Endorse and Evaluate send inv as a new proposal.
	Endorse(ctx context.Context, inv invocation) (*endorsedTx, error)
	// Submit sends an endorsed transaction (possibly endorsed through another
	// endpoint) to the ordering service.
	Submit(ctx context.Context, tx *endorsedTx) error
	// CommitStatus waits for the transaction to commit on this peer.
	CommitStatus(ctx context.Context, txID string) (commitStatus, error)
	Evaluate(ctx context.Context, inv invocation) ([]byte, error)
	// Events streams the chaincode's events from startBlock on, one
	// blockEvents per block that has some: the gateway's chaincode events,
	// or, with priv, the same events with each routed transaction's stub
	// replaced by its full private event (privateevents.go).
	Events(ctx context.Context, startBlock uint64, priv *privateEvents) (eventStream, error)
	// Height returns the channel's block height as this peer knows it.
	Height(ctx context.Context) (uint64, error)
	Close() error
}

// endorsedTx is an endorsed, signed transaction that any endpoint can
// submit: the same bytes, so the same transaction ID, wherever it goes.
type endorsedTx struct {
	TxID   string
	Result []byte
	// Prepared is the serialized gateway.PreparedTransaction and Signature
	// the client's signature of its envelope.
	Prepared  []byte
	Signature []byte
}

type commitStatus struct {
	Code  peer.TxValidationCode
	Block uint64
}

type eventStream interface {
	Recv() (*blockEvents, error)
}

// blockEvents are the chaincode events of one block, in transaction order.
type blockEvents struct {
	Block  uint64
	Events []rawEvent
}

type rawEvent struct {
	TxID    string
	Name    string
	Payload []byte
}

// homeProbeEvery is how often a client away from its home endpoint
// checks whether it may go back.
const homeProbeEvery = time.Second

// pool holds the endpoints and the current one. The current endpoint is
// used until a call on it fails as unavailable or it turns unhealthy; then
// the next healthy endpoint (in configuration order, wrapping) becomes
// current. The first endpoint is home (the client's own organisation's
// peer, whose answers are the organisation's trust anchor): while the pool
// is away from it, a background loop probes it every homeProbeEvery once
// its connection looks healthy, and goes back as soon as a probe finds it
// serving, chaincode included, and caught up (probe). It does so without
// traffic, so a client is home within about two probe intervals of its
// peer's return.
type pool struct {
	mu      sync.Mutex
	eps     []endpoint
	msps    []string // MSP of each endpoint ("" : unknown), when configured
	cur     int
	log     *slog.Logger
	metrics *Metrics
	clock   clock
	// probe reports whether ep serves and has caught up with the ledger;
	// nil: never go home on its own.
	probe    func(ep endpoint) bool
	homeLoop bool          // the loop that brings the pool home runs
	probes   int           // probes made (tests)
	closed   chan struct{} // closed by close
}

func newPool(eps []endpoint, log *slog.Logger, m *Metrics, clk clock, probe func(endpoint) bool) *pool {
	return &pool{eps: eps, log: log, metrics: m, clock: clk, probe: probe, closed: make(chan struct{})}
}

// current returns the endpoint to use, first moving away from the current
// one if it is unhealthy and another endpoint is healthy.
func (p *pool) current() endpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep := p.eps[p.cur]
	if ep.Healthy() {
		return ep
	}
	if next, ok := p.nextHealthyLocked(); ok {
		p.moveLocked(next, "unhealthy")
	}
	return p.eps[p.cur]
}

// goHome is the loop that runs while the pool is away from home: every
// homeProbeEvery it probes home (when its connection looks healthy) and
// moves back when the probe succeeds. It ends when the pool is home or
// closed.
func (p *pool) goHome() {
	for {
		tick, stop := p.clock.Timer(homeProbeEvery)
		select {
		case <-tick:
		case <-p.closed:
			stop()
			return
		}
		p.mu.Lock()
		if p.cur == 0 {
			p.homeLoop = false
			p.mu.Unlock()
			return
		}
		home := p.eps[0]
		p.mu.Unlock()
		if !home.Healthy() {
			continue
		}
		ok := p.probe(home)
		p.mu.Lock()
		p.probes++
		if ok && p.cur != 0 && home.Healthy() {
			p.moveLocked(0, "home endpoint healthy again")
		}
		p.mu.Unlock()
	}
}

// fail reports that a call on ep failed in a way that makes ep suspect. If
// ep is still current, the next healthy endpoint (or simply the next one if
// none is healthy) becomes current.
func (p *pool) fail(ep endpoint) {
	ep.Suspect()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.eps) == 1 {
		ep.Reconnect()
		return
	}
	if p.eps[p.cur] != ep {
		return
	}
	next, ok := p.nextHealthyLocked()
	if !ok {
		// Nothing looks healthy: make every connection retry at once, so
		// that a restarted peer is found without waiting for its backoff.
		for _, e := range p.eps {
			e.Reconnect()
		}
		next = (p.cur + 1) % len(p.eps)
	}
	p.moveLocked(next, "call failed")
}

func (p *pool) nextHealthyLocked() (int, bool) {
	n := len(p.eps)
	for i := 1; i < n; i++ {
		j := (p.cur + i) % n
		if p.eps[j].Healthy() {
			return j, true
		}
	}
	return 0, false
}

func (p *pool) moveLocked(next int, reason string) {
	from, to := p.eps[p.cur].Addr(), p.eps[next].Addr()
	p.cur = next
	p.metrics.failover(from)
	p.log.Warn("ledger endpoint failover", "endpoint", to, "from", from, "reason", reason)
	if next != 0 && p.probe != nil && !p.homeLoop {
		select {
		case <-p.closed:
		default:
			p.homeLoop = true
			go p.goHome()
		}
	}
}

// currentFor returns the endpoint to send inv through. A request that
// carries serials as transient data (inv.private) goes only through a peer
// of the client's own organisation (own) or of inv.Orgs: the current one if
// it qualifies and is healthy, else the first healthy one that does, else
// the first that does (its failure is then the call's). The pool's current
// endpoint does not move. Any other request: current.
func (p *pool) currentFor(inv invocation, own string) endpoint {
	if !inv.private() {
		return p.current()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ok := func(i int) bool {
		m := ""
		if i < len(p.msps) {
			m = p.msps[i]
		}
		if m == "" {
			return i == 0
		}
		return m == own || slices.Contains(inv.Orgs, m)
	}
	n := len(p.eps)
	for i := 0; i < n; i++ {
		if j := (p.cur + i) % n; ok(j) && p.eps[j].Healthy() {
			return p.eps[j]
		}
	}
	for j := 0; j < n; j++ {
		if ok(j) {
			return p.eps[j]
		}
	}
	return p.eps[0]
}

func (p *pool) all() []endpoint { return p.eps }

func (p *pool) close() error {
	p.mu.Lock()
	select {
	case <-p.closed:
	default:
		close(p.closed)
	}
	p.mu.Unlock()
	var first error
	for _, ep := range p.eps {
		if err := ep.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
