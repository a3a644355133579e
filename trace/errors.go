package trace

import (
	"errors"
	"fmt"
	"strings"
)

// Error classes. Every error the chaincode returns (and so every endorsement
// failure the gateway sees) starts with one of these prefixes followed by
// ": ", so that a client can map it without parsing free text. Business
// refusals are never errors: they are committed outcomes (see Outcome).
var (
	// ErrInvalidRequest: the argument could not be decoded or a field failed
	// validation. Retrying the same request cannot succeed.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrAccessDenied: the caller's certificate (MSP, role, gln, gcp) does not
	// carry the right the transaction needs. The message names that right.
	ErrAccessDenied = errors.New("access denied")
	// ErrNotFound: a query or a master-data transaction named a record that
	// does not exist (scans of unknown packs are outcomes, not errors).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request contradicts the ledger (record already exists,
	// request ID reused with a different payload, workflow step not allowed).
	ErrConflict = errors.New("conflict")
)

// errorClasses lists the classes in the order Classify tries them.
var errorClasses = []error{ErrInvalidRequest, ErrAccessDenied, ErrNotFound, ErrConflict}

// Classify maps an error message, as returned by the chaincode and possibly
// wrapped by the peer or the gateway (e.g. `... message:"access denied: ..."`),
// to one of the class sentinels above. It returns nil when the message carries
// none of them (ledger or infrastructure failure: usually worth a retry).
// When several prefixes occur, the earliest occurrence wins.
func Classify(msg string) error {
	var best error
	bestAt := -1
	for _, c := range errorClasses {
		p := c.Error() + ": "
		if strings.HasPrefix(msg, p) {
			return c
		}
		if i := strings.Index(msg, p); i >= 0 && (bestAt < 0 || i < bestAt) {
			best, bestAt = c, i
		}
	}
	return best
}

// ClassifyError is Classify applied to err: it first looks for a wrapped
// sentinel (errors.Is) and then at the message text.
func ClassifyError(err error) error {
	if err == nil {
		return nil
	}
	for _, c := range errorClasses {
		if errors.Is(err, c) {
			return c
		}
	}
	return Classify(err.Error())
}

// Invalid returns an ErrInvalidRequest error about field, e.g.
// `invalid request: serials[3]: "AB\x01" is not GS1 character set 82`.
func Invalid(field, format string, args ...any) error {
	if field == "" {
		return fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalidRequest, field, fmt.Sprintf(format, args...))
}

// Denied returns an ErrAccessDenied error with the given explanation.
func Denied(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrAccessDenied, fmt.Sprintf(format, args...))
}

// NotFound returns an ErrNotFound error with the given explanation.
func NotFound(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotFound, fmt.Sprintf(format, args...))
}

// Conflict returns an ErrConflict error with the given explanation.
func Conflict(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConflict, fmt.Sprintf(format, args...))
}

// field prefixes a validation error's message with a field path while
// keeping it an ErrInvalidRequest.
func field(name string, err error) error {
	if err == nil {
		return nil
	}
	return Invalid(name, "%s", err.Error())
}
