// Package gateway is PharmaTrace's typed client of the Fabric ledger: the only
// package that talks to Fabric (through github.com/hyperledger/fabric-gateway
// v1.9.0, pinned in go.mod). The scanner agent and the API use it to submit
// and evaluate chaincode transactions and to consume chaincode events.
//
// # Connecting
//
// [Dial] takes a [Config] (peer gateway endpoints with their TLS roots, the
// client identity, channel and chaincode) and functional [Option]s (logger,
// metrics, request lookup, retry policy). It opens one gRPC connection per
// endpoint up front, so that a failover target is already connected.
//
// # Calls
//
// Every chaincode function takes one string argument, the JSON request, and
// returns a JSON string. [Client.Submit] and [Client.Evaluate] (and the
// generic [SubmitAs] and [EvaluateAs]) encode the request, call the chaincode
// and decode the result. A business refusal is a successful result, not an
// error. Failures are translated once, here, into *[Error] values whose Kind
// matches one of the sentinels [ErrAccessDenied], [ErrInvalid],
// [ErrNotFound], [ErrConflict], [ErrEndorsementPolicy], [ErrUnavailable],
// [ErrUnknownOutcome] and [ErrInternal], and which unwrap to the
// fabric-gateway error (*client.EndorseError, *client.SubmitError,
// *client.CommitStatusError, *client.CommitError) that caused them and to
// the domain error of package trace: a chaincode refusal is rebuilt with
// trace.ParseError, so errors.Is(err, trace.ErrConflict) and errors.As(err,
// &fieldErr) with a *trace.FieldError work on this side of Fabric as they do
// in the chaincode. [Retryable] is the one answer to "is this worth another
// try?" that every consumer uses.
//
// # Routed requests
//
// A transaction whose trace request implements trace.Routed may touch a
// manufacturer's private data collection. The client first evaluates the
// contract's Route query on a peer of its own organisation; routed to a
// collection, the JSON request travels in the proposal's transient map
// (trace.TransientRequest) with an empty argument, to the route's
// endorsers only, for submits and queries alike (the GetRequest lookup
// included). Private routes of requests keyed by GTINs only are cached.
// [Client.CommissionPacks] registers the lot first when the ledger does not
// have it.
//
// # Exactly once
//
// Every write carries a client-chosen request ID and the chaincode
// de-duplicates on it, so re-running a request never applies it twice; a
// replay returns the original outcome. On top of that the client:
//
//   - re-endorses (new transaction) after a failure that proves nothing
//     reached the orderer (endorsement unavailable, orderer refusal) or after
//     an MVCC/phantom read conflict at commit;
//   - re-sends the same signed transaction (same transaction ID, which the
//     ledger de-duplicates) when a submit failed: to another endpoint when
//     the peer failed, to the same one after a backoff when the ordering
//     service did (no raft leader or quorum, every orderer unreachable);
//   - asks another endpoint for the commit status of the same transaction ID
//     when a commit-status call fails (a killed peer makes these fail for
//     transactions that did commit);
//   - waits for a commit only for the commit window (Timeouts.CommitWindow,
//     3 s): an accepted transaction that has not committed by then may have
//     been lost by the orderers (a leader that died or stepped down with
//     blocks in flight), so the request is looked up and run again;
//   - when the outcome is unknown, asks the optional request lookup
//     ([WithGetRequestLookup]: the chaincode's GetRequest query, or any
//     [WithRequestLookup]) whether the request is on the ledger before
//     re-running it; found, its stored outcome is returned as the result.
//     A part of the caller's deadline (Timeouts.LookupReserve) is kept for
//     one last lookup when the time is up.
//
// Retries use exponential backoff with full jitter and end with the
// caller's context deadline, however many tries that takes (an ordering
// outage of 10 s does not end requests that have 20 s left); a call without
// a deadline makes at most RetryPolicy.MaxAttempts tries of each step. No
// retry sleeps past the deadline. Access denied, invalid request, not found
// and endorsement-policy failures are never retried.
//
// # Failover
//
// The client sticks to one endpoint until a call to it fails as unavailable
// or its connection state becomes TRANSIENT_FAILURE, then moves to the next
// healthy endpoint at once (no backoff for a move to another endpoint). A
// failure of the ordering service reported by the peer does not count
// against the peer. Each connection keeps reconnecting with a short maximum
// backoff so that a restarted peer is usable again within about a second.
// The first endpoint is home (list the organisation's own peer first): away
// from it, the client checks it in the background every second once its
// connection is healthy, and goes back when it answers, has every block the
// client has seen committed and (with [WithGetRequestLookup]) its chaincode
// answers a query; an open event stream stays where it is until it breaks.
//
// # Events
//
// [Client.Events] delivers the chaincode's events, in ledger order, from a
// [Checkpoint] (block number, index of the event within the block and its
// transaction ID), reconnecting (with failover) from the last processed
// event after a stream failure: no gap, no duplicate. The consumer keeps the
// checkpoint with its own data (the API commits it in the same SQL
// transaction as its read model) behind a [Checkpointer];
// [MemoryCheckpointer] keeps it in memory. The chaincode event of a routed
// transaction is a stub without serials; with [WithPrivateEvents] the
// stream reads blocks and private data from the peer's Deliver service
// instead, and delivers the full events of the collections the client's
// organisation reads, at the same positions.
//
// # Metrics and logs
//
// [NewMetrics] registers Prometheus collectors on a registerer the caller
// owns; pass them with [WithMetrics]. Logs go to the injected *slog.Logger
// with the stable keys tx_id, request_id, fn and endpoint.
package gateway
