package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

func (n *network) channelDir() string { return filepath.Join(n.l.Dir, "channel") }

// genesisBlock writes configtx.yaml from the network definition and builds
// the application channel's genesis block (no system channel).
func (n *network) genesisBlock(ctx context.Context) (string, error) {
	dir := n.channelDir()
	block := filepath.Join(dir, n.l.Channel+".block")
	if exists(block) {
		return block, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	sig := func(rule string) map[string]any { return map[string]any{"Type": "Signature", "Rule": rule} }
	implicit := func(rule string) map[string]any { return map[string]any{"Type": "ImplicitMeta", "Rule": rule} }
	oo := n.l.OrdererOrg
	var endpoints []any
	var consenters []any
	for _, o := range n.l.OrdererNodes() {
		endpoints = append(endpoints, o.Address)
		id := n.l.IdentityFiles(netspec.OrdererOrgKey, oo.MSPID, o.Name)
		host, port, _ := strings.Cut(o.Address, ":")
		p, _ := strconv.Atoi(port)
		consenters = append(consenters, map[string]any{"Host": host, "Port": p,
			"ClientTLSCert": id.TLSCertFile, "ServerTLSCert": id.TLSCertFile})
	}
	ordererOrg := map[string]any{
		"Name": oo.Name, "ID": oo.MSPID, "MSPDir": n.l.OrgMSPDir(netspec.OrdererOrgKey),
		"OrdererEndpoints": endpoints,
		"Policies": map[string]any{
			"Readers": sig(fmt.Sprintf("OR('%s.member')", oo.MSPID)),
			"Writers": sig(fmt.Sprintf("OR('%s.member')", oo.MSPID)),
			"Admins":  sig(fmt.Sprintf("OR('%s.admin')", oo.MSPID)),
		},
	}
	var appOrgs []any
	for i := range n.l.Orgs {
		o := &n.l.Orgs[i]
		m := o.MSPID
		appOrgs = append(appOrgs, map[string]any{
			"Name": o.Name, "ID": m, "MSPDir": n.l.OrgMSPDir(o.Key()),
			"AnchorPeers": []any{map[string]any{"Host": n.l.Host, "Port": o.Peer.Port}},
			"Policies": map[string]any{
				"Readers":     sig(fmt.Sprintf("OR('%s.admin','%s.peer','%s.client')", m, m, m)),
				"Writers":     sig(fmt.Sprintf("OR('%s.admin','%s.client')", m, m)),
				"Admins":      sig(fmt.Sprintf("OR('%s.admin')", m)),
				"Endorsement": sig(fmt.Sprintf("OR('%s.peer')", m)),
			},
		})
	}
	ord := n.l.Ordering
	profile := map[string]any{
		"Policies": map[string]any{
			"Readers": implicit("ANY Readers"), "Writers": implicit("ANY Writers"), "Admins": implicit("MAJORITY Admins"),
		},
		"Capabilities": map[string]any{"V2_0": true},
		"Orderer": map[string]any{
			"OrdererType":  "etcdraft",
			"BatchTimeout": ord.BatchTimeout.String(),
			"BatchSize": map[string]any{
				"MaxMessageCount": ord.MaxMessageCount, "AbsoluteMaxBytes": ord.AbsoluteMaxBytes, "PreferredMaxBytes": ord.PreferredMaxBytes,
			},
			"EtcdRaft": map[string]any{
				"Consenters": consenters,
				// A raft snapshot every 1 MB of blocks (Fabric's default is
				// 16 MB): an orderer that has taken one no longer replays the
				// ConfChange entries at start, where Fabric 2.5.0 can deadlock
				// (fabric#4199, see raftwatch.go), so the restarts of stuck
				// orderers are needed only on young channels.
				"Options": map[string]any{
					"TickInterval": ord.TickInterval.String(), "ElectionTick": ord.ElectionTick, "HeartbeatTick": ord.HeartbeatTick,
					"MaxInflightBlocks": cmp.Or(ord.MaxInflightBlocks, 5), "SnapshotIntervalSize": cmp.Or(ord.SnapshotIntervalSize, "1 MB"),
				},
			},
			"Organizations": []any{ordererOrg},
			"Policies": map[string]any{
				"Readers": implicit("ANY Readers"), "Writers": implicit("ANY Writers"), "Admins": implicit("MAJORITY Admins"),
				"BlockValidation": implicit("ANY Writers"),
			},
			"Capabilities": map[string]any{"V2_0": true},
		},
		"Application": map[string]any{
			"Organizations": appOrgs,
			"Policies": map[string]any{
				"LifecycleEndorsement": implicit("MAJORITY Endorsement"),
				"Endorsement":          implicit("MAJORITY Endorsement"),
				"Readers":              implicit("ANY Readers"),
				"Writers":              implicit("ANY Writers"),
				"Admins":               implicit("MAJORITY Admins"),
			},
			"Capabilities": map[string]any{"V2_5": true},
		},
	}
	if err := writeYAML(filepath.Join(dir, "configtx.yaml"), map[string]any{"Profiles": map[string]any{"PharmaTrace": profile}}); err != nil {
		return "", err
	}
	if _, err := execTool(ctx, nil, n.bin("configtxgen"), "-configPath", dir, "-profile", "PharmaTrace",
		"-channelID", n.l.Channel, "-outputBlock", block+".tmp"); err != nil {
		return "", fmt.Errorf("create genesis block: %w", err)
	}
	return block, os.Rename(block+".tmp", block)
}

// osnadmin runs the channel participation API client as the orderer org admin.
func (n *network) osnadmin(ctx context.Context, o netspec.Node, args ...string) ([]byte, error) {
	admin := n.l.IdentityFiles(netspec.OrdererOrgKey, n.l.OrdererOrg.MSPID, n.l.OrdererOrg.Admin.Name)
	args = append(args, "-o", o.AdminAddr, "--ca-file", n.l.CACert(netspec.OrdererOrgKey),
		"--client-cert", admin.TLSCertFile, "--client-key", admin.TLSKeyFile)
	return execTool(ctx, nil, n.bin("osnadmin"), append([]string{"channel"}, args...)...)
}

// joinOrderers joins every orderer to the channel through the channel
// participation API, skipping those already joined.
func (n *network) joinOrderers(ctx context.Context, block string) error {
	for _, o := range n.l.OrdererNodes() {
		out, err := n.osnadmin(ctx, o, "list", "--channelID", n.l.Channel)
		if err == nil && bytes.Contains(out, []byte("Status: 200")) {
			continue
		}
		if _, err := n.osnadmin(ctx, o, "join", "--channelID", n.l.Channel, "--config-block", block); err != nil {
			return fmt.Errorf("join %s to %s: %w", o.Name, n.l.Channel, err)
		}
		log.Info("orderer joined channel", "node", o.Name, "channel", n.l.Channel)
	}
	return nil
}

// raftLeader returns the orderer that is the channel's etcdraft leader,
// read from the orderers' Prometheus metrics (consensus_etcdraft_is_leader).
func (n *network) raftLeader(ctx context.Context) (netspec.Node, error) {
	ops, err := fabconn.NewOps(n.l.CACert(netspec.OrdererOrgKey), n.l.OrgAdmin(netspec.OrdererOrgKey))
	if err != nil {
		return netspec.Node{}, err
	}
	var errs []string
	for _, o := range n.l.OrdererNodes() {
		v, err := ops.Metric(ctx, o, "consensus_etcdraft_is_leader", `channel="`+n.l.Channel+`"`)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if v == 1 {
			return o, nil
		}
	}
	return netspec.Node{}, fmt.Errorf("no raft leader for %s yet %v", n.l.Channel, errs)
}

func (n *network) waitRaftLeader(ctx context.Context) (netspec.Node, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		l, err := n.raftLeader(ctx)
		if err == nil {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return netspec.Node{}, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// peerEnv is the environment for the peer CLI acting as an org's admin
// against that org's peer.
func (n *network) peerEnv(o *netspec.Org) []string {
	admin := n.l.Admin(o)
	node := n.l.PeerNode(o)
	return []string{
		"FABRIC_CFG_PATH=" + n.cfgDir(),
		"FABRIC_LOGGING_SPEC=warning",
		"CORE_PEER_LOCALMSPID=" + o.MSPID,
		"CORE_PEER_MSPCONFIGPATH=" + admin.MSPDir,
		"CORE_PEER_ADDRESS=" + node.Address,
		"CORE_PEER_TLS_ENABLED=true",
		"CORE_PEER_TLS_ROOTCERT_FILE=" + n.l.CACert(o.Key()),
	}
}

// ordererArgs are the peer CLI flags that reach the ordering service.
func (n *network) ordererArgs() []string {
	return []string{"-o", n.l.OrdererNodes()[0].Address, "--tls", "--cafile", n.l.CACert(netspec.OrdererOrgKey)}
}

// joinPeers joins every org's peer to the channel, skipping joined ones.
func (n *network) joinPeers(ctx context.Context, block string) error {
	for i := range n.l.Orgs {
		o := &n.l.Orgs[i]
		env := n.peerEnv(o)
		out, err := execTool(ctx, env, n.bin("peer"), "channel", "list")
		if err == nil && bytes.Contains(out, []byte("\n"+n.l.Channel)) {
			continue
		}
		if out, err := execTool(ctx, env, n.bin("peer"), "channel", "join", "-b", block); err != nil {
			if bytes.Contains(out, []byte("already exists")) {
				continue
			}
			return fmt.Errorf("join peer of %s: %w", o.Name, err)
		}
		log.Info("peer joined channel", "org", o.Name, "channel", n.l.Channel)
	}
	return nil
}
