// Package outbox is the scanner agent's local durable queue. Every decoded
// scan is appended here — and the append is on disk — before anything else
// happens to it, so a scan survives a network outage, kill -9, power loss
// and restarts, and is delivered to the ledger exactly once.
//
// # Durability
//
// The queue is a bbolt file. Append commits one write transaction and
// returns only after the commit, and bbolt commits with fdatasync (twice:
// data pages, then the meta page) unless NoSync is set — this package never
// sets it, so an acknowledged Append is on stable storage. The free list is
// not persisted (NoFreelistSync; it is rebuilt on open), which saves a
// write per commit without weakening durability. A new file's directory is
// fsynced too, so the file itself survives a power cut. bbolt's
// copy-on-write B+tree with two meta pages means a crash mid-commit leaves
// the previous commit intact: the queue after kill -9 is the queue of the
// last acknowledged Append or a later one.
//
// One fsync per scan costs well under a millisecond on an SSD; to keep up
// with a scanner at full speed, AppendBatch writes many scans in one
// transaction (group commit): the intake pipeline drains whatever frames
// are waiting and appends them together. (bbolt's own DB.Batch is not used:
// it delays every commit by up to MaxBatchDelay, which a single sequential
// appender pays in full.)
//
// # Identity and order
//
// Each record has a sequence number (monotonic, never reused, from bbolt's
// bucket sequence, which survives deletion and restarts) and a scan ID,
// "<station>-<ULID>": 48 bits of milliseconds and 80 random bits, so it is
// globally unique and time-ordered. The scan ID is the ledger request ID;
// resubmitting a scan after a crash between "submitted" and "done" is
// therefore idempotent at the gateway.
//
// # States
//
//	pending → verified → submitted → done
//	    \         \           \----→ notice
//	     \         \---------------→ done | notice
//	      \------------------------→ done | notice
//	rejected (at append: the decoder refused the frame; kept for audit)
//
// done, notice and rejected are terminal. Pending returns the open
// (non-terminal) records in sequence order; Compact deletes terminal
// records older than the retention.
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// State is a record's processing state.
type State string

// Record states.
const (
	StatePending  State = "pending"  // appended, not yet processed
	StateDone     State = "done"     // the ledger recorded it
	StateNotice   State = "notice"   // the ledger refused it with a business reason (recalled, already dispensed, …)
	StateRejected State = "rejected" // the decoder refused the frame; never submitted
)

// Terminal reports whether no further transition is allowed.
func (s State) Terminal() bool {
	return s == StateDone || s == StateNotice || s == StateRejected
}

// allowed[from] lists the states Mark may move a record to.
var allowed = map[State][]State{
	StatePending: {StateDone, StateNotice},
}

// ScanID identifies a scan globally: "<station>-<ULID>". It is the ledger
// request ID.
type ScanID string

// Entry is what Append stores.
type Entry struct {
	// Scanner is the scanner's name.
	Scanner string
	// Frame is the raw frame as read (GS substitutes replaced by GS).
	Frame []byte
	// Payload is the decoded scan in the decoder's encoding (e.g. JSON);
	// opaque to the queue.
	Payload []byte
	// ScannedAt is when the frame was read; zero means now.
	ScannedAt time.Time
	// Invalid, if set, is the decoder's reason for refusing the frame: the
	// record is stored as rejected (terminal) for the audit trail.
	Invalid string
}

// Record is one stored scan.
type Record struct {
	Seq        uint64    `json:"seq"`
	ID         ScanID    `json:"id"`
	Scanner    string    `json:"scanner,omitempty"`
	Frame      []byte    `json:"frame"`
	Payload    []byte    `json:"payload,omitempty"`
	State      State     `json:"state"`
	Detail     string    `json:"detail,omitempty"`
	ScannedAt  time.Time `json:"scanned_at"`
	AppendedAt time.Time `json:"appended_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Outcome is a state transition requested by Mark.
type Outcome struct {
	State State
	// Detail explains it (the ledger's notice text, an error message).
	Detail string
}

// Errors.
var (
	ErrNotFound   = errors.New("outbox: no such scan")
	ErrTransition = errors.New("outbox: state transition not allowed")
	ErrClosed     = errors.New("outbox: closed")
)

var (
	bucketMeta   = []byte("meta")
	bucketScans  = []byte("scans")  // seq → Record JSON
	bucketIDs    = []byte("ids")    // scan ID → seq
	bucketOpen   = []byte("open")   // seq → nil, for non-terminal records
	bucketClosed = []byte("closed") // updatedAt(ns) ‖ seq → nil, for terminal records
	keyStation   = []byte("station")
	keyVersion   = []byte("version")
)

const schemaVersion = "1"

// Options configure Open.
type Options struct {
	// Station is the station ID; it prefixes scan IDs. Required. A queue
	// file remembers its station and refuses to open for another.
	Station string
	// LockTimeout is how long Open waits for another process holding the
	// file to let go; default 1s.
	LockTimeout time.Duration
	// Now is the clock; default time.Now. Tests set it.
	Now func() time.Time
	// Rand is the randomness of scan IDs; default crypto/rand.
	Rand io.Reader
}

// Queue is the durable queue. Its methods are safe for concurrent use.
type Queue struct {
	db      *bolt.DB
	station string
	now     func() time.Time
	ids     *idSource
	notify  chan struct{}

	closeOnce sync.Once
}

// Open opens or creates the queue file at path.
func Open(path string, o Options) (*Queue, error) {
	if o.Station == "" {
		return nil, errors.New("outbox: station is required")
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        o.LockTimeout,
		NoSync:         false, // never: an acknowledged Append must be on disk
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("outbox %s: locked by another process: %w", path, err)
		}
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	if created {
		if err := syncDir(filepath.Dir(path)); err != nil {
			db.Close()
			return nil, fmt.Errorf("outbox %s: %w", path, err)
		}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketScans, bucketIDs, bucketOpen, bucketClosed} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch st := meta.Get(keyStation); {
		case st == nil:
			if err := meta.Put(keyStation, []byte(o.Station)); err != nil {
				return err
			}
			return meta.Put(keyVersion, []byte(schemaVersion))
		case string(st) != o.Station:
			return fmt.Errorf("belongs to station %q, not %q", st, o.Station)
		}
		if v := meta.Get(keyVersion); string(v) != schemaVersion {
			return fmt.Errorf("schema version %q, want %q", v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	return &Queue{
		db:      db,
		station: o.Station,
		now:     o.Now,
		ids:     &idSource{rand: o.Rand},
		notify:  make(chan struct{}, 1),
	}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// Close closes the file. Pending records stay for the next Open.
func (q *Queue) Close() error {
	var err error
	q.closeOnce.Do(func() { err = q.db.Close() })
	return err
}

// Path returns the file path.
func (q *Queue) Path() string { return q.db.Path() }

// Station returns the station ID the queue belongs to.
func (q *Queue) Station() string { return q.station }

// Notify returns a channel that receives a value (coalesced) after appends,
// for a delivery loop to wake up.
func (q *Queue) Notify() <-chan struct{} { return q.notify }

// Append stores one entry durably and returns its scan ID. When it returns
// nil the record is fsynced.
func (q *Queue) Append(ctx context.Context, e Entry) (ScanID, error) {
	recs, err := q.AppendBatch(ctx, []Entry{e})
	if err != nil {
		return "", err
	}
	return recs[0].ID, nil
}

// AppendBatch stores entries in one transaction (one commit, one fsync
// pair) and returns their records in order. All or none are stored.
func (q *Queue) AppendBatch(ctx context.Context, entries []Entry) ([]Record, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := q.now().UTC()
	recs := make([]Record, len(entries))
	for i, e := range entries {
		id, err := q.ids.next(now)
		if err != nil {
			return nil, fmt.Errorf("outbox: scan ID: %w", err)
		}
		r := Record{
			ID:         ScanID(q.station + "-" + id),
			Scanner:    e.Scanner,
			Frame:      e.Frame,
			Payload:    e.Payload,
			State:      StatePending,
			ScannedAt:  e.ScannedAt.UTC(),
			AppendedAt: now,
			UpdatedAt:  now,
		}
		if e.ScannedAt.IsZero() {
			r.ScannedAt = now
		}
		if e.Invalid != "" {
			r.State, r.Detail = StateRejected, e.Invalid
		}
		recs[i] = r
	}
	err := q.db.Update(func(tx *bolt.Tx) error {
		scans, ids := tx.Bucket(bucketScans), tx.Bucket(bucketIDs)
		open, closed := tx.Bucket(bucketOpen), tx.Bucket(bucketClosed)
		for i := range recs {
			r := &recs[i]
			seq, err := scans.NextSequence()
			if err != nil {
				return err
			}
			r.Seq = seq
			k := seqKey(seq)
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := scans.Put(k, v); err != nil {
				return err
			}
			if err := ids.Put([]byte(r.ID), k); err != nil {
				return err
			}
			if r.State.Terminal() {
				err = closed.Put(closedKey(r.UpdatedAt, seq), nil)
			} else {
				err = open.Put(k, nil)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, bolt.ErrDatabaseNotOpen) {
			err = ErrClosed
		}
		return nil, fmt.Errorf("outbox append: %w", err)
	}
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return recs, nil
}

// Get returns the record with the scan ID.
func (q *Queue) Get(id ScanID) (Record, error) {
	var r Record
	err := q.db.View(func(tx *bolt.Tx) error {
		k := tx.Bucket(bucketIDs).Get([]byte(id))
		if k == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return decode(tx.Bucket(bucketScans).Get(k), &r)
	})
	return r, err
}

// Pending returns up to limit open (non-terminal) records in sequence
// order; limit <= 0 means all.
func (q *Queue) Pending(limit int) ([]Record, error) {
	var out []Record
	err := q.db.View(func(tx *bolt.Tx) error {
		scans := tx.Bucket(bucketScans)
		c := tx.Bucket(bucketOpen).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			var r Record
			if err := decode(scans.Get(k), &r); err != nil {
				return err
			}
			out = append(out, r)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	return out, err
}

// Next returns the oldest open record; ok is false when there is none.
func (q *Queue) Next() (r Record, ok bool, err error) {
	recs, err := q.Pending(1)
	if err != nil || len(recs) == 0 {
		return Record{}, false, err
	}
	return recs[0], true, nil
}

// All calls fn for every record in sequence order, terminal ones
// included, until fn returns false.
func (q *Queue) All(fn func(Record) bool) error {
	return q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketScans).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var r Record
			if err := decode(v, &r); err != nil {
				return err
			}
			if !fn(r) {
				return nil
			}
		}
		return nil
	})
}

// Mark moves the record id to o.State: pending → done or notice (a
// delivery whose outcome is unknown returns an error and is retried; the
// ledger de-duplicates by scan ID). Marking a terminal record with the
// state it already has is a no-op (so a retried Mark after a crash is
// harmless); anything else returns an error wrapping ErrTransition.
func (q *Queue) Mark(ctx context.Context, id ScanID, o Outcome) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	var r Record
	err := q.db.Update(func(tx *bolt.Tx) error {
		scans := tx.Bucket(bucketScans)
		k := tx.Bucket(bucketIDs).Get([]byte(id))
		if k == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		k = append([]byte(nil), k...)
		if err := decode(scans.Get(k), &r); err != nil {
			return err
		}
		if r.State.Terminal() {
			if r.State == o.State {
				return nil
			}
			return fmt.Errorf("%w: %s is %s, cannot become %s", ErrTransition, id, r.State, o.State)
		}
		ok := false
		for _, s := range allowed[r.State] {
			ok = ok || s == o.State
		}
		if !ok {
			return fmt.Errorf("%w: %s is %s, cannot become %s", ErrTransition, id, r.State, o.State)
		}
		r.State, r.Detail, r.UpdatedAt = o.State, o.Detail, q.now().UTC()
		v, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		if err := scans.Put(k, v); err != nil {
			return err
		}
		if o.State.Terminal() {
			if err := tx.Bucket(bucketOpen).Delete(k); err != nil {
				return err
			}
			return tx.Bucket(bucketClosed).Put(closedKey(r.UpdatedAt, r.Seq), nil)
		}
		return nil
	})
	return r, err
}

// Depth returns the number of open (non-terminal) records.
func (q *Queue) Depth() (int, error) {
	n := 0
	err := q.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketOpen).Stats().KeyN
		return nil
	})
	return n, err
}

// OldestAge returns how long the oldest open record has waited since it
// was appended; 0 when there is none.
func (q *Queue) OldestAge() (time.Duration, error) {
	r, ok, err := q.Next()
	if err != nil || !ok {
		return 0, err
	}
	return q.now().Sub(r.AppendedAt), nil
}

// Compact deletes terminal records (done, notice, rejected) last updated
// more than retention ago, in transactions of at most 1000 deletions, and
// returns how many it deleted.
func (q *Queue) Compact(ctx context.Context, retention time.Duration) (int, error) {
	cutoff := closedKey(q.now().Add(-retention).UTC(), 0)
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n := 0
		err := q.db.Update(func(tx *bolt.Tx) error {
			scans, ids, closed := tx.Bucket(bucketScans), tx.Bucket(bucketIDs), tx.Bucket(bucketClosed)
			c := closed.Cursor()
			for k, _ := c.First(); k != nil && string(k) < string(cutoff) && n < 1000; k, _ = c.First() {
				sk := k[8:16]
				var r Record
				if err := decode(scans.Get(sk), &r); err == nil {
					if err := ids.Delete([]byte(r.ID)); err != nil {
						return err
					}
				}
				if err := scans.Delete(sk); err != nil {
					return err
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("outbox compact: %w", err)
		}
		if n < 1000 {
			return total, nil
		}
	}
}

func decode(v []byte, r *Record) error {
	if v == nil {
		return errors.New("outbox: index points at a missing record")
	}
	if err := json.Unmarshal(v, r); err != nil {
		return fmt.Errorf("outbox: corrupt record: %w", err)
	}
	return nil
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

func closedKey(t time.Time, seq uint64) []byte {
	k := make([]byte, 16)
	ns := t.UnixNano()
	if ns < 0 {
		ns = 0
	}
	binary.BigEndian.PutUint64(k, uint64(ns))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}
