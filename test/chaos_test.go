//go:build integration

package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/test/testnet"
	"github.com/pharmatrace/pharmatrace/trace"
)

// TestChaos is the project's own chaos soak (issue 21): pharmacists'
// clients of package gateway verify and dispense packs at two pharmacy
// sites (one in ten dispenses deliberately repeats, at the other site, a
// pack already dispensed) while peers, raft leaders, two orderers at once
// (long form) and chaincode servers are killed with SIGKILL and started
// again. Then it checks against the ledger: every acknowledged request is
// there exactly once with its outcome and transaction; every errored
// request is there at most once and its request ID answers; no pack is
// dispensed twice; every peer is at the same height and answers the same.
// It prints the recovery time of each fault, latency outside and inside
// faults and the committed throughput per 5 s.
//
// The short form (default, part of `make test`) runs about two and a half
// minutes; `make chaos` runs the long form (PHARMATRACE_CHAOS=long, 10
// minutes of load, PHARMATRACE_CHAOS_DURATION to change it). Only
// invariant violations fail the test; the availability figures are
// reported.
func TestChaos(t *testing.T) {
	cfg := chaosConfigFromEnv(t)
	n := testnet.Get(t)
	t.Logf("chaos %s: %s of load, %d clients, %d packs, request budget %s", cfg.name, cfg.load, cfg.workers, cfg.packs, cfg.budget)
	start := time.Now()

	ch := newChaos(t, n, cfg)
	ch.setup()
	t.Logf("setup: %d packs at %s and %s in %s", cfg.packs, ch.sites[0].name, ch.sites[1].name, time.Since(start).Round(time.Millisecond))

	loadStart := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch.worker(w, stop)
		}()
	}
	ch.inject(loadStart.Add(cfg.load))
	close(stop)
	wg.Wait()
	ch.healAll()
	t.Logf("load and faults done in %s; checking the ledger", time.Since(loadStart).Round(time.Millisecond))

	violations := ch.check()
	ch.report(loadStart)
	for _, v := range violations {
		t.Error(v)
	}
	t.Logf("chaos %s: %d invariant violations, %s in all", cfg.name, len(violations), time.Since(start).Round(time.Second))
}

type chaosConfig struct {
	name    string
	load    time.Duration // how long clients run and faults are injected
	workers int
	packs   int           // commissioned in all, half per pharmacy site
	budget  time.Duration // deadline of one request
	// faults in order, repeated while load lasts; each is healed after
	// heal (plus up to healJitter) and followed by gap.
	faults     []string
	heal       time.Duration
	healJitter time.Duration
	gap        time.Duration
}

func chaosConfigFromEnv(t *testing.T) chaosConfig {
	short := chaosConfig{
		name: "short", load: 80 * time.Second, workers: 8, packs: 500, budget: 20 * time.Second,
		faults: []string{"leader", "peer-home", "chaincode", "leader"},
		heal:   4 * time.Second, healJitter: 2 * time.Second, gap: 12 * time.Second,
	}
	cfg := short
	if os.Getenv("PHARMATRACE_CHAOS") == "long" {
		cfg = chaosConfig{
			name: "long", load: 10 * time.Minute, workers: 16, packs: 3000, budget: 30 * time.Second,
			faults: []string{"leader", "peer-home", "quorum", "chaincode", "leader", "peer-other", "quorum", "chaincode"},
			heal:   5 * time.Second, healJitter: 10 * time.Second, gap: 10 * time.Second,
		}
	}
	if v := os.Getenv("PHARMATRACE_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > time.Hour {
			t.Fatalf("PHARMATRACE_CHAOS_DURATION=%q: want a duration up to 1h", v)
		}
		cfg.load = d
	}
	// PHARMATRACE_CHAOS_FAULTS=leader,quorum picks the faults (leader,
	// quorum, peer-home, peer-other, chaincode), e.g. to measure one kind.
	if v := os.Getenv("PHARMATRACE_CHAOS_FAULTS"); v != "" {
		cfg.faults = strings.Split(v, ",")
		cfg.name += " (" + v + ")"
	}
	return cfg
}

type chaosSite struct {
	name   string // user, e.g. pharm-central
	actor  *actor
	packs  []string
	next   atomic.Int64
	client []*gateway.Client // one per worker of the site
}

// chaosRecord is one request as the client saw it.
type chaosRecord struct {
	kind      string // "dispense" or "double" (a pack dispensed at the other site)
	worker    int
	site      int
	requestID string
	serial    string
	start     time.Time
	end       time.Time
	status    trace.OutcomeStatus // ok or refused; "" when the call failed
	code      trace.Code
	txID      string
	endpoint  string // that confirmed the outcome
	fromLook  bool
	verified  time.Time // the verify returned
	verifyErr error
	err       error
}

type chaosFault struct {
	kind      string
	nodes     []string
	at, until time.Time // killed, started again
	healed    time.Time // the start returned (the node serves again)
	restarts  int       // orderers the raft watchdog had to restart
}

type chaos struct {
	t       *testing.T
	n       *testnet.Network
	cfg     chaosConfig
	gtin    string
	lot     string
	sites   [2]*chaosSite
	home    string // the pharmacists' own peer
	reg     *prometheus.Registry
	metrics *gateway.Metrics

	mu        sync.Mutex
	records   []*chaosRecord
	dispensed [2][]string // serials dispensed ok at each site
	faults    []*chaosFault
	down      map[string]bool
	clientLog string
}

func newChaos(t *testing.T, n *testnet.Network, cfg chaosConfig) *chaos {
	reg := prometheus.NewRegistry()
	m, err := gateway.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	ph, _ := n.Org("Pharmacy")
	return &chaos{t: t, n: n, cfg: cfg, reg: reg, metrics: m, home: n.PeerNode(ph).Address, down: map[string]bool{}}
}

// setup registers a product, commissions the packs and delivers half to
// each pharmacy site, and dials one gateway client per worker.
func (c *chaos) setup() {
	t, n := c.t, c.n
	mfr := newActor(t, n, "Manufacturer", "mfr-alpha")
	c.gtin, c.lot = randomGTIN("4012345"), "CH"+runTag()
	wantOutcome(t, "register product", submit[trace.ProductResult](t, mfr, "RegisterProduct", productRequest(c.gtin)).Outcome, trace.StatusOK, "")
	for i, user := range []string{"pharm-central", "pharm-station"} {
		s := &chaosSite{name: user, actor: newActor(t, n, "Pharmacy", user)}
		for k := range c.cfg.packs / 2 {
			s.packs = append(s.packs, fmt.Sprintf("%s%c%05d", c.lot, 'A'+i, k))
		}
		for from := 0; from < len(s.packs); from += trace.DefaultMaxCommission {
			batch := s.packs[from:min(from+trace.DefaultMaxCommission, len(s.packs))]
			wantOutcome(t, "commission", submit[trace.CommissionPacksResult](t, mfr, "CommissionPacks", trace.CommissionPacksRequest{
				RequestHeader: header(), GTIN: c.gtin, Lot: c.lot, Expiry: "301231", Serials: batch}).Outcome, trace.StatusOK, "")
		}
		asn := fmt.Sprintf("ASN-%s-%d", c.lot, i)
		wantOutcome(t, "ship", submit[trace.ShipmentResult](t, mfr, "Ship", trace.ShipRequest{RequestHeader: header(), ShipmentID: asn, To: s.actor.party(), Packs: refs(c.gtin, s.packs...)}).Outcome, trace.StatusOK, "")
		wantOutcome(t, "receive", submit[trace.ReceiveResult](t, s.actor, "Receive", trace.ReceiveRequest{RequestHeader: header(), ShipmentID: asn, Packs: refs(c.gtin, s.packs...)}).Outcome, trace.StatusOK, "")
		c.sites[i] = s
	}
	// The clients' logs go to a file beside the network's.
	logPath := filepath.Join(n.Dir, "logs", "chaos-clients.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	t.Logf("client logs: %s", logPath)
	c.clientLog = logPath
	logger := slog.New(slog.NewTextHandler(f, nil))
	for w := range c.cfg.workers {
		s := c.sites[w%2]
		s.client = append(s.client, n.Client(t, "Pharmacy", s.name, nil, gateway.WithLogger(logger.With("client", w)), gateway.WithMetrics(c.metrics)))
	}
}

// worker verifies and dispenses packs of its site, paced so that the packs
// last the whole load, until stop.
func (c *chaos) worker(w int, stop <-chan struct{}) {
	site := w % 2
	s := c.sites[site]
	cl := s.client[w/2]
	perWorker := max(c.cfg.packs/c.cfg.workers, 1)
	pace := c.cfg.load / time.Duration(perWorker) * 9 / 10
	rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(rng.Int64N(int64(pace))) + pace/2):
		}
		r := &chaosRecord{kind: "dispense", worker: w, site: site, requestID: newRequestID()}
		if rng.IntN(10) == 0 {
			c.mu.Lock()
			other := c.dispensed[1-site]
			if len(other) > 0 {
				r.kind, r.serial = "double", other[rng.IntN(len(other))]
			}
			c.mu.Unlock()
		}
		if r.serial == "" {
			i := int(s.next.Add(1)) - 1
			if i >= len(s.packs) {
				continue // this site is out of packs; doubles go on
			}
			r.serial = s.packs[i]
		}
		c.do(cl, r)
	}
}

func (c *chaos) do(cl *gateway.Client, r *chaosRecord) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.budget)
	defer cancel()
	scan := trace.Scan{GTIN: c.gtin, Serial: r.serial, Lot: c.lot, Expiry: "301231"}
	r.start = time.Now()
	// A failed verdict at the counter does not stop the dispense here: the
	// ledger decides.
	_, r.verifyErr = cl.Verify(ctx, trace.VerifyRequest{Scan: scan})
	r.verified = time.Now()
	var rc gateway.Receipt
	res, err := cl.Dispense(ctx, trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: r.requestID}, Scan: scan}, gateway.WithReceipt(&rc))
	r.end = time.Now()
	r.err, r.endpoint, r.fromLook = err, rc.Endpoint, rc.FromLookup
	if err == nil {
		r.status, r.code, r.txID = res.Status, res.Code, res.TxID
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r)
	if r.kind == "dispense" && r.status == trace.StatusOK {
		c.dispensed[r.site] = append(c.dispensed[r.site], r.serial)
	}
}

// inject runs the fault schedule until end: kill, wait, start again, gap.
func (c *chaos) inject(end time.Time) {
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	pause := func(d time.Duration) bool {
		if time.Until(end) < d {
			time.Sleep(max(time.Until(end), 0))
			return false
		}
		time.Sleep(d)
		return true
	}
	if !pause(c.cfg.gap) {
		return
	}
	for i := 0; ; i++ {
		kind := c.cfg.faults[i%len(c.cfg.faults)]
		f := &chaosFault{kind: kind, nodes: c.victims(kind, rng)}
		for _, nd := range f.nodes {
			c.fabnet("kill", nd)
		}
		f.at = time.Now() // every node of the fault is down
		c.mu.Lock()
		c.faults = append(c.faults, f)
		c.mu.Unlock()
		time.Sleep(c.cfg.heal + time.Duration(rng.Int64N(int64(c.cfg.healJitter)+1)))
		f.until = time.Now()
		for _, nd := range f.nodes {
			f.restarts += c.start(nd)
		}
		f.healed = time.Now()
		c.t.Logf("fault %d %s %v: down %s", i+1, kind, f.nodes, f.until.Sub(f.at).Round(100*time.Millisecond))
		if !pause(c.cfg.gap) {
			return
		}
	}
}

// victims picks the nodes a fault kills.
func (c *chaos) victims(kind string, rng *rand.Rand) []string {
	pick := func(ns []string) string { return ns[rng.IntN(len(ns))] }
	var peers, others, ccs []string
	for i := range c.n.Orgs {
		o := &c.n.Orgs[i]
		peers = append(peers, c.n.PeerNode(o).Name)
		ccs = append(ccs, "cc."+o.Key())
		if o.Name != "Pharmacy" {
			others = append(others, c.n.PeerNode(o).Name)
		}
	}
	ph, _ := c.n.Org("Pharmacy")
	switch kind {
	case "leader":
		return []string{c.leader()}
	case "quorum": // the leader and one follower: no quorum until one is back
		l := c.leader()
		var f []string
		for _, o := range c.n.OrdererNodes() {
			if o.Name != l {
				f = append(f, o.Name)
			}
		}
		return []string{l, pick(f)}
	case "peer-home":
		return []string{c.n.PeerNode(ph).Name}
	case "peer-other":
		return []string{pick(others)}
	case "chaincode":
		return []string{pick(ccs)}
	}
	c.t.Fatalf("unknown fault %q", kind)
	return nil
}

func (c *chaos) leader() string {
	out, err := c.fabnetErr("leader")
	if err != nil {
		c.t.Fatalf("fabnet leader: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

func (c *chaos) fabnet(cmd, node string) {
	if out, err := c.fabnetErr(cmd, node); err != nil {
		c.t.Fatalf("fabnet %s %s: %v\n%s", cmd, node, err, out)
	}
	c.mu.Lock()
	c.down[node] = cmd == "kill"
	c.mu.Unlock()
}

// start starts node again and returns how many times the raft watchdog
// restarted a stuck orderer.
func (c *chaos) start(node string) int {
	// Bounded retries: a start fails when its port is briefly taken (other
	// networks share the machine).
	var out string
	var err error
	for try := 1; try <= 3; try++ {
		if out, err = c.fabnetErr("start", node); err == nil {
			break
		}
		c.t.Logf("fabnet start %s, try %d: %v", node, try, firstLine(out))
		time.Sleep(2 * time.Second)
	}
	if err != nil {
		c.t.Fatalf("fabnet start %s: %v\n%s", node, err, out)
	}
	c.mu.Lock()
	c.down[node] = false
	c.mu.Unlock()
	return strings.Count(out, "stuck replaying raft config changes")
}

func (c *chaos) fabnetErr(args ...string) (string, error) {
	return c.n.FabnetOutput(args...)
}

// healAll starts whatever is still down.
func (c *chaos) healAll() {
	c.mu.Lock()
	var down []string
	for nd, d := range c.down {
		if d {
			down = append(down, nd)
		}
	}
	c.mu.Unlock()
	for _, nd := range down {
		c.start(nd)
	}
}

// check verifies the invariants against the ledger and returns the
// violations.
func (c *chaos) check() []string {
	t, n := c.t, c.n
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var bad []string
	violation := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }

	// All peers at one height (load has stopped; give gossip time).
	peers := c.peers()
	var heights []uint64
	testnet.Eventually(t, 90*time.Second, "every peer at the same height", func() error {
		heights = heights[:0]
		for _, p := range peers {
			h, err := n.Height(ctx, p)
			if err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
			heights = append(heights, h)
		}
		if slices.Min(heights) != slices.Max(heights) {
			return fmt.Errorf("heights %v", heights)
		}
		return nil
	})
	t.Logf("every peer at height %d", heights[0])

	byPack := map[string][]*chaosRecord{}
	committedErr, acked, errored := 0, 0, 0
	for _, r := range c.records {
		byPack[r.serial] = append(byPack[r.serial], r)
		// A request ID belongs to the caller that used it: look it up as
		// that site's own user.
		cl := c.sites[r.site].client[0]
		gr, err := cl.GetRequest(ctx, trace.RequestQuery{RequestID: r.requestID})
		if err != nil {
			violation("request %s: not discoverable by request ID: %v", r.requestID, err)
			continue
		}
		if r.status == "" {
			errored++
			if gr.Found {
				committedErr++
			}
			continue
		}
		acked++
		if !gr.Found || gr.Request.TxID != r.txID {
			violation("acknowledged %s %s (tx %s, %s): ledger has %+v", r.kind, r.requestID, r.txID, r.status, gr.Request)
			continue
		}
		var stored trace.ScanResult
		if err := json.Unmarshal([]byte(gr.Request.Result), &stored); err != nil || stored.Status != r.status || stored.Code != r.code {
			violation("acknowledged %s %s: outcome %s %s, ledger recorded %s (%v)", r.kind, r.requestID, r.status, r.code, gr.Request.Result, err)
		}
		if r.kind == "double" && r.status == trace.StatusOK {
			violation("double dispense of %s at %s acknowledged ok (request %s)", r.serial, c.sites[r.site].name, r.requestID)
		}
	}
	t.Logf("%d requests: %d acknowledged, %d errored (%d of them committed all the same, each found by its request ID)", len(c.records), acked, errored, committedErr)

	// No pack dispensed twice; an acknowledged dispense is the one.
	cl := c.sites[0].client[0]
	histories := packHistories(c.t, c.n, c.gtin)
	for _, s := range c.sites {
		for _, serial := range s.packs[:min(int(s.next.Load()), len(s.packs))] {
			h := histories[serial]
			if len(h) == 0 {
				violation("pack %s has no history in the regulator's events", serial)
				continue
			}
			var dispenseTxs []string
			for i, e := range h { // oldest first
				if e.Pack.State != trace.StateInactive || e.Pack.Reason != trace.ReasonDispensed {
					continue
				}
				if i > 0 && h[i-1].Pack.State == trace.StateInactive && h[i-1].Pack.Reason == trace.ReasonDispensed {
					continue // still dispensed: not a new dispense
				}
				dispenseTxs = append(dispenseTxs, e.TxID)
			}
			if len(dispenseTxs) > 1 {
				violation("pack %s dispensed %d times: %v", serial, len(dispenseTxs), dispenseTxs)
			}
			for _, r := range byPack[serial] {
				if r.kind == "dispense" && r.status == trace.StatusOK && (len(dispenseTxs) != 1 || dispenseTxs[0] != r.txID) {
					violation("pack %s: dispense acknowledged in tx %s, ledger has dispenses %v", serial, r.txID, dispenseTxs)
				}
			}
		}
	}

	// Every peer that holds the collection answers the same (a sample of
	// packs, asked of the manufacturer's and the regulator's peers; the
	// others hold only hashes, docs/confidentiality.md).
	sample := append([]string(nil), c.sites[0].packs[:min(10, len(c.sites[0].packs))]...)
	sample = append(sample, c.sites[1].packs[:min(10, len(c.sites[1].packs))]...)
	for _, serial := range sample {
		arg, _ := json.Marshal(trace.PackQuery{GTIN: c.gtin, Serial: serial})
		var first []byte
		for i := range n.Orgs {
			if !slices.Contains(n.Orgs[i].Roles, string(trace.RoleManufacturer)) && !slices.Contains(n.Orgs[i].Roles, string(trace.RoleRegulator)) {
				continue
			}
			raw, err := cl.EvaluateRaw(ctx, trace.TxGetPack, arg, gateway.WithEndorsingOrgs(n.Orgs[i].MSPID))
			if err != nil {
				violation("GetPack %s at %s: %v", serial, n.Orgs[i].Name, err)
				continue
			}
			if first == nil {
				first = raw
			} else if !bytes.Equal(first, raw) {
				violation("GetPack %s: %s answers differently from %s", serial, n.Orgs[i].Name, n.Orgs[0].Name)
			}
		}
	}
	return bad
}

func (c *chaos) peers() []netspec.Node {
	var out []netspec.Node
	for i := range c.n.Orgs {
		out = append(out, c.n.PeerNode(&c.n.Orgs[i]))
	}
	return out
}

// report prints recovery per fault, latency outside and inside faults, the
// requests that ended with time left and the throughput chart.
func (c *chaos) report(loadStart time.Time) {
	t := c.t
	c.mu.Lock()
	defer c.mu.Unlock()
	sort.Slice(c.records, func(i, j int) bool { return c.records[i].end.Before(c.records[j].end) })
	// A request overlaps a fault from the kill to 5 s after the node serves
	// again.
	inFault := func(r *chaosRecord) bool {
		for _, f := range c.faults {
			if r.end.After(f.at) && r.start.Before(f.healed.Add(5*time.Second)) {
				return true
			}
		}
		return false
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\nfault       nodes                 down    next commit (after restart)  home back    watchdog restarts\n")
	recovery := map[string][]time.Duration{}
	for _, f := range c.faults {
		next := time.Duration(-1)
		for _, r := range c.records {
			if r.status != "" && !r.start.Before(f.at) {
				next = r.end.Sub(f.at)
				break
			}
		}
		home := "-"
		if f.kind == "peer-home" {
			// Each client back on its own peer: from the peer serving
			// again (fabnet start returned) to the client's move home,
			// as its log says; the slowest client.
			back := c.homeMoves(f.until, f.healed.Add(60*time.Second))
			var worst time.Duration
			for _, at := range back {
				worst = max(worst, at.Sub(f.healed))
			}
			home = fmt.Sprintf("%d/%d %s", len(back), c.cfg.workers, worst.Round(10*time.Millisecond))
			recovery["home back"] = append(recovery["home back"], worst)
		}
		recovery[f.kind] = append(recovery[f.kind], next)
		after := "-"
		if next > f.healed.Sub(f.at) {
			after = (next - f.healed.Sub(f.at)).Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(&b, "%-11s %-21s %-7s %-12s %-15s %-12s %d\n", f.kind, strings.Join(f.nodes, ","), f.until.Sub(f.at).Round(100*time.Millisecond),
			next.Round(10*time.Millisecond), "("+after+")", home, f.restarts)
	}
	kinds := make([]string, 0, len(recovery))
	for k := range recovery {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		ds := recovery[k]
		slices.Sort(ds)
		fmt.Fprintf(&b, "recovery %-12s median %s max %s over %d\n", k, ds[len(ds)/2].Round(10*time.Millisecond), ds[len(ds)-1].Round(10*time.Millisecond), len(ds))
	}

	var outside, inside []time.Duration
	outcomes := map[string]int{}
	earlyUnknown, earlyErr := 0, 0
	for _, r := range c.records {
		switch {
		case r.err != nil:
			outcomes["error: "+kindOf(r.err)]++
			if r.end.Sub(r.start) < c.cfg.budget-2*time.Second {
				earlyErr++
				if errors.Is(r.err, gateway.ErrUnknownOutcome) {
					earlyUnknown++
				}
			}
		case r.kind == "double":
			outcomes[fmt.Sprintf("double %s %s", r.status, r.code)]++
		default:
			outcomes[fmt.Sprintf("dispense %s %s", r.status, r.code)]++
			if !inFault(r) {
				outside = append(outside, r.end.Sub(r.start))
			} else {
				inside = append(inside, r.end.Sub(r.start))
			}
		}
	}
	for _, k := range sortedKeys(outcomes) {
		fmt.Fprintf(&b, "requests %-40s %d\n", k, outcomes[k])
	}
	fmt.Fprintf(&b, "errors with budget left: %d (unknown outcome: %d)\n", earlyErr, earlyUnknown)
	shown := 0
	for _, r := range c.records {
		if r.err != nil && shown < 10 {
			shown++
			fmt.Fprintf(&b, "  error %s at %s after %s (verify %s, %v): %v\n", r.requestID, r.start.Format("15:04:05.000"), r.end.Sub(r.start).Round(time.Millisecond),
				r.verified.Sub(r.start).Round(time.Millisecond), r.verifyErr, r.err)
		}
	}
	fmt.Fprintf(&b, "verify+dispense latency outside faults p50/p99 %s / %s (%d), overlapping a fault (kill to 5 s after the node serves again) p50/p99 %s / %s (%d)\n",
		pct(outside, 50), pct(outside, 99), len(outside), pct(inside, 50), pct(inside, 99), len(inside))
	fmt.Fprintf(&b, "gateway: endpoint moves %v, lost transactions run again after the commit window %v, request lookups %v\n",
		c.counterSum("pharmatrace_gateway_failovers_total", ""), c.counterSum("pharmatrace_gateway_retries_total", "commit_window"),
		c.counterSum("pharmatrace_gateway_request_lookups_total", ""))

	// Raft leader changes: one per leader or quorum kill is expected; the
	// others are elections nobody asked for (a slow WAL fsync on the
	// leader, a stale connection).
	elections := c.elections(loadStart)
	kills := 0
	for _, f := range c.faults {
		if f.kind == "leader" || f.kind == "quorum" {
			kills++
		}
	}
	fmt.Fprintf(&b, "raft leader elections during the load: %d, after %d leader kills\n", elections, kills)

	// Committed requests per 5 s, faults marked.
	const window = 5 * time.Second
	counts := map[int]int{}
	last := 0
	for _, r := range c.records {
		if r.status != "" {
			k := int(r.end.Sub(loadStart) / window)
			counts[k]++
			last = max(last, k)
		}
	}
	for k := 0; k <= last; k++ {
		at := loadStart.Add(time.Duration(k) * window)
		mark := ""
		for _, f := range c.faults {
			if f.at.Before(at.Add(window)) && !f.until.Before(at) {
				mark += " " + f.kind
			}
		}
		fmt.Fprintf(&b, "%4ds %-40s %3d%s\n", k*5, strings.Repeat("#", min(counts[k], 40)), counts[k], mark)
	}
	t.Log(b.String())
}

// homeMoves returns, per client, the first time in [from, to) it logged
// its move back to its home endpoint.
func (c *chaos) homeMoves(from, to time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	b, err := os.ReadFile(c.clientLog)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, `reason="home endpoint healthy again"`) {
			continue
		}
		ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		_, rest, ok := strings.Cut(line, " client=")
		if err != nil || !ok || at.Before(from) || !at.Before(to) {
			continue
		}
		client, _, _ := strings.Cut(rest, " ")
		if _, seen := out[client]; !seen {
			out[client] = at
		}
	}
	return out
}

// elections counts the "became leader" lines the orderers logged since
// from.
func (c *chaos) elections(from time.Time) int {
	count := 0
	for _, o := range c.n.OrdererNodes() {
		b, err := os.ReadFile(o.LogFile)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.Contains(line, "became leader") {
				continue
			}
			line = ansi.ReplaceAllString(line, "")
			if len(line) < 23 {
				continue
			}
			at, err := time.Parse("2006-01-02 15:04:05.000", line[:23])
			if err == nil && at.After(from) {
				count++
			}
		}
	}
	return count
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func kindOf(err error) string {
	if k, ok := gateway.KindOf(err); ok {
		return k.String()
	}
	return "?"
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)*p/100, len(s)-1)].Round(time.Millisecond)
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// counterSum adds up the samples of a counter of the clients' metrics
// whose label values contain label (every sample when label is "").
func (c *chaos) counterSum(name, label string) float64 {
	mfs, err := c.reg.Gather()
	if err != nil {
		return -1
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				match = match || strings.Contains(lp.GetValue(), label)
			}
			if match {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}
