package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gwproto "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pharmatrace/pharmatrace/trace"
)

// Sentinel errors. Every error returned by a ledger call is an *Error whose
// Kind matches exactly one of these through errors.Is (an
// [ErrUnknownOutcome] error also matches [ErrUnavailable]). Errors of the
// kinds access denied, invalid and not found, and conflicts the chaincode
// declared, also match the class of package trace (trace.ErrAccessDenied,
// trace.ErrInvalidRequest, trace.ErrNotFound, trace.ErrConflict), and
// errors.As finds the chaincode's *trace.FieldError: see Error.Reason.
// Whether a failed call is worth running again is [Retryable]'s answer.
var (
	// ErrAccessDenied: the identity may not do this (chaincode
	// "access denied: ", gRPC PermissionDenied, orderer FORBIDDEN).
	ErrAccessDenied = errors.New("gateway: access denied")
	// ErrInvalid: the request is malformed (chaincode "invalid request: ",
	// gRPC InvalidArgument, orderer BAD_REQUEST).
	ErrInvalid = errors.New("gateway: invalid request")
	// ErrNotFound: the thing asked for does not exist (chaincode
	// "not found: ", gRPC NotFound).
	ErrNotFound = errors.New("gateway: not found")
	// ErrConflict: an MVCC or phantom read conflict at commit (retried
	// before it is returned), or a chaincode "conflict: " refusal of a state
	// transition (never retried).
	ErrConflict = errors.New("gateway: conflict")
	// ErrEndorsementPolicy: the transaction failed validation with
	// ENDORSEMENT_POLICY_FAILURE.
	ErrEndorsementPolicy = errors.New("gateway: endorsement policy failure")
	// ErrUnavailable: no endpoint could serve the call in time; nothing was
	// applied (or, when the error is also ErrUnknownOutcome, maybe it was).
	ErrUnavailable = errors.New("gateway: unavailable")
	// ErrUnknownOutcome: the transaction may or may not be on the ledger
	// (the context ended, or every endpoint failed, after it may have reached
	// the orderer, and the request lookup could not tell). Re-running the
	// request with the same request ID is safe.
	ErrUnknownOutcome = errors.New("gateway: outcome unknown")
	// ErrInternal: any other failure (chaincode error without a known
	// prefix, unexpected validation code, undecodable result).
	ErrInternal = errors.New("gateway: internal error")
)

// Kind classifies an *Error; each Kind has one sentinel.
type Kind int

// Kinds of *Error.
const (
	KindInternal Kind = iota
	KindAccessDenied
	KindInvalid
	KindNotFound
	KindConflict
	KindEndorsementPolicy
	KindUnavailable
	KindUnknownOutcome
)

var kindInfo = [...]struct {
	name     string
	sentinel error
}{
	KindInternal:          {"internal", ErrInternal},
	KindAccessDenied:      {"access_denied", ErrAccessDenied},
	KindInvalid:           {"invalid", ErrInvalid},
	KindNotFound:          {"not_found", ErrNotFound},
	KindConflict:          {"conflict", ErrConflict},
	KindEndorsementPolicy: {"endorsement_policy", ErrEndorsementPolicy},
	KindUnavailable:       {"unavailable", ErrUnavailable},
	KindUnknownOutcome:    {"unknown_outcome", ErrUnknownOutcome},
}

// String returns the snake_case name of k, also used as a metrics label.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindInfo) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindInfo[k].name
}

// Sentinel returns the Err* value that errors of kind k match.
func (k Kind) Sentinel() error {
	if k < 0 || int(k) >= len(kindInfo) {
		return ErrInternal
	}
	return kindInfo[k].sentinel
}

// Error is the one error type of ledger calls. It matches its Kind's
// sentinel through errors.Is and unwraps to its cause, typically a
// fabric-gateway *client.EndorseError, *client.SubmitError,
// *client.CommitStatusError or *client.CommitError, so errors.As on those
// still works.
type Error struct {
	Kind      Kind
	Op        string // "endorse", "submit", "commit status", "commit", "evaluate", "events", "lookup", "encode", "decode"
	Fn        string // chaincode function
	RequestID string // client request ID of a write, if any
	TxID      string // Fabric transaction ID, if one was created
	// Code is the most precise code known: the transaction validation code
	// name for commit failures (e.g. "MVCC_READ_CONFLICT"), otherwise the
	// gRPC status code name (e.g. "Unavailable").
	Code string
	// Msg is the chaincode's message without its "access denied: "-style
	// prefix when the chaincode refused, otherwise the transport message.
	Msg string
	// Reason is the domain error of package trace: when the chaincode
	// refused, its own error rebuilt by trace.ParseError (a
	// *trace.FieldError for an invalid request, the class sentinel wrapped
	// with the message otherwise); for access denied, invalid and not found
	// reported by Fabric itself, the trace class with Msg. Nil for every
	// other failure, so errors.Is(err, trace.ErrConflict) holds only for a
	// conflict the chaincode declared, not for a read conflict at commit.
	Reason error
	Err    error // cause: the fabric-gateway error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("gateway: ")
	if e.Fn != "" {
		b.WriteString(e.Fn)
		b.WriteString(" ")
	}
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(strings.ReplaceAll(e.Kind.String(), "_", " "))
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	var extra []string
	if e.Code != "" {
		extra = append(extra, "code "+e.Code)
	}
	if e.TxID != "" {
		extra = append(extra, "tx "+e.TxID)
	}
	if e.RequestID != "" {
		extra = append(extra, "request "+e.RequestID)
	}
	if len(extra) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(extra, ", "))
		b.WriteString(")")
	}
	if e.Err != nil && e.Msg == "" {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is the sentinel of e's Kind. An unknown-outcome
// error is also unavailable.
func (e *Error) Is(target error) bool {
	if target == e.Kind.Sentinel() {
		return true
	}
	return e.Kind == KindUnknownOutcome && target == ErrUnavailable
}

// Unwrap returns the domain reason (if any) and the cause, so that
// errors.Is/As see both the trace class (and *trace.FieldError) and the
// fabric-gateway error.
func (e *Error) Unwrap() []error {
	switch {
	case e.Reason == nil && e.Err == nil:
		return nil
	case e.Reason == nil:
		return []error{e.Err}
	case e.Err == nil:
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Err}
}

// Retryable reports whether running the same request again (with the same
// request ID, which makes that safe) may succeed, because the ledger did
// not judge it: no endpoint could serve it in time, its outcome is
// unknown, it lost a read conflict at commit, or the caller's context
// ended. It is false for what the ledger (or the chaincode) decided and
// would decide again — access denied, invalid request, not found, a
// conflict the chaincode declared, an endorsement-policy failure — and for
// internal errors (a chaincode failure without a class, an undecodable
// result), which would block a queue if retried forever. Every consumer
// (scanner counter, EPCIS import, API) asks this instead of deciding
// itself.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		switch e.Kind {
		case KindUnavailable, KindUnknownOutcome:
			return true
		case KindConflict:
			return e.Reason == nil
		}
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// KindOf returns the Kind of the first *Error in err's chain, KindInternal if
// there is none, and false for a nil err.
func KindOf(err error) (Kind, bool) {
	if err == nil {
		return 0, false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind, true
	}
	return KindInternal, true
}

// phase is the step of a call that failed; it decides what a failure means.
type phase int

const (
	phaseEndorse phase = iota
	phaseSubmit
	phaseCommitStatus
	phaseEvaluate
	phaseEvents
)

func (p phase) String() string {
	switch p {
	case phaseEndorse:
		return "endorse"
	case phaseSubmit:
		return "submit"
	case phaseCommitStatus:
		return "commit status"
	case phaseEvaluate:
		return "evaluate"
	case phaseEvents:
		return "events"
	}
	return "unknown"
}

// verdict is the classification of one failure.
type verdict struct {
	kind Kind
	code string
	msg  string
	// reason is the domain error (Error.Reason) when the chaincode refused.
	reason error
	// transient: trying again (same step or from endorsement) may succeed.
	transient bool
	// endpointSuspect: the endpoint that answered (or did not) should be
	// left for another one.
	endpointSuspect bool
	// mayBeOrdered (submit only): the orderer may have accepted the
	// transaction although the call failed.
	mayBeOrdered bool
}

// The Fabric gateway reports a chaincode error response as
// "chaincode response <status>, <message>".
const chaincodeResponseMarker = "chaincode response "

// chaincodeMessage finds the chaincode's own error message in a gateway
// error: in an ErrorDetail of the status (one per endorsing peer) or in the
// status message, after "chaincode response 500, ". ok is false when the
// error did not come from the chaincode.
func chaincodeMessage(st *status.Status) (msg string, ok bool) {
	for _, d := range st.Details() {
		if ed, isDetail := d.(*gwproto.ErrorDetail); isDetail {
			if m, found := afterChaincodeResponse(ed.GetMessage()); found {
				return m, true
			}
		}
	}
	return afterChaincodeResponse(st.Message())
}

// detailText renders the per-peer ErrorDetails of st, if any, as
// " [address (MSP): message; ...]".
func detailText(st *status.Status) string {
	var parts []string
	for _, d := range st.Details() {
		if ed, ok := d.(*gwproto.ErrorDetail); ok {
			parts = append(parts, fmt.Sprintf("%s (%s): %s", ed.GetAddress(), ed.GetMspId(), ed.GetMessage()))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " [" + strings.Join(parts, "; ") + "]"
}

// peerDeniedAccess reports whether the status or one of its details says the
// peer refused the creator ("access denied: channel [...] creator org ...").
func peerDeniedAccess(st *status.Status) bool {
	if strings.Contains(strings.ToLower(st.Message()), "access denied") {
		return true
	}
	for _, d := range st.Details() {
		if ed, ok := d.(*gwproto.ErrorDetail); ok && strings.Contains(strings.ToLower(ed.GetMessage()), "access denied") {
			return true
		}
	}
	return false
}

// onlyPayloadMismatch reports whether every ErrorDetail of st (at least
// one) says the endorsers' responses did not match.
func onlyPayloadMismatch(st *status.Status) bool {
	n := 0
	for _, d := range st.Details() {
		ed, ok := d.(*gwproto.ErrorDetail)
		if !ok {
			continue
		}
		if !strings.Contains(ed.GetMessage(), "ProposalResponsePayloads do not match") {
			return false
		}
		n++
	}
	return n > 0
}

func afterChaincodeResponse(s string) (string, bool) {
	i := strings.Index(s, chaincodeResponseMarker)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(chaincodeResponseMarker):]
	// Skip the status number and the ", " after it.
	if j := strings.Index(rest, ", "); j >= 0 && isDigits(rest[:j]) {
		return rest[j+2:], true
	}
	if isDigits(rest) {
		return "", true
	}
	return "", false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// classifyChaincodeMessage maps a chaincode error message to a verdict:
// the kind of its trace class (internal without one), the message without
// the class prefix and the rebuilt trace error.
func classifyChaincodeMessage(m string, code string) verdict {
	reason := trace.ParseError(m)
	v := verdict{kind: KindInternal, code: code, msg: m, reason: reason}
	if reason == nil {
		return v
	}
	class := trace.ClassifyError(reason)
	v.kind = kindOfClass[class]
	v.msg = strings.TrimPrefix(reason.Error(), class.Error()+": ")
	return v
}

var kindOfClass = map[error]Kind{
	trace.ErrAccessDenied:   KindAccessDenied,
	trace.ErrInvalidRequest: KindInvalid,
	trace.ErrNotFound:       KindNotFound,
	trace.ErrConflict:       KindConflict,
}

// reasonOf is the domain error of a failure Fabric itself reported as
// access denied, invalid or not found (Error.Reason).
func reasonOf(kind Kind, msg string) error {
	switch kind {
	case KindAccessDenied:
		return trace.Denied("%s", msg)
	case KindInvalid:
		return &trace.FieldError{Msg: msg}
	case KindNotFound:
		return trace.NotFound("%s", msg)
	}
	return nil
}

// classify turns the failure of one step into a verdict. err is what the
// fabric-gateway client returned (a gRPC status error, possibly wrapped in
// *client.EndorseError and friends) or a context error.
func classify(ph phase, err error) verdict {
	if err == nil {
		return verdict{}
	}
	var st *status.Status
	var grpcErr interface{ GRPCStatus() *status.Status }
	if errors.As(err, &grpcErr) && grpcErr.GRPCStatus() != nil {
		// The innermost-first status, without the wrapping text.
		st = grpcErr.GRPCStatus()
	} else if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		st = status.FromContextError(err)
	} else {
		st = status.New(codes.Unknown, err.Error())
	}
	if m, ok := chaincodeMessage(st); ok {
		return classifyChaincodeMessage(m, st.Code().String())
	}
	v := verdict{code: st.Code().String(), msg: st.Message() + detailText(st)}
	if peerDeniedAccess(st) {
		// The peer's own creator/ACL checks (not the chaincode) refused.
		v.kind = KindAccessDenied
		return v
	}
	if ph == phaseSubmit {
		if ov, ok := classifyOrdererSide(st, v); ok {
			return ov
		}
	}
	switch st.Code() {
	case codes.Unavailable:
		v.kind, v.transient, v.endpointSuspect = KindUnavailable, true, true
		v.mayBeOrdered = ph == phaseSubmit
	case codes.DeadlineExceeded:
		v.kind, v.transient, v.endpointSuspect = KindUnavailable, true, true
		v.mayBeOrdered = ph == phaseSubmit
	case codes.Canceled:
		// The caller gave up, or the connection was torn down under the call.
		v.kind, v.transient, v.endpointSuspect = KindUnavailable, true, true
		v.mayBeOrdered = ph == phaseSubmit
	case codes.PermissionDenied, codes.Unauthenticated:
		v.kind = KindAccessDenied
	case codes.InvalidArgument, codes.OutOfRange:
		v.kind = KindInvalid
	case codes.NotFound:
		v.kind = KindNotFound
	case codes.ResourceExhausted:
		if strings.Contains(v.msg, "larger than max") {
			v.kind = KindInvalid // message too big: will never fit
		} else {
			v.kind, v.transient = KindUnavailable, true
		}
	case codes.FailedPrecondition:
		// The gateway failed to plan endorsement (peers down, discovery not
		// yet updated): worth another try.
		v.kind, v.transient, v.endpointSuspect = KindUnavailable, true, true
	case codes.Aborted:
		v = classifyAborted(ph, st, v)
	default: // Unknown, Internal, Unimplemented, DataLoss, AlreadyExists
		v.kind = KindInternal
		// A broken stream is worth reconnecting; a unary call is not retried.
		v.transient = ph == phaseEvents && st.Code() != codes.Unimplemented
	}
	return v
}

// classifyOrdererSide recognises a submit failure that the peer's gateway
// reported about the ordering service: every orderer failed or answered
// with a 5xx status (SERVICE_UNAVAILABLE while raft has no leader or no
// quorum), the peer knows no orderer, or its broadcast timed out. The peer
// answered, so it is not suspect: blaming it would move every client off
// its own healthy peer during an ordering outage. Worth another try. The
// transaction may have been ordered only if some broadcast failed in
// transport (an ErrorDetail per such orderer; 5xx answers leave none) or
// timed out.
func classifyOrdererSide(st *status.Status, v verdict) (verdict, bool) {
	m := st.Message()
	switch {
	case st.Code() == codes.Unavailable && strings.Contains(m, "no orderers could successfully process transaction"):
		v.mayBeOrdered = len(st.Details()) > 0
	case st.Code() == codes.Unavailable && strings.Contains(m, "no orderer nodes available"),
		st.Code() == codes.FailedPrecondition:
		v.mayBeOrdered = false
	case st.Code() == codes.DeadlineExceeded && strings.Contains(m, "timeout expired while broadcasting to ordering service"):
		v.mayBeOrdered = true
	default:
		return v, false
	}
	v.kind, v.transient, v.endpointSuspect = KindUnavailable, true, false
	return v, true
}

// classifyAborted handles codes.Aborted, whose meaning depends on the step:
// for endorse/evaluate the gateway could not collect endorsements (peers
// failing, responses not matching while peers catch up); for submit the
// orderer answered with a non-success status, so the transaction was NOT
// ordered; for commit status the peer's ledger failed.
//
// Endorsements that only disagree ("ProposalResponsePayloads do not
// match": endorsers at different heights while they commit a burst of
// blocks, e.g. when ordering resumes) do not make the peer suspect: another
// try on it after a backoff succeeds once they have caught up.
func classifyAborted(ph phase, st *status.Status, v verdict) verdict {
	if ph != phaseSubmit {
		v.kind, v.transient, v.endpointSuspect = KindUnavailable, true, !onlyPayloadMismatch(st)
		return v
	}
	switch {
	case strings.Contains(v.msg, "SERVICE_UNAVAILABLE"), strings.Contains(v.msg, "INTERNAL_SERVER_ERROR"):
		// Raft leader election in progress and the like.
		v.kind, v.transient = KindUnavailable, true
	case strings.Contains(v.msg, "FORBIDDEN"):
		v.kind = KindAccessDenied
	case strings.Contains(v.msg, "BAD_REQUEST"), strings.Contains(v.msg, "REQUEST_ENTITY_TOO_LARGE"):
		v.kind = KindInvalid
	case strings.Contains(v.msg, "NOT_FOUND"):
		v.kind = KindNotFound
	default:
		v.kind, v.transient = KindUnavailable, true
	}
	return v
}

// classifyCommitCode maps a transaction validation code to a verdict.
// transient means re-endorsing (a new transaction) may succeed.
func classifyCommitCode(code peer.TxValidationCode) verdict {
	v := verdict{code: code.String()}
	switch code {
	case peer.TxValidationCode_VALID:
		return verdict{}
	case peer.TxValidationCode_MVCC_READ_CONFLICT, peer.TxValidationCode_PHANTOM_READ_CONFLICT:
		v.kind, v.transient = KindConflict, true
	case peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE:
		v.kind = KindEndorsementPolicy
	case peer.TxValidationCode_CHAINCODE_VERSION_CONFLICT:
		// The chaincode definition changed between endorsement and commit.
		v.kind, v.transient = KindConflict, true
	case peer.TxValidationCode_DUPLICATE_TXID:
		// This transaction ID is already on the ledger: only the first
		// occurrence counts, and we cannot tell its outcome from here.
		v.kind = KindUnknownOutcome
	case peer.TxValidationCode_BAD_CREATOR_SIGNATURE:
		v.kind = KindAccessDenied
	default:
		v.kind = KindInternal
	}
	return v
}
