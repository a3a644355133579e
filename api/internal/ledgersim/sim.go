// Package ledgersim is a FAKE ledger for the API's unit tests: an in-memory
// store that applies package trace's pure rules (the same state machine the
// chaincode runs: Dispense, Ship, ReceiveExpected, SetLotStatus,
// TransitionAnomaly, …) and emits trace.Event values shaped like the
// chaincode's (one per write, one block per transaction), so that the read
// model, the HTTP handlers and the dashboard can be exercised end to end
// without a Fabric network.
//
// It is not the contract: access control is reduced to the role's right
// (trace.Role.Has), there is no endorsement, no MVCC, no aggregation and a
// simplified receipt. What the API does against the real network is proved
// by the integration tests that the lead wires over package gateway.
package ledgersim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

// Call is one recorded ledger call.
type Call struct {
	Fn        string
	Actor     trace.Actor
	RequestID string
	Req       any
}

type posEvent struct {
	ev  trace.Event
	pos readmodel.Position
}

type reqRecord struct {
	fn     string
	hash   string
	result []byte
}

// Sim is the fake ledger. The zero value is not usable: call New.
type Sim struct {
	mu        sync.Mutex
	changed   *sync.Cond
	now       func() time.Time
	products  map[string]trace.Product
	lots      map[trace.LotRef]trace.Lot
	packs     map[trace.PackRef]trace.Pack
	shipments map[string]trace.Shipment
	anomalies map[string]trace.Anomaly
	requests  map[string]reqRecord
	history   map[trace.PackRef][]trace.PackHistoryEntry
	events    []posEvent
	calls     []Call
	txSeq     int
	// FailNext, when set, is returned (once) by the next Submit.
	failNext error
}

// New returns an empty fake ledger whose clock is now (time.Now when nil).
func New(now func() time.Time) *Sim {
	if now == nil {
		now = time.Now
	}
	s := &Sim{now: now, products: map[string]trace.Product{}, lots: map[trace.LotRef]trace.Lot{}, packs: map[trace.PackRef]trace.Pack{},
		shipments: map[string]trace.Shipment{}, anomalies: map[string]trace.Anomaly{}, requests: map[string]reqRecord{},
		history: map[trace.PackRef][]trace.PackHistoryEntry{}}
	s.changed = sync.NewCond(&s.mu)
	return s
}

// FailNext makes the next Submit fail with err before doing anything.
func (s *Sim) FailNext(err error) {
	s.mu.Lock()
	s.failNext = err
	s.mu.Unlock()
}

// Calls returns the calls made so far.
func (s *Sim) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// SubmitCount returns how many writes named fn were submitted.
func (s *Sim) SubmitCount(fn string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Fn == fn {
			n++
		}
	}
	return n
}

// Events returns every emitted event with its position.
func (s *Sim) Events() ([]trace.Event, []readmodel.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := make([]trace.Event, len(s.events))
	pos := make([]readmodel.Position, len(s.events))
	for i, e := range s.events {
		evs[i], pos[i] = e.ev, e.pos
	}
	return evs, pos
}

// Height returns the number of blocks (one per write, plus the genesis).
func (s *Sim) Height(context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.events)) + 1, nil
}

// Stream implements readmodel.EventSource: every event after from, then
// waits for new ones until ctx ends.
func (s *Sim) Stream(ctx context.Context, from readmodel.Position, apply readmodel.ApplyFunc) error {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.changed.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	next := 0
	for {
		s.mu.Lock()
		for next < len(s.events) && !s.events[next].pos.After(from) {
			next++
		}
		for next >= len(s.events) && ctx.Err() == nil {
			s.changed.Wait()
		}
		if ctx.Err() != nil {
			s.mu.Unlock()
			return ctx.Err()
		}
		e := s.events[next]
		s.mu.Unlock()
		if err := apply(ctx, e.ev, e.pos); err != nil {
			return err
		}
		from = e.pos
		next++
	}
}

// For returns the ledger as seen by one caller; its Submit and Evaluate
// match the API's Ledger interface.
func (s *Sim) For(a trace.Actor) *Caller { return &Caller{sim: s, actor: a} }

// Caller is the fake ledger bound to one identity.
type Caller struct {
	sim   *Sim
	actor trace.Actor
}

// Submit runs a write transaction.
func (c *Caller) Submit(ctx context.Context, fn string, req trace.WriteRequest, result any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.sim.submit(c.actor, fn, req, result)
}

// Evaluate runs a query.
func (c *Caller) Evaluate(ctx context.Context, fn string, req trace.Request, result any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.sim.evaluate(c.actor, fn, req, result)
}

// tx is one write in progress.
type tx struct {
	s     *Sim
	fn    string
	id    string
	now   time.Time
	actor trace.Actor
	ev    trace.Event
	anoms []string
}

func (t *tx) anomaly(fs []trace.Finding) []string {
	var ids []string
	for _, f := range fs {
		id := trace.AnomalyID(t.id, t.now, len(t.anoms))
		a := trace.NewAnomaly(f, id, t.fn, t.id, t.actor, t.now)
		t.s.anomalies[id] = a
		t.ev.Anomalies = append(t.ev.Anomalies, a)
		t.anoms = append(t.anoms, id)
		ids = append(ids, id)
	}
	return ids
}

func (t *tx) putPack(p trace.Pack) {
	t.s.packs[p.Ref()] = p
	t.ev.Packs = append(t.ev.Packs, p)
	pp := p
	t.s.history[p.Ref()] = append(t.s.history[p.Ref()], trace.PackHistoryEntry{TxID: t.id, Timestamp: t.now, Pack: &pp})
}

func (t *tx) putLot(l trace.Lot) {
	t.s.lots[trace.LotRef{GTIN: l.GTIN, Lot: l.Lot}] = l
	t.ev.Lots = append(t.ev.Lots, l)
}

func (t *tx) outcome(v trace.Verdict, okMsg string) trace.Outcome {
	var o trace.Outcome
	if v.OK() {
		o = trace.Accepted(okMsg)
	} else {
		o = trace.Refused(v.Code, v.Message)
	}
	o.TxID = t.id
	o.Anomalies = t.anoms
	return o
}

func hashOf(fn string, req any) string {
	b, _ := json.Marshal(req)
	h := sha256.Sum256(append([]byte(fn+"\x00"), b...))
	return hex.EncodeToString(h[:])
}

func (s *Sim) submit(a trace.Actor, fn string, req trace.WriteRequest, result any) error {
	if err := req.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Fn: fn, Actor: a, RequestID: req.ID(), Req: req})
	if err := s.failNext; err != nil {
		s.failNext = nil
		return err
	}
	right, ok := trace.TransactionRights[fn]
	if d, isDec := req.(*trace.DecommissionRequest); isDec {
		right, ok = trace.DecommissionRight(d.Reason), true
	}
	if !ok || !a.Role.Has(right) {
		return trace.Denied("%s needs right %s, role %s does not have it", fn, right, a.Role)
	}
	key := a.MSP + "~" + req.ID()
	h := hashOf(fn, req)
	if prev, dup := s.requests[key]; dup {
		if prev.hash != h {
			return trace.Conflict("request ID %q was already used with a different payload", req.ID())
		}
		return json.Unmarshal(prev.result, result)
	}
	s.txSeq++
	txh := sha256.Sum256([]byte(fmt.Sprintf("tx-%d", s.txSeq)))
	t := &tx{s: s, fn: fn, id: hex.EncodeToString(txh[:]), now: s.now().UTC(), actor: a}
	res, err := t.run(req)
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	s.requests[key] = reqRecord{fn: fn, hash: h, result: b}
	t.ev.Type, t.ev.TxID, t.ev.Timestamp, t.ev.RequestID, t.ev.Actor, t.ev.Outcome = fn, t.id, t.now, req.ID(), a, *res.Out()
	block := uint64(len(s.events)) + 1
	s.events = append(s.events, posEvent{ev: t.ev, pos: readmodel.Position{Block: block, Index: 0, TxID: t.id}})
	s.changed.Broadcast()
	return json.Unmarshal(b, result)
}

func (t *tx) run(req trace.WriteRequest) (trace.Result, error) {
	s, a, now := t.s, t.actor, t.now
	switch r := req.(type) {
	case *trace.RegisterProductRequest:
		if _, dup := s.products[r.GTIN]; dup {
			return nil, trace.Conflict("product %s already exists", r.GTIN)
		}
		p := trace.Product{GTIN: r.GTIN, Name: r.Name, Form: r.Form, Strength: r.Strength, PackSize: r.PackSize, NHRN: r.NHRN,
			OwnerMSP: a.MSP, CompanyPrefix: "", CreatedAt: now, LastTx: t.id}
		s.products[r.GTIN] = p
		t.ev.Products = append(t.ev.Products, p)
		return &trace.ProductResult{Outcome: t.outcome(trace.Verdict{}, "product registered"), Product: &p}, nil
	case *trace.CommissionPacksRequest:
		if _, ok := s.products[r.GTIN]; !ok {
			return nil, trace.NotFound("product %s", r.GTIN)
		}
		var dups []string
		for _, sn := range r.Serials {
			if _, ok := s.packs[trace.PackRef{GTIN: r.GTIN, Serial: sn}]; ok {
				dups = append(dups, sn)
			}
		}
		if len(dups) > 0 {
			return nil, trace.Conflict("%d serials already commissioned for GTIN %s: %q", len(dups), r.GTIN, dups[0])
		}
		ref := trace.LotRef{GTIN: r.GTIN, Lot: r.Lot}
		l, ok := s.lots[ref]
		if !ok {
			l = trace.Lot{GTIN: r.GTIN, Lot: r.Lot, Expiry: r.Expiry, Status: trace.LotReleased, StatusChangedAt: now, OwnerMSP: a.MSP, CreatedAt: now}
		}
		if l.Status == trace.LotRecalled {
			o := t.outcome(trace.Verdict{Code: trace.CodeLotRecalled, Message: "lot is recalled"}, "")
			return &trace.CommissionPacksResult{Outcome: o}, nil
		}
		l.PackCount += len(r.Serials)
		l.UpdatedAt, l.LastTx = now, t.id
		t.putLot(l)
		c := &trace.Commissioned{GTIN: r.GTIN, Lot: r.Lot, Expiry: l.Expiry, State: trace.StateActive, Custodian: a.Party(), Serials: r.Serials}
		for _, p := range c.Packs(t.id, now) {
			s.packs[p.Ref()] = p
			pp := p
			s.history[p.Ref()] = append(s.history[p.Ref()], trace.PackHistoryEntry{TxID: t.id, Timestamp: now, Pack: &pp})
		}
		t.ev.Commissioned = c
		lc := l
		return &trace.CommissionPacksResult{Outcome: t.outcome(trace.Verdict{}, fmt.Sprintf("%d packs commissioned", len(r.Serials))), Lot: &lc, Commissioned: len(r.Serials)}, nil
	case *trace.LotStatusRequest:
		ref := trace.LotRef{GTIN: r.GTIN, Lot: r.Lot}
		l, ok := s.lots[ref]
		if !ok {
			return nil, trace.NotFound("lot %s/%s", r.GTIN, r.Lot)
		}
		to := trace.LotRecalled
		switch t.fn {
		case trace.TxWithdrawLot:
			to = trace.LotWithdrawn
		case trace.TxReleaseLot:
			to = trace.LotReleased
		}
		nl, v := trace.SetLotStatus(l, to, r.Reason, a, now, t.id)
		if v.OK() {
			t.putLot(nl)
		}
		return &trace.LotResult{Outcome: t.outcome(v, "lot "+string(to)), Lot: &nl}, nil
	case *trace.ShipRequest:
		return t.ship(r)
	case *trace.ReceiveRequest:
		return t.receive(r)
	case *trace.ScanRequest:
		return t.scan(r.Scan, func(p trace.Pack, l *trace.Lot) (trace.Pack, trace.Verdict) {
			switch t.fn {
			case trace.TxUndo:
				return trace.Undo(p, l, a, now, t.id)
			case trace.TxDispense:
				return trace.Dispense(p, l, a, now, t.id)
			}
			return p, trace.Assess(&p, l, a, now)
		})
	case *trace.DecommissionRequest:
		return t.scan(r.Scan, func(p trace.Pack, l *trace.Lot) (trace.Pack, trace.Verdict) {
			return trace.Decommission(p, l, a, r.Reason, now, t.id)
		})
	case *trace.FlagAnomalyRequest:
		f := trace.Finding{Code: r.Code, Severity: r.Severity, Classification: r.Classification, Pack: r.Pack, Lot: r.Lot, Shipment: r.Shipment,
			Evidence: trace.Evidence{Message: r.Message}}
		ids := t.anomaly([]trace.Finding{f})
		an := s.anomalies[ids[0]]
		if r.Site != "" {
			an.Site = r.Site
			s.anomalies[an.ID] = an
			t.ev.Anomalies[0] = an
		}
		return &trace.AnomalyResult{Outcome: t.outcome(trace.Verdict{}, "anomaly flagged"), Anomaly: &an}, nil
	case *trace.TransitionAnomalyRequest:
		an, ok := s.anomalies[r.AnomalyID]
		if !ok {
			return nil, trace.NotFound("anomaly %s", r.AnomalyID)
		}
		na, err := trace.TransitionAnomaly(an, r.To, r.Reason, r.Comment, a, now, t.id)
		if err != nil {
			return nil, err
		}
		s.anomalies[na.ID] = na
		t.ev.Anomalies = append(t.ev.Anomalies, na)
		return &trace.AnomalyResult{Outcome: t.outcome(trace.Verdict{}, "anomaly "+string(r.To)), Anomaly: &na}, nil
	case *trace.CommentAnomalyRequest:
		an, ok := s.anomalies[r.AnomalyID]
		if !ok {
			return nil, trace.NotFound("anomaly %s", r.AnomalyID)
		}
		if a.Role != trace.RoleRegulator && an.ReportedBy.MSP != a.MSP {
			return nil, trace.Denied("only the regulator and the reporting organisation may comment")
		}
		na := trace.CommentAnomaly(an, r.Comment, a, now, t.id)
		s.anomalies[na.ID] = na
		t.ev.Anomalies = append(t.ev.Anomalies, na)
		return &trace.AnomalyResult{Outcome: t.outcome(trace.Verdict{}, "comment added"), Anomaly: &na}, nil
	}
	return nil, trace.Invalid("", "transaction %s is not supported by the fake ledger", t.fn)
}

// scan runs a single-pack action after the scan-data checks.
func (t *tx) scan(sc trace.Scan, act func(trace.Pack, *trace.Lot) (trace.Pack, trace.Verdict)) (trace.Result, error) {
	s := t.s
	p, ok := s.packs[sc.Ref()]
	if !ok {
		v := trace.Verdict{Code: trace.CodeUnknownSerial, Message: "serial unknown"}
		t.anomaly([]trace.Finding{trace.ScanFinding(trace.AnomalyUnknownSerial, trace.CodeUnknownSerial, sc, nil, trace.Evidence{Message: "serial unknown"})})
		return &trace.ScanResult{Outcome: t.outcome(v, "")}, nil
	}
	l := s.lots[trace.LotRef{GTIN: p.GTIN, Lot: p.Lot}]
	v := trace.CheckScanData(sc, &p)
	np := p
	if v.OK() {
		np, v = act(p, &l)
	}
	t.anomaly(v.Findings)
	if v.OK() && np.LastTx == t.id {
		t.putPack(np)
	} else {
		np = p
	}
	st := &trace.PackStatus{GTIN: np.GTIN, Serial: np.Serial, Lot: np.Lot, Expiry: np.Expiry, State: np.State, Reason: np.Reason,
		LotStatus: l.Status, Expired: trace.Expired(np.Expiry, t.now), StateChangedAt: np.StateChangedAt}
	return &trace.ScanResult{Outcome: t.outcome(v, "pack "+strings.ToLower(t.fn)), Pack: st}, nil
}

func (t *tx) ship(r *trace.ShipRequest) (trace.Result, error) {
	s, a := t.s, t.actor
	id := r.ShipmentID
	if id == "" {
		id = "S-" + t.id[:32]
	}
	if _, dup := s.shipments[id]; dup {
		return nil, trace.Conflict("shipment %s exists", id)
	}
	var problems []trace.PackProblem
	var findings []trace.Finding
	var moved []trace.Pack
	for _, ref := range r.Packs {
		p, ok := s.packs[ref]
		if !ok {
			problems = append(problems, trace.PackProblem{Pack: ref, Code: trace.CodeUnknownSerial, Message: "serial unknown"})
			continue
		}
		l := s.lots[trace.LotRef{GTIN: p.GTIN, Lot: p.Lot}]
		v := trace.CheckMovable(&p, &l, a, t.now, false)
		if !v.OK() {
			problems = append(problems, trace.PackProblem{Pack: ref, Code: v.Code, Message: v.Message})
			findings = append(findings, v.Findings...)
			continue
		}
		moved = append(moved, trace.Ship(p, trace.Transit{Shipment: id, From: a.Party(), To: r.To}, false, a, t.now, t.id))
	}
	if len(problems) > 0 {
		t.anomaly(trace.GroupFindings(findings))
		v := trace.Verdict{Code: problems[0].Code, Message: problems[0].Message}
		return &trace.ShipmentResult{Outcome: t.outcome(v, ""), Problems: problems}, nil
	}
	refs := append([]trace.PackRef(nil), r.Packs...)
	sort.Slice(refs, func(i, j int) bool { return refs[i].GTIN+refs[i].Serial < refs[j].GTIN+refs[j].Serial })
	sh := trace.Shipment{ID: id, From: a.Party(), To: r.To, Packs: refs, Status: trace.ShipmentInTransit, ShippedAt: t.now, UpdatedAt: t.now, LastTx: t.id}
	for _, p := range moved {
		t.putPack(p)
	}
	s.shipments[id] = sh
	t.ev.Shipments = append(t.ev.Shipments, sh)
	return &trace.ShipmentResult{Outcome: t.outcome(trace.Verdict{}, "shipped"), Shipment: &sh}, nil
}

func (t *tx) receive(r *trace.ReceiveRequest) (trace.Result, error) {
	s, a := t.s, t.actor
	sh, ok := s.shipments[r.ShipmentID]
	if !ok {
		return nil, trace.NotFound("shipment %s", r.ShipmentID)
	}
	if sh.To.MSP != a.MSP {
		v := trace.Verdict{Code: trace.CodeStatusChangeNotPossible, Message: "shipment is addressed to another organisation"}
		return &trace.ReceiveResult{Outcome: t.outcome(v, "")}, nil
	}
	listed := map[trace.PackRef]bool{}
	for _, ref := range sh.Packs {
		listed[ref] = true
	}
	var findings []trace.Finding
	received := 0
	for _, ref := range r.Packs {
		p, ok := s.packs[ref]
		if !ok || !listed[ref] {
			continue
		}
		np, changed, v := trace.ReceiveExpected(p, sh.ID, a, t.now, t.id)
		findings = append(findings, v.Findings...)
		if changed {
			t.putPack(np)
			sh.Received = append(sh.Received, ref)
			received++
		}
	}
	t.anomaly(trace.GroupFindings(findings))
	sh.ReceivedAt = append(sh.ReceivedAt, a.Party())
	sh.Status = trace.ShipmentReceived
	if len(sh.Received) < len(sh.Packs) {
		sh.Status = trace.ShipmentPartiallyReceived
		sh.Shortage = len(sh.Packs) - len(sh.Received)
	}
	sh.UpdatedAt, sh.LastTx = t.now, t.id
	s.shipments[sh.ID] = sh
	t.ev.Shipments = append(t.ev.Shipments, sh)
	return &trace.ReceiveResult{Outcome: t.outcome(trace.Verdict{}, "received"), Shipment: &sh, Received: received}, nil
}

func (s *Sim) evaluate(a trace.Actor, fn string, req trace.Request, result any) error {
	if err := req.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Fn: fn, Actor: a, Req: req})
	if right, ok := trace.TransactionRights[fn]; !ok || !a.Role.Has(right) {
		return trace.Denied("%s needs right %s", fn, right)
	}
	var out any
	switch q := req.(type) {
	case *trace.VerifyRequest:
		p, ok := s.packs[q.Ref()]
		if !ok {
			out = trace.VerifyResult{Outcome: trace.Refused(trace.CodeUnknownSerial, "serial unknown")}
			break
		}
		l := s.lots[trace.LotRef{GTIN: p.GTIN, Lot: p.Lot}]
		v := trace.CheckScanData(q.Scan, &p)
		if v.OK() {
			v = trace.Assess(&p, &l, a, s.now())
		}
		o := trace.Accepted("pack may be supplied")
		if !v.OK() {
			o = trace.Refused(v.Code, v.Message)
		}
		out = trace.VerifyResult{Outcome: o, Findings: v.Findings, Pack: &trace.PackStatus{GTIN: p.GTIN, Serial: p.Serial, Lot: p.Lot, Expiry: p.Expiry,
			State: p.State, Reason: p.Reason, LotStatus: l.Status, Expired: trace.Expired(p.Expiry, s.now()), StateChangedAt: p.StateChangedAt}}
	case *trace.ProductQuery:
		p, ok := s.products[q.GTIN]
		if !ok {
			return trace.NotFound("product %s", q.GTIN)
		}
		out = trace.GetProductResult{Product: p}
	case *trace.LotQuery:
		l, ok := s.lots[trace.LotRef{GTIN: q.GTIN, Lot: q.Lot}]
		if !ok {
			return trace.NotFound("lot %s/%s", q.GTIN, q.Lot)
		}
		out = trace.GetLotResult{Lot: l}
	case *trace.ShipmentQuery:
		sh, ok := s.shipments[q.ID]
		if !ok {
			return trace.NotFound("shipment %s", q.ID)
		}
		out = trace.GetShipmentResult{Shipment: sh}
	case *trace.AnomalyQuery:
		an, ok := s.anomalies[q.ID]
		if !ok {
			return trace.NotFound("anomaly %s", q.ID)
		}
		out = trace.GetAnomalyResult{Anomaly: an}
	case *trace.PackHistoryQuery:
		h, ok := s.history[trace.PackRef{GTIN: q.GTIN, Serial: q.Serial}]
		if !ok {
			return trace.NotFound("pack %s/%s", q.GTIN, q.Serial)
		}
		limit := q.Limit
		if limit == 0 {
			limit = trace.DefaultHistory
		}
		res := trace.PackHistoryResult{Entries: []trace.PackHistoryEntry{}}
		for i := len(h) - 1; i >= 0 && len(res.Entries) < limit; i-- {
			res.Entries = append(res.Entries, h[i])
		}
		res.Truncated = len(h) > limit
		out = res
	case *trace.PackQuery:
		p, ok := s.packs[trace.PackRef{GTIN: q.GTIN, Serial: q.Serial}]
		if !ok {
			return trace.NotFound("pack %s/%s", q.GTIN, q.Serial)
		}
		out = trace.GetPackResult{Pack: p}
	case *trace.RequestQuery:
		r, ok := s.requests[a.MSP+"~"+q.RequestID]
		if !ok {
			out = trace.GetRequestResult{}
			break
		}
		var o struct {
			Outcome trace.Outcome `json:"outcome"`
		}
		if err := json.Unmarshal(r.result, &o); err != nil {
			return err
		}
		out = trace.GetRequestResult{Found: true, Request: &trace.RequestRecord{RequestID: q.RequestID, Transaction: r.fn, TxID: o.Outcome.TxID, Actor: a, Result: string(r.result)}}
	default:
		return trace.Invalid("", "query %s is not supported by the fake ledger", fn)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, result)
}
