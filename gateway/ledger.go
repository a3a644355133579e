package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
	return submitTyped[trace.ProductResult](ctx, c, trace.TxRegisterProduct, &req, opts)
}

// RegisterLot submits the RegisterLot transaction.
func (c *Client) RegisterLot(ctx context.Context, req trace.RegisterLotRequest, opts ...CallOption) (*trace.LotResult, error) {
	return submitTyped[trace.LotResult](ctx, c, trace.TxRegisterLot, &req, opts)
}

// ReleaseLot submits the ReleaseLot transaction.
func (c *Client) ReleaseLot(ctx context.Context, req trace.LotStatusRequest, opts ...CallOption) (*trace.LotResult, error) {
	return submitTyped[trace.LotResult](ctx, c, trace.TxReleaseLot, &req, opts)
}

// RecallLot submits the RecallLot transaction.
func (c *Client) RecallLot(ctx context.Context, req trace.LotStatusRequest, opts ...CallOption) (*trace.LotResult, error) {
	return submitTyped[trace.LotResult](ctx, c, trace.TxRecallLot, &req, opts)
}

// WithdrawLot submits the WithdrawLot transaction.
func (c *Client) WithdrawLot(ctx context.Context, req trace.LotStatusRequest, opts ...CallOption) (*trace.LotResult, error) {
	return submitTyped[trace.LotResult](ctx, c, trace.TxWithdrawLot, &req, opts)
}

// CommissionPacks submits the CommissionPacks transaction, after making
// sure that its lot is registered. Packs are private records, and the
// contract requires the public record of their lot, which only a public,
// majority-endorsed RegisterLot writes. So when GetLot reports the lot not
// found, RegisterLot (GTIN, lot and expiry of req, status released) is
// submitted first, under a request ID derived from req's (a retried
// commission re-uses it, and the chaincode de-duplicates it); a conflict
// (the lot was registered meanwhile) is fine. opts apply to the
// commission; of them, only WithMaxAttempts applies to the lot's query and
// registration.
func (c *Client) CommissionPacks(ctx context.Context, req trace.CommissionPacksRequest, opts ...CallOption) (*trace.CommissionPacksResult, error) {
	if err := req.Validate(); err != nil {
		return nil, validateError(trace.TxCommissionPacks, req.ID(), err)
	}
	co := c.callOptions(opts)
	registered, err := c.ensureLot(ctx, &req, co)
	if err != nil {
		return nil, err
	}
	// A lot registered just now may not be committed yet on every peer
	// that endorses the commission (the registration waited for the
	// client's own peer only): such an endorser reports it not found.
	// Try again a few times, after a backoff.
	r := newRetrier(c.policyFor(co), c.clock, c.randN, true)
	for {
		res, err := submitTyped[trace.CommissionPacksResult](ctx, c, trace.TxCommissionPacks, &req, opts)
		if !registered || !errors.Is(err, trace.ErrNotFound) || r.exhausted() {
			return res, err
		}
		c.log.Info("lot registered but not yet seen by an endorser; commissioning again", "request_id", req.RequestID, "gtin", req.GTIN, "lot", req.Lot, "err", err)
		c.metrics.retry(trace.TxCommissionPacks, "lot_not_found")
		if r.wait(ctx, nil) != nil {
			return res, err
		}
	}
}

// ensureLot registers the lot of req unless GetLot finds it. registered
// reports that it was missing (and is now registered, by this call or,
// after a conflict, by another).
func (c *Client) ensureLot(ctx context.Context, req *trace.CommissionPacksRequest, co *callOptions) (registered bool, err error) {
	var opts []CallOption
	if co.maxAttempts > 0 {
		opts = append(opts, WithMaxAttempts(co.maxAttempts))
	}
	_, err = c.GetLot(ctx, trace.LotQuery{GTIN: req.GTIN, Lot: req.Lot}, opts...)
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, trace.ErrNotFound):
		return false, err
	}
	lot := trace.RegisterLotRequest{RequestHeader: trace.RequestHeader{RequestID: lotRequestID(req.RequestID)}, GTIN: req.GTIN, Lot: req.Lot, Expiry: req.Expiry}
	log := c.log.With("request_id", req.RequestID, "gtin", req.GTIN, "lot", req.Lot)
	_, err = c.RegisterLot(ctx, lot, opts...)
	switch {
	case err == nil:
		log.Info("lot registered for its first commission", "lot_request_id", lot.RequestID)
	case errors.Is(err, trace.ErrConflict):
		log.Info("lot registered meanwhile", "lot_request_id", lot.RequestID, "err", err)
	default:
		return false, err
	}
	return true, nil
}

// lotRequestID is the request ID of the RegisterLot that CommissionPacks
// submits for request requestID: requestID + ":lot", or, when that is not
// a valid request ID (too long), "lot:" and a digest of requestID.
func lotRequestID(requestID string) string {
	if id := requestID + ":lot"; trace.CheckID(id) == nil {
		return id
	}
	sum := sha256.Sum256([]byte(requestID))
	return "lot:" + hex.EncodeToString(sum[:16])
}

// Aggregate submits the Aggregate transaction.
func (c *Client) Aggregate(ctx context.Context, req trace.AggregateRequest, opts ...CallOption) (*trace.AggregateResult, error) {
	return submitTyped[trace.AggregateResult](ctx, c, trace.TxAggregate, &req, opts)
}

// Ship submits the Ship transaction.
func (c *Client) Ship(ctx context.Context, req trace.ShipRequest, opts ...CallOption) (*trace.ShipmentResult, error) {
	return submitTyped[trace.ShipmentResult](ctx, c, trace.TxShip, &req, opts)
}

// Receive submits the Receive transaction.
func (c *Client) Receive(ctx context.Context, req trace.ReceiveRequest, opts ...CallOption) (*trace.ReceiveResult, error) {
	return submitTyped[trace.ReceiveResult](ctx, c, trace.TxReceive, &req, opts)
}

// Dispense submits the Dispense transaction.
func (c *Client) Dispense(ctx context.Context, req trace.ScanRequest, opts ...CallOption) (*trace.ScanResult, error) {
	return submitTyped[trace.ScanResult](ctx, c, trace.TxDispense, &req, opts)
}

// Undo submits the Undo transaction.
func (c *Client) Undo(ctx context.Context, req trace.ScanRequest, opts ...CallOption) (*trace.ScanResult, error) {
	return submitTyped[trace.ScanResult](ctx, c, trace.TxUndo, &req, opts)
}

// ReportScan submits the ReportScan transaction.
func (c *Client) ReportScan(ctx context.Context, req trace.ScanRequest, opts ...CallOption) (*trace.ScanResult, error) {
	return submitTyped[trace.ScanResult](ctx, c, trace.TxReportScan, &req, opts)
}

// Decommission submits the Decommission transaction.
func (c *Client) Decommission(ctx context.Context, req trace.DecommissionRequest, opts ...CallOption) (*trace.ScanResult, error) {
	return submitTyped[trace.ScanResult](ctx, c, trace.TxDecommission, &req, opts)
}

// FlagAnomaly submits the FlagAnomaly transaction.
func (c *Client) FlagAnomaly(ctx context.Context, req trace.FlagAnomalyRequest, opts ...CallOption) (*trace.AnomalyResult, error) {
	return submitTyped[trace.AnomalyResult](ctx, c, trace.TxFlagAnomaly, &req, opts)
}

// TransitionAnomaly submits the TransitionAnomaly transaction.
func (c *Client) TransitionAnomaly(ctx context.Context, req trace.TransitionAnomalyRequest, opts ...CallOption) (*trace.AnomalyResult, error) {
	return submitTyped[trace.AnomalyResult](ctx, c, trace.TxTransitionAnomaly, &req, opts)
}

// CommentAnomaly submits the CommentAnomaly transaction.
func (c *Client) CommentAnomaly(ctx context.Context, req trace.CommentAnomalyRequest, opts ...CallOption) (*trace.AnomalyResult, error) {
	return submitTyped[trace.AnomalyResult](ctx, c, trace.TxCommentAnomaly, &req, opts)
}

// Verify evaluates the Verify query on one peer; it writes nothing.
func (c *Client) Verify(ctx context.Context, q trace.VerifyRequest, opts ...CallOption) (*trace.VerifyResult, error) {
	return evaluateTyped[trace.VerifyResult](ctx, c, trace.TxVerify, &q, opts)
}

// GetProduct evaluates the GetProduct query on one peer; it writes nothing.
func (c *Client) GetProduct(ctx context.Context, q trace.ProductQuery, opts ...CallOption) (*trace.GetProductResult, error) {
	return evaluateTyped[trace.GetProductResult](ctx, c, trace.TxGetProduct, &q, opts)
}

// GetPack evaluates the GetPack query on one peer; it writes nothing.
func (c *Client) GetPack(ctx context.Context, q trace.PackQuery, opts ...CallOption) (*trace.GetPackResult, error) {
	return evaluateTyped[trace.GetPackResult](ctx, c, trace.TxGetPack, &q, opts)
}

// GetPackHistory evaluates the GetPackHistory query on one peer; it writes nothing.
func (c *Client) GetPackHistory(ctx context.Context, q trace.PackHistoryQuery, opts ...CallOption) (*trace.PackHistoryResult, error) {
	return evaluateTyped[trace.PackHistoryResult](ctx, c, trace.TxGetPackHistory, &q, opts)
}

// GetLot evaluates the GetLot query on one peer; it writes nothing.
func (c *Client) GetLot(ctx context.Context, q trace.LotQuery, opts ...CallOption) (*trace.GetLotResult, error) {
	return evaluateTyped[trace.GetLotResult](ctx, c, trace.TxGetLot, &q, opts)
}

// GetShipment evaluates the GetShipment query on one peer; it writes nothing.
func (c *Client) GetShipment(ctx context.Context, q trace.ShipmentQuery, opts ...CallOption) (*trace.GetShipmentResult, error) {
	return evaluateTyped[trace.GetShipmentResult](ctx, c, trace.TxGetShipment, &q, opts)
}

// GetAnomaly evaluates the GetAnomaly query on one peer; it writes nothing.
func (c *Client) GetAnomaly(ctx context.Context, q trace.AnomalyQuery, opts ...CallOption) (*trace.GetAnomalyResult, error) {
	return evaluateTyped[trace.GetAnomalyResult](ctx, c, trace.TxGetAnomaly, &q, opts)
}

// GetRequest evaluates the GetRequest query on one peer; it writes nothing.
func (c *Client) GetRequest(ctx context.Context, q trace.RequestQuery, opts ...CallOption) (*trace.GetRequestResult, error) {
	return evaluateTyped[trace.GetRequestResult](ctx, c, trace.TxGetRequest, &q, opts)
}

// ListAnomalies evaluates the ListAnomalies query on one peer; it writes nothing.
func (c *Client) ListAnomalies(ctx context.Context, q trace.ListAnomaliesQuery, opts ...CallOption) (*trace.ListAnomaliesResult, error) {
	return evaluateTyped[trace.ListAnomaliesResult](ctx, c, trace.TxListAnomalies, &q, opts)
}

// ListPacksByLot evaluates the ListPacksByLot query on one peer; it writes nothing.
func (c *Client) ListPacksByLot(ctx context.Context, q trace.ListPacksByLotQuery, opts ...CallOption) (*trace.ListPacksByLotResult, error) {
	return evaluateTyped[trace.ListPacksByLotResult](ctx, c, trace.TxListPacksByLot, &q, opts)
}

// Route evaluates the Route query (where a routed request goes) on a peer
// of the client's own organisation, unless WithEndorsingOrgs says
// otherwise. Routed calls ask it themselves (route.go); this method is for
// tools and diagnostics, and bypasses the route cache.
func (c *Client) Route(ctx context.Context, q trace.RouteQuery, opts ...CallOption) (*trace.RouteResult, error) {
	opts = append([]CallOption{WithEndorsingOrgs(c.ownOrgs()...)}, opts...)
	return evaluateTyped[trace.RouteResult](ctx, c, trace.TxRoute, &q, opts)
}

// mirrored lists the chaincode functions with a typed method above; a test
// checks it against trace.SubmitTransactions and trace.EvaluateTransactions.
var mirrored = []string{
	trace.TxRegisterProduct, trace.TxRegisterLot, trace.TxReleaseLot, trace.TxRecallLot, trace.TxWithdrawLot, trace.TxCommissionPacks,
	trace.TxAggregate, trace.TxShip, trace.TxReceive, trace.TxDispense, trace.TxUndo, trace.TxReportScan, trace.TxDecommission,
	trace.TxFlagAnomaly, trace.TxTransitionAnomaly, trace.TxCommentAnomaly, trace.TxVerify, trace.TxGetProduct, trace.TxGetPack,
	trace.TxGetPackHistory, trace.TxGetLot, trace.TxGetShipment, trace.TxGetAnomaly, trace.TxGetRequest, trace.TxListAnomalies,
	trace.TxListPacksByLot, trace.TxRoute,
}
