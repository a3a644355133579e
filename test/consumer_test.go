//go:build integration

package test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/test/testnet"
)

const consumerEnv = "PHARMATRACE_TEST_CONSUMER_OUT"

// lineCheckpointer keeps the consumer's checkpoint in its own output: the
// output file has one line per processed event ("block index txid name"),
// appended and fsynced by the handler, so effect and checkpoint are one
// write. Load reads the last complete line and cuts off a torn tail.
type lineCheckpointer struct {
	f *os.File
}

func openLines(path string) (*lineCheckpointer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	return &lineCheckpointer{f: f}, nil
}

func (l *lineCheckpointer) Load(context.Context) (gateway.Checkpoint, error) {
	b, err := os.ReadFile(l.f.Name())
	if err != nil {
		return gateway.Checkpoint{}, err
	}
	complete := strings.LastIndexByte(string(b), '\n') + 1
	if err := l.f.Truncate(int64(complete)); err != nil {
		return gateway.Checkpoint{}, err
	}
	if _, err := l.f.Seek(int64(complete), 0); err != nil {
		return gateway.Checkpoint{}, err
	}
	lines := strings.Split(strings.TrimSpace(string(b[:complete])), "\n")
	if lines[0] == "" {
		return gateway.Checkpoint{}, nil
	}
	var cp gateway.Checkpoint
	var name string
	if _, err := fmt.Sscan(lines[len(lines)-1], &cp.Block, &cp.Index, &cp.TxID, &name); err != nil {
		return gateway.Checkpoint{}, fmt.Errorf("last line %q: %w", lines[len(lines)-1], err)
	}
	return cp, nil
}

// Save is a no-op: apply already wrote the position with the effect.
func (l *lineCheckpointer) Save(context.Context, gateway.Checkpoint) error { return nil }

func (l *lineCheckpointer) apply(_ context.Context, ev gateway.Event) error {
	if _, err := fmt.Fprintf(l.f, "%d %d %s %s\n", ev.Block, ev.Index, ev.TxID, ev.Name); err != nil {
		return err
	}
	return l.f.Sync()
}

// runConsumer is the child process: stream events from the block in
// PHARMATRACE_TEST_CONSUMER_FROM (first start) or from the checkpoint in
// its output file, as the regulator, until killed.
func runConsumer(out string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "consumer:", err); return 1 }
	spec, err := netspec.Load(os.Getenv("PHARMATRACE_TEST_SPEC"))
	if err != nil {
		return fail(err)
	}
	l, err := netspec.NewLayout(spec, os.Getenv("PHARMATRACE_RUN_DIR"))
	if err != nil {
		return fail(err)
	}
	n := &testnet.Network{Layout: l}
	cfg, err := n.GatewayConfig("Regulator", "inspector")
	if err != nil {
		return fail(err)
	}
	c, err := gateway.Dial(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	cp, err := openLines(out)
	if err != nil {
		return fail(err)
	}
	var opts []gateway.EventsOption
	if v := os.Getenv("PHARMATRACE_TEST_CONSUMER_FROM"); v != "" {
		from, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fail(err)
		}
		opts = append(opts, gateway.FromBlock(from)) // first start only: resumes use the checkpoint
	}
	err = c.Events(ctx, cp, cp.apply, opts...)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fail(err)
	}
	return 0
}

// startConsumer starts the consumer child; from is its first block on the
// first start, nil on a restart (it resumes from its checkpoint).
func startConsumer(t *testing.T, n *testnet.Network, out string, from *uint64) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), consumerEnv+"="+out,
		"PHARMATRACE_TEST_SPEC="+n.RunSpec(),
		"PHARMATRACE_RUN_DIR="+n.Dir)
	if from != nil {
		cmd.Env = append(cmd.Env, "PHARMATRACE_TEST_CONSUMER_FROM="+strconv.FormatUint(*from, 10))
	}
	logf, err := os.OpenFile(out+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	return cmd
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// Kill an event consumer (SIGKILL) in the middle of a stream and restart
// it: it resumes from its checkpoint, and what it consumed equals the
// ledger's events over the same range — none missing, none twice.
func TestEventConsumerKilledMidStreamResumesExactlyOnce(t *testing.T) {
	n := testnet.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mfr, _ := n.Org("Manufacturer")
	from, err := n.Height(ctx, n.PeerNode(mfr))
	if err != nil {
		t.Fatal(err)
	}
	c := n.Client(t, "Manufacturer", "mfr-alpha", nil)
	out := filepath.Join(t.TempDir(), "consumed.txt")
	child := startConsumer(t, n, out, &from)

	const total = 40
	want := map[string]bool{}
	for i := range total {
		res, err := c.RegisterProduct(ctx, productRequest(randomGTIN("4012345")))
		if err != nil {
			t.Fatal(err)
		}
		want[res.TxID] = true
		if i == total/2 {
			testnet.Eventually(t, 30*time.Second, "consumer has processed events", func() error {
				if len(readLines(t, out)) == 0 {
					return errors.New("nothing consumed yet")
				}
				return nil
			})
			if err := child.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = child.Wait()
			t.Logf("consumer killed after %d lines; restarting", len(readLines(t, out)))
			child = startConsumer(t, n, out, nil)
		}
	}

	ledger := replayEvents(t, c, from)
	testnet.Eventually(t, 60*time.Second, "restarted consumer catches up", func() error {
		if got := len(readLines(t, out)); got < len(ledger) {
			return fmt.Errorf("%d of %d events consumed", got, len(ledger))
		}
		return nil
	})
	_ = child.Process.Signal(syscall.SIGTERM)
	lines := readLines(t, out)
	seen := map[string]bool{}
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) != 4 {
			t.Fatalf("line %d %q is torn", i, line)
		}
		if seen[f[2]] {
			t.Errorf("event of tx %s consumed twice", f[2])
		}
		seen[f[2]] = true
	}
	// The ledger's events over the range (the replay stops before its own
	// end marker, so the consumer may have one more: that marker).
	for _, ev := range ledger {
		if !seen[ev.TxID] {
			t.Errorf("ledger event of tx %s (block %d) was not consumed", ev.TxID, ev.Block)
		}
	}
	for tx := range want {
		if !seen[tx] {
			t.Errorf("our transaction %s was not consumed", tx)
		}
	}
	if extra := len(lines) - len(ledger); extra < 0 || extra > 1 {
		t.Errorf("consumed %d events, ledger has %d in the range (+1 end marker at most)", len(lines), len(ledger))
	}
	t.Logf("ledger %d events, consumed %d, no duplicate", len(ledger), len(lines))
}
