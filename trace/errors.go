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
	c, _ := classAt(msg)
	return c
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

// FieldError is an ErrInvalidRequest about one field of a request: its
// message is `invalid request: <field>: <msg>` (`invalid request: <msg>`
// without a field), it matches ErrInvalidRequest through errors.Is, and
// errors.As finds it wherever it is wrapped, also on the client side of
// the Fabric boundary (see ParseError).
type FieldError struct {
	// Field is the JSON path of the offending field ("serials[3]",
	// "packs[2].serial", "to.msp"), a query or path parameter, or "" when
	// the request as a whole is wrong (undecodable JSON).
	Field string
	// Msg says what is wrong with it.
	Msg string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return ErrInvalidRequest.Error() + ": " + e.Msg
	}
	return ErrInvalidRequest.Error() + ": " + e.Field + ": " + e.Msg
}

// Unwrap returns ErrInvalidRequest.
func (e *FieldError) Unwrap() error { return ErrInvalidRequest }

// Invalid returns a *FieldError about field, e.g.
// `invalid request: serials[3]: "AB\x01" is not GS1 character set 82`.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
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

// ParseError rebuilds the typed error of a chaincode error message, as the
// chaincode returned it or wrapped by the peer or the gateway (e.g.
// `chaincode response 500, invalid request: packs[0]: ...` or
// `... message:"access denied: ..."`): a *FieldError for ErrInvalidRequest
// (with its field when the message names one), the class sentinel wrapped
// with the message for the other classes. The message starts at the
// earliest class prefix, as in Classify; wrapping text before it is
// dropped, and so is the rest of a quoted message after its closing quote.
// ParseError returns nil when the message carries no class.
func ParseError(msg string) error {
	class, at := classAt(msg)
	if class == nil {
		return nil
	}
	rest := msg[at+len(class.Error())+2:]
	if at > 0 && msg[at-1] == '"' {
		rest = unquoteTail(rest)
	}
	if class != ErrInvalidRequest {
		return fmt.Errorf("%w: %s", class, rest)
	}
	if n := fieldPathLen(rest); n > 0 && strings.HasPrefix(rest[n:], ": ") {
		return &FieldError{Field: rest[:n], Msg: rest[n+2:]}
	}
	return &FieldError{Msg: rest}
}

// classAt returns the class whose prefix occurs earliest in msg and where.
func classAt(msg string) (error, int) {
	var best error
	bestAt := -1
	for _, c := range errorClasses {
		if i := strings.Index(msg, c.Error()+": "); i >= 0 && (bestAt < 0 || i < bestAt) {
			best, bestAt = c, i
		}
	}
	return best, bestAt
}

// unquoteTail cuts s at its first unescaped double quote and undoes the
// \" and \\ escapes before it (a message quoted in a protobuf text dump).
func unquoteTail(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return b.String()
		case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// fieldPathLen returns the length of the field path at the start of s: a
// JSON path of identifiers with optional [n] indexes joined by dots
// ("packs[2].serial"), or 0 when s does not start with one.
func fieldPathLen(s string) int {
	i := 0
	for {
		start := i
		for i < len(s) && (isLetter(s[i]) || i > start && (isDigit(s[i]) || s[i] == '_')) {
			i++
		}
		if i == start {
			return 0
		}
		for i < len(s) && s[i] == '[' {
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			if j == i+1 || j >= len(s) || s[j] != ']' {
				return 0
			}
			i = j + 1
		}
		if i < len(s) && s[i] == '.' {
			i++
			continue
		}
		return i
	}
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
