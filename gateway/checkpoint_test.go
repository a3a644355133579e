package gateway

import "testing"

func TestCheckpointAfter(t *testing.T) {
	c := Checkpoint{Block: 5, Index: 1, TxID: "t"}
	tests := []struct {
		block uint64
		index int
		want  bool
	}{
		{4, 9, false}, {5, 0, false}, {5, 1, false}, {5, 2, true}, {6, 0, true},
	}
	for _, tt := range tests {
		if got := c.After(tt.block, tt.index); got != tt.want {
			t.Errorf("After(%d, %d) = %v, want %v", tt.block, tt.index, got, tt.want)
		}
	}
	if !(Checkpoint{}).After(0, 0) || !(Checkpoint{}).IsZero() {
		t.Error("zero checkpoint must precede everything")
	}
}
