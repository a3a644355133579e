package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/identity"

	"github.com/pharmatrace/pharmatrace/trace"
)

// Client is a connection to the ledger through a pool of peer gateway
// endpoints. It is safe for concurrent use. Create it with Dial; Close it
// when done.
type Client struct {
	channel   string
	chaincode string
	orgs      []string
	timeouts  Timeouts
	policy    RetryPolicy

	pool    *pool
	log     *slog.Logger
	metrics *Metrics
	lookup  RequestLookup
	clock   clock
	randN   func(int64) int64
	// routes caches the private routes of GTIN-only requests (route.go).
	routes routeCache

	// probeChaincode: the home probe also queries the chaincode (the
	// Route of a GetRequest), which it has when WithGetRequestLookup is set.
	probeChaincode bool
	mspID          string // of the client's identity: the home endpoint's organisation
	// latestBlock is the highest block number this client has seen
	// committed (commit statuses, event stream, height probes).
	latestBlock atomic.Uint64
	closeOnce   sync.Once
	closeErr    error
}

// RequestLookup tells whether the request with this ID (submitted as
// chaincode function fn) is on the ledger and, if so, returns its stored
// outcome: the JSON result the original transaction returned. The client
// calls it after a failure that leaves the outcome of a submit unknown,
// before running the request again. It must answer from the ledger and
// report "not there" as found == false with a nil error. An error makes the
// client run the request again (safe: the chaincode de-duplicates).
type RequestLookup func(ctx context.Context, fn, requestID string) (found bool, result []byte, err error)

// Option configures Dial.
type Option func(*options)

type options struct {
	log         *slog.Logger
	metrics     *Metrics
	lookup      RequestLookup
	getRequest  bool
	id          identity.Identity
	sign        identity.Sign
	clock       clock
	randN       func(int64) int64
	newEndpoint func(ctx context.Context, cfg *Config, ep Endpoint, s *signer, log *slog.Logger) (endpoint, error)
}

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithMetrics sets the Prometheus collectors to record into (default: none).
func WithMetrics(m *Metrics) Option { return func(o *options) { o.metrics = m } }

// WithRequestLookup sets the lookup consulted after an ambiguous submit
// failure. Without one, the client re-runs the request (safe: the chaincode
// de-duplicates by request ID and returns the original outcome, at the cost
// of one more transaction).
func WithRequestLookup(l RequestLookup) Option { return func(o *options) { o.lookup = l } }

// WithGetRequestLookup sets the RequestLookup to the PharmaTrace
// chaincode's GetRequest query (trace.RequestQuery → trace.GetRequestResult),
// evaluated through this client with its retries and failover. A record of
// the request ID under another transaction is reported as an error (the
// re-run then fails with the chaincode's conflict).
func WithGetRequestLookup() Option { return func(o *options) { o.getRequest = true } }

// WithIdentity sets the signing identity directly (for example one whose
// key lives in an HSM), instead of Config.Identity, which is then ignored.
func WithIdentity(id identity.Identity, sign identity.Sign) Option {
	return func(o *options) { o.id, o.sign = id, sign }
}

// CallOption configures one Submit or Evaluate.
type CallOption func(*callOptions)

type callOptions struct {
	orgs        []string
	orgsSet     bool
	receipt     *Receipt
	maxAttempts int
	prepared    bool // a commission whose lot and collection key are ensured
}

// WithEndorsingOrgs sets the organizations that must endorse this call (for
// Submit) or that may answer it (for Evaluate), overriding
// Config.EndorsingOrgs.
func WithEndorsingOrgs(mspIDs ...string) CallOption {
	return func(c *callOptions) { c.orgs, c.orgsSet = mspIDs, true }
}

// WithReceipt makes Submit fill r with what happened.
func WithReceipt(r *Receipt) CallOption { return func(c *callOptions) { c.receipt = r } }

// WithMaxAttempts overrides RetryPolicy.MaxAttempts for this call.
func WithMaxAttempts(n int) CallOption { return func(c *callOptions) { c.maxAttempts = n } }

// Receipt describes how a Submit ended.
type Receipt struct {
	// TxID and Block identify the committed transaction whose result was
	// returned; both are empty when the result came from the request lookup.
	TxID  string
	Block uint64
	// Endorsements is the number of endorsement attempts (each a new
	// transaction proposal) made for the request.
	Endorsements int
	// FromLookup is true when the result is the stored outcome returned by
	// the request lookup (the request had committed in an earlier attempt).
	FromLookup bool
	// Endpoint is the address of the endpoint that confirmed the outcome.
	Endpoint string
}

func newClient(cfg *Config, eps []endpoint, o *options) *Client {
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.clock == nil {
		o.clock = realClock{}
	}
	if o.randN == nil {
		o.randN = defaultRandN
	}
	c := &Client{
		channel:   cfg.Channel,
		chaincode: cfg.Chaincode,
		orgs:      cfg.EndorsingOrgs,
		timeouts:  cfg.Timeouts.withDefaults(),
		policy:    cfg.Retry.withDefaults(),
		log:       o.log.With("channel", cfg.Channel, "chaincode", cfg.Chaincode),
		metrics:   o.metrics,
		lookup:    o.lookup,
		clock:     o.clock,
		randN:     o.randN,
	}
	c.pool = newPool(eps, c.log, o.metrics, c.clock, c.homeReady)
	for _, ep := range cfg.Endpoints {
		c.pool.msps = append(c.pool.msps, ep.MSPID)
	}
	if c.lookup == nil && o.getRequest {
		c.lookup = c.getRequestLookup
	}
	c.probeChaincode = o.getRequest
	c.mspID = cfg.Identity.MSPID
	return c
}

// homeReady is the pool's probe of the home endpoint: within
// homeProbeTimeout it answers a height query showing every block this
// client has seen committed and, with the GetRequest lookup, a chaincode
// query (so a peer whose chaincode server is down is not home yet: it
// would fail every endorsement). The query is the Route of a GetRequest:
// GetRequest itself is routed, and a routed request passed as an argument
// is refused.
func (c *Client) homeReady(ep endpoint) bool {
	ctx, cancel := context.WithTimeout(context.Background(), homeProbeTimeout)
	defer cancel()
	h, err := ep.Height(ctx)
	if err != nil || h <= c.latestBlock.Load() { // height = last block number + 1
		return false
	}
	if !c.probeChaincode {
		return true
	}
	arg, err := json.Marshal(trace.RouteQuery{Transaction: trace.TxGetRequest, Keys: trace.RouteKeys{RequestID: "home-probe"}})
	if err != nil {
		return false
	}
	// Only the home organisation may answer: the Fabric gateway would
	// otherwise evaluate on another organisation's peer when its own
	// chaincode server is down.
	_, err = ep.Evaluate(ctx, invocation{Fn: trace.TxRoute, Arg: arg, Orgs: c.ownOrgs()})
	return err == nil
}

// homeProbeTimeout bounds the probe of the home endpoint.
const homeProbeTimeout = time.Second

// getRequestLookup is the RequestLookup of WithGetRequestLookup.
func (c *Client) getRequestLookup(ctx context.Context, fn, requestID string) (bool, []byte, error) {
	q := &trace.RequestQuery{RequestID: requestID}
	arg, err := json.Marshal(q)
	if err != nil {
		return false, nil, err
	}
	// GetRequest is routed: the record of a routed request is in its
	// collection.
	raw, err := c.evaluateCall(ctx, trace.TxGetRequest, q, arg, c.callOptions(nil))
	if err != nil {
		return false, nil, err
	}
	var res trace.GetRequestResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return false, nil, fmt.Errorf("decode %s result: %w", trace.TxGetRequest, err)
	}
	if !res.Found || res.Request == nil {
		return false, nil, nil
	}
	if res.Request.Transaction != fn {
		return false, nil, fmt.Errorf("request ID %q is recorded for %s, not %s", requestID, res.Request.Transaction, fn)
	}
	return true, []byte(res.Request.Result), nil
}

// Close closes every endpoint connection. It does not wait for calls in
// flight; their contexts should be cancelled first.
func (c *Client) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.pool.close() })
	return c.closeErr
}

// Channel returns the channel name.
func (c *Client) Channel() string { return c.channel }

// Chaincode returns the chaincode name.
func (c *Client) Chaincode() string { return c.chaincode }

func (c *Client) callOptions(opts []CallOption) *callOptions {
	co := &callOptions{}
	for _, o := range opts {
		o(co)
	}
	if !co.orgsSet {
		co.orgs = c.orgs
	}
	return co
}

func (c *Client) policyFor(co *callOptions) RetryPolicy {
	p := c.policy
	if co.maxAttempts > 0 {
		p.MaxAttempts = co.maxAttempts
	}
	return p
}

// Submit runs the chaincode transaction fn with req, JSON-encoded, as its
// one argument, waits for it to commit and decodes its JSON result into
// result (unless result is nil). requestID must be the client-chosen request
// ID carried in req: the chaincode de-duplicates on it, which is what makes
// retries safe. A business refusal is a successful result.
//
// A routed transaction (trace.TxInfo.Routed) first asks the Route query
// where it goes; routed to a collection, the JSON request travels as
// transient data (the argument is empty) to the route's endorsers only. A
// WithEndorsingOrgs option may then only narrow those endorsers.
func (c *Client) Submit(ctx context.Context, fn, requestID string, req, result any, opts ...CallOption) error {
	start := c.clock.Now()
	raw, err := c.submitJSON(ctx, fn, requestID, req, opts)
	if err == nil && result != nil {
		err = decodeResult(fn, raw, result)
	}
	c.metrics.observeSubmit(fn, outcomeOf(raw, err), c.clock.Now().Sub(start))
	return err
}

// SubmitAs is Submit returning the decoded result.
func SubmitAs[R any](ctx context.Context, c *Client, fn, requestID string, req any, opts ...CallOption) (R, error) {
	var r R
	err := c.Submit(ctx, fn, requestID, req, &r, opts...)
	return r, err
}

// SubmitRaw is Submit with an already encoded argument and the raw result.
// A routed transaction's argument is decoded to find its route.
func (c *Client) SubmitRaw(ctx context.Context, fn, requestID string, arg []byte, opts ...CallOption) ([]byte, error) {
	start := c.clock.Now()
	raw, err := c.submitCall(ctx, fn, requestID, nil, arg, opts)
	c.metrics.observeSubmit(fn, outcomeOf(raw, err), c.clock.Now().Sub(start))
	return raw, err
}

func (c *Client) submitJSON(ctx context.Context, fn, requestID string, req any, opts []CallOption) ([]byte, error) {
	arg, err := json.Marshal(req)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Op: "encode", Fn: fn, RequestID: requestID, Reason: reasonOf(KindInvalid, "cannot encode the request"), Err: err}
	}
	return c.submitCall(ctx, fn, requestID, req, arg, opts)
}

// submitCall submits fn with the encoded request arg (req is the request
// itself, nil for SubmitRaw), routed if fn is (route.go).
func (c *Client) submitCall(ctx context.Context, fn, requestID string, req any, arg []byte, opts []CallOption) ([]byte, error) {
	if requestID == "" {
		return nil, &Error{Kind: KindInvalid, Op: "submit", Fn: fn, Msg: "empty request ID", Reason: trace.Invalid("requestId", "empty")}
	}
	co := c.callOptions(opts)
	if fn == trace.TxCommissionPacks && !co.prepared {
		return c.commission(ctx, requestID, arg, opts, co)
	}
	inv, cacheKey, err := c.invocation(ctx, fn, requestID, req, arg, co)
	if err != nil {
		if co.receipt != nil {
			*co.receipt = Receipt{}
		}
		return nil, err
	}
	raw, rc, err := c.submit(ctx, inv, requestID, co)
	if co.receipt != nil {
		*co.receipt = rc
	}
	if err != nil && cacheKey != "" {
		c.routes.forget(cacheKey) // in case the route is what failed
	}
	return raw, err
}

// Evaluate runs the chaincode query fn with req, JSON-encoded, as its one
// argument on one peer (nothing is written) and decodes its JSON result into
// result (unless result is nil). Transient failures are retried, on another
// endpoint when the current one is down. A routed query goes where its
// route says, as for Submit.
func (c *Client) Evaluate(ctx context.Context, fn string, req, result any, opts ...CallOption) error {
	start := c.clock.Now()
	raw, err := c.evaluateJSON(ctx, fn, req, opts)
	if err == nil && result != nil {
		err = decodeResult(fn, raw, result)
	}
	c.metrics.observeEvaluate(fn, outcomeOf(raw, err), c.clock.Now().Sub(start))
	return err
}

// EvaluateAs is Evaluate returning the decoded result.
func EvaluateAs[R any](ctx context.Context, c *Client, fn string, req any, opts ...CallOption) (R, error) {
	var r R
	err := c.Evaluate(ctx, fn, req, &r, opts...)
	return r, err
}

// EvaluateRaw is Evaluate with an already encoded argument and the raw
// result. A routed query's argument is decoded to find its route.
func (c *Client) EvaluateRaw(ctx context.Context, fn string, arg []byte, opts ...CallOption) ([]byte, error) {
	start := c.clock.Now()
	raw, err := c.evaluateCall(ctx, fn, nil, arg, c.callOptions(opts))
	c.metrics.observeEvaluate(fn, outcomeOf(raw, err), c.clock.Now().Sub(start))
	return raw, err
}

func (c *Client) evaluateJSON(ctx context.Context, fn string, req any, opts []CallOption) ([]byte, error) {
	arg, err := json.Marshal(req)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Op: "encode", Fn: fn, Reason: reasonOf(KindInvalid, "cannot encode the request"), Err: err}
	}
	return c.evaluateCall(ctx, fn, req, arg, c.callOptions(opts))
}

// evaluateCall evaluates fn with the encoded request arg (req is the
// request itself, nil for EvaluateRaw), routed if fn is (route.go).
func (c *Client) evaluateCall(ctx context.Context, fn string, req any, arg []byte, co *callOptions) ([]byte, error) {
	inv, cacheKey, err := c.invocation(ctx, fn, "", req, arg, co)
	if err != nil {
		return nil, err
	}
	raw, err := c.evaluate(ctx, inv, co)
	if err != nil && cacheKey != "" {
		c.routes.forget(cacheKey) // in case the route is what failed
	}
	return raw, err
}

func decodeResult(fn string, raw []byte, result any) error {
	if err := json.Unmarshal(raw, result); err != nil {
		return &Error{Kind: KindInternal, Op: "decode", Fn: fn, Msg: "undecodable result", Err: err}
	}
	return nil
}

// outcomeOf is the metrics outcome label of a call: the error Kind, or
// "refused" when the result is a business refusal (a trace.Outcome with
// status "refused", under "outcome" as the trace result types carry it, or
// at the top level), or "ok".
func outcomeOf(raw []byte, err error) string {
	if err != nil {
		k, _ := KindOf(err)
		return k.String()
	}
	if bytes.Contains(raw, []byte(trace.StatusRefused)) {
		var r struct {
			Status  trace.OutcomeStatus `json:"status"`
			Outcome *trace.Outcome      `json:"outcome"`
		}
		if json.Unmarshal(raw, &r) == nil && (r.Status == trace.StatusRefused || r.Outcome != nil && r.Outcome.Status == trace.StatusRefused) {
			return "refused"
		}
	}
	return "ok"
}

// observeBlock records a block number seen committed.
func (c *Client) observeBlock(b uint64) {
	for {
		cur := c.latestBlock.Load()
		if b <= cur || c.latestBlock.CompareAndSwap(cur, b) {
			return
		}
	}
}

// callCtx bounds one remote call by d within ctx.
func callCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// ctxError wraps the end of the caller's context into an *Error of kind
// (unavailable, or unknown outcome when the request may have been applied),
// keeping both the context error and the last failure as causes.
// A context that has not ended yet counts as at its deadline: the call
// gave up because no try could complete before it.
func ctxError(ctx context.Context, kind Kind, op, fn, requestID, txID string, last error) *Error {
	end := ctx.Err()
	if end == nil {
		end = context.DeadlineExceeded
	}
	var cause = end
	if last != nil && !isNilError(last) {
		cause = fmt.Errorf("%w (last failure: %w)", end, last)
	}
	code := "Canceled"
	if errors.Is(end, context.DeadlineExceeded) {
		code = "DeadlineExceeded"
	}
	return &Error{Kind: kind, Op: op, Fn: fn, RequestID: requestID, TxID: txID, Code: code, Msg: "context ended before the call completed", Err: cause}
}

// isNilError reports whether err is a nil *Error in a non-nil interface.
func isNilError(err error) bool {
	e, ok := err.(*Error)
	return ok && e == nil
}

var _ io.Closer = (*Client)(nil)
