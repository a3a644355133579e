package chaincode

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/pharmatrace/pharmatrace/trace"
)

// Typed access to the world state. Getters return nil when the record does
// not exist; savers buffer the write and add the new version to the event.

func productKey(gtin string) (string, error)  { return key(objProduct, gtin) }
func lotKey(gtin, lot string) (string, error) { return key(objLot, gtin, lot) }
func shipmentKey(id string) (string, error)   { return key(objShipment, id) }
func ssccKey(sscc string) (string, error)     { return key(objSSCC, sscc) }
func anomalyKey(id string) (string, error)    { return key(objAnomaly, id) }

// Pack records are keyed by a pseudonym of the serial, not the serial: in a
// collection, Fabric puts SHA-256 of every key on every peer, and a serial
// space of 10^8 is searched in seconds against plain keys. The pseudonym
// is HMAC-SHA256(collection key, GTIN \x00 serial), 128 bits in hex; the
// key is a private record of the collection (InitCollection), so only its
// members can compute it. Outside a collection (a product no
// manufacturer's prefix covers, where no pack exists) keys are plain.

// collectionKeyKey is the key of the collection's pseudonym key.
var collectionKeyKey = "\x00" + objCollKey + "\x00"

type collectionSecret struct {
	Key []byte `json:"key"`
}

// secret returns the collection's pseudonym key (ok false: none yet).
func (t *txn) secret() ([]byte, bool, error) {
	if t.coll == "" {
		return nil, false, nil
	}
	if t.pseudoKey != nil {
		return t.pseudoKey, true, nil
	}
	var s collectionSecret
	found, err := t.get(collectionKeyKey, &s)
	if err != nil || !found {
		return nil, false, err
	}
	t.pseudoKey = s.Key
	return s.Key, true, nil
}

// serialID is what stands for serial in the keys of gtin's pack records;
// ok false: the collection has no key yet, so no pack of it exists.
func (t *txn) serialID(gtin, serial string) (string, bool, error) {
	if _, err := key(objPack, gtin, serial); err != nil {
		return "", false, trace.Invalid("", "%v", err)
	}
	if t.coll == "" {
		return serial, true, nil
	}
	k, ok, err := t.secret()
	if err != nil || !ok {
		return "", false, err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(gtin + "\x00" + serial))
	return hex.EncodeToString(m.Sum(nil)[:16]), true, nil
}

// packKey is the key of a pack record ("" : no pack can exist).
func (t *txn) packKey(gtin, serial string) (string, error) {
	id, ok, err := t.serialID(gtin, serial)
	if err != nil || !ok {
		return "", err
	}
	return key(objPack, gtin, id)
}

// requireSecret refuses a write in a collection that has no pseudonym key
// yet (a conflict the gateway resolves with InitCollection).
func (t *txn) requireSecret() error {
	if _, ok, err := t.secret(); err != nil || ok || t.coll == "" {
		return err
	}
	return trace.Conflict("collection %s has no pseudonym key yet: its manufacturer sends InitCollection once (the gateway does it before the first commissioning)", t.coll)
}

// packKeyOrErr is packKey for a write: the collection must have its key.
func (t *txn) packKeyOrErr(gtin, serial string) (string, error) {
	if err := t.requireSecret(); err != nil {
		return "", err
	}
	return t.packKey(gtin, serial)
}

func load[T any](t *txn, k string, err error) (*T, error) {
	if err != nil {
		return nil, trace.Invalid("", "%v", err)
	}
	var v T
	found, err := t.get(k, &v)
	if err != nil || !found {
		return nil, err
	}
	return &v, nil
}

func (t *txn) product(gtin string) (*trace.Product, error) {
	k, err := productKey(gtin)
	return load[trace.Product](t, k, err)
}

func (t *txn) lot(gtin, lot string) (*trace.Lot, error) {
	k, err := lotKey(gtin, lot)
	return load[trace.Lot](t, k, err)
}

func (t *txn) pack(gtin, serial string) (*trace.Pack, error) {
	k, err := t.packKey(gtin, serial)
	if err != nil || k == "" {
		return nil, err
	}
	return load[trace.Pack](t, k, nil)
}

func (t *txn) shipment(id string) (*trace.Shipment, error) {
	k, err := shipmentKey(id)
	return load[trace.Shipment](t, k, err)
}

func (t *txn) aggregation(sscc string) (*trace.Aggregation, error) {
	k, err := ssccKey(sscc)
	return load[trace.Aggregation](t, k, err)
}

func (t *txn) anomaly(id string) (*trace.Anomaly, error) {
	k, err := anomalyKey(id)
	return load[trace.Anomaly](t, k, err)
}

// packs reads many packs with one GetMultipleStates; absent packs are nil.
func (t *txn) packs(refs []trace.PackRef) ([]*trace.Pack, error) {
	keys := make([]string, len(refs))
	for i, r := range refs {
		k, err := t.packKey(r.GTIN, r.Serial)
		if err != nil {
			return nil, trace.Invalid("packs", "%v", err)
		}
		if k == "" {
			return make([]*trace.Pack, len(refs)), nil
		}
		keys[i] = k
	}
	return t.packsByKey(keys)
}

// packsByKey reads pack records by key with one GetMultipleStates.
func (t *txn) packsByKey(keys []string) ([]*trace.Pack, error) {
	if err := t.prefetch(keys); err != nil {
		return nil, err
	}
	out := make([]*trace.Pack, len(keys))
	for i, k := range keys {
		p, err := load[trace.Pack](t, k, nil)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// lotOf returns the lot of an existing pack; a missing lot is a corrupt
// ledger, not a business case.
func (t *txn) lotOf(p *trace.Pack) (*trace.Lot, error) {
	l, err := t.lot(p.GTIN, p.Lot)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, fmt.Errorf("ledger: lot %s/%s of pack %s is missing", p.GTIN, p.Lot, p.Serial)
	}
	return l, nil
}

// lotPackCount is the private record of a lot's pack count.
type lotPackCount struct {
	Count int `json:"count"`
}

// lotPacks returns the number of packs commissioned in lot l: a private
// record of the lot's collection (the batch size is the manufacturer's and
// the regulator's business); 0 outside a collection.
func (t *txn) lotPacks(l *trace.Lot) (int, error) {
	if t.coll == "" {
		return 0, nil
	}
	k, err := key(objLotPacks, l.GTIN, l.Lot)
	if err != nil {
		return 0, trace.Invalid("", "%v", err)
	}
	var n lotPackCount
	if _, err := t.get(k, &n); err != nil {
		return 0, err
	}
	return n.Count, nil
}

// saveLotPacks stores l.PackCount as the lot's private count and puts l,
// so counted, in the (private) event.
func (t *txn) saveLotPacks(l trace.Lot) error {
	k, err := key(objLotPacks, l.GTIN, l.Lot)
	if err != nil {
		return err
	}
	if err := t.put(k, lotPackCount{Count: l.PackCount}, false); err != nil {
		return err
	}
	t.event.Lots = append(t.event.Lots, l)
	return nil
}

func (t *txn) saveProduct(p trace.Product) error {
	k, err := productKey(p.GTIN)
	if err != nil {
		return err
	}
	return t.put(k, p, true)
}

func (t *txn) saveLot(l trace.Lot) error {
	k, err := lotKey(l.GTIN, l.Lot)
	if err != nil {
		return err
	}
	return t.put(k, l, true)
}

func (t *txn) savePack(p trace.Pack) error {
	k, err := t.packKeyOrErr(p.GTIN, p.Serial)
	if err != nil {
		return err
	}
	return t.put(k, p, true)
}

func (t *txn) saveShipment(s trace.Shipment) error {
	k, err := shipmentKey(s.ID)
	if err != nil {
		return err
	}
	return t.put(k, s, true)
}

func (t *txn) saveAggregation(a trace.Aggregation) error {
	k, err := ssccKey(a.SSCC)
	if err != nil {
		return err
	}
	return t.put(k, a, true)
}

// saveAnomaly writes an anomaly and maintains its status and organisation
// indexes (prev: the version before this transaction, nil for a new one).
func (t *txn) saveAnomaly(a trace.Anomaly, prev *trace.Anomaly) error {
	k, err := anomalyKey(a.ID)
	if err != nil {
		return err
	}
	if err := t.put(k, a, true); err != nil {
		return err
	}
	if prev != nil && prev.Status != a.Status {
		old, err := key(objAnomalyStatus, string(prev.Status), a.ID)
		if err != nil {
			return err
		}
		t.del(old)
	}
	if prev == nil || prev.Status != a.Status {
		k, err := key(objAnomalyStatus, string(a.Status), a.ID)
		if err != nil {
			return err
		}
		t.putRaw(k, indexValue)
	}
	if prev == nil {
		k, err := key(objAnomalyOrg, a.ReportedBy.MSP, a.ID)
		if err != nil {
			return err
		}
		t.putRaw(k, indexValue)
		if a.ProductOwner != "" && a.ProductOwner != a.ReportedBy.MSP {
			k, err := key(objAnomalyOwner, a.ProductOwner, a.ID)
			if err != nil {
				return err
			}
			t.putRaw(k, indexValue)
		}
	}
	return nil
}

// productOwner returns the MSP owning the product a finding is about ("":
// unknown product, or no product named).
func (t *txn) productOwner(f trace.Finding) (string, error) {
	gtin := ""
	switch {
	case f.Pack != nil:
		gtin = f.Pack.GTIN
	case f.Lot != nil:
		gtin = f.Lot.GTIN
	}
	if gtin == "" {
		return "", nil
	}
	p, err := t.product(gtin)
	if err != nil || p == nil {
		return "", err
	}
	return p.OwnerMSP, nil
}

// record turns findings into new anomalies (IDs from the transaction ID and
// a running index).
func (t *txn) record(fs []trace.Finding) error {
	for _, f := range fs {
		id := trace.AnomalyID(t.txID, t.now, len(t.anomalies))
		a := trace.NewAnomaly(f, id, t.name, t.txID, t.actor, t.now)
		owner, err := t.productOwner(f)
		if err != nil {
			return err
		}
		a.ProductOwner = owner
		if err := t.saveAnomaly(a, nil); err != nil {
			return err
		}
		t.anomalies = append(t.anomalies, a)
	}
	return nil
}

// statusOf is the verification view of a pack.
func (t *txn) statusOf(p *trace.Pack, l *trace.Lot) *trace.PackStatus {
	return &trace.PackStatus{
		GTIN: p.GTIN, Serial: p.Serial, Lot: p.Lot, Expiry: p.Expiry, State: p.State, Reason: p.Reason,
		LotStatus: l.Status, Expired: trace.Expired(p.Expiry, t.local()), StateChangedAt: p.StateChangedAt,
	}
}
