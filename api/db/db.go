// Package db opens the SQL database of the PharmaTrace API — an embedded
// SQLite file through the pure-Go modernc.org/sqlite driver (no cgo) by
// default, PostgreSQL through pgx when a DSN is configured — and applies
// versioned schema migrations embedded in the packages that own the tables.
//
// Every query of the API is written once, with "?" placeholders and SQL that
// both engines accept (INSERT … ON CONFLICT … DO UPDATE/NOTHING, TEXT
// timestamps in one fixed-width UTC format, INTEGER booleans). The only
// dialect difference met at run time, the placeholder syntax ("?" for SQLite,
// "$1" for PostgreSQL), is handled here: DB and Tx rewrite the query before
// handing it to database/sql.
//
// SQLite runs in WAL mode with a busy timeout, synchronous=NORMAL, and
// BEGIN IMMEDIATE for write transactions, so that concurrent readers never
// block the single writer and two writers queue instead of failing.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"
)

// Dialect is the SQL engine behind a DB.
type Dialect int

// Dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return fmt.Sprintf("dialect(%d)", int(d))
}

// Config says which database to open: PostgresDSN when set, else the SQLite
// file at Path.
type Config struct {
	// Path of the SQLite database file (its directory is created).
	Path string
	// PostgresDSN, when not empty, selects PostgreSQL
	// (e.g. "postgres://user@127.0.0.1:5432/pharmatrace?sslmode=disable").
	PostgresDSN string
	// BusyTimeout is how long a SQLite writer waits for the lock (default 5s).
	BusyTimeout time.Duration
	// MaxOpenConns bounds the pool (default 8).
	MaxOpenConns int
}

// Validate checks the configuration, naming the offending field.
func (c Config) Validate() error {
	if c.Path == "" && c.PostgresDSN == "" {
		return errors.New("db config: Path: empty (and no PostgresDSN)")
	}
	if c.BusyTimeout < 0 {
		return fmt.Errorf("db config: BusyTimeout: %v is negative", c.BusyTimeout)
	}
	if c.MaxOpenConns < 0 {
		return fmt.Errorf("db config: MaxOpenConns: %d is negative", c.MaxOpenConns)
	}
	if c.PostgresDSN != "" {
		if _, err := url.Parse(c.PostgresDSN); err != nil && !strings.Contains(c.PostgresDSN, "=") {
			return fmt.Errorf("db config: PostgresDSN: %w", err)
		}
	}
	return nil
}

// DB is an open database with its dialect.
type DB struct {
	sql     *sql.DB
	dialect Dialect
}

// Open opens (and for SQLite creates) the configured database and checks
// that it answers.
func Open(ctx context.Context, c Config) (*DB, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 5 * time.Second
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = 8
	}
	var (
		d       = &DB{}
		err     error
		display string
	)
	if c.PostgresDSN != "" {
		d.dialect = Postgres
		d.sql, err = sql.Open("pgx", c.PostgresDSN)
		display = "postgres"
	} else {
		d.dialect = SQLite
		if dir := filepath.Dir(c.Path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("db: create directory of %s: %w", c.Path, err)
			}
		}
		q := url.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", c.BusyTimeout.Milliseconds()))
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "foreign_keys(ON)")
		q.Set("_txlock", "immediate")
		d.sql, err = sql.Open("sqlite", "file:"+c.Path+"?"+q.Encode())
		display = c.Path
	}
	if err != nil {
		return nil, fmt.Errorf("db: open %s: %w", display, err)
	}
	d.sql.SetMaxOpenConns(c.MaxOpenConns)
	d.sql.SetMaxIdleConns(c.MaxOpenConns)
	d.sql.SetConnMaxIdleTime(5 * time.Minute)
	if err := d.sql.PingContext(ctx); err != nil {
		d.sql.Close()
		return nil, fmt.Errorf("db: connect to %s: %w", display, err)
	}
	return d, nil
}

// Dialect returns the engine.
func (d *DB) Dialect() Dialect { return d.dialect }

// SQL returns the underlying pool (queries given to it are not rewritten).
func (d *DB) SQL() *sql.DB { return d.sql }

// Close closes the pool.
func (d *DB) Close() error { return d.sql.Close() }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.sql.PingContext(ctx) }

// ExecContext runs a statement written with "?" placeholders.
func (d *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.sql.ExecContext(ctx, Rebind(d.dialect, q), args...)
}

// QueryContext runs a query written with "?" placeholders.
func (d *DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.sql.QueryContext(ctx, Rebind(d.dialect, q), args...)
}

// QueryRowContext runs a one-row query written with "?" placeholders.
func (d *DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return d.sql.QueryRowContext(ctx, Rebind(d.dialect, q), args...)
}

// Tx is a transaction whose statements use "?" placeholders.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
}

// Dialect returns the engine.
func (t *Tx) Dialect() Dialect { return t.dialect }

// ExecContext runs a statement in the transaction.
func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, Rebind(t.dialect, q), args...)
}

// QueryContext runs a query in the transaction.
func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, Rebind(t.dialect, q), args...)
}

// QueryRowContext runs a one-row query in the transaction.
func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, Rebind(t.dialect, q), args...)
}

// PrepareContext prepares a statement for repeated use in the transaction.
func (t *Tx) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(ctx, Rebind(t.dialect, q))
}

// InTx runs fn in one transaction: committed when fn returns nil, rolled
// back otherwise (fn's error is returned unchanged).
func (d *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: begin: %w", err)
	}
	if err := fn(&Tx{tx: tx, dialect: d.dialect}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: commit: %w", err)
	}
	return nil
}

// Rebind rewrites "?" placeholders for the dialect ("$1", "$2", … for
// PostgreSQL). Question marks inside single-quoted literals are kept.
func Rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			fmt.Fprintf(&b, "$%d", n)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// TimeLayout is how every timestamp is stored: UTC, fixed width, so that
// text order is time order on both engines.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTime renders t in TimeLayout ("" for the zero time).
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

// ParseTime parses a TimeLayout value ("" gives the zero time).
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("db: bad timestamp %q: %w", s, err)
	}
	return t, nil
}

// Bool converts a Go bool to the stored INTEGER.
func Bool(b bool) int {
	if b {
		return 1
	}
	return 0
}
