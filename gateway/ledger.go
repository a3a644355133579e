package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// CommissionPacks submits the CommissionPacks transaction. Like every
// submit of CommissionPacks (Submit, SubmitRaw), it first registers the lot
// when it is not (see commission).
func (c *Client) CommissionPacks(ctx context.Context, req trace.CommissionPacksRequest, opts ...CallOption) (*trace.CommissionPacksResult, error) {
	return submitTyped[trace.CommissionPacksResult](ctx, c, trace.TxCommissionPacks, &req, opts)
}

// InitCollection submits the InitCollection transaction.
func (c *Client) InitCollection(ctx context.Context, req trace.InitCollectionRequest, opts ...CallOption) (*trace.InitCollectionResult, error) {
	return submitTyped[trace.InitCollectionResult](ctx, c, trace.TxInitCollection, &req, opts)
}

// commission submits a CommissionPacks request (arg, its JSON) after what
// it needs: lots are public records (MAJORITY), packs private, so a
// commissioning, endorsed by the collection's members only, cannot create
// its lot; and the manufacturer's collection needs its pseudonym key once
// (InitCollection, a fresh crypto/rand key). Both are done here when
// missing, with request IDs derived from the commission's, so a retried
// commission retries them safely.
func (c *Client) commission(ctx context.Context, requestID string, arg []byte, opts []CallOption, co *callOptions) ([]byte, error) {
	var req trace.CommissionPacksRequest
	if err := json.Unmarshal(arg, &req); err != nil {
		return nil, &Error{Kind: KindInvalid, Op: "decode", Fn: trace.TxCommissionPacks, RequestID: requestID, Reason: reasonOf(KindInvalid, "undecodable CommissionPacks request"), Err: err}
	}
	registered, err := c.ensureLot(ctx, &req, co)
	if err != nil {
		return nil, err
	}
	opts = append(opts[:len(opts):len(opts)], func(o *callOptions) { o.prepared = true })
	keyed := false
	// A lot or a key set just now may not be committed yet on every peer
	// that endorses the commission (the registration waited for the
	// client's own peer only): such an endorser reports it missing. Try
	// again a few times, after a backoff.
	r := newRetrier(c.policyFor(co), c.clock, c.randN, true)
	for {
		raw, err := c.submitCall(ctx, trace.TxCommissionPacks, requestID, &req, arg, opts)
		noKey := err != nil && errors.Is(err, trace.ErrConflict) && strings.Contains(err.Error(), "has no pseudonym key yet")
		reason := ""
		switch {
		case noKey && !keyed:
			keyed = true
			if err := c.ensureCollectionKey(ctx, &req, co); err != nil {
				return nil, err
			}
			continue
		case noKey:
			reason = "collection_key_not_seen"
		case registered && errors.Is(err, trace.ErrNotFound):
			reason = "lot_not_found"
		default:
			return raw, err
		}
		if r.exhausted() {
			return raw, err
		}
		c.log.Info("lot or collection key set but not yet seen by an endorser; commissioning again", "request_id", req.RequestID, "gtin", req.GTIN, "lot", req.Lot, "err", err)
		c.metrics.retry(trace.TxCommissionPacks, reason)
		if r.wait(ctx, nil) != nil {
			return raw, err
		}
	}
}

// ensureCollectionKey gives the client's organisation's collection its
// pseudonym key: 32 bytes from crypto/rand, sent as transient data. A
// conflict (another commission set it first) is fine.
func (c *Client) ensureCollectionKey(ctx context.Context, req *trace.CommissionPacksRequest, co *callOptions) error {
	key := make([]byte, trace.CollectionKeySize)
	if _, err := rand.Read(key); err != nil {
		return &Error{Kind: KindInternal, Op: "init collection", Fn: trace.TxInitCollection, Msg: "no randomness for the collection key", Err: err}
	}
	ic := trace.InitCollectionRequest{RequestHeader: trace.RequestHeader{RequestID: derivedRequestID(req.RequestID, "key")}, Manufacturer: c.mspID, Key: key}
	var opts []CallOption
	if co.maxAttempts > 0 {
		opts = append(opts, WithMaxAttempts(co.maxAttempts))
	}
	_, err := c.InitCollection(ctx, ic, opts...)
	switch {
	case err == nil:
		c.log.Info("collection key set before its first commission", "collection", trace.Collection(c.mspID), "request_id", ic.RequestID)
	case errors.Is(err, trace.ErrConflict):
		c.log.Info("collection key set meanwhile", "collection", trace.Collection(c.mspID), "err", err)
	default:
		return err
	}
	return nil
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
	lot := trace.RegisterLotRequest{RequestHeader: trace.RequestHeader{RequestID: derivedRequestID(req.RequestID, "lot")}, GTIN: req.GTIN, Lot: req.Lot, Expiry: req.Expiry}
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

// derivedRequestID is the request ID of a transaction a commission
// submits first (what: "lot" for RegisterLot, "key" for InitCollection)
// for request requestID: requestID + ":" + what, or, when that is not a
// valid request ID (too long), what + ":" and a digest of requestID.
func derivedRequestID(requestID, what string) string {
	if id := requestID + ":" + what; trace.CheckID(id) == nil {
		return id
	}
	sum := sha256.Sum256([]byte(requestID))
	return what + ":" + hex.EncodeToString(sum[:16])
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
	trace.TxRegisterProduct, trace.TxRegisterLot, trace.TxReleaseLot, trace.TxRecallLot, trace.TxWithdrawLot, trace.TxCommissionPacks, trace.TxInitCollection,
	trace.TxAggregate, trace.TxShip, trace.TxReceive, trace.TxDispense, trace.TxUndo, trace.TxReportScan, trace.TxDecommission,
	trace.TxFlagAnomaly, trace.TxTransitionAnomaly, trace.TxCommentAnomaly, trace.TxVerify, trace.TxGetProduct, trace.TxGetPack,
	trace.TxGetPackHistory, trace.TxGetLot, trace.TxGetShipment, trace.TxGetAnomaly, trace.TxGetRequest, trace.TxListAnomalies,
	trace.TxListPacksByLot, trace.TxRoute,
}
