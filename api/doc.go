// Package api is PharmaTrace's regulator and partner HTTP API (Echo v4,
// JSON under /api/v1) and the host of the regulator dashboard
// (package dashboard): regulators see, across every company, what no
// single company can (clones, diversion, recalled lots still moving) and
// act on it; manufacturers commission lots of hundreds of thousands of
// serials by uploading a file.
//
// # Seams
//
// Writes and ledger queries go through Ledger, obtained per authenticated
// user from Ledgers (per-organisation wallets: every transaction is signed
// with the caller's own certificate, never a shared identity). Lists,
// filters, statistics and the dashboard read the read model
// (package readmodel), which an EventSource keeps up to date. The lead
// implements Ledgers and EventSource over package gateway in
// cmd/pharmatrace-api/backend.go.
//
// # Routes
//
// The route table (routes.go) is the one place that says what exists, who
// may call it (deny by default; roles derived from package trace's grant
// table where a chaincode right exists, regulator-only for statistics and
// the dashboard) and how it is documented: the OpenAPI 3.0 document served
// at /api/v1/openapi.json is generated from it and from the Go types of the
// bodies, and tests check Echo's routes against the document both ways and
// every response of the API tests against its schemas.
//
// # EPCIS 2.0 and GS1 Digital Link
//
// GET /api/v1/epcis/events exports the read model's stored chaincode
// events (table rm_events, in ledger order) of a pack, a lot, a shipment's
// packs or every pack, optionally within a time range, as one streamed
// EPCIS 2.0 JSON-LD document (package epcis converts). The regulator sees
// every pack, a manufacturer the packs of its own GS1 Company Prefix.
// POST /api/v1/epcis/import (manufacturer, distributor, pharmacist) applies
// an EPCIS document's events with the caller's identity through package
// epcis/importer, streaming it; request IDs derive from the canonical event
// hash (merged commissioning writes from the hashes of their events), so a
// second import of the same document reports every event skipped (the
// ledger's GetRequest already knows it) and writes nothing. An event at
// another network member's site (receipt, dispensing, decommissioning,
// undo) is rejected: the ledger would record it at the caller's site.
// Shipping destinations resolve GLN to MSP through the network's users
// (Deps.GLNs) and then the parties the read model has seen.
// GET /api/v1/anomalies/{id}/report gives the suspect-product report (FDA
// Form 3911 / EU alert content) as JSON or a printable HTML page;
// GET /api/v1/packs/by-digital-link verifies the pack a GS1 Digital Link
// URI names (POST /api/v1/packs/verify accepts such a URI as its scan too).
//
// # Pharmacy systems, bulk requests and alerts
//
// POST /api/v1/packs/{gtin}/{serial}/dispense is the scanner agent's
// Dispense for pharmacy management systems (a refusal is a 409 problem with
// the EU code). POST /api/v1/bulk/{verify,dispense,decommission} run a list
// of packs with one outcome each (package bulk: per-pack request IDs
// derived from the bulk request ID, so a request sent again applies
// nothing twice; one ledger call per valid pack on a bounded worker pool;
// up to Config.BulkSyncMax packs answered when done, longer lists 202 with
// GET /api/v1/bulk/requests/{id}). A non-regulator lists and reads the
// anomalies its organisation reported and, for a manufacturer, every
// anomaly about its own products (readmodel.Scope); package alerts pushes
// the new ones in the same scope as signed webhooks (queued in the read
// model's transaction, sent from their own goroutines, delivery log at
// GET /api/v1/subscriptions/{id}/deliveries) and as a Server-Sent Events
// stream (GET /api/v1/anomalies/stream).
//
// # Errors
//
// One Echo error handler turns every error into an RFC 9457
// application/problem+json response (ProblemFor): a stable type URI under
// https://pharmatrace.dev/problems/, the offending field (full JSON path
// such as "packs[1].serial", or a query/path parameter), the row of an
// upload, the EU alert code of a refusal. Business refusals of writes are
// committed outcomes on the ledger; the API answers them with a 409
// "refused" problem carrying the code, transaction ID, anomalies and the
// full result. Verify always answers 200 with its outcome.
//
// # Limits
//
// Bearer tokens (package auth) on every route except /healthz, /metrics
// and the dashboard's login page and assets; a token bucket per token (per
// client address for public posts); JSON bodies capped (1 MiB default),
// commissioning uploads capped separately (64 MiB default) and streamed,
// bulk requests at 10,000 packs and 4 MiB; a timeout on every request
// (30 s; uploads that wait, bulk requests, EPCIS imports and exports and
// the anomaly stream: 30 min).
package api
