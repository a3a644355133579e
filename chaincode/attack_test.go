package chaincode_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/internal/ledgertest"
	"github.com/pharmatrace/pharmatrace/trace"
)

// The insider attacks of docs/threat-model.md, each tried as a malicious
// member would (valid certificates from its own CA, its own client code,
// calls straight to the chaincode) and each refused. The in-memory peer's
// clock is the endorser's clock; Proposal.Time is the timestamp the client
// writes into its proposal.

// atTime submits fn as who with a client-chosen proposal timestamp.
func (n *net) atTime(who, fn string, req any, ts time.Time) ledgertest.Response {
	n.tb.Helper()
	return opened(n.tb, n.l.Submit(n.cc, withTime(proposal(n.tb, who, fn, mustJSON(n.tb, req)), ts)))
}

func wantClockRefusal(t *testing.T, r ledgertest.Response) {
	t.Helper()
	if r.OK() || !strings.Contains(r.Message, "timestamp") || !strings.Contains(r.Message, "clock") {
		t.Fatalf("want an endorsement refusal naming the clock, got %d %q (%s)", r.Status, r.Message, r.Validation)
	}
}

func TestAttackClientChosenTime(t *testing.T) {
	s1 := scan(gtinA, "S1", "L1", expiry)
	t.Run("undo 30 days after a dispense, dated dispense+1h", func(t *testing.T) {
		n := supplyChain(t)
		d := n.scanTx(ph1, "Dispense", s1)
		wantOutcome(t, d.Outcome, trace.StatusOK, "")
		dispensedAt := n.getPack(ph1, gtinA, "S1").StateChangedAt
		n.l.SetTime(dispensedAt.Add(30 * 24 * time.Hour))
		r := n.atTime(ph1, "Undo", trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "u1"}, Scan: s1}, dispensedAt.Add(time.Hour))
		wantClockRefusal(t, r)
		// Honestly dated, it is too late.
		u := n.scanTx(ph1, "Undo", s1)
		wantOutcome(t, u.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	})
	t.Run("undo dated 2 days before the dispense", func(t *testing.T) {
		n := supplyChain(t)
		n.scanTx(ph1, "Dispense", s1)
		dispensedAt := n.getPack(ph1, gtinA, "S1").StateChangedAt
		r := n.atTime(ph1, "Undo", trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "u2"}, Scan: s1}, dispensedAt.Add(-48*time.Hour))
		wantClockRefusal(t, r)
		// Inside the allowed skew but before the dispense: still refused.
		r = n.atTime(ph1, "Undo", trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "u3"}, Scan: s1}, dispensedAt.Add(-2*time.Minute))
		if r.Committed() {
			var res trace.ScanResult
			if err := json.Unmarshal(r.Payload, &res); err != nil || res.OK() {
				t.Fatalf("undo dated before the dispense: %s %s", r.Payload, r.Message)
			}
		}
		if p := n.getPack(ph1, gtinA, "S1"); p.State != trace.StateInactive {
			t.Fatalf("pack reactivated by an undo dated before its dispense: %+v", p)
		}
	})
	t.Run("expired pack dispensed with a timestamp before its expiry", func(t *testing.T) {
		n := supplyChain(t)
		n.commission(mfgA, gtinA, "LE", "260310", "E1") // expires 10 March 2026
		n.ship(mfgA, ph1, "SHE", refs(gtinA, "E1"))
		n.receive(ph1, "SHE", refs(gtinA, "E1"))
		n.l.SetTime(time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC))
		r := n.atTime(ph1, "Dispense", trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "d-e1"}, Scan: scan(gtinA, "E1", "LE", "260310")},
			time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC))
		wantClockRefusal(t, r)
		d := n.scanTx(ph1, "Dispense", scan(gtinA, "E1", "LE", "260310"))
		wantOutcome(t, d.Outcome, trace.StatusRefused, trace.CodeExpired)
	})
	t.Run("a day in the future", func(t *testing.T) {
		n := supplyChain(t)
		r := n.atTime(reg, "FlagAnomaly", trace.FlagAnomalyRequest{RequestHeader: trace.RequestHeader{RequestID: "f1"}, Code: trace.AnomalyManual,
			Severity: trace.SeverityLow, Classification: trace.ClassProcess, Message: "from the future"}, n.l.Now().Add(24*time.Hour))
		wantClockRefusal(t, r)
	})
}

func TestAttackForeignCompanyPrefix(t *testing.T) {
	n := supplyChain(t)
	// A rival manufacturer org whose CA writes A's prefix is refused at the
	// door, whatever it calls.
	n.fails(rivalA, "RegisterProduct", trace.RegisterProductRequest{RequestHeader: trace.RequestHeader{RequestID: "x1"}, GTIN: gtinA2,
		Name: "Fake", Form: "tablet", Strength: "1 mg", PackSize: 1}, trace.ErrAccessDenied, "4006381", "RivalMSP")
	if r := n.evaluate(rivalA, "GetPack", trace.PackQuery{GTIN: gtinA, Serial: "P5"}); r.OK() || trace.Classify(r.Message) != trace.ErrAccessDenied {
		t.Fatalf("rival with A's prefix read A's pack: %s", r.Payload)
	}
	// A 4-digit prefix covering A's is refused too (6-12 digits, and not
	// within the org's own prefixes).
	n.fails(mfgShort, "RegisterProduct", trace.RegisterProductRequest{RequestHeader: trace.RequestHeader{RequestID: "x2"}, GTIN: gtinA2,
		Name: "Fake", Form: "tablet", Strength: "1 mg", PackSize: 1}, trace.ErrAccessDenied, "4006")
	// The rival with its own prefix works on its own products only, and
	// reads nothing of A's.
	gtinR := withCheck("0" + gcpR + "00001")
	n.registerProduct(rival, gtinR)
	for _, fn := range []string{"GetPack", "GetPackHistory"} {
		if r := n.evaluate(rival, fn, trace.PackQuery{GTIN: gtinA, Serial: "P5"}); r.OK() {
			t.Fatalf("%s of A's pack as the rival: %s", fn, r.Payload)
		}
	}
	n.fails(rival, "RecallLot", trace.LotStatusRequest{RequestHeader: trace.RequestHeader{RequestID: "x3"}, GTIN: gtinA, Lot: "L1", Reason: "sabotage"}, trace.ErrAccessDenied)
	if r := n.evaluate(rival, "ListPacksByLot", trace.ListPacksByLotQuery{GTIN: gtinA, Lot: "L1"}); r.OK() {
		t.Fatalf("rival listed A's lot: %s", r.Payload)
	}
}

func TestAttackRequestIDReplayAcrossSites(t *testing.T) {
	n := supplyChain(t)
	s1 := scan(gtinA, "S1", "L1", expiry)
	req := trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "R-1"}, Scan: s1}
	first := ok[trace.ScanResult](n, ph1, "Dispense", req)
	wantOutcome(t, first.Outcome, trace.StatusOK, "")
	// Site 2 of the same pharmacy group sends the same pack with site 1's
	// request ID: a conflict, not site 1's "ok, dispensed".
	n.fails(ph2, "Dispense", req, trace.ErrConflict, "R-1", "another caller")
	if r := n.evaluate(ph2, "GetRequest", trace.RequestQuery{RequestID: "R-1"}); r.OK() {
		t.Fatalf("site 2 read site 1's outcome: %s", r.Payload)
	}
	// With its own request ID, site 2's dispense is the clone it is.
	second := n.scanTx(ph2, "Dispense", s1)
	wantOutcome(t, second.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	n.wantAnomaly(second.Outcome, trace.AnomalyClone, trace.ClassCounterfeit)
	// Site 1 retrying its own request still gets its original outcome.
	again := ok[trace.ScanResult](n, ph1, "Dispense", req)
	if again.TxID != first.TxID {
		t.Fatalf("retry: %+v, want the original %s", again.Outcome, first.TxID)
	}
}

func TestAttackDecommissionOthersStock(t *testing.T) {
	n := supplyChain(t)
	p5 := scan(gtinA, "P5", "L1", expiry) // still at manufacturer A's plant
	for _, r := range []trace.Reason{trace.ReasonStolen, trace.ReasonDestroyed} {
		res := n.decommission(ph1, p5, r)
		wantOutcome(t, res.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
		a := n.wantAnomaly(res.Outcome, trace.AnomalyCustodyMismatch, trace.ClassDiversion)
		if a.Severity != trace.SeverityHigh || !strings.Contains(a.Evidence.Message, string(r)) {
			t.Errorf("%s by a non-holder: anomaly %+v", r, a)
		}
	}
	if p := n.getPack(mfgA, gtinA, "P5"); p.State != trace.StateActive || p.Custodian != party(mfgA) {
		t.Fatalf("a pharmacy changed a pack at the plant: %+v", p)
	}
	// The holder can still ship it.
	n.ship(mfgA, wh1, "SH-P5", refs(gtinA, "P5"))
}

func TestAttackEnumerateSerials(t *testing.T) {
	n := supplyChain(t)
	lq := trace.ListPacksByLotQuery{GTIN: gtinA, Lot: "L1", PageSize: 1}
	for _, who := range []string{ph1, wh1, mfgB, rival} {
		if r := n.evaluate(who, "ListPacksByLot", lq); r.OK() {
			t.Fatalf("%s paged through A's lot: %s", who, r.Payload)
		}
	}
	// A bookmark is bound to its filter and organisation.
	page := query[trace.ListPacksByLotResult](n, reg, "ListPacksByLot", lq)
	if page.Bookmark == "" || strings.Contains(page.Bookmark, "S2") {
		t.Fatalf("bookmark %q", page.Bookmark)
	}
	other := lq
	other.Bookmark, other.State = page.Bookmark, trace.StateActive
	if r := n.evaluate(reg, "ListPacksByLot", other); r.OK() || !strings.Contains(r.Message, "bookmark") {
		t.Fatalf("bookmark reused with another filter: %s %s", r.Payload, r.Message)
	}
	lq.Bookmark = page.Bookmark
	if r := n.evaluate(mfgA, "ListPacksByLot", lq); r.OK() || !strings.Contains(r.Message, "bookmark") {
		t.Fatalf("the regulator's bookmark used by the manufacturer: %s %s", r.Payload, r.Message)
	}
	// Nobody but the owner and the regulator learns the batch size.
	if l := query[trace.GetLotResult](n, ph1, "GetLot", trace.LotQuery{GTIN: gtinA, Lot: "L1"}).Lot; l.PackCount != 0 {
		t.Errorf("a pharmacist read the batch size: %d", l.PackCount)
	}
	if l := query[trace.GetLotResult](n, mfgA, "GetLot", trace.LotQuery{GTIN: gtinA, Lot: "L1"}).Lot; l.PackCount != 7 {
		t.Errorf("the owner's batch size: %d", l.PackCount)
	}
	// Verify tells a pharmacy nothing about who holds a pack it does not,
	// nor which near-miss serial exists.
	v := n.verify(ph2, scan(gtinA, "P5", "L1", expiry))
	for _, f := range v.Findings {
		if f.Evidence.Counterpart != nil || strings.Contains(f.Evidence.Message, glnPlantA) {
			t.Errorf("verify leaked the holder: %+v", f.Evidence)
		}
	}
	v = n.verify(ph2, scan(gtinA, "aBy7", "L1", expiry))
	for _, f := range v.Findings {
		if len(f.Evidence.NearMiss) > 0 || strings.Contains(f.Evidence.Message, "AbY7") {
			t.Errorf("verify leaked a near-miss serial: %+v", f.Evidence)
		}
	}
}

func TestAttackStrictJSON(t *testing.T) {
	n := supplyChain(t)
	base := `"requestId":"j1","gtin":"` + gtinA + `","lot":"L1","expiry":"` + expiry + `"`
	for name, arg := range map[string]string{
		"case-variant field": `{` + base + `,"serial":"S1","SERIAL":"S2"}`,
		"duplicate field":    `{` + base + `,"serial":"S1","serial":"S2"}`,
		"case-variant only":  `{` + base + `,"Serial":"S2"}`,
	} {
		t.Run(name, func(t *testing.T) {
			n.fails(ph1, "Dispense", arg, trace.ErrInvalidRequest)
		})
	}
	for _, s := range []string{"S1", "S2"} {
		if p := n.getPack(ph1, gtinA, s); p.State != trace.StateActive {
			t.Fatalf("pack %s changed by an invalid request: %+v", s, p)
		}
	}
}

func TestAttackProbeOutsideTheBinding(t *testing.T) {
	n := newNet(t)
	if r := n.l.Submit(n.cc, probeProposal(t, strangerM, "probe:Put", "k", "v")); r.OK() {
		t.Fatal("a non-member MSP wrote through the probe")
	}
	big := strings.Repeat("x", 64<<10)
	if r := n.l.Submit(n.cc, probeProposal(t, admin, "probe:Put", "k", big)); r.OK() {
		t.Fatal("a 64 KiB probe value was accepted")
	}
}

func TestManufacturerSeesAlertsAboutItsProducts(t *testing.T) {
	n := supplyChain(t)
	s1 := scan(gtinA, "S1", "L1", expiry)
	n.scanTx(ph1, "Dispense", s1)
	clone := n.scanTx(ph2, "Dispense", s1)
	a := n.wantAnomaly(clone.Outcome, trace.AnomalyClone, trace.ClassCounterfeit)
	if a.ProductOwner != "ManufacturerMSP" {
		t.Fatalf("product owner %q", a.ProductOwner)
	}
	query[trace.GetAnomalyResult](n, mfgA, "GetAnomaly", trace.AnomalyQuery{ID: a.ID})
	for _, who := range []string{mfgB, rival, wh1} {
		if r := n.evaluate(who, "GetAnomaly", trace.AnomalyQuery{ID: a.ID}); r.OK() {
			t.Errorf("%s read an anomaly about A's product", who)
		}
	}
	owned := query[trace.ListAnomaliesResult](n, mfgA, "ListAnomalies", trace.ListAnomaliesQuery{Owned: true})
	found := false
	for _, x := range owned.Anomalies {
		found = found || x.ID == a.ID
		if x.ProductOwner != "ManufacturerMSP" {
			t.Errorf("listed an anomaly about another's product: %+v", x)
		}
	}
	if !found {
		t.Errorf("the clone is not among the manufacturer's %d anomalies", len(owned.Anomalies))
	}
	if got := query[trace.ListAnomaliesResult](n, mfgB, "ListAnomalies", trace.ListAnomaliesQuery{Owned: true}).Anomalies; len(got) != 0 {
		t.Errorf("manufacturer B (same org, other prefix) listed %d anomalies about A's products", len(got))
	}
	if r := n.evaluate(ph1, "ListAnomalies", trace.ListAnomaliesQuery{Owned: true}); r.OK() {
		t.Error("a pharmacy listed owned anomalies")
	}
}

func TestRegulatorLocksOnePack(t *testing.T) {
	n := supplyChain(t)
	s3 := scan(gtinA, "S3", "L1", expiry) // held by pharmacy 1
	lock := n.decommission(reg, s3, trace.ReasonLocked)
	wantOutcome(t, lock.Outcome, trace.StatusOK, "")
	if p := n.getPack(reg, gtinA, "S3"); p.Custodian != party(ph1) || p.Reason != trace.ReasonLocked {
		t.Fatalf("locked pack: %+v", p)
	}
	v := n.verify(ph1, s3)
	wantOutcome(t, v.Outcome, trace.StatusRefused, trace.CodePackInactive)
	d := n.scanTx(ph1, "Dispense", s3)
	wantOutcome(t, d.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	// The holder cannot unlock it; the regulator can, a month later.
	u := n.scanTx(ph1, "Undo", s3)
	wantOutcome(t, u.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	n.l.Advance(30 * 24 * time.Hour)
	u = n.scanTx(reg, "Undo", s3)
	wantOutcome(t, u.Outcome, trace.StatusOK, "")
	d = n.scanTx(ph1, "Dispense", s3)
	wantOutcome(t, d.Outcome, trace.StatusOK, "")
}

func TestWholesalerSuppliesUnderArticle23(t *testing.T) {
	n := newNet(t)
	n.registerProduct(mfgA, gtinA)
	n.commission(mfgA, gtinA, "L1", expiry, "H1")
	n.ship(mfgA, wh1, "SH-H", refs(gtinA, "H1"))
	n.receive(wh1, "SH-H", refs(gtinA, "H1"))
	res := n.decommission(wh1, scan(gtinA, "H1", "L1", expiry), trace.ReasonSupplied)
	wantOutcome(t, res.Outcome, trace.StatusOK, "")
	n.fails(ph1, "Decommission", trace.DecommissionRequest{RequestHeader: trace.RequestHeader{RequestID: "s2"}, Scan: scan(gtinA, "H1", "L1", expiry), Reason: trace.ReasonSupplied},
		trace.ErrAccessDenied, "pack.decommission.supplied")
}

func withTime(p ledgertest.Proposal, ts time.Time) ledgertest.Proposal { p.Time = ts; return p }
