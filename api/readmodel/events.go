package readmodel

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/pharmatrace/pharmatrace/api/db"
	"github.com/pharmatrace/pharmatrace/trace"
)

// EventQuery selects stored events. Exactly one of: a pack (GTIN and
// Serial), a lot (GTIN and Lot), a shipment (every event of the packs it
// carries, from their commissioning on), or none of them (every event).
// From and To bound the transaction time (From <= t < To; zero: open).
type EventQuery struct {
	GTIN, Serial, Lot string
	Shipment          string
	From, To          time.Time
}

// Events streams the stored events the query selects, in ledger order,
// reading one row at a time (the rows stay open while the caller iterates).
func (s *Store) Events(ctx context.Context, q EventQuery) iter.Seq2[trace.Event, error] {
	var where []string
	var args []any
	switch {
	case q.Shipment != "":
		where = append(where, `tx_id IN (SELECT pe.tx_id FROM rm_pack_events pe WHERE EXISTS
			(SELECT 1 FROM rm_pack_events sp WHERE sp.shipment = ? AND sp.gtin = pe.gtin AND sp.serial = pe.serial))`)
		args = append(args, q.Shipment)
	case q.Serial != "":
		where = append(where, `tx_id IN (SELECT tx_id FROM rm_pack_events WHERE gtin = ? AND serial = ?)`)
		args = append(args, q.GTIN, q.Serial)
	case q.Lot != "":
		where = append(where, `tx_id IN (SELECT tx_id FROM rm_pack_events WHERE gtin = ? AND lot = ?)`)
		args = append(args, q.GTIN, q.Lot)
	}
	if !q.From.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, db.FormatTime(q.From))
	}
	if !q.To.IsZero() {
		where = append(where, "at < ?")
		args = append(args, db.FormatTime(q.To))
	}
	query := "SELECT doc FROM rm_events"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY pos_block, pos_index"
	return func(yield func(trace.Event, error) bool) {
		rows, err := s.db.QueryContext(ctx, query, args...)
		if err != nil {
			yield(trace.Event{}, fmt.Errorf("readmodel: events: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var d string
			var ev trace.Event
			if err := rows.Scan(&d); err != nil {
				yield(trace.Event{}, fmt.Errorf("readmodel: events: %w", err))
				return
			}
			if err := json.Unmarshal([]byte(d), &ev); err != nil {
				yield(trace.Event{}, fmt.Errorf("readmodel: stored event: %w", err))
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(trace.Event{}, fmt.Errorf("readmodel: events: %w", err))
		}
	}
}

// GetShipment returns a shipment.
func (s *Store) GetShipment(ctx context.Context, id string) (trace.Shipment, error) {
	var d string
	err := s.db.QueryRowContext(ctx, `SELECT doc FROM rm_shipments WHERE id = ?`, id).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return trace.Shipment{}, fmt.Errorf("%w: shipment %s", ErrNotFound, id)
	}
	if err != nil {
		return trace.Shipment{}, fmt.Errorf("readmodel: get shipment %s: %w", id, err)
	}
	var sh trace.Shipment
	if err := json.Unmarshal([]byte(d), &sh); err != nil {
		return trace.Shipment{}, fmt.Errorf("readmodel: shipment %s: %w", id, err)
	}
	return sh, nil
}

// GetProduct returns a product.
func (s *Store) GetProduct(ctx context.Context, gtin string) (trace.Product, error) {
	var d string
	err := s.db.QueryRowContext(ctx, `SELECT doc FROM rm_products WHERE gtin = ?`, gtin).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return trace.Product{}, fmt.Errorf("%w: product %s", ErrNotFound, gtin)
	}
	if err != nil {
		return trace.Product{}, fmt.Errorf("readmodel: get product %s: %w", gtin, err)
	}
	var p trace.Product
	if err := json.Unmarshal([]byte(d), &p); err != nil {
		return trace.Product{}, fmt.Errorf("readmodel: product %s: %w", gtin, err)
	}
	return p, nil
}

// CompanyPrefixes returns the distinct GS1 Company Prefixes of the
// registered products.
func (s *Store) CompanyPrefixes(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT company_prefix FROM rm_products WHERE company_prefix <> '' ORDER BY company_prefix`)
	if err != nil {
		return nil, fmt.Errorf("readmodel: company prefixes: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("readmodel: company prefixes: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PartyMSP returns the MSP of the organisation seen at a GLN (as an actor,
// a custodian or a shipment party), or "" when the GLN was never seen.
func (s *Store) PartyMSP(ctx context.Context, gln string) (string, error) {
	var msp string
	err := s.db.QueryRowContext(ctx, `SELECT msp FROM rm_parties WHERE gln = ?`, gln).Scan(&msp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("readmodel: party %s: %w", gln, err)
	}
	return msp, nil
}
