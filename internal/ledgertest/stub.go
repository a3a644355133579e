package ledgertest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	compositeKeyNamespace = "\x00"
	emptyKeySubstitute    = "\x01"
	maxRune               = string(utf8.MaxRune)
	namespace             = "pharmatrace"
)

var errNotModelled = errors.New("not modelled by ledgertest")

type rangeRead struct {
	start, end string
	limit      int // 0: no page limit
	keys       []string
	vers       []version
}

// Stub is the ChaincodeStubInterface of one simulated transaction.
type Stub struct {
	l       *Ledger
	txID    string
	ts      time.Time
	args    [][]byte
	creator []byte

	readVers   map[string]*version // nil: read as absent
	ranges     []rangeRead
	writes     map[string][]byte
	writeOrder []string
	event      *Event
	eventCalls int
	reads      int
	rangeCalls int // range, partial-composite-key and history queries
	writeCalls int
	paginated  bool

	peer          string // MSP of the simulating peer ("" : member of every collection)
	transient     map[string][]byte
	privateWrites int
}

var _ shim.ChaincodeStubInterface = (*Stub)(nil)

func newStub(l *Ledger, txID string, ts time.Time, args [][]byte, creator []byte) *Stub {
	return &Stub{l: l, txID: txID, ts: ts, args: args, creator: creator,
		readVers: map[string]*version{}, writes: map[string][]byte{}}
}

func (s *Stub) orderedWrites() []write {
	out := make([]write, 0, len(s.writeOrder))
	for _, k := range s.writeOrder {
		out = append(out, write{key: k, value: s.writes[k]})
	}
	return out
}

// privateWriteSet returns the transaction's private writes by collection.
func (s *Stub) privateWriteSet() map[string]map[string][]byte {
	var out map[string]map[string][]byte
	for _, k := range s.writeOrder {
		rest, ok := strings.CutPrefix(k, pvtSep)
		if !ok {
			continue
		}
		coll, key, _ := strings.Cut(rest, pvtSep)
		if out == nil {
			out = map[string]map[string][]byte{}
		}
		if out[coll] == nil {
			out[coll] = map[string][]byte{}
		}
		out[coll][key] = s.writes[k]
	}
	return out
}

// validate is the committer's MVCC and phantom check (ledger lock held).
func (s *Stub) validate() string {
	for k, v := range s.readVers {
		e, ok := s.l.state[k]
		switch {
		case v == nil && ok, v != nil && !ok, v != nil && ok && e.ver != *v:
			return MVCCReadConflict
		}
	}
	for _, r := range s.ranges {
		keys := s.l.rangeKeys(r.start, r.end)
		if r.limit > 0 && len(keys) > r.limit {
			keys = keys[:r.limit]
		}
		if len(keys) != len(r.keys) {
			return PhantomReadConflict
		}
		for i, k := range keys {
			if k != r.keys[i] || s.l.state[k].ver != r.vers[i] {
				return PhantomReadConflict
			}
		}
	}
	return Valid
}

// ---- arguments and transaction data ----

// GetArgs returns the arguments, function name first.
func (s *Stub) GetArgs() [][]byte { return s.args }

// GetStringArgs returns the arguments as strings.
func (s *Stub) GetStringArgs() []string {
	out := make([]string, len(s.args))
	for i, a := range s.args {
		out[i] = string(a)
	}
	return out
}

// GetFunctionAndParameters returns the function name and its parameters.
func (s *Stub) GetFunctionAndParameters() (string, []string) {
	a := s.GetStringArgs()
	if len(a) == 0 {
		return "", nil
	}
	return a[0], a[1:]
}

// GetArgsSlice returns the arguments concatenated.
func (s *Stub) GetArgsSlice() ([]byte, error) {
	var out []byte
	for _, a := range s.args {
		out = append(out, a...)
	}
	return out, nil
}

// GetTxID returns the transaction ID.
func (s *Stub) GetTxID() string { return s.txID }

// GetChannelID returns the channel name.
func (s *Stub) GetChannelID() string { return s.l.channel }

// GetCreator returns the caller's serialized identity.
func (s *Stub) GetCreator() ([]byte, error) { return s.creator, nil }

// GetTransient returns an empty transient map.
func (s *Stub) GetTransient() (map[string][]byte, error) {
	out := make(map[string][]byte, len(s.transient))
	for k, v := range s.transient {
		out[k] = slices.Clone(v)
	}
	return out, nil
}

// GetBinding returns nil.
func (s *Stub) GetBinding() ([]byte, error) { return nil, nil }

// GetDecorations returns nil.
func (s *Stub) GetDecorations() map[string][]byte { return nil }

// GetSignedProposal is not modelled.
func (s *Stub) GetSignedProposal() (*peer.SignedProposal, error) { return nil, errNotModelled }

// GetTxTimestamp returns the transaction timestamp (the client's, as on a peer).
func (s *Stub) GetTxTimestamp() (*timestamppb.Timestamp, error) { return timestamppb.New(s.ts), nil }

// SetEvent sets the transaction's event; as on a peer, a later call replaces
// an earlier one (EventCalls in the Response counts the calls).
func (s *Stub) SetEvent(name string, payload []byte) error {
	if name == "" {
		return errors.New("event name can not be empty string")
	}
	s.eventCalls++
	s.event = &Event{TxID: s.txID, Name: name, Payload: slices.Clone(payload)}
	return nil
}

// InvokeChaincode is not modelled.
func (s *Stub) InvokeChaincode(string, [][]byte, string) *peer.Response {
	return &peer.Response{Status: shim.ERROR, Message: errNotModelled.Error()}
}

// ---- state ----

func (s *Stub) read(key string) []byte {
	s.reads++
	e, ok := s.l.state[key]
	if _, seen := s.readVers[key]; !seen {
		if ok {
			v := e.ver
			s.readVers[key] = &v
		} else {
			s.readVers[key] = nil
		}
	}
	if !ok {
		return nil
	}
	return slices.Clone(e.value)
}

// GetState returns the committed value of key (nil when absent); like the
// peer it does not see this transaction's own writes.
func (s *Stub) GetState(key string) ([]byte, error) {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	return s.read(key), nil
}

// GetMultipleStates returns the committed values of keys, in order.
func (s *Stub) GetMultipleStates(keys ...string) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = s.read(k)
	}
	return out, nil
}

func (s *Stub) put(key string, value []byte) error {
	if key == "" {
		return errors.New("key must not be an empty string")
	}
	if s.paginated {
		return fmt.Errorf("txid [%s]: unsuppored transaction. Transaction has already performed a paginated query. Writes are not allowed", s.txID)
	}
	s.writeCalls++
	if _, ok := s.writes[key]; !ok {
		s.writeOrder = append(s.writeOrder, key)
	}
	s.writes[key] = slices.Clone(value)
	return nil
}

// PutState records a write (an empty value is a delete, as on a peer).
func (s *Stub) PutState(key string, value []byte) error { return s.put(key, value) }

// DelState records a delete.
func (s *Stub) DelState(key string) error { return s.put(key, nil) }

// StartWriteBatch has no effect (writes are always buffered here).
func (s *Stub) StartWriteBatch() {}

// FinishWriteBatch has no effect.
func (s *Stub) FinishWriteBatch() error { return nil }

// SetStateValidationParameter is not modelled.
func (s *Stub) SetStateValidationParameter(string, []byte) error { return errNotModelled }

// GetStateValidationParameter is not modelled.
func (s *Stub) GetStateValidationParameter(string) ([]byte, error) { return nil, errNotModelled }

// ---- range queries ----

type kvIterator struct {
	kvs    []*queryresult.KV
	i      int
	closed bool
}

func (it *kvIterator) HasNext() bool { return !it.closed && it.i < len(it.kvs) }
func (it *kvIterator) Close() error  { it.closed = true; return nil }
func (it *kvIterator) Next() (*queryresult.KV, error) {
	if !it.HasNext() {
		return nil, errors.New("no more results")
	}
	it.i++
	return it.kvs[it.i-1], nil
}

func validateSimpleKeys(keys ...string) error {
	for _, k := range keys {
		if len(k) > 0 && k[0] == compositeKeyNamespace[0] {
			return fmt.Errorf(`first character of the key [%s] contains a null character which is not allowed`, k)
		}
	}
	return nil
}

// scan runs a range query on committed state. pageSize 0 means a plain
// query (capped by TotalQueryLimit); bookmark, when set, replaces start.
func (s *Stub) scan(start, end string, pageSize int32, bookmark string) (*kvIterator, *peer.QueryResponseMetadata, error) {
	paged := pageSize > 0 || bookmark != ""
	if paged {
		if len(s.writes) > 0 || s.writeCalls > 0 {
			return nil, nil, fmt.Errorf("txid [%s]: unsuppored transaction. Paginated queries are supported only in a read-only transaction", s.txID)
		}
		s.paginated = true
		if bookmark != "" {
			start = bookmark
		}
	}
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	keys := s.l.rangeKeys(start, end)
	limit := s.l.TotalQueryLimit
	if paged && pageSize > 0 && int(pageSize) < limit {
		limit = int(pageSize)
	}
	next := ""
	if len(keys) > limit {
		if paged {
			next = keys[limit]
		}
		keys = keys[:limit]
	}
	it := &kvIterator{kvs: make([]*queryresult.KV, len(keys))}
	rr := rangeRead{start: start, end: end, limit: limit, keys: slices.Clone(keys), vers: make([]version, len(keys))}
	for i, k := range keys {
		e := s.l.state[k]
		it.kvs[i] = &queryresult.KV{Namespace: namespace, Key: k, Value: slices.Clone(e.value)}
		rr.vers[i] = e.ver
	}
	if !paged {
		s.ranges = append(s.ranges, rr)
		return it, nil, nil
	}
	return it, &peer.QueryResponseMetadata{FetchedRecordsCount: int32(len(keys)), Bookmark: next}, nil
}

// GetStateByRange returns the committed keys in [startKey, endKey).
func (s *Stub) GetStateByRange(startKey, endKey string) (shim.StateQueryIteratorInterface, error) {
	s.rangeCalls++
	if startKey == "" {
		startKey = emptyKeySubstitute
	}
	if err := validateSimpleKeys(startKey, endKey); err != nil {
		return nil, err
	}
	it, _, err := s.scan(startKey, endKey, 0, "")
	if err != nil {
		return nil, err
	}
	return it, nil
}

// GetStateByRangeWithPagination returns one page of GetStateByRange.
func (s *Stub) GetStateByRangeWithPagination(startKey, endKey string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	s.rangeCalls++
	if startKey == "" {
		startKey = emptyKeySubstitute
	}
	if err := validateSimpleKeys(startKey, endKey); err != nil {
		return nil, nil, err
	}
	return s.scanPaged(startKey, endKey, pageSize, bookmark)
}

func (s *Stub) scanPaged(start, end string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	if pageSize <= 0 {
		return nil, nil, fmt.Errorf("pageSize must be greater than 0 (got %d)", pageSize)
	}
	it, md, err := s.scan(start, end, pageSize, bookmark)
	if err != nil {
		return nil, nil, err
	}
	return it, md, nil
}

func partialRange(objectType string, attrs []string) (string, string, error) {
	k, err := shim.CreateCompositeKey(objectType, attrs)
	if err != nil {
		return "", "", err
	}
	return k, k + maxRune, nil
}

// GetStateByPartialCompositeKey returns the composite keys with the prefix.
func (s *Stub) GetStateByPartialCompositeKey(objectType string, attrs []string) (shim.StateQueryIteratorInterface, error) {
	s.rangeCalls++
	start, end, err := partialRange(objectType, attrs)
	if err != nil {
		return nil, err
	}
	it, _, err := s.scan(start, end, 0, "")
	if err != nil {
		return nil, err
	}
	return it, nil
}

// GetStateByPartialCompositeKeyWithPagination returns one page of
// GetStateByPartialCompositeKey; the bookmark is the next key ("" at the end).
func (s *Stub) GetStateByPartialCompositeKeyWithPagination(objectType string, attrs []string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	s.rangeCalls++
	start, end, err := partialRange(objectType, attrs)
	if err != nil {
		return nil, nil, err
	}
	return s.scanPaged(start, end, pageSize, bookmark)
}

// GetAllStatesCompositeKeyWithPagination returns one page of all composite keys.
func (s *Stub) GetAllStatesCompositeKeyWithPagination(pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.scanPaged(compositeKeyNamespace, emptyKeySubstitute, pageSize, bookmark)
}

// CreateCompositeKey uses the shim's encoding.
func (s *Stub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return shim.CreateCompositeKey(objectType, attributes)
}

// SplitCompositeKey splits a composite key as the shim does.
func (s *Stub) SplitCompositeKey(compositeKey string) (string, []string, error) {
	if !strings.HasPrefix(compositeKey, compositeKeyNamespace) {
		return "", nil, fmt.Errorf("%q is not a composite key", compositeKey)
	}
	parts := strings.Split(compositeKey[1:], compositeKeyNamespace)
	if len(parts) < 2 {
		return "", nil, fmt.Errorf("%q is not a composite key", compositeKey)
	}
	return parts[0], parts[1 : len(parts)-1], nil
}

// GetQueryResult is not available on LevelDB.
func (s *Stub) GetQueryResult(string) (shim.StateQueryIteratorInterface, error) {
	return nil, errors.New("rich queries are not supported on LevelDB (ledgertest models LevelDB)")
}

// GetQueryResultWithPagination is not available on LevelDB.
func (s *Stub) GetQueryResultWithPagination(string, int32, string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return nil, nil, errors.New("rich queries are not supported on LevelDB (ledgertest models LevelDB)")
}

// ---- history ----

type historyIterator struct {
	mods   []*queryresult.KeyModification
	i      int
	closed bool
}

func (it *historyIterator) HasNext() bool { return !it.closed && it.i < len(it.mods) }
func (it *historyIterator) Close() error  { it.closed = true; return nil }
func (it *historyIterator) Next() (*queryresult.KeyModification, error) {
	if !it.HasNext() {
		return nil, errors.New("no more results")
	}
	it.i++
	return it.mods[it.i-1], nil
}

// GetHistoryForKey returns the committed modifications of key, newest first
// (as Fabric 2.x does).
func (s *Stub) GetHistoryForKey(key string) (shim.HistoryQueryIteratorInterface, error) {
	s.rangeCalls++
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	h := s.l.history[key]
	it := &historyIterator{mods: make([]*queryresult.KeyModification, 0, len(h))}
	for i := len(h) - 1; i >= 0; i-- {
		m := h[i]
		it.mods = append(it.mods, &queryresult.KeyModification{
			TxId: m.txID, Value: slices.Clone(m.value), Timestamp: timestamppb.New(m.at), IsDelete: m.deleted,
		})
	}
	return it, nil
}

// ---- private data ----
//
// A collection's records live in the same state map under pvtKey, so MVCC,
// range and phantom checks apply to them exactly as to public records. What
// Fabric adds and is modelled here: a peer that is not a member of a
// collection (Proposal.Peer, Ledger.SetCollections) holds only hashes, so
// reading a value that exists fails there as it does on a peer ("private
// data matching public hash version is not available"); GetPrivateDataHash
// answers on every peer. There is no history of private data.

const pvtSep = "\x01"

func pvtKey(coll, key string) string { return pvtSep + coll + pvtSep + key }

// PrivateKey is the key under which the ledger stores key of collection
// coll (for Ledger.Get and Keys).
func PrivateKey(coll, key string) string { return pvtKey(coll, key) }

func (s *Stub) member(coll string) bool {
	if s.peer == "" || s.l.collections == nil {
		return true
	}
	return slices.Contains(s.l.collections[coll], s.peer)
}

func (s *Stub) checkCollection(coll string) error {
	if coll == "" {
		return errors.New("collection must not be an empty string")
	}
	if s.l.collections != nil {
		if _, ok := s.l.collections[coll]; !ok {
			return fmt.Errorf("collection %s could not be found for chaincode %s", coll, namespace)
		}
	}
	return nil
}

func (s *Stub) readPrivate(coll, key string) ([]byte, error) {
	v := s.read(pvtKey(coll, key))
	if v != nil && !s.member(coll) {
		return nil, fmt.Errorf("private data matching public hash version is not available. Public hash version = {BlockNum: %d, TxNum: 0}, Private data version = <nil>", s.l.height)
	}
	return v, nil
}

// GetPrivateData returns the committed value of key in coll.
func (s *Stub) GetPrivateData(coll, key string) ([]byte, error) {
	if err := s.checkCollection(coll); err != nil {
		return nil, err
	}
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	return s.readPrivate(coll, key)
}

// GetMultiplePrivateData returns the committed values of keys in coll.
func (s *Stub) GetMultiplePrivateData(coll string, keys ...string) ([][]byte, error) {
	if err := s.checkCollection(coll); err != nil {
		return nil, err
	}
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, err := s.readPrivate(coll, k)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// GetPrivateDataHash returns the SHA-256 of the committed value of key in
// coll (nil when absent); every peer has it.
func (s *Stub) GetPrivateDataHash(coll, key string) ([]byte, error) {
	if err := s.checkCollection(coll); err != nil {
		return nil, err
	}
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	v := s.read(pvtKey(coll, key))
	if v == nil {
		return nil, nil
	}
	sum := sha256.Sum256(v)
	return sum[:], nil
}

// PutPrivateData records a write to coll (non-members may write, as on a
// peer).
func (s *Stub) PutPrivateData(coll, key string, value []byte) error {
	if err := s.checkCollection(coll); err != nil {
		return err
	}
	if len(value) == 0 {
		return errors.New("value must not be empty")
	}
	s.privateWrites++
	return s.put(pvtKey(coll, key), value)
}

// DelPrivateData records a delete in coll.
func (s *Stub) DelPrivateData(coll, key string) error {
	if err := s.checkCollection(coll); err != nil {
		return err
	}
	s.privateWrites++
	return s.put(pvtKey(coll, key), nil)
}

// PurgePrivateData is not modelled.
func (s *Stub) PurgePrivateData(string, string) error { return errNotModelled }

// SetPrivateDataValidationParameter is not modelled.
func (s *Stub) SetPrivateDataValidationParameter(string, string, []byte) error {
	return errNotModelled
}

// GetPrivateDataValidationParameter is not modelled.
func (s *Stub) GetPrivateDataValidationParameter(string, string) ([]byte, error) {
	return nil, errNotModelled
}

func (s *Stub) scanPrivate(coll, start, end string) (shim.StateQueryIteratorInterface, error) {
	if err := s.checkCollection(coll); err != nil {
		return nil, err
	}
	s.rangeCalls++
	pstart, pend := pvtKey(coll, start), pvtKey(coll, end)
	if end == "" {
		pend = pvtSep + coll + "\x02"
	}
	it, _, err := s.scan(pstart, pend, 0, "")
	if err != nil {
		return nil, err
	}
	if !s.member(coll) {
		it.kvs = nil // a non-member holds no values to iterate
	}
	prefix := pvtKey(coll, "")
	for _, kv := range it.kvs {
		kv.Key = strings.TrimPrefix(kv.Key, prefix)
	}
	return it, nil
}

// GetPrivateDataByRange returns the committed keys of coll in [start, end).
func (s *Stub) GetPrivateDataByRange(coll, start, end string) (shim.StateQueryIteratorInterface, error) {
	if err := validateSimpleKeys(start, end); err != nil {
		return nil, err
	}
	return s.scanPrivate(coll, start, end)
}

// GetPrivateDataByPartialCompositeKey returns the committed composite keys
// of coll with the given prefix.
func (s *Stub) GetPrivateDataByPartialCompositeKey(coll, objectType string, attrs []string) (shim.StateQueryIteratorInterface, error) {
	start, end, err := partialRange(objectType, attrs)
	if err != nil {
		return nil, err
	}
	return s.scanPrivate(coll, start, end)
}

// GetPrivateDataQueryResult is not modelled.
func (s *Stub) GetPrivateDataQueryResult(string, string) (shim.StateQueryIteratorInterface, error) {
	return nil, errNotModelled
}
