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
//     ledger de-duplicates) to another endpoint when a submit failed in a way
//     that leaves open whether the orderer accepted it;
//   - asks another endpoint for the commit status of the same transaction ID
//     when a commit-status call fails (a killed peer makes these fail for
//     transactions that did commit);
//   - when the outcome is still unknown, asks the optional request lookup
//     ([WithGetRequestLookup]: the chaincode's GetRequest query, or any
//     [WithRequestLookup]) whether the request is on the ledger before
//     re-running it; found, its stored outcome is returned as the result.
//
// Retries use exponential backoff with full jitter, a bounded number of
// attempts and the caller's context deadline. Access denied, invalid
// request, not found and endorsement-policy failures are never retried.
//
// # Failover
//
// The client sticks to one endpoint until a call to it fails as unavailable
// or its connection state becomes TRANSIENT_FAILURE, then moves to the next
// healthy endpoint at once (no backoff for a move to another endpoint). Each
// connection keeps reconnecting with a short maximum backoff so that a
// restarted peer is usable again within about a second.
//
// # Events
//
// [Client.Events] delivers the chaincode's events, in ledger order, from a
// [Checkpoint] (block number, index of the event within the block and its
// transaction ID), reconnecting (with failover) from the last processed
// event after a stream failure: no gap, no duplicate. The consumer keeps the
// checkpoint with its own data (the API commits it in the same SQL
// transaction as its read model) behind a [Checkpointer];
// [MemoryCheckpointer] keeps it in memory.
//
// # Metrics and logs
//
// [NewMetrics] registers Prometheus collectors on a registerer the caller
// owns; pass them with [WithMetrics]. Logs go to the injected *slog.Logger
// with the stable keys tx_id, request_id, fn and endpoint.
package gateway
