package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/epcis"
	"github.com/pharmatrace/pharmatrace/trace"
)

// fakeLedger is an in-memory stand-in for the chaincode's request
// de-duplication and commissioning uniqueness: enough to test what the
// importer sends, in which order, and what it reports. The real ledger
// behaviour is proved in test/ against a Fabric network.
type fakeLedger struct {
	mu       sync.Mutex
	requests map[string]string // request ID -> tx ID
	packs    map[string]bool
	writes   []string // transaction names in commit order
	serials  []int    // serials per commissioning write
	down     bool
	refuse   string // a transaction to refuse
	inFlight int
	maxConc  int
	overlap  bool // hold writes until two are in flight
	submits  int
}

func newFake() *fakeLedger {
	return &fakeLedger{requests: map[string]string{}, packs: map[string]bool{}}
}

var errDown = errors.New("ledger unavailable: no peer answered")

func (f *fakeLedger) Evaluate(_ context.Context, fn string, req trace.Request, result any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	if pq, ok := req.(*trace.PackQuery); ok {
		if !f.packs[pq.GTIN+"/"+pq.Serial] {
			return fmt.Errorf("%w: pack %s/%s", trace.ErrNotFound, pq.GTIN, pq.Serial)
		}
		result.(*trace.GetPackResult).Pack = trace.Pack{GTIN: pq.GTIN, Serial: pq.Serial, Lot: "LOT1", Expiry: "281231"}
		return nil
	}
	q := req.(*trace.RequestQuery)
	out := result.(*trace.GetRequestResult)
	if tx, ok := f.requests[q.RequestID]; ok {
		out.Found, out.Request = true, &trace.RequestRecord{TxID: tx}
	}
	return nil
}

func (f *fakeLedger) Submit(_ context.Context, fn string, req trace.WriteRequest, result any) error {
	f.mu.Lock()
	f.inFlight++
	f.maxConc = max(f.maxConc, f.inFlight)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inFlight--; f.mu.Unlock() }()
	// Hold each write until a second one is in flight (or a second has
	// passed), so concurrent submission shows in maxConc.
	for deadline := time.Now().Add(time.Second); f.overlap && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		f.mu.Lock()
		n := f.maxConc
		f.mu.Unlock()
		if n >= 2 {
			break
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submits++
	if f.down {
		return errDown
	}
	if fn == f.refuse {
		*result.(trace.Result).Out() = trace.Refused(trace.CodeStatusChangeNotPossible, "refused by the test")
		return nil
	}
	if c, ok := req.(*trace.CommissionPacksRequest); ok {
		for _, s := range c.Serials {
			if f.packs[c.GTIN+"/"+s] {
				return fmt.Errorf("%w: pack %s/%s already exists", trace.ErrConflict, c.GTIN, s)
			}
		}
		for _, s := range c.Serials {
			f.packs[c.GTIN+"/"+s] = true
		}
		f.serials = append(f.serials, len(c.Serials))
	}
	tx := fmt.Sprintf("tx%d", len(f.writes)+1)
	f.requests[req.ID()] = tx
	f.writes = append(f.writes, fn)
	o := result.(trace.Result).Out()
	o.Status, o.TxID = trace.StatusOK, tx
	return nil
}

const (
	gtin = "09506000134352"
	gln  = "9506000000015"
	dest = "9506000000022"
)

func commissioningDoc(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := epcis.GenerateCommissioning(&b, n, gtin, "LOT1", "281231", gln); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func run(t *testing.T, doc []byte, f *fakeLedger, opt Options) (*epcis.Report, error) {
	t.Helper()
	if opt.LedgerFor == nil {
		opt.LedgerFor = func(*epcis.Planned) (Ledger, error) { return f, nil }
	}
	rd := epcis.NewReader(bytes.NewReader(doc), epcis.ImportOptions{
		LookupGLN: func(g string) (string, bool) { return "DistributorMSP", g == dest }})
	return Run(context.Background(), rd, opt)
}

func counts(r *epcis.Report) string {
	a, s, x := r.Counts()
	return fmt.Sprintf("applied %d skipped %d rejected %d", a, s, x)
}

func TestBatchedCommissioningIsIdempotent(t *testing.T) {
	doc := commissioningDoc(t, 25)
	f := newFake()
	rep, err := run(t, doc, f, Options{MaxSerials: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(rep); got != "applied 25 skipped 0 rejected 0" {
		t.Fatalf("first import: %s", got)
	}
	// 25 one-pack events of one lot: writes of 10, 10 and 5 serials.
	if fmt.Sprint(f.serials) != "[10 10 5]" {
		t.Errorf("commissioning writes %v, want [10 10 5]", f.serials)
	}
	for k, e := range rep.Applied {
		if e.EventIndex != k || len(e.RequestIDs) != 1 || !strings.HasPrefix(e.RequestIDs[0], BatchPrefix) || len(e.TxIDs) != 1 {
			t.Fatalf("entry %d: %+v", k, e)
		}
	}
	rep2, err := run(t, doc, f, Options{MaxSerials: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(rep2); got != "applied 0 skipped 25 rejected 0" || len(f.writes) != 3 {
		t.Fatalf("second import: %s, %d writes", got, len(f.writes))
	}
	for k, e := range rep2.Skipped {
		if e.Message != "already applied" || e.TxIDs[0] != rep.Applied[k].TxIDs[0] {
			t.Fatalf("skipped entry %d: %+v, first import %+v", k, e, rep.Applied[k])
		}
	}
}

func TestBatchConflictFallsBackToEvents(t *testing.T) {
	doc := commissioningDoc(t, 6)
	f := newFake()
	// An earlier import batched differently: events 1-3 are on the ledger.
	if _, err := run(t, commissioningDoc(t, 3), f, Options{}); err != nil {
		t.Fatal(err)
	}
	rep, err := run(t, doc, f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(rep); got != "applied 3 skipped 3 rejected 0" {
		t.Fatalf("%s: %+v", got, rep)
	}
	for _, e := range rep.Skipped {
		if e.EventIndex > 2 || !strings.Contains(e.Message, "conflict") {
			t.Errorf("skipped %+v", e)
		}
	}
	for _, e := range rep.Applied {
		if e.EventIndex < 3 || e.RequestIDs[0] != epcis.RequestID(e.EventID) {
			t.Errorf("applied %+v (want its own request ID)", e)
		}
	}
}

// mixedDoc: three commissioning events, then three shipments of one pack
// each (independent), then a dispensing event.
func mixedDoc(t *testing.T) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-01-01T00:00:00Z","epcisBody":{"eventList":[`)
	ev := func(k int, body string) {
		if k > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:%02dZ","eventTimeZoneOffset":"+00:00",%s,"bizLocation":{"id":"urn:epc:id:sgln:9506000.00001.0"}}`, k, body)
	}
	for k := range 3 {
		ev(k, fmt.Sprintf(`"epcList":["urn:epc:id:sgtin:9506000.013435.S%d"],"action":"ADD","bizStep":"commissioning","ilmd":{"cbvmda:lotNumber":"L%d","cbvmda:itemExpirationDate":"2028-01-31"}`, k, k))
	}
	for k := range 3 {
		ev(3+k, fmt.Sprintf(`"epcList":["urn:epc:id:sgtin:9506000.013435.S%d"],"action":"OBSERVE","bizStep":"shipping","destinationList":[{"type":"location","destination":"urn:epc:id:sgln:9506000.00002.0"}]`, k))
	}
	ev(6, `"epcList":["urn:epc:id:sgtin:9506000.013435.S0"],"action":"OBSERVE","bizStep":"dispensing"`)
	b.WriteString(`]}}`)
	return []byte(b.String())
}

func TestSegmentsKeepDependentEventsInOrder(t *testing.T) {
	f := newFake()
	f.overlap = true
	rep, err := run(t, mixedDoc(t), f, Options{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(rep); got != "applied 7 skipped 0 rejected 0" {
		t.Fatalf("%s: %+v", got, rep.Rejected)
	}
	want := "[CommissionPacks CommissionPacks CommissionPacks Ship Ship Ship Dispense]"
	if fmt.Sprint(f.writes) != want {
		t.Errorf("writes %v, want %s", f.writes, want)
	}
	if f.maxConc < 2 {
		t.Errorf("at most %d writes in flight: independent events were not submitted concurrently", f.maxConc)
	}
}

func TestRefusalRejectsTheEventOnly(t *testing.T) {
	f := newFake()
	f.refuse = trace.TxShip
	rep, err := run(t, mixedDoc(t), f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(rep); got != "applied 4 skipped 0 rejected 3" {
		t.Fatalf("%s", got)
	}
	for k, r := range rep.Rejected {
		if r.EventIndex != 3+k || !strings.Contains(r.Reason, "Ship") || !strings.Contains(r.Reason, "refused by the test") {
			t.Errorf("rejection %+v", r)
		}
	}
}

func TestUnavailableLedgerStopsTheImport(t *testing.T) {
	f := newFake()
	f.down = true
	_, err := run(t, mixedDoc(t), f, Options{})
	if !errors.Is(err, errDown) {
		t.Fatalf("err = %v, want the ledger's error", err)
	}
	f.down = false
	rep, err := run(t, mixedDoc(t), f, Options{})
	if err != nil || counts(rep) != "applied 7 skipped 0 rejected 0" {
		t.Fatalf("after recovery: %v %s", err, counts(rep))
	}
}

func TestLedgerForErrorRejects(t *testing.T) {
	f := newFake()
	rep, err := run(t, mixedDoc(t), f, Options{LedgerFor: func(p *epcis.Planned) (Ledger, error) {
		if p.BizStep == "dispensing" {
			return nil, fmt.Errorf("no identity for site %s", p.Site)
		}
		return f, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if counts(rep) != "applied 6 skipped 0 rejected 1" || rep.Rejected[0].Reason != "no identity for site 9506000000015" {
		t.Fatalf("%s %+v", counts(rep), rep.Rejected)
	}
}

func TestRefusedBatchRejectsItsEventsAtOnce(t *testing.T) {
	f := newFake()
	f.refuse = trace.TxCommissionPacks
	rep, err := run(t, commissioningDoc(t, 30), f, Options{MaxSerials: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(rep); got != "applied 0 skipped 0 rejected 30" {
		t.Fatalf("%s", got)
	}
	// Three batch writes tried, no event-by-event retries.
	if f.submits != 3 {
		t.Errorf("%d submits, want 3 (one per batch)", f.submits)
	}
	for k, r := range rep.Rejected {
		if r.EventIndex != k || !strings.Contains(r.Reason, "refused by the test") || !strings.Contains(r.Reason, BatchPrefix) {
			t.Fatalf("rejection %d: %+v", k, r)
		}
	}
}

func TestLookupPack(t *testing.T) {
	f := newFake()
	f.packs[gtin+"/S1"] = true
	look := LookupPack(context.Background(), f)
	if lot, exp, ok, err := look(trace.PackRef{GTIN: gtin, Serial: "S1"}); err != nil || !ok || lot != "LOT1" || exp != "281231" {
		t.Errorf("known pack: %q %q %v %v", lot, exp, ok, err)
	}
	if _, _, ok, err := look(trace.PackRef{GTIN: gtin, Serial: "S2"}); err != nil || ok {
		t.Errorf("unknown pack: %v %v, want not found without error", ok, err)
	}
	f.down = true
	if _, _, _, err := look(trace.PackRef{GTIN: gtin, Serial: "S1"}); !errors.Is(err, errDown) {
		t.Errorf("ledger down: %v", err)
	}
}
