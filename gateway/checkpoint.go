package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// ErrCheckpointCorrupt is matched by a checkpoint that cannot be trusted
// (unreadable, truncated, bad checksum). The stream does not start from
// such a checkpoint: restarting from block 0 would deliver duplicates and
// guessing would risk a gap. Fix or remove the file, or replay on purpose
// with FromBlock.
var ErrCheckpointCorrupt = errors.New("gateway: checkpoint corrupt")

// ErrCheckpointMismatch is matched when the ledger does not have the
// checkpointed event where the checkpoint says (another network or channel,
// or a reset ledger).
var ErrCheckpointMismatch = errors.New("gateway: checkpoint does not match the ledger")

// Checkpoint is the position of the last processed chaincode event: its
// block, its index among the chaincode's events of that block (0-based, in
// transaction order; one event per transaction) and its transaction ID. The
// zero Checkpoint means nothing was processed yet.
type Checkpoint struct {
	Block uint64 `json:"block"`
	Index int    `json:"index"`
	TxID  string `json:"tx_id"`
}

// IsZero reports whether c is "nothing processed yet".
func (c Checkpoint) IsZero() bool { return c.TxID == "" }

// After reports whether an event at (block, index) comes after c.
func (c Checkpoint) After(block uint64, index int) bool {
	if c.IsZero() {
		return true
	}
	return block > c.Block || (block == c.Block && index > c.Index)
}

func (c Checkpoint) String() string {
	if c.IsZero() {
		return "start"
	}
	return fmt.Sprintf("block %d index %d tx %s", c.Block, c.Index, c.TxID)
}

// Checkpointer stores the position of an event consumer. Events calls Load
// once at start and Save after each event the handler processed.
//
// A consumer that keeps its own state in a database should store the
// checkpoint there, in the same transaction as the effects of the event
// (ev.Checkpoint() gives it to the handler): then Load reads it back and
// Save does nothing, and a crash can never separate the two.
type Checkpointer interface {
	Load(ctx context.Context) (Checkpoint, error)
	Save(ctx context.Context, c Checkpoint) error
}

// MemoryCheckpointer keeps the checkpoint in memory (tests, replays).
type MemoryCheckpointer struct {
	mu sync.Mutex
	c  Checkpoint
}

// Load returns the saved checkpoint.
func (m *MemoryCheckpointer) Load(context.Context) (Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c, nil
}

// Save stores c.
func (m *MemoryCheckpointer) Save(_ context.Context, c Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c = c
	return nil
}

// FileCheckpointer stores the checkpoint in one small file, replaced
// atomically and durably on each Save: write a temporary file, fsync it,
// rename it over the checkpoint, fsync the directory. After a crash the file
// holds either the previous or the new checkpoint, never a mix. (The
// fabric-gateway FileCheckpointer overwrites in place without fsync, which
// can lose or tear the checkpoint on a crash.) One process may use a file
// at a time.
type FileCheckpointer struct {
	path string
	mu   sync.Mutex
}

// NewFileCheckpointer returns a checkpointer storing into path; its
// directory must exist. A missing file means "nothing processed yet".
// Temporary files left by a crash during Save are removed.
func NewFileCheckpointer(path string) *FileCheckpointer {
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*"))
	for _, s := range stale {
		_ = os.Remove(s)
	}
	return &FileCheckpointer{path: path}
}

// checkpointFile is the on-disk form: the checkpoint, a format version and
// a CRC-32 (IEEE) of the other fields.
type checkpointFile struct {
	Version int    `json:"version"`
	Block   uint64 `json:"block"`
	Index   int    `json:"index"`
	TxID    string `json:"tx_id"`
	CRC32   uint32 `json:"crc32"`
}

const checkpointVersion = 1

func checkpointCRC(v int, c Checkpoint) uint32 {
	return crc32.ChecksumIEEE(fmt.Appendf(nil, "%d|%d|%d|%s", v, c.Block, c.Index, c.TxID))
}

// Load reads the checkpoint; a missing file is the zero Checkpoint.
func (f *FileCheckpointer) Load(context.Context) (Checkpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, nil
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("gateway: read checkpoint %s: %w", f.path, err)
	}
	return decodeCheckpoint(f.path, b)
}

func decodeCheckpoint(path string, b []byte) (Checkpoint, error) {
	var cf checkpointFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %s: %w", ErrCheckpointCorrupt, path, err)
	}
	if cf.Version != checkpointVersion {
		return Checkpoint{}, fmt.Errorf("%w: %s: unknown version %d", ErrCheckpointCorrupt, path, cf.Version)
	}
	c := Checkpoint{Block: cf.Block, Index: cf.Index, TxID: cf.TxID}
	if cf.CRC32 != checkpointCRC(cf.Version, c) {
		return Checkpoint{}, fmt.Errorf("%w: %s: checksum mismatch", ErrCheckpointCorrupt, path)
	}
	if c.Index < 0 {
		return Checkpoint{}, fmt.Errorf("%w: %s: negative index", ErrCheckpointCorrupt, path)
	}
	return c, nil
}

// Save durably replaces the checkpoint with c.
func (f *FileCheckpointer) Save(_ context.Context, c Checkpoint) error {
	cf := checkpointFile{Version: checkpointVersion, Block: c.Block, Index: c.Index, TxID: c.TxID, CRC32: checkpointCRC(checkpointVersion, c)}
	b, err := json.Marshal(cf)
	if err != nil {
		return fmt.Errorf("gateway: encode checkpoint: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := writeFileAtomic(f.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("gateway: save checkpoint: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data: temp file in the same directory,
// fsync, rename, fsync of the directory.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		return err
	}
	if err = tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
