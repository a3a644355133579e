//go:build integration

package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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
	var lotRes trace.Lot
	if err := json.Unmarshal(a.must(regU, "GET", "/api/v1/lots/"+g+"/I"+tag, nil, http.StatusOK), &lotRes); err != nil {
		t.Fatal(err)
	}
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
