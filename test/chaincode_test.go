//go:build integration

package test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/test/testnet"
	"github.com/pharmatrace/pharmatrace/trace"
)

// TestPackLifecycleOnRealNetwork is the chaincode's acceptance scenario on
// the real consortium, every step as a CA-enrolled user of the org that
// would really do it.
func TestPackLifecycleOnRealNetwork(t *testing.T) {
	n := testnet.Get(t)
	mfr := newActor(t, n, "Manufacturer", "mfr-alpha")
	whN := newActor(t, n, "Distributor", "wh-north")
	whS := newActor(t, n, "Distributor", "wh-south")
	ph1 := newActor(t, n, "Pharmacy", "pharm-central")
	ph2 := newActor(t, n, "Pharmacy", "pharm-station")
	reg := newActor(t, n, "Regulator", "inspector")

	tag := runTag()
	g := randomGTIN("4012345")
	lot, expiry := "L"+tag, "301231"
	reg0 := submit[trace.ProductResult](t, mfr, "RegisterProduct", trace.RegisterProductRequest{RequestHeader: header(),
		GTIN: g, Name: "Amoxicillin 500 mg", Form: "capsule", Strength: "500 mg", PackSize: 20})
	if !reg0.OK() {
		t.Logf("RegisterProduct %s: %s %s (a previous run registered it)", g, reg0.Code, reg0.Message)
	}

	// Commission a lot of 1,000 serials in one transaction.
	serials := make([]string, 1000)
	for i := range serials {
		serials[i] = fmt.Sprintf("S%s%04d", tag, i)
	}
	start := time.Now()
	c := submit[trace.CommissionPacksResult](t, mfr, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: header(),
		GTIN: g, Lot: lot, Expiry: expiry, Serials: serials})
	wantOutcome(t, "commission", c.Outcome, trace.StatusOK, "")
	if c.Commissioned != 1000 {
		t.Fatalf("commissioned %d, want 1000", c.Commissioned)
	}
	t.Logf("CommissionPacks of 1,000 serials committed in %s", time.Since(start).Round(time.Millisecond))

	// Aggregate into an SSCC; ship to a distributor; receive.
	case1 := sscc("4012345", rand.IntN(1e9))
	agg := submit[trace.AggregateResult](t, mfr, "Aggregate", trace.AggregateRequest{RequestHeader: header(), SSCC: case1, Packs: refs(g, serials[:10]...)})
	wantOutcome(t, "aggregate", agg.Outcome, trace.StatusOK, "")
	asn1, asn2 := "ASN-"+tag+"-1", "ASN-"+tag+"-2"
	sh := submit[trace.ShipmentResult](t, mfr, "Ship", trace.ShipRequest{RequestHeader: header(), ShipmentID: asn1, To: whN.party(), SSCCs: []string{case1}})
	wantOutcome(t, "ship to distributor", sh.Outcome, trace.StatusOK, "")
	rc := submit[trace.ReceiveResult](t, whN, "Receive", trace.ReceiveRequest{RequestHeader: header(), ShipmentID: asn1, SSCCs: []string{case1}})
	wantOutcome(t, "receive at warehouse", rc.Outcome, trace.StatusOK, "")
	if rc.Received != 10 || len(rc.Outcome.Anomalies) != 0 {
		t.Fatalf("warehouse receipt: received %d, anomalies %v", rc.Received, rc.Outcome.Anomalies)
	}

	// Ship to a pharmacy; receive; verify; dispense → OK.
	sh = submit[trace.ShipmentResult](t, whN, "Ship", trace.ShipRequest{RequestHeader: header(), ShipmentID: asn2, To: ph1.party(), SSCCs: []string{case1}})
	wantOutcome(t, "ship to pharmacy", sh.Outcome, trace.StatusOK, "")
	rc = submit[trace.ReceiveResult](t, ph1, "Receive", trace.ReceiveRequest{RequestHeader: header(), ShipmentID: asn2, SSCCs: []string{case1}})
	wantOutcome(t, "receive at pharmacy", rc.Outcome, trace.StatusOK, "")
	scan := func(i int) trace.Scan { return trace.Scan{GTIN: g, Serial: serials[i], Lot: lot, Expiry: expiry} }
	v := evaluate[trace.VerifyResult](t, ph1, "Verify", trace.VerifyRequest{Scan: scan(0)})
	wantOutcome(t, "verify", v.Outcome, trace.StatusOK, "")
	d := submit[trace.ScanResult](t, ph1, "Dispense", trace.ScanRequest{RequestHeader: header(), Scan: scan(0)})
	wantOutcome(t, "dispense", d.Outcome, trace.StatusOK, "")

	// The same pack dispensed at a second pharmacy site → A24, and a
	// committed clone anomaly that the regulator sees.
	d = submit[trace.ScanResult](t, ph2, "Dispense", trace.ScanRequest{RequestHeader: header(), Scan: scan(0)})
	wantOutcome(t, "second dispense", d.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	if len(d.Outcome.Anomalies) == 0 {
		t.Fatal("second dispense recorded no anomaly")
	}
	a := evaluate[trace.GetAnomalyResult](t, reg, "GetAnomaly", trace.AnomalyQuery{ID: d.Outcome.Anomalies[0]}).Anomaly
	if a.Code != trace.AnomalyClone || a.Classification != trace.ClassCounterfeit || a.Site != ph2.gln {
		t.Fatalf("regulator sees anomaly %+v, want a probable-counterfeit CLONE at %s", a, ph2.gln)
	}

	// Undo: within 10 days by the same site works; from another site, or
	// more than 10 days later, it is refused.
	for _, i := range []int{1, 2} {
		wantOutcome(t, "dispense for undo", submit[trace.ScanResult](t, ph1, "Dispense", trace.ScanRequest{RequestHeader: header(), Scan: scan(i)}).Outcome, trace.StatusOK, "")
	}
	u := submit[trace.ScanResult](t, ph1, "Undo", trace.ScanRequest{RequestHeader: header(), Scan: scan(2)})
	wantOutcome(t, "undo by same site within 10 days", u.Outcome, trace.StatusOK, "")
	u = submit[trace.ScanResult](t, ph2, "Undo", trace.ScanRequest{RequestHeader: header(), Scan: scan(1)})
	wantOutcome(t, "undo from another site", u.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	// A member's own client writing the time into its proposal: a day in
	// the future (an undo "11 days later" would need it) or a day in the
	// past (a dispense before expiry) — every endorser refuses, naming the
	// clock. (The 10-day rule itself is proven on the in-memory peer.)
	for _, ts := range []time.Time{time.Now().Add(24 * time.Hour), time.Now().Add(-24 * time.Hour), time.Now().Add(11 * 24 * time.Hour)} {
		var late trace.ScanResult
		err := ph1.endorseAt(t, "Undo", trace.ScanRequest{RequestHeader: header(), Scan: scan(1)}, ts, &late)
		if err == nil || !strings.Contains(err.Error(), "timestamp") || !strings.Contains(err.Error(), "clock") {
			t.Fatalf("proposal dated %s: %v (outcome %+v), want an endorsement refusal naming the clock", ts.Format(time.RFC3339), err, late.Outcome)
		}
		t.Logf("proposal dated %s refused: %.200s", ts.Format(time.RFC3339), err)
	}

	// A pharmacist trying to commission → access denied, naming the right.
	err := ph1.submitErr("CommissionPacks", trace.CommissionPacksRequest{RequestHeader: header(), GTIN: g, Lot: lot, Expiry: expiry,
		Serials: []string{"X" + tag}}, &trace.CommissionPacksResult{})
	if e := errHas(err, gateway.ErrAccessDenied, `"pack.commission"`); e != nil {
		t.Fatalf("pharmacist commissioning: %v", e)
	}

	// Ship to one warehouse, receive at the other → diversion anomaly.
	asn3 := "ASN-" + tag + "-3"
	sh = submit[trace.ShipmentResult](t, mfr, "Ship", trace.ShipRequest{RequestHeader: header(), ShipmentID: asn3, To: whN.party(), Packs: refs(g, serials[20:25]...)})
	wantOutcome(t, "ship for diversion", sh.Outcome, trace.StatusOK, "")
	rc = submit[trace.ReceiveResult](t, whS, "Receive", trace.ReceiveRequest{RequestHeader: header(), ShipmentID: asn3, Packs: refs(g, serials[20:25]...)})
	diverted := false
	for _, id := range rc.Outcome.Anomalies {
		an := evaluate[trace.GetAnomalyResult](t, reg, "GetAnomaly", trace.AnomalyQuery{ID: id}).Anomaly
		diverted = diverted || (an.Code == trace.AnomalyDiversion && an.Shipment == asn3)
	}
	if !diverted {
		t.Fatalf("receipt at the wrong warehouse: outcome %+v, no DIVERSION anomaly for %s", rc.Outcome, asn3)
	}

	// Recall the lot → verify refuses it at every site.
	r := submit[trace.LotResult](t, mfr, "RecallLot", trace.LotStatusRequest{RequestHeader: header(), GTIN: g, Lot: lot, Reason: "out of specification"})
	wantOutcome(t, "recall", r.Outcome, trace.StatusOK, "")
	for _, who := range []*actor{ph1, ph2, whN, whS} {
		v := evaluate[trace.VerifyResult](t, who, "Verify", trace.VerifyRequest{Scan: scan(5)})
		wantOutcome(t, "verify after recall at "+who.name, v.Outcome, trace.StatusRefused, trace.CodeLotRecalled)
	}
}

// TestCommissionLimit: the documented per-transaction limit commits in one
// transaction; one serial more is refused before anything is written.
func TestCommissionLimit(t *testing.T) {
	n := testnet.Get(t)
	mfr := newActor(t, n, "Manufacturer", "mfr-beta")
	tag := runTag()
	g := gtin("5098765", fmt.Sprintf("%05d", rand.IntN(100000)))
	submit[trace.ProductResult](t, mfr, "RegisterProduct", trace.RegisterProductRequest{RequestHeader: header(),
		GTIN: g, Name: "Metformin 850 mg", Form: "tablet", Strength: "850 mg", PackSize: 30})
	serials := make([]string, trace.DefaultMaxCommission+1)
	for i := range serials {
		serials[i] = fmt.Sprintf("M%s%05d", tag, i)
	}
	err := mfr.submitErr("CommissionPacks", trace.CommissionPacksRequest{RequestHeader: header(), GTIN: g, Lot: "L" + tag,
		Expiry: "301231", Serials: serials}, &trace.CommissionPacksResult{})
	if e := errHas(err, gateway.ErrInvalid, "serials"); e != nil {
		t.Fatalf("commission of %d serials: %v", len(serials), e)
	}
	start := time.Now()
	c := submit[trace.CommissionPacksResult](t, mfr, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: header(),
		GTIN: g, Lot: "L" + tag, Expiry: "301231", Serials: serials[:trace.DefaultMaxCommission]})
	wantOutcome(t, "commission at the limit", c.Outcome, trace.StatusOK, "")
	if c.Commissioned != trace.DefaultMaxCommission {
		t.Fatalf("commissioned %d", c.Commissioned)
	}
	t.Logf("CommissionPacks of %d serials committed in %s", trace.DefaultMaxCommission, time.Since(start).Round(time.Millisecond))
}
