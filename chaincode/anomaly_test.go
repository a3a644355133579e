package chaincode_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/trace"
)

func (n *net) flag(class trace.Classification, sev trace.Severity, msg string) string {
	n.tb.Helper()
	r := ok[trace.AnomalyResult](n, reg, "FlagAnomaly", trace.FlagAnomalyRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()},
		Code: trace.AnomalyManual, Severity: sev, Classification: class, Message: msg, Pack: &trace.PackRef{GTIN: gtinA, Serial: "S1"}})
	return r.Anomaly.ID
}

func TestAnomalyWorkflowTransactions(t *testing.T) {
	n := supplyChain(t)
	id := n.flag(trace.ClassDiversion, trace.SeverityHigh, "inspection finding")
	h := func() trace.RequestHeader { return trace.RequestHeader{RequestID: n.reqID()} }
	tr := func(to trace.AnomalyStatus, reason trace.CloseReason) trace.AnomalyResult {
		return ok[trace.AnomalyResult](n, reg, "TransitionAnomaly", trace.TransitionAnomalyRequest{RequestHeader: h(), AnomalyID: id, To: to, Reason: reason, Comment: "step"})
	}
	n.fails(reg, "TransitionAnomaly", trace.TransitionAnomalyRequest{RequestHeader: h(), AnomalyID: id, To: trace.AnomalyEscalated}, trace.ErrConflict, "cannot go from new to escalated")
	tr(trace.AnomalyInvestigating, "")
	tr(trace.AnomalyEscalated, "")
	n.fails(reg, "TransitionAnomaly", trace.TransitionAnomalyRequest{RequestHeader: h(), AnomalyID: id, To: trace.AnomalyClosed}, trace.ErrInvalidRequest, "close reason")
	res := tr(trace.AnomalyClosed, trace.CloseConfirmedDiversion)
	a := res.Anomaly
	if a.Status != trace.AnomalyClosed || a.CloseReason != trace.CloseConfirmedDiversion || len(a.Transitions) != 4 {
		t.Fatalf("%+v", a)
	}
	for _, s := range a.Transitions {
		if s.By.MSP != "RegulatorMSP" || s.At.IsZero() || s.TxID == "" {
			t.Fatalf("transition without who/when: %+v", s)
		}
	}
	n.fails(reg, "TransitionAnomaly", trace.TransitionAnomalyRequest{RequestHeader: h(), AnomalyID: id, To: trace.AnomalyInvestigating}, trace.ErrConflict, "closed")
	n.fails(reg, "TransitionAnomaly", trace.TransitionAnomalyRequest{RequestHeader: h(), AnomalyID: "AN-NOPE", To: trace.AnomalyInvestigating}, trace.ErrNotFound, "AN-NOPE")
	// The status index follows the workflow.
	for status, want := range map[trace.AnomalyStatus]int{trace.AnomalyNew: 0, trace.AnomalyClosed: 1} {
		got := query[trace.ListAnomaliesResult](n, reg, "ListAnomalies", trace.ListAnomaliesQuery{Status: status})
		if len(got.Anomalies) != want {
			t.Fatalf("%s: %d", status, len(got.Anomalies))
		}
	}
	// Comments: regulator yes, reporting org yes, others no.
	d := n.scanTx(ph2, "Dispense", scan(gtinA, "NOPE", "L1", expiry))
	pid := d.Outcome.Anomalies[0]
	ok[trace.AnomalyResult](n, ph1, "CommentAnomaly", trace.CommentAnomalyRequest{RequestHeader: h(), AnomalyID: pid, Comment: "rescanned"})
	ok[trace.AnomalyResult](n, reg, "CommentAnomaly", trace.CommentAnomalyRequest{RequestHeader: h(), AnomalyID: pid, Comment: "noted"})
	n.fails(wh1, "CommentAnomaly", trace.CommentAnomalyRequest{RequestHeader: h(), AnomalyID: pid, Comment: "x"}, trace.ErrAccessDenied, "reporting organisation")
	if r := n.evaluate(wh1, "GetAnomaly", trace.AnomalyQuery{ID: pid}); trace.Classify(r.Message) != trace.ErrAccessDenied {
		t.Fatal(r.Message)
	}
	got := query[trace.GetAnomalyResult](n, ph1, "GetAnomaly", trace.AnomalyQuery{ID: pid}).Anomaly
	if len(got.Transitions) != 3 || got.Transitions[1].Comment != "rescanned" || got.Transitions[1].By.GLN != glnPH1 {
		t.Fatalf("%+v", got.Transitions)
	}
}

func TestListAnomaliesPagination(t *testing.T) {
	n := supplyChain(t)
	var ids []string
	for i := 0; i < 7; i++ {
		class := trace.ClassProcess
		if i%2 == 0 {
			class = trace.ClassDiversion
		}
		ids = append(ids, n.flag(class, trace.SeverityLow, "m"+itoa(i)))
	}
	// A pharmacy-reported anomaly, invisible to other orgs' listings.
	d := n.scanTx(ph1, "Dispense", scan(gtinA, "NOPE", "L1", expiry))
	pageAll := func(who string, q trace.ListAnomaliesQuery) ([]string, int) {
		var got []string
		pages := 0
		for {
			res := query[trace.ListAnomaliesResult](n, who, "ListAnomalies", q)
			pages++
			if len(res.Anomalies) > q.PageSize {
				t.Fatalf("page of %d > %d", len(res.Anomalies), q.PageSize)
			}
			for _, a := range res.Anomalies {
				got = append(got, a.ID)
			}
			if res.Bookmark == "" {
				return got, pages
			}
			q.Bookmark = res.Bookmark
			if pages > 20 {
				t.Fatal("no end")
			}
		}
	}
	got, pages := pageAll(reg, trace.ListAnomaliesQuery{PageSize: 3})
	if len(got) != 8 || pages != 3 || strings.Join(got[:7], ",") != strings.Join(ids, ",") {
		t.Fatalf("%d pages: %v", pages, got)
	}
	got, _ = pageAll(reg, trace.ListAnomaliesQuery{PageSize: 2, Classification: trace.ClassDiversion})
	if len(got) != 4 {
		t.Fatalf("filtered: %v", got)
	}
	got, _ = pageAll(reg, trace.ListAnomaliesQuery{PageSize: 2, Status: trace.AnomalyNew, Code: trace.AnomalyUnknownSerial})
	if len(got) != 1 || got[0] != d.Outcome.Anomalies[0] {
		t.Fatalf("status index: %v", got)
	}
	if got, _ = pageAll(reg, trace.ListAnomaliesQuery{PageSize: 50, GTIN: gtinA}); len(got) != 8 {
		t.Fatalf("gtin filter: %v", got)
	}
	if got, _ = pageAll(reg, trace.ListAnomaliesQuery{PageSize: 50, GTIN: gtinA, Lot: "L1", Severity: trace.SeverityHigh}); len(got) != 1 {
		t.Fatalf("lot+severity filter: %v", got)
	}
	if got, _ = pageAll(reg, trace.ListAnomaliesQuery{PageSize: 50, GTIN: gtinB}); len(got) != 0 {
		t.Fatalf("other gtin: %v", got)
	}
	got, _ = pageAll(ph2, trace.ListAnomaliesQuery{PageSize: 5})
	if len(got) != 1 || got[0] != d.Outcome.Anomalies[0] {
		t.Fatalf("pharmacy sees %v", got)
	}
	if got, _ = pageAll(wh1, trace.ListAnomaliesQuery{PageSize: 5}); len(got) != 0 {
		t.Fatalf("distributor sees %v", got)
	}
	// A bookmark from another query (or forged) is refused.
	res := query[trace.ListPacksByLotResult](n, reg, "ListPacksByLot", trace.ListPacksByLotQuery{GTIN: gtinA, Lot: "L1", PageSize: 1})
	r := n.evaluate(reg, "ListAnomalies", trace.ListAnomaliesQuery{Bookmark: res.Bookmark})
	if trace.Classify(r.Message) != trace.ErrInvalidRequest || !strings.Contains(r.Message, "bookmark") {
		t.Fatal(r.Message)
	}
	r = n.evaluate(reg, "ListAnomalies", trace.ListAnomaliesQuery{Bookmark: "AA"})
	if trace.Classify(r.Message) != trace.ErrInvalidRequest {
		t.Fatal(r.Message)
	}
}

func TestListPacksByLotPagination(t *testing.T) {
	n := supplyChain(t) // L1: S1..S4 at ph1, P5, AbY7, ZZ9 at the manufacturer
	n.scanTx(ph1, "Dispense", scan(gtinA, "S2", "L1", expiry))
	var all []string
	q := trace.ListPacksByLotQuery{GTIN: gtinA, Lot: "L1", PageSize: 3}
	for {
		res := query[trace.ListPacksByLotResult](n, mfgA, "ListPacksByLot", q)
		for _, p := range res.Packs {
			all = append(all, p.Serial)
		}
		if res.Bookmark == "" {
			break
		}
		q.Bookmark = res.Bookmark
	}
	// Pages come in pseudonym order (the index is keyed by the serials'
	// pseudonyms), each pack exactly once.
	slices.Sort(all)
	if strings.Join(all, ",") != "AbY7,P5,S1,S2,S3,S4,ZZ9" {
		t.Fatal(all)
	}
	res := query[trace.ListPacksByLotResult](n, reg, "ListPacksByLot", trace.ListPacksByLotQuery{GTIN: gtinA, Lot: "L1", State: trace.StateInactive})
	if len(res.Packs) != 1 || res.Packs[0].Serial != "S2" {
		t.Fatalf("%+v", res.Packs)
	}
	// The default page size applies and the bound is enforced.
	if r := n.evaluate(reg, "ListPacksByLot", trace.ListPacksByLotQuery{GTIN: gtinA, Lot: "L1", PageSize: trace.MaxPageSize + 1}); trace.Classify(r.Message) != trace.ErrInvalidRequest {
		t.Fatal(r.Message)
	}
}

// A manufacturer's packs are private records, of which Fabric keeps no
// history: GetPackHistory says so (the read model keeps the chain of
// custody from the members' events); it still checks access and existence
// first, so it tells nobody whether a pack exists.
func TestPackHistory(t *testing.T) {
	n := supplyChain(t)
	s1 := scan(gtinA, "S1", "L1", expiry)
	n.scanTx(ph1, "Dispense", s1)
	r := n.evaluate(ph1, "GetPackHistory", trace.PackHistoryQuery{GTIN: gtinA, Serial: "S1"})
	if trace.Classify(r.Message) != trace.ErrInvalidRequest || !strings.Contains(r.Message, "no history") {
		t.Fatal(r.Message)
	}
	if r := n.evaluate(wh2, "GetPackHistory", trace.PackHistoryQuery{GTIN: gtinA, Serial: "S1"}); trace.Classify(r.Message) != trace.ErrAccessDenied {
		t.Fatal(r.Message)
	}
	if r := n.evaluate(reg, "GetPackHistory", trace.PackHistoryQuery{GTIN: gtinA, Serial: "NOPE"}); trace.Classify(r.Message) != trace.ErrNotFound {
		t.Fatal(r.Message)
	}
}
