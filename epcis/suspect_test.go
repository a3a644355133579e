package epcis

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/trace"
)

func fxSuspect() (trace.Anomaly, trace.Pack, []trace.PackHistoryEntry, trace.Product) {
	ref := fxRef("S1")
	lot := trace.LotRef{GTIN: fxGTIN, Lot: fxLot}
	at := fxT0.Add(200 * time.Hour)
	by := fxPharm.Party()
	a := trace.NewAnomaly(trace.Finding{Code: trace.AnomalyClone, Alert: trace.CodeStatusChangeNotPossible, Severity: trace.SeverityCritical,
		Classification: trace.ClassCounterfeit, Pack: &ref, Lot: &lot,
		Evidence: trace.Evidence{Message: "pack was dispensed at 9506000000039 (PharmacyMSP) and is presented again at 9506000000046",
			Counterpart: &by, Scan: &trace.Scan{GTIN: fxGTIN, Serial: "S1", Lot: fxLot, Expiry: fxExpiry}}},
		"AN-1", trace.TxDispense, "tx99", trace.Actor{MSP: "Pharmacy2MSP", Role: trace.RolePharmacist, GLN: "9506000000046"}, at)
	a, _ = trace.TransitionAnomaly(a, trace.AnomalyInvestigating, "", "checking with the pharmacy", trace.Actor{MSP: "RegulatorMSP", Role: trace.RoleRegulator}, at.Add(time.Hour), "tx100")
	p := fxPack("S1", trace.StateInactive, trace.ReasonDispensed, fxPharm, nil, "")
	p.StateChangedBy, p.StateChangedAt, p.LastEvent, p.LastTx = fxPharm.Party(), fxT0.Add(96*time.Hour), trace.TxDispense, "tx07"
	hist := []trace.PackHistoryEntry{}
	for _, ev := range fixtureEvents() {
		for i := range ev.Packs {
			if ev.Packs[i].Serial == "S1" {
				pk := ev.Packs[i]
				pk.LastEvent, pk.LastTx = ev.Type, ev.TxID
				if pk.State != trace.StateInTransit && ev.Type != trace.TxAggregate {
					pk.StateChangedBy, pk.StateChangedAt = ev.Actor.Party(), ev.Timestamp
				}
				hist = append([]trace.PackHistoryEntry{{TxID: ev.TxID, Timestamp: ev.Timestamp, Pack: &pk}}, hist...) // newest first
			}
		}
		if ev.Commissioned != nil {
			pk := ev.Commissioned.Packs(ev.TxID, ev.Timestamp)[0]
			hist = append(hist, trace.PackHistoryEntry{TxID: ev.TxID, Timestamp: ev.Timestamp, Pack: &pk})
		}
	}
	prod := trace.Product{GTIN: fxGTIN, Name: "Paracetamol 500 mg tablets", Form: "tablet", Strength: "500 mg", PackSize: 20,
		OwnerMSP: fxMfr.MSP, CompanyPrefix: "9506000"}
	return a, p, hist, prod
}

func TestSuspectReport(t *testing.T) {
	a, p, hist, prod := fxSuspect()
	gen := time.Date(2026, 3, 12, 9, 0, 0, 0, time.UTC)
	r, err := BuildSuspectReport(a, p, hist, prod, gen)
	if err != nil {
		t.Fatal(err)
	}
	if r.Pack.SGTIN != "urn:epc:id:sgtin:9506000.013435.S1" || r.Pack.DigitalLink != "https://id.gs1.org/01/09506000134352/21/S1" ||
		r.Pack.ExpiryDate != "2027-12-31" || r.FDA3911.ProblemType != ProblemCounterfeit || !r.FDA3911.Reportable ||
		r.FDA3911.CompanyCategory != "Dispenser" || r.Product.MAH != fxMfr.MSP || len(r.Workflow) != 2 {
		t.Errorf("report %+v", r)
	}
	var steps []string
	for _, s := range r.Custody {
		steps = append(steps, s.Event+"@"+s.By.MSP)
	}
	want := "CommissionPacks@ManufacturerMSP Aggregate@ManufacturerMSP Ship@ManufacturerMSP Receive@DistributorMSP " +
		"Ship@DistributorMSP Receive@PharmacyMSP Dispense@PharmacyMSP"
	if got := strings.Join(steps, " "); got != want {
		t.Errorf("chain of custody\n got %s\nwant %s", got, want)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "suspect_report.json", append(js, '\n'))

	var html bytes.Buffer
	if err := RenderHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "suspect_report.html", html.Bytes())
	page := html.String()
	for _, needle := range []string{"Paracetamol 500 mg tablets", "urn:epc:id:sgtin:9506000.013435.S1", "https://id.gs1.org/01/09506000134352/21/S1",
		"LOT1", "2027-12-31", `<span class="box">X</span>Counterfeit`, "AN-1", "checking with the pharmacy", "PharmacyMSP (GLN 9506000000039)"} {
		if !strings.Contains(page, needle) {
			t.Errorf("HTML lacks %q", needle)
		}
	}
	// Self-contained: no scripts, no external stylesheets, images or fonts.
	if m := regexp.MustCompile(`(?i)<script|<link|<img|<iframe|src\s*=|@import|url\(`).FindString(page); m != "" {
		t.Errorf("HTML is not self-contained: %q", m)
	}
}

func TestSuspectReportErrors(t *testing.T) {
	a, p, hist, prod := fxSuspect()
	other := p
	other.Serial = "S2"
	if _, err := BuildSuspectReport(a, other, hist, prod, time.Time{}); err == nil {
		t.Error("an anomaly about another pack was accepted")
	}
	wrong := prod
	wrong.GTIN = "09506000234342"
	if _, err := BuildSuspectReport(a, p, hist, wrong, time.Time{}); err == nil {
		t.Error("another product was accepted")
	}
}

func TestProblemClassification(t *testing.T) {
	cases := []struct {
		name    string
		code    trace.AnomalyCode
		class   trace.Classification
		close   trace.CloseReason
		reason  trace.Reason
		want    ProblemType
		reports bool
	}{
		{"clone", trace.AnomalyClone, trace.ClassCounterfeit, "", trace.ReasonDispensed, ProblemCounterfeit, true},
		{"unknown serial", trace.AnomalyUnknownSerial, trace.ClassCounterfeit, "", "", ProblemCounterfeit, true},
		{"stolen presented", trace.AnomalyInactivePack, trace.ClassCounterfeit, "", trace.ReasonStolen, ProblemStolen, true},
		{"diversion", trace.AnomalyDiversion, trace.ClassDiversion, "", "", ProblemDiverted, true},
		{"recalled lot", trace.AnomalyRecalledLot, trace.ClassProcess, "", "", ProblemUnfit, true},
		{"expired", trace.AnomalyExpired, trace.ClassProcess, "", "", ProblemUnfit, true},
		{"scanner fault", trace.AnomalyBatchMismatch, trace.ClassScannerFault, "", "", "", false},
		{"double scan", trace.AnomalyAlreadyInState, trace.ClassProcess, "", "", "", false},
		{"closed false positive", trace.AnomalyClone, trace.ClassCounterfeit, trace.CloseFalsePositive, "", "", false},
		{"confirmed diversion", trace.AnomalyCustodyMismatch, trace.ClassProcess, trace.CloseConfirmedDiversion, "", ProblemDiverted, true},
		{"confirmed counterfeit", trace.AnomalyManual, trace.ClassProcess, trace.CloseConfirmedCounterfeit, "", ProblemCounterfeit, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, rep, basis := classifyProblem(trace.Anomaly{Code: c.code, Classification: c.class, CloseReason: c.close}, trace.Pack{Reason: c.reason})
			if got != c.want || rep != c.reports || basis == "" {
				t.Errorf("got %q %v (%s), want %q %v", got, rep, basis, c.want, c.reports)
			}
		})
	}
	for _, p := range ProblemTypes {
		if p.Label() == "" {
			t.Errorf("%s has no label", p)
		}
	}
	if NDCFromGTIN("00312345678906") != "1234567890" || NDCFromGTIN(fxGTIN) != "" {
		t.Error("NDC from GTIN")
	}
}
