// Package alerts pushes new anomalies to the organisations that must act
// on them — the manufacturer (marketing-authorisation holder) of the
// product above all, who in the EU system receives every alert about its
// packs and must investigate within days — as signed webhooks and as a
// live stream.
//
// # What a subscriber receives
//
// Exactly what it may read (readmodel.Scope): the regulator every new
// anomaly; a manufacturer every anomaly about its own products (by
// company prefix) and those reported at its site; any other member those
// its organisation reported. A subscription belongs to the user who made
// it and keeps that user's scope.
//
// # Webhooks
//
// The read model's consumer calls AnomaliesInTx inside the SQL transaction
// that applies an event: one delivery row per new anomaly per subscription
// that sees it, in the same database and transaction as the read model,
// so a crash can neither lose nor duplicate one (a replay of the ledger
// finds the row already there; a subscription only receives anomalies
// applied after it was created). Run delivers the queue from its own
// goroutines: each delivery is a POST of a JSON Notification whose body is
// signed with the subscription's secret (header X-PharmaTrace-Signature:
// sha256=<hex HMAC-SHA256 of the body>, see Sign and Verify), answered by
// any 2xx, otherwise retried with exponential backoff (1 s doubling to
// 1 h by default) up to MaxAttempts, every attempt logged and listed to
// the subscriber. A subscriber's endpoint holds at most one sender at a
// time, for at most the timeout, so a slow or broken endpoint delays only
// its own deliveries; nothing on the ledger or read-model path ever waits
// for a subscriber. Delivery is at least once (a crash between the POST
// and recording its answer repeats it): receivers de-duplicate on the
// X-PharmaTrace-Delivery header.
//
// # Live stream
//
// Stream hands a live channel of the new anomalies a scope sees (the API
// serves it as Server-Sent Events); a listener too slow to keep up is
// dropped rather than slowing the consumer, and catches up by reconnecting
// with the last event ID.
package alerts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/api/db"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the subscription and delivery tables' schema history.
func Migrations() db.Migrations {
	return db.Migrations{Component: "alerts", FS: migrationFS, Dir: "migrations"}
}

// Checkpointer tells how far the read model has applied the ledger
// (*readmodel.Store).
type Checkpointer interface {
	Checkpoint(ctx context.Context) (readmodel.Position, error)
}

// Config tunes delivery.
type Config struct {
	// FirstRetry is the wait after the first failed attempt, doubling up
	// to MaxRetry; MaxAttempts attempts in all, then the delivery fails.
	FirstRetry  time.Duration
	MaxRetry    time.Duration
	MaxAttempts int
	// Timeout bounds one POST (connect, send, answer).
	Timeout time.Duration
	// Senders is how many deliveries run at once (one per subscription).
	Senders int
	// AllowHTTP accepts http:// endpoints on other hosts than loopback
	// (https:// is required otherwise).
	AllowHTTP bool
	// MaxSubscriptions caps the subscriptions of one user.
	MaxSubscriptions int
	// Poll is the longest the sender sleeps between looks at the queue.
	Poll time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{FirstRetry: time.Second, MaxRetry: time.Hour, MaxAttempts: 20, Timeout: 10 * time.Second, Senders: 8, MaxSubscriptions: 10, Poll: time.Second}
}

// Option configures a Service.
type Option func(*Service)

// WithConfig sets the delivery configuration.
func WithConfig(c Config) Option { return func(s *Service) { s.cfg = c } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClient sets the HTTP client of deliveries (its redirects are never
// followed).
func WithClient(c *http.Client) Option { return func(s *Service) { s.client = c } }

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// Service keeps subscriptions, queues and delivers webhooks, and feeds the
// live streams. It implements readmodel.Hook.
type Service struct {
	db     *db.DB
	cp     Checkpointer
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	client *http.Client
	broker broker
	wake   chan struct{}

	mu       sync.Mutex
	inflight map[string]bool // subscription IDs with a delivery being sent
}

// New returns the service over d (call Migrate first); cp is the read
// model whose position new subscriptions start from.
func New(d *db.DB, cp Checkpointer, opts ...Option) *Service {
	s := &Service{db: d, cp: cp, cfg: DefaultConfig(), log: slog.Default(), now: time.Now, wake: make(chan struct{}, 1),
		inflight: map[string]bool{}, broker: broker{listeners: map[int]*listener{}}}
	for _, o := range opts {
		o(s)
	}
	def := DefaultConfig()
	if s.cfg.FirstRetry <= 0 {
		s.cfg.FirstRetry = def.FirstRetry
	}
	if s.cfg.MaxRetry < s.cfg.FirstRetry {
		s.cfg.MaxRetry = s.cfg.FirstRetry
	}
	if s.cfg.MaxAttempts < 1 {
		s.cfg.MaxAttempts = def.MaxAttempts
	}
	if s.cfg.Timeout <= 0 {
		s.cfg.Timeout = def.Timeout
	}
	if s.cfg.Senders < 1 {
		s.cfg.Senders = def.Senders
	}
	if s.cfg.MaxSubscriptions < 1 {
		s.cfg.MaxSubscriptions = def.MaxSubscriptions
	}
	if s.cfg.Poll <= 0 {
		s.cfg.Poll = def.Poll
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	c := *s.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s.client = &c
	return s
}

// Migrate creates or upgrades the tables.
func (s *Service) Migrate(ctx context.Context) error {
	_, err := s.db.Migrate(ctx, Migrations())
	return err
}

// Subscriber is who subscribes: the user, and what their scope depends on.
type Subscriber struct {
	Owner string // "<org>/<user>"
	MSP   string
	Role  trace.Role
	GLN   string
	GCPs  string // comma-separated company prefixes (manufacturers)
}

// Scope is what the subscriber may see.
func (w Subscriber) Scope() *readmodel.Scope { return readmodel.ScopeOf(w.MSP, w.Role, w.GLN, w.GCPs) }

// describe says in words what a scope covers.
func describe(sc *readmodel.Scope) string {
	if sc == nil {
		return "every new anomaly"
	}
	what := "new anomalies reported by " + sc.MSP
	if sc.Site != "" {
		what += " at " + sc.Site
	}
	if len(sc.GCPs) > 0 {
		what += ", and about products of " + sc.MSP + " under company prefix " + strings.Join(sc.GCPs, ", ")
	}
	return what
}

// Subscription is a webhook endpoint.
type Subscription struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	Owner       string `json:"owner"`
	MSP         string `json:"msp"`
	// Scope says which new anomalies are delivered.
	Scope string `json:"scope"`
	// Secret signs the deliveries; shown once, when the subscription is
	// created.
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	Pending   int       `json:"pending"`
	Delivered int       `json:"delivered"`
	Failed    int       `json:"failed"`
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// EventAnomalyCreated is the event of a delivery.
const EventAnomalyCreated = "anomaly.created"

// Notification is the JSON body of a delivery.
type Notification struct {
	ID           string        `json:"id"` // the delivery's ID (X-PharmaTrace-Delivery)
	Event        string        `json:"event"`
	Subscription string        `json:"subscription"`
	CreatedAt    time.Time     `json:"createdAt"`
	Anomaly      trace.Anomaly `json:"anomaly"`
}

// Attempt is one POST of a delivery.
type Attempt struct {
	N          int       `json:"n"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"statusCode,omitempty"` // the endpoint's answer (none: no answer)
	Error      string    `json:"error,omitempty"`
	DurationMs int64     `json:"durationMs"`
}

// Delivery is one anomaly queued for one subscription, with its attempts.
type Delivery struct {
	ID          string    `json:"id"`
	AnomalyID   string    `json:"anomalyId"`
	Event       string    `json:"event"`
	Status      string    `json:"status"`
	Attempts    int       `json:"attempts"`
	NextAt      time.Time `json:"nextAttemptAt,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	DeliveredAt time.Time `json:"deliveredAt,omitzero"`
	History     []Attempt `json:"history"`
}

// ErrNoSubscription: no subscription with that ID for the user.
var ErrNoSubscription = fmt.Errorf("%w: no such subscription", trace.ErrNotFound)

func randomID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// checkURL accepts an absolute https URL, or http to a loopback address
// (or anywhere with AllowHTTP); no credentials, no fragment.
func (s *Service) checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return trace.Invalid("url", "%q is not an absolute http(s) URL", raw)
	}
	if len(raw) > 2048 {
		return trace.Invalid("url", "is longer than 2048 bytes")
	}
	if u.User != nil || u.Fragment != "" {
		return trace.Invalid("url", "must not carry credentials or a fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		host := u.Hostname()
		ip := net.ParseIP(host)
		if !s.cfg.AllowHTTP && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return trace.Invalid("url", "http:// is only accepted for loopback addresses; use https://")
		}
	default:
		return trace.Invalid("url", "scheme %q is not http or https", u.Scheme)
	}
	return nil
}

// Subscribe creates a webhook subscription for w; the answer carries the
// signing secret, which is never shown again.
func (s *Service) Subscribe(ctx context.Context, w Subscriber, endpoint, description string) (Subscription, error) {
	if err := s.checkURL(endpoint); err != nil {
		return Subscription{}, err
	}
	if len(description) > 256 {
		return Subscription{}, trace.Invalid("description", "is longer than 256 bytes")
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_alert_subscriptions WHERE owner = ? AND deleted = 0`, w.Owner).Scan(&n); err != nil {
		return Subscription{}, fmt.Errorf("alerts: count subscriptions: %w", err)
	}
	if n >= s.cfg.MaxSubscriptions {
		return Subscription{}, trace.Conflict("%s has %d subscriptions already, the limit; delete one first", w.Owner, n)
	}
	from := readmodel.Position{}
	if s.cp != nil {
		var err error
		if from, err = s.cp.Checkpoint(ctx); err != nil {
			return Subscription{}, err
		}
	}
	fromIndex := from.Index
	if from.IsZero() {
		fromIndex = -1
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	sub := Subscription{ID: randomID("sub-", 12), URL: endpoint, Description: description, Owner: w.Owner, MSP: w.MSP, Scope: describe(w.Scope()),
		Secret: "whsec_" + base64.RawURLEncoding.EncodeToString(secret), CreatedAt: s.now().UTC()}
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_alert_subscriptions (id, owner, msp, role, gln, gcps, url, description, secret, from_block, from_index, deleted, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`, sub.ID, w.Owner, w.MSP, string(w.Role), w.GLN, w.GCPs, endpoint, description, sub.Secret,
		int64(from.Block), fromIndex, db.FormatTime(sub.CreatedAt))
	if err != nil {
		return Subscription{}, fmt.Errorf("alerts: create subscription: %w", err)
	}
	s.log.Info("alerts: subscription created", "subscription", sub.ID, "owner", w.Owner, "msp", w.MSP)
	return sub, nil
}

const subCols = `s.id, s.url, s.description, s.owner, s.msp, s.role, s.gln, s.gcps, s.created_at,
	(SELECT COUNT(*) FROM api_alert_deliveries d WHERE d.subscription_id = s.id AND d.status = 'pending'),
	(SELECT COUNT(*) FROM api_alert_deliveries d WHERE d.subscription_id = s.id AND d.status = 'delivered'),
	(SELECT COUNT(*) FROM api_alert_deliveries d WHERE d.subscription_id = s.id AND d.status = 'failed')`

func scanSub(sc interface{ Scan(...any) error }) (Subscription, error) {
	var sub Subscription
	var w Subscriber
	var role, created string
	if err := sc.Scan(&sub.ID, &sub.URL, &sub.Description, &sub.Owner, &sub.MSP, &role, &w.GLN, &w.GCPs, &created, &sub.Pending, &sub.Delivered, &sub.Failed); err != nil {
		return sub, err
	}
	w.MSP, w.Role = sub.MSP, trace.Role(role)
	sub.Scope = describe(w.Scope())
	var err error
	sub.CreatedAt, err = db.ParseTime(created)
	return sub, err
}

// Subscriptions lists an owner's subscriptions, oldest first.
func (s *Service) Subscriptions(ctx context.Context, owner string) ([]Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+subCols+` FROM api_alert_subscriptions s WHERE s.owner = ? AND s.deleted = 0 ORDER BY s.created_at, s.id`, owner)
	if err != nil {
		return nil, fmt.Errorf("alerts: list subscriptions: %w", err)
	}
	defer rows.Close()
	out := []Subscription{}
	for rows.Next() {
		sub, err := scanSub(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}

// Subscription returns one of an owner's subscriptions.
func (s *Service) Subscription(ctx context.Context, owner, id string) (Subscription, error) {
	sub, err := scanSub(s.db.QueryRowContext(ctx, `SELECT `+subCols+` FROM api_alert_subscriptions s WHERE s.id = ? AND s.owner = ? AND s.deleted = 0`, id, owner))
	if errors.Is(err, sql.ErrNoRows) {
		return Subscription{}, fmt.Errorf("%w: %s", ErrNoSubscription, id)
	}
	return sub, err
}

// Unsubscribe deletes a subscription: nothing more is queued or sent for
// it (its delivery log stays in the database).
func (s *Service) Unsubscribe(ctx context.Context, owner, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE api_alert_subscriptions SET deleted = 1 WHERE id = ? AND owner = ? AND deleted = 0`, id, owner)
	if err != nil {
		return fmt.Errorf("alerts: delete subscription: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrNoSubscription, id)
	}
	s.log.Info("alerts: subscription deleted", "subscription", id, "owner", owner)
	return nil
}

// Deliveries returns a subscription's newest deliveries (at most limit)
// with their attempts.
func (s *Service) Deliveries(ctx context.Context, owner, id, status string, limit int) ([]Delivery, error) {
	if _, err := s.Subscription(ctx, owner, id); err != nil {
		return nil, err
	}
	q := `SELECT id, anomaly_id, event, status, attempts, next_at, last_error, created_at, delivered_at FROM api_alert_deliveries WHERE subscription_id = ?`
	args := []any{id}
	if status != "" {
		q += ` AND status = ?`
		args = append(args, status)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("alerts: deliveries: %w", err)
	}
	out := []Delivery{}
	index := map[string]int{}
	for rows.Next() {
		var d Delivery
		var next, created, delivered string
		if err := rows.Scan(&d.ID, &d.AnomalyID, &d.Event, &d.Status, &d.Attempts, &next, &d.LastError, &created, &delivered); err != nil {
			rows.Close()
			return nil, err
		}
		if d.Status == DeliveryPending {
			d.NextAt, _ = db.ParseTime(next)
		}
		d.CreatedAt, _ = db.ParseTime(created)
		d.DeliveredAt, _ = db.ParseTime(delivered)
		d.History = []Attempt{}
		index[d.ID] = len(out)
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]any, 0, len(out))
	for _, d := range out {
		ids = append(ids, d.ID)
	}
	arows, err := s.db.QueryContext(ctx, `SELECT delivery_id, n, at, status_code, error, duration_ms FROM api_alert_attempts
		WHERE delivery_id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+`) ORDER BY delivery_id, n`, ids...)
	if err != nil {
		return nil, fmt.Errorf("alerts: attempts: %w", err)
	}
	defer arows.Close()
	for arows.Next() {
		var did, at string
		var a Attempt
		if err := arows.Scan(&did, &a.N, &at, &a.StatusCode, &a.Error, &a.DurationMs); err != nil {
			return nil, err
		}
		i, ok := index[did]
		if !ok {
			continue
		}
		a.At, _ = db.ParseTime(at)
		out[i].History = append(out[i].History, a)
	}
	return out, arows.Err()
}

// AnomaliesInTx queues a delivery of each new anomaly to every
// subscription that sees it and was created before the event was applied
// (readmodel.Hook; runs inside the read model's transaction).
func (s *Service) AnomaliesInTx(ctx context.Context, tx *db.Tx, pos readmodel.Position, created []readmodel.NewAnomaly) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, msp, role, gln, gcps, from_block, from_index FROM api_alert_subscriptions WHERE deleted = 0`)
	if err != nil {
		return fmt.Errorf("alerts: subscriptions: %w", err)
	}
	type target struct {
		id    string
		scope *readmodel.Scope
	}
	var targets []target
	for rows.Next() {
		var id, role string
		var w Subscriber
		var fb int64
		var fi int
		if err := rows.Scan(&id, &w.MSP, &role, &w.GLN, &w.GCPs, &fb, &fi); err != nil {
			rows.Close()
			return err
		}
		if int64(pos.Block) < fb || (int64(pos.Block) == fb && pos.Index <= fi) {
			continue // applied before the subscription existed
		}
		w.Role = trace.Role(role)
		targets = append(targets, target{id, w.Scope()})
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(targets) == 0 {
		return err
	}
	now := s.now().UTC()
	for _, t := range targets {
		for i := range created {
			n := &created[i]
			if !n.VisibleTo(t.scope) {
				continue
			}
			id := randomID("dl-", 12)
			body, err := json.Marshal(Notification{ID: id, Event: EventAnomalyCreated, Subscription: t.id, CreatedAt: now, Anomaly: n.Anomaly})
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO api_alert_deliveries (id, subscription_id, anomaly_id, event, body, status, attempts, next_at, last_status, last_error, created_at, delivered_at)
				VALUES (?, ?, ?, ?, ?, ?, 0, ?, 0, '', ?, '') ON CONFLICT (subscription_id, anomaly_id) DO NOTHING`,
				id, t.id, n.Anomaly.ID, EventAnomalyCreated, string(body), DeliveryPending, db.FormatTime(now), db.FormatTime(now)); err != nil {
				return fmt.Errorf("alerts: queue %s for %s: %w", n.Anomaly.ID, t.id, err)
			}
		}
	}
	return nil
}

// AnomaliesCommitted feeds the live streams and wakes the sender
// (readmodel.Hook; never blocks).
func (s *Service) AnomaliesCommitted(_ readmodel.Position, created []readmodel.NewAnomaly) {
	s.broker.publish(created)
	s.poke()
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// SignatureHeader carries a delivery's signature: "sha256=" and the hex
// HMAC-SHA256 of the raw body with the subscription's secret.
const SignatureHeader = "X-PharmaTrace-Signature"

// Sign returns the SignatureHeader value of body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a SignatureHeader value against body (what a receiver
// does), in constant time.
func Verify(secret string, body []byte, signature string) bool {
	return subtle.ConstantTimeCompare([]byte(Sign(secret, body)), []byte(signature)) == 1
}
