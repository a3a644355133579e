package gateway

import (
	"context"
	"strings"

	"github.com/pharmatrace/pharmatrace/trace"
)

// The typed methods below mirror the chaincode's transactions and queries
// one to one (trace.SubmitTransactions, trace.EvaluateTransactions). A
// request is validated before it leaves the process, so a bad field is
// reported without a round trip; writes carry their request ID, which makes
// every retry safe. Business refusals (A24, LOT_RECALLED, …) are results
// with Outcome.Status "refused", not errors.

// submitTyped validates req and submits fn with req's request ID.
func submitTyped[R any, Q interface {
	Validate() error
	ID() string
}](ctx context.Context, c *Client, fn string, req Q, opts []CallOption) (*R, error) {
	if err := req.Validate(); err != nil {
		return nil, validateError(fn, req.ID(), err)
	}
	res, err := SubmitAs[R](ctx, c, fn, req.ID(), req, opts...)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// validateError reports a request that failed trace's validation before
// it left the process; err (a *trace.FieldError) is its Reason.
func validateError(fn, requestID string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), trace.ErrInvalidRequest.Error()+": ")
	return &Error{Kind: KindInvalid, Op: "validate", Fn: fn, RequestID: requestID, Msg: msg, Reason: err}
}

// evaluateTyped validates q and evaluates fn.
func evaluateTyped[R any, Q interface{ Validate() error }](ctx context.Context, c *Client, fn string, q Q, opts []CallOption) (*R, error) {
	if err := q.Validate(); err != nil {
		return nil, validateError(fn, "", err)
	}
	res, err := EvaluateAs[R](ctx, c, fn, q, opts...)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// RegisterProduct submits the RegisterProduct transaction.
func (c *Client) RegisterProduct(ctx context.Context, req trace.RegisterProductRequest, opts ...CallOption) (*trace.ProductResult, error) {
	return submitTyped[trace.ProductResult](ctx, c, "RegisterProduct", &req, opts)
}

// RegisterLot submits the RegisterLot transaction.
func (c *Client) RegisterLot(ctx context.Context, req trace.RegisterLotRequest, opts ...CallOption) (*trace.LotResult, error) {
	return submitTyped[trace.LotResult](ctx, c, "RegisterLot", &req, opts)
}

// ReleaseLot submits the ReleaseLot transaction.
func (c *Client) ReleaseLot(ctx context.Context, req trace.LotStatusRequest, opts ...CallOption) (*trace.LotResult, error) {
	return submitTyped[trace.LotResult](ctx, c, "ReleaseLot", &req, opts)
}

// RecallLot submits the RecallLot transaction.
func (c *Client) RecallLot(ctx context.Context, req trace.LotStatusRequest, opts ...CallOption) (*trace.LotResult, error) {
	return submitTyped[trace.LotResult](ctx, c, "RecallLot", &req, opts)
}

// WithdrawLot submits the WithdrawLot transaction.
func (c *Client) WithdrawLot(ctx context.Context, req trace.LotStatusRequest, opts ...CallOption) (*trace.LotResult, error) {
	return submitTyped[trace.LotResult](ctx, c, "WithdrawLot", &req, opts)
}

// CommissionPacks submits the CommissionPacks transaction.
func (c *Client) CommissionPacks(ctx context.Context, req trace.CommissionPacksRequest, opts ...CallOption) (*trace.CommissionPacksResult, error) {
	return submitTyped[trace.CommissionPacksResult](ctx, c, "CommissionPacks", &req, opts)
}

// Aggregate submits the Aggregate transaction.
func (c *Client) Aggregate(ctx context.Context, req trace.AggregateRequest, opts ...CallOption) (*trace.AggregateResult, error) {
	return submitTyped[trace.AggregateResult](ctx, c, "Aggregate", &req, opts)
}

// Ship submits the Ship transaction.
func (c *Client) Ship(ctx context.Context, req trace.ShipRequest, opts ...CallOption) (*trace.ShipmentResult, error) {
	return submitTyped[trace.ShipmentResult](ctx, c, "Ship", &req, opts)
}

// Receive submits the Receive transaction.
func (c *Client) Receive(ctx context.Context, req trace.ReceiveRequest, opts ...CallOption) (*trace.ReceiveResult, error) {
	return submitTyped[trace.ReceiveResult](ctx, c, "Receive", &req, opts)
}

// Dispense submits the Dispense transaction.
func (c *Client) Dispense(ctx context.Context, req trace.ScanRequest, opts ...CallOption) (*trace.ScanResult, error) {
	return submitTyped[trace.ScanResult](ctx, c, "Dispense", &req, opts)
}

// Undo submits the Undo transaction.
func (c *Client) Undo(ctx context.Context, req trace.ScanRequest, opts ...CallOption) (*trace.ScanResult, error) {
	return submitTyped[trace.ScanResult](ctx, c, "Undo", &req, opts)
}

// ReportScan submits the ReportScan transaction.
func (c *Client) ReportScan(ctx context.Context, req trace.ScanRequest, opts ...CallOption) (*trace.ScanResult, error) {
	return submitTyped[trace.ScanResult](ctx, c, "ReportScan", &req, opts)
}

// Decommission submits the Decommission transaction.
func (c *Client) Decommission(ctx context.Context, req trace.DecommissionRequest, opts ...CallOption) (*trace.ScanResult, error) {
	return submitTyped[trace.ScanResult](ctx, c, "Decommission", &req, opts)
}

// FlagAnomaly submits the FlagAnomaly transaction.
func (c *Client) FlagAnomaly(ctx context.Context, req trace.FlagAnomalyRequest, opts ...CallOption) (*trace.AnomalyResult, error) {
	return submitTyped[trace.AnomalyResult](ctx, c, "FlagAnomaly", &req, opts)
}

// TransitionAnomaly submits the TransitionAnomaly transaction.
func (c *Client) TransitionAnomaly(ctx context.Context, req trace.TransitionAnomalyRequest, opts ...CallOption) (*trace.AnomalyResult, error) {
	return submitTyped[trace.AnomalyResult](ctx, c, "TransitionAnomaly", &req, opts)
}

// CommentAnomaly submits the CommentAnomaly transaction.
func (c *Client) CommentAnomaly(ctx context.Context, req trace.CommentAnomalyRequest, opts ...CallOption) (*trace.AnomalyResult, error) {
	return submitTyped[trace.AnomalyResult](ctx, c, "CommentAnomaly", &req, opts)
}

// Verify evaluates the Verify query on one peer; it writes nothing.
func (c *Client) Verify(ctx context.Context, q trace.VerifyRequest, opts ...CallOption) (*trace.VerifyResult, error) {
	return evaluateTyped[trace.VerifyResult](ctx, c, "Verify", &q, opts)
}

// GetProduct evaluates the GetProduct query on one peer; it writes nothing.
func (c *Client) GetProduct(ctx context.Context, q trace.ProductQuery, opts ...CallOption) (*trace.GetProductResult, error) {
	return evaluateTyped[trace.GetProductResult](ctx, c, "GetProduct", &q, opts)
}

// GetPack evaluates the GetPack query on one peer; it writes nothing.
func (c *Client) GetPack(ctx context.Context, q trace.PackQuery, opts ...CallOption) (*trace.GetPackResult, error) {
	return evaluateTyped[trace.GetPackResult](ctx, c, "GetPack", &q, opts)
}

// GetPackHistory evaluates the GetPackHistory query on one peer; it writes nothing.
func (c *Client) GetPackHistory(ctx context.Context, q trace.PackHistoryQuery, opts ...CallOption) (*trace.PackHistoryResult, error) {
	return evaluateTyped[trace.PackHistoryResult](ctx, c, "GetPackHistory", &q, opts)
}

// GetLot evaluates the GetLot query on one peer; it writes nothing.
func (c *Client) GetLot(ctx context.Context, q trace.LotQuery, opts ...CallOption) (*trace.GetLotResult, error) {
	return evaluateTyped[trace.GetLotResult](ctx, c, "GetLot", &q, opts)
}

// GetShipment evaluates the GetShipment query on one peer; it writes nothing.
func (c *Client) GetShipment(ctx context.Context, q trace.ShipmentQuery, opts ...CallOption) (*trace.GetShipmentResult, error) {
	return evaluateTyped[trace.GetShipmentResult](ctx, c, "GetShipment", &q, opts)
}

// GetAnomaly evaluates the GetAnomaly query on one peer; it writes nothing.
func (c *Client) GetAnomaly(ctx context.Context, q trace.AnomalyQuery, opts ...CallOption) (*trace.GetAnomalyResult, error) {
	return evaluateTyped[trace.GetAnomalyResult](ctx, c, "GetAnomaly", &q, opts)
}

// GetRequest evaluates the GetRequest query on one peer; it writes nothing.
func (c *Client) GetRequest(ctx context.Context, q trace.RequestQuery, opts ...CallOption) (*trace.GetRequestResult, error) {
	return evaluateTyped[trace.GetRequestResult](ctx, c, "GetRequest", &q, opts)
}

// ListAnomalies evaluates the ListAnomalies query on one peer; it writes nothing.
func (c *Client) ListAnomalies(ctx context.Context, q trace.ListAnomaliesQuery, opts ...CallOption) (*trace.ListAnomaliesResult, error) {
	return evaluateTyped[trace.ListAnomaliesResult](ctx, c, "ListAnomalies", &q, opts)
}

// ListPacksByLot evaluates the ListPacksByLot query on one peer; it writes nothing.
func (c *Client) ListPacksByLot(ctx context.Context, q trace.ListPacksByLotQuery, opts ...CallOption) (*trace.ListPacksByLotResult, error) {
	return evaluateTyped[trace.ListPacksByLotResult](ctx, c, "ListPacksByLot", &q, opts)
}

// mirrored lists the chaincode functions with a typed method above; a test
// checks it against trace.SubmitTransactions and trace.EvaluateTransactions.
var mirrored = []string{"RegisterProduct", "RegisterLot", "ReleaseLot", "RecallLot", "WithdrawLot", "CommissionPacks", "Aggregate", "Ship", "Receive", "Dispense", "Undo", "ReportScan", "Decommission", "FlagAnomaly", "TransitionAnomaly", "CommentAnomaly", "Verify", "GetProduct", "GetPack", "GetPackHistory", "GetLot", "GetShipment", "GetAnomaly", "GetRequest", "ListAnomalies", "ListPacksByLot"}
