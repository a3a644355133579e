package epcis

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/trace"
)

var directory = map[string]string{
	fxMfr.GLN:   fxMfr.MSP,
	fxDist.GLN:  fxDist.MSP,
	fxPharm.GLN: fxPharm.MSP,
}

func lookup(gln string) (string, bool) { m, ok := directory[gln]; return m, ok }

func document(events ...string) string {
	return `{"@context":["` + StandardContext + `"],"type":"EPCISDocument","schemaVersion":"2.0",` +
		`"creationDate":"2026-01-01T00:00:00Z","epcisBody":{"eventList":[` + strings.Join(events, ",") + `]}}`
}

// readAll plans every event of a document.
func readAll(t *testing.T, doc string, opt ImportOptions) []Planned {
	t.Helper()
	r := NewReader(strings.NewReader(doc), opt)
	var out []Planned
	for {
		p, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, p)
	}
}

const (
	commission = `{"type":"ObjectEvent","eventTime":"2026-01-02T10:00:00.000+01:00","eventTimeZoneOffset":"+01:00",
	 "epcList":["urn:epc:id:sgtin:9506000.013435.A1","https://id.gs1.org/01/09506000134352/21/A2","urn:epc:id:sgtin:9506000.013435.A3"],
	 "action":"ADD","bizStep":"commissioning","disposition":"active","readPoint":{"id":"urn:epc:id:sgln:9506000.00001.0"},
	 "ilmd":{"cbvmda:lotNumber":"L42","cbvmda:itemExpirationDate":"2028-06-30"}}`
	ship = `{"type":"ObjectEvent","eventTime":"2026-01-03T10:00:00Z","eventTimeZoneOffset":"+00:00",
	 "epcList":["urn:epc:id:sscc:9506000.3000000001","urn:epc:id:sgtin:9506000.013435.A3"],
	 "action":"OBSERVE","bizStep":"urn:epcglobal:cbv:bizstep:shipping","disposition":"in_transit",
	 "destinationList":[{"type":"owning_party","destination":"urn:epc:id:pgln:9506000.00002"},
	                    {"type":"location","destination":"https://id.gs1.org/414/9506000000022"}]}`
	pack = `{"type":"AggregationEvent","eventTime":"2026-01-02T11:00:00Z","eventTimeZoneOffset":"+00:00",
	 "parentID":"https://id.gs1.org/00/395060000000000016",
	 "childEPCs":["urn:epc:id:sgtin:9506000.013435.A1","urn:epc:id:sgtin:9506000.013435.A2"],"action":"ADD","bizStep":"packing"}`
)

func TestImportPlans(t *testing.T) {
	ps := readAll(t, document(commission, pack, ship), ImportOptions{LookupGLN: lookup})
	if len(ps) != 3 {
		t.Fatalf("%d plans", len(ps))
	}
	for _, p := range ps {
		if p.Rejection != nil {
			t.Fatalf("event %d rejected: %s", p.Index, p.Rejection.Reason)
		}
		if len(p.Ops) != 1 || p.Ops[0].Request.ID() != RequestID(p.EventID) || len(p.Ops[0].Request.ID()) > 64 {
			t.Errorf("event %d: ops %+v, event %s", p.Index, p.Ops, p.EventID)
		}
	}
	c, ok := ps[0].Ops[0].Request.(*trace.CommissionPacksRequest)
	if !ok || ps[0].Ops[0].Transaction != trace.TxCommissionPacks || c.GTIN != fxGTIN || c.Lot != "L42" || c.Expiry != "280630" ||
		!slices.Equal(c.Serials, []string{"A1", "A2", "A3"}) {
		t.Errorf("commissioning request %+v", ps[0].Ops[0].Request)
	}
	a, ok := ps[1].Ops[0].Request.(*trace.AggregateRequest)
	if !ok || a.SSCC != fxSSCC || !slices.Equal(a.Packs, []trace.PackRef{fxRef("A1"), fxRef("A2")}) {
		t.Errorf("aggregate request %+v", ps[1].Ops[0].Request)
	}
	s, ok := ps[2].Ops[0].Request.(*trace.ShipRequest)
	if !ok || s.To != fxDist.Party() || !slices.Equal(s.SSCCs, []string{fxSSCC}) || !slices.Equal(s.Packs, []trace.PackRef{fxRef("A3")}) ||
		s.ShipmentID != s.RequestID || ps[2].BizStep != "shipping" {
		t.Errorf("ship request %+v (biz step %q)", ps[2].Ops[0].Request, ps[2].BizStep)
	}
	// Importing the same document again plans the same requests.
	again := readAll(t, document(commission, pack, ship), ImportOptions{LookupGLN: lookup})
	for i := range ps {
		if !slices.Equal(ps[i].RequestIDs(), again[i].RequestIDs()) || ps[i].EventID != again[i].EventID {
			t.Errorf("event %d: request IDs %v then %v", i, ps[i].RequestIDs(), again[i].RequestIDs())
		}
	}
}

func TestImportRejections(t *testing.T) {
	cases := []struct {
		name, event, reason string
	}{
		{"receiving without ASN", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"OBSERVE","bizStep":"receiving"}`,
			"receiving without a despatch advice"},
		{"dispensing an unknown pack", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"OBSERVE","bizStep":"dispensing"}`,
			"epcList[0]: pack 09506000134352/A1 is unknown"},
		{"decommissioning without reason", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["https://id.gs1.org/01/09506000134352/21/A1/10/L1/17/280131"],"action":"OBSERVE","bizStep":"decommissioning","disposition":"inactive"}`,
			`disposition "inactive" names no EU reason`},
		{"decommissioning with a foreign reason", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["https://id.gs1.org/01/09506000134352/21/A1/10/L1/17/280131"],"action":"OBSERVE","bizStep":"decommissioning","pharmatrace:decommissionReason":"lost"}`,
			`"lost" is not an EU decommissioning reason`},
		{"site is not a location", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"OBSERVE","bizStep":"dispensing","bizLocation":{"id":"urn:epc:id:sscc:9506000.3000000001"}}`,
			"bizLocation.id is not a location"},
		{"stocking", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"OBSERVE","bizStep":"stocking","disposition":"sellable_accessible"}`,
			"ObjectEvent OBSERVE stocking cannot be represented"},
		{"transformation", `{"type":"TransformationEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","inputEPCList":["urn:epc:id:sgtin:9506000.013435.A1"]}`,
			"TransformationEvent cannot be represented"},
		{"class-level commissioning", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":[],"quantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.013435.L1","quantity":10}],"action":"ADD","bizStep":"commissioning"}`,
			"quantityList (class-level quantities) cannot be represented"},
		{"no lot", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"ADD","bizStep":"commissioning","ilmd":{"cbvmda:itemExpirationDate":"2028-01-31"}}`,
			"no lot number"},
		{"no expiry", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"ADD","bizStep":"commissioning","ilmd":{"cbvmda:lotNumber":"L1"}}`,
			"no expiry date"},
		{"bad expiry", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"ADD","bizStep":"commissioning","ilmd":{"cbvmda:lotNumber":"L1","cbvmda:itemExpirationDate":"2028-02-30"}}`,
			"itemExpirationDate"},
		{"SSCC commissioned", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sscc:9506000.3000000001"],"action":"ADD","bizStep":"commissioning","ilmd":{"cbvmda:lotNumber":"L1","cbvmda:itemExpirationDate":"2028-01-31"}}`,
			"epcList[0] is not a serialised pack"},
		{"bad SGTIN", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:9506000.013435.A1","urn:epc:id:sgtin:95060.013435.A2"],"action":"ADD","bizStep":"commissioning","ilmd":{"cbvmda:lotNumber":"L1","cbvmda:itemExpirationDate":"2028-01-31"}}`,
			"epcList[1]"},
		{"duplicate serial", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:9506000.013435.A1","https://example.com/01/09506000134352/21/A1"],"action":"ADD","bizStep":"commissioning","ilmd":{"cbvmda:lotNumber":"L1","cbvmda:itemExpirationDate":"2028-01-31"}}`,
			"duplicates serials[0]"},
		{"destination resolved by location", strings.Replace(ship, "9506000000022", "9506000000039", 1) + ``,
			""}, // resolved through the location: accepted (see below)
		{"destination not in directory", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"OBSERVE","bizStep":"shipping","destinationList":[{"type":"location","destination":"urn:epc:id:sgln:9506000.00009.0"}]}`,
			"destination GLN 9506000000091 is not a known PharmaTrace site"},
		{"no destination", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"OBSERVE","bizStep":"shipping"}`,
			"no destinationList"},
		{"two locations", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"OBSERVE","bizStep":"shipping","destinationList":[{"type":"location","destination":"urn:epc:id:sgln:9506000.00002.0"},{"type":"location","destination":"urn:epc:id:sgln:9506000.00003.0"}]}`,
			"two location GLNs"},
		{"unpacking", `{"type":"AggregationEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","parentID":"urn:epc:id:sscc:9506000.3000000001","action":"DELETE","bizStep":"unpacking"}`,
			"no unpacking transaction"},
		{"pallet", `{"type":"AggregationEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","parentID":"urn:epc:id:sscc:9506000.3000000001","childEPCs":["urn:epc:id:sscc:9506000.3000000002"],"action":"ADD","bizStep":"packing"}`,
			"nested aggregation"},
		{"non-SSCC parent", `{"type":"AggregationEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","parentID":"urn:epc:id:sgtin:9506000.013435.A9","childEPCs":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"ADD","bizStep":"packing"}`,
			"parentID is not an SSCC"},
		{"error declaration", `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"ADD","bizStep":"commissioning","errorDeclaration":{"declarationTime":"2026-01-02T00:00:00Z","reason":"incorrect_data"}}`,
			"errorDeclaration"},
		{"not an object", `42`, "not a JSON object"},
		{"no type", `{"eventTime":"2026-01-01T00:00:00Z"}`, "event has no type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := readAll(t, document(c.event), ImportOptions{LookupGLN: lookup})
			if len(ps) != 1 {
				t.Fatalf("%d plans", len(ps))
			}
			p := ps[0]
			if c.reason == "" {
				if p.Rejection != nil {
					t.Fatalf("rejected: %s", p.Rejection.Reason)
				}
				return
			}
			if p.Rejection == nil {
				t.Fatalf("accepted with ops %+v, want rejection %q", p.Ops, c.reason)
			}
			if !strings.Contains(p.Rejection.Reason, c.reason) || len(p.Ops) != 0 || p.Rejection.EventIndex != 0 {
				t.Errorf("rejection %+v, want reason containing %q", p.Rejection, c.reason)
			}
			if c.name != "not an object" && c.name != "no type" && !strings.HasPrefix(p.Rejection.EventID, "ni:///sha-256;") {
				t.Errorf("rejection without event ID: %+v", p.Rejection)
			}
		})
	}
}

func TestImportSplitsLargeCommissioning(t *testing.T) {
	var epcs []string
	for i := range 7 {
		epcs = append(epcs, fmt.Sprintf(`"urn:epc:id:sgtin:9506000.013435.X%d"`, i))
	}
	epcs = append(epcs, `"urn:epc:id:sgtin:9506000.023434.Y1"`) // another GTIN
	ev := `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":[` + strings.Join(epcs, ",") +
		`],"action":"ADD","bizStep":"commissioning","ilmd":{"lotNumber":"L1","itemExpirationDate":"2028-01-31"}}`
	p := readAll(t, document(ev), ImportOptions{MaxSerials: 3})[0]
	if p.Rejection != nil {
		t.Fatal(p.Rejection.Reason)
	}
	var sizes []int
	for k, op := range p.Ops {
		c := op.Request.(*trace.CommissionPacksRequest)
		sizes = append(sizes, len(c.Serials))
		if want := fmt.Sprintf("%s.%d", RequestID(p.EventID), k+1); c.RequestID != want {
			t.Errorf("op %d request ID %s, want %s", k, c.RequestID, want)
		}
	}
	if !slices.Equal(sizes, []int{3, 3, 1, 1}) || p.Ops[3].Request.(*trace.CommissionPacksRequest).GTIN != "09506000234342" {
		t.Errorf("chunks %v", sizes)
	}
}

func TestImportMalformedDocuments(t *testing.T) {
	cases := []struct{ name, doc, err string }{
		{"not an object", `[1,2]`, "an EPCIS document is a JSON object"},
		{"no body", `{"type":"EPCISDocument"}`, "no epcisBody.eventList"},
		{"no event list", `{"type":"EPCISDocument","epcisBody":{}}`, "epcisBody has no eventList"},
		{"wrong type", `{"type":"Foo","epcisBody":{"eventList":[]}}`, "not EPCISDocument"},
		{"truncated", `{"type":"EPCISDocument","epcisBody":{"eventList":[{"type":"ObjectEvent"`, "eventList[0]"},
		{"trailing data", `{"type":"EPCISDocument","epcisBody":{"eventList":[]}} {}`, "unexpected data after the document"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(c.doc), ImportOptions{})
			var err error
			for err == nil {
				_, err = r.Next()
			}
			if err == io.EOF || !strings.Contains(err.Error(), c.err) {
				t.Errorf("error %v, want one containing %q", err, c.err)
			}
		})
	}
}

func TestImportQueryDocumentAndTrailingKeys(t *testing.T) {
	doc := `{"type":"EPCISQueryDocument","schemaVersion":"2.0","epcisBody":{"queryResults":{"queryName":"SimpleEventQuery",
	  "resultsBody":{"eventList":[` + commission + `]},"subscriptionID":"s"}},"@context":"` + StandardContext + `"}`
	ps := readAll(t, doc, ImportOptions{})
	if len(ps) != 1 || ps[0].Rejection != nil {
		t.Fatalf("plans %+v", ps)
	}
	plain := readAll(t, document(commission), ImportOptions{})
	if ps[0].EventID != plain[0].EventID {
		t.Error("the same event hashed differently in a query document")
	}
}

// TestGenerateCommissioning: the generator's documents validate, import
// event by event in order, and give the same request IDs every time.
func TestGenerateCommissioning(t *testing.T) {
	var a, b bytes.Buffer
	if err := GenerateCommissioning(&a, 25, fxGTIN, "LOT-2026-ABCDEFGHIJ", "281231", fxMfr.GLN); err != nil {
		t.Fatal(err)
	}
	if err := GenerateCommissioning(&b, 25, fxGTIN, "LOT-2026-ABCDEFGHIJ", "281231", fxMfr.GLN); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the generator is not deterministic")
	}
	ps := readAll(t, a.String(), ImportOptions{})
	seen := map[string]bool{}
	for i, p := range ps {
		if p.Rejection != nil {
			t.Fatalf("event %d rejected: %s", i, p.Rejection.Reason)
		}
		c := p.Ops[0].Request.(*trace.CommissionPacksRequest)
		if want := fmt.Sprintf("LOT-2026-ABC%08d", i+1); len(c.Serials) != 1 || c.Serials[0] != want || c.Lot != "LOT-2026-ABCDEFGHIJ" || c.Expiry != "281231" {
			t.Errorf("event %d: %+v", i, c)
		}
		if seen[c.RequestID] {
			t.Errorf("request ID %s repeated", c.RequestID)
		}
		seen[c.RequestID] = true
	}
	if len(ps) != 25 {
		t.Errorf("%d events", len(ps))
	}
	for _, bad := range []struct {
		n                      int
		gtin, lot, expiry, gln string
	}{{0, fxGTIN, "L", "281231", fxMfr.GLN}, {1, "123", "L", "281231", fxMfr.GLN}, {1, fxGTIN, "", "281231", fxMfr.GLN},
		{1, fxGTIN, "L", "281331", fxMfr.GLN}, {1, fxGTIN, "L", "281231", "123"}} {
		if err := GenerateCommissioning(io.Discard, bad.n, bad.gtin, bad.lot, bad.expiry, bad.gln); err == nil {
			t.Errorf("GenerateCommissioning%v succeeded", bad)
		}
	}
	if err := validate(t, a.Bytes()); err != nil {
		t.Fatalf("schema: %v", err)
	}
}

// TestImportLargeDocumentStreams reads a 10,000-event document through a
// pipe: the reader never needs the whole document.
func TestImportLargeDocumentStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(GenerateCommissioning(pw, 10000, fxGTIN, "BIG", "281231", fxMfr.GLN)) }()
	r := NewReader(pr, ImportOptions{})
	n := 0
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Rejection != nil {
			t.Fatalf("event %d: %s", p.Index, p.Rejection.Reason)
		}
		n++
	}
	if n != 10000 {
		t.Errorf("%d events", n)
	}
}

func TestReport(t *testing.T) {
	ps := readAll(t, document(commission, `{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","bizStep":"receiving"}`, pack),
		ImportOptions{})
	var rep Report
	for _, p := range ps {
		if rep.Add(p) {
			continue
		}
		if p.Index == 0 {
			rep.Apply(p, "tx-a")
		} else {
			rep.Skip(p, "already applied", "tx-b")
		}
	}
	if a, s, r := rep.Counts(); a != 1 || s != 1 || r != 1 {
		t.Errorf("counts %d %d %d", a, s, r)
	}
	if rep.Rejected[0].EventIndex != 1 || !strings.Contains(rep.Rejected[0].Reason, "nothing to receive") || rep.Applied[0].RequestIDs[0] != RequestID(ps[0].EventID) {
		t.Errorf("report %+v", rep)
	}
	var empty Report
	b, _ := empty.MarshalJSON()
	if string(b) != `{"applied":[],"skipped":[],"rejected":[]}` {
		t.Errorf("empty report JSON %s", b)
	}
}

// TestImportOwnExport plans an exported document: commissioning, packing
// and shipping come back as the ledger requests that produced them (the
// shipment keeps its ID), everything else is rejected with a reason.
func TestImportOwnExport(t *testing.T) {
	for _, form := range []EPCForm{FormSGTIN, FormDigitalLink} {
		doc := exportAll(t, fixtureEvents(), Options{CreationDate: fxCreated, EPCForm: form})
		ps := readAll(t, string(doc), ImportOptions{LookupGLN: lookup})
		var kinds []string
		for _, p := range ps {
			if p.Rejection != nil {
				kinds = append(kinds, "rejected")
				continue
			}
			kinds = append(kinds, p.Ops[0].Transaction)
		}
		want := []string{trace.TxCommissionPacks, trace.TxAggregate, trace.TxShip, trace.TxReceive, trace.TxShip,
			trace.TxReceive, trace.TxDispense, trace.TxDecommission, trace.TxUndo, trace.TxDecommission,
			trace.TxDecommission, trace.TxDecommission}
		if !slices.Equal(kinds, want) {
			t.Fatalf("form %d: plans %v, want %v", form, kinds, want)
		}
		c := ps[0].Ops[0].Request.(*trace.CommissionPacksRequest)
		if c.GTIN != fxGTIN || c.Lot != fxLot || c.Expiry != fxExpiry || len(c.Serials) != 5 {
			t.Errorf("commissioning %+v", c)
		}
		s1 := ps[2].Ops[0].Request.(*trace.ShipRequest)
		s2 := ps[4].Ops[0].Request.(*trace.ShipRequest)
		if s1.ShipmentID != "SH-1" || s1.To != fxDist.Party() || !slices.Equal(s1.SSCCs, []string{fxSSCC}) ||
			s2.ShipmentID != "SH-2" || s2.To != fxPharm.Party() || len(s2.Packs) != 2 {
			t.Errorf("shipping %+v / %+v", s1, s2)
		}
		// Every event happened where the ledger says; the scans replay
		// with the lot and expiry the document commissioned.
		sites := []string{fxMfr.GLN, fxMfr.GLN, fxMfr.GLN, fxDist.GLN, fxDist.GLN, fxPharm.GLN, fxPharm.GLN,
			fxPharm.GLN, fxPharm.GLN, fxMfr.GLN, fxDist.GLN, fxDist.GLN}
		for k, p := range ps {
			if p.Site != sites[k] {
				t.Errorf("event %d (%s): site %q, want %q", k, p.BizStep, p.Site, sites[k])
			}
		}
		r1 := ps[3].Ops[0].Request.(*trace.ReceiveRequest)
		if r1.ShipmentID != "SH-1" || len(r1.Packs) != 4 {
			t.Errorf("receiving %+v", r1)
		}
		d := ps[6].Ops[0].Request.(*trace.ScanRequest)
		if !reflect.DeepEqual(d.Scan, trace.Scan{GTIN: fxGTIN, Serial: "S1", Lot: fxLot, Expiry: fxExpiry}) {
			t.Errorf("dispensing %+v", d.Scan)
		}
		reasons := []trace.Reason{trace.ReasonLocked, "", trace.ReasonDestroyed, trace.ReasonStolen, trace.ReasonExported}
		for k, want := range reasons {
			switch q := ps[7+k].Ops[0].Request.(type) {
			case *trace.DecommissionRequest:
				if q.Reason != want {
					t.Errorf("event %d: reason %q, want %q", 7+k, q.Reason, want)
				}
			case *trace.ScanRequest:
				if want != "" {
					t.Errorf("event %d: undo, want decommissioning %q", 7+k, want)
				}
			}
		}
	}
}
