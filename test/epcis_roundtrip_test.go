//go:build integration

package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/epcis/epcisschema"
	"github.com/pharmatrace/pharmatrace/test/testnet"
	"github.com/pharmatrace/pharmatrace/trace"
)

// TestEPCISRoundTripIntoAFreshNetwork: a pack is commissioned, packed into
// a case, shipped to a wholesaler, received, shipped on to a pharmacy,
// received and dispensed on the main network; its events are exported as
// EPCIS 2.0 (pharmatrace-epcis export, through the API) and imported with
// pharmatrace-epcis import into a second network started empty for the
// test, each event signed by the party of its site. The pack's state and
// its history (every state change: event, state, custodian, transit, case,
// who changed it) match. Importing the document again applies nothing.
// Then a 10,000-event commissioning document is imported twice into the
// fresh network: the second import applies nothing and reports every
// event already applied.
func TestEPCISRoundTripIntoAFreshNetwork(t *testing.T) {
	n := testnet.Get(t)
	mfr := newActor(t, n, "Manufacturer", "mfr-alpha")
	wh := newActor(t, n, "Distributor", "wh-north")
	ph := newActor(t, n, "Pharmacy", "pharm-central")
	const regU = "Regulator/inspector"
	a := startAPI(t, n, regU)

	tag := runTag()
	g := randomGTIN("4012345")
	lot, expiry := "RT"+tag, "301231"
	product := trace.RegisterProductRequest{GTIN: g, Name: "Metformin 850 mg", Form: "tablet", Strength: "850 mg", PackSize: 30}
	product.RequestHeader = header()
	wantOutcome(t, "register product", submit[trace.ProductResult](t, mfr, "RegisterProduct", product).Outcome, trace.StatusOK, "")
	serials := []string{"RT" + tag + "A", "RT" + tag + "B"}
	wantOutcome(t, "commission", submit[trace.CommissionPacksResult](t, mfr, "CommissionPacks", trace.CommissionPacksRequest{
		RequestHeader: header(), GTIN: g, Lot: lot, Expiry: expiry, Serials: serials}).Outcome, trace.StatusOK, "")
	case1 := sscc("4012345", rand.IntN(1e9))
	wantOutcome(t, "aggregate", submit[trace.AggregateResult](t, mfr, "Aggregate", trace.AggregateRequest{
		RequestHeader: header(), SSCC: case1, Packs: refs(g, serials...)}).Outcome, trace.StatusOK, "")
	asn1, asn2 := "ASN-RT-"+tag+"-1", "ASN-RT-"+tag+"-2"
	wantOutcome(t, "ship to the wholesaler", submit[trace.ShipmentResult](t, mfr, "Ship", trace.ShipRequest{
		RequestHeader: header(), ShipmentID: asn1, To: wh.party(), SSCCs: []string{case1}}).Outcome, trace.StatusOK, "")
	wantOutcome(t, "receive at the wholesaler", submit[trace.ReceiveResult](t, wh, "Receive", trace.ReceiveRequest{
		RequestHeader: header(), ShipmentID: asn1, SSCCs: []string{case1}}).Outcome, trace.StatusOK, "")
	wantOutcome(t, "ship to the pharmacy", submit[trace.ShipmentResult](t, wh, "Ship", trace.ShipRequest{
		RequestHeader: header(), ShipmentID: asn2, To: ph.party(), SSCCs: []string{case1}}).Outcome, trace.StatusOK, "")
	wantOutcome(t, "receive at the pharmacy", submit[trace.ReceiveResult](t, ph, "Receive", trace.ReceiveRequest{
		RequestHeader: header(), ShipmentID: asn2, SSCCs: []string{case1}}).Outcome, trace.StatusOK, "")
	pack := trace.Scan{GTIN: g, Serial: serials[0], Lot: lot, Expiry: expiry}
	wantOutcome(t, "dispense", submit[trace.ScanResult](t, ph, "Dispense", trace.ScanRequest{RequestHeader: header(), Scan: pack}).Outcome, trace.StatusOK, "")

	// Export the pack's events once the API's read model has them all.
	dir := t.TempDir()
	doc := filepath.Join(dir, "pack.jsonld")
	want := "commissioning,packing,shipping,receiving,shipping,receiving,dispensing"
	testnet.Eventually(t, 120*time.Second, "the pack's seven events in the export", func() error {
		if out, err := epcisCmd(n, nil, "export", "-api", a.url, "-token", a.tokens[regU], "-gtin", g, "-serial", pack.Serial, "-o", doc); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		b, err := os.ReadFile(doc)
		if err != nil {
			return err
		}
		if got := strings.Join(bizSteps(t, b), ","); got != want {
			return fmt.Errorf("bizSteps %s, want %s", got, want)
		}
		return nil
	})
	exported, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the export validates against the EPCIS 2.0 schema", func(t *testing.T) {
		if err := epcisschema.Validate(t, exported); err != nil { // skips without ../shared/epcis
			t.Fatalf("the export is not valid EPCIS 2.0: %v", err)
		}
	})

	// A second network, empty. Product master data is not part of EPCIS
	// events: the manufacturer registers the product there first.
	start := time.Now()
	fresh := testnet.Fresh(t, 1000)
	t.Logf("fresh network up in %s", time.Since(start).Round(time.Millisecond))
	fmfr := newActor(t, fresh, "Manufacturer", "mfr-alpha")
	product.RequestHeader = header()
	wantOutcome(t, "register product on the fresh network", submit[trace.ProductResult](t, fmfr, "RegisterProduct", product).Outcome, trace.StatusOK, "")

	spec := filepath.Join(fresh.Dir, "network.yaml")
	imp := func(what, file string) importReport {
		t.Helper()
		start := time.Now()
		rep := filepath.Join(dir, what+".report.json")
		out, err := epcisCmd(fresh, nil, "import", "-spec", spec, "-run", fresh.Dir, "-report", rep, file)
		if err != nil {
			t.Fatalf("import %s: %v\n%s", what, err, tailLines(out, 30))
		}
		var r importReport
		b, err := os.ReadFile(rep)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		t.Logf("import %s: applied %d, skipped %d, rejected %d in %s", what, r.Applied, r.Skipped, r.Rejected, time.Since(start).Round(time.Millisecond))
		return r
	}
	if r := imp("pack", doc); r.Applied != 7 || r.Skipped != 0 || r.Rejected != 0 {
		t.Fatalf("round trip import: %+v", r)
	}

	// The pack's state and history on both networks.
	fph := newActor(t, fresh, "Pharmacy", "pharm-central")
	ref := trace.PackQuery{GTIN: g, Serial: pack.Serial}
	var orig, copied trace.GetPackResult
	testnet.Eventually(t, 20*time.Second, "the imported pack at the pharmacy's peer", func() error {
		if err := fph.evalErr("GetPack", ref, &copied); err != nil {
			return err
		}
		if copied.Pack.State != trace.StateInactive {
			return fmt.Errorf("state %s", copied.Pack.State)
		}
		return nil
	})
	orig = evaluate[trace.GetPackResult](t, ph, "GetPack", ref)
	if a, b := factsOf(orig.Pack), factsOf(copied.Pack); !reflect.DeepEqual(a, b) {
		t.Errorf("pack state differs:\n main  %+v\n fresh %+v", a, b)
	}
	// The ledger keeps no key history of private records: each network's
	// history is its regulator's events (history_test.go).
	a1, a2 := historyOf(packHistories(t, n, g)[pack.Serial]), historyOf(packHistories(t, fresh, g)[pack.Serial])
	if !reflect.DeepEqual(a1, a2) {
		t.Errorf("pack history differs:\n main  %s\n fresh %s", js(a1), js(a2))
	}
	t.Logf("pack history (%d entries) matches: %s", len(a1), js(a1))
	if r := imp("pack again", doc); r.Applied != 0 || r.Skipped != 7 || r.Rejected != 0 {
		t.Fatalf("second round trip import: %+v", r)
	}

	// 10,000 commissioning events (one pack each), imported twice.
	const count = 10_000
	bulk := filepath.Join(dir, "bulk.jsonld")
	bulkLot := "BK" + tag
	if out, err := epcisCmd(n, nil, "generate", "-n", fmt.Sprint(count), "-gtin", g, "-lot", bulkLot, "-expiry", expiry, "-gln", mfr.gln, "-o", bulk); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	if r := imp("10,000 events", bulk); r.Applied != count || r.Skipped != 0 || r.Rejected != 0 {
		t.Fatalf("first import: applied %d, skipped %d, rejected %d", r.Applied, r.Skipped, r.Rejected)
	}
	r := imp("10,000 events again", bulk)
	if r.Applied != 0 || r.Skipped != count || r.Rejected != 0 || len(r.Events.Skipped) != count {
		t.Fatalf("second import: applied %d, skipped %d, rejected %d", r.Applied, r.Skipped, r.Rejected)
	}
	for k, e := range r.Events.Skipped {
		if e.EventIndex != k || e.Message != "already applied" {
			t.Fatalf("second import, event %d: %+v", k, e)
		}
	}
	l := evaluate[trace.GetLotResult](t, fmfr, "GetLot", trace.LotQuery{GTIN: g, Lot: bulkLot})
	if l.Lot.PackCount != count {
		t.Errorf("the imported lot has %d packs, want %d", l.Lot.PackCount, count)
	}
}

// importReport is pharmatrace-epcis import's JSON report.
type importReport struct {
	Applied, Skipped, Rejected int
	Events                     struct {
		Skipped []struct {
			EventIndex int    `json:"eventIndex"`
			Message    string `json:"message"`
		} `json:"skipped"`
		Rejected json.RawMessage `json:"rejected"`
	}
}

// evalErr evaluates a query and returns its error.
func (a *actor) evalErr(fn string, req, res any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.cl.Evaluate(ctx, fn, req, res)
}

// packFacts is what a replayed history must reproduce of a pack record:
// everything but transaction IDs and timestamps.
type packFacts struct {
	LastEvent      string
	State          trace.PackState
	Reason         trace.Reason
	Lot, Expiry    string
	Custodian      trace.Party
	Transit        *trace.Transit
	SSCC           string
	StateChangedBy trace.Party
}

func factsOf(p trace.Pack) packFacts {
	return packFacts{p.LastEvent, p.State, p.Reason, p.Lot, p.Expiry, p.Custodian, p.Transit, p.SSCC, p.StateChangedBy}
}

func historyOf(h []packVersion) []packFacts {
	var out []packFacts
	for _, v := range h {
		out = append(out, factsOf(v.Pack))
	}
	return out
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

// epcisCmd runs bin/pharmatrace-epcis and returns its combined output.
func epcisCmd(n *testnet.Network, env []string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(n.Root, "bin", "pharmatrace-epcis"), args...)
	cmd.Dir = n.Root
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = fmt.Errorf("exit status %d", ee.ExitCode())
	}
	return out.String(), err
}
