package db_test

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/pharmatrace/pharmatrace/api/db"
)

func TestRebind(t *testing.T) {
	tests := []struct {
		d       db.Dialect
		in, out string
	}{
		{db.SQLite, "SELECT ? , ?", "SELECT ? , ?"},
		{db.Postgres, "SELECT a FROM t WHERE x = ? AND y IN (?, ?)", "SELECT a FROM t WHERE x = $1 AND y IN ($2, $3)"},
		{db.Postgres, "SELECT '?' || ? FROM t", "SELECT '?' || $1 FROM t"},
	}
	for _, tc := range tests {
		if got := db.Rebind(tc.d, tc.in); got != tc.out {
			t.Errorf("Rebind(%s, %q) = %q, want %q", tc.d, tc.in, got, tc.out)
		}
	}
}

func TestSplitStatements(t *testing.T) {
	got := db.SplitStatements("-- c\nCREATE TABLE a (x INTEGER);\n\nCREATE INDEX i ON a (x);\nINSERT INTO a VALUES (1)")
	if len(got) != 3 || got[0] != "CREATE TABLE a (x INTEGER)" || got[2] != "INSERT INTO a VALUES (1)" {
		t.Errorf("%q", got)
	}
}

func TestTimeFormatSortsAsText(t *testing.T) {
	a := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	b := a.Add(time.Nanosecond)
	if !(db.FormatTime(a) < db.FormatTime(b)) || len(db.FormatTime(a)) != len(db.FormatTime(b.Add(100*time.Hour))) {
		t.Error("timestamps do not sort as text")
	}
	back, err := db.ParseTime(db.FormatTime(a))
	if err != nil || !back.Equal(a) {
		t.Errorf("round trip %v %v", back, err)
	}
	if db.FormatTime(time.Time{}) != "" {
		t.Error("zero time not empty")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (db.Config{}).Validate(); err == nil {
		t.Error("empty config accepted")
	}
	if err := (db.Config{Path: "x.db", BusyTimeout: -1}).Validate(); err == nil {
		t.Error("negative busy timeout accepted")
	}
}

func TestMigrationNames(t *testing.T) {
	m := db.Migrations{Component: "x", FS: fstest.MapFS{"m/bad.sql": {Data: []byte("SELECT 1;")}}, Dir: "m"}
	d, err := db.Open(t.Context(), db.Config{Path: t.TempDir() + "/m.db"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(t.Context(), m); err == nil {
		t.Error("migration without a version number accepted")
	}
}
