//go:build integration

package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/scanner-agent/simscan"
	"github.com/pharmatrace/pharmatrace/test/testnet"
	"github.com/pharmatrace/pharmatrace/trace"
)

// stock is a lot of packs commissioned by mfr-alpha, shipped to and
// received by a pharmacy site.
type stock struct {
	gtin, lot, expiry string
	serials           []string
}

func (s stock) frame(i int) []byte {
	return []byte(fmt.Sprintf("]d2\x1d01%s17%s10%s\x1d21%s", s.gtin, s.expiry, s.lot, s.serials[i]))
}

func newStock(t *testing.T, n *testnet.Network, site string, count int) stock {
	t.Helper()
	mfr := newActor(t, n, "Manufacturer", "mfr-alpha")
	ph := newActor(t, n, "Pharmacy", site)
	tag := runTag()
	s := stock{gtin: randomGTIN("4012345"), lot: "A" + tag, expiry: "301231"}
	submit[trace.ProductResult](t, mfr, "RegisterProduct", productRequest(s.gtin))
	for i := range count {
		s.serials = append(s.serials, fmt.Sprintf("AG%s%03d", tag, i))
	}
	c := submit[trace.CommissionPacksResult](t, mfr, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: header(),
		GTIN: s.gtin, Lot: s.lot, Expiry: s.expiry, Serials: s.serials})
	wantOutcome(t, "commission", c.Outcome, trace.StatusOK, "")
	asn := "ASN-AG-" + tag
	sh := submit[trace.ShipmentResult](t, mfr, "Ship", trace.ShipRequest{RequestHeader: header(), ShipmentID: asn, To: ph.party(), Packs: refs(s.gtin, s.serials...)})
	wantOutcome(t, "ship", sh.Outcome, trace.StatusOK, "")
	rc := submit[trace.ReceiveResult](t, ph, "Receive", trace.ReceiveRequest{RequestHeader: header(), ShipmentID: asn, Packs: refs(s.gtin, s.serials...)})
	wantOutcome(t, "receive", rc.Outcome, trace.StatusOK, "")
	return s
}

// agent is a scanner-agent process with a simulated scanner on a real
// pseudo-terminal, configured as a dispensing counter of a pharmacy site.
type agent struct {
	t    *testing.T
	n    *testnet.Network
	dir  string
	cfg  string
	sim  *simscan.Simulator
	cmd  *exec.Cmd
	runs int
}

func newAgent(t *testing.T, n *testnet.Network, site string) *agent {
	t.Helper()
	dir := t.TempDir()
	sim, err := simscan.New(simscan.Options{Link: filepath.Join(dir, "scanner"), Suffix: []byte("\r"), Rate: 50})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	cfg, err := fabconn.WriteStationConfig(n.Layout, "Pharmacy", site, site, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{t: t, n: n, dir: dir, cfg: cfg, sim: sim}
	t.Cleanup(a.stop)
	a.start()
	return a
}

func (a *agent) start() {
	a.t.Helper()
	a.runs++
	a.cmd = exec.Command(filepath.Join(a.n.Root, "bin", "scanner-agent"), "run", "-config", a.cfg)
	out, err := os.Create(filepath.Join(a.dir, fmt.Sprintf("counter-%d.txt", a.runs)))
	if err != nil {
		a.t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(a.dir, fmt.Sprintf("agent-%d.log", a.runs)))
	if err != nil {
		a.t.Fatal(err)
	}
	a.cmd.Stdout, a.cmd.Stderr = out, logf
	if err := a.cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	// Started when its log says so.
	testnet.Eventually(a.t, 30*time.Second, "agent starts", func() error {
		b, _ := os.ReadFile(logf.Name())
		if !strings.Contains(string(b), "station running") {
			return fmt.Errorf("log so far: %s", b)
		}
		return nil
	})
}

func (a *agent) kill9() {
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	_ = a.cmd.Wait()
}

func (a *agent) stop() {
	if a.cmd != nil && a.cmd.ProcessState == nil {
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		_ = a.cmd.Wait()
	}
	if a.t.Failed() {
		for r := 1; r <= a.runs; r++ {
			b, _ := os.ReadFile(filepath.Join(a.dir, fmt.Sprintf("agent-%d.log", r)))
			a.t.Logf("agent log (run %d):\n%s", r, tailLines(string(b), 30))
		}
	}
}

func tailLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// lines returns everything shown at the counter, over all runs.
func (a *agent) lines() []string {
	var out []string
	for r := 1; r <= a.runs; r++ {
		b, _ := os.ReadFile(filepath.Join(a.dir, fmt.Sprintf("counter-%d.txt", r)))
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

func (a *agent) count(verdict string) int {
	n := 0
	for _, l := range a.lines() {
		if strings.Contains(l, " "+verdict+" ") {
			n++
		}
	}
	return n
}

func (a *agent) waitFor(what string, timeout time.Duration, ok func() bool) {
	a.t.Helper()
	testnet.Eventually(a.t, timeout, what, func() error {
		if ok() {
			return nil
		}
		return fmt.Errorf("counter shows:\n%s", strings.Join(a.lines(), "\n"))
	})
}

// typeFrames types frames into the simulated scanner (in the background
// when async) and returns when they are typed.
func (a *agent) typeFrames(frames [][]byte) {
	a.t.Helper()
	if _, err := a.sim.Run(context.Background(), slices.Values(frames), nil); err != nil {
		a.t.Fatalf("simulated scanner: %v", err)
	}
}

// dispenseEvents replays the ledger from block from and returns, in
// ledger order, the serials of s dispensed by committed Dispense events.
func dispenseEvents(t *testing.T, c *gateway.Client, from uint64, s stock) []string {
	t.Helper()
	var out []string
	for _, ev := range replayEvents(t, c, from) {
		if ev.Name != trace.TxDispense {
			continue
		}
		var e trace.Event
		if err := json.Unmarshal(ev.Payload, &e); err != nil {
			t.Fatal(err)
		}
		if !e.Outcome.OK() {
			continue
		}
		for _, p := range e.Packs {
			if p.GTIN == s.gtin && p.State == trace.StateInactive && p.Reason == trace.ReasonDispensed {
				out = append(out, p.Serial)
			}
		}
	}
	return out
}

// A pharmacy station dispenses a commissioned pack (OK); a second
// station at another site dispenses the same pack (REFUSED, and a clone
// anomaly on the ledger).
func TestAgentDispenseThenCloneAtSecondStation(t *testing.T) {
	n := testnet.Get(t)
	s := newStock(t, n, "pharm-central", 1)
	a := newAgent(t, n, "pharm-central")
	a.typeFrames([][]byte{s.frame(0)})
	a.waitFor("dispense recorded at the first station", 30*time.Second, func() bool { return a.count("DONE") == 1 })
	if a.count("OK") != 1 {
		t.Fatalf("first station showed %v, want an OK verdict", a.lines())
	}

	b := newAgent(t, n, "pharm-station")
	b.typeFrames([][]byte{s.frame(0)})
	b.waitFor("second station refuses", 30*time.Second, func() bool {
		for _, l := range b.lines() {
			if strings.Contains(l, "REFUSED") && strings.Contains(l, "A24") {
				return true
			}
		}
		return false
	})
	reg := newActor(t, n, "Regulator", "inspector")
	// Filters apply within a page: on a ledger holding many anomalies the
	// clone may be on any page.
	station, _ := n.User("Pharmacy", "pharm-station")
	found, pages := false, 0
	for q := (trace.ListAnomaliesQuery{Code: trace.AnomalyClone, GTIN: s.gtin, PageSize: trace.MaxPageSize}); !found; pages++ {
		list := evaluate[trace.ListAnomaliesResult](t, reg, "ListAnomalies", q)
		for _, an := range list.Anomalies {
			found = found || (an.Pack != nil && an.Pack.Serial == s.serials[0] && an.Site == station.GLN)
		}
		if q.Bookmark = list.Bookmark; q.Bookmark == "" {
			break
		}
	}
	if !found {
		t.Fatalf("no CLONE anomaly for %s at %s on the ledger (%d pages read)", s.serials[0], station.GLN, pages)
	}
}

// The agent killed with SIGKILL in the middle of a burst and restarted:
// every scan ends on the ledger exactly once.
func TestAgentKilledMidBurstEveryScanOnceOnLedger(t *testing.T) {
	n := testnet.Get(t)
	const total = 40
	s := newStock(t, n, "pharm-central", total)
	ph := n.Client(t, "Manufacturer", "mfr-alpha", nil) // replayEvents marks its end with a product registration
	mfr, _ := n.Org("Manufacturer")
	from, err := n.Height(context.Background(), n.PeerNode(mfr))
	if err != nil {
		t.Fatal(err)
	}
	a := newAgent(t, n, "pharm-central")
	frames := make([][]byte, total)
	for i := range frames {
		frames[i] = s.frame(i)
	}
	a.typeFrames(frames[:total/2])
	a.waitFor("some scans recorded", 30*time.Second, func() bool { return a.count("DONE") >= 5 })
	a.kill9()
	t.Logf("agent killed after %d DONE of %d typed", a.count("DONE"), total/2)
	a.start()
	a.typeFrames(frames[total/2:])

	testnet.Eventually(t, 90*time.Second, "every scan on the ledger", func() error {
		got := dispenseEvents(t, ph, from, s)
		if len(got) < total {
			return fmt.Errorf("%d of %d dispensed; counter:\n%s", len(got), total, strings.Join(a.lines(), "\n"))
		}
		return nil
	})
	got := dispenseEvents(t, ph, from, s)
	seen := map[string]int{}
	for _, serial := range got {
		seen[serial]++
	}
	for _, serial := range s.serials {
		if seen[serial] != 1 {
			t.Errorf("pack %s dispensed %d times on the ledger, want exactly once", serial, seen[serial])
		}
	}
	for _, l := range a.lines() {
		if strings.Contains(l, "REFUSED") || strings.Contains(l, "NOTICE") {
			t.Errorf("counter line %q: a retried scan must return its original outcome", l)
		}
	}
}

// The ledger unreachable (every peer stopped): scans are accepted and
// shown as queued; when the network is back they are all recorded, in the
// order they were scanned.
func TestAgentOfflineQueuesThenSyncsInOrder(t *testing.T) {
	n := testnet.Get(t)
	const total = 10
	s := newStock(t, n, "pharm-central", total)
	mfr, _ := n.Org("Manufacturer")
	from, err := n.Height(context.Background(), n.PeerNode(mfr))
	if err != nil {
		t.Fatal(err)
	}
	a := newAgent(t, n, "pharm-central")
	peers := n.PeerNodes()
	for _, p := range peers {
		n.Fabnet(t, "stop", p.Name)
	}
	restarted := false
	restart := func() {
		if restarted {
			return
		}
		restarted = true
		for _, p := range peers {
			n.Fabnet(t, "start", p.Name)
		}
		for _, p := range peers {
			n.StartPeer(t, p)
		}
	}
	t.Cleanup(restart)
	frames := make([][]byte, total)
	for i := range frames {
		frames[i] = s.frame(i)
	}
	a.typeFrames(frames)
	a.waitFor("every scan queued", 30*time.Second, func() bool { return a.count("QUEUED") >= total })
	if d := a.count("DONE"); d != 0 {
		t.Fatalf("%d scans recorded while every peer was down", d)
	}
	restart()
	a.waitFor("queued scans synced", 120*time.Second, func() bool { return a.count("DONE") == total })

	ph := n.Client(t, "Manufacturer", "mfr-alpha", nil) // replayEvents marks its end with a product registration
	got := dispenseEvents(t, ph, from, s)
	if !slices.Equal(got, s.serials) {
		t.Fatalf("ledger order %v, scan order %v", got, s.serials)
	}
}
