package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pharmatrace/pharmatrace/api/auth"
	"github.com/pharmatrace/pharmatrace/api/commission"
	"github.com/pharmatrace/pharmatrace/trace"
)

// ProblemBase prefixes every problem type URI.
const ProblemBase = "https://pharmatrace.dev/problems/"

// Problem types (the stable part of the problem's type URI).
const (
	ProbInvalidJSON      = "invalid-json"
	ProbUnknownField     = "unknown-field"
	ProbTypeMismatch     = "type-mismatch"
	ProbInvalidField     = "invalid-field"
	ProbInvalidGS1       = "invalid-gs1"
	ProbInvalidUpload    = "invalid-upload"
	ProbTooLarge         = "payload-too-large"
	ProbUnsupportedMedia = "unsupported-media-type"
	ProbUnauthorized     = "unauthorized"
	ProbForbidden        = "forbidden"
	ProbAccessDenied     = "access-denied"
	ProbNotFound         = "not-found"
	ProbMethodNotAllowed = "method-not-allowed"
	ProbConflict         = "conflict"
	ProbRefused          = "refused"
	ProbRateLimited      = "rate-limited"
	ProbTimeout          = "timeout"
	ProbUnavailable      = "ledger-unavailable"
	ProbOutcomeUnknown   = "outcome-unknown"
	ProbInternal         = "internal"
)

var problemInfo = map[string]struct {
	status int
	title  string
}{
	ProbInvalidJSON:      {http.StatusBadRequest, "Malformed JSON"},
	ProbUnknownField:     {http.StatusBadRequest, "Unknown field"},
	ProbTypeMismatch:     {http.StatusBadRequest, "Wrong type"},
	ProbInvalidField:     {http.StatusUnprocessableEntity, "Invalid field"},
	ProbInvalidGS1:       {http.StatusUnprocessableEntity, "Invalid GS1 data"},
	ProbInvalidUpload:    {http.StatusUnprocessableEntity, "Invalid upload"},
	ProbTooLarge:         {http.StatusRequestEntityTooLarge, "Payload too large"},
	ProbUnsupportedMedia: {http.StatusUnsupportedMediaType, "Unsupported media type"},
	ProbUnauthorized:     {http.StatusUnauthorized, "Authentication required"},
	ProbForbidden:        {http.StatusForbidden, "Role not allowed"},
	ProbAccessDenied:     {http.StatusForbidden, "Access denied by the ledger"},
	ProbNotFound:         {http.StatusNotFound, "Not found"},
	ProbMethodNotAllowed: {http.StatusMethodNotAllowed, "Method not allowed"},
	ProbConflict:         {http.StatusConflict, "Conflict"},
	ProbRefused:          {http.StatusConflict, "Refused by the ledger rules"},
	ProbRateLimited:      {http.StatusTooManyRequests, "Too many requests"},
	ProbTimeout:          {http.StatusGatewayTimeout, "Timeout"},
	ProbUnavailable:      {http.StatusServiceUnavailable, "Ledger unavailable"},
	ProbOutcomeUnknown:   {http.StatusServiceUnavailable, "Outcome unknown"},
	ProbInternal:         {http.StatusInternalServerError, "Internal error"},
}

// ProblemTypes lists every problem type, for the OpenAPI document and tests.
func ProblemTypes() []string {
	out := make([]string, 0, len(problemInfo))
	for k := range problemInfo {
		out = append(out, k)
	}
	return out
}

// RowProblem is one rejected row of an upload.
type RowProblem = commission.RowError

// Problem is an RFC 9457 problem detail, with PharmaTrace's extensions.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Field names the offending request field (JSON path such as
	// "packs[2].serial", a query or path parameter, or "body").
	Field string `json:"field,omitempty"`
	// Expected is the JSON type a field should have (type-mismatch).
	Expected string `json:"expected,omitempty"`
	// Row is the first offending row of an upload; Rows lists up to 100.
	Row       int          `json:"row,omitempty"`
	Rows      []RowProblem `json:"rows,omitempty"`
	BadRows   int          `json:"badRows,omitempty"`
	Position  int          `json:"position,omitempty"` // byte position in a GS1 scan string
	Code      trace.Code   `json:"code,omitempty"`     // EU alert / refusal code
	TxID      string       `json:"txId,omitempty"`
	Anomalies []string     `json:"anomalies,omitempty"`
	RequestID string       `json:"requestId,omitempty"`
	// Result is the full ledger result of a refused write.
	Result any `json:"result,omitempty"`
}

func (p *Problem) Error() string {
	if p.Field != "" {
		return fmt.Sprintf("%s: %s: %s", p.Type, p.Field, p.Detail)
	}
	return p.Type + ": " + p.Detail
}

// NewProblem returns a problem of a type with a detail message.
func NewProblem(kind, format string, args ...any) *Problem {
	info, ok := problemInfo[kind]
	if !ok {
		info = problemInfo[ProbInternal]
	}
	return &Problem{Type: ProblemBase + kind, Title: info.title, Status: info.status, Detail: fmt.Sprintf(format, args...)}
}

// Kind returns the short type of a problem ("invalid-field").
func (p *Problem) Kind() string { return strings.TrimPrefix(p.Type, ProblemBase) }

// fieldProblem is an invalid-field problem naming field.
func fieldProblem(field, format string, args ...any) *Problem {
	p := NewProblem(ProbInvalidField, format, args...)
	p.Field = field
	return p
}

// ProblemFor maps any error returned by a handler to a problem: our own
// problems, wrapped *echo.HTTPError (Echo's default handler only sees an
// unwrapped one), body-limit errors, upload validation, the trace error
// classes (from the chaincode or our own validation), ledger
// infrastructure errors and timeouts.
func ProblemFor(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return NewProblem(ProbTooLarge, "the request body exceeds %d bytes", mb.Limit)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return httpErrorProblem(he)
	}
	var ve *commission.ValidationError
	if errors.As(err, &ve) {
		p := NewProblem(ProbInvalidUpload, "%d of the uploaded rows are invalid; nothing was submitted", ve.Total)
		if len(ve.Rows) > 0 {
			p.Row = ve.Rows[0].Row
			p.Detail = fmt.Sprintf("row %d: %s; %d bad rows in all; nothing was submitted", ve.Rows[0].Row, ve.Rows[0].Message, ve.Total)
		}
		p.Rows, p.BadRows, p.Field = ve.Rows, ve.Total, "body"
		return p
	}
	if errors.Is(err, commission.ErrTooMany) {
		return NewProblem(ProbTooLarge, "%v", err)
	}
	if errors.Is(err, auth.ErrInvalidToken) {
		return NewProblem(ProbUnauthorized, "the bearer token is invalid, expired or revoked")
	}
	if errors.Is(err, ErrOutcomeUnknown) {
		return NewProblem(ProbOutcomeUnknown, "the ledger did not confirm whether the transaction committed; send the same request (same requestId) again: %v", err)
	}
	if errors.Is(err, ErrUnavailable) {
		return NewProblem(ProbUnavailable, "%v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return NewProblem(ProbTimeout, "the request did not complete in time")
	}
	switch trace.ClassifyError(err) {
	case trace.ErrInvalidRequest:
		// The chaincode's or trace's own *trace.FieldError (package
		// gateway rebuilds it on this side of Fabric); from a message
		// only, its innermost (last) "invalid request: ".
		var fe *trace.FieldError
		if !errors.As(err, &fe) {
			msg := err.Error()
			errors.As(trace.ParseError(msg[max(strings.LastIndex(msg, "invalid request: "), 0):]), &fe)
		}
		if fe == nil {
			return NewProblem(ProbInvalidField, "%s", afterClass(err.Error(), "invalid request: "))
		}
		if fe.Field == "" {
			return NewProblem(ProbInvalidField, "%s", fe.Msg)
		}
		return fieldProblem(fe.Field, "%s", fe.Msg)
	case trace.ErrAccessDenied:
		return NewProblem(ProbAccessDenied, "%s", afterClass(err.Error(), "access denied: "))
	case trace.ErrNotFound:
		return NewProblem(ProbNotFound, "%s", afterClass(err.Error(), "not found: "))
	case trace.ErrConflict:
		return NewProblem(ProbConflict, "%s", afterClass(err.Error(), "conflict: "))
	}
	return NewProblem(ProbInternal, "internal error")
}

func afterClass(msg, prefix string) string {
	if i := strings.Index(msg, prefix); i >= 0 {
		return msg[i+len(prefix):]
	}
	return msg
}

func httpErrorProblem(he *echo.HTTPError) *Problem {
	detail := http.StatusText(he.Code)
	if s, ok := he.Message.(string); ok && s != "" {
		detail = s
	}
	switch he.Code {
	case http.StatusRequestEntityTooLarge:
		return NewProblem(ProbTooLarge, "the request body is too large")
	case http.StatusNotFound:
		return NewProblem(ProbNotFound, "no such route")
	case http.StatusMethodNotAllowed:
		return NewProblem(ProbMethodNotAllowed, "method not allowed on this route")
	case http.StatusUnauthorized:
		return NewProblem(ProbUnauthorized, "%s", detail)
	case http.StatusForbidden:
		return NewProblem(ProbForbidden, "%s", detail)
	case http.StatusTooManyRequests:
		return NewProblem(ProbRateLimited, "%s", detail)
	case http.StatusUnsupportedMediaType:
		return NewProblem(ProbUnsupportedMedia, "%s", detail)
	case http.StatusServiceUnavailable:
		return NewProblem(ProbUnavailable, "%s", detail)
	}
	if he.Code >= 400 && he.Code < 500 {
		p := NewProblem(ProbInvalidField, "%s", detail)
		p.Status, p.Title = he.Code, http.StatusText(he.Code)
		return p
	}
	return NewProblem(ProbInternal, "internal error")
}

// refusal turns a refused write result into a problem carrying the code,
// transaction, anomalies and the full result.
func refusal(res trace.Result, requestID string) *Problem {
	o := res.Out()
	p := NewProblem(ProbRefused, "%s", o.Message)
	p.Code, p.TxID, p.Anomalies, p.RequestID, p.Result = o.Code, o.TxID, o.Anomalies, requestID, res
	return p
}

// errorHandler is the Echo error handler: every error becomes one problem
// response (HTML for the dashboard through the hook).
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		s.log.Debug("api: error after the response started", "path", c.Path(), "err", err)
		return
	}
	p := ProblemFor(err)
	if p.Status >= 500 {
		s.log.Error("api: request failed", "method", c.Request().Method, "route", c.Path(), "status", p.Status, "err", err)
	}
	if p.Status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="pharmatrace"`)
	}
	p.Instance = c.Request().URL.Path
	if s.htmlErrors != nil && strings.HasPrefix(c.Request().URL.Path, "/dashboard") {
		if herr := s.htmlErrors(c, p); herr == nil {
			return
		}
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(p.Status)
		return
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	_ = jsonEncode(c.Response(), p)
}
