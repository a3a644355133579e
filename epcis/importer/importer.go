// Package importer applies an EPCIS 2.0 document to the ledger: it reads
// the plans of an epcis.Reader and submits their writes, idempotently, in
// document order where order matters and concurrently where it does not.
// The API's import route and the pharmatrace-epcis command share it.
//
// Order. Events are applied in segments: a run of consecutive events of the
// same ledger transaction whose packs, cases, lots and shipments do not
// overlap. The writes of one segment are independent, so they are
// submitted concurrently (Options.Workers); the next segment starts when
// the previous one has finished, so an event never overtakes one it may
// depend on (a shipment never overtakes the commissioning of its packs).
//
// Batching. Consecutive commissioning events of the same GTIN, lot, expiry
// and site (a serialisation line reporting one event per pack) are merged
// into one CommissionPacks write of up to Options.MaxSerials serials. Its
// request ID is "epcis-batch:" and 40 hex digits of the SHA-256 of the
// member events' IDs, so the same document always forms the same batches
// under the same IDs. When the ledger answers a batch with conflict (some
// serial already exists, e.g. because an earlier import batched the events
// differently), its events are applied one by one under their own request
// IDs, so each gets its own verdict; any other refusal (product not
// registered, lot recalled, no right) concerns the whole batch and rejects
// each of its events with the ledger's reason.
//
// Idempotency. Before a write is sent its request ID is looked up
// (GetRequest); a known one is not sent again and its event is reported
// skipped, "already applied", with the original transaction. Importing the
// same document twice therefore writes nothing the second time.
package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/pharmatrace/pharmatrace/epcis"
	"github.com/pharmatrace/pharmatrace/trace"
)

// Ledger is the chaincode as one identity sees it (api.Ledger has the same
// shape). A chaincode error keeps its class reachable through errors.Is
// with the trace sentinels (package gateway rebuilds the chaincode's typed
// error); a business refusal is a result, not an error.
type Ledger interface {
	Submit(ctx context.Context, fn string, req trace.WriteRequest, result any) error
	Evaluate(ctx context.Context, fn string, req trace.Request, result any) error
}

// Options configure Run.
type Options struct {
	// LedgerFor returns the ledger that signs an event's writes, e.g. the
	// identity of the event's site (Planned.Site). An error rejects the
	// event with its text. Events merged into one write have the same
	// site and are signed with the ledger of the first.
	LedgerFor func(p *epcis.Planned) (Ledger, error)
	// Stop reports whether a Submit or Evaluate error stops the import
	// (returned by Run) rather than rejecting the event: the ledger did not
	// judge the event (no peer, outcome unknown, cancelled), and running
	// the import again is safe. Clients of package gateway pass
	// gateway.Retryable. The default stops on every error that carries no
	// trace class.
	Stop func(error) bool
	// Workers is the number of writes of one segment in flight at once
	// (default 8).
	Workers int
	// MaxSerials caps the serials of a merged commissioning write (default
	// trace.DefaultMaxCommission).
	MaxSerials int
	// MaxSegment caps the events of one segment (default 512).
	MaxSegment int
	// Progress, if set, is called after each segment with the counts so
	// far.
	Progress func(applied, skipped, rejected int)
}

// LookupPack returns an epcis.ImportOptions.LookupPack that reads a pack's
// lot and expiry from the ledger (GetPack); an unknown pack is not found,
// not an error.
func LookupPack(ctx context.Context, led Ledger) func(trace.PackRef) (lot, expiry string, ok bool, err error) {
	return func(ref trace.PackRef) (string, string, bool, error) {
		var got trace.GetPackResult
		err := led.Evaluate(ctx, trace.TxGetPack, &trace.PackQuery{GTIN: ref.GTIN, Serial: ref.Serial}, &got)
		switch {
		case errors.Is(err, trace.ErrNotFound):
			return "", "", false, nil
		case err != nil:
			return "", "", false, err
		}
		return got.Pack.Lot, got.Pack.Expiry, true, nil
	}
}

// BatchPrefix starts the request ID of a merged commissioning write.
const BatchPrefix = "epcis-batch:"

// Run applies every event of rd and returns the per-event report (each list
// in document order). An error stops the import: the document is
// malformed (the reader's error) or the ledger is unavailable (see
// Options.Stop); what was applied until then stays applied, and running the
// import again completes it.
func Run(ctx context.Context, rd *epcis.Reader, opt Options) (*epcis.Report, error) {
	if opt.LedgerFor == nil {
		return nil, errors.New("importer: Options.LedgerFor is nil")
	}
	if opt.Stop == nil {
		opt.Stop = func(err error) bool { return trace.ClassifyError(err) == nil }
	}
	if opt.Workers <= 0 {
		opt.Workers = 8
	}
	if opt.MaxSerials <= 0 {
		opt.MaxSerials = trace.DefaultMaxCommission
	}
	if opt.MaxSegment <= 0 {
		opt.MaxSegment = 512
	}
	im := &importer{opt: opt, rep: &epcis.Report{}}
	var seg segment
	for {
		p, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return im.rep, err
		}
		if im.rep.Add(p) {
			continue
		}
		led, err := opt.LedgerFor(&p)
		if err != nil {
			im.rep.Reject(p, err.Error())
			continue
		}
		if seg.merge(p, opt.MaxSerials) {
			continue
		}
		u := newUnit(p, led)
		if !seg.fits(u, opt.MaxSegment) {
			if err := im.flush(ctx, &seg); err != nil {
				return im.rep, err
			}
		}
		seg.add(u)
	}
	if err := im.flush(ctx, &seg); err != nil {
		return im.rep, err
	}
	im.rep.Sort()
	return im.rep, nil
}

type importer struct {
	opt Options
	mu  sync.Mutex // guards rep
	rep *epcis.Report
}

// unit is one write or one sequence of writes: one event's ops, or several
// commissioning events merged into one write.
type unit struct {
	plans []epcis.Planned
	led   Ledger
	kind  string // the transaction of the first op
	keys  []string
	// serials of a mergeable commissioning unit (nil otherwise).
	serials int
}

func newUnit(p epcis.Planned, led Ledger) *unit {
	u := &unit{plans: []epcis.Planned{p}, led: led, kind: p.Ops[0].Transaction}
	for _, op := range p.Ops {
		u.keys = append(u.keys, keysOf(op.Request)...)
	}
	if c := single(p); c != nil {
		u.serials = len(c.Serials)
	}
	return u
}

// single returns the commissioning request of an event that is exactly one
// CommissionPacks write (the mergeable kind), else nil.
func single(p epcis.Planned) *trace.CommissionPacksRequest {
	if len(p.Ops) != 1 {
		return nil
	}
	c, _ := p.Ops[0].Request.(*trace.CommissionPacksRequest)
	return c
}

// keysOf lists the ledger records a write touches, as far as the document
// tells: writes with no key in common are independent.
func keysOf(req trace.WriteRequest) []string {
	var keys []string
	packs := func(refs []trace.PackRef) {
		for _, r := range refs {
			keys = append(keys, "p/"+r.GTIN+"/"+r.Serial)
		}
	}
	cases := func(ssccs []string) {
		for _, s := range ssccs {
			keys = append(keys, "c/"+s)
		}
	}
	switch q := req.(type) {
	case *trace.CommissionPacksRequest:
		keys = append(keys, "l/"+q.GTIN+"/"+q.Lot)
		for _, s := range q.Serials {
			keys = append(keys, "p/"+q.GTIN+"/"+s)
		}
	case *trace.AggregateRequest:
		cases([]string{q.SSCC})
		packs(q.Packs)
	case *trace.ShipRequest:
		keys = append(keys, "s/"+q.ShipmentID)
		cases(q.SSCCs)
		packs(q.Packs)
	case *trace.ReceiveRequest:
		keys = append(keys, "s/"+q.ShipmentID)
		cases(q.SSCCs)
		packs(q.Packs)
	case *trace.ScanRequest:
		packs([]trace.PackRef{q.Ref()})
	case *trace.DecommissionRequest:
		packs([]trace.PackRef{q.Ref()})
	}
	return keys
}

// segment is a run of independent units of one transaction.
type segment struct {
	units []*unit
	kind  string
	keys  map[string]bool
	n     int // events
}

// merge adds a commissioning event to the segment's last unit when it
// continues it (same GTIN, lot, expiry and site, room left).
func (s *segment) merge(p epcis.Planned, max int) bool {
	if len(s.units) == 0 {
		return false
	}
	last := s.units[len(s.units)-1]
	c, first := single(p), single(last.plans[0])
	if c == nil || first == nil || last.serials == 0 || last.serials+len(c.Serials) > max ||
		c.GTIN != first.GTIN || c.Lot != first.Lot || c.Expiry != first.Expiry || p.Site != last.plans[0].Site {
		return false
	}
	for _, s2 := range c.Serials {
		k := "p/" + c.GTIN + "/" + s2
		if s.keys[k] {
			return false // the same serial twice: leave it to the ledger, alone
		}
	}
	for _, s2 := range c.Serials {
		s.keys["p/"+c.GTIN+"/"+s2] = true
	}
	last.plans = append(last.plans, p)
	last.serials += len(c.Serials)
	s.n++
	return true
}

// fits reports whether u can join the segment.
func (s *segment) fits(u *unit, max int) bool {
	if len(s.units) == 0 {
		return true
	}
	if u.kind != s.kind || s.n >= max {
		return false
	}
	for _, k := range u.keys {
		if s.keys[k] {
			return false
		}
	}
	return true
}

func (s *segment) add(u *unit) {
	if len(s.units) == 0 {
		s.kind, s.keys = u.kind, map[string]bool{}
	}
	s.units = append(s.units, u)
	for _, k := range u.keys {
		s.keys[k] = true
	}
	s.n++
}

// flush applies the segment's units concurrently and empties it.
func (im *importer) flush(ctx context.Context, s *segment) error {
	units := s.units
	*s = segment{}
	if len(units) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *unit)
	errs := make(chan error, len(units))
	var wg sync.WaitGroup
	for range min(im.opt.Workers, len(units)) {
		wg.Go(func() {
			for u := range work {
				if err := im.apply(ctx, u); err != nil {
					errs <- err
					cancel()
				}
			}
		})
	}
feed:
	for _, u := range units {
		select {
		case work <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if im.opt.Progress != nil {
		im.mu.Lock()
		a, sk, r := im.rep.Counts()
		im.mu.Unlock()
		im.opt.Progress(a, sk, r)
	}
	return nil
}

// apply applies one unit: a merged batch (falling back to its events one
// by one when the ledger will not take it whole) or one event's writes.
func (im *importer) apply(ctx context.Context, u *unit) error {
	if len(u.plans) == 1 {
		return im.applyEvent(ctx, u.led, u.plans[0])
	}
	first := single(u.plans[0])
	req := &trace.CommissionPacksRequest{GTIN: first.GTIN, Lot: first.Lot, Expiry: first.Expiry, Serials: make([]string, 0, u.serials)}
	ids := make([]string, len(u.plans))
	for k, p := range u.plans {
		req.Serials = append(req.Serials, single(p).Serials...)
		ids[k] = p.EventID
	}
	req.RequestID = BatchID(ids)
	o, err := im.write(ctx, u.led, epcis.Op{Transaction: trace.TxCommissionPacks, Request: req})
	if err != nil {
		return err
	}
	switch {
	case o.kind == "conflict": // some serial exists already: event by event
		for _, p := range u.plans {
			if err := im.applyEvent(ctx, u.led, p); err != nil {
				return err
			}
		}
		return nil
	case o.status == "": // refused or invalid as a whole (product, lot, rights)
		im.mu.Lock()
		defer im.mu.Unlock()
		for _, p := range u.plans {
			im.rep.Reject(p, o.reason)
		}
		return nil
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	for _, p := range u.plans {
		e := epcis.Entry{EventIndex: p.Index, EventID: p.EventID, RequestIDs: []string{req.RequestID}, TxIDs: []string{o.txID}}
		if o.status == epcis.StatusSkipped {
			e.Message = "already applied"
			im.rep.Skipped = append(im.rep.Skipped, e)
		} else {
			im.rep.Applied = append(im.rep.Applied, e)
		}
	}
	return nil
}

// BatchID is the request ID of a merged write of the events with these IDs.
func BatchID(eventIDs []string) string {
	h := sha256.Sum256([]byte(strings.Join(eventIDs, "\n")))
	return BatchPrefix + hex.EncodeToString(h[:20])
}

// outcome is what became of one write: status applied or skipped (with the
// transaction), or "" with the reason it was not (refused, conflict,
// error), in kind "conflict" or "rejected".
type outcome struct {
	status epcis.Status
	txID   string
	kind   string
	reason string
}

// write sends one write unless the ledger already holds its request ID.
func (im *importer) write(ctx context.Context, led Ledger, op epcis.Op) (outcome, error) {
	id := op.Request.ID()
	var got trace.GetRequestResult
	if err := led.Evaluate(ctx, trace.TxGetRequest, &trace.RequestQuery{RequestID: id}, &got); err != nil {
		if im.opt.Stop(err) {
			return outcome{}, fmt.Errorf("look up request %s: %w", id, err)
		}
		return outcome{kind: "rejected", reason: fmt.Sprintf("look up request %s: %v", id, err)}, nil
	}
	if got.Found && got.Request != nil {
		return outcome{status: epcis.StatusSkipped, txID: got.Request.TxID}, nil
	}
	res := resultFor(op.Transaction)
	err := led.Submit(ctx, op.Transaction, op.Request, res)
	switch {
	case errors.Is(err, trace.ErrConflict): // the chaincode's conflict, not a read conflict at commit
		return outcome{kind: "conflict", reason: err.Error()}, nil
	case err != nil && im.opt.Stop(err):
		return outcome{}, fmt.Errorf("%s %s: %w", op.Transaction, id, err)
	case err != nil:
		return outcome{kind: "rejected", reason: fmt.Sprintf("%s %s: %v", op.Transaction, id, err)}, nil
	}
	if o := res.Out(); !o.OK() {
		return outcome{kind: "rejected", reason: fmt.Sprintf("%s %s refused (%s): %s", op.Transaction, id, o.Code, o.Message)}, nil
	}
	return outcome{status: epcis.StatusApplied, txID: res.Out().TxID}, nil
}

// applyEvent applies one event's writes in order. A conflict (the ledger
// already holds what the write creates) skips the write; a refusal or a
// chaincode error rejects the event at that write.
func (im *importer) applyEvent(ctx context.Context, led Ledger, p epcis.Planned) error {
	var txIDs []string
	known, conflict := 0, ""
	for _, op := range p.Ops {
		o, err := im.write(ctx, led, op)
		if err != nil {
			return fmt.Errorf("event %d: %w", p.Index, err)
		}
		switch {
		case o.status == epcis.StatusSkipped:
			known++
			txIDs = append(txIDs, o.txID)
		case o.status == epcis.StatusApplied:
			txIDs = append(txIDs, o.txID)
		case o.kind == "conflict":
			conflict = o.reason
		default:
			im.mu.Lock()
			im.rep.Reject(p, o.reason)
			im.mu.Unlock()
			return nil
		}
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	switch {
	case conflict != "":
		im.rep.Skip(p, "conflict: "+conflict, txIDs...)
	case known == len(p.Ops):
		im.rep.Skip(p, "already applied", txIDs...)
	default:
		im.rep.Apply(p, txIDs...)
	}
	return nil
}

// resultFor returns a new result value for an imported write.
func resultFor(fn string) trace.Result {
	switch fn {
	case trace.TxCommissionPacks:
		return &trace.CommissionPacksResult{}
	case trace.TxShip:
		return &trace.ShipmentResult{}
	case trace.TxAggregate:
		return &trace.AggregateResult{}
	case trace.TxReceive:
		return &trace.ReceiveResult{}
	case trace.TxDispense, trace.TxUndo, trace.TxDecommission:
		return &trace.ScanResult{}
	}
	return &trace.Outcome{}
}
