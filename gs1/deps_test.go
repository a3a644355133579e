package gs1_test

import (
	"testing"

	"github.com/pharmatrace/pharmatrace/internal/deptest"
)

// TestStandardLibraryOnly proves that package gs1 depends on the Go
// standard library alone.
func TestStandardLibraryOnly(t *testing.T) {
	const gs1 = "github.com/pharmatrace/pharmatrace/gs1"
	pkgs := deptest.Deps(t, gs1)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d dependencies of %s: the check would prove nothing", len(pkgs), gs1)
	}
	deptest.OnlyStandard(t, pkgs, gs1)
}
