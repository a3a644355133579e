package readmodel

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pharmatrace/pharmatrace/api/db"
	"github.com/pharmatrace/pharmatrace/trace"
)

// ErrNotFound is returned by lookups of a record the read model does not
// hold (it wraps trace.ErrNotFound).
var ErrNotFound = fmt.Errorf("%w: not in the read model", trace.ErrNotFound)

// AnomalyFilter selects anomalies; empty fields match everything and the
// values of one list are alternatives.
type AnomalyFilter struct {
	Codes           []trace.AnomalyCode
	Severities      []trace.Severity
	Classifications []trace.Classification
	Statuses        []trace.AnomalyStatus
	GTIN            string
	Lot             string
	Serial          string
	// GLN matches the site where the anomaly was detected, the reporter's
	// site or the counterpart's site.
	GLN string
	// Org matches the reporting organisation or the counterpart (MSP ID).
	Org string
	// ReportedBy restricts the list to anomalies reported by one MSP.
	ReportedBy string
	// Scope restricts the list to what a non-regulator caller may see (nil:
	// everything, the regulator's view).
	Scope *Scope
	// From and To bound the creation time: From <= createdAt < To.
	From, To time.Time
}

// Validate checks the filter's values, naming the offending field.
func (f *AnomalyFilter) Validate() error {
	for _, c := range f.Codes {
		if !oneOf(c, trace.AnomalyCodes) {
			return trace.Invalid("type", "%q is not an anomaly type", c)
		}
	}
	for _, s := range f.Severities {
		if !oneOf(s, trace.Severities) {
			return trace.Invalid("severity", "%q is not low, medium, high or critical", s)
		}
	}
	for _, c := range f.Classifications {
		if !oneOf(c, trace.Classifications) {
			return trace.Invalid("classification", "%q is not a classification", c)
		}
	}
	for _, s := range f.Statuses {
		if !oneOf(s, trace.AnomalyStatuses) {
			return trace.Invalid("status", "%q is not new, investigating, escalated or closed", s)
		}
	}
	if f.GTIN != "" {
		if err := trace.CheckGTIN(f.GTIN); err != nil {
			return trace.Invalid("gtin", "%s", err)
		}
	}
	if f.Lot != "" {
		if err := trace.CheckLot(f.Lot); err != nil {
			return trace.Invalid("lot", "%s", err)
		}
	}
	if f.Serial != "" {
		if err := trace.CheckSerial(f.Serial); err != nil {
			return trace.Invalid("serial", "%s", err)
		}
	}
	if f.GLN != "" {
		if err := trace.CheckGLN(f.GLN); err != nil {
			return trace.Invalid("gln", "%s", err)
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return trace.Invalid("to", "must be after from")
	}
	return nil
}

// Scope is what a non-regulator caller may see of the anomalies: those its
// organisation (MSP) reported; for a manufacturer — the
// marketing-authorisation holder, who must see every alert about its own
// products whoever raised it, and never another manufacturer's — those
// about products its organisation owns under one of its company prefixes,
// and those reported at its own site (several manufacturers may share an
// MSP; prefixes and sites tell them apart).
type Scope struct {
	MSP string
	// Site, when set, narrows "reported by the organisation" to reported
	// at this GLN (manufacturers).
	Site string
	GCPs []string
}

// ScopeOf returns the scope of a caller: nil (everything) for the
// regulator; gcps is a manufacturer's comma-separated company prefixes.
func ScopeOf(msp string, role trace.Role, gln, gcps string) *Scope {
	if role == trace.RoleRegulator {
		return nil
	}
	sc := &Scope{MSP: msp}
	if role == trace.RoleManufacturer {
		sc.Site = gln
		for _, g := range strings.Split(gcps, ",") {
			if g = strings.TrimSpace(g); g != "" {
				sc.GCPs = append(sc.GCPs, g)
			}
		}
	}
	return sc
}

// Sees reports whether the scope covers an anomaly reported by reporter
// about a product of owner under prefix gcp (nil scope: everything).
func (sc *Scope) Sees(reporter trace.Actor, owner, gcp string) bool {
	if sc == nil {
		return true
	}
	if reporter.MSP == sc.MSP && (sc.Site == "" || reporter.GLN == sc.Site) {
		return true
	}
	return owner == sc.MSP && gcp != "" && oneOf(gcp, sc.GCPs)
}

// where renders the scope as an SQL condition.
func (sc *Scope) where() (string, []any) {
	cond, args := "reported_msp = ?", []any{sc.MSP}
	if sc.Site != "" {
		cond, args = "(reported_msp = ? AND reported_gln = ?)", append(args, sc.Site)
	}
	if len(sc.GCPs) == 0 {
		return cond, args
	}
	args = append(args, sc.MSP)
	for _, g := range sc.GCPs {
		args = append(args, g)
	}
	return "(" + cond + " OR (product_owner = ? AND product_gcp IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(sc.GCPs)), ", ") + ")))", args
}

func oneOf[T comparable](v T, list []T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// SortField is a column anomalies can be sorted by.
type SortField string

// Sort fields.
const (
	SortCreated  SortField = "createdAt"
	SortUpdated  SortField = "updatedAt"
	SortSeverity SortField = "severity"
)

// SortFields lists the sort fields.
var SortFields = []SortField{SortCreated, SortUpdated, SortSeverity}

// Sort is a sort order: a field, descending or not; the anomaly ID breaks
// ties (same direction), so the order is total and pages are stable.
type Sort struct {
	Field SortField
	Desc  bool
}

// ParseSort parses "createdAt", "-severity", … ("" is -createdAt, newest first).
func ParseSort(s string) (Sort, error) {
	if s == "" {
		return Sort{Field: SortCreated, Desc: true}, nil
	}
	var o Sort
	if strings.HasPrefix(s, "-") {
		o.Desc, s = true, s[1:]
	}
	o.Field = SortField(s)
	if !oneOf(o.Field, SortFields) {
		return Sort{}, trace.Invalid("sort", "%q is not createdAt, updatedAt or severity (prefix - for descending)", s)
	}
	return o, nil
}

func (o Sort) String() string {
	if o.Desc {
		return "-" + string(o.Field)
	}
	return string(o.Field)
}

func (o Sort) column() string {
	switch o.Field {
	case SortUpdated:
		return "updated_at"
	case SortSeverity:
		return "severity_rank"
	}
	return "created_at"
}

// Page asks for one page: at most Limit items after Cursor (from a previous
// page's NextCursor; "" for the first page).
type Page struct {
	Limit  int
	Cursor string
}

// Page limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// cursor is the keyset position after the last row of a page.
type cursor struct {
	Sort string `json:"s"`
	Str  string `json:"v,omitempty"`
	Num  int64  `json:"n,omitempty"`
	ID   string `json:"id"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, o Sort) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID == "" {
		return c, trace.Invalid("cursor", "is not a cursor returned by this API")
	}
	if c.Sort != o.String() {
		return c, trace.Invalid("cursor", "was returned for sort %q, not %q", c.Sort, o.String())
	}
	return c, nil
}

// AnomalyPage is one page of anomalies; NextCursor is empty on the last page.
type AnomalyPage struct {
	Anomalies  []trace.Anomaly
	NextCursor string
}

// where renders the filter as SQL conditions and arguments.
func (f *AnomalyFilter) where() (string, []any) {
	var conds []string
	var args []any
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		conds = append(conds, col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	in("code", strs(f.Codes))
	in("severity", strs(f.Severities))
	in("classification", strs(f.Classifications))
	in("status", strs(f.Statuses))
	eq := func(col, v string) {
		if v != "" {
			conds = append(conds, col+" = ?")
			args = append(args, v)
		}
	}
	eq("gtin", f.GTIN)
	eq("lot", f.Lot)
	eq("serial", f.Serial)
	eq("reported_msp", f.ReportedBy)
	if f.Scope != nil {
		c, a := f.Scope.where()
		conds = append(conds, c)
		args = append(args, a...)
	}
	if f.GLN != "" {
		conds = append(conds, "(site = ? OR reported_gln = ? OR counterpart_gln = ?)")
		args = append(args, f.GLN, f.GLN, f.GLN)
	}
	if f.Org != "" {
		conds = append(conds, "(reported_msp = ? OR counterpart_msp = ?)")
		args = append(args, f.Org, f.Org)
	}
	if !f.From.IsZero() {
		conds = append(conds, "created_at >= ?")
		args = append(args, db.FormatTime(f.From))
	}
	if !f.To.IsZero() {
		conds = append(conds, "created_at < ?")
		args = append(args, db.FormatTime(f.To))
	}
	if len(conds) == 0 {
		return "1 = 1", nil
	}
	return strings.Join(conds, " AND "), args
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// ListAnomalies returns one page of the anomalies matching f in order o.
// Pages are keyset-paginated: an anomaly inserted or updated while a client
// pages never makes another one appear twice or be skipped, except that a
// row whose sort value itself changed moves.
func (s *Store) ListAnomalies(ctx context.Context, f AnomalyFilter, o Sort, p Page) (AnomalyPage, error) {
	if err := f.Validate(); err != nil {
		return AnomalyPage{}, err
	}
	if p.Limit == 0 {
		p.Limit = DefaultLimit
	}
	if p.Limit < 1 || p.Limit > MaxLimit {
		return AnomalyPage{}, trace.Invalid("limit", "%d is not between 1 and %d", p.Limit, MaxLimit)
	}
	where, args := f.where()
	col := o.column()
	cmp, dir := ">", "ASC"
	if o.Desc {
		cmp, dir = "<", "DESC"
	}
	if p.Cursor != "" {
		c, err := decodeCursor(p.Cursor, o)
		if err != nil {
			return AnomalyPage{}, err
		}
		var v any = c.Str
		if o.Field == SortSeverity {
			v = c.Num
		}
		where += fmt.Sprintf(" AND (%[1]s %[2]s ? OR (%[1]s = ? AND id %[2]s ?))", col, cmp)
		args = append(args, v, v, c.ID)
	}
	q := fmt.Sprintf("SELECT doc, %s, id FROM rm_anomalies WHERE %s ORDER BY %s %s, id %s LIMIT ?", col, where, col, dir, dir)
	args = append(args, p.Limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return AnomalyPage{}, fmt.Errorf("readmodel: list anomalies: %w", err)
	}
	defer rows.Close()
	var out AnomalyPage
	out.Anomalies = []trace.Anomaly{}
	var last cursor
	for rows.Next() {
		var d, id string
		var key any
		if o.Field == SortSeverity {
			var n int64
			key = &n
		} else {
			var str string
			key = &str
		}
		if err := rows.Scan(&d, key, &id); err != nil {
			return AnomalyPage{}, fmt.Errorf("readmodel: list anomalies: %w", err)
		}
		if len(out.Anomalies) == p.Limit {
			out.NextCursor = encodeCursor(last)
			break
		}
		var a trace.Anomaly
		if err := json.Unmarshal([]byte(d), &a); err != nil {
			return AnomalyPage{}, fmt.Errorf("readmodel: anomaly %s: %w", id, err)
		}
		out.Anomalies = append(out.Anomalies, a)
		last = cursor{Sort: o.String(), ID: id}
		switch k := key.(type) {
		case *int64:
			last.Num = *k
		case *string:
			last.Str = *k
		}
	}
	return out, rows.Err()
}

// GetAnomaly returns one anomaly with its evidence and workflow history.
func (s *Store) GetAnomaly(ctx context.Context, id string) (trace.Anomaly, error) {
	var d string
	err := s.db.QueryRowContext(ctx, `SELECT doc FROM rm_anomalies WHERE id = ?`, id).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return trace.Anomaly{}, fmt.Errorf("%w: anomaly %s", ErrNotFound, id)
	}
	if err != nil {
		return trace.Anomaly{}, fmt.Errorf("readmodel: get anomaly %s: %w", id, err)
	}
	var a trace.Anomaly
	if err := json.Unmarshal([]byte(d), &a); err != nil {
		return trace.Anomaly{}, fmt.Errorf("readmodel: anomaly %s: %w", id, err)
	}
	return a, nil
}

// GetAnomalyIn returns one anomaly if scope sees it, ErrNotFound otherwise
// (nil scope: like GetAnomaly).
func (s *Store) GetAnomalyIn(ctx context.Context, id string, scope *Scope) (trace.Anomaly, error) {
	var d, owner, gcp string
	var reporter trace.Actor
	err := s.db.QueryRowContext(ctx, `SELECT doc, reported_msp, reported_gln, product_owner, product_gcp FROM rm_anomalies WHERE id = ?`, id).
		Scan(&d, &reporter.MSP, &reporter.GLN, &owner, &gcp)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !scope.Sees(reporter, owner, gcp)) {
		return trace.Anomaly{}, fmt.Errorf("%w: anomaly %s", ErrNotFound, id)
	}
	if err != nil {
		return trace.Anomaly{}, fmt.Errorf("readmodel: get anomaly %s: %w", id, err)
	}
	var a trace.Anomaly
	if err := json.Unmarshal([]byte(d), &a); err != nil {
		return trace.Anomaly{}, fmt.Errorf("readmodel: anomaly %s: %w", id, err)
	}
	return a, nil
}

// GetLot returns a lot.
func (s *Store) GetLot(ctx context.Context, gtin, lot string) (trace.Lot, error) {
	var d string
	err := s.db.QueryRowContext(ctx, `SELECT doc FROM rm_lots WHERE gtin = ? AND lot = ?`, gtin, lot).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return trace.Lot{}, fmt.Errorf("%w: lot %s/%s", ErrNotFound, gtin, lot)
	}
	if err != nil {
		return trace.Lot{}, fmt.Errorf("readmodel: get lot: %w", err)
	}
	var l trace.Lot
	err = json.Unmarshal([]byte(d), &l)
	return l, err
}

// PackEvent is one step of a pack's chain of custody: a committed change.
type PackEvent struct {
	TxID      string          `json:"txId"`
	Block     uint64          `json:"block"`
	Index     int             `json:"index"`
	Event     string          `json:"event"`
	At        time.Time       `json:"at"`
	Actor     trace.Actor     `json:"actor"`
	Lot       string          `json:"lot"`
	State     trace.PackState `json:"state"`
	Reason    trace.Reason    `json:"reason,omitempty"`
	Custodian trace.Party     `json:"custodian"`
	Shipment  string          `json:"shipment,omitempty"`
	Outcome   string          `json:"outcome"`
	Code      trace.Code      `json:"code,omitempty"`
}

// PackTimeline returns a pack's changes, oldest first (at most limit; 0 = 500).
func (s *Store) PackTimeline(ctx context.Context, gtin, serial string, limit int) ([]PackEvent, error) {
	if limit <= 0 {
		limit = 500
	}
	rows, err := s.db.QueryContext(ctx, `SELECT tx_id, pos_block, pos_index, event_type, at, actor_msp, actor_role, actor_gln, lot, state, reason,
		custodian_msp, custodian_gln, shipment, outcome, code FROM rm_pack_events WHERE gtin = ? AND serial = ?
		ORDER BY pos_block, pos_index LIMIT ?`, gtin, serial, limit)
	if err != nil {
		return nil, fmt.Errorf("readmodel: pack timeline: %w", err)
	}
	defer rows.Close()
	out := []PackEvent{}
	for rows.Next() {
		var e PackEvent
		var block int64
		var at, role, state, reason, code string
		if err := rows.Scan(&e.TxID, &block, &e.Index, &e.Event, &at, &e.Actor.MSP, &role, &e.Actor.GLN, &e.Lot, &state, &reason,
			&e.Custodian.MSP, &e.Custodian.GLN, &e.Shipment, &e.Outcome, &code); err != nil {
			return nil, fmt.Errorf("readmodel: pack timeline: %w", err)
		}
		e.Block = uint64(block)
		e.Actor.Role, e.State, e.Reason, e.Code = trace.Role(role), trace.PackState(state), trace.Reason(reason), trace.Code(code)
		if e.At, err = db.ParseTime(at); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DayCount is the number of anomalies of one type created on one UTC day.
type DayCount struct {
	Day   string            `json:"day"` // YYYY-MM-DD
	Code  trace.AnomalyCode `json:"type"`
	Count int               `json:"count"`
}

// AnomaliesPerDay counts the anomalies matching f per creation day (UTC)
// and type, by day then type.
func (s *Store) AnomaliesPerDay(ctx context.Context, f AnomalyFilter) ([]DayCount, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	where, args := f.where()
	rows, err := s.db.QueryContext(ctx, `SELECT substr(created_at, 1, 10) AS day, code, COUNT(*) FROM rm_anomalies WHERE `+where+
		` GROUP BY substr(created_at, 1, 10), code ORDER BY day, code`, args...)
	if err != nil {
		return nil, fmt.Errorf("readmodel: anomalies per day: %w", err)
	}
	defer rows.Close()
	out := []DayCount{}
	for rows.Next() {
		var d DayCount
		var code string
		if err := rows.Scan(&d.Day, &code, &d.Count); err != nil {
			return nil, fmt.Errorf("readmodel: anomalies per day: %w", err)
		}
		d.Code = trace.AnomalyCode(code)
		out = append(out, d)
	}
	return out, rows.Err()
}

// StatusCount is the number of anomalies of one type in one status.
type StatusCount struct {
	Code   trace.AnomalyCode   `json:"type"`
	Status trace.AnomalyStatus `json:"status"`
	Count  int                 `json:"count"`
}

// AnomalyCounts counts every anomaly by type and status.
func (s *Store) AnomalyCounts(ctx context.Context) ([]StatusCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT code, status, COUNT(*) FROM rm_anomalies GROUP BY code, status ORDER BY code, status`)
	if err != nil {
		return nil, fmt.Errorf("readmodel: anomaly counts: %w", err)
	}
	defer rows.Close()
	out := []StatusCount{}
	for rows.Next() {
		var c StatusCount
		var code, status string
		if err := rows.Scan(&code, &status, &c.Count); err != nil {
			return nil, err
		}
		c.Code, c.Status = trace.AnomalyCode(code), trace.AnomalyStatus(status)
		out = append(out, c)
	}
	return out, rows.Err()
}

// StateCount is the number of packs in one state (and inactive reason).
type StateCount struct {
	State  trace.PackState `json:"state"`
	Reason trace.Reason    `json:"reason,omitempty"`
	Count  int             `json:"count"`
}

// PacksByState counts packs by state and reason, optionally for one GTIN.
func (s *Store) PacksByState(ctx context.Context, gtin string) ([]StateCount, error) {
	q := `SELECT state, reason, COUNT(*) FROM rm_packs`
	var args []any
	if gtin != "" {
		q += ` WHERE gtin = ?`
		args = append(args, gtin)
	}
	rows, err := s.db.QueryContext(ctx, q+` GROUP BY state, reason ORDER BY state, reason`, args...)
	if err != nil {
		return nil, fmt.Errorf("readmodel: packs by state: %w", err)
	}
	defer rows.Close()
	out := []StateCount{}
	for rows.Next() {
		var c StateCount
		var st, r string
		if err := rows.Scan(&st, &r, &c.Count); err != nil {
			return nil, err
		}
		c.State, c.Reason = trace.PackState(st), trace.Reason(r)
		out = append(out, c)
	}
	return out, rows.Err()
}

// LotRisk is a lot that needs the regulator's attention: recalled,
// withdrawn or quarantined while packs are still active or in transit
// (or moved after the status change), or with open high/critical anomalies.
type LotRisk struct {
	GTIN            string          `json:"gtin"`
	Lot             string          `json:"lot"`
	Expiry          string          `json:"expiry"`
	Status          trace.LotStatus `json:"status"`
	StatusChangedAt time.Time       `json:"statusChangedAt"`
	OwnerMSP        string          `json:"ownerMsp"`
	ActivePacks     int             `json:"activePacks"`
	InTransitPacks  int             `json:"inTransitPacks"`
	// MovesAfterStatus counts pack changes (ship, receive, dispense, …)
	// committed after a recall, withdrawal or quarantine.
	MovesAfterStatus int `json:"movesAfterStatus"`
	OpenAnomalies    int `json:"openAnomalies"`
	SevereAnomalies  int `json:"severeAnomalies"`
}

// LotsAtRisk lists the lots at risk, most severe first (at most limit; 0 = 100).
func (s *Store) LotsAtRisk(ctx context.Context, limit int) ([]LotRisk, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT l.gtin, l.lot, l.expiry, l.status, l.status_changed_at, l.owner_msp,
		(SELECT COUNT(*) FROM rm_packs p WHERE p.gtin = l.gtin AND p.lot = l.lot AND p.state = 'active') AS active,
		(SELECT COUNT(*) FROM rm_packs p WHERE p.gtin = l.gtin AND p.lot = l.lot AND p.state = 'in_transit') AS in_transit,
		(SELECT COUNT(*) FROM rm_pack_events e WHERE e.gtin = l.gtin AND e.lot = l.lot AND l.status <> 'released' AND e.at > l.status_changed_at) AS moves,
		(SELECT COUNT(*) FROM rm_anomalies a WHERE a.gtin = l.gtin AND a.lot = l.lot AND a.status <> 'closed') AS open_anomalies,
		(SELECT COUNT(*) FROM rm_anomalies a WHERE a.gtin = l.gtin AND a.lot = l.lot AND a.status <> 'closed' AND a.severity_rank >= 3) AS severe
		FROM rm_lots l
		WHERE (l.status <> 'released' AND EXISTS (SELECT 1 FROM rm_packs p WHERE p.gtin = l.gtin AND p.lot = l.lot AND p.state IN ('active', 'in_transit')))
		   OR (l.status <> 'released' AND EXISTS (SELECT 1 FROM rm_pack_events e WHERE e.gtin = l.gtin AND e.lot = l.lot AND e.at > l.status_changed_at))
		   OR EXISTS (SELECT 1 FROM rm_anomalies a WHERE a.gtin = l.gtin AND a.lot = l.lot AND a.status <> 'closed' AND a.severity_rank >= 3)
		ORDER BY CASE l.status WHEN 'recalled' THEN 0 WHEN 'withdrawn' THEN 1 WHEN 'quarantined' THEN 2 ELSE 3 END, l.gtin, l.lot
		LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("readmodel: lots at risk: %w", err)
	}
	defer rows.Close()
	out := []LotRisk{}
	for rows.Next() {
		var r LotRisk
		var st, changed string
		if err := rows.Scan(&r.GTIN, &r.Lot, &r.Expiry, &st, &changed, &r.OwnerMSP, &r.ActivePacks, &r.InTransitPacks, &r.MovesAfterStatus,
			&r.OpenAnomalies, &r.SevereAnomalies); err != nil {
			return nil, fmt.Errorf("readmodel: lots at risk: %w", err)
		}
		r.Status = trace.LotStatus(st)
		if r.StatusChangedAt, err = db.ParseTime(changed); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
