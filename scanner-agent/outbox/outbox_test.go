package outbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openTest(t testing.TB, path string, clock *fakeClock) *Queue {
	t.Helper()
	o := Options{Station: "st-1"}
	if clock != nil {
		o.Now = clock.Now
	}
	q, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

var idRe = regexp.MustCompile(`^st-1-[0-9A-HJKMNP-TV-Z]{26}$`)

func TestAppendOrderAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	q := openTest(t, path, nil)
	var ids []ScanID
	for i := range 10 {
		id, err := q.Append(ctx, Entry{Scanner: "s", Frame: fmt.Appendf(nil, "frame-%d", i), Payload: []byte(`{"n":1}`)})
		if err != nil {
			t.Fatal(err)
		}
		if !idRe.MatchString(string(id)) {
			t.Fatalf("scan ID %q does not look like station-ULID", id)
		}
		ids = append(ids, id)
	}
	recs, err := q.AppendBatch(ctx, []Entry{{Frame: []byte("b1")}, {Frame: []byte("b2")}})
	if err != nil || len(recs) != 2 || recs[0].Seq != 11 || recs[1].Seq != 12 {
		t.Fatalf("AppendBatch = %+v, %v", recs, err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	q = openTest(t, path, nil)
	pend, err := q.Pending(0)
	if err != nil || len(pend) != 12 {
		t.Fatalf("Pending after reopen: %d, %v", len(pend), err)
	}
	for i, r := range pend[:10] {
		if r.Seq != uint64(i+1) || r.ID != ids[i] || string(r.Frame) != fmt.Sprintf("frame-%d", i) || r.State != StatePending {
			t.Fatalf("record %d = %+v", i, r)
		}
	}
	if got, _ := q.Pending(3); len(got) != 3 || got[2].Seq != 3 {
		t.Fatalf("Pending(3) = %+v", got)
	}
	r, ok, err := q.Next()
	if err != nil || !ok || r.ID != ids[0] {
		t.Fatalf("Next = %+v %v %v", r, ok, err)
	}
	id, err := q.Append(ctx, Entry{Frame: []byte("after")})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := q.Get(id); r.Seq != 13 {
		t.Fatalf("sequence after reopen = %d, want 13", r.Seq)
	}
}

func TestMarkTransitions(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	q := openTest(t, filepath.Join(t.TempDir(), "q.db"), clock)
	app := func() ScanID {
		id, err := q.Append(ctx, Entry{Frame: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a, b, c := app(), app(), app()
	steps := []struct {
		id      ScanID
		to      State
		wantErr error
	}{
		{a, StatePending, ErrTransition},
		{a, StateDone, nil},
		{a, StateDone, nil}, // idempotent
		{a, StateNotice, ErrTransition},
		{b, StateNotice, nil},
		{b, StateDone, ErrTransition},
		{c, StateRejected, ErrTransition},
		{"st-1-nope", StateDone, ErrNotFound},
	}
	for i, s := range steps {
		_, err := q.Mark(ctx, s.id, Outcome{State: s.to, Detail: "d"})
		if !errors.Is(err, s.wantErr) {
			t.Fatalf("step %d: Mark(%s, %s) = %v, want %v", i, s.id, s.to, err, s.wantErr)
		}
	}
	ra, _ := q.Get(a)
	if ra.State != StateDone {
		t.Errorf("a = %+v", ra)
	}
	pend, _ := q.Pending(0)
	if len(pend) != 1 || pend[0].ID != c {
		t.Errorf("open records = %+v, want only c", pend)
	}
	if n, _ := q.Depth(); n != 1 {
		t.Errorf("Depth = %d", n)
	}
	clock.Add(90 * time.Second)
	if age, _ := q.OldestAge(); age != 90*time.Second {
		t.Errorf("OldestAge = %v", age)
	}
}

func TestRejectedEntry(t *testing.T) {
	ctx := context.Background()
	q := openTest(t, filepath.Join(t.TempDir(), "q.db"), nil)
	id, err := q.Append(ctx, Entry{Frame: []byte("junk"), Invalid: "not a GS1 element string"})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := q.Get(id)
	if r.State != StateRejected || r.Detail != "not a GS1 element string" {
		t.Errorf("record = %+v", r)
	}
	if n, _ := q.Depth(); n != 0 {
		t.Errorf("rejected record counted as open")
	}
}

func TestCompact(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	q := openTest(t, filepath.Join(t.TempDir(), "q.db"), clock)
	var ids []ScanID
	for range 2500 {
		ids = append(ids, ScanID(""))
	}
	recs, err := q.AppendBatch(ctx, make([]Entry, 2500))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		ids[i] = r.ID
	}
	// 0..2199 done on day 0, 2200..2299 notice on day 10, 2300..2399 open,
	// 2400..2499 done on day 10.
	for i := range 2200 {
		if _, err := q.Mark(ctx, ids[i], Outcome{State: StateDone}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(10 * 24 * time.Hour)
	for i := 2200; i < 2300; i++ {
		q.Mark(ctx, ids[i], Outcome{State: StateNotice, Detail: "recalled"})
	}
	for i := 2400; i < 2500; i++ {
		q.Mark(ctx, ids[i], Outcome{State: StateDone})
	}
	clock.Add(24 * time.Hour)
	n, err := q.Compact(ctx, 5*24*time.Hour)
	if err != nil || n != 2200 {
		t.Fatalf("Compact = %d, %v; want 2200", n, err)
	}
	if _, err := q.Get(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("compacted record still there: %v", err)
	}
	for _, i := range []int{2200, 2350, 2499} {
		if _, err := q.Get(ids[i]); err != nil {
			t.Errorf("record %d lost: %v", i, err)
		}
	}
	count := 0
	q.All(func(Record) bool { count++; return true })
	if count != 300 {
		t.Errorf("%d records left, want 300", count)
	}
	if d, _ := q.Depth(); d != 100 {
		t.Errorf("Depth = %d, want 100", d)
	}
	// A second compaction with a short retention removes the rest of the
	// terminal records, never open ones.
	n, _ = q.Compact(ctx, time.Hour)
	if n != 200 {
		t.Errorf("second Compact = %d, want 200", n)
	}
	if id, err := q.Append(ctx, Entry{}); err != nil {
		t.Fatal(err)
	} else if r, _ := q.Get(id); r.Seq != 2501 {
		t.Errorf("sequence reused after compaction: %d", r.Seq)
	}
}

func TestOpenGuards(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	q := openTest(t, path, nil)
	if _, err := Open(path, Options{Station: "st-1", LockTimeout: 50 * time.Millisecond}); err == nil {
		t.Fatal("second Open of a locked file succeeded")
	}
	q.Close()
	if _, err := Open(path, Options{Station: "other"}); err == nil || !regexpMatch(`belongs to station "st-1"`, err.Error()) {
		t.Fatalf("open for another station: %v", err)
	}
	if _, err := Open(path, Options{}); err == nil {
		t.Fatal("Open without station succeeded")
	}
	if _, err := q.Append(context.Background(), Entry{}); err == nil {
		t.Fatal("Append after Close succeeded")
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

func TestConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	q := openTest(t, filepath.Join(t.TempDir(), "q.db"), nil)
	var wg sync.WaitGroup
	const workers, each = 4, 50
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := q.Append(ctx, Entry{Frame: fmt.Appendf(nil, "%d-%d", w, i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // a reader and marker racing the appenders
		defer wg.Done()
		for range 50 {
			recs, _ := q.Pending(5)
			for _, r := range recs {
				q.Mark(ctx, r.ID, Outcome{State: StateDone})
			}
			q.Depth()
		}
	}()
	wg.Wait()
	seen := map[ScanID]bool{}
	var last uint64
	q.All(func(r Record) bool {
		if seen[r.ID] || r.Seq <= last {
			t.Errorf("duplicate or out of order: %+v", r)
		}
		seen[r.ID], last = true, r.Seq
		return true
	})
	if len(seen) != workers*each {
		t.Errorf("%d records, want %d", len(seen), workers*each)
	}
}

func TestDeliver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q := openTest(t, filepath.Join(t.TempDir(), "q.db"), nil)
	var mu sync.Mutex
	var order []string
	fails := 2
	cUnknown := false
	h := func(ctx context.Context, r Record) (Outcome, error) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, string(r.Frame))
		if string(r.Frame) == "b" && fails > 0 {
			fails--
			return Outcome{}, errors.New("ledger unreachable")
		}
		if string(r.Frame) == "c" && !cUnknown {
			cUnknown = true
			return Outcome{}, errors.New("commit status unknown") // retried: the ledger de-duplicates
		}
		if string(r.Frame) == "d" {
			return Outcome{State: StateNotice, Detail: "recalled"}, nil
		}
		return Outcome{State: StateDone}, nil
	}
	done := make(chan error, 1)
	go func() {
		done <- q.Deliver(ctx, h, DeliverOptions{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	}()
	for _, f := range []string{"a", "b", "c", "d"} {
		if _, err := q.Append(ctx, Entry{Frame: []byte(f)}); err != nil {
			t.Fatal(err)
		}
	}
	for {
		if n, _ := q.Depth(); n == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("delivery did not finish")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Deliver returned %v", err)
	}
	mu.Lock()
	got := fmt.Sprint(order)
	mu.Unlock()
	if got != "[a b b b c c d]" {
		t.Errorf("handler calls %s, want [a b b b c c d]", got)
	}
	var states []State
	q.All(func(r Record) bool { states = append(states, r.State); return true })
	if fmt.Sprint(states) != "[done done done notice]" {
		t.Errorf("states %v", states)
	}
}

func TestULID(t *testing.T) {
	var b [16]byte
	if s := encodeULID(b); s != "00000000000000000000000000" {
		t.Errorf("zero = %s", s)
	}
	for i := range b {
		b[i] = 0xff
	}
	if s := encodeULID(b); s != "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" {
		t.Errorf("max = %s", s)
	}
	// Known vector: 0x01 in the last byte.
	b = [16]byte{15: 1}
	if s := encodeULID(b); s != "00000000000000000000000001" {
		t.Errorf("one = %s", s)
	}
	// Time prefix orders lexically.
	src := &idSource{rand: zeroReader{}}
	a, _ := src.next(time.UnixMilli(1000))
	c, _ := src.next(time.UnixMilli(1001))
	if !(a < c) || a[:10] == c[:10] {
		t.Errorf("not time-ordered: %s %s", a, c)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
