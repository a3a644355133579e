// Package bulk runs a list of pack operations — verify, dispense or
// decommission — as one API request: a wholesaler's case decommissioned
// at once, a prescription of several packs dispensed at the till, a
// delivery verified on arrival. Each pack gets its own outcome (ok,
// refused with the EU code, rejected, failed); one pack's refusal never
// stops the others.
//
// # Ledger calls
//
// The contract takes one pack per Verify, Dispense and Decommission, so
// the fewest ledger calls a list allows is one per valid pack: packs whose
// scan is malformed or repeats an earlier pack of the list are rejected
// before any call. The remaining calls run concurrently on a bounded
// worker pool shared by every running request (WithWorkers), so a list of
// 10,000 packs costs about 10,000 / workers ledger round trips and never
// more than the pool's share of the peers.
//
// # Idempotency
//
// A bulk request has a client-chosen ID (scoped per organisation, like
// ledger request IDs). Every pack's ledger request ID is derived from it
// and from the pack (RequestID), so that sending the same request again —
// after a timeout or a crash of the API — applies
// nothing twice: packs with a final outcome are answered from this
// package's tables without a ledger call, packs still pending or failed
// are sent again under the same request IDs, and the contract answers a
// request ID it has committed with the original outcome. The same ID with
// another list (or the same list in another order) is a conflict.
//
// # Durability
//
// The request and its packs are recorded (one SQL transaction) before the
// first ledger call; outcomes are written back in batches as they arrive.
// An API killed mid-request leaves packs pending; the request is marked
// interrupted at the next start and resumed by sending it again.
package bulk

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/api/db"
	"github.com/pharmatrace/pharmatrace/trace"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the bulk tables' schema history.
func Migrations() db.Migrations {
	return db.Migrations{Component: "bulk", FS: migrationFS, Dir: "migrations"}
}

// Ledger is the caller's ledger (the API's per-user Ledger).
type Ledger interface {
	Submit(ctx context.Context, fn string, req trace.WriteRequest, result any) error
	Evaluate(ctx context.Context, fn string, req trace.Request, result any) error
}

// Op is a bulk operation.
type Op string

// Operations.
const (
	OpVerify       Op = "verify"
	OpDispense     Op = "dispense"
	OpDecommission Op = "decommission"
)

// Ops lists the operations.
var Ops = []Op{OpVerify, OpDispense, OpDecommission}

// Status of a request or of one pack.
type Status string

// Statuses. A request is running while packs are pending; completed when
// every pack has its final outcome; failed when some pack could not reach
// the ledger (send the same request again to retry those packs);
// interrupted when the API stopped while it ran (send it again to resume).
// A pack is pending, ok, refused (the ledger's rules: the code says why;
// for a write the refusal is committed), rejected (invalid or not allowed:
// sending it again cannot help) or failed (the ledger was unreachable or
// the outcome unknown: sending the request again retries it under the same
// request ID).
const (
	JobRunning     Status = "running"
	JobCompleted   Status = "completed"
	JobFailed      Status = "failed"
	JobInterrupted Status = "interrupted"
	ItemPending    Status = "pending"
	ItemOK         Status = "ok"
	ItemRefused    Status = "refused"
	ItemRejected   Status = "rejected"
	ItemFailed     Status = "failed"
)

// Statuses lists every status (job and pack).
var Statuses = []Status{JobRunning, JobCompleted, JobFailed, JobInterrupted, ItemPending, ItemOK, ItemRefused, ItemRejected, ItemFailed}

// Pack is one pack of a request as the API parsed it: its scan, or why it
// is rejected before any ledger call (Problem, about request field Field).
type Pack struct {
	Scan    trace.Scan
	Field   string
	Problem string
}

// Spec names a bulk request.
type Spec struct {
	ID     string // client-chosen: 1-40 of [A-Za-z0-9._-]
	MSP    string // the caller's organisation (IDs are scoped per MSP)
	By     string // "<org>/<user>", for the record
	Op     Op
	Reason trace.Reason // decommission only
	// Report records a failed verification's findings on the ledger
	// (ReportScan, as the single verify routes do: every failed
	// verification raises an alert); set for callers holding scan.report.
	Report bool
}

// Validate checks the spec, naming the offending field.
func (s Spec) Validate() error {
	if s.ID == "" || len(s.ID) > 40 {
		return trace.Invalid("requestId", "must be 1-40 characters")
	}
	for i := 0; i < len(s.ID); i++ {
		c := s.ID[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return trace.Invalid("requestId", "%q may only contain letters, digits and . _ -", s.ID)
		}
	}
	switch s.Op {
	case OpVerify, OpDispense:
		if s.Reason != "" {
			return trace.Invalid("reason", "only a bulk decommission takes a reason")
		}
	case OpDecommission:
		ok := false
		for _, r := range trace.DecommissionReasons {
			ok = ok || r == s.Reason
		}
		if !ok {
			return trace.Invalid("reason", "%q is not one of destroyed, stolen, exported, sample, free_sample, locked, checked_out", s.Reason)
		}
	default:
		return trace.Invalid("operation", "%q is not verify, dispense or decommission", s.Op)
	}
	if s.MSP == "" {
		return errors.New("bulk: spec: MSP: empty")
	}
	return nil
}

// RequestID is the ledger request ID of one pack of bulk request bulkID:
// "bk-<bulkID>-" and 16 hex digits of a hash of the operation and the pack
// (at most 60 characters), unique within the request since a pack may
// appear only once in it.
func RequestID(bulkID string, op Op, gtin, serial string) string {
	h := sha256.Sum256([]byte(string(op) + "\x00" + gtin + "\x00" + serial))
	return "bk-" + bulkID + "-" + hex.EncodeToString(h[:8])
}

// Item is one pack's outcome.
type Item struct {
	Index     int             `json:"index"` // position in the request's list (from 0)
	GTIN      string          `json:"gtin,omitempty"`
	Serial    string          `json:"serial,omitempty"`
	RequestID string          `json:"requestId,omitempty"` // ledger request ID (writes)
	Status    Status          `json:"status"`
	Code      trace.Code      `json:"code,omitempty"`
	Message   string          `json:"message,omitempty"`
	Field     string          `json:"field,omitempty"` // offending request field of a rejected pack, e.g. packs[3].scan
	TxID      string          `json:"txId,omitempty"`
	Anomalies []string        `json:"anomalies,omitempty"`
	State     trace.PackState `json:"state,omitempty"` // the pack's state after the operation
	Reason    trace.Reason    `json:"reason,omitempty"`
}

// Counts sums a request's packs by status.
type Counts struct {
	Pending  int `json:"pending"`
	OK       int `json:"ok"`
	Refused  int `json:"refused"`
	Rejected int `json:"rejected"`
	Failed   int `json:"failed"`
}

// Job is a bulk request with its progress and every pack's outcome.
type Job struct {
	ID        string       `json:"requestId"`
	Op        Op           `json:"operation"`
	Reason    trace.Reason `json:"reason,omitempty"`
	MSP       string       `json:"msp"`
	CreatedBy string       `json:"createdBy"`
	Status    Status       `json:"status"`
	Total     int          `json:"total"`
	Done      int          `json:"done"` // packs with a final outcome
	Counts    Counts       `json:"counts"`
	CreatedAt time.Time    `json:"createdAt"`
	UpdatedAt time.Time    `json:"updatedAt"`
	Items     []Item       `json:"items"`
}

// Manager runs bulk requests and keeps their progress.
type Manager struct {
	db          *db.DB
	log         *slog.Logger
	now         func() time.Time
	workers     int
	itemTimeout time.Duration
	flushEvery  int
	sem         chan struct{}

	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	jobs   map[string]chan struct{} // msp~id → closed when the run ends
}

// Option configures a Manager.
type Option func(*Manager)

// WithWorkers sets how many ledger calls all running requests make at
// once (default 32).
func WithWorkers(n int) Option { return func(m *Manager) { m.workers = n } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(m *Manager) { m.log = l } }

// WithItemTimeout bounds one pack's ledger call (default 2 minutes).
func WithItemTimeout(d time.Duration) Option { return func(m *Manager) { m.itemTimeout = d } }

// NewManager returns a manager over d (call Migrate first).
func NewManager(d *db.DB, opts ...Option) *Manager {
	m := &Manager{db: d, log: slog.Default(), now: time.Now, workers: 32, itemTimeout: 2 * time.Minute, flushEvery: 200, jobs: map[string]chan struct{}{}}
	for _, o := range opts {
		o(m)
	}
	if m.workers < 1 {
		m.workers = 1
	}
	m.sem = make(chan struct{}, m.workers)
	m.base, m.cancel = context.WithCancel(context.Background())
	return m
}

// Migrate creates the tables and marks requests left running by a previous
// process as interrupted.
func (m *Manager) Migrate(ctx context.Context) error {
	if _, err := m.db.Migrate(ctx, Migrations()); err != nil {
		return err
	}
	m.mu.Lock()
	running := len(m.jobs)
	m.mu.Unlock()
	if running > 0 {
		return nil
	}
	_, err := m.db.ExecContext(ctx, `UPDATE api_bulk_jobs SET status = ?, updated_at = ? WHERE status = ?`,
		string(JobInterrupted), db.FormatTime(m.now()), string(JobRunning))
	return err
}

// Close stops running requests (their pending packs stay pending, the
// requests end interrupted) and waits for them.
func (m *Manager) Close() {
	m.cancel()
	m.wg.Wait()
}

func hashRequest(spec Spec, packs []Pack) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\n", spec.Op, spec.Reason)
	for _, p := range packs {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s\n", p.Scan.GTIN, p.Scan.Serial, p.Scan.Lot, p.Scan.Expiry,
			strings.Join(p.Scan.Warnings, ","), p.Field, p.Problem)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Start records a bulk request — or finds it again when the same request
// was sent before — and runs its pending and failed packs in the
// background with led. It returns the request as recorded and a channel
// closed when the run ends (already closed when nothing is left to do).
// The same request sent while it runs returns its progress and the
// running run's channel.
func (m *Manager) Start(ctx context.Context, led Ledger, spec Spec, packs []Pack) (Job, <-chan struct{}, error) {
	if err := spec.Validate(); err != nil {
		return Job{}, nil, err
	}
	if len(packs) == 0 {
		return Job{}, nil, trace.Invalid("packs", "is empty")
	}
	sum := hashRequest(spec, packs)
	key := spec.MSP + "~" + spec.ID
	m.mu.Lock()
	if done, busy := m.jobs[key]; busy {
		m.mu.Unlock()
		if err := m.same(ctx, spec, sum); err != nil {
			return Job{}, nil, err
		}
		j, err := m.Get(ctx, spec.MSP, spec.ID)
		return j, done, err
	}
	done := make(chan struct{})
	m.jobs[key] = done
	m.mu.Unlock()
	release := func() {
		m.mu.Lock()
		delete(m.jobs, key)
		m.mu.Unlock()
		close(done)
	}
	pending, err := m.record(ctx, spec, sum, packs)
	if err != nil {
		release()
		return Job{}, nil, err
	}
	if len(pending) == 0 {
		err := m.finish(spec.MSP, spec.ID, false)
		release()
		if err != nil {
			return Job{}, nil, err
		}
		j, err := m.Get(ctx, spec.MSP, spec.ID)
		return j, done, err
	}
	j, err := m.Get(ctx, spec.MSP, spec.ID)
	if err != nil {
		release()
		return Job{}, nil, err
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer release()
		m.run(led, spec, pending)
	}()
	return j, done, nil
}

// same checks that a request ID names the same request.
func (m *Manager) same(ctx context.Context, spec Spec, sum string) error {
	var prev string
	err := m.db.QueryRowContext(ctx, `SELECT sha256 FROM api_bulk_jobs WHERE msp = ? AND id = ?`, spec.MSP, spec.ID).Scan(&prev)
	if err != nil {
		return fmt.Errorf("bulk: request %s: %w", spec.ID, err)
	}
	if prev != sum {
		return conflict(spec.ID, prev)
	}
	return nil
}

func conflict(id, prev string) error {
	return trace.Conflict("bulk request %s was sent before with another operation, reason or pack list (sha256 %s); send the same request again or use a new request ID", id, prev)
}

// task is one pack to send to the ledger.
type task struct {
	idx       int
	scan      trace.Scan
	requestID string
}

// record creates the request and its packs, or checks that a request sent
// again is the same; it returns the packs to run (pending or failed) and
// marks the request running when there are any.
func (m *Manager) record(ctx context.Context, spec Spec, sum string, packs []Pack) ([]task, error) {
	now := db.FormatTime(m.now())
	var out []task
	err := m.db.InTx(ctx, func(tx *db.Tx) error {
		out = nil
		var prev string
		err := tx.QueryRowContext(ctx, `SELECT sha256 FROM api_bulk_jobs WHERE msp = ? AND id = ?`, spec.MSP, spec.ID).Scan(&prev)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, `INSERT INTO api_bulk_jobs (msp, id, op, reason, sha256, total, status, created_by, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, spec.MSP, spec.ID, string(spec.Op), string(spec.Reason), sum, len(packs), string(JobRunning), spec.By, now, now); err != nil {
				return err
			}
			rows := make([][]any, 0, len(packs))
			for i, p := range packs {
				st, rid := ItemPending, ""
				if p.Problem != "" {
					st = ItemRejected
				} else if spec.Op != OpVerify || spec.Report {
					rid = RequestID(spec.ID, spec.Op, p.Scan.GTIN, p.Scan.Serial)
				}
				rows = append(rows, []any{spec.MSP, spec.ID, i, p.Scan.GTIN, p.Scan.Serial, p.Scan.Lot, p.Scan.Expiry, strings.Join(p.Scan.Warnings, ","),
					rid, string(st), "", p.Problem, p.Field, "", "", "", "", now})
				if st == ItemPending {
					out = append(out, task{idx: i, scan: p.Scan, requestID: rid})
				}
			}
			return insertChunks(ctx, tx, `INSERT INTO api_bulk_items (msp, job_id, idx, gtin, serial, lot, expiry, warnings, request_id, status, code, message, field,
				tx_id, anomalies, state, reason, updated_at) VALUES `, 18, rows)
		case err != nil:
			return err
		}
		if prev != sum {
			return conflict(spec.ID, prev)
		}
		rows, err := tx.QueryContext(ctx, `SELECT idx, gtin, serial, lot, expiry, warnings, request_id FROM api_bulk_items
			WHERE msp = ? AND job_id = ? AND status IN (?, ?) ORDER BY idx`, spec.MSP, spec.ID, string(ItemPending), string(ItemFailed))
		if err != nil {
			return err
		}
		for rows.Next() {
			var t task
			var ws string
			if err := rows.Scan(&t.idx, &t.scan.GTIN, &t.scan.Serial, &t.scan.Lot, &t.scan.Expiry, &ws, &t.requestID); err != nil {
				rows.Close()
				return err
			}
			if ws != "" {
				t.scan.Warnings = strings.Split(ws, ",")
			}
			out = append(out, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_bulk_jobs SET status = ?, updated_at = ? WHERE msp = ? AND id = ?`, string(JobRunning), now, spec.MSP, spec.ID)
		return err
	})
	if errors.Is(err, trace.ErrConflict) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("bulk: record request %s: %w", spec.ID, err)
	}
	return out, nil
}

// maxParams keeps one statement under both engines' parameter limits.
const maxParams = 8000

func insertChunks(ctx context.Context, tx *db.Tx, head string, ncols int, rows [][]any) error {
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
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// run sends the tasks to the ledger on the worker pool and writes the
// outcomes back in batches.
func (m *Manager) run(led Ledger, spec Spec, tasks []task) {
	ctx := m.base
	log := m.log.With("bulk", spec.ID, "operation", spec.Op, "msp", spec.MSP)
	start := m.now()
	log.Info("bulk: running", "packs", len(tasks))
	feed := make(chan task)
	results := make(chan Item, 64)
	var wg sync.WaitGroup
	for range min(m.workers, len(tasks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range feed {
				select {
				case m.sem <- struct{}{}:
				case <-ctx.Done():
					continue
				}
				it, ok := m.apply(ctx, led, spec, t)
				<-m.sem
				if ok {
					results <- it
				}
			}
		}()
	}
	go func() {
		defer close(feed)
		for _, t := range tasks {
			select {
			case feed <- t:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	batch := make([]Item, 0, m.flushEvery)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	failed, written := false, 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := m.save(spec, batch); err != nil {
			log.Error("bulk: cannot record outcomes", "err", err, "packs", len(batch))
		} else {
			written += len(batch)
		}
		batch = batch[:0]
	}
	for open := true; open; {
		select {
		case it, ok := <-results:
			if !ok {
				open = false
				break
			}
			failed = failed || it.Status == ItemFailed
			batch = append(batch, it)
			if len(batch) >= m.flushEvery {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
	flush()
	interrupted := ctx.Err() != nil || written < len(tasks)
	if err := m.finish(spec.MSP, spec.ID, interrupted); err != nil {
		log.Error("bulk: cannot record the end of the request", "err", err)
		return
	}
	log.Info("bulk: done", "packs", len(tasks), "failed", failed, "interrupted", interrupted, "seconds", m.now().Sub(start).Seconds())
}

// apply runs one pack's ledger call; false when the manager is closing
// (the pack stays pending).
func (m *Manager) apply(ctx context.Context, led Ledger, spec Spec, t task) (Item, bool) {
	it := Item{Index: t.idx, GTIN: t.scan.GTIN, Serial: t.scan.Serial, RequestID: t.requestID}
	cctx, cancel := context.WithTimeout(ctx, m.itemTimeout)
	defer cancel()
	var (
		out  *trace.Outcome
		pack *trace.PackStatus
		err  error
	)
	switch spec.Op {
	case OpVerify:
		var res trace.VerifyResult
		err = led.Evaluate(cctx, trace.TxVerify, &trace.VerifyRequest{Scan: t.scan}, &res)
		out, pack = &res.Outcome, res.Pack
		if err == nil && spec.Report && res.Alert() {
			// The alert is recorded before the verdict counts as final: if
			// it cannot be, the pack fails and is verified and reported again
			// (same request ID) when the request is sent again.
			var rep trace.ScanResult
			if rerr := led.Submit(cctx, trace.TxReportScan, &trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: t.requestID}, Scan: t.scan}, &rep); rerr != nil {
				err = fmt.Errorf("verdict %s, but its alert could not be recorded: %w", res.Code, rerr)
			} else {
				res.TxID, res.Anomalies = rep.TxID, rep.Anomalies
			}
		}
	case OpDispense:
		var res trace.ScanResult
		err = led.Submit(cctx, trace.TxDispense, &trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: t.requestID}, Scan: t.scan}, &res)
		out, pack = &res.Outcome, res.Pack
	case OpDecommission:
		var res trace.ScanResult
		err = led.Submit(cctx, trace.TxDecommission, &trace.DecommissionRequest{RequestHeader: trace.RequestHeader{RequestID: t.requestID}, Scan: t.scan,
			Reason: spec.Reason}, &res)
		out, pack = &res.Outcome, res.Pack
	}
	if err != nil {
		if ctx.Err() != nil {
			return it, false
		}
		it.Message = err.Error()
		if trace.ClassifyError(err) != nil {
			it.Status = ItemRejected
		} else {
			it.Status = ItemFailed
			m.log.Warn("bulk: pack failed", "bulk", spec.ID, "gtin", t.scan.GTIN, "serial", t.scan.Serial, "request_id", t.requestID, "err", err)
		}
		return it, true
	}
	it.Status = ItemOK
	if !out.OK() {
		it.Status = ItemRefused
	}
	it.Code, it.Message, it.TxID, it.Anomalies = out.Code, out.Message, out.TxID, out.Anomalies
	if pack != nil {
		it.State, it.Reason = pack.State, pack.Reason
	}
	return it, true
}

// save writes a batch of outcomes in one transaction.
func (m *Manager) save(spec Spec, items []Item) error {
	ctx := context.Background()
	now := db.FormatTime(m.now())
	return m.db.InTx(ctx, func(tx *db.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE api_bulk_items SET status = ?, code = ?, message = ?, tx_id = ?, anomalies = ?, state = ?, reason = ?, updated_at = ?
			WHERE msp = ? AND job_id = ? AND idx = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, it := range items {
			an := ""
			if len(it.Anomalies) > 0 {
				b, _ := json.Marshal(it.Anomalies)
				an = string(b)
			}
			if _, err := st.ExecContext(ctx, string(it.Status), string(it.Code), it.Message, it.TxID, an, string(it.State), string(it.Reason), now,
				spec.MSP, spec.ID, it.Index); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_bulk_jobs SET updated_at = ? WHERE msp = ? AND id = ?`, now, spec.MSP, spec.ID)
		return err
	})
}

// finish sets the request's final status from its packs.
func (m *Manager) finish(msp, id string, interrupted bool) error {
	ctx := context.Background()
	var pending, failed int
	if err := m.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0)
		FROM api_bulk_items WHERE msp = ? AND job_id = ?`, string(ItemPending), string(ItemFailed), msp, id).Scan(&pending, &failed); err != nil {
		return fmt.Errorf("bulk: count outcomes of %s: %w", id, err)
	}
	st := JobCompleted
	switch {
	case interrupted || pending > 0:
		st = JobInterrupted
	case failed > 0:
		st = JobFailed
	}
	_, err := m.db.ExecContext(ctx, `UPDATE api_bulk_jobs SET status = ?, updated_at = ? WHERE msp = ? AND id = ? AND status <> ?`,
		string(st), db.FormatTime(m.now()), msp, id, string(st))
	return err
}

// ErrNoJob: no bulk request with that ID for the organisation.
var ErrNoJob = fmt.Errorf("%w: no such bulk request", trace.ErrNotFound)

// Get returns a request's progress and every pack's outcome so far.
func (m *Manager) Get(ctx context.Context, msp, id string) (Job, error) {
	var j Job
	var op, reason, status, created, updated string
	err := m.db.QueryRowContext(ctx, `SELECT msp, id, op, reason, total, status, created_by, created_at, updated_at FROM api_bulk_jobs WHERE msp = ? AND id = ?`,
		msp, id).Scan(&j.MSP, &j.ID, &op, &reason, &j.Total, &status, &j.CreatedBy, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, fmt.Errorf("%w: %s", ErrNoJob, id)
	}
	if err != nil {
		return Job{}, fmt.Errorf("bulk: get %s: %w", id, err)
	}
	j.Op, j.Reason, j.Status = Op(op), trace.Reason(reason), Status(status)
	if j.CreatedAt, err = db.ParseTime(created); err != nil {
		return Job{}, err
	}
	if j.UpdatedAt, err = db.ParseTime(updated); err != nil {
		return Job{}, err
	}
	rows, err := m.db.QueryContext(ctx, `SELECT idx, gtin, serial, request_id, status, code, message, field, tx_id, anomalies, state, reason
		FROM api_bulk_items WHERE msp = ? AND job_id = ? ORDER BY idx`, msp, id)
	if err != nil {
		return Job{}, fmt.Errorf("bulk: items of %s: %w", id, err)
	}
	defer rows.Close()
	j.Items = make([]Item, 0, j.Total)
	for rows.Next() {
		var it Item
		var st, code, an, state, reason string
		if err := rows.Scan(&it.Index, &it.GTIN, &it.Serial, &it.RequestID, &st, &code, &it.Message, &it.Field, &it.TxID, &an, &state, &reason); err != nil {
			return Job{}, err
		}
		it.Status, it.Code, it.State, it.Reason = Status(st), trace.Code(code), trace.PackState(state), trace.Reason(reason)
		if an != "" {
			_ = json.Unmarshal([]byte(an), &it.Anomalies)
		}
		switch it.Status {
		case ItemPending:
			j.Counts.Pending++
		case ItemOK:
			j.Counts.OK++
		case ItemRefused:
			j.Counts.Refused++
		case ItemRejected:
			j.Counts.Rejected++
		case ItemFailed:
			j.Counts.Failed++
		}
		j.Items = append(j.Items, it)
	}
	j.Done = j.Total - j.Counts.Pending
	return j, rows.Err()
}
