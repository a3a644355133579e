package commission

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/api/db"
	"github.com/pharmatrace/pharmatrace/trace"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the upload tables' schema history.
func Migrations() db.Migrations {
	return db.Migrations{Component: "commission", FS: migrationFS, Dir: "migrations"}
}

// Submitter submits one write transaction with the uploader's identity
// (the API's per-user Ledger).
type Submitter interface {
	Submit(ctx context.Context, fn string, req trace.WriteRequest, result any) error
}

// Status of an upload or a batch.
type Status string

// Statuses. An upload is running while its batches are submitted,
// completed when every batch is confirmed, refused when the ledger refused
// a batch (a committed business outcome, e.g. LOT_RECALLED), failed when a
// batch failed (error; resume by uploading again), interrupted when the
// API stopped while it ran (resume by uploading again).
const (
	StatusRunning     Status = "running"
	StatusCompleted   Status = "completed"
	StatusRefused     Status = "refused"
	StatusFailed      Status = "failed"
	StatusInterrupted Status = "interrupted"
	BatchPending      Status = "pending"
	BatchConfirmed    Status = "confirmed"
)

// Batch is one CommissionPacks transaction of an upload.
type Batch struct {
	Index     int        `json:"index"`
	RequestID string     `json:"requestId"`
	FirstRow  int        `json:"firstRow"` // 1-based position of its first serial in the upload
	Serials   int        `json:"serials"`
	Status    Status     `json:"status"`
	TxID      string     `json:"txId,omitempty"`
	Code      trace.Code `json:"code,omitempty"`
	Message   string     `json:"message,omitempty"`
}

// Upload is the progress of one upload.
type Upload struct {
	ID           string     `json:"uploadId"`
	MSP          string     `json:"msp"`
	GTIN         string     `json:"gtin"`
	Lot          string     `json:"lot"`
	Expiry       string     `json:"expiry"`
	SHA256       string     `json:"sha256"`
	Total        int        `json:"total"`
	BatchSize    int        `json:"batchSize"`
	BatchCount   int        `json:"batchCount"`
	Confirmed    int        `json:"confirmedBatches"`
	Commissioned int        `json:"commissioned"`
	Status       Status     `json:"status"`
	Code         trace.Code `json:"code,omitempty"`
	Error        string     `json:"error,omitempty"`
	CreatedBy    string     `json:"createdBy"`
	CreatedAt    time.Time  `json:"createdAt"`
	UpdatedAt    time.Time  `json:"updatedAt"`
	Batches      []Batch    `json:"batches"`
}

// Spec names what an upload commissions.
type Spec struct {
	ID     string // client-chosen upload ID: 1-40 of [A-Za-z0-9._-]
	MSP    string // uploader's organisation (uploads are scoped per MSP, like request IDs)
	By     string // "<org>/<user>", for the record
	GTIN   string
	Lot    string
	Expiry string
}

// Validate checks the spec, naming the offending field.
func (s Spec) Validate() error {
	if s.ID == "" || len(s.ID) > 40 {
		return trace.Invalid("uploadId", "must be 1-40 characters")
	}
	for i := 0; i < len(s.ID); i++ {
		c := s.ID[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return trace.Invalid("uploadId", "%q may only contain letters, digits and . _ -", s.ID)
		}
	}
	if err := trace.CheckGTIN(s.GTIN); err != nil {
		return trace.Invalid("gtin", "%s", err)
	}
	if err := trace.CheckLot(s.Lot); err != nil {
		return trace.Invalid("lot", "%s", err)
	}
	if err := trace.CheckExpiry(s.Expiry); err != nil {
		return trace.Invalid("expiry", "%s", err)
	}
	if s.MSP == "" {
		return errors.New("commission: spec: MSP: empty")
	}
	return nil
}

// RequestID is the request ID of batch index of an upload.
func RequestID(uploadID string, index int) string { return fmt.Sprintf("cm-%s-%05d", uploadID, index) }

// Manager starts uploads and keeps their progress.
type Manager struct {
	db        *db.DB
	log       *slog.Logger
	batchSize int
	now       func() time.Time

	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	jobs   map[string]chan struct{} // msp~id → closed when the job ends
}

// Option configures a Manager.
type Option func(*Manager)

// WithBatchSize sets the serials per transaction (default and maximum
// trace.DefaultMaxCommission = 5,000).
func WithBatchSize(n int) Option { return func(m *Manager) { m.batchSize = n } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(m *Manager) { m.log = l } }

// NewManager returns a manager over d (call Migrate first).
func NewManager(d *db.DB, opts ...Option) *Manager {
	m := &Manager{db: d, log: slog.Default(), batchSize: trace.DefaultMaxCommission, now: time.Now, jobs: map[string]chan struct{}{}}
	for _, o := range opts {
		o(m)
	}
	if m.batchSize <= 0 || m.batchSize > trace.DefaultMaxCommission {
		m.batchSize = trace.DefaultMaxCommission
	}
	m.base, m.cancel = context.WithCancel(context.Background())
	return m
}

// Migrate creates the upload tables and marks uploads left running by a
// previous process as interrupted.
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
	_, err := m.db.ExecContext(ctx, `UPDATE api_commission_uploads SET status = ?, updated_at = ? WHERE status = ?`,
		string(StatusInterrupted), db.FormatTime(m.now()), string(StatusRunning))
	return err
}

// Close stops running uploads (they end as interrupted) and waits for them.
func (m *Manager) Close() {
	m.cancel()
	m.wg.Wait()
}

// ErrBusy: the upload is running already.
var ErrBusy = fmt.Errorf("%w: the upload is still running", trace.ErrConflict)

func hashSerials(serials []string) string {
	h := sha256.New()
	for _, s := range serials {
		h.Write([]byte(s))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Start records (or resumes) an upload of validated serials and submits its
// batches in the background with led. It returns the upload as recorded
// and a channel closed when the submission ends (already closed when there
// is nothing to do).
func (m *Manager) Start(ctx context.Context, led Submitter, spec Spec, serials []string) (Upload, <-chan struct{}, error) {
	if err := spec.Validate(); err != nil {
		return Upload{}, nil, err
	}
	if len(serials) == 0 {
		return Upload{}, nil, trace.Invalid("serials", "is empty")
	}
	key := spec.MSP + "~" + spec.ID
	m.mu.Lock()
	if _, busy := m.jobs[key]; busy {
		m.mu.Unlock()
		return Upload{}, nil, ErrBusy
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
	sum := hashSerials(serials)
	up, err := m.record(ctx, spec, sum, len(serials))
	if err != nil {
		release()
		return Upload{}, nil, err
	}
	if up.Status == StatusCompleted {
		release()
		return up, done, nil
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer release()
		m.run(led, up, serials)
	}()
	return up, done, nil
}

// record creates the upload and its batches, or checks that a resumed one
// is the same, and marks it running.
func (m *Manager) record(ctx context.Context, spec Spec, sum string, total int) (Upload, error) {
	now := db.FormatTime(m.now())
	err := m.db.InTx(ctx, func(tx *db.Tx) error {
		var gtin, lot, expiry, prev, status string
		var size int
		err := tx.QueryRowContext(ctx, `SELECT gtin, lot, expiry, sha256, status, batch_size FROM api_commission_uploads WHERE msp = ? AND id = ?`,
			spec.MSP, spec.ID).Scan(&gtin, &lot, &expiry, &prev, &status, &size)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			batches := (total + m.batchSize - 1) / m.batchSize
			if _, err := tx.ExecContext(ctx, `INSERT INTO api_commission_uploads (msp, id, gtin, lot, expiry, sha256, total, batch_size, batches, status, code, error, created_by, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', ?, ?, ?)`, spec.MSP, spec.ID, spec.GTIN, spec.Lot, spec.Expiry, sum, total, m.batchSize, batches,
				string(StatusRunning), spec.By, now, now); err != nil {
				return err
			}
			rows := make([][]any, 0, batches)
			for i := 0; i < batches; i++ {
				n := min(m.batchSize, total-i*m.batchSize)
				rows = append(rows, []any{spec.MSP, spec.ID, i, RequestID(spec.ID, i), i*m.batchSize + 1, n, string(BatchPending), now})
			}
			for _, r := range rows {
				if _, err := tx.ExecContext(ctx, `INSERT INTO api_commission_batches (msp, upload_id, idx, request_id, first_row, serials, status, tx_id, code, message, updated_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, '', '', '', ?)`, r...); err != nil {
					return err
				}
			}
			return nil
		case err != nil:
			return err
		}
		if gtin != spec.GTIN || lot != spec.Lot || expiry != spec.Expiry || prev != sum {
			return trace.Conflict("upload %s was started with another GTIN, lot, expiry or serial list (sha256 %s); resume it with the same list or use a new upload ID", spec.ID, prev)
		}
		if Status(status) == StatusCompleted {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_commission_uploads SET status = ?, code = '', error = '', updated_at = ? WHERE msp = ? AND id = ?`,
			string(StatusRunning), now, spec.MSP, spec.ID)
		return err
	})
	if err != nil {
		return Upload{}, fmt.Errorf("commission: record upload %s: %w", spec.ID, err)
	}
	return m.Get(ctx, spec.MSP, spec.ID)
}

func (m *Manager) run(led Submitter, up Upload, serials []string) {
	ctx := m.base
	log := m.log.With("upload", up.ID, "gtin", up.GTIN, "lot", up.Lot)
	log.Info("commission: submitting", "serials", up.Total, "batches", up.BatchCount, "confirmed", up.Confirmed)
	for _, b := range up.Batches {
		if b.Status == BatchConfirmed {
			continue
		}
		start := b.FirstRow - 1
		req := &trace.CommissionPacksRequest{RequestHeader: trace.RequestHeader{RequestID: b.RequestID}, GTIN: up.GTIN, Lot: up.Lot,
			Expiry: up.Expiry, Serials: serials[start : start+b.Serials]}
		var res trace.CommissionPacksResult
		err := led.Submit(ctx, trace.TxCommissionPacks, req, &res)
		switch {
		case err != nil && ctx.Err() != nil:
			m.finish(up, b, StatusInterrupted, "", "", "the API stopped; upload the same list again to resume")
			return
		case err != nil:
			log.Warn("commission: batch failed", "batch", b.Index, "request_id", b.RequestID, "err", err)
			m.finish(up, b, StatusFailed, "", "", fmt.Sprintf("batch %d (rows %d-%d): %v", b.Index, b.FirstRow, b.FirstRow+b.Serials-1, err))
			return
		case !res.OK():
			log.Warn("commission: batch refused", "batch", b.Index, "request_id", b.RequestID, "code", res.Code, "tx_id", res.TxID)
			m.finish(up, b, StatusRefused, res.TxID, res.Code, fmt.Sprintf("batch %d refused: %s", b.Index, res.Message))
			return
		}
		if err := m.confirm(up, b, res.TxID); err != nil {
			log.Error("commission: cannot record progress", "batch", b.Index, "err", err)
			return
		}
		log.Debug("commission: batch confirmed", "batch", b.Index, "tx_id", res.TxID)
	}
	if _, err := m.db.ExecContext(context.Background(), `UPDATE api_commission_uploads SET status = ?, updated_at = ? WHERE msp = ? AND id = ?`,
		string(StatusCompleted), db.FormatTime(m.now()), up.MSP, up.ID); err != nil {
		log.Error("commission: cannot record completion", "err", err)
		return
	}
	log.Info("commission: completed", "serials", up.Total)
}

func (m *Manager) confirm(up Upload, b Batch, txID string) error {
	_, err := m.db.ExecContext(context.Background(), `UPDATE api_commission_batches SET status = ?, tx_id = ?, code = '', message = '', updated_at = ? WHERE msp = ? AND upload_id = ? AND idx = ?`,
		string(BatchConfirmed), txID, db.FormatTime(m.now()), up.MSP, up.ID, b.Index)
	return err
}

func (m *Manager) finish(up Upload, b Batch, st Status, txID string, code trace.Code, msg string) {
	now := db.FormatTime(m.now())
	err := m.db.InTx(context.Background(), func(tx *db.Tx) error {
		if _, err := tx.ExecContext(context.Background(), `UPDATE api_commission_batches SET status = ?, tx_id = ?, code = ?, message = ?, updated_at = ? WHERE msp = ? AND upload_id = ? AND idx = ?`,
			string(st), txID, string(code), msg, now, up.MSP, up.ID, b.Index); err != nil {
			return err
		}
		_, err := tx.ExecContext(context.Background(), `UPDATE api_commission_uploads SET status = ?, code = ?, error = ?, updated_at = ? WHERE msp = ? AND id = ?`,
			string(st), string(code), msg, now, up.MSP, up.ID)
		return err
	})
	if err != nil {
		m.log.Error("commission: cannot record the end of an upload", "upload", up.ID, "err", err)
	}
}

// ErrNoUpload: no upload with that ID for the organisation.
var ErrNoUpload = fmt.Errorf("%w: no such upload", trace.ErrNotFound)

// Get returns an upload's progress.
func (m *Manager) Get(ctx context.Context, msp, id string) (Upload, error) {
	var u Upload
	var status, code, created, updated string
	err := m.db.QueryRowContext(ctx, `SELECT msp, id, gtin, lot, expiry, sha256, total, batch_size, batches, status, code, error, created_by, created_at, updated_at
		FROM api_commission_uploads WHERE msp = ? AND id = ?`, msp, id).Scan(&u.MSP, &u.ID, &u.GTIN, &u.Lot, &u.Expiry, &u.SHA256, &u.Total, &u.BatchSize,
		&u.BatchCount, &status, &code, &u.Error, &u.CreatedBy, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Upload{}, fmt.Errorf("%w: %s", ErrNoUpload, id)
	}
	if err != nil {
		return Upload{}, fmt.Errorf("commission: get upload %s: %w", id, err)
	}
	u.Status, u.Code = Status(status), trace.Code(code)
	if u.CreatedAt, err = db.ParseTime(created); err != nil {
		return Upload{}, err
	}
	if u.UpdatedAt, err = db.ParseTime(updated); err != nil {
		return Upload{}, err
	}
	rows, err := m.db.QueryContext(ctx, `SELECT idx, request_id, first_row, serials, status, tx_id, code, message FROM api_commission_batches
		WHERE msp = ? AND upload_id = ? ORDER BY idx`, msp, id)
	if err != nil {
		return Upload{}, fmt.Errorf("commission: get batches of %s: %w", id, err)
	}
	defer rows.Close()
	u.Batches = []Batch{}
	for rows.Next() {
		var b Batch
		var st, c string
		if err := rows.Scan(&b.Index, &b.RequestID, &b.FirstRow, &b.Serials, &st, &b.TxID, &c, &b.Message); err != nil {
			return Upload{}, err
		}
		b.Status, b.Code = Status(st), trace.Code(c)
		if b.Status == BatchConfirmed {
			u.Confirmed++
			u.Commissioned += b.Serials
		}
		u.Batches = append(u.Batches, b)
	}
	return u, rows.Err()
}
