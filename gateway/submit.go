package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

func errorFrom(v verdict, op, fn, requestID, txID string, err error) *Error {
	reason := v.reason
	if reason == nil {
		reason = reasonOf(v.kind, v.msg)
	}
	return &Error{Kind: v.kind, Op: op, Fn: fn, RequestID: requestID, TxID: txID, Code: v.code, Msg: v.msg, Reason: reason, Err: err}
}

// submit runs one request to completion: endorse, order, commit, retrying
// as the failures allow. See the package documentation for the policy.
// Every endorsement sends inv (a new proposal, so a new transaction ID,
// with the same request and so the same request ID).
func (c *Client) submit(ctx context.Context, inv invocation, requestID string, co *callOptions) ([]byte, Receipt, error) {
	var rc Receipt
	fn := inv.Fn
	pol := c.policyFor(co)
	log := c.log.With("fn", fn, "request_id", requestID)
	if inv.private() {
		log = log.With("collection", inv.Collection)
	}

	// Keep part of the caller's deadline for the request lookup, so that an
	// ambiguous failure at the very end can still be resolved.
	runCtx := ctx
	if c.lookup != nil {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) > 2*c.timeouts.LookupReserve {
			var cancel context.CancelFunc
			runCtx, cancel = context.WithDeadline(ctx, dl.Add(-c.timeouts.LookupReserve))
			defer cancel()
		}
	}

	counted := c.counted(ctx, co)
	r := newRetrier(pol, c.clock, c.randN, counted)
	// maybeApplied: some transaction of this request may be (or become) part
	// of the ledger; a failure then has an unknown outcome.
	maybeApplied := false
	timeUp := false
	var last *Error
	for runCtx.Err() == nil {
		ep := c.pool.currentFor(inv, c.mspID)
		rc.Endorsements++
		ectx, cancel := callCtx(runCtx, c.timeouts.Endorse)
		tx, err := ep.Endorse(ectx, inv)
		cancel()

		var reason string
		switch {
		case err != nil:
			v := classify(phaseEndorse, err)
			last = errorFrom(v, "endorse", fn, requestID, "", err)
			r.failedOn(ep.Addr())
			if v.endpointSuspect {
				c.pool.fail(ep)
			}
			if !v.transient {
				return nil, rc, last
			}
			log.Warn("endorse failed", "endpoint", ep.Addr(), "err", err)
			reason = "endorse_" + v.kind.String()

		default:
			txLog := log.With("tx_id", tx.TxID)
			rc.TxID = tx.TxID
			o := c.order(runCtx, fn, requestID, ep, tx, pol, counted, txLog)
			if o.ordered {
				maybeApplied = true
			}
			ambiguous := false
			switch {
			case o.err == nil && o.status.Code == peer.TxValidationCode_VALID:
				c.observeBlock(o.status.Block)
				rc.Block, rc.Endpoint = o.status.Block, o.at.Addr()
				txLog.Debug("transaction committed", "block", o.status.Block, "endpoint", o.at.Addr())
				res, err := openResult(inv, tx.TxID, tx.Result)
				if err != nil {
					return nil, rc, &Error{Kind: KindInternal, Op: "open result", Fn: fn, RequestID: requestID, TxID: tx.TxID, Msg: "the committed result cannot be opened", Err: err}
				}
				return res, rc, nil
			case o.err == nil:
				c.observeBlock(o.status.Block)
				v := classifyCommitCode(o.status.Code)
				v.msg = "transaction invalidated by the committing peers"
				last = errorFrom(v, "commit", fn, requestID, tx.TxID, &client.CommitError{TransactionID: tx.TxID, Code: o.status.Code})
				txLog.Warn("transaction not valid", "code", o.status.Code.String(), "block", o.status.Block, "endpoint", o.at.Addr())
				switch {
				case v.kind == KindUnknownOutcome:
					ambiguous = true
				case !v.transient:
					return nil, rc, last
				}
				reason = "commit_" + v.kind.String()
			default:
				last = o.err
				switch {
				case o.windowMissed:
					// Ordered, yet not committed in time: the orderers may
					// have lost it (a leader died or stepped down with blocks
					// in flight). Find out, and run the request again if the
					// ledger does not have it.
					ambiguous = true
				case !o.ordered && !o.transient:
					return nil, rc, last
				case !o.ordered:
					reason = o.err.Op + "_" + o.err.Kind.String()
					r.failedOn(o.at.Addr()) // back off before the next try there
				default:
					ambiguous = true
					r.failedOn(o.at.Addr())
				}
			}
			if ambiguous {
				reason = "unknown_outcome"
				if o.windowMissed {
					reason = "commit_window"
				}
				if c.lookup != nil {
					found, res, lerr := c.lookupRequest(runCtx, fn, requestID, txLog)
					switch {
					case lerr == nil && found:
						rc.TxID, rc.Block, rc.FromLookup = "", 0, true
						return res, rc, nil
					case lerr == nil:
						// Not on the ledger as far as the lookup's peer
						// knows: run it again; if the first transaction
						// commits after all, the chaincode's de-duplication
						// makes the second one return its outcome (or fail
						// its read of the request key, and the next one
						// return it).
						reason += "_not_found"
					default:
						reason += "_lookup_error"
					}
				}
			}
		}

		if r.exhausted() {
			break
		}
		c.metrics.retry(fn, reason)
		if err := r.wait(runCtx, c.pool.current()); err != nil {
			timeUp = true
			break
		}
	}
	// Out of time (or of tries) with the outcome still open: one last look
	// with the reserve kept for it.
	if maybeApplied && c.lookup != nil && ctx.Err() == nil {
		if found, res, lerr := c.lookupRequest(ctx, fn, requestID, log); lerr == nil && found {
			rc.TxID, rc.Block, rc.FromLookup = "", 0, true
			return res, rc, nil
		}
	}
	return nil, rc, c.finalError(runCtx, fn, requestID, rc.TxID, maybeApplied, timeUp, last)
}

// counted reports whether the tries of a call are counted against
// MaxAttempts: when the caller asked for a count, or its context has no
// deadline to bound them.
func (c *Client) counted(ctx context.Context, co *callOptions) bool {
	_, hasDeadline := ctx.Deadline()
	return co.maxAttempts > 0 || !hasDeadline
}

// finalError is the error of a request that ran out of attempts or time
// (timeUp: no try could have completed before ctx's deadline).
func (c *Client) finalError(ctx context.Context, fn, requestID, txID string, maybeApplied, timeUp bool, last *Error) *Error {
	kind := KindUnavailable
	if last != nil {
		kind = last.Kind
	}
	if maybeApplied {
		kind = KindUnknownOutcome
	}
	if ctx.Err() != nil || timeUp {
		var cause error
		if last != nil {
			cause = last
		}
		return ctxError(ctx, kind, "submit", fn, requestID, txID, cause)
	}
	if last == nil {
		return &Error{Kind: kind, Op: "submit", Fn: fn, RequestID: requestID, Msg: "no attempt made"}
	}
	if last.Kind == kind {
		return last
	}
	e := *last
	e.Kind = kind
	e.Reason = nil // the last failure's reason, if any, stays reachable through Err
	e.Err = last
	return &e
}

// ordering is how order ended.
type ordering struct {
	status commitStatus
	at     endpoint // the endpoint that answered the commit status
	// ordered: the transaction may be on the ledger (a submit may have
	// reached the orderer).
	ordered bool
	// transient: the failure, if any, is worth another attempt.
	transient bool
	// windowMissed: the orderer accepted the transaction but it did not
	// commit within the commit window.
	windowMissed bool
	err          *Error
}

// order submits tx, re-sending the same signed transaction (same ID, which
// the ledger de-duplicates) when a submit fails (through another endpoint
// when the failure was the peer's, through the same one after a backoff
// when it was the ordering service's), then waits up to the commit window
// for its commit status, asking another endpoint when a commit-status call
// fails.
func (c *Client) order(ctx context.Context, fn, requestID string, ep endpoint, tx *endorsedTx, pol RetryPolicy, counted bool, log *slog.Logger) (o ordering) {
	r := newRetrier(pol, c.clock, c.randN, counted)
	for {
		sctx, cancel := callCtx(ctx, c.timeouts.Submit)
		err := ep.Submit(sctx, tx)
		cancel()
		if err == nil {
			break
		}
		v := classify(phaseSubmit, err)
		o.err = errorFrom(v, "submit", fn, requestID, tx.TxID, err)
		o.ordered = o.ordered || v.mayBeOrdered
		o.transient = v.transient
		r.failedOn(ep.Addr())
		if v.endpointSuspect {
			c.pool.fail(ep)
		}
		log.Warn("submit failed", "endpoint", ep.Addr(), "err", err, "maybe_ordered", v.mayBeOrdered, "peer_suspect", v.endpointSuspect)
		if !v.transient || r.exhausted() || ctx.Err() != nil {
			o.at = ep
			return o
		}
		c.metrics.retry(fn, "submit_"+v.kind.String())
		next := c.pool.current()
		if err := r.wait(ctx, next); err != nil {
			o.at = ep
			return o
		}
		ep = next
	}

	o.ordered, o.transient, o.err = true, false, nil
	r = newRetrier(pol, c.clock, c.randN, counted)
	window, stopWindow := c.clock.Timer(c.timeouts.CommitWindow)
	defer stopWindow()
	for {
		s, err, missed := commitStatusWithin(ctx, ep, tx.TxID, window)
		o.at = ep
		if err == nil {
			o.status, o.err = s, nil
			return o
		}
		if missed {
			log.Warn("transaction not committed within the commit window; the orderers may have lost it", "endpoint", ep.Addr(), "window", c.timeouts.CommitWindow)
			o.windowMissed, o.transient = true, true
			o.err = &Error{Kind: KindUnknownOutcome, Op: "commit status", Fn: fn, RequestID: requestID, TxID: tx.TxID, Code: "CommitWindow",
				Msg: fmt.Sprintf("ordered but not committed within %s", c.timeouts.CommitWindow), Err: err}
			return o
		}
		v := classify(phaseCommitStatus, err)
		o.err = errorFrom(v, "commit status", fn, requestID, tx.TxID, err)
		o.transient = v.transient
		r.failedOn(ep.Addr())
		if v.endpointSuspect {
			c.pool.fail(ep)
		}
		log.Warn("commit status failed", "endpoint", ep.Addr(), "err", err)
		if !v.transient || r.exhausted() || ctx.Err() != nil {
			return o
		}
		c.metrics.retry(fn, "commit_status_"+v.kind.String())
		next := c.pool.current()
		if err := r.wait(ctx, next); err != nil {
			return o
		}
		ep = next
	}
}

// commitStatusWithin asks ep for the commit status of txID until window
// fires. missed reports that the window ended the call, not the peer or
// ctx.
func commitStatusWithin(ctx context.Context, ep endpoint, txID string, window <-chan time.Time) (_ commitStatus, _ error, missed bool) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var windowFired atomic.Bool
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-window:
			windowFired.Store(true)
			cancel()
		case <-done:
		}
	}()
	s, err := ep.CommitStatus(cctx, txID)
	if err != nil && windowFired.Load() && ctx.Err() == nil {
		return s, err, true
	}
	return s, err, false
}

// lookupRequest asks the request lookup whether requestID is on the ledger.
func (c *Client) lookupRequest(ctx context.Context, fn, requestID string, log *slog.Logger) (bool, []byte, error) {
	if ctx.Err() != nil {
		c.metrics.lookup("error")
		return false, nil, ctx.Err()
	}
	found, res, err := c.lookup(ctx, fn, requestID)
	switch {
	case err != nil:
		c.metrics.lookup("error")
		log.Warn("request lookup failed", "err", err)
	case found:
		c.metrics.lookup("found")
		log.Info("request found on the ledger after an ambiguous failure")
	default:
		c.metrics.lookup("not_found")
		log.Info("request not on the ledger after an ambiguous failure; running it again")
	}
	return found, res, err
}

// evaluate runs a query with retries and failover.
func (c *Client) evaluate(ctx context.Context, inv invocation, co *callOptions) ([]byte, error) {
	fn := inv.Fn
	r := newRetrier(c.policyFor(co), c.clock, c.randN, c.counted(ctx, co))
	var last *Error
	for {
		if ctx.Err() != nil {
			var cause error
			if last != nil {
				cause = last
			}
			return nil, ctxError(ctx, KindUnavailable, "evaluate", fn, "", "", cause)
		}
		ep := c.pool.currentFor(inv, c.mspID)
		ectx, cancel := callCtx(ctx, c.timeouts.Evaluate)
		res, err := ep.Evaluate(ectx, inv)
		cancel()
		if err == nil {
			return res, nil
		}
		v := classify(phaseEvaluate, err)
		last = errorFrom(v, "evaluate", fn, "", "", err)
		if v.endpointSuspect {
			c.pool.fail(ep)
			r.failedOn(ep.Addr())
		}
		if !v.transient || r.exhausted() {
			return nil, last
		}
		if ctx.Err() != nil {
			continue
		}
		c.log.Warn("evaluate failed", "fn", fn, "endpoint", ep.Addr(), "err", err)
		c.metrics.retry(fn, "evaluate_"+v.kind.String())
		if err := r.wait(ctx, c.pool.current()); err != nil {
			// No time left for another try.
			return nil, ctxError(ctx, KindUnavailable, "evaluate", fn, "", "", last)
		}
	}
}
