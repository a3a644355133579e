package api

import (
	"context"
	"errors"

	"github.com/pharmatrace/pharmatrace/api/auth"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

// Identity is the ledger identity behind an API token (organisation, MSP,
// user, role, GLN, company prefixes).
type Identity = auth.Identity

// Ledger is the chaincode as seen by ONE authenticated user: every call is
// signed with that user's own certificate. fn is a transaction name of
// package trace (trace.TxRegisterProduct, …); req and result are the
// matching request and result types (see trace/doc.go), e.g.
// Submit(ctx, trace.TxRecallLot, *trace.LotStatusRequest, *trace.LotResult).
//
// Errors: a chaincode error must keep its class reachable through
// trace.ClassifyError (errors.Is with trace.ErrInvalidRequest,
// trace.ErrAccessDenied, trace.ErrNotFound, trace.ErrConflict, or the
// chaincode message text "invalid request: …" in the error string);
// infrastructure failures wrap ErrUnavailable, and a write whose outcome is
// unknown (it may have committed) wraps ErrOutcomeUnknown. A business
// refusal is a result (Outcome.Status "refused"), not an error.
type Ledger interface {
	// Submit runs a write transaction (endorse, order, wait for commit) and
	// decodes its result into result. req.ID() is the request ID the
	// chaincode de-duplicates on.
	Submit(ctx context.Context, fn string, req trace.WriteRequest, result any) error
	// Evaluate runs a query on one peer and decodes its result.
	Evaluate(ctx context.Context, fn string, req trace.Request, result any) error
}

// Ledgers hands out the Ledger of an authenticated user (from the API
// instance's per-organisation wallets). It fails for a user without a
// wallet entry.
type Ledgers interface {
	LedgerFor(id Identity) (Ledger, error)
}

// LedgersFunc adapts a function to Ledgers.
type LedgersFunc func(id Identity) (Ledger, error)

// LedgerFor implements Ledgers.
func (f LedgersFunc) LedgerFor(id Identity) (Ledger, error) { return f(id) }

// EventSource delivers the chaincode events in ledger order (see
// readmodel.EventSource for the contract).
type EventSource = readmodel.EventSource

// Position is a chaincode event's place on the ledger.
type Position = readmodel.Position

// Errors a Ledger implementation wraps for infrastructure failures.
var (
	// ErrUnavailable: no peer could serve the call; nothing was applied.
	ErrUnavailable = errors.New("ledger unavailable")
	// ErrOutcomeUnknown: the write may or may not have committed; sending
	// the same request (same requestId) again is safe.
	ErrOutcomeUnknown = errors.New("ledger outcome unknown")
)
