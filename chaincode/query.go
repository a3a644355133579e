package chaincode

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pharmatrace/pharmatrace/trace"
)

func (c *Contract) getProduct(t *txn, q *trace.ProductQuery) (any, error) {
	p, err := t.product(q.GTIN)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, trace.NotFound("product %s is not registered", q.GTIN)
	}
	return &trace.GetProductResult{Product: *p}, nil
}

func (t *txn) readablePack(gtin, serial string) (*trace.Pack, error) {
	p, err := t.pack(gtin, serial)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, trace.NotFound("pack %s/%s does not exist", gtin, serial)
	}
	ok, err := t.canReadPack(p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, trace.Denied("%s needs right %q, ownership of the product or custody of the pack; use Verify to check a pack", t.name, trace.RightReadAll)
	}
	return p, nil
}

func (c *Contract) getPack(t *txn, q *trace.PackQuery) (any, error) {
	p, err := t.readablePack(q.GTIN, q.Serial)
	if err != nil {
		return nil, err
	}
	return &trace.GetPackResult{Pack: *p}, nil
}

// getPackHistory reads the pack's key history (newest first, as Fabric 2.x
// returns it), at most q.Limit (default trace.DefaultHistory, bound
// trace.MaxHistory) entries.
func (c *Contract) getPackHistory(t *txn, q *trace.PackHistoryQuery) (any, error) {
	if _, err := t.readablePack(q.GTIN, q.Serial); err != nil {
		return nil, err
	}
	if t.coll != "" {
		return nil, trace.Invalid("", "pack %s/%s is a record of %s's private collection, of which Fabric keeps no history: the read model keeps it (API GET /v1/packs/{gtin}/{serial}/history)",
			q.GTIN, q.Serial, strings.TrimPrefix(t.coll, trace.CollectionPrefix))
	}
	limit := q.Limit
	if limit == 0 {
		limit = trace.DefaultHistory
	}
	k, err := t.packKey(q.GTIN, q.Serial)
	if err != nil {
		return nil, trace.Invalid("", "%v", err)
	}
	it, err := t.stub.GetHistoryForKey(k)
	if err != nil {
		return nil, fmt.Errorf("ledger: history of %s/%s: %w", q.GTIN, q.Serial, err)
	}
	defer it.Close()
	res := &trace.PackHistoryResult{Entries: []trace.PackHistoryEntry{}}
	for it.HasNext() {
		if len(res.Entries) == limit {
			res.Truncated = true
			break
		}
		m, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("ledger: history of %s/%s: %w", q.GTIN, q.Serial, err)
		}
		e := trace.PackHistoryEntry{TxID: m.GetTxId(), Deleted: m.GetIsDelete()}
		if ts := m.GetTimestamp(); ts != nil {
			e.Timestamp = ts.AsTime().UTC()
		}
		if !m.GetIsDelete() {
			var p trace.Pack
			if err := c.decodeRecord(k, m.GetValue(), &p); err != nil {
				return nil, fmt.Errorf("ledger: history of %s/%s: decode: %w", q.GTIN, q.Serial, err)
			}
			e.Pack = &p
		}
		res.Entries = append(res.Entries, e)
	}
	return res, nil
}

func (c *Contract) getLot(t *txn, q *trace.LotQuery) (any, error) {
	l, err := t.lot(q.GTIN, q.Lot)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, trace.NotFound("lot %s of product %s is not registered", q.Lot, q.GTIN)
	}
	l.PackCount = 0
	if t.actor.Role.Has(trace.RightReadAll) || t.ownsLot(l) {
		// the batch size is the manufacturer's and the regulator's business
		if l.PackCount, err = t.lotPacks(l); err != nil {
			return nil, err
		}
	}
	return &trace.GetLotResult{Lot: *l}, nil
}

// getShipment: the regulator, the shipper, the addressee and any
// organisation that recorded a receipt of it.
func (c *Contract) getShipment(t *txn, q *trace.ShipmentQuery) (any, error) {
	s, err := t.shipment(q.ID)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, trace.NotFound("shipment %s does not exist", q.ID)
	}
	ok := t.actor.Role.Has(trace.RightReadAll) || s.From.MSP == t.actor.MSP || s.To.MSP == t.actor.MSP
	for _, p := range s.ReceivedAt {
		ok = ok || p.MSP == t.actor.MSP
	}
	if !ok {
		return nil, trace.Denied("%s needs right %q or to be a party to shipment %s", t.name, trace.RightReadAll, q.ID)
	}
	return &trace.GetShipmentResult{Shipment: *s}, nil
}

func (c *Contract) getAnomaly(t *txn, q *trace.AnomalyQuery) (any, error) {
	a, err := t.anomaly(q.ID)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, trace.NotFound("anomaly %s does not exist", q.ID)
	}
	if !t.canSeeAnomaly(a) {
		return nil, trace.Denied("%s needs right %q, to be the reporting organisation or to own the product", t.name, trace.RightReadAll)
	}
	return &trace.GetAnomalyResult{Anomaly: *a}, nil
}

// getRequest looks up one of the caller's request IDs.
func (c *Contract) getRequest(t *txn, q *trace.RequestQuery) (any, error) {
	k, err := key(objRequest, t.actor.MSP, q.RequestID)
	if err != nil {
		return nil, trace.Invalid("requestId", "%v", err)
	}
	var r trace.RequestRecord
	found, err := t.get(k, &r)
	if err != nil {
		return nil, err
	}
	if !found {
		return &trace.GetRequestResult{}, nil
	}
	// Another caller's request ID: its outcome is not the caller's (the
	// organisation's admin may read them all).
	if r.Actor != t.actor && t.actor.Role != trace.RoleAdmin {
		return nil, trace.Conflict("request ID %q belongs to another caller (%s, role %s, site %s)", q.RequestID, r.Actor.MSP, r.Actor.Role, r.Actor.GLN)
	}
	return &trace.GetRequestResult{Found: true, Request: &r}, nil
}

// page runs one paginated partial-composite-key query over one or more
// spaces (the public state "", or collections), one after the other. The
// bookmark handed to clients is the next space and key, tagged with a hash
// of the caller's MSP and the query's filter (filter: the query's canonical
// JSON without its bookmark); it must carry the same tag and lie inside the
// queried prefix, so a bookmark cannot be replayed with another filter, by
// another organisation, or to reach another record type. Queries that page
// over records the caller may not read are refused before they get here, so
// no bookmark names a record the caller may not read. While a space is
// read, t.coll is that space, so records loaded by each come from it.
func (t *txn) page(spaces []string, objectType string, attrs []string, filter any, size int, bookmark string, each func(k string, v []byte) error) (string, error) {
	if size == 0 {
		size = trace.DefaultPageSize
	}
	prefix, err := key(objectType, attrs...)
	if err != nil {
		return "", trace.Invalid("", "%v", err)
	}
	fj, err := json.Marshal(filter)
	if err != nil {
		return "", fmt.Errorf("encode filter: %w", err)
	}
	sum := sha256.Sum256([]byte(t.actor.MSP + "\x00" + prefix + "\x00" + string(fj) + "\x00" + strings.Join(spaces, ",")))
	tag := sum[:8]
	si, raw := 0, ""
	if bookmark != "" {
		b, err := base64.RawURLEncoding.DecodeString(bookmark)
		if err != nil || len(b) < len(tag)+1 || !bytes.Equal(b[:len(tag)], tag) || int(b[len(tag)]) >= len(spaces) || (len(b) > len(tag)+1 && !strings.HasPrefix(string(b[len(tag)+1:]), prefix)) {
			return "", trace.Invalid("bookmark", "is not a bookmark of this query (same filter, same organisation)")
		}
		si, raw = int(b[len(tag)]), string(b[len(tag)+1:])
	}
	saved := t.coll
	defer func() { t.coll = saved }()
	for ; si < len(spaces) && size > 0; si, raw = si+1, "" {
		t.coll = spaces[si]
		n, next, err := t.pageIn(spaces[si], objectType, attrs, size, raw, each)
		if err != nil {
			return "", err
		}
		if next != "" {
			return base64.RawURLEncoding.EncodeToString(append(append(slices.Clip(tag), byte(si)), next...)), nil
		}
		size -= n
	}
	if si < len(spaces) {
		return base64.RawURLEncoding.EncodeToString(append(slices.Clip(tag), byte(si))), nil
	}
	return "", nil
}

// pageIn reads up to size records of one space from key raw ("" : the
// first) and returns how many it read and the next key ("" : the end).
// Collections have no paginated query: the range is read from raw on.
func (t *txn) pageIn(space, objectType string, attrs []string, size int, raw string, each func(k string, v []byte) error) (int, string, error) {
	n := 0
	if space == "" {
		it, md, err := t.stub.GetStateByPartialCompositeKeyWithPagination(objectType, attrs, int32(size), raw)
		if err != nil {
			return 0, "", fmt.Errorf("ledger: query %s: %w", objectType, err)
		}
		defer it.Close()
		for it.HasNext() {
			kv, err := it.Next()
			if err != nil {
				return 0, "", fmt.Errorf("ledger: query %s: %w", objectType, err)
			}
			if err := each(kv.GetKey(), kv.GetValue()); err != nil {
				return 0, "", err
			}
			n++
		}
		return n, md.GetBookmark(), nil
	}
	it, err := t.stub.GetPrivateDataByPartialCompositeKey(space, objectType, attrs)
	if err != nil {
		return 0, "", fmt.Errorf("ledger: query %s in %s: %w", objectType, space, err)
	}
	defer it.Close()
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return 0, "", fmt.Errorf("ledger: query %s in %s: %w", objectType, space, err)
		}
		if kv.GetKey() < raw {
			continue
		}
		if n == size {
			return n, kv.GetKey(), nil
		}
		if err := each(kv.GetKey(), kv.GetValue()); err != nil {
			return 0, "", err
		}
		n++
	}
	return n, "", nil
}

func anomalyMatches(a *trace.Anomaly, q *trace.ListAnomaliesQuery) bool {
	lotOK := func() bool {
		if q.GTIN == "" && q.Lot == "" {
			return true
		}
		gtin, lot := "", ""
		if a.Pack != nil {
			gtin = a.Pack.GTIN
		}
		if a.Lot != nil {
			gtin, lot = a.Lot.GTIN, a.Lot.Lot
		}
		return (q.GTIN == "" || q.GTIN == gtin) && (q.Lot == "" || q.Lot == lot)
	}
	return (q.Status == "" || a.Status == q.Status) &&
		(q.Classification == "" || a.Classification == q.Classification) &&
		(q.Severity == "" || a.Severity == q.Severity) &&
		(q.Code == "" || a.Code == q.Code) && lotOK()
}

// listAnomalies pages through the anomalies the caller may see: the
// regulator all of them (by status index when filtering on status), others
// their organisation's.
func (c *Contract) listAnomalies(t *txn, q *trace.ListAnomaliesQuery) (any, error) {
	res := &trace.ListAnomaliesResult{Anomalies: []trace.Anomaly{}}
	add := func(a *trace.Anomaly) {
		if anomalyMatches(a, q) {
			res.Anomalies = append(res.Anomalies, *a)
		}
	}
	viaIndex := func(_ string, _ []byte) error { return nil }
	var (
		obj   string
		attrs []string
	)
	switch {
	case q.Owned && t.actor.Role != trace.RoleManufacturer:
		return nil, trace.Invalid("owned", "lists the anomalies about a manufacturer's own products; the caller is %s", t.actor.Role)
	case q.Owned:
		obj, attrs = objAnomalyOwner, []string{t.actor.MSP}
	case !t.actor.Role.Has(trace.RightReadAll):
		obj, attrs = objAnomalyOrg, []string{t.actor.MSP}
	case q.Status != "":
		obj, attrs = objAnomalyStatus, []string{string(q.Status)}
	default:
		obj = objAnomaly
	}
	if obj == objAnomaly {
		viaIndex = func(k string, v []byte) error {
			var a trace.Anomaly
			if err := c.decodeRecord(k, v, &a); err != nil {
				return fmt.Errorf("ledger: decode anomaly: %w", err)
			}
			add(&a)
			return nil
		}
	} else {
		viaIndex = func(k string, _ []byte) error {
			_, parts, err := t.stub.SplitCompositeKey(k)
			if err != nil || len(parts) == 0 {
				return fmt.Errorf("ledger: bad index key %q", printable(k))
			}
			a, err := t.anomaly(parts[len(parts)-1])
			if err != nil {
				return err
			}
			if a != nil && t.canSeeAnomaly(a) {
				add(a)
			}
			return nil
		}
	}
	filter := *q
	filter.Bookmark, filter.PageSize = "", 0
	bm, err := t.page(t.anomalySpaces(q), obj, attrs, filter, q.PageSize, q.Bookmark, viaIndex)
	if err != nil {
		return nil, err
	}
	res.Bookmark = bm
	return res, nil
}

// anomalySpaces are where ListAnomalies looks: a routed query (filtered on
// a GTIN) its collection; otherwise the public state (anomalies about
// unregistered products) and the collections the caller may read (the
// regulator, and others through a regulator's peer: all; a manufacturer:
// its own).
func (t *txn) anomalySpaces(q *trace.ListAnomaliesQuery) []string {
	if t.coll != "" {
		return []string{t.coll}
	}
	spaces := []string{""}
	for _, m := range t.c.manufacturers() {
		if t.actor.Role != trace.RoleManufacturer || m == t.actor.MSP {
			spaces = append(spaces, trace.Collection(m))
		}
	}
	if q.Owned {
		spaces = spaces[1:]
	}
	return spaces
}

// listPacksByLot pages through a lot's packs (serial order) via the lot
// index: only for the regulator and the owning manufacturer. A lot's
// serials are the secret that makes a code unforgeable; anyone else paging
// through them (even with the records hidden, the bookmark names the next
// serial) could print packs that verify.
func (c *Contract) listPacksByLot(t *txn, q *trace.ListPacksByLotQuery) (any, error) {
	if !t.actor.Role.Has(trace.RightReadAll) {
		l, err := t.lot(q.GTIN, q.Lot)
		if err != nil {
			return nil, err
		}
		if l == nil || !t.ownsLot(l) {
			return nil, trace.Denied("%s lists a lot's serials: only the regulator and the lot's manufacturer may", t.name)
		}
	}
	filter := *q
	filter.Bookmark, filter.PageSize = "", 0
	var keys []string // the index holds the pack keys' serial IDs (pseudonyms in a collection)
	bm, err := t.page([]string{t.coll}, objPackByLot, []string{q.GTIN, q.Lot}, filter, q.PageSize, q.Bookmark, func(k string, _ []byte) error {
		_, parts, err := t.stub.SplitCompositeKey(k)
		if err != nil || len(parts) != 3 {
			return fmt.Errorf("ledger: bad index key %q", printable(k))
		}
		pk, err := key(objPack, q.GTIN, parts[2])
		keys = append(keys, pk)
		return err
	})
	if err != nil {
		return nil, err
	}
	packs, err := t.packsByKey(keys)
	if err != nil {
		return nil, err
	}
	res := &trace.ListPacksByLotResult{Packs: []trace.Pack{}, Bookmark: bm}
	for _, p := range packs {
		if p != nil && (q.State == "" || p.State == q.State) {
			res.Packs = append(res.Packs, *p)
		}
	}
	return res, nil
}
