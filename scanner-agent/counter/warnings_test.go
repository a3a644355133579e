package counter

import (
	"slices"
	"testing"

	"github.com/pharmatrace/pharmatrace/gs1"
	"github.com/pharmatrace/pharmatrace/trace"
)

// The agent sends gs1's warning kinds; the contract accepts trace's list.
func TestWarningKindsInStep(t *testing.T) {
	for _, k := range []gs1.WarningKind{gs1.DroppedSeparator, gs1.CapsLock, gs1.KeyboardLayout} {
		if !slices.Contains(trace.WarningKinds, k.String()) {
			t.Errorf("gs1 warning %q is not in trace.WarningKinds %v", k, trace.WarningKinds)
		}
	}
	if len(trace.WarningKinds) != 3 {
		t.Errorf("trace.WarningKinds %v: a kind gs1 does not report", trace.WarningKinds)
	}
}
