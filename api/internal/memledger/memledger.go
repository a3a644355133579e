// Package memledger runs the REAL PharmaTrace contract (package chaincode,
// through contractapi's own dispatch) on the in-memory Fabric peer of
// internal/ledgertest, behind the API's Ledger and EventSource interfaces.
// The API's unit tests and `pharmatrace-api serve -fake-ledger` use it, so
// every rule they exercise is the contract's, not a copy that can drift.
//
// What it does not model is the network: one peer, no endorsement policy,
// no ordering (each write is its own block). Writes are serialised, so no
// MVCC conflict can occur. Callers are identified by trace.Actor (plus the
// company prefixes of a manufacturer): each gets a certificate whose Fabric
// CA attributes carry its role, GLN and prefixes, exactly what the contract
// reads on a real network.
package memledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/chaincode"
	"github.com/pharmatrace/pharmatrace/internal/ledgertest"
	"github.com/pharmatrace/pharmatrace/trace"
)

// Call is one recorded write.
type Call struct {
	Fn        string
	Actor     trace.Actor
	RequestID string
	Req       any
}

// Ledger is the contract on an in-memory peer. The zero value is not
// usable: call New.
type Ledger struct {
	peer *ledgertest.Ledger
	cc   *contractapi.ContractChaincode

	mu       sync.Mutex // serialises writes; guards the fields below
	changed  *sync.Cond
	ids      map[string]*ledgertest.Identity
	calls    []Call
	failNext error
}

// New returns an empty ledger running chaincode.DefaultConfig (the reference
// network's organisations and roles) whose clock starts at start and
// advances one second per committed transaction (zero start: now minus two
// hours, so that nothing is dated in the future).
func New(start time.Time) (*Ledger, error) {
	if start.IsZero() {
		start = time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	}
	peer := ledgertest.New(start)
	cfg := chaincode.DefaultConfig()
	cfg.Clock = peer.Now
	cc, err := chaincode.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("memledger: %w", err)
	}
	l := &Ledger{peer: peer, cc: cc, ids: map[string]*ledgertest.Identity{}}
	l.changed = sync.NewCond(&l.mu)
	return l, nil
}

// Peer returns the in-memory peer (its clock, state and events).
func (l *Ledger) Peer() *ledgertest.Ledger { return l.peer }

// FailNext makes the next Submit fail with err before reaching the contract.
func (l *Ledger) FailNext(err error) {
	l.mu.Lock()
	l.failNext = err
	l.mu.Unlock()
}

// Calls returns the writes submitted so far (failed ones included).
func (l *Ledger) Calls() []Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Call(nil), l.calls...)
}

// SubmitCount returns how many writes named fn were submitted.
func (l *Ledger) SubmitCount(fn string) int {
	n := 0
	for _, c := range l.Calls() {
		if c.Fn == fn {
			n++
		}
	}
	return n
}

// Events returns every committed event, decoded, with its position.
func (l *Ledger) Events() ([]trace.Event, []readmodel.Position) {
	raw := l.peer.EventsFrom(0)
	evs := make([]trace.Event, 0, len(raw))
	pos := make([]readmodel.Position, 0, len(raw))
	for _, e := range raw {
		var ev trace.Event
		if err := json.Unmarshal(fullPayload(e), &ev); err != nil {
			panic(fmt.Sprintf("memledger: the contract emitted an undecodable event: %v", err)) // a contract bug, not an input
		}
		evs = append(evs, ev)
		pos = append(pos, readmodel.Position{Block: e.Block, TxID: e.TxID})
	}
	return evs, pos
}

// Height returns the number of blocks, counting a genesis block.
func (l *Ledger) Height(context.Context) (uint64, error) { return l.peer.Height() + 1, nil }

// Stream implements readmodel.EventSource: every event after from, then
// waits for new ones until ctx ends.
func (l *Ledger) Stream(ctx context.Context, from readmodel.Position, apply readmodel.ApplyFunc) error {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.changed.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	next := 0
	for {
		l.mu.Lock()
		var batch []ledgertest.Event
		for {
			batch = l.peer.EventsFrom(next)
			if len(batch) > 0 || ctx.Err() != nil {
				break
			}
			l.changed.Wait()
		}
		l.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, e := range batch {
			next++
			pos := readmodel.Position{Block: e.Block, TxID: e.TxID}
			if !pos.After(from) {
				continue
			}
			var ev trace.Event
			if err := json.Unmarshal(fullPayload(e), &ev); err != nil {
				return fmt.Errorf("memledger: event %s: %w", e.TxID, err)
			}
			if err := apply(ctx, ev, pos); err != nil {
				return err
			}
			from = pos
		}
	}
}

// For returns the ledger as seen by one caller (gcps: a manufacturer's
// company prefixes); its Submit and Evaluate match the API's Ledger.
func (l *Ledger) For(a trace.Actor, gcps ...string) *Caller {
	return &Caller{l: l, actor: a, gcp: strings.Join(gcps, ",")}
}

// identity returns the caller's certificate, made once per actor.
func (l *Ledger) identity(a trace.Actor, gcp string) (*ledgertest.Identity, error) {
	k := strings.Join([]string{a.MSP, string(a.Role), a.GLN, gcp}, "|")
	if id, ok := l.ids[k]; ok {
		return id, nil
	}
	attrs := map[string]string{trace.AttrRole: string(a.Role)}
	if a.GLN != "" {
		attrs[trace.AttrGLN] = a.GLN
	}
	if gcp != "" {
		attrs[trace.AttrGCP] = gcp
	}
	id, err := ledgertest.NewIdentity(a.MSP, string(a.Role)+"-"+a.GLN, attrs)
	if err != nil {
		return nil, fmt.Errorf("memledger: identity: %w", err)
	}
	l.ids[k] = id
	return id, nil
}

// Caller is the ledger bound to one identity.
type Caller struct {
	l     *Ledger
	actor trace.Actor
	gcp   string
}

// Actor returns the caller's identity.
func (c *Caller) Actor() trace.Actor { return c.actor }

// Submit endorses and commits a write transaction, as the gateway does.
func (c *Caller) Submit(ctx context.Context, fn string, req trace.WriteRequest, result any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	arg, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("memledger: encode %s request: %w", fn, err)
	}
	l := c.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, Call{Fn: fn, Actor: c.actor, RequestID: req.ID(), Req: req})
	if err := l.failNext; err != nil {
		l.failNext = nil
		return err
	}
	id, err := l.identity(c.actor, c.gcp)
	if err != nil {
		return err
	}
	if c, ok := req.(*trace.CommissionPacksRequest); ok {
		// As the gateway does: lots are public records, registered first.
		if r := l.peer.Evaluate(l.cc, proposal(id, trace.TxGetLot, mustMarshal(trace.LotQuery{GTIN: c.GTIN, Lot: c.Lot}))); !r.OK() {
			l.peer.Submit(l.cc, proposal(id, trace.TxRegisterLot, mustMarshal(trace.RegisterLotRequest{
				RequestHeader: trace.RequestHeader{RequestID: c.RequestID + ":lot"}, GTIN: c.GTIN, Lot: c.Lot, Expiry: c.Expiry})))
		}
	}
	r := l.peer.Submit(l.cc, proposal(id, fn, arg))
	if cp, ok := req.(*trace.CommissionPacksRequest); ok && strings.Contains(r.Message, "has no pseudonym key yet") {
		// As the gateway does: the collection's first commissioning sets
		// its pseudonym key (a fixed one here: an in-memory test ledger).
		l.peer.Submit(l.cc, proposal(id, trace.TxInitCollection, mustMarshal(trace.InitCollectionRequest{
			RequestHeader: trace.RequestHeader{RequestID: cp.RequestID + ":key"}, Manufacturer: c.actor.MSP, Key: make([]byte, trace.CollectionKeySize)})))
		r = l.peer.Submit(l.cc, proposal(id, fn, arg))
	}
	if !r.OK() {
		return chaincodeError(fn, r.Message)
	}
	if !r.Committed() {
		return fmt.Errorf("memledger: %s transaction %s invalidated (%s)", fn, r.TxID, r.Validation)
	}
	l.changed.Broadcast()
	payload, err := opened(r)
	if err != nil {
		return fmt.Errorf("memledger: %s: %w", fn, err)
	}
	return decodeResult(fn, payload, result)
}

// Evaluate runs a query.
func (c *Caller) Evaluate(ctx context.Context, fn string, req trace.Request, result any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	arg, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("memledger: encode %s request: %w", fn, err)
	}
	c.l.mu.Lock()
	id, err := c.l.identity(c.actor, c.gcp)
	c.l.mu.Unlock()
	if err != nil {
		return err
	}
	r := c.l.peer.Evaluate(c.l.cc, proposal(id, fn, arg))
	if !r.OK() {
		return chaincodeError(fn, r.Message)
	}
	return decodeResult(fn, r.Payload, result)
}

// fullPayload is the event a collection member delivers: a routed
// transaction's full event is its private write (what a member's
// block-and-private-data stream delivers), its public event a stub.
func fullPayload(e ledgertest.Event) []byte {
	if v := e.PrivateValue(trace.PrivateEventKey); v != nil {
		return v
	}
	return e.Payload
}

// proposal sends req as a conforming client does: a routed transaction's
// request as transient data with an empty argument, any other as the
// argument. (One peer, member of every collection: the route's endorsers
// are not modelled.)
func proposal(id *ledgertest.Identity, fn string, arg []byte) ledgertest.Proposal {
	p := ledgertest.Proposal{Identity: id, Function: trace.ContractName + ":" + fn, Args: []string{string(arg)}}
	if info, ok := trace.TxByName(fn); ok && info.Routed {
		p.Args, p.Transient = []string{""}, map[string][]byte{trace.TransientRequest: arg}
		if !info.Query {
			p.Transient[trace.TransientResultKey] = resultKey
		}
	}
	return p
}

// resultKey seals the results of routed writes (trace/seal.go); a fixed
// one: nothing leaves the process.
var resultKey = make([]byte, trace.ResultKeySize)

// opened returns a routed write's sealed result opened.
func opened(r ledgertest.Response) ([]byte, error) {
	if !trace.IsSealed(r.Payload) {
		return r.Payload, nil
	}
	return trace.OpenResult(resultKey, r.TxID, r.Payload)
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // trace request types always encode
	}
	return b
}

// chaincodeError is the contract's error as a client sees it after the
// Fabric boundary: only its message survives, and its class is read back
// from the message.
func chaincodeError(fn, msg string) error {
	return fmt.Errorf("%s: %w", fn, errors.New(msg))
}

func decodeResult(fn string, payload []byte, result any) error {
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(payload, result); err != nil {
		return fmt.Errorf("memledger: decode %s result: %w", fn, err)
	}
	return nil
}
