package outbox

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const killChildEnv = "OUTBOX_KILL9_CHILD_PATH"

// TestKill9Child is the child half of TestKill9: it appends in a loop —
// single appends and batches of 8 alternately — and after each acknowledged
// append writes "ack <seq> <id>" to stdout, until it is killed.
func TestKill9Child(t *testing.T) {
	path := os.Getenv(killChildEnv)
	if path == "" {
		t.Skip("child process of TestKill9 only")
	}
	q, err := Open(path, Options{Station: "st-1"})
	if err != nil {
		fmt.Println("open error:", err)
		os.Exit(3)
	}
	ctx := context.Background()
	out := bufio.NewWriterSize(os.Stdout, 4096)
	for i := 0; ; i++ {
		var recs []Record
		if i%2 == 0 {
			id, err := q.Append(ctx, Entry{Scanner: "child", Frame: fmt.Appendf(nil, "frame %d", i)})
			if err != nil {
				fmt.Println("append error:", err)
				os.Exit(4)
			}
			r, err := q.Get(id)
			if err != nil {
				os.Exit(5)
			}
			recs = []Record{r}
		} else {
			entries := make([]Entry, 8)
			for j := range entries {
				entries[j] = Entry{Scanner: "child", Frame: fmt.Appendf(nil, "frame %d.%d", i, j)}
			}
			recs, err = q.AppendBatch(ctx, entries)
			if err != nil {
				fmt.Println("append error:", err)
				os.Exit(4)
			}
		}
		if i%5 == 0 && recs[0].Seq > 1 { // mark some as done too, racing the kill
			q.Mark(ctx, recs[0].ID, Outcome{State: StateDone})
		}
		for _, r := range recs {
			fmt.Fprintf(out, "ack %d %s\n", r.Seq, r.ID)
		}
		out.Flush() // write(2) to the pipe: survives our death
	}
}

// TestKill9 SIGKILLs a child process appending in a loop, three times, and
// checks after each kill that every acknowledged append is in the queue,
// nothing is duplicated, sequence numbers are strictly increasing and the
// queue is usable.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "q.db")
	acked := map[ScanID]uint64{}
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$", "-test.count=1")
		cmd.Env = append(os.Environ(), killChildEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		n := 0
		target := 300 + round*137 // kill at a different point each round
		killed := false
		deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
		for sc.Scan() {
			line := sc.Text()
			f := strings.Fields(line)
			if len(f) != 3 || f[0] != "ack" {
				t.Fatalf("child: %s", line)
			}
			seq, _ := strconv.ParseUint(f[1], 10, 64)
			if _, dup := acked[ScanID(f[2])]; dup {
				t.Fatalf("child acknowledged %s twice", f[2])
			}
			acked[ScanID(f[2])] = seq
			n++
			if n == target && !killed {
				time.Sleep(time.Duration(round) * 700 * time.Microsecond) // vary the phase
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true // keep reading: acks already in the pipe count
			}
		}
		deadline.Stop()
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v, not SIGKILL", round, err)
		}

		q, err := Open(path, Options{Station: "st-1"})
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		stored := map[ScanID]uint64{}
		var last uint64
		err = q.All(func(r Record) bool {
			if _, dup := stored[r.ID]; dup {
				t.Errorf("round %d: duplicate record %s", round, r.ID)
			}
			if r.Seq <= last {
				t.Errorf("round %d: sequence %d after %d", round, r.Seq, last)
			}
			stored[r.ID], last = r.Seq, r.Seq
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		for id, seq := range acked {
			if s, ok := stored[id]; !ok || s != seq {
				t.Fatalf("round %d: acknowledged %s (seq %d) missing after kill -9 (found %d, %v)", round, id, seq, s, ok)
			}
		}
		// At most one unacknowledged batch (8) can have committed before
		// its ack was written.
		if extra := len(stored) - len(acked); extra < 0 || extra > 8 {
			t.Errorf("round %d: %d stored vs %d acknowledged", round, len(stored), len(acked))
		}
		// The queue is usable: appends continue the sequence.
		id, err := q.Append(context.Background(), Entry{Frame: []byte("after kill")})
		if err != nil {
			t.Fatalf("round %d: append after reopen: %v", round, err)
		}
		r, _ := q.Get(id)
		if r.Seq <= last {
			t.Errorf("round %d: sequence %d reused (last %d)", round, r.Seq, last)
		}
		acked[id] = r.Seq
		// Records the child never acknowledged are adopted too, so the
		// next round's count check holds.
		for id, seq := range stored {
			acked[id] = seq
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: killed after %d acks; %d records intact", round, n, len(stored)+1)
	}
}
