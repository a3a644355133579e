package epcis

import (
	"bytes"
	"encoding/json"
	"io"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/trace"
)

var fxCreated = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func seq(events []trace.Event) iter.Seq2[trace.Event, error] {
	return func(yield func(trace.Event, error) bool) {
		for _, e := range events {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func exportAll(t *testing.T, events []trace.Event, opt Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Export(&buf, seq(events), opt); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// docEvents decodes an exported document's events.
func docEvents(t *testing.T, doc []byte) []Event {
	t.Helper()
	var d struct {
		Body struct {
			EventList []Event `json:"eventList"`
		} `json:"epcisBody"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("exported document is not JSON: %v", err)
	}
	return d.Body.EventList
}

func TestExportGoldenAndSchema(t *testing.T) {
	cases := []struct {
		name   string
		opt    Options
		golden string
	}{
		{"sgtin with ledger refs", Options{CreationDate: fxCreated, LedgerRefs: true}, "export_sgtin.jsonld"},
		{"digital link", Options{CreationDate: fxCreated, EPCForm: FormDigitalLink}, "export_digitallink.jsonld"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := exportAll(t, fixtureEvents(), c.opt)
			golden(t, c.golden, doc)
			if err := validate(t, doc); err != nil {
				t.Fatalf("exported document does not validate against the EPCIS 2.0 schema: %v", err)
			}
			if n := len(docEvents(t, doc)); n != 12 {
				t.Errorf("%d events exported, want 12 (14 transactions minus a refusal and a recall)", n)
			}
		})
	}
}

func TestExportMapping(t *testing.T) {
	want := []struct{ tx, typ, action, step, disp string }{
		{"tx01", "ObjectEvent", "ADD", "commissioning", "active"},
		{"tx02", "AggregationEvent", "ADD", "packing", "in_progress"},
		{"tx03", "ObjectEvent", "OBSERVE", "shipping", "in_transit"},
		{"tx04", "ObjectEvent", "OBSERVE", "receiving", "in_progress"},
		{"tx05", "ObjectEvent", "OBSERVE", "shipping", "in_transit"},
		{"tx06", "ObjectEvent", "OBSERVE", "receiving", "in_progress"},
		{"tx07", "ObjectEvent", "OBSERVE", "dispensing", "dispensed"},
		{"tx08", "ObjectEvent", "OBSERVE", "decommissioning", "inactive"},
		{"tx09", "ObjectEvent", "OBSERVE", "stocking", "active"},
		{"tx10", "ObjectEvent", "DELETE", "destroying", "destroyed"},
		{"tx11", "ObjectEvent", "OBSERVE", "decommissioning", "stolen"},
		{"tx14", "ObjectEvent", "OBSERVE", "decommissioning", "inactive"},
	}
	got := docEvents(t, exportAll(t, fixtureEvents(), Options{CreationDate: fxCreated, LedgerRefs: true}))
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i, w := range want {
		t.Run(w.tx, func(t *testing.T) {
			e := got[i]
			if e.TxID != w.tx || e.Type != w.typ || e.Action != w.action || e.BizStep != w.step || e.Disposition != w.disp {
				t.Errorf("got %s %s %s %s %s, want %+v", e.TxID, e.Type, e.Action, e.BizStep, e.Disposition, w)
			}
			if !strings.HasPrefix(e.EventID, "ni:///sha-256;") || e.EventTimeZoneOffset != "+00:00" ||
				!strings.HasSuffix(e.EventTime, "Z") || e.ReadPoint == nil || !strings.HasPrefix(e.ReadPoint.ID, "urn:epc:id:sgln:") {
				t.Errorf("event %+v lacks eventID, UTC time or SGLN read point", e)
			}
		})
	}
	// Spot checks of the content.
	if c := got[0]; len(c.EPCList) != 5 || c.EPCList[0] != "urn:epc:id:sgtin:9506000.013435.S1" ||
		c.ILMD["cbvmda:lotNumber"] != fxLot || c.ILMD["cbvmda:itemExpirationDate"] != "2027-12-31" ||
		c.EventTime != "2026-03-02T08:30:00.123Z" || c.ReadPoint.ID != "urn:epc:id:sgln:9506000.00001.0" {
		t.Errorf("commissioning event: %+v", c)
	}
	if a := got[1]; a.ParentID != "urn:epc:id:sscc:9506000.3000000001" || len(a.ChildEPCs) != 3 {
		t.Errorf("aggregation event: %+v", a)
	}
	s := got[2]
	if !slices.Equal(s.EPCList, []string{"urn:epc:id:sscc:9506000.3000000001", "urn:epc:id:sgtin:9506000.013435.S4"}) ||
		len(s.BizTransactionList) != 1 || s.BizTransactionList[0] != (BizTx{"desadv", "urn:pharmatrace:shipment:SH-1"}) ||
		!slices.Equal(s.SourceList, []Source{{"owning_party", "urn:epc:id:pgln:9506000.00001"}, {"location", "urn:epc:id:sgln:9506000.00001.0"}}) ||
		!slices.Equal(s.DestinationList, []Destination{{"owning_party", "urn:epc:id:pgln:9506000.00002"}, {"location", "urn:epc:id:sgln:9506000.00002.0"}}) {
		t.Errorf("shipping event: %+v", s)
	}
	if r := got[3]; len(r.EPCList) != 4 || len(r.DestinationList) != 2 || r.DestinationList[1].Destination != "urn:epc:id:sgln:9506000.00002.0" {
		t.Errorf("receiving event: %+v", r)
	}
	if d := got[7]; d.DecommissionReason != "locked" {
		t.Errorf("decommission reason %q, want locked", d.DecommissionReason)
	}
}

// TestExportEventIDs: the eventID of every exported event is the hash an
// importer computes from the document, SGTIN and Digital Link forms give
// the same IDs, and the export is deterministic.
func TestExportEventIDs(t *testing.T) {
	sg := exportAll(t, fixtureEvents(), Options{CreationDate: fxCreated})
	dl := exportAll(t, fixtureEvents(), Options{CreationDate: fxCreated, EPCForm: FormDigitalLink})
	sgEv, dlEv := docEvents(t, sg), docEvents(t, dl)
	if len(sgEv) != len(dlEv) {
		t.Fatalf("%d vs %d events", len(sgEv), len(dlEv))
	}
	for i := range sgEv {
		if sgEv[i].EventID != dlEv[i].EventID {
			t.Errorf("event %d: SGTIN form %s, Digital Link form %s", i, sgEv[i].EventID, dlEv[i].EventID)
		}
	}
	r := NewReader(bytes.NewReader(sg), ImportOptions{})
	for i := 0; ; i++ {
		p, err := r.Next()
		if err == io.EOF {
			if i != len(sgEv) {
				t.Fatalf("reader saw %d events, document has %d", i, len(sgEv))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.EventID != sgEv[i].EventID {
			t.Errorf("event %d: exported eventID %s, recomputed %s", i, sgEv[i].EventID, p.EventID)
		}
	}
	if again := exportAll(t, fixtureEvents(), Options{CreationDate: fxCreated}); !bytes.Equal(again, sg) {
		t.Error("exporting the same events twice gave different documents")
	}
}

func TestExportFilters(t *testing.T) {
	cases := []struct {
		name string
		opt  Options
		txs  []string
		epcs int // EPCs over all events
	}{
		{"one pack", Options{Filter: Packs(fxRef("S1"))}, []string{"tx01", "tx02", "tx03", "tx04", "tx05", "tx06", "tx07"}, 7},
		{"a shipment's packs", Options{Filter: Packs(fxRef("S1"), fxRef("S2"))},
			[]string{"tx01", "tx02", "tx03", "tx04", "tx05", "tx06", "tx07", "tx08", "tx09"}, 14},
		{"destroyed pack", Options{Filter: Packs(fxRef("S5"))}, []string{"tx01", "tx10"}, 2},
		{"lot", Options{Filter: Lot(fxGTIN, fxLot)}, []string{"tx01", "tx02", "tx03", "tx04", "tx05", "tx06", "tx07", "tx08", "tx09", "tx10", "tx11", "tx14"}, 24},
		{"other lot", Options{Filter: Lot(fxGTIN, "OTHER")}, nil, 0},
		{"time range", Options{From: fxT0.Add(24 * time.Hour), To: fxT0.Add(72 * time.Hour)}, []string{"tx04", "tx05"}, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opt.CreationDate, c.opt.LedgerRefs = fxCreated, true
			doc := exportAll(t, fixtureEvents(), c.opt)
			var txs []string
			epcs := 0
			for _, e := range docEvents(t, doc) {
				txs = append(txs, e.TxID)
				epcs += len(e.EPCList) + len(e.ChildEPCs)
			}
			if !slices.Equal(txs, c.txs) || epcs != c.epcs {
				t.Errorf("transactions %v with %d EPCs, want %v with %d", txs, epcs, c.txs, c.epcs)
			}
			if err := validate(t, doc); err != nil {
				t.Fatalf("schema: %v", err)
			}
		})
	}
}

func TestExportCompanyPrefixLen(t *testing.T) {
	opt := Options{CreationDate: fxCreated, CompanyPrefixLen: func(key string) int {
		if len(key) == 14 {
			return 9 // GTIN
		}
		return 12
	}}
	ev := fixtureEvents()[:3]
	doc := exportAll(t, ev, opt)
	got := docEvents(t, doc)
	if got[0].EPCList[0] != "urn:epc:id:sgtin:950600013.0435.S1" || got[0].ReadPoint.ID != "urn:epc:id:sgln:950600000001..0" ||
		got[1].ParentID != "urn:epc:id:sscc:950600000000.30001" {
		t.Errorf("prefix lengths not applied: %s %s %s", got[0].EPCList[0], got[0].ReadPoint.ID, got[1].ParentID)
	}
	// The hash does not depend on how the keys were split.
	def := docEvents(t, exportAll(t, ev, Options{CreationDate: fxCreated}))
	for i := range got {
		if got[i].EventID != def[i].EventID {
			t.Errorf("event %d: eventID depends on the company prefix length", i)
		}
	}
	if err := validate(t, doc); err != nil {
		t.Fatal(err)
	}
}

func TestExportEmptyAndErrors(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf, Options{CreationDate: fxCreated})
	bad := fixtureEvents()[0]
	bad.Actor.GLN = "9506000000016" // wrong check digit
	bad.Commissioned.Custodian.GLN = bad.Actor.GLN
	if _, err := enc.Encode(&bad); err == nil || !strings.Contains(err.Error(), "tx01") || !strings.Contains(err.Error(), "9506000000016") {
		t.Errorf("bad GLN: error %v should name the transaction and the GLN", err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if enc.Count() != 0 {
		t.Errorf("count %d", enc.Count())
	}
	if err := validate(t, buf.Bytes()); err != nil {
		t.Errorf("empty document: %v", err)
	}
	if _, err := enc.Encode(&bad); err == nil {
		t.Error("Encode after Close succeeded")
	}
}

func TestSchemaRejectsBrokenDocument(t *testing.T) {
	doc := exportAll(t, fixtureEvents()[:1], Options{CreationDate: fxCreated})
	broken := bytes.Replace(doc, []byte(`"action":"ADD"`), []byte(`"action":"CREATE"`), 1)
	if bytes.Equal(broken, doc) {
		t.Fatal("fixture changed: no action to break")
	}
	if err := validate(t, broken); err == nil {
		t.Error("the schema accepted action CREATE: validation is not effective")
	}
}
