package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/pharmatrace/pharmatrace/api/alerts"
	"github.com/pharmatrace/pharmatrace/api/bulk"
	"github.com/pharmatrace/pharmatrace/api/commission"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/epcis"
	"github.com/pharmatrace/pharmatrace/trace"
)

// Route is one entry of the route table: the single place that says what
// exists, who may call it (deny by default: a protected route without roles
// is callable by nobody) and how it is documented in the OpenAPI document.
type Route struct {
	Method  string
	Path    string // Echo syntax (:param)
	Name    string // operationId
	Tag     string
	Summary string
	// Roles may call the route; Public routes need no authentication.
	Roles  []trace.Role
	Public bool
	// Upload routes take a large streamed body (commissioning).
	Upload bool
	// UploadTypes are the media types of an Upload body that is one JSON
	// document (schema: object) rather than a serial list; nil: the
	// commissioning serial list.
	UploadTypes []string
	// Stream routes write a long streamed response (EPCIS export): they run
	// under the upload timeout.
	Stream bool
	// Bulk routes take a list of packs: their own body limit, and the
	// upload timeout when they wait for the list.
	Bulk    bool
	Handler echo.HandlerFunc

	// Documentation.
	Query    []Param
	Body     any    // JSON request body (a value of its type); nil: none
	Resp     any    // success body (a value of its type); nil: none
	Status   int    // success status (default 200)
	Produces string // success media type (default application/json)
	Accepted bool   // also answers 202 with Resp (asynchronous upload)
}

// Param documents a query parameter.
type Param struct {
	Name     string
	Doc      string
	Type     string // string (default), integer, boolean
	Enum     []string
	Required bool
	Repeated bool // may be repeated or comma-separated
}

// Allows reports whether role may call the route.
func (r *Route) Allows(role trace.Role) bool {
	if r.Public {
		return true
	}
	for _, x := range r.Roles {
		if x == role {
			return true
		}
	}
	return false
}

// rolesWith is the roles that hold a chaincode right (trace's grant table).
func rolesWith(right trace.Right) []trace.Role { return trace.RolesWith(right) }

// regulator is the regulator-only rule.
var regulator = []trace.Role{trace.RoleRegulator}

// decommissionRoles hold at least one decommissioning right.
func decommissionRoles() []trace.Role {
	var out []trace.Role
	for _, role := range trace.Roles {
		for _, r := range trace.DecommissionReasons {
			if role.Has(trace.DecommissionRight(r)) {
				out = append(out, role)
				break
			}
		}
	}
	return out
}

func enumOf[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func anomalyFilterParams() []Param {
	return []Param{
		{Name: "type", Doc: "anomaly type (code)", Enum: enumOf(trace.AnomalyCodes), Repeated: true},
		{Name: "severity", Enum: enumOf(trace.Severities), Repeated: true},
		{Name: "classification", Enum: enumOf(trace.Classifications), Repeated: true},
		{Name: "status", Enum: enumOf(trace.AnomalyStatuses), Repeated: true},
		{Name: "gtin", Doc: "GTIN-14 of the pack or lot"},
		{Name: "lot"},
		{Name: "serial"},
		{Name: "gln", Doc: "GLN of the site where it was detected, of the reporter or of the counterpart"},
		{Name: "org", Doc: "MSP ID of the reporting organisation or of the counterpart"},
		{Name: "from", Doc: "created at or after (RFC 3339 or YYYY-MM-DD)"},
		{Name: "to", Doc: "created before (RFC 3339 or YYYY-MM-DD)"},
	}
}

func (s *Server) routeTable() []Route {
	all := trace.Roles
	list := append(anomalyFilterParams(),
		Param{Name: "sort", Doc: "createdAt, updatedAt or severity; prefix - for descending (default -createdAt)",
			Enum: []string{"createdAt", "-createdAt", "updatedAt", "-updatedAt", "severity", "-severity"}},
		Param{Name: "limit", Type: "integer", Doc: "page size, 1-500 (default 50)"},
		Param{Name: "cursor", Doc: "nextCursor of the previous page"})
	export := append(anomalyFilterParams(), Param{Name: "sort", Doc: "as for the list"})
	routes := []Route{
		{Method: http.MethodGet, Path: "/healthz", Name: "healthz", Tag: "operations", Summary: "Liveness and readiness (database reachable)", Public: true,
			Handler: s.healthz, Resp: Health{}},
		{Method: http.MethodGet, Path: "/metrics", Name: "metrics", Tag: "operations", Summary: "Prometheus metrics", Public: true,
			Handler: s.metricsHandler(), Produces: "text/plain"},
		{Method: http.MethodGet, Path: "/api/v1/openapi.json", Name: "openapi", Tag: "operations", Summary: "This OpenAPI document", Roles: all,
			Handler: s.serveOpenAPI, Resp: map[string]any{}},
		{Method: http.MethodGet, Path: "/api/v1/me", Name: "me", Tag: "operations", Summary: "The caller's identity", Roles: all,
			Handler: s.me, Resp: Me{}},

		{Method: http.MethodPost, Path: "/api/v1/products", Name: "registerProduct", Tag: "products", Summary: "Register a product (GTIN of the caller's company prefix)",
			Roles: rolesWith(trace.RightProductRegister), Handler: s.registerProduct, Body: trace.RegisterProductRequest{}, Resp: trace.ProductResult{}},
		{Method: http.MethodGet, Path: "/api/v1/products/:gtin", Name: "getProduct", Tag: "products", Summary: "Get a product",
			Roles: rolesWith(trace.RightProductRead), Handler: s.getProduct, Resp: trace.Product{}},

		{Method: http.MethodGet, Path: "/api/v1/lots/:gtin/:lot", Name: "getLot", Tag: "lots", Summary: "Get a lot",
			Roles: rolesWith(trace.RightLotRead), Handler: s.getLot, Resp: trace.Lot{}},
		{Method: http.MethodPost, Path: "/api/v1/lots/:gtin/:lot/recall", Name: "recallLot", Tag: "lots", Summary: "Recall a lot",
			Roles: rolesWith(trace.RightLotRecall), Handler: s.lotStatus(trace.TxRecallLot), Body: LotStatusBody{}, Resp: trace.LotResult{}},
		{Method: http.MethodPost, Path: "/api/v1/lots/:gtin/:lot/withdraw", Name: "withdrawLot", Tag: "lots", Summary: "Withdraw a lot",
			Roles: rolesWith(trace.RightLotWithdraw), Handler: s.lotStatus(trace.TxWithdrawLot), Body: LotStatusBody{}, Resp: trace.LotResult{}},
		{Method: http.MethodPut, Path: "/api/v1/lots/:gtin/:lot/commissions/:uploadId", Name: "commissionLot", Tag: "lots",
			Summary: "Commission the serials of a lot from a CSV or JSON upload (validated whole, then submitted in batches of up to 5,000; " +
				"send the same list again under the same upload ID to resume)",
			Roles: rolesWith(trace.RightPackCommission), Upload: true, Handler: s.commission, Resp: commission.Upload{}, Accepted: true,
			Query: []Param{{Name: "expiry", Required: true, Doc: "lot expiry, GS1 YYMMDD"},
				{Name: "wait", Type: "boolean", Doc: "answer when every batch was submitted (default: answer 202 at once)"}}},
		{Method: http.MethodGet, Path: "/api/v1/lots/:gtin/:lot/commissions/:uploadId", Name: "getCommission", Tag: "lots", Summary: "Progress of a commissioning upload",
			Roles: rolesWith(trace.RightPackCommission), Handler: s.getCommission, Resp: commission.Upload{}},

		{Method: http.MethodPost, Path: "/api/v1/packs/verify", Name: "verifyPack", Tag: "packs", Summary: "Verify a pack by GS1 scan string or by fields",
			Roles: rolesWith(trace.RightPackVerify), Handler: s.verify, Body: VerifyBody{}, Resp: trace.VerifyResult{}},
		{Method: http.MethodGet, Path: "/api/v1/packs/by-digital-link", Name: "verifyDigitalLink", Tag: "packs",
			Summary: "Verify a pack by its GS1 Digital Link URI (AIs 01, 10, 21 in the path, 17 in the query)",
			Roles:   rolesWith(trace.RightPackVerify), Handler: s.verifyDigitalLink, Resp: trace.VerifyResult{},
			Query: []Param{{Name: "uri", Required: true, Doc: "GS1 Digital Link URI, e.g. https://id.gs1.org/01/{gtin}/10/{lot}/21/{serial}?17={YYMMDD}"}}},
		{Method: http.MethodGet, Path: "/api/v1/packs/:gtin/:serial/history", Name: "packHistory", Tag: "packs", Summary: "Chain of custody: the pack's committed versions, newest first",
			Roles: rolesWith(trace.RightPackRead), Handler: s.packHistory, Resp: trace.PackHistoryResult{},
			Query: []Param{{Name: "limit", Type: "integer", Doc: "1-200 (default 50)"}}},
		{Method: http.MethodPost, Path: "/api/v1/packs/:gtin/:serial/dispense", Name: "dispensePack", Tag: "packs",
			Summary: "Dispense a pack to a patient: the scanner agent's Dispense transaction (a refusal, e.g. A24 for a pack dispensed elsewhere, is a 409 problem with the code)",
			Roles:   rolesWith(trace.RightPackDispense), Handler: s.dispense, Body: ScanBody{}, Resp: trace.ScanResult{}},
		{Method: http.MethodPost, Path: "/api/v1/packs/:gtin/:serial/decommission", Name: "decommissionPack", Tag: "packs", Summary: "Set a pack inactive for a reason",
			Roles: decommissionRoles(), Handler: s.decommission, Body: DecommissionBody{}, Resp: trace.ScanResult{}},
		{Method: http.MethodPost, Path: "/api/v1/packs/:gtin/:serial/undo", Name: "undoPack", Tag: "packs", Summary: "Reactivate a pack (same site, within 10 days)",
			Roles: rolesWith(trace.RightPackUndo), Handler: s.undo, Body: ScanBody{}, Resp: trace.ScanResult{}},

		{Method: http.MethodPost, Path: "/api/v1/bulk/verify", Name: "bulkVerify", Tag: "bulk",
			Summary: "Verify a list of packs (up to 10,000 by default), each with its own outcome; lists of up to 100 are answered when done, longer ones at once (202, poll Location)",
			Roles:   rolesWith(trace.RightPackVerify), Handler: s.bulkStart(bulk.OpVerify), Bulk: true, Body: BulkBody{}, Resp: bulk.Job{}, Accepted: true, Query: bulkQuery},
		{Method: http.MethodPost, Path: "/api/v1/bulk/dispense", Name: "bulkDispense", Tag: "bulk",
			Summary: "Dispense a list of packs (a prescription): one Dispense per pack, concurrently; each pack's ledger request ID derives from requestId, so sending the request again applies nothing twice",
			Roles:   rolesWith(trace.RightPackDispense), Handler: s.bulkStart(bulk.OpDispense), Bulk: true, Body: BulkBody{}, Resp: bulk.Job{}, Accepted: true, Query: bulkQuery},
		{Method: http.MethodPost, Path: "/api/v1/bulk/decommission", Name: "bulkDecommission", Tag: "bulk",
			Summary: "Decommission a list of packs for one reason (a wholesaler's case): one Decommission per pack, idempotent per pack like bulk dispense",
			Roles:   decommissionRoles(), Handler: s.bulkStart(bulk.OpDecommission), Bulk: true, Body: BulkBody{}, Resp: bulk.Job{}, Accepted: true, Query: bulkQuery},
		{Method: http.MethodGet, Path: "/api/v1/bulk/requests/:id", Name: "getBulk", Tag: "bulk", Summary: "Progress and per-pack outcomes of a bulk request of the caller's organisation",
			Roles: rolesWith(trace.RightPackVerify), Handler: s.getBulk, Resp: bulk.Job{}},

		{Method: http.MethodPost, Path: "/api/v1/shipments", Name: "createShipment", Tag: "shipments", Summary: "Ship packs and SSCCs the caller holds",
			Roles: rolesWith(trace.RightPackShip), Handler: s.ship, Body: trace.ShipRequest{}, Resp: trace.ShipmentResult{}},
		{Method: http.MethodGet, Path: "/api/v1/shipments/:id", Name: "getShipment", Tag: "shipments", Summary: "Get a shipment",
			Roles: rolesWith(trace.RightShipmentRead), Handler: s.getShipment, Resp: trace.Shipment{}},
		{Method: http.MethodPost, Path: "/api/v1/shipments/:id/receive", Name: "receiveShipment", Tag: "shipments", Summary: "Record the receipt of a shipment",
			Roles: rolesWith(trace.RightPackReceive), Handler: s.receive, Body: ReceiveBody{}, Resp: trace.ReceiveResult{}},

		{Method: http.MethodGet, Path: "/api/v1/anomalies", Name: "listAnomalies", Tag: "anomalies",
			Summary: "List anomalies (regulator: all; others: those their organisation reported, and for a manufacturer every anomaly about its own products) with filters, sorting and cursor pagination",
			Roles:   rolesWith(trace.RightAnomalyRead), Handler: s.listAnomalies, Resp: AnomalyList{}, Query: list},
		{Method: http.MethodGet, Path: "/api/v1/anomalies/export.csv", Name: "exportAnomalies", Tag: "anomalies", Summary: "Export an anomaly list as CSV",
			Roles: rolesWith(trace.RightAnomalyRead), Handler: s.exportAnomalies, Produces: "text/csv", Query: export},
		{Method: http.MethodGet, Path: "/api/v1/anomalies/stream", Name: "streamAnomalies", Tag: "alerts",
			Summary: "Live stream (Server-Sent Events) of the new anomalies the caller may see (regulator: all; manufacturer: about its products); Last-Event-ID catches up",
			Roles:   rolesWith(trace.RightAnomalyRead), Handler: s.streamAnomalies, Produces: "text/event-stream", Stream: true,
			Query: []Param{{Name: "timeout", Type: "integer", Doc: "close the stream after this many seconds (default and most: the stream timeout, 1800; 0: after the catch-up)"},
				{Name: "lastEventId", Doc: "as the Last-Event-ID header: first send the anomalies created after this one"}}},
		{Method: http.MethodGet, Path: "/api/v1/anomalies/:id", Name: "getAnomaly", Tag: "anomalies", Summary: "An anomaly with its evidence, workflow history and (regulator) the pack's chain of custody",
			Roles: rolesWith(trace.RightAnomalyRead), Handler: s.getAnomaly, Resp: AnomalyDetail{}},
		{Method: http.MethodGet, Path: "/api/v1/anomalies/:id/report", Name: "suspectReport", Tag: "anomalies",
			Summary: "Suspect-product report of an anomaly about a pack (FDA Form 3911 / EU alert content): JSON, or a printable HTML page with format=html",
			Roles:   regulator, Handler: s.suspectReport, Resp: epcis.SuspectReport{}, Produces: "application/json,text/html",
			Query: []Param{{Name: "format", Doc: "json (default) or html", Enum: []string{"json", "html"}}}},
		{Method: http.MethodPost, Path: "/api/v1/anomalies", Name: "flagAnomaly", Tag: "anomalies", Summary: "Record an anomaly by hand",
			Roles: rolesWith(trace.RightAnomalyFlag), Handler: s.flagAnomaly, Body: trace.FlagAnomalyRequest{}, Resp: trace.AnomalyResult{}},
		{Method: http.MethodPost, Path: "/api/v1/anomalies/:id/transitions", Name: "transitionAnomaly", Tag: "anomalies", Summary: "Move an anomaly along its workflow",
			Roles: rolesWith(trace.RightAnomalyWorkflow), Handler: s.transitionAnomaly, Body: TransitionBody{}, Resp: trace.AnomalyResult{}},
		{Method: http.MethodPost, Path: "/api/v1/anomalies/:id/comments", Name: "commentAnomaly", Tag: "anomalies", Summary: "Comment on an anomaly (regulator or the reporting organisation)",
			Roles: rolesWith(trace.TransactionRights[trace.TxCommentAnomaly]), Handler: s.commentAnomaly, Body: CommentBody{}, Resp: trace.AnomalyResult{}},

		{Method: http.MethodPost, Path: "/api/v1/subscriptions", Name: "subscribe", Tag: "alerts",
			Summary: "Subscribe a webhook to the new anomalies the caller may see: a signed POST per anomaly (X-PharmaTrace-Signature: sha256=HMAC of the body with the secret returned once here), retried with backoff",
			Roles:   rolesWith(trace.RightAnomalyRead), Handler: s.subscribe, Body: SubscribeBody{}, Resp: alerts.Subscription{}, Status: http.StatusCreated},
		{Method: http.MethodGet, Path: "/api/v1/subscriptions", Name: "listSubscriptions", Tag: "alerts", Summary: "The caller's webhook subscriptions",
			Roles: rolesWith(trace.RightAnomalyRead), Handler: s.listSubscriptions, Resp: SubscriptionList{}},
		{Method: http.MethodGet, Path: "/api/v1/subscriptions/:id", Name: "getSubscription", Tag: "alerts", Summary: "One of the caller's webhook subscriptions",
			Roles: rolesWith(trace.RightAnomalyRead), Handler: s.getSubscription, Resp: alerts.Subscription{}},
		{Method: http.MethodDelete, Path: "/api/v1/subscriptions/:id", Name: "unsubscribe", Tag: "alerts", Summary: "Delete a webhook subscription (nothing more is sent)",
			Roles: rolesWith(trace.RightAnomalyRead), Handler: s.deleteSubscription, Status: http.StatusNoContent},
		{Method: http.MethodGet, Path: "/api/v1/subscriptions/:id/deliveries", Name: "listDeliveries", Tag: "alerts",
			Summary: "Delivery log of a subscription, newest first: each delivery's status and every attempt (time, HTTP status, error)",
			Roles:   rolesWith(trace.RightAnomalyRead), Handler: s.listDeliveries, Resp: DeliveryList{},
			Query: []Param{{Name: "limit", Type: "integer", Doc: "1-500 (default 50)"}, {Name: "status", Enum: []string{alerts.DeliveryPending, alerts.DeliveryDelivered, alerts.DeliveryFailed}}}},

		{Method: http.MethodGet, Path: "/api/v1/epcis/events", Name: "exportEPCIS", Tag: "epcis",
			Summary: "Export ledger events as one streamed EPCIS 2.0 JSON-LD document, or EPCIS 2.0 XML when Accept prefers application/xml or text/xml (regulator: every pack; manufacturer: the packs of its own company prefix)",
			Roles:   []trace.Role{trace.RoleRegulator, trace.RoleManufacturer}, Handler: s.exportEPCIS, Produces: "application/ld+json,application/xml,text/xml", Stream: true,
			Query: []Param{{Name: "gtin", Doc: "GTIN-14, with serial (one pack) or lot (one lot)"}, {Name: "serial"}, {Name: "lot"},
				{Name: "shipment", Doc: "shipment ID: every event of the packs it carries"},
				{Name: "from", Doc: "transactions at or after (RFC 3339 or YYYY-MM-DD)"}, {Name: "to", Doc: "transactions before (RFC 3339 or YYYY-MM-DD)"},
				{Name: "epcForm", Doc: "pack identifiers as SGTIN EPC URIs (default) or GS1 Digital Link URIs", Enum: []string{"sgtin", "digitallink"}}}},
		{Method: http.MethodPost, Path: "/api/v1/epcis/import", Name: "importEPCIS", Tag: "epcis",
			Summary: "Apply an EPCIS 2.0 JSON/JSON-LD document or EPCIS 2.0/1.2 XML document (commissioning, packing, shipping, receiving, dispensing, decommissioning, destroying, undo) " +
				"with the caller's identity, streamed, in batches; request IDs come from the event hashes, so sending the same document again skips every event. " +
				"Events at another member's site are rejected (the ledger records the signer's site): pharmatrace-epcis import signs each event as its site",
			Roles: []trace.Role{trace.RoleManufacturer, trace.RoleDistributor, trace.RolePharmacist}, Upload: true, UploadTypes: []string{"application/json", "application/ld+json", "application/xml", "text/xml"},
			Handler: s.importEPCIS, Resp: ImportReport{}},

		{Method: http.MethodGet, Path: "/api/v1/stats/anomalies-per-day", Name: "anomaliesPerDay", Tag: "statistics", Summary: "Anomalies per day and type (default: the last 30 days)",
			Roles: regulator, Handler: s.anomaliesPerDay, Resp: PerDayStats{}, Query: anomalyFilterParams()},
		{Method: http.MethodGet, Path: "/api/v1/stats/packs-by-state", Name: "packsByState", Tag: "statistics", Summary: "Packs by state and reason",
			Roles: regulator, Handler: s.packsByState, Resp: PackStateStats{}, Query: []Param{{Name: "gtin"}}},
		{Method: http.MethodGet, Path: "/api/v1/stats/lots-at-risk", Name: "lotsAtRisk", Tag: "statistics",
			Summary: "Lots recalled, withdrawn or quarantined with packs still active or moving, or with open high/critical anomalies",
			Roles:   regulator, Handler: s.lotsAtRisk, Resp: LotRiskStats{}, Query: []Param{{Name: "limit", Type: "integer", Doc: "1-1000 (default 100)"}}},
	}
	for _, d := range s.dash.Routes() {
		r := Route{Method: d.Method, Path: d.Path, Name: d.Name, Tag: "dashboard", Summary: d.Summary, Public: d.Public, Handler: d.Handler,
			Produces: "text/html", Status: d.Status}
		if !d.Public {
			r.Roles = regulator
		}
		if d.Asset {
			r.Produces = "text/css,text/javascript"
		}
		routes = append(routes, r)
	}
	return routes
}

var bulkQuery = []Param{{Name: "wait", Type: "boolean", Doc: "answer when every pack is done (default: true for up to 100 packs, false above: 202 at once)"}}

// Response and body types of the API (the trace types are used as they are
// where they fit).

// Me is the caller's identity.
type Me struct {
	Identity Identity `json:"identity"`
	TokenID  string   `json:"tokenId"`
}

// LotStatusBody is the body of recall and withdraw.
type LotStatusBody struct {
	RequestID string `json:"requestId,omitempty"`
	Reason    string `json:"reason"`
}

// VerifyBody names the pack to verify: either the GS1 scan string as the
// scanner sent it (element string with GS separators, bracketed HRI or a
// Digital Link URI), or the four fields.
type VerifyBody struct {
	// RequestID names the verification: a failed verification is recorded
	// on the ledger once per request ID (a retry records nothing new).
	RequestID string   `json:"requestId,omitempty"`
	Scan      string   `json:"scan,omitempty"`
	GTIN      string   `json:"gtin,omitempty"`
	Serial    string   `json:"serial,omitempty"`
	Lot       string   `json:"lot,omitempty"`
	Expiry    string   `json:"expiry,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// ScanBody is the body of dispense and undo: the scan of the pack named in the path
// (scan string, or lot and expiry).
type ScanBody struct {
	RequestID string   `json:"requestId,omitempty"`
	Scan      string   `json:"scan,omitempty"`
	Lot       string   `json:"lot,omitempty"`
	Expiry    string   `json:"expiry,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// DecommissionBody is ScanBody plus the reason.
type DecommissionBody struct {
	RequestID string       `json:"requestId,omitempty"`
	Scan      string       `json:"scan,omitempty"`
	Lot       string       `json:"lot,omitempty"`
	Expiry    string       `json:"expiry,omitempty"`
	Warnings  []string     `json:"warnings,omitempty"`
	Reason    trace.Reason `json:"reason"`
}

// ReceiveBody is the body of a receipt.
type ReceiveBody struct {
	RequestID string          `json:"requestId,omitempty"`
	Packs     []trace.PackRef `json:"packs,omitempty"`
	SSCCs     []string        `json:"ssccs,omitempty"`
	Warnings  []string        `json:"warnings,omitempty"`
}

// TransitionBody moves an anomaly.
type TransitionBody struct {
	RequestID string              `json:"requestId,omitempty"`
	To        trace.AnomalyStatus `json:"to"`
	Reason    trace.CloseReason   `json:"reason,omitempty"`
	Comment   string              `json:"comment,omitempty"`
}

// CommentBody comments on an anomaly.
type CommentBody struct {
	RequestID string `json:"requestId,omitempty"`
	Comment   string `json:"comment"`
}

// AnomalyList is one page of anomalies.
type AnomalyList struct {
	Items      []trace.Anomaly `json:"items"`
	NextCursor string          `json:"nextCursor,omitempty"`
}

// AnomalyDetail is an anomaly with the chain of custody of its pack.
type AnomalyDetail struct {
	Anomaly  trace.Anomaly         `json:"anomaly"`
	Timeline []readmodel.PackEvent `json:"timeline,omitempty"`
}

// TypeCount is a number of anomalies of one type.
type TypeCount struct {
	Type  trace.AnomalyCode `json:"type"`
	Count int               `json:"count"`
}

// PerDayStats answers anomalies-per-day.
type PerDayStats struct {
	From   string               `json:"from"`
	To     string               `json:"to"`
	Days   []readmodel.DayCount `json:"days"`
	ByType []TypeCount          `json:"byType"`
}

// PackStateStats answers packs-by-state.
type PackStateStats struct {
	States []readmodel.StateCount `json:"states"`
}

// LotRiskStats answers lots-at-risk.
type LotRiskStats struct {
	Lots []readmodel.LotRisk `json:"lots"`
}
