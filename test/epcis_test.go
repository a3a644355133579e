//go:build integration

package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/epcis"
	"github.com/pharmatrace/pharmatrace/epcis/epcisschema"
	"github.com/pharmatrace/pharmatrace/test/testnet"
	"github.com/pharmatrace/pharmatrace/trace"
)

// EPCIS 2.0 on the real network: a pack's commission-ship-receive-dispense
// history exports from the API's read model as a document that passes the
// official EPCIS JSON Schema, and a generated commissioning document
// imports through the API (each event a ledger write signed by the
// manufacturer), the second time with every event skipped.
func TestEPCISOnRealNetwork(t *testing.T) {
	n := testnet.Get(t)
	const mfrU, phU, regU = "Manufacturer/mfr-alpha", "Pharmacy/pharm-central", "Regulator/inspector"
	a := startAPI(t, n, mfrU, phU, regU)
	tag := runTag()
	g, lot := randomGTIN("4012345"), "E"+tag
	a.must(mfrU, "POST", "/api/v1/products", trace.RegisterProductRequest{GTIN: g, Name: "Amoxicillin 500 mg", Form: "capsule", Strength: "500 mg", PackSize: 12}, http.StatusOK)

	serials := []string{"E" + tag + "A", "E" + tag + "B"}
	a.must(mfrU, "PUT", "/api/v1/lots/"+g+"/"+lot+"/commissions/up-"+tag+"?expiry=301231&wait=true", "serial\n"+strings.Join(serials, "\n")+"\n", http.StatusOK)
	ph, err := n.User("Pharmacy", "pharm-central")
	if err != nil {
		t.Fatal(err)
	}
	asn := "ASN-EPCIS-" + tag
	a.must(mfrU, "POST", "/api/v1/shipments", trace.ShipRequest{ShipmentID: asn, To: trace.Party{MSP: ph.MSPID, GLN: ph.GLN}, Packs: refs(g, serials...)}, http.StatusOK)
	testnet.Eventually(t, 10*time.Second, "receipt through the API", func() error {
		if code, out := a.do(phU, "POST", "/api/v1/shipments/"+asn+"/receive", map[string]any{"packs": refs(g, serials...)}); code != http.StatusOK {
			return fmt.Errorf("%d %s", code, out)
		}
		return nil
	})
	central := newActor(t, n, "Pharmacy", "pharm-central")
	d := submit[trace.ScanResult](t, central, "Dispense", trace.ScanRequest{RequestHeader: header(), Scan: trace.Scan{GTIN: g, Serial: serials[0], Lot: lot, Expiry: "301231"}})
	wantOutcome(t, "dispense", d.Outcome, trace.StatusOK, "")

	// Export the pack once the API's read model has caught up.
	want := "commissioning,shipping,receiving,dispensing"
	var doc []byte
	testnet.Eventually(t, 120*time.Second, "the pack's events in the export", func() error {
		q := url.Values{"gtin": {g}, "serial": {serials[0]}}
		code, out := a.raw(regU, "GET", "/api/v1/epcis/events?"+q.Encode(), "", nil)
		if code != http.StatusOK {
			return fmt.Errorf("%d %.300s", code, out)
		}
		if got := strings.Join(bizSteps(t, out), ","); got != want {
			return fmt.Errorf("bizSteps %s, want %s", got, want)
		}
		doc = out
		return nil
	})
	t.Run("the export validates against the EPCIS 2.0 schema", func(t *testing.T) {
		if err := validateEPCIS(t, doc); err != nil { // skips without ../shared/epcis
			t.Fatalf("the exported document is not valid EPCIS 2.0: %v\n%.3000s", err, doc)
		}
	})
	if !bytes.Contains(doc, []byte("urn:epc:id:sgtin:4012345.")) || !bytes.Contains(doc, []byte("urn:pharmatrace:shipment:"+asn)) {
		t.Errorf("the export lacks the pack's SGTIN or the shipment: %.2000s", doc)
	}

	// Import a generated commissioning document twice.
	const count = 200
	var gen bytes.Buffer
	mfr, err := n.User("Manufacturer", "mfr-alpha")
	if err != nil {
		t.Fatal(err)
	}
	if err := epcis.GenerateCommissioning(&gen, count, g, "I"+tag, "301231", mfr.GLN); err != nil {
		t.Fatal(err)
	}
	type report struct {
		Applied, Skipped, Rejected int
		Events                     json.RawMessage
	}
	imp := func() report {
		t.Helper()
		start := time.Now()
		code, out := a.raw(mfrU, "POST", "/api/v1/epcis/import", "application/ld+json", gen.Bytes())
		if code != http.StatusOK {
			t.Fatalf("import: %d %.2000s", code, out)
		}
		var r report
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatal(err)
		}
		t.Logf("import of %d events: applied %d, skipped %d, rejected %d in %s", count, r.Applied, r.Skipped, r.Rejected, time.Since(start).Round(time.Millisecond))
		if r.Rejected != 0 {
			t.Fatalf("rejected events: %.2000s", r.Events)
		}
		return r
	}
	if r := imp(); r.Applied != count || r.Skipped != 0 {
		t.Fatalf("first import: applied %d, skipped %d, want %d applied", r.Applied, r.Skipped, count)
	}
	if r := imp(); r.Applied != 0 || r.Skipped != count {
		t.Fatalf("second import: applied %d, skipped %d, want %d skipped", r.Applied, r.Skipped, count)
	}
	// The regulator reads through its own organisation's peer, which may
	// commit the manufacturer's last block a moment later.
	var lotRes trace.Lot
	testnet.Eventually(t, 10*time.Second, "the imported lot visible to the regulator", func() error {
		code, out := a.do(regU, "GET", "/api/v1/lots/"+g+"/I"+tag, nil)
		if code != http.StatusOK {
			return fmt.Errorf("%d %.200s", code, out)
		}
		return json.Unmarshal(out, &lotRes)
	})
	if lotRes.PackCount != count {
		t.Errorf("the imported lot has %d packs, want %d", lotRes.PackCount, count)
	}
}

func bizSteps(t *testing.T, doc []byte) []string {
	t.Helper()
	var d struct {
		EPCISBody struct {
			EventList []struct {
				BizStep string `json:"bizStep"`
			} `json:"eventList"`
		} `json:"epcisBody"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("export: %v: %.300s", err, doc)
	}
	var out []string
	for _, e := range d.EPCISBody.EventList {
		out = append(out, e.BizStep)
	}
	return out
}

// validateEPCIS checks a document against the official EPCIS 2.0 JSON
// Schema in ../shared/epcis, offline.
func validateEPCIS(t *testing.T, doc []byte) error { return epcisschema.Validate(t, doc) }

// An import through the operators' CLI (each event signed by its site
// through package gateway) with one event the chaincode refuses — a pack
// listed loose and inside the SSCC it ships in — rejects that event with
// the chaincode's reason and applies the rest: the refusal reaches the
// importer as the chaincode's typed error, not as a failure that stops
// the import.
func TestEPCISCLIImportRejectsTheEventTheChaincodeRefuses(t *testing.T) {
	n := testnet.Get(t)
	mfr := newActor(t, n, "Manufacturer", "mfr-alpha")
	wh := newActor(t, n, "Distributor", "wh-north")
	tag := runTag()
	g, lot := randomGTIN("4012345"), "CL"+tag
	product := trace.RegisterProductRequest{RequestHeader: header(), GTIN: g, Name: "Ibuprofen 400 mg", Form: "tablet", Strength: "400 mg", PackSize: 20}
	wantOutcome(t, "register product", submit[trace.ProductResult](t, mfr, "RegisterProduct", product).Outcome, trace.StatusOK, "")

	must := func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	epc := func(serial string) string { return must(epcis.SGTIN(g, serial, 7)) }
	caseID := sscc("4012345", rand.IntN(1e9))
	site := must(epcis.SGLN(mfr.gln, 7))
	where := fmt.Sprintf(`"readPoint":{"id":%q},"bizLocation":{"id":%q}`, site, site)
	dest := fmt.Sprintf(`"destinationList":[{"type":"location","destination":%q}]`, must(epcis.SGLN(wh.gln, 7)))
	a, b, c := "CL"+tag+"A", "CL"+tag+"B", "CL"+tag+"C"
	events := []string{
		fmt.Sprintf(`{"type":"ObjectEvent","eventTime":"2026-01-02T10:00:00Z","eventTimeZoneOffset":"+00:00","epcList":[%q,%q,%q],
		 "action":"ADD","bizStep":"commissioning","disposition":"active",%s,"ilmd":{"cbvmda:lotNumber":%q,"cbvmda:itemExpirationDate":"2030-12-31"}}`,
			epc(a), epc(b), epc(c), where, lot),
		fmt.Sprintf(`{"type":"AggregationEvent","eventTime":"2026-01-02T11:00:00Z","eventTimeZoneOffset":"+00:00","parentID":%q,
		 "childEPCs":[%q,%q],"action":"ADD","bizStep":"packing",%s}`, must(epcis.SSCC(caseID, 7)), epc(a), epc(b), where),
		// Refused by the chaincode: pack a is loose and in the case.
		fmt.Sprintf(`{"type":"ObjectEvent","eventTime":"2026-01-03T10:00:00Z","eventTimeZoneOffset":"+00:00","epcList":[%q,%q],
		 "action":"OBSERVE","bizStep":"shipping","disposition":"in_transit",%s,%s}`, must(epcis.SSCC(caseID, 7)), epc(a), where, dest),
		fmt.Sprintf(`{"type":"ObjectEvent","eventTime":"2026-01-03T10:05:00Z","eventTimeZoneOffset":"+00:00","epcList":[%q],
		 "action":"OBSERVE","bizStep":"shipping","disposition":"in_transit",%s,%s}`, epc(c), where, dest),
	}
	doc := `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0",
	 "creationDate":"2026-01-04T00:00:00Z","epcisBody":{"eventList":[` + strings.Join(events, ",") + `]}}`
	dir := t.TempDir()
	file, rep := filepath.Join(dir, "refused.jsonld"), filepath.Join(dir, "refused.report.json")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := epcisCmd(n, nil, "import", "-spec", filepath.Join(n.Dir, "network.yaml"), "-run", n.Dir, "-report", rep, file)
	if err == nil || err.Error() != "exit status 3" {
		t.Fatalf("import: %v (want exit status 3: some event rejected)\n%s", err, tailLines(out, 30))
	}
	var r importReport
	if b, err := os.ReadFile(rep); err != nil {
		t.Fatalf("no report: %v\n%s", err, tailLines(out, 30))
	} else if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	var rejected []struct {
		EventIndex int    `json:"eventIndex"`
		Reason     string `json:"reason"`
	}
	if err := json.Unmarshal(r.Events.Rejected, &rejected); err != nil {
		t.Fatal(err)
	}
	t.Logf("import: applied %d, skipped %d, rejected %d: %+v", r.Applied, r.Skipped, r.Rejected, rejected)
	if r.Applied != 3 || r.Rejected != 1 || len(rejected) != 1 || rejected[0].EventIndex != 2 ||
		!strings.Contains(rejected[0].Reason, "also in SSCC "+caseID) {
		t.Fatalf("want events 0, 1, 3 applied and event 2 rejected for the pack also in the SSCC; got %+v\n%s", r, tailLines(out, 30))
	}
	// The ledger: c is in transit, a and b are still in their case at the
	// manufacturer.
	for serial, want := range map[string]trace.PackState{a: trace.StateActive, b: trace.StateActive, c: trace.StateInTransit} {
		p := evaluate[trace.GetPackResult](t, mfr, "GetPack", trace.PackQuery{GTIN: g, Serial: serial})
		if p.Pack.State != want {
			t.Errorf("pack %s: state %s, want %s", serial, p.Pack.State, want)
		}
	}
}
