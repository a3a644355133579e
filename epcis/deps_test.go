package epcis_test

import (
	"testing"

	"github.com/pharmatrace/pharmatrace/internal/deptest"
)

// TestDependencies proves that packages epcis and epcis/importer depend on
// the standard library and PharmaTrace's trace and gs1 packages only.
func TestDependencies(t *testing.T) {
	const mod = "github.com/pharmatrace/pharmatrace"
	pkgs := deptest.Deps(t, mod+"/epcis", mod+"/epcis/importer")
	deptest.OnlyStandard(t, pkgs, mod+"/epcis", mod+"/epcis/importer", mod+"/trace", mod+"/gs1")
}
