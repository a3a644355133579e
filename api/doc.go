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
// commissioning uploads capped separately (64 MiB default) and streamed; a
// timeout on every request (30 s; uploads that wait: 30 min).
package api
