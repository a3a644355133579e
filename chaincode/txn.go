package chaincode

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"

	"github.com/pharmatrace/pharmatrace/trace"
)

// txn is the state of one transaction or query: the caller, the time, the
// records read and written (writes are buffered and flushed at the end, so
// the code sees its own writes, which the peer's GetState does not), and the
// records that go into the event.
type txn struct {
	c     *Contract
	stub  shim.ChaincodeStubInterface
	name  string
	actor trace.Actor
	gcps  []string
	now   time.Time
	txID  string
	reqID string
	// coll is the manufacturer collection a routed transaction works in
	// ("" : public). Every record but products and lots then lives there.
	coll      string
	pseudoKey []byte // the collection's pseudonym key, once read

	reads      map[string][]byte    // committed values read (nil: absent)
	lastChange map[string]time.Time // committed records' last change, by key
	pending    map[string][]byte    // buffered writes (nil: delete)
	writeOrder []string

	changed   []changedRecord
	changedAt map[string]int
	anomalies []trace.Anomaly
	event     trace.Event
}

type changedRecord struct {
	key   string
	value any // trace.Product, trace.Lot, trace.Pack, ...
}

// begin identifies the caller and reads the transaction's ID and timestamp.
func (c *Contract) begin(ctx TxCtx, name string) (*txn, error) {
	actor, gcps, err := c.caller(ctx)
	if err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	ts, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, fmt.Errorf("ledger: transaction timestamp: %w", err)
	}
	if ts == nil {
		return nil, errors.New("ledger: transaction has no timestamp")
	}
	now := ts.AsTime().UTC()
	if err := c.checkClock(now); err != nil {
		return nil, err
	}
	return &txn{
		c: c, stub: stub, name: name, actor: actor, gcps: gcps,
		now: now, txID: stub.GetTxID(),
		reads: map[string][]byte{}, lastChange: map[string]time.Time{}, pending: map[string][]byte{}, changedAt: map[string]int{},
	}, nil
}

// local is the transaction time in the market's time zone: the calendar
// that decides expiry. Records store UTC.
func (t *txn) local() time.Time { return t.now.In(t.c.market) }

// checkClock refuses a proposal whose timestamp is further than the
// configured skew from this endorser's own clock. The check is not
// deterministic across peers, and need not be: it only decides whether this
// peer endorses. Endorsers whose clocks disagree produce no endorsement
// (the client sees the error and retries with a fresh timestamp), never
// different write sets, so state cannot fork; with MAJORITY, a proposal is
// accepted only when a majority of organisations' clocks agree with it.
func (c *Contract) checkClock(ts time.Time) error {
	own := c.clock().UTC()
	d := ts.Sub(own)
	if d > c.maxSkew || -d > c.maxSkew {
		return trace.Invalid("timestamp", "the proposal's clock says %s but this endorser's clock says %s (%s apart, more than the %s allowed): check the client's clock (NTP)",
			ts.Format(time.RFC3339), own.Format(time.RFC3339), d.Round(time.Second).Abs(), c.maxSkew)
	}
	return nil
}

// notBefore refuses a transaction timestamped before the last change of a
// record it touches: time on the ledger never runs backwards for a record,
// whatever the skew allowed.
func (t *txn) notBefore(what string, last time.Time) error {
	if last.After(t.now) {
		return trace.Conflict("timestamp: the transaction is dated %s, before the last change of %s (%s)",
			t.now.Format(time.RFC3339), what, last.Format(time.RFC3339))
	}
	return nil
}

// decode parses arg strictly and validates it. Strict means: exactly one
// JSON object, member names matched case-sensitively, unknown and
// duplicate members rejected, invalid UTF-8 rejected. encoding/json would
// match "SERIAL" to the serial field and keep the last of two "serial"
// members, so a client could make the logged request differ from the one
// applied ({"serial":"S1","SERIAL":"S2"} dispensed S2).
func decode(arg string, req trace.Request) error {
	if strings.TrimSpace(arg) == "" {
		return trace.Invalid("", "the argument is empty (want a JSON object)")
	}
	if err := jsonv2.Unmarshal([]byte(arg), req, jsonv2.RejectUnknownMembers(true)); err != nil {
		return decodeError(err)
	}
	return req.Validate()
}

// decodeError turns a JSON decoding error into an invalid-request error
// naming the member (a JSON Pointer turned into a dotted path).
func decodeError(err error) error {
	var (
		se  *jsonv2.SemanticError
		syn *jsontext.SyntacticError
	)
	switch {
	case errors.As(err, &se):
		at := se.JSONPointer
		switch {
		case errors.Is(se.Err, jsonv2.ErrUnknownName):
			return trace.Invalid(pointerPath(at.Parent()), "unknown field %q", at.LastToken())
		case se.Err == nil && se.GoType != nil && se.JSONKind != 0:
			return trace.Invalid(pointerPath(at), "must be %s, not %s", se.GoType, se.JSONKind)
		case se.Err != nil:
			return trace.Invalid(pointerPath(at), "%s", se.Err)
		}
		return trace.Invalid(pointerPath(at), "%s", strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &syn):
		msg := syn.Err.Error()
		switch {
		case strings.Contains(msg, "after top-level value"):
			return trace.Invalid("", "unexpected data after the JSON object")
		case strings.HasPrefix(msg, "duplicate object member name"):
			return trace.Invalid(pointerPath(syn.JSONPointer.Parent()), "duplicate field %q", syn.JSONPointer.LastToken())
		}
		return trace.Invalid(pointerPath(syn.JSONPointer), "%s", msg)
	}
	return trace.Invalid("", "%s", strings.TrimPrefix(err.Error(), "json: "))
}

// pointerPath renders a JSON Pointer as the dotted field path of messages
// ("/scan/serial" → "scan.serial", "/serials/3" → "serials.3").
func pointerPath(p jsontext.Pointer) string {
	return strings.ReplaceAll(strings.TrimPrefix(string(p), "/"), "/", ".")
}

// requiredRight is the right a request needs: the descriptor's, or the
// reason's for Decommission.
func requiredRight(tx trace.TxInfo, req trace.Request) trace.Right {
	if d, ok := req.(*trace.DecommissionRequest); ok {
		return trace.DecommissionRight(d.Reason)
	}
	return tx.Right
}

// submit runs a write transaction: decode → authorize → idempotency check →
// run (load, apply the trace state machine) → save the records, the request
// record and exactly one event. Errors (invalid request, access denied, not
// found, conflict) fail endorsement and write nothing; business refusals are
// committed outcomes.
func submit[Req, Res any, R interface {
	*Req
	trace.WriteRequest
}](c *Contract, ctx TxCtx, tx trace.Tx[Req, Res], arg string, run func(*txn, R) (trace.Result, error)) (string, error) {
	name := tx.Name
	req := R(new(Req))
	arg, viaTransient, err := requestArg(ctx, arg)
	if err != nil {
		return "", err
	}
	if err := decode(arg, req); err != nil {
		return "", err
	}
	t, err := c.begin(ctx, name)
	if err != nil {
		return "", err
	}
	if err := authorize(t.actor, name, requiredRight(tx.Info(), req)); err != nil {
		return "", err
	}
	if err := t.enter(req, viaTransient); err != nil {
		return "", err
	}
	t.reqID = req.ID()
	canonical, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("encode request: %w", err)
	}
	sum := sha256.Sum256(append([]byte(name+"\n"), canonical...))
	hash := hex.EncodeToString(sum[:])
	reqKey, err := key(objRequest, t.actor.MSP, t.reqID)
	if err != nil {
		return "", trace.Invalid("requestId", "%v", err)
	}
	var prev trace.RequestRecord
	found, err := t.get(reqKey, &prev)
	if err != nil {
		return "", err
	}
	if found {
		// A request ID belongs to the caller that used it first: another
		// site, role or user of the same organisation reusing it gets a
		// conflict, never that caller's outcome.
		if prev.Actor != t.actor {
			return "", trace.Conflict("request ID %q was already used by another caller (%s, role %s, site %s); choose a new one", t.reqID, prev.Actor.MSP, prev.Actor.Role, prev.Actor.GLN)
		}
		if prev.SHA256 != hash {
			return "", trace.Conflict("request ID %q was already used by %s (transaction %s) with a different payload", t.reqID, prev.Transaction, prev.TxID)
		}
		if t.coll != "" {
			// A transaction that writes nothing is validated against the
			// chaincode's MAJORITY, which the collection's two members do
			// not make: a blind private write puts it under the
			// collection's policy. (Blind: no read, so no MVCC conflict.)
			if err := t.stub.PutPrivateData(t.coll, replayKey, []byte(t.txID)); err != nil {
				return "", fmt.Errorf("ledger: write replay marker: %w", err)
			}
		}
		return t.seal(ctx, prev.Result) // the original outcome; no record changed, no event
	}
	res, err := run(t, req)
	if err != nil {
		return "", err
	}
	out := res.Out()
	if out.Status == "" {
		out.Status = trace.StatusOK
	}
	out.TxID = t.txID
	for _, a := range t.anomalies {
		out.Anomalies = append(out.Anomalies, a.ID)
	}
	resultJSON, err := json.Marshal(res)
	if err != nil {
		return "", fmt.Errorf("encode result: %w", err)
	}
	if err := t.put(reqKey, trace.RequestRecord{
		RequestID: t.reqID, Transaction: name, SHA256: hash, TxID: t.txID, At: t.now, Actor: t.actor, Result: string(resultJSON),
		Contract: c.build.Definition(),
	}, false); err != nil {
		return "", err
	}
	if err := t.commit(*out); err != nil {
		return "", err
	}
	return t.seal(ctx, string(resultJSON))
}

// replayKey is the private key a replayed routed request writes.
const replayKey = "\x00replay\x00"

// seal returns a routed write's result sealed under the client's result
// key (trace/seal.go): the result is in every peer's blocks, and it names
// serials. Outside a collection it is returned as it is.
func (t *txn) seal(ctx TxCtx, result string) (string, error) {
	if t.coll == "" {
		return result, nil
	}
	tm, err := ctx.GetStub().GetTransient()
	if err != nil {
		return "", fmt.Errorf("ledger: transient data: %w", err)
	}
	key := tm[trace.TransientResultKey]
	if len(key) != trace.ResultKeySize {
		return "", trace.Invalid("", "%s works on %s's packs: its result is in every peer's blocks, so it needs a %d-byte result key in the transient map (key %q) to be sealed with",
			t.name, strings.TrimPrefix(t.coll, trace.CollectionPrefix), trace.ResultKeySize, trace.TransientResultKey)
	}
	return trace.SealResult(key, t.txID, []byte(result))
}

// query runs a read-only query: decode → authorize → run → encode.
func query[Req, Res any, R interface {
	*Req
	trace.Request
}](c *Contract, ctx TxCtx, tx trace.Tx[Req, Res], arg string, run func(*txn, R) (any, error)) (string, error) {
	name := tx.Name
	req := R(new(Req))
	arg, viaTransient, err := requestArg(ctx, arg)
	if err != nil {
		return "", err
	}
	if err := decode(arg, req); err != nil {
		return "", err
	}
	t, err := c.begin(ctx, name)
	if err != nil {
		return "", err
	}
	if err := authorize(t.actor, name, requiredRight(tx.Info(), req)); err != nil {
		return "", err
	}
	if err := t.enter(req, viaTransient); err != nil {
		return "", err
	}
	res, err := run(t, req)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return "", fmt.Errorf("encode result: %w", err)
	}
	return string(b), nil
}

// get reads a JSON record: this transaction's own write if any, else the
// committed value (read once per transaction).
func (t *txn) get(k string, v any) (bool, error) {
	b, err := t.raw(k)
	if err != nil || b == nil {
		return false, err
	}
	if err := t.c.decodeRecord(k, b, v); err != nil {
		return false, fmt.Errorf("ledger: decode %q: %w", printable(k), err)
	}
	if lc, ok := v.(trace.LastChanger); ok {
		if _, own := t.pending[k]; !own {
			t.lastChange[k] = lc.LastChange()
		}
	}
	return true, nil
}

func (t *txn) raw(k string) ([]byte, error) {
	if v, ok := t.pending[k]; ok {
		return v, nil
	}
	if v, ok := t.reads[k]; ok {
		return v, nil
	}
	var b []byte
	var err error
	if t.private(k) {
		b, err = t.stub.GetPrivateData(t.coll, k)
	} else {
		b, err = t.stub.GetState(k)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: get %q: %w", printable(k), err)
	}
	t.reads[k] = b
	return b, nil
}

// prefetch reads keys not yet known in one GetMultipleStates call.
func (t *txn) prefetch(keys []string) error {
	var missing []string
	for _, k := range keys {
		_, p := t.pending[k]
		_, r := t.reads[k]
		if !p && !r {
			missing = append(missing, k)
		}
	}
	var pub, pvt []string
	for _, k := range missing {
		if t.private(k) {
			pvt = append(pvt, k)
		} else {
			pub = append(pub, k)
		}
	}
	if len(pub) > 0 {
		vals, err := t.stub.GetMultipleStates(pub...)
		if err := t.fetched(pub, vals, err); err != nil {
			return err
		}
	}
	if len(pvt) > 0 {
		vals, err := t.stub.GetMultiplePrivateData(t.coll, pvt...)
		if err := t.fetched(pvt, vals, err); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) fetched(keys []string, vals [][]byte, err error) error {
	if err != nil {
		return fmt.Errorf("ledger: get %d keys: %w", len(keys), err)
	}
	if len(vals) != len(keys) {
		return fmt.Errorf("ledger: got %d values for %d keys", len(vals), len(keys))
	}
	for i, k := range keys {
		t.reads[k] = vals[i]
	}
	return nil
}

// private reports whether record key k lives in the transaction's
// collection: in a routed transaction every record but products and lots.
func (t *txn) private(k string) bool {
	if t.coll == "" {
		return false
	}
	obj, _, _ := strings.Cut(strings.TrimPrefix(k, "\x00"), "\x00")
	return obj != objProduct && obj != objLot
}

// put buffers a record write; inEvent adds the record's new version to the
// transaction's event.
func (t *txn) put(k string, v any, inEvent bool) error {
	if last, ok := t.lastChange[k]; ok {
		if err := t.notBefore(printable(k), last); err != nil {
			return err
		}
	}
	b, err := t.c.encodeRecord(v)
	if err != nil {
		return fmt.Errorf("encode %q: %w", printable(k), err)
	}
	t.putRaw(k, b)
	if inEvent {
		if i, ok := t.changedAt[k]; ok {
			t.changed[i].value = v
		} else {
			t.changedAt[k] = len(t.changed)
			t.changed = append(t.changed, changedRecord{key: k, value: v})
		}
	}
	return nil
}

func (t *txn) putRaw(k string, b []byte) {
	if _, ok := t.pending[k]; !ok {
		t.writeOrder = append(t.writeOrder, k)
	}
	t.pending[k] = b
}

func (t *txn) del(k string) {
	if _, ok := t.pending[k]; !ok {
		t.writeOrder = append(t.writeOrder, k)
	}
	t.pending[k] = nil
}

// commit writes the buffered records and emits the transaction's single event.
func (t *txn) commit(out trace.Outcome) error {
	ev := t.event
	ev.Type, ev.TxID, ev.Timestamp, ev.RequestID, ev.Actor, ev.Outcome = t.name, t.txID, t.now, t.reqID, t.actor, out
	ev.Contract = t.c.build.Definition()
	for _, r := range t.changed {
		switch v := r.value.(type) {
		case trace.Product:
			ev.Products = append(ev.Products, v)
		case trace.Lot:
			ev.Lots = append(ev.Lots, v)
		case trace.Pack:
			ev.Packs = append(ev.Packs, v)
		case trace.Aggregation:
			ev.Aggregations = append(ev.Aggregations, v)
		case trace.Shipment:
			ev.Shipments = append(ev.Shipments, v)
		case trace.Anomaly:
			ev.Anomalies = append(ev.Anomalies, v)
		default:
			return fmt.Errorf("event: unexpected record type %T", v)
		}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	t.stub.StartWriteBatch()
	for _, k := range t.writeOrder {
		v := t.pending[k]
		switch {
		case t.coll != "" && !t.private(k):
			// A public write would need the chaincode's MAJORITY, i.e.
			// endorsers outside the collection, who must never see the
			// transient request.
			return fmt.Errorf("ledger: %s works in collection %s and may not write the public record %q", t.name, t.coll, printable(k))
		case t.coll != "" && v == nil:
			err = t.stub.DelPrivateData(t.coll, k)
		case t.coll != "":
			err = t.stub.PutPrivateData(t.coll, k, v)
		case v == nil:
			err = t.stub.DelState(k)
		default:
			err = t.stub.PutState(k, v)
		}
		if err != nil {
			return fmt.Errorf("ledger: write %q: %w", printable(k), err)
		}
	}
	if t.coll != "" {
		// The full event is a private write; the public event a stub.
		if err := t.stub.PutPrivateData(t.coll, trace.PrivateEventKey, payload); err != nil {
			return fmt.Errorf("ledger: write event: %w", err)
		}
		if payload, err = json.Marshal(ev.Public(t.coll)); err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
	}
	if err := t.stub.FinishWriteBatch(); err != nil {
		return fmt.Errorf("ledger: write batch: %w", err)
	}
	if err := t.stub.SetEvent(t.name, payload); err != nil {
		return fmt.Errorf("ledger: set event: %w", err)
	}
	return nil
}

// printable renders a composite key for messages (\x00 → ~).
func printable(k string) string { return strings.Trim(strings.ReplaceAll(k, "\x00", "~"), "~") }
