package epcis

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/pharmatrace/pharmatrace/epcis/epcisschema"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// repoRoot walks up from the package directory to the directory holding
// go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// sharedEPCIS returns ../shared/epcis, or skips the test when it is absent.
func sharedEPCIS(t testing.TB) string { return epcisschema.Dir(t) }

// validate checks a document against the EPCIS 2.0 JSON Schema.
func validate(t testing.TB, doc []byte) error { return epcisschema.Validate(t, doc) }

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update after checking the change):\n got: %s\nwant: %s", path, clip(got), clip(want))
	}
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}
