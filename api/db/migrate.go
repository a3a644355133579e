package db

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations is one component's ordered schema history: files named
// NNNN_description.sql in Dir of FS, applied in number order, each once, in
// its own transaction, recorded in table schema_migrations under Component.
// Statements in a file are separated by ";" at the end of a line.
type Migrations struct {
	Component string
	FS        fs.FS
	Dir       string
}

type migration struct {
	version int
	name    string
	stmts   []string
}

func (m Migrations) load() ([]migration, error) {
	entries, err := fs.ReadDir(m.FS, m.Dir)
	if err != nil {
		return nil, fmt.Errorf("db: migrations of %s: %w", m.Component, err)
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("db: migration %s/%s: name must be NNNN_description.sql", m.Dir, e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("db: migrations %s and %s share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(m.FS, path.Join(m.Dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("db: read migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), stmts: SplitStatements(string(b))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// SplitStatements splits a SQL script at semicolons that end a line and
// drops "--" comment lines and empty statements.
func SplitStatements(script string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(script, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			if s := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"); s != "" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	component TEXT NOT NULL,
	version INTEGER NOT NULL,
	name TEXT NOT NULL,
	applied_at TEXT NOT NULL,
	PRIMARY KEY (component, version)
)`

// Version returns the highest applied migration of a component (0: none).
func (d *DB) Version(ctx context.Context, component string) (int, error) {
	if _, err := d.ExecContext(ctx, migrationsTable); err != nil {
		return 0, fmt.Errorf("db: create schema_migrations: %w", err)
	}
	var v int
	err := d.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?`, component).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("db: schema version of %s: %w", component, err)
	}
	return v, nil
}

// Migrate applies the component's migrations that are not applied yet and
// returns how many it applied.
func (d *DB) Migrate(ctx context.Context, m Migrations) (int, error) {
	ms, err := m.load()
	if err != nil {
		return 0, err
	}
	cur, err := d.Version(ctx, m.Component)
	if err != nil {
		return 0, err
	}
	if n := len(ms); n > 0 && cur > ms[n-1].version {
		return 0, fmt.Errorf("db: %s schema is at version %d, newer than this program's %d", m.Component, cur, ms[n-1].version)
	}
	applied := 0
	for _, mg := range ms {
		if mg.version <= cur {
			continue
		}
		err := d.InTx(ctx, func(tx *Tx) error {
			for i, s := range mg.stmts {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("db: migration %s statement %d: %w", mg.name, i+1, err)
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)`,
				m.Component, mg.version, mg.name, FormatTime(time.Now()))
			return err
		})
		if err != nil {
			return applied, err
		}
		applied++
	}
	return applied, nil
}

// Forget removes a component's migration records (after its tables were
// dropped), so that the next Migrate recreates them.
func (tx *Tx) Forget(ctx context.Context, component string) error {
	if _, err := tx.ExecContext(ctx, migrationsTable); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM schema_migrations WHERE component = ?`, component)
	return err
}
