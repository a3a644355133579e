package epcis

import (
	"cmp"
	"encoding/json"
	"slices"
)

// Status is what became of an imported event.
type Status string

// Import statuses.
const (
	// StatusApplied: the event's writes committed now.
	StatusApplied Status = "applied"
	// StatusSkipped: the ledger already knew the request IDs (an earlier
	// import) and returned the original outcomes; nothing was written.
	StatusSkipped Status = "skipped"
	// StatusRejected: the event cannot be represented, or the ledger
	// refused or failed it.
	StatusRejected Status = "rejected"
)

// Entry is the report line of one applied or skipped event.
type Entry struct {
	EventIndex int      `json:"eventIndex"`
	EventID    string   `json:"eventId"`
	RequestIDs []string `json:"requestIds"`
	// TxIDs are the ledger transactions of the writes (the original ones
	// for a skipped event), when known.
	TxIDs   []string `json:"txIds,omitempty"`
	Message string   `json:"message,omitempty"`
}

// Report is the per-event result of an import, filled by the caller while
// it applies the plans of a Reader.
type Report struct {
	Applied  []Entry     `json:"applied"`
	Skipped  []Entry     `json:"skipped"`
	Rejected []Rejection `json:"rejected"`
}

// Apply records an event whose writes committed.
func (r *Report) Apply(p Planned, txIDs ...string) {
	r.Applied = append(r.Applied, Entry{EventIndex: p.Index, EventID: p.EventID, RequestIDs: p.RequestIDs(), TxIDs: txIDs})
}

// Skip records an event the ledger had already applied (its request IDs
// returned the original outcome).
func (r *Report) Skip(p Planned, message string, txIDs ...string) {
	r.Skipped = append(r.Skipped, Entry{EventIndex: p.Index, EventID: p.EventID, RequestIDs: p.RequestIDs(), TxIDs: txIDs, Message: message})
}

// Reject records a rejected event: the plan's own rejection when reason is
// empty, else the given reason (e.g. the ledger's refusal).
func (r *Report) Reject(p Planned, reason string) {
	if reason == "" && p.Rejection != nil {
		reason = p.Rejection.Reason
	}
	r.Rejected = append(r.Rejected, Rejection{EventIndex: p.Index, EventID: p.EventID, Reason: reason})
}

// Add records a plan's rejection, if it has one, and reports whether it did
// (so that the caller applies only plans for which Add returns false).
func (r *Report) Add(p Planned) bool {
	if p.Rejection == nil {
		return false
	}
	r.Reject(p, "")
	return true
}

// Counts returns the number of applied, skipped and rejected events.
func (r *Report) Counts() (applied, skipped, rejected int) {
	return len(r.Applied), len(r.Skipped), len(r.Rejected)
}

// Sort orders each list by event index (an importer that applies events
// concurrently records them out of order).
func (r *Report) Sort() {
	byIndex := func(a, b Entry) int { return cmp.Compare(a.EventIndex, b.EventIndex) }
	slices.SortStableFunc(r.Applied, byIndex)
	slices.SortStableFunc(r.Skipped, byIndex)
	slices.SortStableFunc(r.Rejected, func(a, b Rejection) int { return cmp.Compare(a.EventIndex, b.EventIndex) })
}

// MarshalJSON writes empty lists as [] rather than null.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	p := plain(r)
	if p.Applied == nil {
		p.Applied = []Entry{}
	}
	if p.Skipped == nil {
		p.Skipped = []Entry{}
	}
	if p.Rejected == nil {
		p.Rejected = []Rejection{}
	}
	return json.Marshal(p)
}
