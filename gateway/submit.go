package gateway

import (
	"context"
	"log/slog"
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
func (c *Client) submit(ctx context.Context, fn, requestID string, arg []byte, co *callOptions) ([]byte, Receipt, error) {
	var rc Receipt
	pol := c.policyFor(co)
	log := c.log.With("fn", fn, "request_id", requestID)

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

	r := newRetrier(pol, c.clock, c.randN)
	// maybeApplied: some transaction of this request may be (or become) part
	// of the ledger; a failure then has an unknown outcome.
	maybeApplied := false
	var last *Error
	for runCtx.Err() == nil {
		ep := c.pool.current()
		rc.Endorsements++
		ectx, cancel := callCtx(runCtx, c.timeouts.Endorse)
		tx, err := ep.Endorse(ectx, fn, arg, co.orgs)
		cancel()

		var reason string
		switch {
		case err != nil:
			v := classify(phaseEndorse, err)
			last = errorFrom(v, "endorse", fn, requestID, "", err)
			if v.endpointSuspect {
				c.pool.fail(ep)
				r.failedOn(ep.Addr())
			}
			if !v.transient {
				return nil, rc, last
			}
			log.Warn("endorse failed", "endpoint", ep.Addr(), "err", err)
			reason = "endorse_" + v.kind.String()

		default:
			txLog := log.With("tx_id", tx.TxID)
			rc.TxID = tx.TxID
			st, at, ordered, transient, oerr := c.order(runCtx, fn, requestID, ep, tx, pol, txLog)
			if ordered {
				maybeApplied = true
			}
			ambiguous := false
			switch {
			case oerr == nil && st.Code == peer.TxValidationCode_VALID:
				c.observeBlock(st.Block)
				rc.Block, rc.Endpoint = st.Block, at.Addr()
				txLog.Debug("transaction committed", "block", st.Block, "endpoint", at.Addr())
				return tx.Result, rc, nil
			case oerr == nil:
				c.observeBlock(st.Block)
				v := classifyCommitCode(st.Code)
				v.msg = "transaction invalidated by the committing peers"
				last = errorFrom(v, "commit", fn, requestID, tx.TxID, &client.CommitError{TransactionID: tx.TxID, Code: st.Code})
				txLog.Warn("transaction not valid", "code", st.Code.String(), "block", st.Block, "endpoint", at.Addr())
				switch {
				case v.kind == KindUnknownOutcome:
					ambiguous = true
				case !v.transient:
					return nil, rc, last
				}
				reason = "commit_" + v.kind.String()
			default:
				last = oerr
				if !ordered {
					if !transient {
						return nil, rc, last
					}
					reason = oerr.Op + "_" + oerr.Kind.String()
				} else {
					ambiguous = true
				}
			}
			if ambiguous {
				reason = "unknown_outcome"
				if c.lookup != nil {
					found, res, lerr := c.lookupRequest(ctx, fn, requestID, txLog)
					switch {
					case lerr == nil && found:
						rc.TxID, rc.Block, rc.FromLookup = "", 0, true
						return res, rc, nil
					case lerr == nil:
						// Not on the ledger as far as the lookup's peer
						// knows: run it again; if the first transaction
						// commits after all, the chaincode's de-duplication
						// makes the second one return its outcome.
						reason = "lookup_not_found"
					default:
						reason = "lookup_error"
					}
				}
			}
		}

		if r.exhausted() {
			break
		}
		c.metrics.retry(fn, reason)
		if err := r.wait(runCtx, c.pool.current()); err != nil {
			break
		}
	}
	return nil, rc, c.finalError(runCtx, fn, requestID, rc.TxID, maybeApplied, last)
}

// finalError is the error of a request that ran out of attempts or time.
func (c *Client) finalError(ctx context.Context, fn, requestID, txID string, maybeApplied bool, last *Error) *Error {
	kind := KindUnavailable
	if last != nil {
		kind = last.Kind
	}
	if maybeApplied {
		kind = KindUnknownOutcome
	}
	if ctx.Err() != nil {
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

// order submits tx, re-sending the same signed transaction (same ID, which
// the ledger de-duplicates) through another endpoint when a submit fails,
// then waits for its commit status, asking another endpoint when a commit
// status call fails. ordered reports whether tx may be on the ledger (it
// is true once a submit may have reached the orderer); transient whether the
// failure, if any, is worth another attempt.
func (c *Client) order(ctx context.Context, fn, requestID string, ep endpoint, tx *endorsedTx, pol RetryPolicy, log *slog.Logger) (st commitStatus, at endpoint, ordered, transient bool, _ *Error) {
	r := newRetrier(pol, c.clock, c.randN)
	for {
		sctx, cancel := callCtx(ctx, c.timeouts.Submit)
		err := ep.Submit(sctx, tx)
		cancel()
		if err == nil {
			break
		}
		v := classify(phaseSubmit, err)
		e := errorFrom(v, "submit", fn, requestID, tx.TxID, err)
		ordered = ordered || v.mayBeOrdered
		if v.endpointSuspect {
			c.pool.fail(ep)
			r.failedOn(ep.Addr())
		}
		log.Warn("submit failed", "endpoint", ep.Addr(), "err", err, "maybe_ordered", v.mayBeOrdered)
		if !v.transient || r.exhausted() || ctx.Err() != nil {
			return st, ep, ordered, v.transient, e
		}
		c.metrics.retry(fn, "submit_"+v.kind.String())
		next := c.pool.current()
		if err := r.wait(ctx, next); err != nil {
			return st, ep, ordered, v.transient, e
		}
		ep = next
	}

	ordered = true
	r = newRetrier(pol, c.clock, c.randN)
	for {
		cctx, cancel := callCtx(ctx, c.timeouts.CommitStatus)
		s, err := ep.CommitStatus(cctx, tx.TxID)
		cancel()
		if err == nil {
			return s, ep, true, false, nil
		}
		v := classify(phaseCommitStatus, err)
		e := errorFrom(v, "commit status", fn, requestID, tx.TxID, err)
		if v.endpointSuspect {
			c.pool.fail(ep)
			r.failedOn(ep.Addr())
		}
		log.Warn("commit status failed", "endpoint", ep.Addr(), "err", err)
		if !v.transient || r.exhausted() || ctx.Err() != nil {
			return st, ep, true, v.transient, e
		}
		c.metrics.retry(fn, "commit_status_"+v.kind.String())
		next := c.pool.current()
		if err := r.wait(ctx, next); err != nil {
			return st, ep, true, v.transient, e
		}
		ep = next
	}
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
func (c *Client) evaluate(ctx context.Context, fn string, arg []byte, co *callOptions) ([]byte, error) {
	r := newRetrier(c.policyFor(co), c.clock, c.randN)
	var last *Error
	for {
		if ctx.Err() != nil {
			var cause error
			if last != nil {
				cause = last
			}
			return nil, ctxError(ctx, KindUnavailable, "evaluate", fn, "", "", cause)
		}
		ep := c.pool.current()
		ectx, cancel := callCtx(ctx, c.timeouts.Evaluate)
		res, err := ep.Evaluate(ectx, fn, arg, co.orgs)
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
			continue
		}
	}
}
