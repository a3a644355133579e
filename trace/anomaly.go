package trace

import (
	"fmt"
	"time"
)

// AnomalyCode names the rule that raised an anomaly.
type AnomalyCode string

// Anomaly codes.
const (
	AnomalyUnknownProduct        AnomalyCode = "UNKNOWN_PRODUCT"
	AnomalyUnknownBatch          AnomalyCode = "UNKNOWN_BATCH"
	AnomalyUnknownSerial         AnomalyCode = "UNKNOWN_SERIAL"
	AnomalyBatchMismatch         AnomalyCode = "BATCH_MISMATCH"
	AnomalyExpiryMismatch        AnomalyCode = "EXPIRY_MISMATCH"
	AnomalyAlreadyInState        AnomalyCode = "ALREADY_IN_STATE"
	AnomalyStatusChange          AnomalyCode = "STATUS_CHANGE_NOT_POSSIBLE"
	AnomalyClone                 AnomalyCode = "CLONE"
	AnomalyInactivePack          AnomalyCode = "INACTIVE_PACK_PRESENTED"
	AnomalyRecalledLot           AnomalyCode = "RECALLED_LOT"
	AnomalyWithdrawnLot          AnomalyCode = "WITHDRAWN_LOT"
	AnomalyQuarantinedLot        AnomalyCode = "QUARANTINED_LOT"
	AnomalyExpired               AnomalyCode = "EXPIRED_PACK"
	AnomalyCustodyMismatch       AnomalyCode = "CUSTODY_MISMATCH"
	AnomalyMovementAfterDispense AnomalyCode = "MOVEMENT_AFTER_DISPENSE"
	AnomalyDiversion             AnomalyCode = "DIVERSION"
	AnomalyShortage              AnomalyCode = "SHORTAGE"
	AnomalyUnexpectedPack        AnomalyCode = "UNEXPECTED_PACK"
	AnomalyUndoRefused           AnomalyCode = "UNDO_REFUSED"
	AnomalyManual                AnomalyCode = "MANUAL"
)

// AnomalyCodes lists every anomaly code in a fixed order.
var AnomalyCodes = []AnomalyCode{
	AnomalyUnknownProduct, AnomalyUnknownBatch, AnomalyUnknownSerial, AnomalyBatchMismatch,
	AnomalyExpiryMismatch, AnomalyAlreadyInState, AnomalyStatusChange, AnomalyClone,
	AnomalyInactivePack, AnomalyRecalledLot, AnomalyWithdrawnLot, AnomalyQuarantinedLot,
	AnomalyExpired, AnomalyCustodyMismatch, AnomalyMovementAfterDispense, AnomalyDiversion,
	AnomalyShortage, AnomalyUnexpectedPack, AnomalyUndoRefused, AnomalyManual,
}

// Severity of an anomaly.
type Severity string

// Severities, lowest first.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Severities lists the severities, lowest first.
var Severities = []Severity{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// Classification is the probable cause of an anomaly.
type Classification string

// Classifications.
const (
	ClassCounterfeit  Classification = "probable-counterfeit"
	ClassScannerFault Classification = "probable-scanner-fault"
	ClassDiversion    Classification = "diversion"
	ClassProcess      Classification = "process"
)

// Classifications lists the classifications in a fixed order.
var Classifications = []Classification{ClassCounterfeit, ClassScannerFault, ClassDiversion, ClassProcess}

// AnomalyStatus is the regulator's workflow status of an anomaly.
type AnomalyStatus string

// Workflow statuses: new → investigating → escalated → closed.
const (
	AnomalyNew           AnomalyStatus = "new"
	AnomalyInvestigating AnomalyStatus = "investigating"
	AnomalyEscalated     AnomalyStatus = "escalated"
	AnomalyClosed        AnomalyStatus = "closed"
)

// AnomalyStatuses lists the workflow statuses in order.
var AnomalyStatuses = []AnomalyStatus{AnomalyNew, AnomalyInvestigating, AnomalyEscalated, AnomalyClosed}

// CloseReason is the reason code required to close an anomaly.
type CloseReason string

// Close reasons.
const (
	CloseFalsePositive        CloseReason = "false_positive"
	CloseScannerFault         CloseReason = "scanner_fault"
	CloseProcessError         CloseReason = "process_error"
	CloseConfirmedCounterfeit CloseReason = "confirmed_counterfeit"
	CloseConfirmedDiversion   CloseReason = "confirmed_diversion"
	CloseResolved             CloseReason = "resolved"
)

// CloseReasons lists the close reasons in a fixed order.
var CloseReasons = []CloseReason{CloseFalsePositive, CloseScannerFault, CloseProcessError, CloseConfirmedCounterfeit, CloseConfirmedDiversion, CloseResolved}

// MaxEvidencePacks caps the pack references kept in one anomaly's evidence
// (Evidence.PackCount keeps the full number).
const MaxEvidencePacks = 100

// Evidence is what a rule saw when it raised an anomaly. It never holds
// personal data.
type Evidence struct {
	Message string `json:"message"`
	// Scan is the data as scanned (GTIN, serial, lot, expiry, scanner warnings).
	Scan *Scan `json:"scan,omitempty"`
	// NearMiss lists existing serials (or lots) that differ from the scanned
	// one only by letter case or a Y/Z swap.
	NearMiss []string `json:"nearMiss,omitempty"`
	// Expected and Found name the ledger value and the presented value.
	Expected string `json:"expected,omitempty"`
	Found    string `json:"found,omitempty"`
	// Counterpart is the other party involved: custodian, the site that
	// dispensed a clone, the shipment's destination...
	Counterpart *Party    `json:"counterpart,omitempty"`
	Packs       []PackRef `json:"packs,omitempty"`
	PackCount   int       `json:"packCount,omitempty"`
}

// AnomalyTransition is one step of an anomaly's workflow (creation included).
type AnomalyTransition struct {
	From    AnomalyStatus `json:"from,omitempty"`
	To      AnomalyStatus `json:"to"`
	Reason  CloseReason   `json:"reason,omitempty"`
	Comment string        `json:"comment,omitempty"`
	By      Actor         `json:"by"`
	At      time.Time     `json:"at"`
	TxID    string        `json:"txId"`
}

// Anomaly is a committed record of something the regulator must see.
type Anomaly struct {
	ID             string         `json:"id"`
	Code           AnomalyCode    `json:"code"`
	Alert          Code           `json:"alert,omitempty"`
	Severity       Severity       `json:"severity"`
	Classification Classification `json:"classification"`
	Pack           *PackRef       `json:"pack,omitempty"`
	Lot            *LotRef        `json:"lot,omitempty"`
	Shipment       string         `json:"shipment,omitempty"`
	Site           string         `json:"site,omitempty"` // GLN where it was detected
	ReportedBy     Actor          `json:"reportedBy"`
	// ProductOwner is the MSP that owns the anomaly's product (the
	// marketing authorisation holder's organisation), which reads every
	// anomaly about its products; empty when the product is unknown.
	ProductOwner string              `json:"productOwner,omitempty"`
	Transaction  string              `json:"transaction"`
	TxID         string              `json:"txId"`
	Evidence     Evidence            `json:"evidence"`
	Status       AnomalyStatus       `json:"status"`
	CloseReason  CloseReason         `json:"closeReason,omitempty"`
	Transitions  []AnomalyTransition `json:"transitions"`
	CreatedAt    time.Time           `json:"createdAt"`
	UpdatedAt    time.Time           `json:"updatedAt"`
}

// Finding is an anomaly a rule wants recorded, before it gets an ID.
type Finding struct {
	Code           AnomalyCode    `json:"code"`
	Alert          Code           `json:"alert,omitempty"`
	Severity       Severity       `json:"severity"`
	Classification Classification `json:"classification"`
	Pack           *PackRef       `json:"pack,omitempty"`
	Lot            *LotRef        `json:"lot,omitempty"`
	Shipment       string         `json:"shipment,omitempty"`
	Evidence       Evidence       `json:"evidence"`
}

// AnomalyID returns the deterministic ID of the index-th anomaly (from 0) of
// a transaction: "AN-" + UTC timestamp to the millisecond + "-" + the first
// 16 characters of the transaction ID + "-" + index. IDs sort by time.
func AnomalyID(txID string, ts time.Time, index int) string {
	id := txID
	if len(id) > 16 {
		id = id[:16]
	}
	return fmt.Sprintf("AN-%s-%s-%02d", ts.UTC().Format("20060102T150405.000Z"), id, index)
}

// NewAnomaly turns a finding into a new anomaly record.
func NewAnomaly(f Finding, id, transaction, txID string, by Actor, at time.Time) Anomaly {
	return Anomaly{
		ID: id, Code: f.Code, Alert: f.Alert, Severity: f.Severity, Classification: f.Classification,
		Pack: f.Pack, Lot: f.Lot, Shipment: f.Shipment, Site: by.GLN, ReportedBy: by,
		Transaction: transaction, TxID: txID, Evidence: f.Evidence, Status: AnomalyNew,
		Transitions: []AnomalyTransition{{To: AnomalyNew, By: by, At: at, TxID: txID}},
		CreatedAt:   at, UpdatedAt: at,
	}
}

// TransitionAnomaly applies one workflow step: new → investigating →
// escalated → closed; closing is allowed from any open status and needs a
// close reason; closed is final. It returns the updated anomaly or an
// ErrConflict / ErrInvalidRequest error.
func TransitionAnomaly(a Anomaly, to AnomalyStatus, reason CloseReason, comment string, by Actor, at time.Time, txID string) (Anomaly, error) {
	from := a.Status
	ok := false
	switch to {
	case AnomalyInvestigating:
		ok = from == AnomalyNew
	case AnomalyEscalated:
		ok = from == AnomalyInvestigating
	case AnomalyClosed:
		ok = from != AnomalyClosed
	}
	if !ok {
		return a, Conflict("anomaly %s cannot go from %s to %s", a.ID, from, to)
	}
	if to == AnomalyClosed && reason == "" {
		return a, Invalid("reason", "closing an anomaly needs a close reason")
	}
	if to != AnomalyClosed && reason != "" {
		return a, Invalid("reason", "a close reason is only allowed when closing")
	}
	a.Transitions = append(a.Transitions[:len(a.Transitions):len(a.Transitions)], AnomalyTransition{
		From: from, To: to, Reason: reason, Comment: comment, By: by, At: at, TxID: txID,
	})
	a.Status = to
	if to == AnomalyClosed {
		a.CloseReason = reason
	}
	a.UpdatedAt = at
	return a, nil
}

// CommentAnomaly appends a comment (a transition to the same status).
func CommentAnomaly(a Anomaly, comment string, by Actor, at time.Time, txID string) Anomaly {
	a.Transitions = append(a.Transitions[:len(a.Transitions):len(a.Transitions)], AnomalyTransition{
		From: a.Status, To: a.Status, Comment: comment, By: by, At: at, TxID: txID,
	})
	a.UpdatedAt = at
	return a
}

// NearMisses returns the variants of a scanned serial or lot that a scanner
// fault typically produces: letters case-inverted (CAPS LOCK), Y and Z
// swapped (QWERTZ/QWERTY keyboard layout), and both. The scanned value
// itself and duplicates are left out; the order is fixed.
func NearMisses(s string) []string {
	inv := mapBytes(s, func(c byte) byte {
		switch {
		case c >= 'a' && c <= 'z':
			return c - 'a' + 'A'
		case c >= 'A' && c <= 'Z':
			return c - 'A' + 'a'
		}
		return c
	})
	swapYZ := func(c byte) byte {
		switch c {
		case 'y':
			return 'z'
		case 'z':
			return 'y'
		case 'Y':
			return 'Z'
		case 'Z':
			return 'Y'
		}
		return c
	}
	var out []string
	for _, v := range []string{inv, mapBytes(s, swapYZ), mapBytes(inv, swapYZ)} {
		dup := v == s
		for _, o := range out {
			dup = dup || o == v
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

func mapBytes(s string, f func(byte) byte) string {
	b := []byte(s)
	for i := range b {
		b[i] = f(b[i])
	}
	return string(b)
}

// ScanFinding builds the finding for a scan that failed a data check (unknown
// product, batch or serial; batch or expiry mismatch). Scanner warnings or a
// near-miss match make it a probable scanner fault (low); otherwise it is a
// probable counterfeit.
func ScanFinding(code AnomalyCode, alert Code, scan Scan, nearMiss []string, ev Evidence) Finding {
	f := Finding{Code: code, Alert: alert, Evidence: ev}
	sc := scan
	f.Evidence.Scan = &sc
	f.Evidence.NearMiss = nearMiss
	// Only ledger evidence makes a failure a scanner fault: the warnings
	// are the client's own claim (kept in the evidence for the inspector).
	if len(nearMiss) > 0 {
		f.Classification, f.Severity = ClassScannerFault, SeverityLow
		return f
	}
	f.Classification = ClassCounterfeit
	switch code {
	case AnomalyUnknownProduct:
		f.Severity = SeverityMedium
	default:
		f.Severity = SeverityHigh
	}
	return f
}

// GroupFindings merges the findings of a multi-pack transaction (Aggregate,
// Ship, Receive) that share code, alert, severity, classification and
// shipment into one finding listing the packs (at most MaxEvidencePacks,
// PackCount holding the total), so that a 5,000-pack shipment raises a
// handful of anomalies, not thousands. Order: first occurrence.
func GroupFindings(fs []Finding) []Finding {
	type groupKey struct {
		code     AnomalyCode
		alert    Code
		sev      Severity
		class    Classification
		shipment string
	}
	var out []Finding
	at := map[groupKey]int{}
	for _, f := range fs {
		k := groupKey{f.Code, f.Alert, f.Severity, f.Classification, f.Shipment}
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			g := f
			g.Evidence.Packs = nil
			g.Evidence.PackCount = 0
			out = append(out, g)
			i = len(out) - 1
		}
		g := &out[i]
		refs := f.Evidence.Packs
		if f.Pack != nil && len(refs) == 0 {
			refs = []PackRef{*f.Pack}
		}
		n := f.Evidence.PackCount
		if n < len(refs) {
			n = len(refs)
		}
		for _, r := range refs {
			if len(g.Evidence.Packs) < MaxEvidencePacks {
				g.Evidence.Packs = append(g.Evidence.Packs, r)
			}
		}
		g.Evidence.PackCount += n
		if ok {
			if g.Pack != nil && (f.Pack == nil || *g.Pack != *f.Pack) {
				g.Pack = nil
			}
			if g.Lot != nil && (f.Lot == nil || *g.Lot != *f.Lot) {
				g.Lot = nil
			}
			if g.Evidence.Counterpart != nil && (f.Evidence.Counterpart == nil || *g.Evidence.Counterpart != *f.Evidence.Counterpart) {
				g.Evidence.Counterpart = nil
			}
		}
	}
	for i := range out {
		if out[i].Evidence.PackCount == 1 && out[i].Pack != nil {
			out[i].Evidence.Packs, out[i].Evidence.PackCount = nil, 0
		}
		if out[i].Evidence.PackCount > 1 {
			out[i].Evidence.Message = fmt.Sprintf("%d packs: %s", out[i].Evidence.PackCount, out[i].Evidence.Message)
		}
	}
	return out
}
