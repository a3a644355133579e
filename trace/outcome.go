package trace

// Code is a verification / status-change code returned in Outcome.Code,
// modelled on the alert codes of the EU medicines verification system.
type Code string

// Verification and status-change codes. The A-codes carry the number of the
// corresponding EU system alert; the lot and expiry codes are PharmaTrace's.
const (
	CodeNone                    Code = ""
	CodeUnknownProduct          Code = "A1"  // product code (GTIN) unknown
	CodeUnknownBatch            Code = "A2"  // batch unknown for the product
	CodeUnknownSerial           Code = "A3"  // serial number unknown for the product
	CodeAlreadyInState          Code = "A7"  // pack already in the requested state
	CodeStatusChangeNotPossible Code = "A24" // status change not possible
	CodeExpiryMismatch          Code = "A52" // scanned expiry differs from the ledger
	CodeBatchMismatch           Code = "A68" // scanned batch differs from the ledger
	CodeLotRecalled             Code = "LOT_RECALLED"
	CodeLotWithdrawn            Code = "LOT_WITHDRAWN"
	CodeLotQuarantined          Code = "LOT_QUARANTINED"
	CodeExpired                 Code = "EXPIRED"
	// CodePackInactive is Verify's answer for a known, matching pack that is
	// inactive (the result's status carries the reason).
	CodePackInactive Code = "INACTIVE"
)

// OutcomeStatus is the business result of a transaction.
type OutcomeStatus string

// Outcome statuses.
const (
	StatusOK      OutcomeStatus = "ok"
	StatusRefused OutcomeStatus = "refused"
)

// Outcome is the business result carried by every result type. A refused
// transaction still commits (request record, anomalies, event): refusals are
// outcomes, not errors.
type Outcome struct {
	Status  OutcomeStatus `json:"status"`
	Code    Code          `json:"code,omitempty"`
	Message string        `json:"message,omitempty"`
	// TxID is the transaction that produced the outcome (for a retried
	// request ID: the original transaction).
	TxID string `json:"txId,omitempty"`
	// Anomalies lists the IDs of the anomalies the transaction recorded.
	Anomalies []string `json:"anomalies,omitempty"`
}

// OK reports whether the outcome is ok.
func (o *Outcome) OK() bool { return o.Status == StatusOK }

// Out returns the outcome itself; every result type embeds Outcome and so
// satisfies Result through this method.
func (o *Outcome) Out() *Outcome { return o }

// Result is implemented by every write transaction's result type.
type Result interface {
	Out() *Outcome
}

// Refused returns a refused outcome.
func Refused(code Code, msg string) Outcome {
	return Outcome{Status: StatusRefused, Code: code, Message: msg}
}

// Accepted returns an ok outcome.
func Accepted(msg string) Outcome { return Outcome{Status: StatusOK, Message: msg} }
