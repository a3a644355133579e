package chaincode

import (
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// Composite-key object types. Keys use the shim's composite-key encoding
// (\x00 objectType \x00 attr \x00 ...), so range queries by prefix work and
// no key can collide with another type's.
const (
	objProduct       = "product"        // gtin → trace.Product
	objLot           = "lot"            // gtin, lot → trace.Lot
	objPack          = "pack"           // gtin, serial → trace.Pack
	objPackByLot     = "pack-by-lot"    // gtin, lot, serial → 0x00 (index)
	objShipment      = "shipment"       // id → trace.Shipment
	objSSCC          = "sscc"           // sscc → trace.Aggregation
	objAnomaly       = "anomaly"        // id → trace.Anomaly
	objAnomalyStatus = "anomaly-status" // status, id → 0x00 (index)
	objAnomalyOrg    = "anomaly-org"    // reporting MSP, id → 0x00 (index)
	objAnomalyOwner  = "anomaly-owner"  // product owner MSP, id → 0x00 (index)
	objRequest       = "req"            // caller MSP, request ID → trace.RequestRecord
	objLotPacks      = "lot-packs"      // gtin, lot → number of packs commissioned (private)
	objCollKey       = "collection-key" // (no attributes) → the collection's pseudonym key (private)
)

// indexValue is the value of index keys: an empty value would be a delete.
var indexValue = []byte{0}

// key builds a composite key. Every attribute was validated (GS1 character
// set or identifier syntax, never \x00 or U+10FFFF), so the shim cannot
// reject it; the error path is kept for safety.
func key(objectType string, attrs ...string) (string, error) {
	return shim.CreateCompositeKey(objectType, attrs)
}
