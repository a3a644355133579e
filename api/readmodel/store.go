// Package readmodel is the API's query side: SQL tables (SQLite or
// PostgreSQL, see package db) kept up to date from the chaincode's events,
// and the queries behind the API's lists, filters, statistics and the
// regulator dashboard.
//
// # Applying events
//
// Every committed write emits one trace.Event carrying the full new version
// of each record it changed. Apply writes those versions, the pack timeline
// rows (chain of custody), the anomaly workflow steps, the applied-event row
// and the checkpoint in ONE SQL transaction, so a crash never separates the
// read model from its checkpoint. Application is idempotent: an event whose
// transaction ID is already recorded is skipped, and every record row keeps
// the ledger position (block, index) of the version it holds, so an upsert
// only replaces an older version. Applying the same events twice, or in any
// order, gives the same state.
//
// # Rebuild
//
// Reset drops the read-model tables (not the API's tokens or upload
// progress, which live in other components of the same database) and
// re-creates them; the consumer then replays from block 0.
package readmodel

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pharmatrace/pharmatrace/api/db"
	"github.com/pharmatrace/pharmatrace/trace"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Component is the read model's name in schema_migrations.
const Component = "readmodel"

// Migrations returns the read model's schema history.
func Migrations() db.Migrations {
	return db.Migrations{Component: Component, FS: migrationFS, Dir: "migrations"}
}

// tables lists the read model's tables (dropped by Reset).
var tables = []string{
	"rm_products", "rm_lots", "rm_packs", "rm_pack_events", "rm_shipments", "rm_aggregations",
	"rm_anomalies", "rm_anomaly_transitions", "rm_applied", "rm_checkpoint", "rm_events", "rm_parties",
}

// Position is where an event sits on the ledger: its block, its index among
// the chaincode's events of that block (0-based, in transaction order) and
// its transaction ID. The zero Position means "before the first event".
type Position struct {
	Block uint64 `json:"block"`
	Index int    `json:"index"`
	TxID  string `json:"txId"`
}

// IsZero reports whether p is "nothing applied yet".
func (p Position) IsZero() bool { return p.TxID == "" }

// After reports whether p comes after q on the ledger.
func (p Position) After(q Position) bool {
	if q.IsZero() {
		return !p.IsZero()
	}
	return p.Block > q.Block || (p.Block == q.Block && p.Index > q.Index)
}

func (p Position) String() string {
	if p.IsZero() {
		return "start"
	}
	return fmt.Sprintf("block %d index %d tx %s", p.Block, p.Index, p.TxID)
}

// Store is the read model over an open database.
type Store struct {
	db      *db.DB
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
	hook    Hook
}

// NewAnomaly is an anomaly an applied event created, with the product
// owner and company prefix its visibility depends on (Scope).
type NewAnomaly struct {
	Anomaly      trace.Anomaly
	ProductOwner string
	ProductGCP   string
}

// VisibleTo reports whether scope sees the anomaly (nil: the regulator).
func (n *NewAnomaly) VisibleTo(scope *Scope) bool {
	return scope.Sees(n.Anomaly.ReportedBy, n.ProductOwner, n.ProductGCP)
}

// Hook learns of the anomalies each applied event created (never twice
// for one event): inside Apply's SQL transaction, for work that must be
// exactly as durable as the read model (a delivery queue in the same
// database), and after the commit, for wake-ups (it must not block: the
// event stream waits for it).
type Hook interface {
	AnomaliesInTx(ctx context.Context, tx *db.Tx, pos Position, created []NewAnomaly) error
	AnomaliesCommitted(pos Position, created []NewAnomaly)
}

// Option configures a Store.
type Option func(*Store)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithMetrics sets the collectors updated by Apply (see NewMetrics).
func WithMetrics(m *Metrics) Option { return func(s *Store) { s.metrics = m } }

// WithHook sets the hook told of new anomalies (alert delivery).
func WithHook(h Hook) Option { return func(s *Store) { s.hook = h } }

// WithClock sets the clock used for lag and applied-at times.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a Store over d. Call Migrate before use.
func New(d *db.DB, opts ...Option) *Store {
	s := &Store{db: d, log: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// DB returns the database.
func (s *Store) DB() *db.DB { return s.db }

// Migrate creates or upgrades the read-model tables.
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.db.Migrate(ctx, Migrations())
	return err
}

// Reset drops every read-model table and re-creates them empty (checkpoint
// at the start of the ledger).
func (s *Store) Reset(ctx context.Context) error {
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, t := range tables {
			if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
				return fmt.Errorf("readmodel: drop %s: %w", t, err)
			}
		}
		return tx.Forget(ctx, Component)
	})
	if err != nil {
		return err
	}
	return s.Migrate(ctx)
}

// Checkpoint returns the position of the last applied event (the zero
// Position when nothing was applied).
func (s *Store) Checkpoint(ctx context.Context) (Position, error) {
	var p Position
	var idx int
	err := s.db.QueryRowContext(ctx, `SELECT pos_block, pos_index, tx_id FROM rm_checkpoint WHERE id = 1`).Scan(&p.Block, &idx, &p.TxID)
	if err != nil {
		return Position{}, fmt.Errorf("readmodel: read checkpoint: %w", err)
	}
	if p.TxID == "" {
		return Position{}, nil
	}
	p.Index = idx
	return p, nil
}

// Apply applies one event and moves the checkpoint, in one SQL transaction.
// It reports false when the event had been applied before (nothing changed).
func (s *Store) Apply(ctx context.Context, ev trace.Event, pos Position) (bool, error) {
	var (
		applied bool
		created []NewAnomaly
	)
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var err error
		applied, created, err = apply(ctx, tx, ev, pos)
		if err == nil && applied && len(created) > 0 && s.hook != nil {
			if pos.TxID == "" {
				pos.TxID = ev.TxID
			}
			err = s.hook.AnomaliesInTx(ctx, tx, pos, created)
		}
		return err
	})
	if err != nil {
		return false, err
	}
	if applied && len(created) > 0 && s.hook != nil {
		s.hook.AnomaliesCommitted(pos, created)
	}
	now := s.now()
	if s.metrics != nil {
		s.metrics.observe(ev, pos, applied, now)
	}
	if applied {
		s.log.Debug("readmodel: applied event", "event", ev.Type, "tx_id", ev.TxID, "block", pos.Block, "index", pos.Index)
	}
	return applied, nil
}

// Apply writes event ev at position pos into the read model inside tx:
// records, pack timeline, anomaly steps, the applied-event row and the
// checkpoint. It is a no-op (false) for an event already applied.
func Apply(ctx context.Context, tx *db.Tx, ev trace.Event, pos Position) (bool, error) {
	applied, _, err := apply(ctx, tx, ev, pos)
	return applied, err
}

// apply is Apply, also returning the anomalies the event created.
func apply(ctx context.Context, tx *db.Tx, ev trace.Event, pos Position) (bool, []NewAnomaly, error) {
	if ev.TxID == "" {
		return false, nil, errors.New("readmodel: event without transaction ID")
	}
	if pos.TxID == "" {
		pos.TxID = ev.TxID
	}
	if pos.TxID != ev.TxID {
		return false, nil, fmt.Errorf("readmodel: position names tx %s but the event is tx %s", pos.TxID, ev.TxID)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO rm_applied (tx_id, pos_block, pos_index, event_type, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tx_id) DO NOTHING`,
		ev.TxID, int64(pos.Block), pos.Index, ev.Type, db.FormatTime(ev.Timestamp))
	if err != nil {
		return false, nil, fmt.Errorf("readmodel: record event %s: %w", ev.TxID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, nil, fmt.Errorf("readmodel: record event %s: %w", ev.TxID, err)
	} else if n == 0 {
		return false, nil, nil // applied before
	}
	a := applier{ctx: ctx, tx: tx, ev: &ev, pos: pos}
	for _, step := range []func() error{a.event, a.parties, a.products, a.lots, a.packs, a.shipments, a.aggregations, a.anomalies} {
		if err := step(); err != nil {
			return false, nil, fmt.Errorf("readmodel: apply %s tx %s: %w", ev.Type, ev.TxID, err)
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE rm_checkpoint SET pos_block = ?, pos_index = ?, tx_id = ?, event_at = ?, applied_at = ?
		WHERE id = 1 AND (tx_id = '' OR pos_block < ? OR (pos_block = ? AND pos_index < ?))`,
		int64(pos.Block), pos.Index, pos.TxID, db.FormatTime(ev.Timestamp), db.FormatTime(time.Now()),
		int64(pos.Block), int64(pos.Block), pos.Index)
	if err != nil {
		return false, nil, fmt.Errorf("readmodel: save checkpoint: %w", err)
	}
	return true, a.created, nil
}

type applier struct {
	ctx    context.Context
	tx     *db.Tx
	ev     *trace.Event
	pos    Position
	owners map[string][2]string // gtin → product owner MSP, company prefix
	// created lists the anomalies this event created.
	created []NewAnomaly
}

// newer is the upsert guard: replace only an older version.
func newer(table string) string {
	return fmt.Sprintf(" WHERE excluded.pos_block > %[1]s.pos_block OR (excluded.pos_block = %[1]s.pos_block AND excluded.pos_index > %[1]s.pos_index)", table)
}

// updateSet renders "c = excluded.c, ..." for the non-key columns.
func updateSet(cols []string, keys int) string {
	parts := make([]string, 0, len(cols)-keys)
	for _, c := range cols[keys:] {
		parts = append(parts, c+" = excluded."+c)
	}
	return strings.Join(parts, ", ")
}

// upsert inserts rows (each len(cols) values) in chunks, replacing older
// versions; the first keys columns are the natural key.
func (a *applier) upsert(table string, cols []string, keys int, rows [][]any) error {
	conflict := " ON CONFLICT (" + strings.Join(cols[:keys], ", ") + ") DO UPDATE SET " + updateSet(cols, keys) + newer(table)
	return insertChunks(a.ctx, a.tx, "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES ", len(cols), rows, conflict)
}

// insertIgnore inserts rows, skipping those whose key exists.
func (a *applier) insertIgnore(table string, cols []string, rows [][]any) error {
	return insertChunks(a.ctx, a.tx, "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES ", len(cols), rows, " ON CONFLICT DO NOTHING")
}

// maxParams keeps one statement under both engines' parameter limits.
const maxParams = 8000

func insertChunks(ctx context.Context, tx *db.Tx, head string, ncols int, rows [][]any, tail string) error {
	if len(rows) == 0 {
		return nil
	}
	per := maxParams / ncols
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", ncols), ", ") + ")"
	for start := 0; start < len(rows); start += per {
		end := min(start+per, len(rows))
		var b strings.Builder
		b.WriteString(head)
		args := make([]any, 0, (end-start)*ncols)
		for i := start; i < end; i++ {
			if i > start {
				b.WriteString(", ")
			}
			b.WriteString(tuple)
			args = append(args, rows[i]...)
		}
		b.WriteString(tail)
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func doc(v any) string {
	b, err := json.Marshal(v)
	if err != nil { // trace records always marshal
		panic(err)
	}
	return string(b)
}

// event stores the event itself (EPCIS export reads it back).
func (a *applier) event() error {
	return a.insertIgnore("rm_events", []string{"tx_id", "pos_block", "pos_index", "event_type", "at", "doc"},
		[][]any{{a.ev.TxID, int64(a.pos.Block), a.pos.Index, a.ev.Type, db.FormatTime(a.ev.Timestamp), doc(a.ev)}})
}

// parties records the GLN -> MSP pairs the event shows: its actor, and the
// custodians and shipment parties it names.
func (a *applier) parties() error {
	seen := map[string]bool{}
	var rows [][]any
	add := func(p trace.Party) {
		if p.GLN == "" || p.MSP == "" || seen[p.GLN] {
			return
		}
		seen[p.GLN] = true
		rows = append(rows, []any{p.GLN, p.MSP})
	}
	add(trace.Party{MSP: a.ev.Actor.MSP, GLN: a.ev.Actor.GLN})
	for _, sh := range a.ev.Shipments {
		add(sh.From)
		add(sh.To)
	}
	if c := a.ev.Commissioned; c != nil {
		add(c.Custodian)
	}
	for i := range a.ev.Packs {
		add(a.ev.Packs[i].Custodian)
	}
	return a.insertIgnore("rm_parties", []string{"gln", "msp"}, rows)
}

var productCols = []string{"gtin", "name", "owner_msp", "company_prefix", "created_at", "last_tx", "pos_block", "pos_index", "doc"}

func (a *applier) products() error {
	rows := make([][]any, 0, len(a.ev.Products))
	for _, p := range a.ev.Products {
		rows = append(rows, []any{p.GTIN, p.Name, p.OwnerMSP, p.CompanyPrefix, db.FormatTime(p.CreatedAt), p.LastTx, int64(a.pos.Block), a.pos.Index, doc(p)})
	}
	if err := a.upsert("rm_products", productCols, 1, rows); err != nil {
		return err
	}
	// Anomalies applied before their product (replays in any order) learn
	// its owner now.
	for _, p := range a.ev.Products {
		if _, err := a.tx.ExecContext(a.ctx, `UPDATE rm_anomalies SET product_owner = ?, product_gcp = ? WHERE gtin = ? AND (product_owner <> ? OR product_gcp <> ?)`,
			p.OwnerMSP, p.CompanyPrefix, p.GTIN, p.OwnerMSP, p.CompanyPrefix); err != nil {
			return err
		}
	}
	return nil
}

var lotCols = []string{"gtin", "lot", "expiry", "status", "status_reason", "status_changed_at", "owner_msp", "pack_count", "created_at", "updated_at", "last_tx", "pos_block", "pos_index", "doc"}

func (a *applier) lots() error {
	rows := make([][]any, 0, len(a.ev.Lots))
	for _, l := range a.ev.Lots {
		rows = append(rows, []any{l.GTIN, l.Lot, l.Expiry, string(l.Status), l.StatusReason, db.FormatTime(l.StatusChangedAt), l.OwnerMSP, l.PackCount,
			db.FormatTime(l.CreatedAt), db.FormatTime(l.UpdatedAt), l.LastTx, int64(a.pos.Block), a.pos.Index, doc(l)})
	}
	return a.upsert("rm_lots", lotCols, 2, rows)
}

var packCols = []string{"gtin", "serial", "lot", "expiry", "state", "reason", "custodian_msp", "custodian_gln", "shipment", "sscc",
	"state_changed_at", "last_event", "last_tx", "commissioned_at", "updated_at", "pos_block", "pos_index"}

var packEventCols = []string{"gtin", "serial", "tx_id", "lot", "pos_block", "pos_index", "event_type", "at", "actor_msp", "actor_role", "actor_gln",
	"state", "reason", "custodian_msp", "custodian_gln", "shipment", "outcome", "code"}

func (a *applier) packs() error {
	packs := a.ev.Packs
	if c := a.ev.Commissioned; c != nil {
		packs = append(packs[:len(packs):len(packs)], c.Packs(a.ev.TxID, a.ev.Timestamp)...)
	}
	if len(packs) == 0 {
		return nil
	}
	rows := make([][]any, 0, len(packs))
	events := make([][]any, 0, len(packs))
	at := db.FormatTime(a.ev.Timestamp)
	for i := range packs {
		p := &packs[i]
		shipment := ""
		if p.Transit != nil {
			shipment = p.Transit.Shipment
		}
		rows = append(rows, []any{p.GTIN, p.Serial, p.Lot, p.Expiry, string(p.State), string(p.Reason), p.Custodian.MSP, p.Custodian.GLN, shipment, p.SSCC,
			db.FormatTime(p.StateChangedAt), p.LastEvent, p.LastTx, db.FormatTime(p.CommissionedAt), db.FormatTime(p.UpdatedAt), int64(a.pos.Block), a.pos.Index})
		events = append(events, []any{p.GTIN, p.Serial, a.ev.TxID, p.Lot, int64(a.pos.Block), a.pos.Index, a.ev.Type, at,
			a.ev.Actor.MSP, string(a.ev.Actor.Role), a.ev.Actor.GLN, string(p.State), string(p.Reason), p.Custodian.MSP, p.Custodian.GLN, shipment,
			string(a.ev.Outcome.Status), string(a.ev.Outcome.Code)})
	}
	if err := a.upsert("rm_packs", packCols, 2, rows); err != nil {
		return err
	}
	return a.insertIgnore("rm_pack_events", packEventCols, events)
}

var shipmentCols = []string{"id", "from_msp", "from_gln", "to_msp", "to_gln", "status", "pack_count", "received_count", "diverted", "shipped_at", "updated_at", "last_tx", "pos_block", "pos_index", "doc"}

func (a *applier) shipments() error {
	rows := make([][]any, 0, len(a.ev.Shipments))
	for _, s := range a.ev.Shipments {
		rows = append(rows, []any{s.ID, s.From.MSP, s.From.GLN, s.To.MSP, s.To.GLN, string(s.Status), len(s.Packs), len(s.Received), db.Bool(s.Diverted),
			db.FormatTime(s.ShippedAt), db.FormatTime(s.UpdatedAt), s.LastTx, int64(a.pos.Block), a.pos.Index, doc(s)})
	}
	return a.upsert("rm_shipments", shipmentCols, 1, rows)
}

var aggregationCols = []string{"sscc", "pack_count", "shipment", "updated_at", "pos_block", "pos_index", "doc"}

func (a *applier) aggregations() error {
	rows := make([][]any, 0, len(a.ev.Aggregations))
	for _, g := range a.ev.Aggregations {
		rows = append(rows, []any{g.SSCC, len(g.Packs), g.Shipment, db.FormatTime(g.UpdatedAt), int64(a.pos.Block), a.pos.Index, doc(g)})
	}
	return a.upsert("rm_aggregations", aggregationCols, 1, rows)
}

var anomalyCols = []string{"id", "code", "alert", "severity", "severity_rank", "classification", "status", "close_reason", "gtin", "serial", "lot",
	"shipment", "site", "reported_msp", "reported_role", "reported_gln", "counterpart_msp", "counterpart_gln", "tx_name", "tx_id", "message",
	"created_at", "updated_at", "pos_block", "pos_index", "doc", "product_owner", "product_gcp"}

var transitionCols = []string{"anomaly_id", "seq", "from_status", "to_status", "reason", "comment", "is_comment", "by_msp", "by_role", "by_gln", "at", "tx_id"}

// SeverityRank orders severities (low 1 … critical 4; 0 unknown).
func SeverityRank(s trace.Severity) int {
	for i, x := range trace.Severities {
		if x == s {
			return i + 1
		}
	}
	return 0
}

// productOf returns the owner (MSP) and company prefix of a registered
// product ("" when the read model does not know the GTIN).
func (a *applier) productOf(gtin string) (owner, gcp string, err error) {
	if gtin == "" {
		return "", "", nil
	}
	if p, ok := a.owners[gtin]; ok {
		return p[0], p[1], nil
	}
	err = a.tx.QueryRowContext(a.ctx, `SELECT owner_msp, company_prefix FROM rm_products WHERE gtin = ?`, gtin).Scan(&owner, &gcp)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	if err != nil {
		return "", "", fmt.Errorf("product of %s: %w", gtin, err)
	}
	if a.owners == nil {
		a.owners = map[string][2]string{}
	}
	a.owners[gtin] = [2]string{owner, gcp}
	return owner, gcp, nil
}

func (a *applier) anomalies() error {
	rows := make([][]any, 0, len(a.ev.Anomalies))
	var steps [][]any
	for _, an := range a.ev.Anomalies {
		var gtin, serial, lot string
		if an.Pack != nil {
			gtin, serial = an.Pack.GTIN, an.Pack.Serial
		}
		if an.Lot != nil {
			gtin, lot = an.Lot.GTIN, an.Lot.Lot
		}
		if lot == "" && an.Evidence.Scan != nil && an.Pack != nil && an.Evidence.Scan.GTIN == an.Pack.GTIN {
			lot = an.Evidence.Scan.Lot
		}
		var cp trace.Party
		if an.Evidence.Counterpart != nil {
			cp = *an.Evidence.Counterpart
		}
		owner, gcp, err := a.productOf(gtin)
		if err != nil {
			return err
		}
		if an.ProductOwner != "" { // recorded by the contract (older anomalies: the product's owner)
			owner = an.ProductOwner
		}
		if an.TxID == a.ev.TxID {
			a.created = append(a.created, NewAnomaly{Anomaly: an, ProductOwner: owner, ProductGCP: gcp})
		}
		rows = append(rows, []any{an.ID, string(an.Code), string(an.Alert), string(an.Severity), SeverityRank(an.Severity), string(an.Classification),
			string(an.Status), string(an.CloseReason), gtin, serial, lot, an.Shipment, an.Site, an.ReportedBy.MSP, string(an.ReportedBy.Role), an.ReportedBy.GLN,
			cp.MSP, cp.GLN, an.Transaction, an.TxID, an.Evidence.Message, db.FormatTime(an.CreatedAt), db.FormatTime(an.UpdatedAt),
			int64(a.pos.Block), a.pos.Index, doc(an), owner, gcp})
		for i, t := range an.Transitions {
			steps = append(steps, []any{an.ID, i, string(t.From), string(t.To), string(t.Reason), t.Comment, db.Bool(i > 0 && t.From == t.To),
				t.By.MSP, string(t.By.Role), t.By.GLN, db.FormatTime(t.At), t.TxID})
		}
	}
	if err := a.upsert("rm_anomalies", anomalyCols, 1, rows); err != nil {
		return err
	}
	return a.insertIgnore("rm_anomaly_transitions", transitionCols, steps)
}
