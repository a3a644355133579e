package trace

import "strings"

// Serial confidentiality (docs/confidentiality.md). The serials of a
// manufacturer's packs, and every record that names one (packs, the
// pack-by-lot index, aggregations, shipments, anomalies about its packs,
// the request records and the full events of transactions on them), live in
// a private data collection of that manufacturer: members the manufacturer
// and the regulator(s), endorsement policy AND(manufacturer, regulator).
// Products and lots stay public. A transaction that touches a collection is
// "routed": its request travels in the proposal's transient map (never in
// the arguments, which every peer keeps in its blocks), it is endorsed only
// by the collection's members, it writes nothing public, and its chaincode
// event carries no serial (the full event is a private write, see
// PrivateEventKey).

// CollectionPrefix starts the name of every manufacturer's collection.
const CollectionPrefix = "serials-"

// Collection is the name of the private data collection of the packs of
// the manufacturer organisation msp.
func Collection(msp string) string { return CollectionPrefix + msp }

// CollectionOwner returns the manufacturer MSP of a collection name.
func CollectionOwner(coll string) (string, bool) {
	return strings.CutPrefix(coll, CollectionPrefix)
}

// TransientRequest is the transient-map key that carries the JSON request
// of a routed transaction; its argument is then empty.
const TransientRequest = "request"

// PrivateEventKey is the private-data key (in the transaction's collection)
// under which a routed write transaction stores its full Event; its public
// chaincode event is the stub Event.Public returns. A member's event stream
// (block and private data) replaces the stub by this value.
const PrivateEventKey = "\x00event\x00"

// RouteKeys are the identifiers of a request that decide its collection:
// the product owner of each GTIN, the collection that holds each SSCC,
// shipment, anomaly or request record.
type RouteKeys struct {
	// Manufacturer names a collection directly (InitCollection).
	Manufacturer string   `json:"manufacturer,omitempty"`
	GTINs        []string `json:"gtins,omitempty"`
	SSCCs        []string `json:"ssccs,omitempty"`
	Shipment     string   `json:"shipment,omitempty"`
	Anomaly      string   `json:"anomaly,omitempty"`
	RequestID    string   `json:"requestId,omitempty"`
}

// Empty reports whether k names nothing.
func (k RouteKeys) Empty() bool {
	return k.Manufacturer == "" && len(k.GTINs) == 0 && len(k.SSCCs) == 0 && k.Shipment == "" && k.Anomaly == "" && k.RequestID == ""
}

// Routed is implemented by the request of every transaction that may touch
// a manufacturer's collection.
type Routed interface {
	RouteKeys() RouteKeys
}

// RouteQuery asks the contract (the Route query, evaluated on the caller's
// own peer: it reads public records and private-data hashes only) where a
// request must go.
type RouteQuery struct {
	Transaction string    `json:"transaction"`
	Keys        RouteKeys `json:"keys"`
}

// Validate checks the query.
func (q *RouteQuery) Validate() error {
	if q.Transaction == "" {
		return Invalid("transaction", "is required")
	}
	for i, g := range q.Keys.GTINs {
		if err := CheckGTIN(g); err != nil {
			return Invalid(indexed("keys.gtins", i), "%v", err)
		}
	}
	for i, s := range q.Keys.SSCCs {
		if err := CheckSSCC(s); err != nil {
			return Invalid(indexed("keys.ssccs", i), "%v", err)
		}
	}
	return nil
}

// RouteResult says where a request goes. Collection empty: a public
// transaction (arguments, default endorsement). Otherwise the request goes
// as transient data to Endorsers (the collection's members; a query to one
// of them). Endorsers without a Collection: a query that reads whatever
// collections the answering peer holds (ListAnomalies, GetRequest by a
// caller whose own peer holds none).
type RouteResult struct {
	Collection string   `json:"collection,omitempty"`
	Endorsers  []string `json:"endorsers,omitempty"`
}

// Private reports whether the request must travel as transient data.
func (r RouteResult) Private() bool { return r.Collection != "" || len(r.Endorsers) > 0 }

func indexed(field string, i int) string { return field + "[" + itoa(i) + "]" }

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for ; i > 0; i /= 10 {
		n--
		b[n] = byte('0' + i%10)
	}
	return string(b[n:])
}

func packGTINs(ps []PackRef) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.GTIN)
	}
	return out
}

// CollectionKeySize is the size of a collection's pseudonym key.
const CollectionKeySize = 32

// InitCollectionRequest gives a manufacturer's collection the secret key
// that turns serials into the pseudonyms its private records are keyed by
// (HMAC-SHA256(key, GTIN, serial)): Fabric puts SHA-256 of every private
// key on every peer, and a serial space of 10^8 is searched in seconds
// against plain keys. Once per collection; the manufacturer draws the key
// (gateway: crypto/rand) and it travels only as transient data.
type InitCollectionRequest struct {
	RequestHeader
	Manufacturer string `json:"manufacturer"` // MSP ID
	Key          []byte `json:"key"`
}

// Validate checks the request.
func (r *InitCollectionRequest) Validate() error {
	if err := r.checkHeader(); err != nil {
		return err
	}
	if r.Manufacturer == "" {
		return Invalid("manufacturer", "is required (an MSP ID)")
	}
	if len(r.Key) != CollectionKeySize {
		return Invalid("key", "is %d bytes, want %d random bytes", len(r.Key), CollectionKeySize)
	}
	return nil
}

// InitCollectionResult is the result of InitCollection.
type InitCollectionResult struct {
	Outcome    `json:"outcome"`
	Collection string `json:"collection"`
}

// RouteKeys of each routed request.

func (r *InitCollectionRequest) RouteKeys() RouteKeys { return RouteKeys{Manufacturer: r.Manufacturer} }

func (r *CommissionPacksRequest) RouteKeys() RouteKeys { return RouteKeys{GTINs: []string{r.GTIN}} }
func (r *AggregateRequest) RouteKeys() RouteKeys {
	return RouteKeys{GTINs: packGTINs(r.Packs), SSCCs: []string{r.SSCC}}
}
func (r *ShipRequest) RouteKeys() RouteKeys {
	return RouteKeys{GTINs: packGTINs(r.Packs), SSCCs: r.SSCCs, Shipment: r.ShipmentID}
}
func (r *ReceiveRequest) RouteKeys() RouteKeys {
	return RouteKeys{GTINs: packGTINs(r.Packs), SSCCs: r.SSCCs, Shipment: r.ShipmentID}
}
func (r *ScanRequest) RouteKeys() RouteKeys         { return RouteKeys{GTINs: []string{r.GTIN}} }
func (r *DecommissionRequest) RouteKeys() RouteKeys { return RouteKeys{GTINs: []string{r.GTIN}} }
func (r *VerifyRequest) RouteKeys() RouteKeys       { return RouteKeys{GTINs: []string{r.GTIN}} }
func (r *FlagAnomalyRequest) RouteKeys() RouteKeys {
	var k RouteKeys
	if r.Pack != nil {
		k.GTINs = append(k.GTINs, r.Pack.GTIN)
	}
	if r.Lot != nil {
		k.GTINs = append(k.GTINs, r.Lot.GTIN)
	}
	k.Shipment = r.Shipment
	return k
}
func (r *TransitionAnomalyRequest) RouteKeys() RouteKeys { return RouteKeys{Anomaly: r.AnomalyID} }
func (r *CommentAnomalyRequest) RouteKeys() RouteKeys    { return RouteKeys{Anomaly: r.AnomalyID} }
func (q *PackQuery) RouteKeys() RouteKeys                { return RouteKeys{GTINs: []string{q.GTIN}} }
func (q *PackHistoryQuery) RouteKeys() RouteKeys         { return RouteKeys{GTINs: []string{q.GTIN}} }
func (q *LotQuery) RouteKeys() RouteKeys                 { return RouteKeys{GTINs: []string{q.GTIN}} }
func (q *ShipmentQuery) RouteKeys() RouteKeys            { return RouteKeys{Shipment: q.ID} }
func (q *AnomalyQuery) RouteKeys() RouteKeys             { return RouteKeys{Anomaly: q.ID} }
func (q *RequestQuery) RouteKeys() RouteKeys             { return RouteKeys{RequestID: q.RequestID} }
func (q *ListPacksByLotQuery) RouteKeys() RouteKeys      { return RouteKeys{GTINs: []string{q.GTIN}} }
func (q *ListAnomaliesQuery) RouteKeys() RouteKeys {
	if q.GTIN != "" {
		return RouteKeys{GTINs: []string{q.GTIN}}
	}
	return RouteKeys{}
}

// Public returns the stub of a routed transaction's event that goes on the
// public chaincode event: what happened, when and for which client request
// ID, never what to (no serial, GLN or finding). Consumers that hold the
// collection replace it by the full event (PrivateEventKey).
func (e Event) Public(coll string) Event {
	return Event{Type: e.Type, TxID: e.TxID, Timestamp: e.Timestamp, RequestID: e.RequestID, Contract: e.Contract, Private: coll,
		Outcome: Outcome{Status: e.Outcome.Status, TxID: e.Outcome.TxID}}
}
