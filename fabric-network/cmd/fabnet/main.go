// Command fabnet runs the PharmaTrace Fabric consortium as native processes
// on one host, from the network definition fabric-network/network.yaml:
// one Fabric CA per organisation, three etcdraft orderers, one peer per
// peer organisation, and one chaincode-as-a-service process per org.
//
//	fabnet up                 build crypto, start everything, create the channel, deploy the chaincode
//	fabnet down               stop every process fabnet started (by PID)
//	fabnet clean              down, then delete all state under the run directory
//	fabnet status             list processes, PIDs and addresses
//	fabnet stop|kill|start N  stop (SIGTERM), kill (SIGKILL) or start one node, e.g. peer0.pharmacy
//	fabnet leader             print the channel's current raft leader
//	fabnet env ORG            print the peer CLI environment for ORG's admin
//	fabnet upgrade [-cc-binary F]  deploy the chaincode binary F (default bin/pharmatrace-cc) as the next
//	                          sequence when it is another build than the committed one, or when
//	                          network.yaml derives other private data collections (up does it too)
//	fabnet chaincode [-json]  the committed chaincode definition (collections too) and what each org's server runs
//	fabnet renew [-expiry D] ORG/USER|peer0.ORG|cc.ORG
//	                          re-enroll its certificates before they expire (a node restarts on them)
//	fabnet revoke [-reason R] ORG/USER|peer0.ORG
//	                          revoke it at its CA and put the CA's CRL into the org's MSP on the channel
//	fabnet monitor            start Prometheus (and the certificate exporter) against the running network
//	fabnet monitor-config     print the Prometheus configuration monitor writes
//	fabnet cert-exporter      serve the network's certificate expiry metrics (started by monitor)
//
// A second, independent network runs beside the first with its own run
// directory and every port of the definition shifted:
//
//	fabnet -run /tmp/net2 -port-offset 1000 -no-apps up
//
// Every later call on that network needs the same -run and -port-offset
// (fabnet records the offset in the run directory and refuses another).
// The processes fabnet starts get their addresses from fabnet (flags and
// environment); the API, which reads the network definition itself, gets
// the shifted definition fabnet writes to <run>/network.yaml.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/fabric-network/monitor"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/internal/shutdown"
)

var log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

func main() {
	ctx, stop := shutdown.Context(context.Background(), os.Stderr)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fabnet:", err)
		os.Exit(1)
	}
}

// network is the state one fabnet invocation works with.
type network struct {
	l            *netspec.Layout
	specPath     string
	binDir       string
	sampleConfig string
	builderDir   string
	noApps       bool
	// portOffset was added to every port of the definition (-port-offset).
	portOffset int
}

func (n *network) bin(name string) string { return filepath.Join(n.binDir, name) }

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fabnet", flag.ContinueOnError)
	specPath := fs.String("spec", envOr("PHARMATRACE_NETWORK", "fabric-network/network.yaml"), "network definition `file` (env PHARMATRACE_NETWORK)")
	runDir := fs.String("run", envOr("PHARMATRACE_RUN_DIR", "run"), "run `directory` for state, logs and PIDs (env PHARMATRACE_RUN_DIR)")
	binDir := fs.String("bin", envOr("PHARMATRACE_BIN_DIR", "bin"), "`directory` of the Fabric and PharmaTrace binaries")
	builder := fs.String("builder", "fabric-network/builders/ccaas", "external chaincode builder `directory` (holds bin/detect, build, release)")
	verbose := fs.Bool("v", false, "log every step")
	noApps := fs.Bool("no-apps", false, "up: start the Fabric network only, not the API and the demo station; status: do not count them")
	defOffset, err := strconv.Atoi(envOr("PHARMATRACE_PORT_OFFSET", "0"))
	if err != nil {
		return fmt.Errorf("PHARMATRACE_PORT_OFFSET: %w", err)
	}
	portOffset := fs.Int("port-offset", defOffset, "add `N` to every port of the network definition, to run a second network beside the first (env PHARMATRACE_PORT_OFFSET)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if fs.NArg() == 0 {
		return errors.New("usage: fabnet [flags] up|down|clean|status|stop|kill|start|leader|env|upgrade|chaincode|renew|revoke|monitor|monitor-config|cert-exporter [args]")
	}
	spec, err := netspec.Load(*specPath)
	if err != nil {
		return err
	}
	if *portOffset != 0 {
		spec.ShiftPorts(*portOffset)
		if err := spec.Validate(); err != nil {
			return fmt.Errorf("-port-offset %d: %w", *portOffset, err)
		}
	}
	l, err := netspec.NewLayout(spec, *runDir)
	if err != nil {
		return err
	}
	bd, _ := filepath.Abs(*binDir)
	bld, _ := filepath.Abs(*builder)
	sp, _ := filepath.Abs(*specPath)
	n := &network{l: l, specPath: sp, binDir: bd, sampleConfig: filepath.Join(bd, "fabric-config"), builderDir: bld}
	n.noApps = *noApps
	n.portOffset = *portOffset
	if err := n.checkPortOffset(); err != nil {
		return err
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	switch cmd {
	case "up":
		if err := n.writeRunSpec(); err != nil {
			return err
		}
		return n.up(ctx, stdout)
	case "down":
		return n.down()
	case "clean":
		if err := n.down(); err != nil {
			return err
		}
		return os.RemoveAll(l.Dir)
	case "status":
		return n.status(stdout)
	case "stop", "kill", "start":
		if len(rest) != 1 {
			return fmt.Errorf("usage: fabnet %s NODE (one of: %s)", cmd, strings.Join(n.nodeNames(), ", "))
		}
		return n.control(ctx, cmd, rest[0])
	case "leader":
		leader, err := n.waitRaftLeader(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, leader.Name)
		return nil
	case "env":
		if len(rest) != 1 {
			return errors.New("usage: fabnet env ORG")
		}
		o, ok := l.Org(rest[0])
		if !ok {
			return fmt.Errorf("no org %q", rest[0])
		}
		for _, e := range n.peerEnv(o) {
			fmt.Fprintf(stdout, "export %s\n", e)
		}
		fmt.Fprintf(stdout, "export PATH=%s:$PATH\n", n.binDir)
		return nil
	case "monitor", "monitor-config":
		o, err := n.monitorOptions(cmd, rest)
		if err != nil {
			return err
		}
		if cmd == "monitor" {
			return n.monitorUp(ctx, o, stdout)
		}
		b, err := monitor.Config(l, o)
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	case "cert-exporter":
		return n.serveCertExporter(ctx)
	case "upgrade":
		ufs := flag.NewFlagSet("fabnet upgrade", flag.ContinueOnError)
		bin := ufs.String("cc-binary", n.bin("pharmatrace-cc"), "chaincode server `binary` to deploy")
		if err := ufs.Parse(rest); err != nil {
			return err
		}
		res, err := n.deployChaincode(ctx, *bin)
		if res.Sequence > 0 { // 0: refused before anything was approved
			printDeploy(stdout, res)
		}
		return err
	case "renew", "revoke":
		rfs := flag.NewFlagSet("fabnet "+cmd, flag.ContinueOnError)
		expiry := rfs.Duration("expiry", 0, "renew: issue certificates valid for `D` only, e.g. 10m (a drill; default: the CA's, a year)")
		reason := rfs.String("reason", "keycompromise", "revoke: the CRL reason")
		if err := rfs.Parse(rest); err != nil {
			return err
		}
		if rfs.NArg() != 1 {
			return fmt.Errorf("usage: fabnet %s [flags] ORG/USER|peer0.ORG|cc.ORG", cmd)
		}
		if cmd == "renew" {
			return n.renew(ctx, stdout, rfs.Arg(0), *expiry)
		}
		return n.revoke(ctx, stdout, rfs.Arg(0), *reason)
	case "chaincode":
		cfs := flag.NewFlagSet("fabnet chaincode", flag.ContinueOnError)
		asJSON := cfs.Bool("json", false, "print JSON")
		if err := cfs.Parse(rest); err != nil {
			return err
		}
		return n.chaincodeStatus(ctx, stdout, *asJSON)
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// portOffsetFile records in the run directory the -port-offset its network
// was started with, so that a call with another offset (which would look
// for the processes on the wrong ports) is refused.
func (n *network) portOffsetFile() string { return filepath.Join(n.l.Dir, "port-offset") }

func (n *network) checkPortOffset() error {
	b, err := os.ReadFile(n.portOffsetFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	was, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%s: %w", n.portOffsetFile(), err)
	}
	if was != n.portOffset {
		return fmt.Errorf("run directory %s holds a network started with -port-offset %d, not %d: pass -port-offset %d (or PHARMATRACE_PORT_OFFSET=%d)",
			n.l.Dir, was, n.portOffset, was, was)
	}
	return nil
}

// runSpec is the network definition as this network runs it (ports
// shifted by -port-offset), for the processes that read the definition
// themselves (the API).
func (n *network) runSpec() string { return filepath.Join(n.l.Dir, "network.yaml") }

// writeRunSpec records the port offset and writes runSpec.
func (n *network) writeRunSpec() error {
	if err := os.MkdirAll(n.l.Dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(n.portOffsetFile(), []byte(strconv.Itoa(n.portOffset)+"\n"), 0o644); err != nil {
		return err
	}
	b, err := n.l.Spec.Marshal()
	if err != nil {
		return err
	}
	head := fmt.Sprintf("# Written by fabnet: %s with every port shifted by %d (-port-offset).\n", n.specPath, n.portOffset)
	return os.WriteFile(n.runSpec(), append([]byte(head), b...), 0o644)
}

func (n *network) nodeNames() []string {
	var names []string
	for _, nd := range n.l.Nodes() {
		names = append(names, nd.Name)
	}
	return names
}

// parallel runs fn for each item concurrently and joins the errors.
func parallel[T any](items []T, fn func(T) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(items))
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(it)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// up brings the whole network up; every step is skipped when already done,
// so running it twice is harmless.
func (n *network) up(ctx context.Context, stdout io.Writer) error {
	t0 := time.Now()
	step := func(name string) func() {
		s := time.Now()
		return func() { log.Info("step done", "step", name, "took", time.Since(s).Round(time.Millisecond)) }
	}
	for _, b := range []string{"peer", "orderer", "configtxgen", "osnadmin", "fabric-ca-server", "fabric-ca-client", "pharmatrace-cc"} {
		if !exists(n.bin(b)) {
			return fmt.Errorf("%s is missing in %s: run `make up` (it builds the binaries)", b, n.binDir)
		}
	}
	// The chaincode definition's collections come from the orgs' roles:
	// refuse a definition they can not be derived from before starting.
	if _, err := n.l.Collections(); err != nil {
		return err
	}
	if err := n.writeFabricConfig(); err != nil {
		return err
	}
	done := step("certificate authorities")
	err := parallel(n.l.CANodes(), func(c netspec.Node) error {
		opsPort := 0
		if c.Org == netspec.OrdererOrgKey {
			opsPort = n.l.OrdererOrg.CA.OpsPort
		} else {
			o, _ := n.l.Org(c.Org)
			opsPort = o.CA.OpsPort
		}
		p, err := n.caProc(c, opsPort)
		if err != nil {
			return err
		}
		return start(ctx, p)
	})
	if err != nil {
		return err
	}
	done()
	done = step("identities")
	if err := n.enrollIdentities(ctx); err != nil {
		return err
	}
	done()
	done = step("orderers")
	if err := parallel(n.l.OrdererNodes(), func(o netspec.Node) error { return start(ctx, n.ordererProc(o)) }); err != nil {
		return err
	}
	block, err := n.genesisBlock(ctx)
	if err != nil {
		return err
	}
	if err := n.joinOrderers(ctx, block); err != nil {
		return err
	}
	// Judged only now that every orderer runs: one waiting for quorum is
	// not stuck (see raftwatch.go).
	if err := n.superviseOrderers(ctx, n.l.OrdererNodes()); err != nil {
		return err
	}
	leader, err := n.waitRaftLeader(ctx)
	if err != nil {
		return err
	}
	done()
	log.Info("raft leader elected", "leader", leader.Name)
	done = step("peers")
	orgs := make([]*netspec.Org, len(n.l.Orgs))
	for i := range n.l.Orgs {
		orgs[i] = &n.l.Orgs[i]
	}
	if err := parallel(orgs, func(o *netspec.Org) error { return start(ctx, n.peerProc(o)) }); err != nil {
		return err
	}
	if err := n.joinPeers(ctx, block); err != nil {
		return err
	}
	done()
	done = step("chaincode")
	dep, err := n.deployChaincode(ctx, n.bin("pharmatrace-cc"))
	if err != nil {
		return err
	}
	done()
	if err := n.writeRuntime(); err != nil {
		return err
	}
	took, err := n.smoke(ctx)
	if err != nil {
		return err
	}
	meshStart := time.Now()
	if err := n.meshReady(ctx); err != nil {
		return err
	}
	log.Info("every gateway reaches every organisation's peer", "took", time.Since(meshStart).Round(time.Millisecond))
	log.Info("network up", "took", time.Since(t0).Round(time.Millisecond), "smoke_commit", took.Round(time.Millisecond))
	colls := "no private data collections"
	if len(dep.Collections) > 0 {
		colls = "collections " + strings.Join(dep.Collections, ", ")
	}
	fmt.Fprintf(stdout, "PharmaTrace network up in %s: %d CAs, %d orderers, %d peers, chaincode %s %s (sequence %d, %s) committed on channel %s\n",
		time.Since(t0).Round(100*time.Millisecond), len(n.l.CANodes()), len(n.l.OrdererNodes()), len(n.l.PeerNodes()),
		n.l.Chaincode.Name, dep.To, dep.Sequence, colls, n.l.Channel)
	if dep.Upgraded {
		printDeploy(stdout, dep)
	}
	fmt.Fprintf(stdout, "smoke transaction committed and read back through the Fabric Gateway in %s\n", took.Round(time.Millisecond))
	fmt.Fprintf(stdout, "network description: %s\nlogs: %s\n", filepath.Join(n.l.Dir, "network.json"), filepath.Join(n.l.Dir, "logs"))
	if n.noApps {
		return nil
	}
	done = step("apps")
	tokens, frames, err := n.startApps(ctx)
	if err != nil {
		return err
	}
	done()
	n.printWhere(stdout, tokens, frames)
	return nil
}

// writeRuntime writes run/network.json: every node and identity, for
// people and for tools that do not read network.yaml.
func (n *network) writeRuntime() error {
	type org struct {
		Name  string             `json:"name"`
		MSPID string             `json:"mspID"`
		CAURL string             `json:"caURL"`
		Users []netspec.Identity `json:"users"`
	}
	rt := struct {
		Channel   string         `json:"channel"`
		Chaincode string         `json:"chaincode"`
		Nodes     []netspec.Node `json:"nodes"`
		Orgs      []org          `json:"orgs"`
	}{Channel: n.l.Channel, Chaincode: n.l.Chaincode.Name, Nodes: n.nodes()}
	for _, o := range n.l.Orgs {
		ro := org{Name: o.Name, MSPID: o.MSPID, CAURL: n.l.CAURL(o.CA.Port)}
		for _, u := range o.Users {
			id, _ := n.l.User(o.MSPID, u.Name)
			ro.Users = append(ro.Users, id)
		}
		rt.Orgs = append(rt.Orgs, ro)
	}
	b, err := json.MarshalIndent(rt, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(n.l.Dir, "network.json"), b, 0o644)
}

// down stops every node: monitoring, apps, chaincode servers and peers
// first, then orderers, then CAs; each group in parallel.
func (n *network) down() error {
	var errs []error
	for _, kind := range []string{"monitor", "app", "chaincode", "peer", "orderer", "ca"} {
		var group []netspec.Node
		all := append(n.l.MonitorNodes(), n.nodes()...)
		if kind == "chaincode" {
			for i := range n.l.Orgs { // a server an interrupted upgrade left
				all = append(all, n.ccNodeAt(&n.l.Orgs[i], 0, true))
			}
		}
		for _, nd := range all {
			if nd.Kind == kind {
				group = append(group, nd)
			}
		}
		errs = append(errs, parallel(group, func(nd netspec.Node) error {
			_, err := stop(nd, 10*time.Second, false)
			return err
		}))
	}
	return errors.Join(errs...)
}

func (n *network) status(w io.Writer) error {
	down, counted := 0, 0
	for _, nd := range append(n.nodes(), n.l.MonitorNodes()...) {
		pid, ok := readPID(nd)
		state, note := "running", ""
		if !ok {
			state, pid = "stopped", 0
		}
		switch {
		case nd.Kind == "monitor":
			note = "  (make monitor: not counted)"
		case n.noApps && nd.Kind == "app":
			note = "  (-no-apps: not counted)"
		default:
			counted++
			if !ok {
				down++
			}
		}
		fmt.Fprintf(w, "%-20s %-9s %-8s pid=%-7d %s%s\n", nd.Name, nd.Kind, state, pid, nd.Address, note)
	}
	if down > 0 {
		return fmt.Errorf("%d of %d processes are not running", down, counted)
	}
	return nil
}

// control stops, kills or (re)starts one node. A started orderer is
// watched until it is live in the raft cluster and restarted while it is
// stuck in Fabric 2.5.0's start-up deadlock (raftwatch.go).
func (n *network) control(ctx context.Context, cmd, name string) error {
	nd, ok := n.l.NodeByName(name)
	if !ok {
		return fmt.Errorf("no node %q (one of: %s)", name, strings.Join(n.nodeNames(), ", "))
	}
	switch cmd {
	case "stop", "kill":
		_, err := stop(nd, 10*time.Second, cmd == "kill")
		return err
	}
	p, err := n.procFor(nd)
	if err != nil {
		return err
	}
	if err := start(ctx, p); err != nil {
		return err
	}
	if nd.Kind == "orderer" {
		return n.superviseOrderers(ctx, []netspec.Node{nd})
	}
	return nil
}

func (n *network) procFor(nd netspec.Node) (proc, error) {
	switch {
	case nd.Name == "api":
		if err := n.writeRunSpec(); err != nil {
			return proc{}, err
		}
		return n.apiProc(nd), nil
	case nd.Name == "station":
		return n.stationProc(nd), nil
	case nd.Name == "prometheus":
		if !exists(n.prometheusConfig()) {
			return proc{}, errors.New("prometheus has no configuration yet: run `make monitor` (fabnet monitor)")
		}
		return n.prometheusProc(nd), nil
	case nd.Name == "certexporter":
		return n.certExporterProc(nd), nil
	}
	switch nd.Kind {
	case "orderer":
		return n.ordererProc(nd), nil
	case "ca":
		port := n.l.OrdererOrg.CA.OpsPort
		if o, ok := n.l.Org(nd.Org); ok {
			port = o.CA.OpsPort
		}
		return n.caProc(nd, port)
	}
	o, ok := n.l.Org(nd.Org)
	if !ok {
		return proc{}, fmt.Errorf("node %s has no org", nd.Name)
	}
	if nd.Kind == "peer" {
		return n.peerProc(o), nil
	}
	st, ok, err := n.loadCCState(o)
	if err != nil {
		return proc{}, err
	}
	if !ok {
		return proc{}, fmt.Errorf("no chaincode deployed for %s yet: run `fabnet up`", o.Name)
	}
	return n.ccProc(o, st, n.ccNodeAt(o, st.Slot, false)), nil
}
