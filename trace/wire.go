package trace

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of the wire format (the chaincode may configure lower ones).
const (
	// DefaultMaxCommission is the default number of serials one
	// CommissionPacks transaction may carry (see chaincode Config).
	DefaultMaxCommission = 5000
	// HardMaxCommission is the most any configuration may allow.
	HardMaxCommission = 10000
	// MaxShipmentPacks caps the packs of one shipment (SSCC contents
	// included) and of one receipt.
	MaxShipmentPacks = 5000
	// MaxShipmentSSCCs caps the SSCCs of one shipment or receipt.
	MaxShipmentSSCCs = 500
	// MaxAggregationPacks caps the packs of one SSCC.
	MaxAggregationPacks = 1000
	// DefaultPageSize and MaxPageSize bound list queries.
	DefaultPageSize = 50
	MaxPageSize     = 200
	// DefaultHistory and MaxHistory bound GetPackHistory.
	DefaultHistory = 50
	MaxHistory     = 200
	// MaxWarnings caps the scanner warnings of one scan.
	MaxWarnings = 16

	maxIDLen      = 64
	maxNameLen    = 128
	maxReasonLen  = 256
	maxCommentLen = 1024
)

// Request is implemented by every request type.
type Request interface {
	Validate() error
}

// WriteRequest is implemented by every write transaction's request type.
type WriteRequest interface {
	Request
	ID() string
}

// RequestHeader carries the client-chosen request ID of a write: a retry
// with the same ID returns the original outcome and writes nothing twice.
type RequestHeader struct {
	RequestID string `json:"requestId"`
}

// ID returns the request ID.
func (h *RequestHeader) ID() string { return h.RequestID }

// SetID sets the request ID.
func (h *RequestHeader) SetID(id string) { h.RequestID = id }

func (h *RequestHeader) checkHeader() error { return checkID("requestId", h.RequestID) }

// CheckID validates an identifier (request, shipment, anomaly ID): 1-64
// characters of [A-Za-z0-9._:-].
func CheckID(s string) error { return checkID("id", s) }

// checkID validates an identifier: 1-64 characters of [A-Za-z0-9._:-].
func checkID(name, s string) error {
	if s == "" {
		return Invalid(name, "is empty")
	}
	if len(s) > maxIDLen {
		return Invalid(name, "%q is longer than %d characters", s, maxIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return Invalid(name, "%q may only contain letters, digits and . _ : -", s)
		}
	}
	return nil
}

// checkText validates free text: valid UTF-8, no control characters, at
// most max bytes; required says whether it may be empty.
func checkText(name, s string, max int, required bool) error {
	if s == "" {
		if required {
			return Invalid(name, "is empty")
		}
		return nil
	}
	if len(s) > max {
		return Invalid(name, "is longer than %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return Invalid(name, "is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return Invalid(name, "%q contains a control character", s)
		}
	}
	return nil
}

func checkMSP(name, s string) error { return checkID(name, s) }

// validate checks a party (MSP ID and GLN, both required).
func (p Party) validate(name string) error {
	if err := checkMSP(sub(name, "msp"), p.MSP); err != nil {
		return err
	}
	return field(sub(name, "gln"), CheckGLN(p.GLN))
}

// sub names field f of the object at path name ("" for the top level).
func sub(name, f string) string {
	if name == "" {
		return f
	}
	return name + "." + f
}

func (r PackRef) validate(name string) error {
	if err := field(sub(name, "gtin"), CheckGTIN(r.GTIN)); err != nil {
		return err
	}
	return field(sub(name, "serial"), CheckSerial(r.Serial))
}

func (r LotRef) validate(name string) error {
	if err := field(sub(name, "gtin"), CheckGTIN(r.GTIN)); err != nil {
		return err
	}
	return field(sub(name, "lot"), CheckLot(r.Lot))
}

// checkPackRefs validates a list of pack references (no duplicates).
func checkPackRefs(name string, refs []PackRef, max int) error {
	if len(refs) > max {
		return Invalid(name, "%d packs exceed the limit of %d", len(refs), max)
	}
	seen := make(map[PackRef]int, len(refs))
	for i, r := range refs {
		n := fmt.Sprintf("%s[%d]", name, i)
		if err := r.validate(n); err != nil {
			return err
		}
		if j, dup := seen[r]; dup {
			return Invalid(n, "duplicate of %s[%d] (%s/%s)", name, j, r.GTIN, r.Serial)
		}
		seen[r] = i
	}
	return nil
}

func checkSSCCs(name string, ssccs []string) error {
	if len(ssccs) > MaxShipmentSSCCs {
		return Invalid(name, "%d SSCCs exceed the limit of %d", len(ssccs), MaxShipmentSSCCs)
	}
	seen := make(map[string]int, len(ssccs))
	for i, s := range ssccs {
		n := fmt.Sprintf("%s[%d]", name, i)
		if err := field(n, CheckSSCC(s)); err != nil {
			return err
		}
		if j, dup := seen[s]; dup {
			return Invalid(n, "duplicate of %s[%d] (%s)", name, j, s)
		}
		seen[s] = i
	}
	return nil
}

func checkWarnings(name string, ws []string) error {
	if len(ws) > MaxWarnings {
		return Invalid(name, "%d warnings exceed the limit of %d", len(ws), MaxWarnings)
	}
	for i, w := range ws {
		if !slices.Contains(WarningKinds, w) {
			return Invalid(fmt.Sprintf("%s[%d]", name, i), "%q is not a scanner warning kind (%s)", w, strings.Join(WarningKinds, ", "))
		}
	}
	return nil
}

// Scanner warning kinds, as package gs1 names them (WarningKind.String; a
// test keeps them in step). They are recorded with a finding as the
// scanner's claim; they do not change its classification (only ledger
// evidence does: see ScanFinding).
const (
	WarnDroppedGS      = "dropped-separator"
	WarnCapsLock       = "caps-lock"
	WarnKeyboardLayout = "keyboard-layout"
)

// WarningKinds lists the scanner warning kinds a request may carry.
var WarningKinds = []string{WarnDroppedGS, WarnCapsLock, WarnKeyboardLayout}

// Scan is a pack's data as scanned from its 2D code, already parsed, plus
// the parser's warnings.
type Scan struct {
	GTIN     string   `json:"gtin"`
	Serial   string   `json:"serial"`
	Lot      string   `json:"lot"`
	Expiry   string   `json:"expiry"` // YYMMDD
	Warnings []string `json:"warnings,omitempty"`
}

// Ref returns the pack reference of the scan.
func (s Scan) Ref() PackRef { return PackRef{GTIN: s.GTIN, Serial: s.Serial} }

func (s Scan) check() error {
	if err := field("gtin", CheckGTIN(s.GTIN)); err != nil {
		return err
	}
	if err := field("serial", CheckSerial(s.Serial)); err != nil {
		return err
	}
	if err := field("lot", CheckLot(s.Lot)); err != nil {
		return err
	}
	if err := field("expiry", CheckExpiry(s.Expiry)); err != nil {
		return err
	}
	return checkWarnings("warnings", s.Warnings)
}

// ---- master data ----

// RegisterProductRequest registers a GTIN (manufacturer owning its company prefix).
type RegisterProductRequest struct {
	RequestHeader
	GTIN     string `json:"gtin"`
	Name     string `json:"name"`
	Form     string `json:"form"`
	Strength string `json:"strength"`
	PackSize int    `json:"packSize"`
	NHRN     string `json:"nhrn,omitempty"`
}

// Validate checks the request.
func (r *RegisterProductRequest) Validate() error {
	if err := r.checkHeader(); err != nil {
		return err
	}
	if err := field("gtin", CheckGTIN(r.GTIN)); err != nil {
		return err
	}
	for _, f := range []struct{ n, v string }{{"name", r.Name}, {"form", r.Form}, {"strength", r.Strength}} {
		if err := checkText(f.n, f.v, maxNameLen, true); err != nil {
			return err
		}
	}
	if r.PackSize < 1 || r.PackSize > 100000 {
		return Invalid("packSize", "%d is not between 1 and 100000", r.PackSize)
	}
	if r.NHRN != "" {
		return checkID("nhrn", r.NHRN)
	}
	return nil
}

// ProductResult is the result of RegisterProduct.
type ProductResult struct {
	Outcome `json:"outcome"`
	Product *Product `json:"product,omitempty"`
}

// RegisterLotRequest registers a lot of a registered product.
type RegisterLotRequest struct {
	RequestHeader
	GTIN   string    `json:"gtin"`
	Lot    string    `json:"lot"`
	Expiry string    `json:"expiry"`
	Status LotStatus `json:"status,omitempty"` // released (default) or quarantined
}

// Validate checks the request.
func (r *RegisterLotRequest) Validate() error {
	if err := r.checkHeader(); err != nil {
		return err
	}
	if err := (LotRef{GTIN: r.GTIN, Lot: r.Lot}).validate(""); err != nil {
		return err
	}
	if err := field("expiry", CheckExpiry(r.Expiry)); err != nil {
		return err
	}
	if r.Status != "" && r.Status != LotReleased && r.Status != LotQuarantined {
		return Invalid("status", "%q is not released or quarantined", r.Status)
	}
	return nil
}

// LotResult is the result of RegisterLot, ReleaseLot, RecallLot and WithdrawLot.
type LotResult struct {
	Outcome `json:"outcome"`
	Lot     *Lot `json:"lot,omitempty"`
}

// LotStatusRequest asks RecallLot, WithdrawLot or ReleaseLot to change a
// lot's status. Reason (free text without personal data) is required for
// recall and withdrawal.
type LotStatusRequest struct {
	RequestHeader
	GTIN   string `json:"gtin"`
	Lot    string `json:"lot"`
	Reason string `json:"reason,omitempty"`
}

// Validate checks the request.
func (r *LotStatusRequest) Validate() error {
	if err := r.checkHeader(); err != nil {
		return err
	}
	if err := (LotRef{GTIN: r.GTIN, Lot: r.Lot}).validate(""); err != nil {
		return err
	}
	return checkText("reason", r.Reason, maxReasonLen, false)
}

// ---- packs ----

// CommissionPacksRequest commissions serials of one lot (created on the fly,
// released, when not registered yet).
type CommissionPacksRequest struct {
	RequestHeader
	GTIN    string   `json:"gtin"`
	Lot     string   `json:"lot"`
	Expiry  string   `json:"expiry"`
	Serials []string `json:"serials"`
}

// Validate checks the request (the count limit is the chaincode's).
func (r *CommissionPacksRequest) Validate() error {
	if err := r.checkHeader(); err != nil {
		return err
	}
	if err := (LotRef{GTIN: r.GTIN, Lot: r.Lot}).validate(""); err != nil {
		return err
	}
	if err := field("expiry", CheckExpiry(r.Expiry)); err != nil {
		return err
	}
	if len(r.Serials) == 0 {
		return Invalid("serials", "is empty")
	}
	if len(r.Serials) > HardMaxCommission {
		return Invalid("serials", "%d serials exceed the limit of %d per transaction", len(r.Serials), HardMaxCommission)
	}
	seen := make(map[string]int, len(r.Serials))
	for i, s := range r.Serials {
		if err := CheckSerial(s); err != nil {
			return Invalid(fmt.Sprintf("serials[%d]", i), "%s", err.Error())
		}
		if j, dup := seen[s]; dup {
			return Invalid(fmt.Sprintf("serials[%d]", i), "%q duplicates serials[%d]", s, j)
		}
		seen[s] = i
	}
	return nil
}

// CommissionPacksResult is the result of CommissionPacks.
type CommissionPacksResult struct {
	Outcome      `json:"outcome"`
	Lot          *Lot `json:"lot,omitempty"`
	Commissioned int  `json:"commissioned"`
}

// PackProblem explains why one pack of a multi-pack request was refused.
type PackProblem struct {
	Pack    PackRef `json:"pack"`
	Code    Code    `json:"code"`
	Message string  `json:"message"`
}

// AggregateRequest packs loose packs the caller holds into a new SSCC.
type AggregateRequest struct {
	RequestHeader
	SSCC  string    `json:"sscc"`
	Packs []PackRef `json:"packs"`
}

// Validate checks the request.
func (r *AggregateRequest) Validate() error {
	if err := r.checkHeader(); err != nil {
		return err
	}
	if err := field("sscc", CheckSSCC(r.SSCC)); err != nil {
		return err
	}
	if len(r.Packs) == 0 {
		return Invalid("packs", "is empty")
	}
	return checkPackRefs("packs", r.Packs, MaxAggregationPacks)
}

// AggregateResult is the result of Aggregate.
type AggregateResult struct {
	Outcome     `json:"outcome"`
	Aggregation *Aggregation  `json:"aggregation,omitempty"`
	Problems    []PackProblem `json:"problems,omitempty"`
}

// ShipRequest ships packs and/or SSCCs the caller holds to a party.
// ShipmentID is optional (derived from the transaction ID when empty).
type ShipRequest struct {
	RequestHeader
	ShipmentID string    `json:"shipmentId,omitempty"`
	To         Party     `json:"to"`
	Packs      []PackRef `json:"packs,omitempty"`
	SSCCs      []string  `json:"ssccs,omitempty"`
}

// Validate checks the request.
func (r *ShipRequest) Validate() error {
	if err := r.checkHeader(); err != nil {
		return err
	}
	if r.ShipmentID != "" {
		if err := checkID("shipmentId", r.ShipmentID); err != nil {
			return err
		}
	}
	if err := r.To.validate("to"); err != nil {
		return err
	}
	if len(r.Packs) == 0 && len(r.SSCCs) == 0 {
		return Invalid("packs", "a shipment needs packs or ssccs")
	}
	if err := checkPackRefs("packs", r.Packs, MaxShipmentPacks); err != nil {
		return err
	}
	return checkSSCCs("ssccs", r.SSCCs)
}

// ShipmentResult is the result of Ship.
type ShipmentResult struct {
	Outcome  `json:"outcome"`
	Shipment *Shipment     `json:"shipment,omitempty"`
	Problems []PackProblem `json:"problems,omitempty"`
}

// ReceiveRequest records the receipt of a shipment: the packs and SSCCs
// scanned on arrival at the caller's site, and the scanner's warnings.
type ReceiveRequest struct {
	RequestHeader
	ShipmentID string    `json:"shipmentId"`
	Packs      []PackRef `json:"packs,omitempty"`
	SSCCs      []string  `json:"ssccs,omitempty"`
	Warnings   []string  `json:"warnings,omitempty"`
}

// Validate checks the request.
func (r *ReceiveRequest) Validate() error {
	if err := r.checkHeader(); err != nil {
		return err
	}
	if err := checkID("shipmentId", r.ShipmentID); err != nil {
		return err
	}
	if len(r.Packs) == 0 && len(r.SSCCs) == 0 {
		return Invalid("packs", "a receipt needs scanned packs or ssccs")
	}
	if err := checkPackRefs("packs", r.Packs, MaxShipmentPacks); err != nil {
		return err
	}
	if err := checkSSCCs("ssccs", r.SSCCs); err != nil {
		return err
	}
	return checkWarnings("warnings", r.Warnings)
}

// ReceiveResult is the result of Receive.
type ReceiveResult struct {
	Outcome    `json:"outcome"`
	Shipment   *Shipment     `json:"shipment,omitempty"`
	Received   int           `json:"received"`
	Missing    []PackRef     `json:"missing,omitempty"`
	Unexpected []PackRef     `json:"unexpected,omitempty"`
	Problems   []PackProblem `json:"problems,omitempty"`
}

// ScanRequest is the request of Dispense, Undo and ReportScan: one scanned pack.
type ScanRequest struct {
	RequestHeader
	Scan
}

// Validate checks the request.
func (r *ScanRequest) Validate() error {
	if err := r.checkHeader(); err != nil {
		return err
	}
	return r.Scan.check()
}

// DecommissionRequest sets a scanned pack inactive for a reason.
type DecommissionRequest struct {
	RequestHeader
	Scan
	Reason Reason `json:"reason"`
}

// Validate checks the request.
func (r *DecommissionRequest) Validate() error {
	if err := r.checkHeader(); err != nil {
		return err
	}
	if err := r.Scan.check(); err != nil {
		return err
	}
	for _, x := range DecommissionReasons {
		if r.Reason == x {
			return nil
		}
	}
	if r.Reason == ReasonDispensed {
		return Invalid("reason", "use Dispense to dispense a pack")
	}
	return Invalid("reason", "%q is not one of destroyed, stolen, exported, sample, free_sample, locked, checked_out", r.Reason)
}

// PackStatus is the verification view of a pack: what any party may learn by
// scanning it.
type PackStatus struct {
	GTIN           string    `json:"gtin"`
	Serial         string    `json:"serial"`
	Lot            string    `json:"lot"`
	Expiry         string    `json:"expiry"`
	State          PackState `json:"state"`
	Reason         Reason    `json:"reason,omitempty"`
	LotStatus      LotStatus `json:"lotStatus"`
	Expired        bool      `json:"expired"`
	StateChangedAt time.Time `json:"stateChangedAt"`
}

// ScanResult is the result of Dispense, Decommission, Undo and ReportScan
// (the recorded anomalies are listed in Outcome.Anomalies).
type ScanResult struct {
	Outcome `json:"outcome"`
	Pack    *PackStatus `json:"pack,omitempty"`
}

// VerifyRequest is the query of Verify: one scanned pack.
type VerifyRequest struct {
	Scan
}

// Validate checks the request.
func (r *VerifyRequest) Validate() error { return r.Scan.check() }

// VerifyResult is the result of Verify: the outcome (ok: the pack may be
// supplied), the pack's status and the findings a ReportScan would record.
type VerifyResult struct {
	Outcome  `json:"outcome"`
	Pack     *PackStatus `json:"pack,omitempty"`
	Findings []Finding   `json:"findings,omitempty"`
}

// Alert reports whether the verification failed with findings that must be
// recorded on the ledger (ReportScan): Delegated Regulation 2016/161 Art.
// 36(b) — every failed verification raises an alert, whoever asked.
func (r *VerifyResult) Alert() bool { return !r.OK() && len(r.Findings) > 0 }

// ---- anomalies ----

// FlagAnomalyRequest records an anomaly by hand (regulator).
type FlagAnomalyRequest struct {
	RequestHeader
	Code           AnomalyCode    `json:"code"`
	Severity       Severity       `json:"severity"`
	Classification Classification `json:"classification"`
	Pack           *PackRef       `json:"pack,omitempty"`
	Lot            *LotRef        `json:"lot,omitempty"`
	Shipment       string         `json:"shipment,omitempty"`
	Site           string         `json:"site,omitempty"` // GLN
	Message        string         `json:"message"`
}

// Validate checks the request.
func (r *FlagAnomalyRequest) Validate() error {
	if err := r.checkHeader(); err != nil {
		return err
	}
	if !oneOf(r.Code, AnomalyCodes) {
		return Invalid("code", "%q is not an anomaly code", r.Code)
	}
	if !oneOf(r.Severity, Severities) {
		return Invalid("severity", "%q is not low, medium, high or critical", r.Severity)
	}
	if !oneOf(r.Classification, Classifications) {
		return Invalid("classification", "%q is not a classification", r.Classification)
	}
	if r.Pack != nil {
		if err := r.Pack.validate("pack"); err != nil {
			return err
		}
	}
	if r.Lot != nil {
		if err := r.Lot.validate("lot"); err != nil {
			return err
		}
	}
	if r.Shipment != "" {
		if err := checkID("shipment", r.Shipment); err != nil {
			return err
		}
	}
	if r.Site != "" {
		if err := field("site", CheckGLN(r.Site)); err != nil {
			return err
		}
	}
	return checkText("message", r.Message, maxCommentLen, true)
}

// TransitionAnomalyRequest moves an anomaly along its workflow (regulator).
type TransitionAnomalyRequest struct {
	RequestHeader
	AnomalyID string        `json:"anomalyId"`
	To        AnomalyStatus `json:"to"`
	Reason    CloseReason   `json:"reason,omitempty"`
	Comment   string        `json:"comment,omitempty"`
}

// Validate checks the request.
func (r *TransitionAnomalyRequest) Validate() error {
	if err := r.checkHeader(); err != nil {
		return err
	}
	if err := checkID("anomalyId", r.AnomalyID); err != nil {
		return err
	}
	if r.To != AnomalyInvestigating && r.To != AnomalyEscalated && r.To != AnomalyClosed {
		return Invalid("to", "%q is not investigating, escalated or closed", r.To)
	}
	if r.Reason != "" && !oneOf(r.Reason, CloseReasons) {
		return Invalid("reason", "%q is not a close reason", r.Reason)
	}
	return checkText("comment", r.Comment, maxCommentLen, false)
}

// CommentAnomalyRequest adds a comment to an anomaly (regulator, or the
// organisation that reported it).
type CommentAnomalyRequest struct {
	RequestHeader
	AnomalyID string `json:"anomalyId"`
	Comment   string `json:"comment"`
}

// Validate checks the request.
func (r *CommentAnomalyRequest) Validate() error {
	if err := r.checkHeader(); err != nil {
		return err
	}
	if err := checkID("anomalyId", r.AnomalyID); err != nil {
		return err
	}
	return checkText("comment", r.Comment, maxCommentLen, true)
}

// AnomalyResult is the result of FlagAnomaly, TransitionAnomaly and CommentAnomaly.
type AnomalyResult struct {
	Outcome `json:"outcome"`
	Anomaly *Anomaly `json:"anomaly,omitempty"`
}

func oneOf[T comparable](v T, list []T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// ---- queries ----

// ProductQuery names a product.
type ProductQuery struct {
	GTIN string `json:"gtin"`
}

// Validate checks the query.
func (q *ProductQuery) Validate() error { return field("gtin", CheckGTIN(q.GTIN)) }

// GetProductResult is the result of GetProduct.
type GetProductResult struct {
	Product Product `json:"product"`
}

// PackQuery names a pack.
type PackQuery struct {
	GTIN   string `json:"gtin"`
	Serial string `json:"serial"`
}

// Validate checks the query.
func (q *PackQuery) Validate() error { return PackRef{GTIN: q.GTIN, Serial: q.Serial}.validate("") }

// GetPackResult is the result of GetPack.
type GetPackResult struct {
	Pack Pack `json:"pack"`
}

// PackHistoryQuery names a pack and how many history entries to return
// (newest first; default DefaultHistory, at most MaxHistory).
type PackHistoryQuery struct {
	GTIN   string `json:"gtin"`
	Serial string `json:"serial"`
	Limit  int    `json:"limit,omitempty"`
}

// Validate checks the query.
func (q *PackHistoryQuery) Validate() error {
	if err := (PackRef{GTIN: q.GTIN, Serial: q.Serial}).validate(""); err != nil {
		return err
	}
	if q.Limit < 0 || q.Limit > MaxHistory {
		return Invalid("limit", "%d is not between 0 and %d", q.Limit, MaxHistory)
	}
	return nil
}

// PackHistoryEntry is one committed version of a pack.
type PackHistoryEntry struct {
	TxID      string    `json:"txId"`
	Timestamp time.Time `json:"timestamp"`
	Deleted   bool      `json:"deleted,omitempty"`
	Pack      *Pack     `json:"pack,omitempty"`
}

// PackHistoryResult is the result of GetPackHistory, newest first.
// Truncated is set when older entries exist beyond the limit.
type PackHistoryResult struct {
	Entries   []PackHistoryEntry `json:"entries"`
	Truncated bool               `json:"truncated"`
}

// LotQuery names a lot.
type LotQuery struct {
	GTIN string `json:"gtin"`
	Lot  string `json:"lot"`
}

// Validate checks the query.
func (q *LotQuery) Validate() error { return LotRef{GTIN: q.GTIN, Lot: q.Lot}.validate("") }

// GetLotResult is the result of GetLot.
type GetLotResult struct {
	Lot Lot `json:"lot"`
}

// ShipmentQuery names a shipment.
type ShipmentQuery struct {
	ID string `json:"id"`
}

// Validate checks the query.
func (q *ShipmentQuery) Validate() error { return checkID("id", q.ID) }

// GetShipmentResult is the result of GetShipment.
type GetShipmentResult struct {
	Shipment Shipment `json:"shipment"`
}

// AnomalyQuery names an anomaly.
type AnomalyQuery struct {
	ID string `json:"id"`
}

// Validate checks the query.
func (q *AnomalyQuery) Validate() error { return checkID("id", q.ID) }

// GetAnomalyResult is the result of GetAnomaly.
type GetAnomalyResult struct {
	Anomaly Anomaly `json:"anomaly"`
}

// RequestQuery names one of the caller organisation's request IDs.
type RequestQuery struct {
	RequestID string `json:"requestId"`
}

// Validate checks the query.
func (q *RequestQuery) Validate() error { return checkID("requestId", q.RequestID) }

// GetRequestResult is the result of GetRequest: whether the request ID was
// committed, and if so its record (including the original result JSON).
type GetRequestResult struct {
	Found   bool           `json:"found"`
	Request *RequestRecord `json:"request,omitempty"`
}

func checkPage(size int, bookmark string) error {
	if size < 0 || size > MaxPageSize {
		return Invalid("pageSize", "%d is not between 0 and %d", size, MaxPageSize)
	}
	if len(bookmark) > 1024 {
		return Invalid("bookmark", "is too long")
	}
	return nil
}

// ListAnomaliesQuery lists anomalies in ID (time) order, one bounded page at
// a time. Empty filters match everything. A page may hold fewer than
// PageSize anomalies when filters other than Status apply; continue while
// Bookmark is not empty.
type ListAnomaliesQuery struct {
	Status         AnomalyStatus  `json:"status,omitempty"`
	Classification Classification `json:"classification,omitempty"`
	Severity       Severity       `json:"severity,omitempty"`
	Code           AnomalyCode    `json:"code,omitempty"`
	GTIN           string         `json:"gtin,omitempty"`
	Lot            string         `json:"lot,omitempty"`
	// Owned lists, for a manufacturer, the anomalies about its own
	// products (reported by anyone) instead of those its organisation
	// reported.
	Owned    bool   `json:"owned,omitempty"`
	PageSize int    `json:"pageSize,omitempty"`
	Bookmark string `json:"bookmark,omitempty"`
}

// Validate checks the query.
func (q *ListAnomaliesQuery) Validate() error {
	if q.Status != "" && !oneOf(q.Status, AnomalyStatuses) {
		return Invalid("status", "%q is not an anomaly status", q.Status)
	}
	if q.Classification != "" && !oneOf(q.Classification, Classifications) {
		return Invalid("classification", "%q is not a classification", q.Classification)
	}
	if q.Severity != "" && !oneOf(q.Severity, Severities) {
		return Invalid("severity", "%q is not a severity", q.Severity)
	}
	if q.Code != "" && !oneOf(q.Code, AnomalyCodes) {
		return Invalid("code", "%q is not an anomaly code", q.Code)
	}
	if q.GTIN != "" {
		if err := field("gtin", CheckGTIN(q.GTIN)); err != nil {
			return err
		}
	}
	if q.Lot != "" {
		if err := field("lot", CheckLot(q.Lot)); err != nil {
			return err
		}
	}
	return checkPage(q.PageSize, q.Bookmark)
}

// ListAnomaliesResult is one page of anomalies; an empty Bookmark means the
// last page.
type ListAnomaliesResult struct {
	Anomalies []Anomaly `json:"anomalies"`
	Bookmark  string    `json:"bookmark,omitempty"`
}

// ListPacksByLotQuery lists a lot's packs in serial order, one bounded page
// at a time, optionally filtered by state.
type ListPacksByLotQuery struct {
	GTIN     string    `json:"gtin"`
	Lot      string    `json:"lot"`
	State    PackState `json:"state,omitempty"`
	PageSize int       `json:"pageSize,omitempty"`
	Bookmark string    `json:"bookmark,omitempty"`
}

// Validate checks the query.
func (q *ListPacksByLotQuery) Validate() error {
	if err := (LotRef{GTIN: q.GTIN, Lot: q.Lot}).validate(""); err != nil {
		return err
	}
	if q.State != "" && q.State != StateActive && q.State != StateInactive && q.State != StateInTransit {
		return Invalid("state", "%q is not active, inactive or in_transit", q.State)
	}
	return checkPage(q.PageSize, q.Bookmark)
}

// ListPacksByLotResult is one page of packs; an empty Bookmark means the
// last page.
type ListPacksByLotResult struct {
	Packs    []Pack `json:"packs"`
	Bookmark string `json:"bookmark,omitempty"`
}

// ---- events ----

// Commissioned is the compact description of the packs of one
// CommissionPacks transaction: every serial got the same pack record apart
// from its serial (state active, custodian the manufacturer's site, the
// lot's expiry, timestamps = the event's timestamp).
type Commissioned struct {
	GTIN      string    `json:"gtin"`
	Lot       string    `json:"lot"`
	Expiry    string    `json:"expiry"`
	State     PackState `json:"state"`
	Custodian Party     `json:"custodian"`
	Serials   []string  `json:"serials"`
}

// Packs expands the compact description into the pack records as stored.
func (c *Commissioned) Packs(txID string, at time.Time) []Pack {
	out := make([]Pack, len(c.Serials))
	for i, s := range c.Serials {
		out[i] = Pack{GTIN: c.GTIN, Serial: s, Lot: c.Lot, Expiry: c.Expiry, State: c.State, Custodian: c.Custodian,
			StateChangedBy: c.Custodian, StateChangedAt: at, LastEvent: TxCommissionPacks, LastTx: txID,
			CommissionedAt: at, UpdatedAt: at}
	}
	return out
}

// Event is the payload of the single chaincode event of a write transaction
// (event name = Type = the transaction name). It carries the full new
// version of every record the transaction changed, so a read model applies
// it without reading the ledger; CommissionPacks carries Commissioned
// instead of the pack records. A retried request ID emits no event.
type Event struct {
	Type         string        `json:"type"`
	TxID         string        `json:"txId"`
	Timestamp    time.Time     `json:"timestamp"`
	RequestID    string        `json:"requestId"`
	Actor        Actor         `json:"actor"`
	Outcome      Outcome       `json:"outcome"`
	Products     []Product     `json:"products,omitempty"`
	Lots         []Lot         `json:"lots,omitempty"`
	Packs        []Pack        `json:"packs,omitempty"`
	Commissioned *Commissioned `json:"commissioned,omitempty"`
	Aggregations []Aggregation `json:"aggregations,omitempty"`
	Shipments    []Shipment    `json:"shipments,omitempty"`
	Anomalies    []Anomaly     `json:"anomalies,omitempty"`
	// Contract is the chaincode definition version ("1.1.0+<build>") of
	// the contract that wrote the transaction (empty before 1.1.0). It is
	// part of every endorsement, so endorsers running different builds
	// cannot agree on a write.
	Contract string `json:"contract,omitempty"`
	// Private names the collection that holds the full event when this is
	// the public stub of a routed transaction's event (see Event.Public).
	Private string `json:"private,omitempty"`
}

// ContractInfo is what the probe contract's Version query returns: which
// contract the answering peer's chaincode server runs. Evaluate it on the
// peer in question; the package ID is that organisation's own.
type ContractInfo struct {
	Version     string `json:"version"`     // the contract's rules (semver)
	Build       string `json:"build"`       // 12 hex digits of the server binary's SHA-256
	Definition  string `json:"definition"`  // chaincode definition version: version+build
	StateLayout int    `json:"stateLayout"` // world-state record layout it writes
	PackageID   string `json:"packageId"`   // the CCaaS package the server was started for
}
