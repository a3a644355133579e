// Package trace is PharmaTrace's pure domain: the wire types shared by the
// chaincode, the gateway, the scanning agent and the API (transaction
// requests and results, the chaincode event), the ledger records, the
// EU-style pack state machine, the anomaly rules and workflow, the access
// rights of each role, and GS1 syntax checks. It uses the standard library
// only and does no I/O: given records and the transaction time it decides.
//
// # Wire conventions
//
// Every transaction and query of the chaincode takes one string argument,
// the JSON of a request type of this package, and returns the JSON of a
// result type (field order = struct order). Write transactions are listed
// in SubmitTransactions, queries (evaluate on one peer) in
// EvaluateTransactions; IsQuery tells them apart.
//
//	RegisterProduct   RegisterProductRequest   → ProductResult
//	RegisterLot       RegisterLotRequest       → LotResult
//	ReleaseLot        LotStatusRequest         → LotResult
//	RecallLot         LotStatusRequest         → LotResult
//	WithdrawLot       LotStatusRequest         → LotResult
//	InitCollection    InitCollectionRequest    → InitCollectionResult
//	CommissionPacks   CommissionPacksRequest   → CommissionPacksResult
//	Aggregate         AggregateRequest         → AggregateResult
//	Ship              ShipRequest              → ShipmentResult
//	Receive           ReceiveRequest           → ReceiveResult
//	Dispense          ScanRequest              → ScanResult
//	Decommission      DecommissionRequest      → ScanResult
//	Undo              ScanRequest              → ScanResult
//	ReportScan        ScanRequest              → ScanResult
//	FlagAnomaly       FlagAnomalyRequest       → AnomalyResult
//	TransitionAnomaly TransitionAnomalyRequest → AnomalyResult
//	CommentAnomaly    CommentAnomalyRequest    → AnomalyResult
//	Verify            VerifyRequest            → VerifyResult          (query)
//	GetProduct        ProductQuery             → GetProductResult      (query)
//	GetPack           PackQuery                → GetPackResult         (query)
//	GetPackHistory    PackHistoryQuery         → PackHistoryResult     (query)
//	GetLot            LotQuery                 → GetLotResult          (query)
//	GetShipment       ShipmentQuery            → GetShipmentResult     (query)
//	GetAnomaly        AnomalyQuery             → GetAnomalyResult      (query)
//	GetRequest        RequestQuery             → GetRequestResult      (query)
//	ListAnomalies     ListAnomaliesQuery       → ListAnomaliesResult   (query)
//	ListPacksByLot    ListPacksByLotQuery      → ListPacksByLotResult  (query)
//	Route             RouteQuery               → RouteResult           (query)
//
// Requests that implement Routed (route.go) may touch a manufacturer's
// private collection: they travel as transient data to its members, write
// results come back sealed (seal.go), and their public event is a stub.
//
// Errors and outcomes: a malformed request, a missing right, a missing
// master record or a conflict is an error (endorsement fails, nothing is
// written) whose message starts with "invalid request: ", "access denied: ",
// "not found: " or "conflict: " (ErrInvalidRequest, ErrAccessDenied,
// ErrNotFound, ErrConflict; Classify maps a message back). A business
// refusal (codes A1, A2, A3, A7, A24, A52, A68, LOT_RECALLED, LOT_WITHDRAWN,
// LOT_QUARANTINED, EXPIRED) is not an error: the transaction commits, the
// result's Outcome says "refused" with the code, and Outcome.Anomalies lists
// the anomalies it recorded.
//
// Every write carries a client-chosen RequestID: a retry with the same ID
// and payload returns the original result byte for byte and writes nothing;
// the same ID with another payload is a conflict. Every committed write
// emits exactly one chaincode event, named after the transaction, whose
// payload is an Event with the full new version of every changed record.
//
// # Decisions
//
//   - Codes. A1 unknown product, A2 unknown batch (serial unknown and the
//     scanned batch unknown), A3 unknown serial, A68 batch mismatch, A52
//     expiry mismatch (checked in that order), then the lot overrides
//     (LOT_RECALLED, LOT_WITHDRAWN, LOT_QUARANTINED, EXPIRED), then the pack
//     state. A7 "already in the requested state" when the same site repeats
//     its own change (double scan); A24 "status change not possible" for
//     every other impossible change, in particular a pack dispensed at
//     another site (a clone). Verify answers INACTIVE for a known, matching,
//     inactive pack (its reason is in the status).
//   - Expiry is the GS1 YYMMDD as printed (DD 00 = last day of the month,
//     century by the GS1 sliding window); a pack is expired when the date of
//     the transaction timestamp in the market's time zone is after the
//     expiry date; a scanned expiry matches when it denotes the same day
//     (281200 = 281231).
//   - Lot overrides. Recalled, withdrawn, quarantined and expired packs
//     cannot be verified ok, dispensed, shipped or undone. They can still be
//     decommissioned as destroyed, stolen or locked, and shipped back to the
//     product's owning manufacturer (returns). Recall is the strongest
//     status: a recalled lot cannot become withdrawn or released again;
//     only a quarantined lot can be released.
//   - Custody. The EU system has none; PharmaTrace records it but does not
//     block a pharmacy's dispense. Who may set inactive a pack it does not
//     hold (the custody table): a pharmacist may dispense it wherever it is
//     held (CUSTODY_MISMATCH: process when the holder is another site of its
//     organisation, diversion (medium) for another organisation) and set it
//     inactive for any other reason only when another site of its own
//     organisation holds it; a pack held by another organisation is refused
//     (A24 + CUSTODY_MISMATCH, high) for every reason but dispensing.
//     Manufacturers and distributors act only on what they hold (A24 +
//     CUSTODY_MISMATCH otherwise) and must receive a shipment first; a
//     pharmacist may act on a pack in transit to its own site (implicit
//     receipt). The regulator may lock any pack, whatever its custody,
//     which stays as it was (shipment included); only the regulator unlocks
//     it (Undo), with no time limit.
//     Dispensing stays possible anywhere because the pack in the patient's
//     hand is the physical fact (the EU system has no custody at all). A
//     final state set from afar is not: a pharmacy that is presented a pack
//     it believes stolen reports it through an alert (ReportScan, or the
//     refused attempt's anomaly), never by making it stolen. A pack in
//     transit to any other site is refused (A24) with a DIVERSION anomaly.
//   - Wholesalers decommission as "supplied" the packs they supply to
//     persons authorised to supply the public who do not verify (Art. 23:
//     hospitals, veterinarians, ...).
//   - Time. Every deadline (undo window, expiry, recall) is computed from the
//     transaction timestamp, which the client writes; each endorser refuses
//     a proposal dated more than PHARMATRACE_MAX_CLOCK_SKEW (5 minutes) from
//     its own clock, and no write may be dated before the last change of a
//     record it changes (LastChanger). Peers run NTP. Expiry is the calendar
//     date in the market's time zone (PHARMATRACE_MARKET_TZ, default UTC).
//   - Company prefixes are bound to organisations by the network definition
//     (PHARMATRACE_ORG_PREFIXES, 6-12 digits, no overlap between MSPs): a
//     `gcp` attribute outside its MSP's prefixes is refused; ownership of a
//     product, lot or pack is MSP + prefix.
//   - Request IDs belong to the caller (MSP, role, GLN) that used them
//     first: another caller reusing one gets a conflict, and GetRequest
//     answers only the caller (its organisation's admin reads all).
//   - Confidentiality of codes. Only the regulator and the lot's
//     manufacturer list a lot's serials (ListPacksByLot) or learn its batch
//     size (GetLot.PackCount); bookmarks are bound to the query's filter and
//     the caller's organisation. Verify tells a caller who may not read the
//     pack neither who holds it nor which near-miss serials exist (the
//     recorded anomaly keeps everything for the regulator).
//   - Presence rules (custody mismatch, in-transit diversion, a dispensed
//     pack presented elsewhere) apply to site-bound supply-chain roles
//     (pharmacist, distributor); regulators and manufacturers inspect packs
//     anywhere without raising them.
//   - Undo returns an inactive pack to active: only the organisation, site
//     (gln) and role that made the change ("the same person", Art.
//     13(1)(a); records older than this rule have no role and skip that
//     check), within UndoWindow (10 days, inclusive) of it and never dated
//     before it, before expiry, never for destroyed or stolen, never in a
//     recalled or withdrawn lot (a quarantined lot is fine). The 10 days
//     apply to every reversible reason, a pharmacy's or wholesaler's lock
//     included; the regulator's lock has no time limit. Undoing an active
//     pack is A7.
//   - Receipt. Receiving at another site of the addressee organisation is
//     accepted: custody moves to where the goods physically are, the
//     shipment is flagged diverted and a DIVERSION anomaly (high) is
//     recorded. Receipt by another organisation is refused (A24) with a
//     critical DIVERSION anomaly and moves nothing. Unscanned packs make the
//     shipment partially_received with a SHORTAGE anomaly (they stay in
//     transit and can be received later); scanned packs not on the shipment
//     are reported (UNEXPECTED_PACK when the shipper holds them, CLONE when a
//     third party holds them, DIVERSION when they are in transit elsewhere,
//     MOVEMENT_AFTER_DISPENSE, UNKNOWN_SERIAL) and do not move.
//   - Shipping and aggregation are all or nothing: one refused pack refuses
//     the request (code of the first problem, every problem listed) and the
//     findings are recorded. An SSCC is never reused (GS1); a pack belongs to
//     at most one case; shipping a pack loose breaks its case, after which
//     the SSCC cannot ship any more. Nested aggregation (pallets) is not
//     modelled.
//   - Anomalies. Every refusal of a pack-level action records at least one
//     anomaly, except lot-status refusals (master data, no anomaly). The
//     findings of one multi-pack transaction are grouped by rule (one
//     anomaly listing up to MaxEvidencePacks packs with the total count).
//     Anomaly IDs are deterministic: "AN-" + transaction timestamp to the
//     millisecond + first 16 characters of the transaction ID + index; they
//     sort by time. Workflow: new → investigating → escalated → closed;
//     closing is allowed from any open status (e.g. a false positive) and
//     needs a close reason; closed is final; comments are transitions to the
//     same status. Every step records who (MSP, role, gln) and when.
//   - Severities: critical — clone dispensed elsewhere, stolen/destroyed
//     pack presented, receipt by the wrong organisation; high — unknown
//     serial or batch, batch or expiry mismatch (probable counterfeit),
//     diversion, movement after dispense, exported pack back in the chain,
//     recalled lot presented, undo attempted by another organisation or of
//     an irreversible state; medium — unknown product, custody mismatch,
//     shortage, unexpected pack, withdrawn or quarantined lot, inactive pack
//     (other reasons) presented elsewhere, undo from another site of the same
//     organisation or in a recalled/withdrawn lot; low — probable scanner
//     faults, expired packs, undo too late. A double scan at the same site
//     (A7) is medium: the EU hub raises an alert for every decommission
//     attempt of an inactive pack.
//   - Scanner faults. A data failure (A1, A2, A3, A52, A68) is a probable
//     scanner fault (severity low) only on ledger evidence: a near miss, a
//     pack whose serial, or a lot whose number, differs from the scanned one
//     only by inverted letter case or a Y/Z swap; otherwise it is a probable
//     counterfeit. The scanner's warnings (the GS1 parser's kinds:
//     dropped-separator, caps-lock, keyboard-layout; any other is an invalid
//     request) are kept in the evidence but never lower a classification:
//     they are the client's claim, and a member that could send
//     `warnings: ["anything"]` would otherwise hide every counterfeit.
//   - Rights are per role (deny by default, see the grant table in
//     access.go): manufacturers register products and lots of their own
//     company prefix (`gcp` attribute, comma-separated; ownership = MSP +
//     prefix), commission, aggregate, ship, receive, decommission
//     (destroyed, stolen, exported, sample, free_sample, locked), undo,
//     release/recall/withdraw their lots; distributors aggregate, ship,
//     receive, decommission (same reasons, plus supplied) and undo;
//     pharmacists receive, dispense, decommission (destroyed, stolen, sample,
//     free_sample, locked, checked_out) and undo; regulators recall and
//     withdraw any lot, lock and unlock any pack, own the anomaly workflow
//     and read everything; a manufacturer also reads every anomaly about its
//     own products (Anomaly.ProductOwner); admin only reads its own request
//     records (and uses the probe contract). Every business role may verify
//     any pack, report scans, read products, lots and its own anomalies and
//     requests. Full pack records, history and shipments are visible to the
//     regulator, the owning manufacturer and the organisations that hold,
//     ship, receive or last changed them.
//   - No personal data: actors are recorded as MSP, role and GLN only, never
//     the certificate subject; free-text fields (reasons, comments, anomaly
//     messages) must not carry personal data — a documented obligation of
//     the clients, it cannot be enforced on-chain.
package trace
