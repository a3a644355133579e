package epcis

import (
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"sort"
	"time"

	"github.com/pharmatrace/pharmatrace/trace"
)

// ProblemType is the "type of problem" of an FDA Form 3911 notification
// (illegitimate product under the DSCSA) — the same categories serve an EU
// alert to the marketing authorisation holder.
type ProblemType string

// FDA Form 3911 problem types.
const (
	ProblemCounterfeit           ProblemType = "counterfeit"
	ProblemDiverted              ProblemType = "diverted"
	ProblemStolen                ProblemType = "stolen"
	ProblemAdulteration          ProblemType = "intentional_adulteration"
	ProblemUnfit                 ProblemType = "unfit_for_distribution"
	ProblemFraudulentTransaction ProblemType = "fraudulent_transaction"
)

// ProblemTypes lists the problem types in the order of the form.
var ProblemTypes = []ProblemType{ProblemCounterfeit, ProblemDiverted, ProblemStolen, ProblemAdulteration, ProblemUnfit, ProblemFraudulentTransaction}

// Label returns the form's wording of a problem type.
func (p ProblemType) Label() string {
	switch p {
	case ProblemCounterfeit:
		return "Counterfeit"
	case ProblemDiverted:
		return "Diverted"
	case ProblemStolen:
		return "Stolen"
	case ProblemAdulteration:
		return "Intentional adulteration"
	case ProblemUnfit:
		return "Unfit for distribution"
	case ProblemFraudulentTransaction:
		return "Fraudulent transaction"
	}
	return ""
}

// ProductInfo identifies the product of a suspect pack.
type ProductInfo struct {
	Name     string `json:"name"`
	GTIN     string `json:"gtin"`
	NDC      string `json:"ndc,omitempty"` // 10 digits, when the GTIN carries a US NDC
	Form     string `json:"form"`
	Strength string `json:"strength"`
	PackSize int    `json:"packSize"`
	NHRN     string `json:"nhrn,omitempty"`
	// MAH is the MSP of the organisation owning the product (the
	// marketing authorisation holder / manufacturer to alert).
	MAH string `json:"mah"`
}

// PackInfo identifies the suspect pack and its current ledger state.
type PackInfo struct {
	GTIN        string          `json:"gtin"`
	Serial      string          `json:"serial"`
	Lot         string          `json:"lot"`
	Expiry      string          `json:"expiry"`               // YYMMDD as printed
	ExpiryDate  string          `json:"expiryDate,omitempty"` // YYYY-MM-DD
	SGTIN       string          `json:"sgtin,omitempty"`
	DigitalLink string          `json:"digitalLink,omitempty"`
	State       trace.PackState `json:"state"`
	Reason      trace.Reason    `json:"reason,omitempty"`
	Custodian   trace.Party     `json:"custodian"`
	Transit     *trace.Transit  `json:"transit,omitempty"`
	SSCC        string          `json:"sscc,omitempty"`
}

// CustodyStep is one committed change of the pack, oldest first: who did
// what, when, and who held the pack afterwards.
type CustodyStep struct {
	At        time.Time       `json:"at"`
	TxID      string          `json:"txId"`
	Event     string          `json:"event"` // transaction name
	State     trace.PackState `json:"state,omitempty"`
	Reason    trace.Reason    `json:"reason,omitempty"`
	By        trace.Party     `json:"by"`
	Custodian trace.Party     `json:"custodian"`
	Transit   *trace.Transit  `json:"transit,omitempty"`
	Deleted   bool            `json:"deleted,omitempty"`
}

// FDA3911 holds the fields of FDA Form 3911 that the ledger can fill.
// Contact details of the reporting person are not on the ledger (no
// personal data) and are left to the reporter.
type FDA3911 struct {
	// Reportable is false when the anomaly does not indicate an
	// illegitimate product (probable scanner fault, process error, or
	// closed as such).
	Reportable  bool        `json:"reportable"`
	ProblemType ProblemType `json:"problemType,omitempty"`
	// Basis explains how the problem type was derived.
	Basis             string    `json:"basis"`
	ProductName       string    `json:"productName"`
	NDC               string    `json:"ndc,omitempty"`
	GTIN              string    `json:"gtin"`
	Strength          string    `json:"strength"`
	DosageForm        string    `json:"dosageForm"`
	UnitOfSale        string    `json:"unitOfSale"`
	LotNumbers        []string  `json:"lotNumbers"`
	ExpirationDates   []string  `json:"expirationDates"`
	SerialNumbers     []string  `json:"serialNumbers"`
	DateDetected      time.Time `json:"dateDetected"`
	Description       string    `json:"description"`
	ReportingCompany  string    `json:"reportingCompany"`  // MSP
	ReportingFacility string    `json:"reportingFacility"` // GLN
	CompanyCategory   string    `json:"companyCategory"`
}

// AnomalyInfo is the anomaly as recorded, with its evidence.
type AnomalyInfo struct {
	ID             string               `json:"id"`
	Code           trace.AnomalyCode    `json:"code"`
	Alert          trace.Code           `json:"alert,omitempty"`
	Severity       trace.Severity       `json:"severity"`
	Classification trace.Classification `json:"classification"`
	Status         trace.AnomalyStatus  `json:"status"`
	CloseReason    trace.CloseReason    `json:"closeReason,omitempty"`
	Shipment       string               `json:"shipment,omitempty"`
	Site           string               `json:"site,omitempty"`
	ReportedBy     trace.Actor          `json:"reportedBy"`
	Transaction    string               `json:"transaction"`
	TxID           string               `json:"txId"`
	CreatedAt      time.Time            `json:"createdAt"`
	UpdatedAt      time.Time            `json:"updatedAt"`
	Evidence       trace.Evidence       `json:"evidence"`
}

// SuspectReport is a suspect-product report on one pack: FDA Form 3911
// fields, or the content of an EU alert to the MAH.
type SuspectReport struct {
	GeneratedAt time.Time                 `json:"generatedAt"`
	Product     ProductInfo               `json:"product"`
	Pack        PackInfo                  `json:"pack"`
	Anomaly     AnomalyInfo               `json:"anomaly"`
	Workflow    []trace.AnomalyTransition `json:"workflow"`
	Custody     []CustodyStep             `json:"chainOfCustody"`
	FDA3911     FDA3911                   `json:"fda3911"`
}

// BuildSuspectReport assembles the report from the anomaly, the pack, the
// pack's history entries (any order; GetPackHistory returns newest first)
// and its product, at time now. The SGTIN uses the length of
// product.CompanyPrefix (DefaultCompanyPrefixLen when empty).
func BuildSuspectReport(a trace.Anomaly, p trace.Pack, history []trace.PackHistoryEntry, prod trace.Product, now time.Time) (SuspectReport, error) {
	if a.Pack != nil && *a.Pack != p.Ref() {
		return SuspectReport{}, fmt.Errorf("epcis: anomaly %s is about pack %s/%s, not %s/%s", a.ID, a.Pack.GTIN, a.Pack.Serial, p.GTIN, p.Serial)
	}
	if prod.GTIN != "" && prod.GTIN != p.GTIN {
		return SuspectReport{}, fmt.Errorf("epcis: product %s is not the pack's product %s", prod.GTIN, p.GTIN)
	}
	if p.GTIN == "" || p.Serial == "" {
		return SuspectReport{}, errors.New("epcis: the pack has no GTIN or serial")
	}
	r := SuspectReport{GeneratedAt: now.UTC()}
	r.Product = ProductInfo{Name: prod.Name, GTIN: p.GTIN, NDC: NDCFromGTIN(p.GTIN), Form: prod.Form,
		Strength: prod.Strength, PackSize: prod.PackSize, NHRN: prod.NHRN, MAH: prod.OwnerMSP}
	cpl := len(prod.CompanyPrefix)
	if cpl < 6 || cpl > 12 {
		cpl = DefaultCompanyPrefixLen
	}
	r.Pack = PackInfo{GTIN: p.GTIN, Serial: p.Serial, Lot: p.Lot, Expiry: p.Expiry, State: p.State, Reason: p.Reason,
		Custodian: p.Custodian, Transit: p.Transit, SSCC: p.SSCC}
	r.Pack.SGTIN, _ = SGTIN(p.GTIN, p.Serial, cpl)
	r.Pack.DigitalLink, _ = DigitalLinkSGTIN(p.GTIN, p.Serial)
	if d, err := isoDate(p.Expiry, a.CreatedAt); err == nil {
		r.Pack.ExpiryDate = d
	}
	r.Anomaly = AnomalyInfo{ID: a.ID, Code: a.Code, Alert: a.Alert, Severity: a.Severity, Classification: a.Classification,
		Status: a.Status, CloseReason: a.CloseReason, Shipment: a.Shipment, Site: a.Site, ReportedBy: a.ReportedBy,
		Transaction: a.Transaction, TxID: a.TxID, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, Evidence: a.Evidence}
	r.Workflow = append([]trace.AnomalyTransition(nil), a.Transitions...)
	r.Custody = custodyChain(history)

	f := &r.FDA3911
	f.ProblemType, f.Reportable, f.Basis = classifyProblem(a, p)
	f.ProductName, f.NDC, f.GTIN, f.Strength, f.DosageForm = prod.Name, r.Product.NDC, p.GTIN, prod.Strength, prod.Form
	if prod.PackSize > 0 {
		f.UnitOfSale = fmt.Sprintf("pack of %d (GTIN %s)", prod.PackSize, p.GTIN)
	}
	f.LotNumbers, f.SerialNumbers = []string{p.Lot}, []string{p.Serial}
	f.ExpirationDates = []string{r.Pack.ExpiryDate}
	if r.Pack.ExpiryDate == "" {
		f.ExpirationDates = []string{p.Expiry}
	}
	f.DateDetected = a.CreatedAt
	f.Description = a.Evidence.Message
	f.ReportingCompany, f.ReportingFacility = a.ReportedBy.MSP, a.ReportedBy.GLN
	f.CompanyCategory = companyCategory(a.ReportedBy.Role)
	return r, nil
}

// NDCFromGTIN returns the 10-digit US National Drug Code carried by a
// GTIN-14 built from a UPC with number system 3 (digits 2-3 "03"), else "".
// The 4-4-2 / 5-3-2 / 5-4-1 segmentation is not recoverable from the GTIN.
func NDCFromGTIN(gtin string) string {
	if len(gtin) == 14 && allDigits(gtin) && gtin[1:3] == "03" {
		return gtin[3:13]
	}
	return ""
}

func companyCategory(r trace.Role) string {
	switch r {
	case trace.RoleManufacturer:
		return "Manufacturer"
	case trace.RoleDistributor:
		return "Wholesale distributor"
	case trace.RolePharmacist:
		return "Dispenser"
	case trace.RoleRegulator:
		return "Regulator"
	}
	return string(r)
}

// classifyProblem maps an anomaly to an FDA 3911 problem type. A closing
// decision wins (confirmed counterfeit / diversion; false positive,
// scanner fault or process error make it not reportable); then a stolen
// pack presented again; then the classification (probable counterfeit →
// counterfeit, diversion → diverted); then lot and expiry codes (unfit for
// distribution). Intentional adulteration and fraudulent transactions are
// not visible in ledger data and are never derived.
func classifyProblem(a trace.Anomaly, p trace.Pack) (ProblemType, bool, string) {
	switch a.CloseReason {
	case trace.CloseConfirmedCounterfeit:
		return ProblemCounterfeit, true, "closed as confirmed counterfeit"
	case trace.CloseConfirmedDiversion:
		return ProblemDiverted, true, "closed as confirmed diversion"
	case trace.CloseFalsePositive, trace.CloseScannerFault, trace.CloseProcessError:
		return "", false, fmt.Sprintf("closed as %s: no illegitimate product", a.CloseReason)
	}
	if p.Reason == trace.ReasonStolen && (a.Code == trace.AnomalyInactivePack || a.Code == trace.AnomalyClone) {
		return ProblemStolen, true, fmt.Sprintf("%s: the pack was reported stolen", a.Code)
	}
	switch a.Classification {
	case trace.ClassCounterfeit:
		return ProblemCounterfeit, true, fmt.Sprintf("%s classified %s", a.Code, a.Classification)
	case trace.ClassDiversion:
		return ProblemDiverted, true, fmt.Sprintf("%s classified %s", a.Code, a.Classification)
	case trace.ClassScannerFault:
		return "", false, fmt.Sprintf("%s classified %s", a.Code, a.Classification)
	}
	switch a.Code {
	case trace.AnomalyRecalledLot, trace.AnomalyWithdrawnLot, trace.AnomalyQuarantinedLot, trace.AnomalyExpired:
		return ProblemUnfit, true, fmt.Sprintf("%s: the pack may not be distributed", a.Code)
	}
	return "", false, fmt.Sprintf("%s classified %s: a process finding, not an illegitimate product", a.Code, a.Classification)
}

// custodyChain orders history oldest first and names who made each change:
// the party of the state change when it happened in that transaction,
// otherwise the custodian (aggregation, shipping keep the holder).
func custodyChain(history []trace.PackHistoryEntry) []CustodyStep {
	h := append([]trace.PackHistoryEntry(nil), history...)
	sort.SliceStable(h, func(i, j int) bool { return h[i].Timestamp.Before(h[j].Timestamp) })
	out := make([]CustodyStep, 0, len(h))
	for _, e := range h {
		s := CustodyStep{At: e.Timestamp.UTC(), TxID: e.TxID, Deleted: e.Deleted}
		if e.Pack != nil {
			p := e.Pack
			s.Event, s.State, s.Reason, s.Custodian, s.Transit = p.LastEvent, p.State, p.Reason, p.Custodian, p.Transit
			s.By = p.Custodian
			if p.StateChangedAt.Equal(e.Timestamp) {
				s.By = p.StateChangedBy
			}
			if p.Transit != nil && p.LastEvent == trace.TxShip {
				s.By = p.Transit.From
			}
		} else {
			s.Event = "deleted"
		}
		out = append(out, s)
	}
	return out
}

//go:embed suspect.html.tmpl
var suspectHTML string

var suspectTemplate = template.Must(template.New("suspect").Funcs(template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 MST")
	},
	"party": func(p trace.Party) string {
		switch {
		case p.MSP == "" && p.GLN == "":
			return "—"
		case p.GLN == "":
			return p.MSP
		}
		return p.MSP + " (GLN " + p.GLN + ")"
	},
	"problemTypes": func() []ProblemType { return ProblemTypes },
}).Parse(suspectHTML))

// RenderHTML writes the report as a printable, self-contained HTML page
// (inline CSS, no scripts, no external resources).
func RenderHTML(w io.Writer, r SuspectReport) error {
	return suspectTemplate.Execute(w, r)
}
