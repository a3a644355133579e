// Package testnet gives integration tests the real PharmaTrace network:
// it starts the network from `bin/fabnet up` when it is not running (and
// stops it again when the tests end, unless PHARMATRACE_KEEP_NETWORK=1),
// and offers raw Fabric Gateway connections, node control and metrics.
// Fresh starts a second, empty network beside it for one test.
package testnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/gateway"
)

// Network is the running consortium.
type Network struct {
	*netspec.Layout
	Root string // repository root
	// spec is the network definition; fabnet is called with it and with
	// portOffset, so that it finds the same network as Layout describes.
	spec       string
	portOffset int
	noApps     bool // the API and the demo station are not started
}

var current *Network

// Main runs an integration test binary against the network, starting it
// first if needed. Use it from TestMain: os.Exit(testnet.Main(m)).
func Main(m *testing.M) int {
	n, started, err := ensureUp()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testnet:", err)
		return 1
	}
	current = n
	code := m.Run()
	if started && os.Getenv("PHARMATRACE_KEEP_NETWORK") != "1" {
		if out, err := n.fabnet("down"); err != nil {
			fmt.Fprintf(os.Stderr, "testnet: fabnet down: %v\n%s", err, out)
		}
	}
	return code
}

// Current returns the network of this test binary, nil before Main ran.
func Current() *Network { return current }

// Get returns the network of this test binary.
func Get(t testing.TB) *Network {
	t.Helper()
	if current == nil {
		t.Fatal("testnet: call testnet.Main from TestMain")
	}
	return current
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

func ensureUp() (*Network, bool, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, false, err
	}
	specPath := filepath.Join(root, "fabric-network", "network.yaml")
	spec, err := netspec.Load(specPath)
	if err != nil {
		return nil, false, err
	}
	offset, err := envOffset()
	if err != nil {
		return nil, false, err
	}
	spec.ShiftPorts(offset)
	runDir := os.Getenv("PHARMATRACE_RUN_DIR")
	if runDir == "" {
		runDir = filepath.Join(root, "run")
	}
	l, err := netspec.NewLayout(spec, runDir)
	if err != nil {
		return nil, false, err
	}
	n := &Network{Layout: l, Root: root, spec: specPath, portOffset: offset}
	if _, err := os.Stat(n.bin("fabnet")); err != nil {
		return nil, false, fmt.Errorf("%s missing: run the tests through `make test` (it builds the binaries)", n.bin("fabnet"))
	}
	if _, err := n.fabnet("status"); err == nil {
		return n, false, nil
	}
	start := time.Now()
	if out, err := n.fabnet("up"); err != nil {
		return nil, false, fmt.Errorf("fabnet up: %w\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "testnet: started the network in %s\n", time.Since(start).Round(time.Millisecond))
	return n, true, nil
}

// envOffset is PHARMATRACE_PORT_OFFSET (as fabnet reads it): the shift of
// every port of the test binary's network, so that several checkouts can
// each run their own network on one machine.
func envOffset() (int, error) {
	v := os.Getenv("PHARMATRACE_PORT_OFFSET")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("PHARMATRACE_PORT_OFFSET=%q: want a non-negative number", v)
	}
	return n, nil
}

// RunSpec is the network definition as this network runs it, ports
// shifted (fabnet writes it into the run directory): what a process the
// tests start (API, consumer, CLI) must be given.
func (n *Network) RunSpec() string { return filepath.Join(n.Dir, "network.yaml") }

func (n *Network) bin(name string) string {
	if d := os.Getenv("PHARMATRACE_BIN_DIR"); d != "" {
		return filepath.Join(d, name)
	}
	return filepath.Join(n.Root, "bin", name)
}

func (n *Network) fabnet(args ...string) ([]byte, error) {
	flags := []string{"-spec", n.spec, "-run", n.Dir, "-port-offset", strconv.Itoa(n.portOffset)}
	if n.noApps {
		flags = append(flags, "-no-apps")
	}
	cmd := exec.Command(n.bin("fabnet"), append(flags, args...)...)
	cmd.Dir = n.Root
	return cmd.CombinedOutput()
}

// FreshOffset is the port offset of the second network tests start with
// Fresh: every port of network.yaml plus 1000 is free of the first
// network's ports (netspec tests check it).
const FreshOffset = 1000

// Fresh starts a second, empty network beside the test binary's one, for
// one test: the same binaries and network definition with every port
// shifted by offset, its own run directory, no API or demo station. It
// takes about as long as `make up` on a clean checkout. The network is
// stopped and its run directory deleted when the test ends, pass or fail.
//
// The returned Network talks to the second network only (Client,
// GatewayConfig, User, Fabnet, ...).
func Fresh(t testing.TB, offset int) *Network {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	specPath := filepath.Join(root, "fabric-network", "network.yaml")
	first, err := netspec.Load(specPath)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := netspec.Load(specPath)
	if err != nil {
		t.Fatal(err)
	}
	// Relative to the test binary's own network (PHARMATRACE_PORT_OFFSET).
	base, err := envOffset()
	if err != nil {
		t.Fatal(err)
	}
	first.ShiftPorts(base)
	offset += base
	spec.ShiftPorts(offset)
	if err := spec.Validate(); err != nil {
		t.Fatalf("testnet.Fresh: port offset %d: %v", offset, err)
	}
	if err := portsFree(first, spec); err != nil {
		t.Fatalf("testnet.Fresh: port offset %d: %v", offset, err)
	}
	// A short directory of our own rather than t.TempDir(): test names
	// make long paths, and the network must be down before it is removed.
	dir, err := os.MkdirTemp("", "ptnet-")
	if err != nil {
		t.Fatal(err)
	}
	l, err := netspec.NewLayout(spec, dir)
	if err != nil {
		t.Fatal(err)
	}
	n := &Network{Layout: l, Root: root, spec: specPath, portOffset: offset, noApps: true}
	if _, err := os.Stat(n.bin("fabnet")); err != nil {
		t.Fatalf("%s missing: run the tests through `make test` (it builds the binaries)", n.bin("fabnet"))
	}
	// Registered before up, so a half-started network is stopped too.
	t.Cleanup(func() {
		if out, err := n.fabnet("down"); err != nil {
			t.Errorf("testnet.Fresh: fabnet down of %s: %v\n%s", dir, err, out)
			return // keep the run directory (PID files, logs) to clean up by hand
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("testnet.Fresh: %v", err)
		}
	})
	start := time.Now()
	if out, err := n.fabnet("up"); err != nil {
		t.Fatalf("testnet.Fresh: fabnet up (run %s, port offset %d): %v\n%s", dir, offset, err, out)
	}
	t.Logf("testnet.Fresh: second network up in %s (run %s, port offset %d)", time.Since(start).Round(time.Millisecond), dir, offset)
	return n
}

// portsFree checks that no port of second is a port of first or is in use.
func portsFree(first, second *netspec.Spec) error {
	used := map[int]string{}
	for _, p := range first.Ports() {
		used[p.Number] = p.Field
	}
	var errs []error
	for _, p := range second.Ports() {
		if other, ok := used[p.Number]; ok {
			errs = append(errs, fmt.Errorf("%s %d is the first network's %s", p.Field, p.Number, other))
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(second.Host, strconv.Itoa(p.Number)))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %d is in use (a second network left running? see `ss -ltnp`): %w", p.Field, p.Number, err))
			continue
		}
		l.Close()
	}
	return errors.Join(errs...)
}

// FabnetOutput runs a fabnet command and returns its output, for callers
// outside the test goroutine (which may not fail the test from there).
func (n *Network) FabnetOutput(args ...string) (string, error) {
	out, err := n.fabnet(args...)
	return string(out), err
}

// Fabnet runs a fabnet command (e.g. "kill", "orderer0") and fails the test on error.
func (n *Network) Fabnet(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.fabnet(args...)
	if err != nil {
		t.Fatalf("fabnet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// FabnetErr runs a fabnet command and returns its output and error (for
// cleanups, which should not stop at the first failure).
func (n *Network) FabnetErr(args ...string) (string, error) {
	out, err := n.fabnet(args...)
	return string(out), err
}

// Gateway connects to org's peer as user (an org admin when user is "").
// The connection is closed when the test ends.
func (n *Network) Gateway(t testing.TB, org, user string) *client.Gateway {
	t.Helper()
	o, ok := n.Org(org)
	if !ok {
		t.Fatalf("no org %q", org)
	}
	id := n.Admin(o)
	if user != "" {
		var err error
		if id, err = n.User(org, user); err != nil {
			t.Fatal(err)
		}
	}
	gw, conn, err := fabconn.Connect(n.PeerNode(o), id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close(); conn.Close() })
	return gw
}

// Contract returns the named contract of the PharmaTrace chaincode.
func (n *Network) Contract(gw *client.Gateway, name string) *client.Contract {
	return gw.GetNetwork(n.Channel).GetContractWithName(n.Chaincode.Name, name)
}

// Height returns the channel's block height at a peer, from its metrics.
func (n *Network) Height(ctx context.Context, peer netspec.Node) (uint64, error) {
	ops, err := fabconn.NewOps(n.CACert(peer.Org), n.OrgAdmin(peer.Org))
	if err != nil {
		return 0, err
	}
	v, err := ops.Metric(ctx, peer, "ledger_blockchain_height", `channel="`+n.Channel+`"`)
	return uint64(v), err
}

// RaftLeader returns the current etcdraft leader orderer.
func (n *Network) RaftLeader(t testing.TB) netspec.Node {
	t.Helper()
	name := strings.TrimSpace(n.Fabnet(t, "leader"))
	node, ok := n.NodeByName(name)
	if !ok {
		t.Fatalf("fabnet leader printed unknown node %q", name)
	}
	return node
}

// Eventually polls cond every 100 ms until it returns nil or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// GatewayConfig is the gateway configuration of user of org (see
// fabconn.GatewayConfig).
func (n *Network) GatewayConfig(org, user string) (gateway.Config, error) {
	return fabconn.GatewayConfig(n.Layout, org, user)
}

// Client dials the PharmaTrace gateway client of user of org; it is closed
// when the test ends.
func (n *Network) Client(t testing.TB, org, user string, edit func(*gateway.Config), opts ...gateway.Option) *gateway.Client {
	t.Helper()
	cfg, err := n.GatewayConfig(org, user)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := gateway.Dial(ctx, cfg, append([]gateway.Option{gateway.WithGetRequestLookup()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// StartOrderer starts a stopped orderer and waits until the ordering
// service commits a probe transaction again (the node has rejoined and
// caught up with its raft cluster).
func (n *Network) StartOrderer(t testing.TB, orderer netspec.Node) {
	t.Helper()
	n.Fabnet(t, "start", orderer.Name)
	o := &n.Orgs[0]
	gw, conn, err := fabconn.Connect(n.PeerNode(o), n.Admin(o))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer gw.Close()
	c := n.Contract(gw, "probe")
	Eventually(t, 60*time.Second, orderer.Name+" back in the ordering service", func() error {
		_, err := c.Submit("Put", client.WithArguments("restart-"+orderer.Name, time.Now().String()))
		return err
	})
}

// StartPeer starts a stopped peer and waits until its gateway can plan
// endorsements again (gossip has re-learnt the other orgs' peers), proven
// by a probe transaction submitted through it.
func (n *Network) StartPeer(t testing.TB, peer netspec.Node) {
	t.Helper()
	n.Fabnet(t, "start", peer.Name)
	o, ok := n.Org(peer.Org)
	if !ok {
		t.Fatalf("peer %s has no org", peer.Name)
	}
	gw, conn, err := fabconn.Connect(peer, n.Admin(o))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer gw.Close()
	c := n.Contract(gw, "probe")
	Eventually(t, 60*time.Second, peer.Name+" endorses and commits again", func() error {
		_, err := c.Submit("Put", client.WithArguments("restart-"+peer.Name, time.Now().String()))
		return err
	})
}
