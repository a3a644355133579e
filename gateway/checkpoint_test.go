package gateway

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileCheckpointerDurableRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.checkpoint")
	cp := NewFileCheckpointer(path)
	got, err := cp.Load(ctx)
	if err != nil || !got.IsZero() {
		t.Fatalf("Load of a missing file = %+v, %v; want zero", got, err)
	}
	want := Checkpoint{Block: 42, Index: 3, TxID: "ab12"}
	for _, c := range []Checkpoint{{Block: 7, Index: 0, TxID: "x"}, want} {
		if err := cp.Save(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// A new checkpointer on the same file (a restarted process) sees the
	// last save.
	got, err = NewFileCheckpointer(path).Load(ctx)
	if err != nil || got != want {
		t.Fatalf("after restart Load = %+v, %v; want %+v", got, err, want)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the checkpoint", len(entries))
	}
}

func TestFileCheckpointerCrashLeftovers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "cp")
	cp := NewFileCheckpointer(path)
	want := Checkpoint{Block: 5, Index: 1, TxID: "t5"}
	if err := cp.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	// A crash during the next Save leaves a partial temp file: the
	// checkpoint itself is untouched and the leftover is removed on start.
	stale := filepath.Join(dir, ".cp.tmp-123")
	if err := os.WriteFile(stale, []byte(`{"version":1,"blo`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := NewFileCheckpointer(path).Load(ctx)
	if err != nil || got != want {
		t.Fatalf("Load = %+v, %v; want %+v", got, err, want)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temp file not removed: %v", err)
	}
}

func TestFileCheckpointerCorruption(t *testing.T) {
	ctx := context.Background()
	valid := func() string {
		path := filepath.Join(t.TempDir(), "cp")
		if err := NewFileCheckpointer(path).Save(ctx, Checkpoint{Block: 10, Index: 2, TxID: "tx10"}); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		return string(b)
	}()
	tests := []struct {
		name    string
		content string
	}{
		{"empty", ""},
		{"garbage", "\x00\x01not json"},
		{"truncated", valid[:len(valid)/2]},
		{"bit flip in block", strings.Replace(valid, `"block":10`, `"block":11`, 1)},
		{"bit flip in tx", strings.Replace(valid, `tx10`, `tx11`, 1)},
		{"unknown version", strings.Replace(valid, `"version":1`, `"version":2`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cp")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := NewFileCheckpointer(path).Load(ctx)
			if !errors.Is(err, ErrCheckpointCorrupt) {
				t.Fatalf("Load = %v, want ErrCheckpointCorrupt", err)
			}
		})
	}
	if err := NewFileCheckpointer(filepath.Join(t.TempDir(), "missing-dir", "cp")).Save(ctx, Checkpoint{TxID: "x"}); err == nil {
		t.Error("Save into a missing directory succeeded")
	}
}

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
