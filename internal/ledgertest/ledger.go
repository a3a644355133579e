// Package ledgertest is an in-memory Fabric peer for chaincode unit tests: a
// world state with versions and key history, and a stub implementing
// shim.ChaincodeStubInterface with the peer's semantics for what PharmaTrace
// uses: composite keys (the shim's own encoding), range and partial
// composite-key queries with LevelDB-style pagination and bookmarks, the
// total query limit, key history (newest first), one event per transaction,
// the transaction timestamp and ID, and the creator's serialized identity
// (see NewIdentity). A transaction is simulated against committed state
// (reads never see the transaction's own writes, as on a peer) and its
// writes are applied only when it commits: never when the chaincode returned
// an error status, never on an MVCC read or phantom conflict. Paginated
// queries are refused in a transaction that writes, as the peer does.
//
// Not modelled: private data, rich (CouchDB) queries, key-level endorsement,
// chaincode-to-chaincode calls.
package ledgertest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// Validation codes of a committed transaction.
const (
	Valid               = "VALID"
	EndorsementFailure  = "ENDORSEMENT_FAILURE" // chaincode returned an error: not submitted
	MVCCReadConflict    = "MVCC_READ_CONFLICT"
	PhantomReadConflict = "PHANTOM_READ_CONFLICT"
)

type version struct{ block, tx uint64 }

type entry struct {
	value []byte
	ver   version
}

type modification struct {
	txID    string
	value   []byte
	at      time.Time
	deleted bool
}

// Event is a chaincode event of a committed transaction.
type Event struct {
	// Block is the number of the block that committed the transaction (the
	// ledger's height after it: the first transaction is in block 1).
	Block   uint64
	TxID    string
	Name    string
	Payload []byte
	// Private is the transaction's private write set by collection and
	// key: what a member peer delivers with the block (block and private
	// data events). Deletes have nil values.
	Private map[string]map[string][]byte
}

// Ledger is the committed state of one channel for one chaincode.
type Ledger struct {
	mu      sync.Mutex
	channel string
	state   map[string]*entry
	keys    []string // sorted when !dirty
	dirty   bool
	history map[string][]modification // oldest first

	collections map[string][]string // collection → member MSPs (nil: not checked)
	height      uint64
	events      []Event
	now         time.Time
	step        time.Duration
	seq         uint64

	// TotalQueryLimit caps the results of one range query, as the peer's
	// ledger.state.totalQueryLimit does (core.yaml default 100000).
	TotalQueryLimit int
}

// New returns an empty ledger whose clock starts at start and advances by
// one second after each submitted transaction.
func New(start time.Time) *Ledger {
	return &Ledger{
		channel: "pharmatrace", state: map[string]*entry{}, history: map[string][]modification{},
		now: start.UTC(), step: time.Second, TotalQueryLimit: 100000,
	}
}

// Now returns the timestamp the next transaction will get.
func (l *Ledger) Now() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now
}

// SetTime sets the timestamp of the next transaction.
func (l *Ledger) SetTime(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = t.UTC()
}

// Advance moves the clock forward by d.
func (l *Ledger) Advance(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = l.now.Add(d)
}

// Height returns the number of committed blocks (one transaction each).
func (l *Ledger) Height() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.height
}

// Events returns the events of the committed transactions, in order.
func (l *Ledger) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// EventsFrom returns the events of the committed transactions from the
// i-th on (0: all), in order.
func (l *Ledger) EventsFrom(i int) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i >= len(l.events) {
		return nil
	}
	return slices.Clone(l.events[i:])
}

// Get returns the committed value of key (nil when absent).
func (l *Ledger) Get(key string) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.state[key]; ok {
		return slices.Clone(e.value)
	}
	return nil
}

// Keys returns the committed keys in [start, end) in order ("" end: no bound).
func (l *Ledger) Keys(start, end string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rangeKeys(start, end)
}

// Put writes key directly as a committed transaction of its own (test setup).
func (l *Ledger) Put(key string, value []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.height++
	l.apply(fmt.Sprintf("setup-%d", l.height), l.now, []write{{key: key, value: value}})
}

// Len returns the number of keys in the committed state.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.state)
}

func (l *Ledger) sortedKeys() []string {
	if l.dirty {
		sort.Strings(l.keys)
		l.keys = slices.Compact(l.keys)
		l.dirty = false
	}
	return l.keys
}

// rangeKeys returns the committed keys in [start, end) ("" end: unbounded).
func (l *Ledger) rangeKeys(start, end string) []string {
	keys := l.sortedKeys()
	i := sort.SearchStrings(keys, start)
	j := len(keys)
	if end != "" {
		j = sort.SearchStrings(keys, end)
	}
	if j < i {
		return nil
	}
	return keys[i:j]
}

type write struct {
	key   string
	value []byte // nil or empty: delete
}

func (l *Ledger) apply(txID string, at time.Time, writes []write) {
	deleted := false
	for i, w := range writes {
		ver := version{block: l.height, tx: uint64(i)}
		if len(w.value) == 0 {
			if _, ok := l.state[w.key]; ok {
				delete(l.state, w.key)
				deleted = true
			}
			l.history[w.key] = append(l.history[w.key], modification{txID: txID, at: at, deleted: true})
			continue
		}
		if _, ok := l.state[w.key]; !ok {
			l.keys = append(l.keys, w.key)
			l.dirty = true
		}
		l.state[w.key] = &entry{value: w.value, ver: ver}
		l.history[w.key] = append(l.history[w.key], modification{txID: txID, value: w.value, at: at})
	}
	if deleted {
		kept := l.keys[:0]
		for _, k := range l.keys {
			if _, ok := l.state[k]; ok {
				kept = append(kept, k)
			}
		}
		l.keys = kept
	}
}

// PrivateValue returns the value the event's transaction wrote to key in
// any collection (nil: none).
func (e Event) PrivateValue(key string) []byte {
	for _, kv := range e.Private {
		if v, ok := kv[key]; ok {
			return v
		}
	}
	return nil
}

// SetCollections declares the channel's private data collections and their
// member MSPs: a collection not declared is refused, and a proposal
// simulated on a non-member's peer (Proposal.Peer) cannot read its values.
func (l *Ledger) SetCollections(members map[string][]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.collections = members
}

// Proposal is one transaction proposal: who calls which function with which
// arguments. TxID and Time default to a fresh ID and the ledger clock.
type Proposal struct {
	Identity *Identity
	Function string // "name" or "contract:name"
	Args     []string
	TxID     string
	Time     time.Time
	// Transient is the proposal's transient map (never committed).
	Transient map[string][]byte
	// Peer is the MSP of the peer that simulates the proposal; with
	// SetCollections it decides which collections' values it holds.
	// Empty: a peer that is a member of every collection.
	Peer string
}

// Response is the outcome of a proposal.
type Response struct {
	TxID       string
	Status     int32
	Message    string
	Payload    []byte
	Validation string // for Submit/Commit: Valid, EndorsementFailure, ...
	Event      *Event // the transaction's event (committed or not)
	EventCalls int    // how many times the chaincode called SetEvent
	Reads      int    // GetState calls (GetMultipleStates counts each key)
	Ranges     int    // range, partial-composite-key and history queries
	Writes     int    // PutState and DelState calls
	WriteBytes int    // keys and values of the write set
}

// OK reports whether the chaincode returned a success status.
func (r Response) OK() bool { return r.Status < shim.ERRORTHRESHOLD }

// Committed reports whether the transaction was committed as valid.
func (r Response) Committed() bool { return r.Validation == Valid }

// Simulation is an endorsed (simulated) proposal waiting to be committed.
type Simulation struct {
	stub     *Stub
	response Response
}

// Response returns the simulation's response.
func (s *Simulation) Response() Response { return s.response }

// Simulate executes the proposal against the committed state (endorsement)
// without committing it.
func (l *Ledger) Simulate(cc shim.Chaincode, p Proposal) *Simulation {
	l.mu.Lock()
	l.seq++
	seq := l.seq
	ts := l.now
	l.mu.Unlock()
	if !p.Time.IsZero() {
		ts = p.Time.UTC()
	}
	txID := p.TxID
	if txID == "" {
		sum := sha256.Sum256([]byte("ledgertest-tx-" + strconv.FormatUint(seq, 10)))
		txID = hex.EncodeToString(sum[:])
	}
	args := make([][]byte, 0, len(p.Args)+1)
	args = append(args, []byte(p.Function))
	for _, a := range p.Args {
		args = append(args, []byte(a))
	}
	var creator []byte
	if p.Identity != nil {
		creator = p.Identity.Creator
	}
	stub := newStub(l, txID, ts, args, creator)
	stub.peer, stub.transient = p.Peer, p.Transient
	res := cc.Invoke(stub)
	r := Response{TxID: txID, EventCalls: stub.eventCalls, Reads: stub.reads, Ranges: stub.rangeCalls, Writes: stub.writeCalls}
	for k, v := range stub.writes {
		r.WriteBytes += len(k) + len(v)
	}
	if res != nil {
		r.Status, r.Message, r.Payload = res.Status, res.Message, res.Payload
	}
	if stub.event != nil {
		ev := *stub.event
		ev.Private = stub.privateWriteSet()
		r.Event = &ev
	}
	return &Simulation{stub: stub, response: r}
}

// Commit validates and commits a simulation: a proposal whose chaincode
// failed is not committed (EndorsementFailure); a read set or range that
// changed since simulation invalidates it (MVCC / phantom conflict).
// Each committed transaction is one block and advances the clock.
func (l *Ledger) Commit(s *Simulation) Response {
	r := s.response
	if !r.OK() {
		r.Validation = EndorsementFailure
		return r
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.height++
	if code := s.stub.validate(); code != Valid {
		r.Validation = code
		l.now = l.now.Add(l.step)
		return r
	}
	l.apply(s.stub.txID, s.stub.ts, s.stub.orderedWrites())
	if s.stub.event != nil {
		l.events = append(l.events, Event{Block: l.height, TxID: s.stub.txID, Name: s.stub.event.Name, Payload: s.stub.event.Payload,
			Private: s.stub.privateWriteSet()})
	}
	l.now = l.now.Add(l.step)
	r.Validation = Valid
	return r
}

// Submit simulates and commits a proposal.
func (l *Ledger) Submit(cc shim.Chaincode, p Proposal) Response {
	return l.Commit(l.Simulate(cc, p))
}

// Evaluate simulates a proposal (a query) without committing anything.
func (l *Ledger) Evaluate(cc shim.Chaincode, p Proposal) Response {
	return l.Simulate(cc, p).response
}
