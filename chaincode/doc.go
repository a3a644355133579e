package chaincode

// This file documents how the contract is built and the decisions taken in
// it; the business rules and their decisions are documented in package trace.
//
// # Flow of every transaction
//
// decode (json.Decoder, DisallowUnknownFields, no trailing data, then the
// request's Validate: errors name the JSON field, e.g. `invalid request:
// serials[3]: "AB\x01" is not GS1 character set 82`) → authorize (MSP ID,
// `role` bound to the MSP by Config.OrgRoles, `gln`, `gcp`; the transaction's
// right from trace.TransactionRights) → idempotency check → load → apply the
// pure state machine of package trace → buffer the writes → write them, the
// request record, and exactly one event (SetEvent(transaction name,
// trace.Event JSON)). Queries stop after the state machine and write nothing.
// Time comes only from the transaction timestamp; no map is iterated into an
// output; every query is bounded.
//
// # Decisions
//
//   - Transactions take one JSON string and return one JSON string (typed by
//     package trace) instead of contractapi struct parameters: contractapi's
//     JSON-schema validation of large structs is slow, and our own decoder
//     gives stable, field-named errors.
//   - The business contract is registered as "pharmatrace" and is the
//     default contract; "probe" (ProbeContract) stays beside it. Queries are
//     tagged "evaluate" in the contract metadata (GetEvaluateTransactions);
//     the gateway should use trace.IsQuery / trace.EvaluateTransactions.
//   - World state keys are shim composite keys: product~gtin, lot~gtin~lot,
//     pack~gtin~serial, pack-by-lot~gtin~lot~serial (index, value 0x00),
//     shipment~id, sscc~sscc, anomaly~id, anomaly-status~status~id and
//     anomaly-org~msp~id (indexes), req~msp~requestID. Values are JSON of the
//     trace record structs (stable field order = struct order).
//   - Idempotency: req~<caller MSP>~<request ID> holds the SHA-256 of the
//     transaction name + the canonical request JSON (re-encoded, so
//     whitespace and field order do not matter), the transaction ID and the
//     result JSON. Same ID and payload → the stored result, nothing written,
//     no event; same ID with another payload or transaction → `conflict:`.
//     Two concurrent submissions of one ID both read the absent key, so
//     Fabric's MVCC check commits only the first; GetRequest lets the gateway
//     learn the outcome after a commit-status failure before resubmitting.
//     Request IDs are scoped per organisation (MSP).
//   - Reads see the transaction's own writes (writes are buffered in the
//     transaction and flushed at the end), unlike the peer's GetState.
//     Writes are flushed inside StartWriteBatch/FinishWriteBatch: a peer that
//     supports write batching (Fabric 3.x) receives them in one message;
//     Fabric 2.5 ignores it. Many-key reads use GetMultipleStates (one
//     message on peers that support it, a loop of GetState otherwise).
//   - Cost of the hot paths: Dispense (and Decommission, Undo) = 3 reads
//     (request record, pack, lot) and 2 writes (pack, request record), no
//     range query; refusals add the anomaly (3 keys: record, status index,
//     org index) and, for unknown serials, up to 3 near-miss reads.
//     CommissionPacks = one GetMultipleStates over the serials plus the
//     product, lot and request reads, and 2 writes per serial (pack + lot
//     index) plus the lot and the request record.
//   - CommissionPacks limit: Config.MaxCommission, default 5,000 serials per
//     transaction (trace.DefaultMaxCommission; PHARMATRACE_MAX_COMMISSION may
//     set 1..10,000). Measured against the in-memory stub on the 2-core
//     machine (BenchmarkCommissionPacks, chaincode work + stub, not the
//     peer's gRPC round trips): 1,000 serials ≈ 7.4 ms, 5,000 ≈ 35-40 ms,
//     10,000 ≈ 70-80 ms (≈ 130,000 packs/s); write set ≈ 530 bytes per serial
//     (2.65 MB at 5,000, 5.3 MB at 10,000), request ≈ 17 bytes and event ≈
//     18 bytes per serial. 5,000 keeps a transaction under ~3 MB, well inside
//     the orderer's AbsoluteMaxBytes and gRPC limits, and short enough that
//     an MVCC retry is cheap. On a Fabric 2.5 peer each PutState is one gRPC
//     round trip between chaincode and peer, which dominates: the lead
//     measures the real cost on the network.
//   - The lot's pack count (a private record of the lot's collection; the
//     public lot record, registered first with RegisterLot, has none) is
//     updated by every CommissionPacks of that lot, so concurrent
//     commissions of the same lot conflict (MVCC) and one must be retried;
//     commissioning different lots in parallel is conflict-free.
//     Dispense never writes the lot or the shipment, so dispensing is
//     conflict-free across packs.
//   - Events: one per committed write, named after the transaction (a
//     refused outcome still emits it, with the anomalies). CommissionPacks
//     carries trace.Commissioned (lot, expiry, custodian, serial list) instead
//     of the pack records; trace.Commissioned.Packs expands it into exactly
//     the stored records. Aggregate, Ship and Receive carry every changed
//     pack (at most trace.MaxShipmentPacks = 5,000 per transaction, ≈ 2 MB).
//   - Shipment IDs are client-chosen (e.g. the ASN number) or, when empty,
//     "S-" + the first 32 characters of the transaction ID (deterministic on
//     every endorser).
//   - Serial confidentiality (route.go, docs/confidentiality.md): a
//     transaction on a manufacturer's packs works in that manufacturer's
//     private collection (t.coll): every record but products and lots is a
//     private record there, pack records keyed by an HMAC pseudonym of the
//     serial (state.go); its request comes as transient data, its result is
//     sealed for the client, its public event is a stub and its full event
//     a private write. Such a transaction writes nothing public, so only the
//     collection's members endorse it.
//   - Queries: GetPackHistory reads GetHistoryForKey newest first for public
//     pack records and returns at most 50 entries by default, 200 at most
//     (Truncated says more exist); Fabric keeps no history of private
//     records, so for a manufacturer's packs it says so (the read model
//     keeps the chain of custody from the members' full events).
//     ListAnomalies and ListPacksByLot page through partial-composite-key
//     ranges (page size default 50, at most 200; a collection has no
//     paginated query, so its range is read from the bookmark on); the
//     bookmark returned to the client is the base64url of the next space
//     and key, empty on the last page, and must lie inside the queried
//     prefix (a forged bookmark cannot read another record type). ListAnomalies uses the status index when the
//     regulator filters by status and the organisation index for everybody
//     else; other filters are applied within the page, so a page may hold
//     fewer entries than its size — continue while the bookmark is not empty.
//     Paginated queries are only allowed in read-only (evaluated)
//     transactions, as on the peer.
//   - Contract identity: Version (the rules, semver) and the server binary's
//     build ID (12 hex digits of its SHA-256) make the package label
//     pharmatrace_<version>_<build> and the chaincode definition version
//     <version>+<build> (Build). cmd/pharmatrace-cc refuses to serve a
//     CHAINCODE_ID of another label, so a binary cannot be swapped under an
//     installed package; every event and request record carries the
//     definition version of the contract that applied it (Contract), which
//     makes it part of every endorsement: endorsers running different
//     builds cannot agree on a write (the gateway reports mismatched
//     proposal responses) instead of silently diverging. probe:Version
//     reports what a peer's server runs; each contract's metadata info
//     carries Version.
//   - Access: Config.OrgRoles is iterated in sorted MSP order; an unknown MSP,
//     a role not bound to the MSP, a missing/invalid gln for a site-bound
//     role or an invalid gcp is `access denied:` naming what is missing.
//     Config must be identical on every endorsing peer.
