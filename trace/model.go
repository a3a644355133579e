package trace

import "time"

// Party is an organisation (MSP ID) at a site (GLN). GLN is empty for a party
// that is not bound to a site (e.g. a regulator without a gln attribute).
type Party struct {
	MSP string `json:"msp"`
	GLN string `json:"gln,omitempty"`
}

// Actor is the caller of a transaction as read from its certificate: MSP ID,
// the `role` attribute and the `gln` attribute. No personal data (names,
// enrollment IDs) is ever recorded.
type Actor struct {
	MSP  string `json:"msp"`
	Role Role   `json:"role"`
	GLN  string `json:"gln,omitempty"`
}

// Party returns the organisation and site of the actor.
func (a Actor) Party() Party { return Party{MSP: a.MSP, GLN: a.GLN} }

// PackRef names one pack by its product code and serial number.
type PackRef struct {
	GTIN   string `json:"gtin"`
	Serial string `json:"serial"`
}

// LotRef names one lot (batch) of a product.
type LotRef struct {
	GTIN string `json:"gtin"`
	Lot  string `json:"lot"`
}

// Product is the master data of one GTIN, owned by the manufacturer whose GS1
// company prefix allocated it.
type Product struct {
	GTIN          string    `json:"gtin"`
	Name          string    `json:"name"`
	Form          string    `json:"form"`
	Strength      string    `json:"strength"`
	PackSize      int       `json:"packSize"`
	NHRN          string    `json:"nhrn,omitempty"`
	OwnerMSP      string    `json:"ownerMsp"`
	CompanyPrefix string    `json:"companyPrefix"`
	CreatedAt     time.Time `json:"createdAt"`
	LastTx        string    `json:"lastTx"`
}

// LotStatus is the market status of a lot.
type LotStatus string

// Lot statuses.
const (
	LotReleased    LotStatus = "released"
	LotQuarantined LotStatus = "quarantined"
	LotRecalled    LotStatus = "recalled"
	LotWithdrawn   LotStatus = "withdrawn"
)

// Lot is one batch of a product with its expiry and market status.
type Lot struct {
	GTIN            string    `json:"gtin"`
	Lot             string    `json:"lot"`
	Expiry          string    `json:"expiry"` // GS1 YYMMDD as printed on the pack
	Status          LotStatus `json:"status"`
	StatusReason    string    `json:"statusReason,omitempty"`
	StatusChangedBy *Actor    `json:"statusChangedBy,omitempty"`
	StatusChangedAt time.Time `json:"statusChangedAt"`
	PackCount       int       `json:"packCount"`
	OwnerMSP        string    `json:"ownerMsp"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
	LastTx          string    `json:"lastTx"`
}

// PackState is the state of a pack in the EU verification model, plus
// in_transit while a shipment carries it.
type PackState string

// Pack states.
const (
	StateActive    PackState = "active"
	StateInactive  PackState = "inactive"
	StateInTransit PackState = "in_transit"
)

// Reason is why a pack is inactive (the EU system's decommissioning reasons).
type Reason string

// Decommissioning reasons.
const (
	ReasonDispensed  Reason = "dispensed"
	ReasonDestroyed  Reason = "destroyed"
	ReasonStolen     Reason = "stolen"
	ReasonExported   Reason = "exported"
	ReasonSample     Reason = "sample"
	ReasonFreeSample Reason = "free_sample"
	ReasonLocked     Reason = "locked"
	ReasonCheckedOut Reason = "checked_out"
	// ReasonSupplied: a wholesaler supplied the pack to a person authorised
	// to supply the public who does not verify it (Delegated Regulation
	// 2016/161 Art. 23: hospitals, veterinarians, dentists, ...).
	ReasonSupplied Reason = "supplied"
)

// DecommissionReasons are the reasons Decommission accepts (dispensing has
// its own transaction), in a fixed order.
var DecommissionReasons = []Reason{ReasonDestroyed, ReasonStolen, ReasonExported, ReasonSample, ReasonFreeSample, ReasonLocked, ReasonCheckedOut, ReasonSupplied}

// Irreversible reports whether a pack decommissioned for r can never be
// reactivated (destroyed, stolen).
func (r Reason) Irreversible() bool { return r == ReasonDestroyed || r == ReasonStolen }

// Transit describes the shipment that currently carries a pack.
type Transit struct {
	Shipment string `json:"shipment"`
	From     Party  `json:"from"`
	To       Party  `json:"to"`
}

// Pack is one serialised pack.
type Pack struct {
	GTIN      string    `json:"gtin"`
	Serial    string    `json:"serial"`
	Lot       string    `json:"lot"`
	Expiry    string    `json:"expiry"`
	State     PackState `json:"state"`
	Reason    Reason    `json:"reason,omitempty"`
	Custodian Party     `json:"custodian"`
	Transit   *Transit  `json:"transit,omitempty"`
	// SSCC of the logistic unit (case) the pack was aggregated into, while
	// the case is intact.
	SSCC string `json:"sscc,omitempty"`
	// StateChangedBy/At record the last change of State/Reason; Undo is
	// allowed only to the same org and site within UndoWindow of it.
	StateChangedBy Party     `json:"stateChangedBy"`
	StateChangedAt time.Time `json:"stateChangedAt"`
	// StateChangedRole is the role of the certificate that made the change
	// (Undo: "the same person", Art. 13(1)(a); empty in older records).
	StateChangedRole Role      `json:"stateChangedRole,omitempty"`
	LastEvent        string    `json:"lastEvent"` // transaction name of the last change
	LastTx           string    `json:"lastTx"`
	CommissionedAt   time.Time `json:"commissionedAt"`
	UpdatedAt        time.Time `json:"updatedAt"`
}

// Ref returns the pack's reference.
func (p *Pack) Ref() PackRef { return PackRef{GTIN: p.GTIN, Serial: p.Serial} }

// ShipmentStatus is the status of a shipment.
type ShipmentStatus string

// Shipment statuses.
const (
	ShipmentInTransit         ShipmentStatus = "in_transit"
	ShipmentReceived          ShipmentStatus = "received"
	ShipmentPartiallyReceived ShipmentStatus = "partially_received"
)

// Shipment is a transfer of custody of packs (loose and/or in SSCCs).
type Shipment struct {
	ID     string         `json:"id"`
	From   Party          `json:"from"`
	To     Party          `json:"to"`
	SSCCs  []string       `json:"ssccs,omitempty"`
	Packs  []PackRef      `json:"packs"` // every pack, SSCC contents expanded, sorted
	Status ShipmentStatus `json:"status"`
	// Received lists the packs received so far (sorted); ReceivedAt the
	// site(s) that recorded a receipt. Diverted is set when a receipt
	// happened somewhere other than To.
	Received   []PackRef `json:"received,omitempty"`
	ReceivedAt []Party   `json:"receivedAt,omitempty"`
	Diverted   bool      `json:"diverted,omitempty"`
	Shortage   int       `json:"shortage"`
	Unexpected int       `json:"unexpected"`
	ShippedAt  time.Time `json:"shippedAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	LastTx     string    `json:"lastTx"`
}

// Aggregation is a logistic unit (SSCC) and the packs packed into it.
type Aggregation struct {
	SSCC      string    `json:"sscc"`
	Packs     []PackRef `json:"packs"` // sorted
	CreatedBy Party     `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
	// Shipment is the last shipment that carried the SSCC.
	Shipment  string    `json:"shipment,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
	LastTx    string    `json:"lastTx"`
}

// RequestRecord is what the ledger keeps per request ID (key
// req~<callerMSP>~<requestID>) to make writes idempotent.
type RequestRecord struct {
	RequestID   string    `json:"requestId"`
	Transaction string    `json:"transaction"`
	SHA256      string    `json:"sha256"` // of the canonical request JSON
	TxID        string    `json:"txId"`
	At          time.Time `json:"at"`
	Actor       Actor     `json:"actor"`
	Result      string    `json:"result"` // the result JSON returned to the caller
	// Contract is the chaincode definition version ("1.1.0+<build>") of
	// the contract that applied the request (empty before 1.1.0).
	Contract string `json:"contract,omitempty"`
}

// LastChanger is implemented by the ledger records that carry the time of
// their last change: no transaction may change such a record with an
// earlier timestamp (the chaincode checks it on every write).
type LastChanger interface {
	LastChange() time.Time
}

// LastChange implements LastChanger.
func (p Product) LastChange() time.Time { return p.CreatedAt }

// LastChange implements LastChanger.
func (l Lot) LastChange() time.Time { return l.UpdatedAt }

// LastChange implements LastChanger.
func (p Pack) LastChange() time.Time { return p.UpdatedAt }

// LastChange implements LastChanger.
func (s Shipment) LastChange() time.Time { return s.UpdatedAt }

// LastChange implements LastChanger.
func (a Aggregation) LastChange() time.Time { return a.UpdatedAt }

// LastChange implements LastChanger.
func (a Anomaly) LastChange() time.Time { return a.UpdatedAt }
