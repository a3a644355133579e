package chaincode_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"

	"github.com/pharmatrace/pharmatrace/chaincode"
	"github.com/pharmatrace/pharmatrace/internal/ledgertest"
	"github.com/pharmatrace/pharmatrace/trace"
)

// readModel applies events only, as an off-chain projection would.
type readModel map[string][]byte

func (m readModel) set(tb testing.TB, obj string, attrs []string, v any) {
	k, err := shim.CreateCompositeKey(obj, attrs)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	m[k] = b
}

// setPack stores a pack under its ledger key: the pseudonym of its serial.
func (m readModel) setPack(tb testing.TB, p trace.Pack) {
	b, err := json.Marshal(p)
	if err != nil {
		tb.Fatal(err)
	}
	m[chaincode.PackKeyFor(testCollectionKey, p.GTIN, p.Serial)] = b
}

func (m readModel) apply(tb testing.TB, ev trace.Event) {
	for _, p := range ev.Products {
		m.set(tb, "product", []string{p.GTIN}, p)
	}
	for _, l := range ev.Lots {
		m.set(tb, "lot", []string{l.GTIN, l.Lot}, l)
	}
	if c := ev.Commissioned; c != nil {
		for _, p := range c.Packs(ev.TxID, ev.Timestamp) {
			m.setPack(tb, p)
		}
	}
	for _, p := range ev.Packs {
		m.setPack(tb, p)
	}
	for _, a := range ev.Aggregations {
		m.set(tb, "sscc", []string{a.SSCC}, a)
	}
	for _, s := range ev.Shipments {
		m.set(tb, "shipment", []string{s.ID}, s)
	}
	for _, a := range ev.Anomalies {
		m.set(tb, "anomaly", []string{a.ID}, a)
	}
}

// TestEventsRebuildState drives a full scenario and checks that (1) every
// committed write transaction emitted exactly one event named after it,
// (2) applying the events alone reproduces every record in world state.
func TestEventsRebuildState(t *testing.T) {
	n := newNet(t)
	txs := 0
	submit := func(who, fn string, req any) {
		t.Helper()
		r := n.submit(who, fn, req)
		if !r.Committed() {
			t.Fatalf("%s: %s", fn, r.Message)
		}
		if r.EventCalls != 1 || r.Event.Name != fn {
			t.Fatalf("%s: %d SetEvent calls, name %q", fn, r.EventCalls, r.Event.Name)
		}
		var ev trace.Event
		if err := json.Unmarshal(fullEvent(*r.Event), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != fn || ev.TxID != r.TxID || ev.RequestID == "" || ev.Actor.MSP != identitySpecs[who].msp || ev.Outcome.TxID != r.TxID {
			t.Fatalf("%+v", ev)
		}
		txs++
	}
	h := func() trace.RequestHeader { return trace.RequestHeader{RequestID: n.reqID()} }
	submit(mfgA, "RegisterProduct", trace.RegisterProductRequest{RequestHeader: h(), GTIN: gtinA, Name: "P", Form: "f", Strength: "s", PackSize: 1})
	submit(mfgA, "RegisterLot", trace.RegisterLotRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L0", Expiry: expiry, Status: trace.LotQuarantined})
	submit(mfgA, "ReleaseLot", trace.LotStatusRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L0"})
	submit(mfgA, "RegisterLot", trace.RegisterLotRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L1", Expiry: expiry})
	submit(mfgA, "InitCollection", trace.InitCollectionRequest{RequestHeader: h(), Manufacturer: "ManufacturerMSP", Key: testCollectionKey})
	submit(mfgA, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L1", Expiry: expiry, Serials: []string{"E1", "E2", "E3", "E4"}})
	submit(mfgA, "Aggregate", trace.AggregateRequest{RequestHeader: h(), SSCC: sscc1, Packs: refs(gtinA, "E1", "E2")})
	submit(mfgA, "Ship", trace.ShipRequest{RequestHeader: h(), ShipmentID: "SH1", To: party(wh1), Packs: refs(gtinA, "E3"), SSCCs: []string{sscc1}})
	submit(wh1, "Receive", trace.ReceiveRequest{RequestHeader: h(), ShipmentID: "SH1", SSCCs: []string{sscc1}})
	submit(wh1, "Ship", trace.ShipRequest{RequestHeader: h(), ShipmentID: "SH2", To: party(ph1), SSCCs: []string{sscc1}})
	submit(ph2, "Receive", trace.ReceiveRequest{RequestHeader: h(), ShipmentID: "SH2", Packs: refs(gtinA, "E1", "E2")})
	submit(ph2, "Dispense", trace.ScanRequest{RequestHeader: h(), Scan: scan(gtinA, "E1", "L1", expiry)})
	submit(ph1, "Dispense", trace.ScanRequest{RequestHeader: h(), Scan: scan(gtinA, "E1", "L1", expiry)})
	submit(ph2, "Undo", trace.ScanRequest{RequestHeader: h(), Scan: scan(gtinA, "E1", "L1", expiry)})
	submit(ph2, "Decommission", trace.DecommissionRequest{RequestHeader: h(), Scan: scan(gtinA, "E2", "L1", expiry), Reason: trace.ReasonLocked})
	submit(ph2, "ReportScan", trace.ScanRequest{RequestHeader: h(), Scan: scan(gtinA, "GHOST", "L1", expiry)})
	submit(reg, "RecallLot", trace.LotStatusRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L1", Reason: "r"})
	submit(mfgA, "WithdrawLot", trace.LotStatusRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L0", Reason: "w"})
	submit(reg, "FlagAnomaly", trace.FlagAnomalyRequest{RequestHeader: h(), Code: trace.AnomalyManual, Severity: trace.SeverityHigh, Classification: trace.ClassDiversion, Site: glnPH2, Message: "inspection"})
	list := query[trace.ListAnomaliesResult](n, reg, "ListAnomalies", trace.ListAnomaliesQuery{Code: trace.AnomalyManual})
	id := list.Anomalies[0].ID
	submit(reg, "TransitionAnomaly", trace.TransitionAnomalyRequest{RequestHeader: h(), AnomalyID: id, To: trace.AnomalyInvestigating})
	own := query[trace.ListAnomaliesResult](n, ph2, "ListAnomalies", trace.ListAnomaliesQuery{})
	submit(ph2, "CommentAnomaly", trace.CommentAnomalyRequest{RequestHeader: h(), AnomalyID: own.Anomalies[0].ID, Comment: "was a delivery mix-up"})
	submit(reg, "TransitionAnomaly", trace.TransitionAnomalyRequest{RequestHeader: h(), AnomalyID: id, To: trace.AnomalyClosed, Reason: trace.CloseProcessError})

	evs := n.l.Events()
	if len(evs) != txs {
		t.Fatalf("%d events for %d transactions", len(evs), txs)
	}
	m := readModel{}
	for _, e := range evs {
		var ev trace.Event
		if err := json.Unmarshal(fullEvent(e), &ev); err != nil {
			t.Fatal(err)
		}
		m.apply(t, ev)
	}
	// Products and lots are public records, the rest lives in the
	// manufacturer's collection. A lot's pack count is private: the public
	// record has none, the members' events carry it.
	coll := trace.Collection("ManufacturerMSP")
	compared := 0
	for _, obj := range []string{"product", "lot", "pack", "sscc", "shipment", "anomaly"} {
		start, _ := shim.CreateCompositeKey(obj, nil)
		spaces := []func(string) string{func(k string) string { return k }} // anomalies about no product are public
		if obj != "product" && obj != "lot" {
			spaces = append(spaces, func(k string) string { return ledgertest.PrivateKey(coll, k) })
		}
		for _, ledgerKey := range spaces {
			for _, lk := range n.l.Keys(ledgerKey(start), ledgerKey(start+"\U0010FFFF")) {
				k := strings.TrimPrefix(lk, ledgerKey(""))
				got, ok := m[k]
				if !ok {
					t.Fatalf("read model lacks %q", k)
				}
				want := n.l.Get(lk)
				if obj == "lot" {
					got, want = withoutPackCount(t, got), withoutPackCount(t, want)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%q:\nevents %s\nledger %s", k, got, want)
				}
				compared++
			}
		}
	}
	if compared != len(m) || compared < 15 {
		t.Fatalf("compared %d records, read model has %d", compared, len(m))
	}
}

// TestCommissionEventIsCompact: 1,000 serials travel as a serial list.
func TestCommissionEventIsCompact(t *testing.T) {
	n := newNet(t)
	n.registerProduct(mfgA, gtinA)
	serials := make([]string, 1000)
	for i := range serials {
		serials[i] = "K" + itoa(100000+i)
	}
	n.commission(mfgA, gtinA, "L1", expiry, serials...)
	name, ev := n.lastEvent()
	if name != "CommissionPacks" || len(ev.Packs) != 0 || ev.Commissioned == nil || len(ev.Commissioned.Serials) != 1000 || len(ev.Lots) != 1 || ev.Lots[0].PackCount != 1000 {
		t.Fatalf("%s %+v", name, ev.Lots)
	}
	size := len(fullEvent(n.l.Events()[len(n.l.Events())-1]))
	if size > 20*1000 {
		t.Fatalf("event of %d bytes for 1,000 serials", size)
	}
}

// TestDeterministic replays the same proposals (same tx IDs and timestamps,
// as every endorsing peer sees them) on two independent chaincode instances
// and requires byte-identical responses, events and state.
func TestDeterministic(t *testing.T) {
	run := func() (*net, [][]byte) {
		n := supplyChain(t)
		n.scanTx(ph2, "Dispense", scan(gtinA, "S1", "L1", expiry))
		n.scanTx(ph1, "Dispense", scan(gtinA, "S1", "L1", expiry))
		n.receive(wh2, "SH1", refs(gtinA, "S1", "P5"))
		var out [][]byte
		for _, e := range n.l.Events() {
			out = append(out, fullEvent(e))
		}
		return n, out
	}
	a, ea := run()
	b, eb := run()
	if len(ea) != len(eb) {
		t.Fatal("event counts differ")
	}
	for i := range ea {
		if !bytes.Equal(ea[i], eb[i]) {
			t.Fatalf("event %d differs:\n%s\n%s", i, ea[i], eb[i])
		}
	}
	ka, kb := a.l.Keys("", ""), b.l.Keys("", "")
	if len(ka) != len(kb) {
		t.Fatal("key counts differ")
	}
	for i := range ka {
		if ka[i] != kb[i] || !bytes.Equal(a.l.Get(ka[i]), b.l.Get(kb[i])) {
			t.Fatalf("state differs at %q", ka[i])
		}
	}
}

func withoutPackCount(tb testing.TB, b []byte) []byte {
	var l trace.Lot
	if err := json.Unmarshal(b, &l); err != nil {
		tb.Fatal(err)
	}
	l.PackCount = 0
	out, _ := json.Marshal(l)
	return out
}
