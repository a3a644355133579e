package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	gwproto "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pharmatrace/pharmatrace/trace"
)

func withDetails(code codes.Code, msg string, details ...string) error {
	st := status.New(code, msg)
	for _, d := range details {
		var err error
		st, err = st.WithDetails(&gwproto.ErrorDetail{Address: "peer0.org1:7051", MspId: "Org1MSP", Message: d})
		if err != nil {
			panic(err)
		}
	}
	return st.Err()
}

func TestClassify(t *testing.T) {
	endorseFailed := "failed to endorse transaction, see attached details for more info"
	tests := []struct {
		name  string
		phase phase
		err   error
		want  verdict
	}{
		{"chaincode access denied in details", phaseEndorse,
			withDetails(codes.Aborted, endorseFailed, "chaincode response 500, access denied: only manufacturers commission"),
			verdict{kind: KindAccessDenied, code: "Aborted", msg: "only manufacturers commission"}},
		{"chaincode invalid request", phaseEndorse,
			withDetails(codes.Aborted, endorseFailed, "chaincode response 500, invalid request: serial is empty"),
			verdict{kind: KindInvalid, code: "Aborted", msg: "serial is empty"}},
		{"chaincode not found, second detail", phaseEndorse,
			withDetails(codes.Aborted, endorseFailed, "rpc error: connection refused", "chaincode response 500, not found: pack 0123"),
			verdict{kind: KindNotFound, code: "Aborted", msg: "pack 0123"}},
		{"chaincode conflict is not retried", phaseEndorse,
			withDetails(codes.Aborted, endorseFailed, "chaincode response 500, conflict: pack already dispensed"),
			verdict{kind: KindConflict, code: "Aborted", msg: "pack already dispensed"}},
		{"chaincode error without known prefix", phaseEndorse,
			withDetails(codes.Aborted, endorseFailed, "chaincode response 500, Function Foo not found in contract Bar"),
			verdict{kind: KindInternal, code: "Aborted", msg: "Function Foo not found in contract Bar"}},
		{"evaluate chaincode error in the message", phaseEvaluate,
			status.Error(codes.Unknown, "evaluate call to endorser returned error: chaincode response 500, not found: request r1"),
			verdict{kind: KindNotFound, code: "Unknown", msg: "request r1"}},
		{"endorsement collection failed for peer reasons", phaseEndorse,
			withDetails(codes.Aborted, "failed to collect enough transaction endorsements", "rpc error: code = Unavailable desc = connection refused"),
			verdict{kind: KindUnavailable, code: "Aborted", msg: "failed to collect enough transaction endorsements [peer0.org1:7051 (Org1MSP): rpc error: code = Unavailable desc = connection refused]", transient: true, endpointSuspect: true}},
		{"peer refuses the creator", phaseEndorse,
			withDetails(codes.Aborted, endorseFailed, "access denied: channel [pharmatrace] creator org unknown, creator is malformed"),
			verdict{kind: KindAccessDenied, code: "Aborted", msg: endorseFailed + " [peer0.org1:7051 (Org1MSP): access denied: channel [pharmatrace] creator org unknown, creator is malformed]"}},
		{"endorsers at different heights: transient, the peer is not suspect", phaseEndorse,
			withDetails(codes.Aborted, "failed to collect enough transaction endorsements, see attached details for more info", "ProposalResponsePayloads do not match"),
			verdict{kind: KindUnavailable, code: "Aborted", msg: "failed to collect enough transaction endorsements, see attached details for more info [peer0.org1:7051 (Org1MSP): ProposalResponsePayloads do not match]", transient: true}},
		{"endorse unavailable", phaseEndorse,
			status.Error(codes.Unavailable, "connection refused"),
			verdict{kind: KindUnavailable, code: "Unavailable", msg: "connection refused", transient: true, endpointSuspect: true}},
		{"submit unavailable in transport may be ordered", phaseSubmit,
			status.Error(codes.Unavailable, "connection refused"),
			verdict{kind: KindUnavailable, code: "Unavailable", msg: "connection refused", transient: true, endpointSuspect: true, mayBeOrdered: true}},
		{"every orderer answered 5xx (no raft leader): orderer side, peer not suspect, not ordered", phaseSubmit,
			status.Error(codes.Unavailable, "no orderers could successfully process transaction"),
			verdict{kind: KindUnavailable, code: "Unavailable", msg: "no orderers could successfully process transaction", transient: true}},
		{"an orderer failed in transport: orderer side, may be ordered", phaseSubmit,
			withDetails(codes.Unavailable, "no orderers could successfully process transaction", "rpc error: code = Unavailable desc = error reading from server: EOF"),
			verdict{kind: KindUnavailable, code: "Unavailable", msg: "no orderers could successfully process transaction [peer0.org1:7051 (Org1MSP): rpc error: code = Unavailable desc = error reading from server: EOF]", transient: true, mayBeOrdered: true}},
		{"the peer's broadcast timed out: orderer side, may be ordered", phaseSubmit,
			status.Error(codes.DeadlineExceeded, "submit timeout expired while broadcasting to ordering service"),
			verdict{kind: KindUnavailable, code: "DeadlineExceeded", msg: "submit timeout expired while broadcasting to ordering service", transient: true, mayBeOrdered: true}},
		{"the peer knows no orderer", phaseSubmit,
			status.Error(codes.Unavailable, "no orderer nodes available"),
			verdict{kind: KindUnavailable, code: "Unavailable", msg: "no orderer nodes available", transient: true}},
		{"submit deadline may be ordered", phaseSubmit,
			status.Error(codes.DeadlineExceeded, "context deadline exceeded"),
			verdict{kind: KindUnavailable, code: "DeadlineExceeded", msg: "context deadline exceeded", transient: true, endpointSuspect: true, mayBeOrdered: true}},
		{"orderer leader election: not ordered, retry", phaseSubmit,
			status.Error(codes.Aborted, "received unsuccessful response from orderer: SERVICE_UNAVAILABLE"),
			verdict{kind: KindUnavailable, code: "Aborted", msg: "received unsuccessful response from orderer: SERVICE_UNAVAILABLE", transient: true}},
		{"orderer forbidden", phaseSubmit,
			status.Error(codes.Aborted, "received unsuccessful response from orderer: FORBIDDEN"),
			verdict{kind: KindAccessDenied, code: "Aborted", msg: "received unsuccessful response from orderer: FORBIDDEN"}},
		{"orderer bad request", phaseSubmit,
			status.Error(codes.Aborted, "received unsuccessful response from orderer: status=BAD_REQUEST, info=x"),
			verdict{kind: KindInvalid, code: "Aborted", msg: "received unsuccessful response from orderer: status=BAD_REQUEST, info=x"}},
		{"commit status unavailable", phaseCommitStatus,
			status.Error(codes.Unavailable, "transport is closing"),
			verdict{kind: KindUnavailable, code: "Unavailable", msg: "transport is closing", transient: true, endpointSuspect: true}},
		{"permission denied", phaseCommitStatus,
			status.Error(codes.PermissionDenied, "failed evaluating policy"),
			verdict{kind: KindAccessDenied, code: "PermissionDenied", msg: "failed evaluating policy"}},
		{"invalid argument", phaseEndorse,
			status.Error(codes.InvalidArgument, "the proposed transaction must contain a signed proposal"),
			verdict{kind: KindInvalid, code: "InvalidArgument", msg: "the proposed transaction must contain a signed proposal"}},
		{"channel not found on events", phaseEvents,
			status.Error(codes.NotFound, "channel not found"),
			verdict{kind: KindNotFound, code: "NotFound", msg: "channel not found"}},
		{"endorsement plan failed while peers are down", phaseEndorse,
			status.Error(codes.FailedPrecondition, "no combination of peers can be derived which satisfy the endorsement policy"),
			verdict{kind: KindUnavailable, code: "FailedPrecondition", msg: "no combination of peers can be derived which satisfy the endorsement policy", transient: true, endpointSuspect: true}},
		{"message too large", phaseSubmit,
			status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5000000 vs. 4194304)"),
			verdict{kind: KindInvalid, code: "ResourceExhausted", msg: "grpc: received message larger than max (5000000 vs. 4194304)"}},
		{"broken event stream reconnects", phaseEvents,
			status.Error(codes.Internal, "stream terminated by RST_STREAM"),
			verdict{kind: KindInternal, code: "Internal", msg: "stream terminated by RST_STREAM", transient: true}},
		{"internal on a unary call is not retried", phaseEndorse,
			status.Error(codes.Internal, "boom"),
			verdict{kind: KindInternal, code: "Internal", msg: "boom"}},
		{"plain context deadline", phaseEvaluate,
			fmt.Errorf("wrapped: %w", context.DeadlineExceeded),
			verdict{kind: KindUnavailable, code: "DeadlineExceeded", msg: "wrapped: context deadline exceeded", transient: true, endpointSuspect: true}},
		{"status error wrapped with %w", phaseEndorse,
			fmt.Errorf("endorse: %w", status.Error(codes.Unavailable, "down")),
			verdict{kind: KindUnavailable, code: "Unavailable", msg: "down", transient: true, endpointSuspect: true}},
		{"non-gRPC error", phaseEndorse,
			errors.New("no sign implementation supplied"),
			verdict{kind: KindInternal, code: "Unknown", msg: "no sign implementation supplied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.phase, tt.err)
			reason := got.reason
			got.reason = nil
			if got != tt.want {
				t.Errorf("classify(%v) =\n %+v\nwant\n %+v", tt.phase, got, tt.want)
			}
			// A chaincode refusal carries the chaincode's own error,
			// rebuilt with its trace class.
			if reason != nil && (kindOfClass[trace.ClassifyError(reason)] != got.kind || !strings.HasSuffix(reason.Error(), ": "+got.msg)) {
				t.Errorf("reason %q does not match kind %v, msg %q", reason, got.kind, got.msg)
			}
			if chaincode := strings.Contains(tt.name, "chaincode") && got.kind != KindInternal; chaincode != (reason != nil) {
				t.Errorf("reason = %v, want one iff the chaincode refused", reason)
			}
		})
	}
}

func TestClassifyCommitCode(t *testing.T) {
	tests := []struct {
		code      peer.TxValidationCode
		kind      Kind
		transient bool
	}{
		{peer.TxValidationCode_MVCC_READ_CONFLICT, KindConflict, true},
		{peer.TxValidationCode_PHANTOM_READ_CONFLICT, KindConflict, true},
		{peer.TxValidationCode_CHAINCODE_VERSION_CONFLICT, KindConflict, true},
		{peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, KindEndorsementPolicy, false},
		{peer.TxValidationCode_DUPLICATE_TXID, KindUnknownOutcome, false},
		{peer.TxValidationCode_BAD_CREATOR_SIGNATURE, KindAccessDenied, false},
		{peer.TxValidationCode_INVALID_OTHER_REASON, KindInternal, false},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			v := classifyCommitCode(tt.code)
			if v.kind != tt.kind || v.transient != tt.transient || v.code != tt.code.String() {
				t.Errorf("got %+v, want kind %v transient %v", v, tt.kind, tt.transient)
			}
		})
	}
}

func TestChaincodeMessage(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"chaincode response 500, not found: x", "not found: x", true},
		{"evaluate call to endorser returned error: chaincode response 500, access denied: y", "access denied: y", true},
		{"chaincode response 500", "", true},
		{"chaincode response abc, not ours", "", false},
		{"connection refused", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := chaincodeMessage(status.New(codes.Unknown, tt.in))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestErrorIsAsUnwrap(t *testing.T) {
	commitErr := &client.CommitError{TransactionID: "tx1", Code: peer.TxValidationCode_MVCC_READ_CONFLICT}
	sentinels := []error{ErrAccessDenied, ErrInvalid, ErrNotFound, ErrConflict, ErrEndorsementPolicy, ErrUnavailable, ErrUnknownOutcome, ErrInternal}
	tests := []struct {
		name string
		err  *Error
		is   []error
	}{
		{"conflict", &Error{Kind: KindConflict, TxID: "tx1", Code: "MVCC_READ_CONFLICT", Err: commitErr}, []error{ErrConflict}},
		{"unknown outcome is also unavailable", &Error{Kind: KindUnknownOutcome, Err: commitErr}, []error{ErrUnknownOutcome, ErrUnavailable}},
		{"access denied", &Error{Kind: KindAccessDenied, Err: commitErr}, []error{ErrAccessDenied}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wrapped := fmt.Errorf("scanner: %w", tt.err)
			for _, s := range sentinels {
				want := false
				for _, w := range tt.is {
					want = want || w == s
				}
				if got := errors.Is(wrapped, s); got != want {
					t.Errorf("errors.Is(%v) = %v, want %v", s, got, want)
				}
			}
			var ce *client.CommitError
			if !errors.As(wrapped, &ce) || ce != commitErr {
				t.Errorf("errors.As(*client.CommitError) failed")
			}
			if k, ok := KindOf(wrapped); !ok || k != tt.err.Kind {
				t.Errorf("KindOf = %v, %v", k, ok)
			}
		})
	}
	if _, ok := KindOf(nil); ok {
		t.Error("KindOf(nil) reported an error")
	}
	e := &Error{Kind: KindNotFound, Op: "evaluate", Fn: "GetPack", Msg: "pack 42", Code: "Unknown", TxID: "abc"}
	if got, want := e.Error(), "gateway: GetPack evaluate: not found: pack 42 (code Unknown, tx abc)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if KindEndorsementPolicy.String() != "endorsement_policy" || Kind(99).Sentinel() != ErrInternal {
		t.Error("Kind names")
	}
}

// The chaincode's typed error survives the Fabric boundary: a field error
// refused at endorsement is a *trace.FieldError again on the client side,
// matches trace.ErrInvalidRequest and gateway.ErrInvalid, keeps the gRPC
// status underneath, and is not retryable.
func TestChaincodeErrorsCrossTheBoundary(t *testing.T) {
	cause := withDetails(codes.Aborted, "failed to endorse transaction, see attached details for more info",
		"chaincode response 500, invalid request: packs[0]: 04012345123459/S1 is also in SSCC 340123450000000017")
	err := fmt.Errorf("import: %w", errorFrom(classify(phaseEndorse, cause), "endorse", "Ship", "r1", "", cause))
	var fe *trace.FieldError
	if !errors.As(err, &fe) || fe.Field != "packs[0]" || fe.Msg != "04012345123459/S1 is also in SSCC 340123450000000017" {
		t.Fatalf("errors.As FieldError: %#v from %v", fe, err)
	}
	if !errors.Is(err, trace.ErrInvalidRequest) || !errors.Is(err, ErrInvalid) || trace.ClassifyError(err) != trace.ErrInvalidRequest {
		t.Errorf("%v does not match the invalid-request classes", err)
	}
	var st interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &st) || st.GRPCStatus().Code() != codes.Aborted {
		t.Errorf("the gRPC status is not reachable")
	}
	if Retryable(err) {
		t.Errorf("a chaincode refusal is retryable")
	}
	// A read conflict at commit is a gateway conflict but not the
	// chaincode's.
	mvcc := errorFrom(classifyCommitCode(peer.TxValidationCode_MVCC_READ_CONFLICT), "commit", "Dispense", "r1", "tx1", nil)
	if !errors.Is(mvcc, ErrConflict) || errors.Is(mvcc, trace.ErrConflict) {
		t.Errorf("MVCC conflict: %v", mvcc)
	}
}

func TestRetryable(t *testing.T) {
	cc := func(msg string) error {
		return errorFrom(classify(phaseEndorse, withDetails(codes.Aborted, "failed to endorse", "chaincode response 500, "+msg)), "endorse", "Fn", "r", "", nil)
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"unavailable", &Error{Kind: KindUnavailable}, true},
		{"unknown outcome, wrapped", fmt.Errorf("deliver: %w", &Error{Kind: KindUnknownOutcome}), true},
		{"read conflict at commit", errorFrom(classifyCommitCode(peer.TxValidationCode_PHANTOM_READ_CONFLICT), "commit", "Fn", "r", "tx", nil), true},
		{"caller's deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"chaincode conflict", cc("conflict: request ID reused"), false},
		{"chaincode invalid", cc("invalid request: serial: empty"), false},
		{"chaincode denied", cc("access denied: role"), false},
		{"chaincode not found", cc("not found: pack"), false},
		{"chaincode error without a class", cc("Function Foo not found"), false},
		{"endorsement policy", &Error{Kind: KindEndorsementPolicy}, false},
		{"trace error without the gateway", trace.Invalid("gtin", "bad"), false},
		{"other error", errors.New("disk full"), false},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.want {
			t.Errorf("%s: Retryable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
