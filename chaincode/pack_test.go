package chaincode_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/trace"
)

// supplyChain sets up gtinA lot L1 with packs S1..S4 shipped manufacturer →
// wh1 → ph1 and received, and P5 left at the manufacturer.
func supplyChain(t *testing.T) *net {
	t.Helper()
	n := newNet(t)
	n.registerProduct(mfgA, gtinA)
	n.commission(mfgA, gtinA, "L1", expiry, "S1", "S2", "S3", "S4", "P5", "AbY7", "ZZ9")
	n.ship(mfgA, wh1, "SH1", refs(gtinA, "S1", "S2", "S3", "S4"))
	n.receive(wh1, "SH1", refs(gtinA, "S1", "S2", "S3", "S4"))
	n.ship(wh1, ph1, "SH2", refs(gtinA, "S1", "S2", "S3", "S4"))
	n.receive(ph1, "SH2", refs(gtinA, "S1", "S2", "S3", "S4"))
	return n
}

func TestVerificationCodes(t *testing.T) {
	n := supplyChain(t)
	n.registerProduct(mfgA, gtinA2)
	ok[trace.LotResult](n, mfgA, "RegisterLot", trace.RegisterLotRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, GTIN: gtinA, Lot: "LQ", Expiry: expiry, Status: trace.LotQuarantined})
	n.commission(mfgA, gtinA, "LQ", expiry, "Q1")
	n.commission(mfgA, gtinA, "LR", expiry, "R1")
	n.commission(mfgA, gtinA, "LW", expiry, "W1")
	n.commission(mfgA, gtinA, "LE", "260310", "E1")
	ok[trace.LotResult](n, mfgA, "RecallLot", trace.LotStatusRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, GTIN: gtinA, Lot: "LR", Reason: "r"})
	ok[trace.LotResult](n, mfgA, "WithdrawLot", trace.LotStatusRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, GTIN: gtinA, Lot: "LW", Reason: "w"})
	n.scanTx(ph1, "Dispense", scan(gtinA, "S2", "L1", expiry))
	n.l.SetTime(time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)) // after LE's expiry (10 March)
	for _, tc := range []struct {
		name  string
		scan  trace.Scan
		code  trace.Code
		state trace.PackState
	}{
		{"ok", scan(gtinA, "S1", "L1", expiry), "", trace.StateActive},
		{"unknown product", scan(withCheck("0"+gcpA+"09999"), "S1", "L1", expiry), trace.CodeUnknownProduct, ""},
		{"unknown batch", scan(gtinA, "NOPE", "LX", expiry), trace.CodeUnknownBatch, ""},
		{"unknown serial", scan(gtinA, "NOPE", "L1", expiry), trace.CodeUnknownSerial, ""},
		{"registered product, no pack", scan(gtinA2, "S1", "L1", expiry), trace.CodeUnknownBatch, ""},
		{"batch mismatch", scan(gtinA, "S1", "L2", expiry), trace.CodeBatchMismatch, trace.StateActive},
		{"expiry mismatch", scan(gtinA, "S1", "L1", "281130"), trace.CodeExpiryMismatch, trace.StateActive},
		{"inactive", scan(gtinA, "S2", "L1", expiry), trace.CodePackInactive, trace.StateInactive},
		{"recalled", scan(gtinA, "R1", "LR", expiry), trace.CodeLotRecalled, trace.StateActive},
		{"withdrawn", scan(gtinA, "W1", "LW", expiry), trace.CodeLotWithdrawn, trace.StateActive},
		{"quarantined", scan(gtinA, "Q1", "LQ", expiry), trace.CodeLotQuarantined, trace.StateActive},
		{"expired", scan(gtinA, "E1", "LE", "260310"), trace.CodeExpired, trace.StateActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := n.l.Height()
			r := n.evaluate(ph1, "Verify", trace.VerifyRequest{Scan: tc.scan})
			if r.Writes != 0 || r.EventCalls != 0 || n.l.Height() != h {
				t.Fatal("Verify wrote")
			}
			v := decodeAs[trace.VerifyResult](t, r)
			status := trace.StatusRefused
			if tc.code == "" {
				status = trace.StatusOK
			}
			wantOutcome(t, v.Outcome, status, tc.code)
			if (v.Pack == nil) != (tc.state == "") || (v.Pack != nil && v.Pack.State != tc.state) {
				t.Fatalf("pack %+v", v.Pack)
			}
			if tc.code != "" && len(v.Findings) == 0 && tc.code != trace.CodePackInactive {
				t.Fatal("a refusal without finding")
			}
		})
	}
}

func TestRecallRefusedEverywhere(t *testing.T) {
	n := supplyChain(t)
	ok[trace.LotResult](n, reg, "RecallLot", trace.LotStatusRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, GTIN: gtinA, Lot: "L1", Reason: "contamination"})
	for _, who := range []string{ph1, ph2, wh1, wh2, mfgA, reg} {
		v := n.verify(who, scan(gtinA, "S1", "L1", expiry))
		wantOutcome(t, v.Outcome, trace.StatusRefused, trace.CodeLotRecalled)
	}
	d := n.scanTx(ph1, "Dispense", scan(gtinA, "S1", "L1", expiry))
	wantOutcome(t, d.Outcome, trace.StatusRefused, trace.CodeLotRecalled)
	n.wantAnomaly(d.Outcome, trace.AnomalyRecalledLot, trace.ClassProcess)
	// Recalled packs can still be destroyed, and returned to the owner.
	x := n.decommission(ph1, scan(gtinA, "S3", "L1", expiry), trace.ReasonDestroyed)
	wantOutcome(t, x.Outcome, trace.StatusOK, "")
}

func TestDispenseRules(t *testing.T) {
	n := supplyChain(t)
	// Held by ph1: ok, no anomaly.
	d := n.scanTx(ph1, "Dispense", scan(gtinA, "S1", "L1", expiry))
	wantOutcome(t, d.Outcome, trace.StatusOK, "")
	if len(d.Outcome.Anomalies) != 0 || d.Pack.State != trace.StateInactive || d.Pack.Reason != trace.ReasonDispensed {
		t.Fatalf("%+v", d)
	}
	// Same site again: A7, process anomaly.
	d = n.scanTx(ph1, "Dispense", scan(gtinA, "S1", "L1", expiry))
	wantOutcome(t, d.Outcome, trace.StatusRefused, trace.CodeAlreadyInState)
	n.wantAnomaly(d.Outcome, trace.AnomalyAlreadyInState, trace.ClassProcess)
	// Another site: A24 and a committed clone anomaly visible to the regulator.
	d = n.scanTx(ph2, "Dispense", scan(gtinA, "S1", "L1", expiry))
	wantOutcome(t, d.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	a := n.wantAnomaly(d.Outcome, trace.AnomalyClone, trace.ClassCounterfeit)
	if a.Severity != trace.SeverityCritical || a.Site != glnPH2 || a.Evidence.Counterpart.GLN != glnPH1 || a.Evidence.Scan == nil {
		t.Fatalf("%+v", a)
	}
	list := query[trace.ListAnomaliesResult](n, reg, "ListAnomalies", trace.ListAnomaliesQuery{Code: trace.AnomalyClone})
	if len(list.Anomalies) != 1 || list.Anomalies[0].ID != a.ID {
		t.Fatalf("%+v", list)
	}
	if p := n.getPack(reg, gtinA, "S1"); p.StateChangedBy.GLN != glnPH1 {
		t.Fatal("a refused dispense changed the pack")
	}
	// Not the custodian (pack at ph1, dispensed at ph2): allowed + custody anomaly.
	d = n.scanTx(ph2, "Dispense", scan(gtinA, "S2", "L1", expiry))
	wantOutcome(t, d.Outcome, trace.StatusOK, "")
	n.wantAnomaly(d.Outcome, trace.AnomalyCustodyMismatch, trace.ClassProcess)
	if p := n.getPack(reg, gtinA, "S2"); p.Custodian.GLN != glnPH2 {
		t.Fatal("custody must follow the dispense")
	}
	// Pack still at the manufacturer dispensed by a pharmacy: diversion-classified custody mismatch.
	d = n.scanTx(ph2, "Dispense", scan(gtinA, "P5", "L1", expiry))
	wantOutcome(t, d.Outcome, trace.StatusOK, "")
	n.wantAnomaly(d.Outcome, trace.AnomalyCustodyMismatch, trace.ClassDiversion)
}

func TestDispenseInTransit(t *testing.T) {
	n := newNet(t)
	n.registerProduct(mfgA, gtinA)
	n.commission(mfgA, gtinA, "L1", expiry, "T1", "T2", "T3")
	n.ship(mfgA, ph1, "SH1", refs(gtinA, "T1", "T2", "T3"))
	// In transit to ph1: implicit receipt.
	d := n.scanTx(ph1, "Dispense", scan(gtinA, "T1", "L1", expiry))
	wantOutcome(t, d.Outcome, trace.StatusOK, "")
	if len(d.Outcome.Anomalies) != 0 {
		t.Fatal(d.Outcome.Anomalies)
	}
	// In transit to ph1, scanned at ph2: refused + diversion.
	d = n.scanTx(ph2, "Dispense", scan(gtinA, "T2", "L1", expiry))
	wantOutcome(t, d.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	n.wantAnomaly(d.Outcome, trace.AnomalyDiversion, trace.ClassDiversion)
	// The receipt counts the implicitly received pack: no shortage.
	rr := n.receive(ph1, "SH1", refs(gtinA, "T2", "T3"))
	if rr.Shipment.Status != trace.ShipmentReceived || len(rr.Missing) != 0 || len(rr.Outcome.Anomalies) != 0 {
		t.Fatalf("%+v", rr)
	}
}

func TestScannerFaultClassification(t *testing.T) {
	n := supplyChain(t)
	for _, tc := range []struct {
		name  string
		scan  trace.Scan
		code  trace.Code
		class trace.Classification
		near  string
	}{
		{"unknown serial, no evidence", scan(gtinA, "QQ1", "L1", expiry), trace.CodeUnknownSerial, trace.ClassCounterfeit, ""},
		// A warning is the client's claim, not evidence: it does not hide a counterfeit.
		{"unknown serial with scanner warning", trace.Scan{GTIN: gtinA, Serial: "QQ1", Lot: "L1", Expiry: expiry, Warnings: []string{trace.WarnDroppedGS}}, trace.CodeUnknownSerial, trace.ClassCounterfeit, ""},
		{"case-inverted serial exists", scan(gtinA, "aBy7", "L1", expiry), trace.CodeUnknownSerial, trace.ClassScannerFault, "AbY7"},
		{"Y/Z-swapped serial exists", scan(gtinA, "AbZ7", "L1", expiry), trace.CodeUnknownSerial, trace.ClassScannerFault, "AbY7"},
		{"both", scan(gtinA, "aBz7", "L1", expiry), trace.CodeUnknownSerial, trace.ClassScannerFault, "AbY7"},
		{"caps-locked serial and lot", scan(gtinA, "yy9", "l1", expiry), trace.CodeUnknownBatch, trace.ClassScannerFault, "ZZ9"},
		{"batch near miss", scan(gtinA, "S1", "l1", expiry), trace.CodeBatchMismatch, trace.ClassScannerFault, "L1"},
		{"batch mismatch", scan(gtinA, "S1", "L7", expiry), trace.CodeBatchMismatch, trace.ClassCounterfeit, ""},
		{"expiry mismatch with layout warning", trace.Scan{GTIN: gtinA, Serial: "S1", Lot: "L1", Expiry: "281230", Warnings: []string{trace.WarnKeyboardLayout}}, trace.CodeExpiryMismatch, trace.ClassCounterfeit, ""},
		{"unknown product", scan(withCheck("0"+gcpB+"09999"), "S1", "L1", expiry), trace.CodeUnknownProduct, trace.ClassCounterfeit, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Verify reports the finding; ReportScan commits it.
			v := n.verify(ph1, tc.scan)
			wantOutcome(t, v.Outcome, trace.StatusRefused, tc.code)
			r := n.scanTx(ph1, "ReportScan", tc.scan)
			wantOutcome(t, r.Outcome, trace.StatusRefused, tc.code)
			if len(r.Outcome.Anomalies) != 1 {
				t.Fatal(r.Outcome.Anomalies)
			}
			a := n.anomaly(r.Outcome.Anomalies[0])
			if a.Classification != tc.class || a.Alert != tc.code {
				t.Fatalf("%s/%s: %s", a.Classification, a.Alert, a.Evidence.Message)
			}
			if tc.class == trace.ClassScannerFault && a.Severity != trace.SeverityLow {
				t.Fatal(a.Severity)
			}
			if tc.near != "" && !strings.Contains(strings.Join(a.Evidence.NearMiss, ","), tc.near) {
				t.Fatalf("near miss %v, want %s", a.Evidence.NearMiss, tc.near)
			}
			// Dispense refuses the same way and records the same anomaly.
			d := n.scanTx(ph1, "Dispense", tc.scan)
			wantOutcome(t, d.Outcome, trace.StatusRefused, tc.code)
			n.wantAnomaly(d.Outcome, a.Code, tc.class)
		})
	}
}

func TestReportScanFindings(t *testing.T) {
	n := supplyChain(t)
	// A pack held by ph1 scanned at wh2: custody mismatch recorded, outcome ok.
	r := n.scanTx(wh2, "ReportScan", scan(gtinA, "S1", "L1", expiry))
	wantOutcome(t, r.Outcome, trace.StatusOK, "")
	n.wantAnomaly(r.Outcome, trace.AnomalyCustodyMismatch, trace.ClassDiversion)
	// Nothing to report: ok, no anomaly, still one event.
	r = n.scanTx(ph1, "ReportScan", scan(gtinA, "S1", "L1", expiry))
	if len(r.Outcome.Anomalies) != 0 {
		t.Fatal(r.Outcome.Anomalies)
	}
	if name, _ := n.lastEvent(); name != "ReportScan" {
		t.Fatal(name)
	}
}

func TestDecommissionAndUndo(t *testing.T) {
	n := supplyChain(t)
	s1 := scan(gtinA, "S1", "L1", expiry)
	d := n.scanTx(ph1, "Dispense", s1)
	wantOutcome(t, d.Outcome, trace.StatusOK, "")
	// Undo from another site of the same org: refused.
	u := n.scanTx(ph2, "Undo", s1)
	wantOutcome(t, u.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	n.wantAnomaly(u.Outcome, trace.AnomalyUndoRefused, trace.ClassProcess)
	// Same site within 10 days: ok.
	n.l.Advance(9 * 24 * time.Hour)
	u = n.scanTx(ph1, "Undo", s1)
	wantOutcome(t, u.Outcome, trace.StatusOK, "")
	if p := n.getPack(ph1, gtinA, "S1"); p.State != trace.StateActive || p.Reason != "" {
		t.Fatalf("%+v", p)
	}
	// Undo of an active pack: A7.
	u = n.scanTx(ph1, "Undo", s1)
	wantOutcome(t, u.Outcome, trace.StatusRefused, trace.CodeAlreadyInState)
	// Dispense again, wait more than 10 days: refused.
	n.scanTx(ph1, "Dispense", s1)
	n.l.Advance(10*24*time.Hour + time.Minute)
	u = n.scanTx(ph1, "Undo", s1)
	wantOutcome(t, u.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	if !strings.Contains(u.Outcome.Message, "more than 10 days") {
		t.Fatal(u.Outcome.Message)
	}
	// Destroyed and stolen are irreversible.
	for _, r := range []trace.Reason{trace.ReasonDestroyed, trace.ReasonStolen} {
		sc := scan(gtinA, map[trace.Reason]string{trace.ReasonDestroyed: "S2", trace.ReasonStolen: "S3"}[r], "L1", expiry)
		x := n.decommission(ph1, sc, r)
		wantOutcome(t, x.Outcome, trace.StatusOK, "")
		u = n.scanTx(ph1, "Undo", sc)
		wantOutcome(t, u.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
		if !strings.Contains(u.Outcome.Message, "irreversible") {
			t.Fatal(u.Outcome.Message)
		}
	}
	// Locked can be undone; a recalled lot cannot.
	s4 := scan(gtinA, "S4", "L1", expiry)
	n.decommission(ph1, s4, trace.ReasonLocked)
	ok[trace.LotResult](n, mfgA, "WithdrawLot", trace.LotStatusRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, GTIN: gtinA, Lot: "L1", Reason: "w"})
	u = n.scanTx(ph1, "Undo", s4)
	wantOutcome(t, u.Outcome, trace.StatusRefused, trace.CodeLotWithdrawn)
	// Locking stays possible in a withdrawn lot, so locking a locked pack
	// is A7; a stolen pack presented for dispense: lot code + counterfeit.
	x := n.decommission(ph1, s4, trace.ReasonLocked)
	wantOutcome(t, x.Outcome, trace.StatusRefused, trace.CodeAlreadyInState)
	d = n.scanTx(ph2, "Dispense", scan(gtinA, "S3", "L1", expiry))
	wantOutcome(t, d.Outcome, trace.StatusRefused, trace.CodeLotWithdrawn)
	n.wantAnomaly(d.Outcome, trace.AnomalyInactivePack, trace.ClassCounterfeit)
}

func TestUndoOtherOrgAndExpiry(t *testing.T) {
	n := newNet(t)
	n.registerProduct(mfgA, gtinA)
	n.commission(mfgA, gtinA, "L1", "260305", "X1", "X2")
	n.ship(mfgA, wh1, "SH1", refs(gtinA, "X1", "X2"))
	n.receive(wh1, "SH1", refs(gtinA, "X1", "X2"))
	x := n.decommission(wh1, scan(gtinA, "X1", "L1", "260305"), trace.ReasonExported)
	wantOutcome(t, x.Outcome, trace.StatusOK, "")
	u := n.scanTx(ph1, "Undo", scan(gtinA, "X1", "L1", "260305"))
	wantOutcome(t, u.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	n.wantAnomaly(u.Outcome, trace.AnomalyUndoRefused, trace.ClassDiversion)
	n.decommission(wh1, scan(gtinA, "X2", "L1", "260305"), trace.ReasonSample)
	n.l.SetTime(time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC))
	u = n.scanTx(wh1, "Undo", scan(gtinA, "X2", "L1", "260305"))
	wantOutcome(t, u.Outcome, trace.StatusRefused, trace.CodeExpired)
}
