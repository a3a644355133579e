package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

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

// MemoryCheckpointer keeps the checkpoint in memory (tests, replays, and
// consumers whose Load reads the position from their own store).
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
