package chaincode_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/chaincode"
	"github.com/pharmatrace/pharmatrace/internal/ledgertest"
	"github.com/pharmatrace/pharmatrace/trace"
)

// holderToCustodian is the migration of a layout the tests pretend once
// existed: pack records that kept their custodian under "holder". It counts
// the records it was handed, by kind.
type holderToCustodian map[string]int

func (m holderToCustodian) up(kind string, rec map[string]json.RawMessage) error {
	m[kind]++
	if kind != "pack" {
		return nil
	}
	if h, ok := rec["holder"]; ok {
		rec["custodian"] = h
		delete(rec, "holder")
	}
	return nil
}

// An upgrade on a live ledger: contract N writes packs, a shipment,
// anomalies and request records; contract N+1, which writes the next
// record layout, takes over the same ledger. Every earlier pack verifies
// with the same answer, records of the old layout (even in a shape N+1's
// structs no longer have) are migrated when read and stored in the new
// layout when next written, earlier requests replay their original
// outcome, every record says which contract applied it, and contract N
// refuses a record of N+1's layout instead of misreading it.
func TestUpgradeMigratesRecordsLazily(t *testing.T) {
	cfgN := testConfig()
	cfgN.BuildID = "00000000000a"
	n := newNetWith(t, cfgN)
	ccN := n.cc

	// Ledger of version N.
	n.registerProduct(mfgA, gtinA)
	serials := []string{"U1", "U2", "U3", "U4", "U5", "U6"}
	n.commission(mfgA, gtinA, "L1", expiry, serials...)
	n.ship(mfgA, wh1, "SH1", refs(gtinA, "U1", "U2"))
	n.receive(wh1, "SH1", refs(gtinA, "U1", "U2"))
	dispenseReq := trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, Scan: scan(gtinA, "U3", "L1", expiry)}
	first := ok[trace.ScanResult](n, ph1, "Dispense", dispenseReq) // held by the manufacturer: CUSTODY_MISMATCH
	clone := n.scanTx(ph2, "Dispense", scan(gtinA, "U3", "L1", expiry))
	wantOutcome(t, clone.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	unknown := n.scanTx(ph1, "Dispense", scan(gtinA, "NOPE", "L1", expiry))
	wantOutcome(t, unknown.Outcome, trace.StatusRefused, trace.CodeUnknownSerial)
	if _, ev := n.lastEvent(); ev.Contract != "1.1.0+00000000000a" {
		t.Fatalf("event of N says contract %q", ev.Contract)
	}

	answers := func() map[string]string {
		out := map[string]string{}
		for _, s := range append(serials, "NOPE") {
			out["verify "+s] = string(n.evaluate(ph1, "Verify", trace.VerifyRequest{Scan: scan(gtinA, s, "L1", expiry)}).Payload)
			out["pack "+s] = string(n.evaluate(reg, "GetPack", trace.PackQuery{GTIN: gtinA, Serial: s}).Payload)
		}
		out["shipment"] = string(n.evaluate(reg, "GetShipment", trace.ShipmentQuery{ID: "SH1"}).Payload)
		out["anomalies"] = string(n.evaluate(reg, "ListAnomalies", trace.ListAnomaliesQuery{}).Payload)
		out["lot"] = string(n.evaluate(mfgA, "GetLot", trace.LotQuery{GTIN: gtinA, Lot: "L1"}).Payload)
		return out
	}
	before := answers()

	// A pack record in the shape of the pretended old layout.
	packKey := ledgertest.PrivateKey(trace.Collection("ManufacturerMSP"), chaincode.PackKeyFor(testCollectionKey, gtinA, "U5"))
	old := n.l.Get(packKey)
	if old == nil || !bytes.Contains(old, []byte(`"custodian":`)) {
		t.Fatalf("pack record %q", old)
	}
	n.l.Put(packKey, bytes.Replace(old, []byte(`"custodian":`), []byte(`"holder":`), 1))

	// Upgrade: contract N+1 writes layout StateLayout()+1.
	mig := holderToCustodian{}
	cfgN1 := testConfig()
	cfgN1.BuildID, cfgN1.Clock = "00000000000b", n.l.Now
	ccN1, err := chaincode.NewWithMigrations(cfgN1, mig.up)
	if err != nil {
		t.Fatal(err)
	}
	n.cc = ccN1
	newLayout := chaincode.StateLayout() + 1

	after := answers()
	for k, want := range before {
		if after[k] != want {
			t.Errorf("%s after the upgrade:\n got %s\nwant %s", k, after[k], want)
		}
	}
	if mig["pack"] == 0 || mig["shipment"] == 0 || mig["anomaly"] == 0 || mig["lot"] == 0 {
		t.Errorf("records migrated on read, by kind: %v; want packs, lots, shipments and anomalies", mig)
	}
	if p := n.getPack(reg, gtinA, "U5"); p.Custodian != party(mfgA) {
		t.Fatalf("U5 of the old layout read as custodian %+v, want %+v", p.Custodian, party(mfgA))
	}

	// The replay of a request N applied returns N's outcome, unchanged.
	if again := ok[trace.ScanResult](n, ph1, "Dispense", dispenseReq); mustJSON(t, again) != mustJSON(t, first) {
		t.Fatalf("replay under N+1 = %+v, want N's %+v", again, first)
	}
	gr := query[trace.GetRequestResult](n, ph1, "GetRequest", trace.RequestQuery{RequestID: dispenseReq.RequestID})
	if gr.Request.Contract != "1.1.0+00000000000a" {
		t.Fatalf("request applied by N records contract %q", gr.Request.Contract)
	}

	// The next write stores U5 in the new layout, with no old member left.
	d := n.scanTx(ph1, "Dispense", scan(gtinA, "U5", "L1", expiry))
	wantOutcome(t, d.Outcome, trace.StatusOK, "")
	stored := n.l.Get(packKey)
	marker := fmt.Sprintf(`{"layout":%d,"gtin":`, newLayout)
	if !bytes.HasPrefix(stored, []byte(marker)) || bytes.Contains(stored, []byte(`"holder"`)) {
		t.Fatalf("U5 after a write under N+1: %s; want it to begin %s and have no holder", stored, marker)
	}
	if _, ev := n.lastEvent(); ev.Contract != "1.1.0+00000000000b" {
		t.Fatalf("event of N+1 says contract %q", ev.Contract)
	}
	coll := trace.Collection("ManufacturerMSP")
	reqs := n.l.Keys(ledgertest.PrivateKey(coll, "\x00req\x00"), ledgertest.PrivateKey(coll, "\x00req\x01"))
	if r := n.l.Get(reqs[len(reqs)-1]); !bytes.HasPrefix(r, []byte(fmt.Sprintf(`{"layout":%d,`, newLayout))) {
		t.Fatalf("request record written by N+1: %.80s", r)
	}
	pack := n.getPack(reg, gtinA, "U5")
	if pack.State != trace.StateInactive || pack.Custodian != party(ph1) {
		t.Fatalf("U5 read back under N+1: %+v", pack)
	}
	// An endorser still running N refuses N+1's record instead of
	// misreading it.
	n.cc = ccN
	r := n.evaluate(ph1, "Verify", trace.VerifyRequest{Scan: scan(gtinA, "U5", "L1", expiry)})
	if r.OK() || !strings.Contains(r.Message, fmt.Sprintf("record layout %d", newLayout)) || !strings.Contains(r.Message, "newer contract") {
		t.Fatalf("N reading N+1's record: status %d %q; want a refusal naming the layout", r.Status, r.Message)
	}
	// Records N+1 only read are still N's layout: N reads them.
	if r := n.evaluate(ph1, "Verify", trace.VerifyRequest{Scan: scan(gtinA, "U6", "L1", expiry)}); !r.OK() {
		t.Fatalf("N reading an untouched record: %s", r.Message)
	}
}

// The probe reports which contract runs, to any member.
func TestProbeVersion(t *testing.T) {
	cfg := testConfig()
	cfg.BuildID, cfg.PackageID = "0123456789ab", "pharmatrace_"+chaincode.Version+"_0123456789ab:ffff"
	n := newNetWith(t, cfg)
	r := n.l.Evaluate(n.cc, probeProposal(t, ph1, "probe:Version"))
	if !r.OK() {
		t.Fatalf("probe:Version as a pharmacist: %s", r.Message)
	}
	var info trace.ContractInfo
	if err := json.Unmarshal(r.Payload, &info); err != nil {
		t.Fatal(err)
	}
	want := trace.ContractInfo{Version: chaincode.Version, Build: "0123456789ab", Definition: chaincode.Version + "+0123456789ab",
		StateLayout: chaincode.StateLayout(), PackageID: cfg.PackageID}
	if info != want {
		t.Fatalf("probe:Version = %+v, want %+v", info, want)
	}
	if r := n.l.Evaluate(n.cc, probeProposal(t, strangerM, "probe:Version")); r.OK() {
		t.Fatal("probe:Version answered an MSP outside the consortium")
	}
	// contractapi builds the chaincode-level info before New can set it;
	// each contract's info carries the version.
	var md struct {
		Contracts map[string]struct {
			Info struct{ Version string } `json:"info"`
		} `json:"contracts"`
	}
	r = n.l.Evaluate(n.cc, ledgertest.Proposal{Identity: identity(t, ph1), Function: "org.hyperledger.fabric:GetMetadata"})
	if err := json.Unmarshal(r.Payload, &md); err != nil || md.Contracts[trace.ContractName].Info.Version != chaincode.Version {
		t.Fatalf("metadata contracts.%s.info.version = %q (%v), want %s", trace.ContractName, md.Contracts[trace.ContractName].Info.Version, err, chaincode.Version)
	}
}

func TestParseLabel(t *testing.T) {
	b := chaincode.CurrentBuild("0123456789ab")
	got, err := chaincode.ParseLabel(b.Label())
	if err != nil || got != b {
		t.Fatalf("ParseLabel(%s) = %+v, %v", b.Label(), got, err)
	}
	for _, bad := range []string{"pharmatrace_1", "pharmatrace_1.1.0_0123", "pharmatrace_1.1.0_0123456789AB", "other_1.1.0_0123456789ab"} {
		if _, err := chaincode.ParseLabel(bad); err == nil {
			t.Errorf("ParseLabel(%s) accepted", bad)
		}
	}
	if err := b.CheckPackageID(b.Label() + ":abc"); err != nil {
		t.Fatal(err)
	}
}
