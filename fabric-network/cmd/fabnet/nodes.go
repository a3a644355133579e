package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

// writeFabricConfig writes the core.yaml and orderer.yaml every node uses
// (FABRIC_CFG_PATH), patched from Fabric's sample config: the CCaaS external
// builder and no Docker. Per-node settings are passed as environment.
func (n *network) writeFabricConfig() error {
	dir := n.cfgDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var core map[string]any
	if err := readYAML(filepath.Join(n.sampleConfig, "core.yaml"), &core); err != nil {
		return fmt.Errorf("Fabric sample config (built by make into %s): %w", n.sampleConfig, err)
	}
	cc := core["chaincode"].(map[string]any)
	cc["externalBuilders"] = []any{map[string]any{
		"name": "pharmatrace-ccaas", "path": n.builderDir, "propagateEnvironment": []any{"PATH"},
	}}
	// A chaincode server connects in milliseconds (no image to build): a
	// launch that has not registered within 5 s is a server the peer
	// refused, e.g. one started for another package ("peer will not accept
	// external chaincode connection" in the peer's log). Endorsements at
	// that peer fail after 5 s, naming the package the peer expects,
	// instead of hanging for Fabric's 300 s.
	cc["startuptimeout"] = "5s"
	core["vm"].(map[string]any)["endpoint"] = ""
	if err := writeYAML(filepath.Join(dir, "core.yaml"), core); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(n.sampleConfig, "orderer.yaml"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "orderer.yaml"), b, 0o644)
}

func (n *network) cfgDir() string { return filepath.Join(n.l.Dir, "config") }

func readYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return yaml.Unmarshal(b, v)
}

func writeYAML(path string, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func (n *network) ordererProc(node netspec.Node) proc {
	id := n.l.IdentityFiles(netspec.OrdererOrgKey, n.l.OrdererOrg.MSPID, node.Name)
	ca := n.l.CACert(netspec.OrdererOrgKey)
	host, port, _ := strings.Cut(node.Address, ":")
	env := []string{
		"FABRIC_CFG_PATH=" + n.cfgDir(),
		"FABRIC_LOGGING_SPEC=info:orderer.common.broadcast=warning:comm.grpc.server=warning",
		"ORDERER_GENERAL_LISTENADDRESS=" + host,
		"ORDERER_GENERAL_LISTENPORT=" + port,
		"ORDERER_GENERAL_LOCALMSPID=" + n.l.OrdererOrg.MSPID,
		"ORDERER_GENERAL_LOCALMSPDIR=" + id.MSPDir,
		"ORDERER_GENERAL_TLS_ENABLED=true",
		"ORDERER_GENERAL_TLS_PRIVATEKEY=" + id.TLSKeyFile,
		"ORDERER_GENERAL_TLS_CERTIFICATE=" + id.TLSCertFile,
		"ORDERER_GENERAL_TLS_ROOTCAS=[" + ca + "]",
		"ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE=" + id.TLSCertFile,
		"ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY=" + id.TLSKeyFile,
		"ORDERER_GENERAL_CLUSTER_ROOTCAS=[" + ca + "]",
		"ORDERER_GENERAL_BOOTSTRAPMETHOD=none",
		"ORDERER_CHANNELPARTICIPATION_ENABLED=true",
		"ORDERER_ADMIN_LISTENADDRESS=" + node.AdminAddr,
		"ORDERER_ADMIN_TLS_ENABLED=true",
		"ORDERER_ADMIN_TLS_CERTIFICATE=" + id.TLSCertFile,
		"ORDERER_ADMIN_TLS_PRIVATEKEY=" + id.TLSKeyFile,
		"ORDERER_ADMIN_TLS_ROOTCAS=[" + ca + "]",
		"ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED=true",
		"ORDERER_ADMIN_TLS_CLIENTROOTCAS=[" + ca + "]",
		"ORDERER_OPERATIONS_LISTENADDRESS=" + node.OpsAddr,
		"ORDERER_OPERATIONS_TLS_ENABLED=true",
		"ORDERER_OPERATIONS_TLS_CERTIFICATE=" + id.TLSCertFile,
		"ORDERER_OPERATIONS_TLS_PRIVATEKEY=" + id.TLSKeyFile,
		"ORDERER_OPERATIONS_TLS_CLIENTAUTHREQUIRED=false",
		"ORDERER_OPERATIONS_TLS_CLIENTROOTCAS=[" + ca + "]",
		"ORDERER_METRICS_PROVIDER=prometheus",
		"ORDERER_FILELEDGER_LOCATION=" + filepath.Join(node.DataDir, "ledger"),
		"ORDERER_CONSENSUS_WALDIR=" + filepath.Join(node.DataDir, "etcdraft", "wal"),
		"ORDERER_CONSENSUS_SNAPDIR=" + filepath.Join(node.DataDir, "etcdraft", "snapshot"),
	}
	if c := n.l.Spec.Ordering.Cluster; c != (netspec.OrdererCluster{}) {
		if c.RPCTimeout > 0 {
			env = append(env, "ORDERER_GENERAL_CLUSTER_RPCTIMEOUT="+c.RPCTimeout.String())
		}
		if c.DialTimeout > 0 {
			env = append(env, "ORDERER_GENERAL_CLUSTER_DIALTIMEOUT="+c.DialTimeout.String())
		}
		if c.SendBufferSize > 0 {
			env = append(env, fmt.Sprintf("ORDERER_GENERAL_CLUSTER_SENDBUFFERSIZE=%d", c.SendBufferSize))
		}
	}
	return proc{node: node, bin: n.bin("orderer"), env: env,
		ready: func(ctx context.Context) error {
			if err := n.opsHealthy(ctx, node); err != nil {
				return err
			}
			return dialable(ctx, node.AdminAddr)
		}}
}

// peerProc runs an org's peer. Private data (the manufacturers'
// collections, collections.go) needs nothing beyond this: member peers of
// different orgs reach each other by gossip through the external endpoint
// and the anchor peers of the channel configuration, as the gateway's
// endorsement plans do; core.yaml's peer.gossip.pvtData keeps Fabric's
// defaults. pushAckTimeout 3s is never waited for (requiredPeerCount 0);
// both members endorse every write, so each has the data in its transient
// store (persistent, kept transientstoreMaxBlockRetention 1000 blocks) at
// commit. pullRetryThreshold 60s (how long a member peer lacking the data
// holds back its commit while it pulls it) matters only to a member peer
// that did not endorse (a second peer of the org, a rebuilt ledger) while
// no other member serves the data; reconciliation (every
// reconcileSleepInterval 1m) then fetches what was committed without it.
func (n *network) peerProc(o *netspec.Org) proc {
	node := n.l.PeerNode(o)
	id := n.l.IdentityFiles(o.Key(), o.MSPID, o.Peer.Name)
	env := []string{
		"FABRIC_CFG_PATH=" + n.cfgDir(),
		// Block commits stay at info; per-call and per-endorsement lines
		// cost CPU under load and say nothing the metrics do not.
		"FABRIC_LOGGING_SPEC=info:gossip=warning:msp=warning:comm.grpc.server=warning:endorser=warning:committer.txvalidator=warning:gateway=warning",
		"CORE_PEER_ID=" + node.Name,
		"CORE_PEER_ADDRESS=" + node.Address,
		"CORE_PEER_LISTENADDRESS=" + node.Address,
		"CORE_PEER_CHAINCODEADDRESS=" + n.l.Addr(o.Peer.ChaincodePort),
		"CORE_PEER_CHAINCODELISTENADDRESS=" + n.l.Addr(o.Peer.ChaincodePort),
		"CORE_PEER_GOSSIP_BOOTSTRAP=" + node.Address,
		"CORE_PEER_GOSSIP_EXTERNALENDPOINT=" + node.Address,
		// A peer that meets another org's peer before it has joined the
		// channel cannot authenticate it and drops the connection; Fabric
		// then waits reconnectInterval (25 s) before dialling it again, so
		// one start in three left a gateway unable to name another org's
		// endorsers for 30 s (fabnet meshReady measured it). On a LAN a
		// redial after 3 s costs nothing.
		"CORE_PEER_GOSSIP_RECONNECTINTERVAL=3s",
		"CORE_PEER_LOCALMSPID=" + o.MSPID,
		"CORE_PEER_MSPCONFIGPATH=" + id.MSPDir,
		"CORE_PEER_TLS_ENABLED=true",
		"CORE_PEER_TLS_CERT_FILE=" + id.TLSCertFile,
		"CORE_PEER_TLS_KEY_FILE=" + id.TLSKeyFile,
		"CORE_PEER_TLS_ROOTCERT_FILE=" + n.l.CACert(o.Key()),
		"CORE_PEER_FILESYSTEMPATH=" + filepath.Join(node.DataDir, "ledger"),
		"CORE_LEDGER_SNAPSHOTS_ROOTDIR=" + filepath.Join(node.DataDir, "snapshots"),
		"CORE_OPERATIONS_LISTENADDRESS=" + node.OpsAddr,
		"CORE_OPERATIONS_TLS_ENABLED=true",
		"CORE_OPERATIONS_TLS_CERT_FILE=" + id.TLSCertFile,
		"CORE_OPERATIONS_TLS_KEY_FILE=" + id.TLSKeyFile,
		"CORE_OPERATIONS_TLS_CLIENTAUTHREQUIRED=false",
		"CORE_OPERATIONS_TLS_CLIENTROOTCAS_FILES=" + n.l.CACert(o.Key()),
		"CORE_METRICS_PROVIDER=prometheus",
		// Go profiles (loopback) for explaining `make bench` figures.
		"CORE_PEER_PROFILE_ENABLED=true",
		"CORE_PEER_PROFILE_LISTENADDRESS=" + n.l.Addr(o.Peer.Port+2),
	}
	return proc{node: node, bin: n.bin("peer"), args: []string{"node", "start"}, env: env,
		ready: func(ctx context.Context) error {
			if err := n.opsHealthy(ctx, node); err != nil {
				return err
			}
			return dialable(ctx, node.Address)
		}}
}

// ccProc runs the org's PharmaTrace chaincode-as-a-service process of
// build st on node (its slot's address), with mutual TLS: its server
// certificate is issued by the org CA and only clients with a certificate
// from that CA (the org's peer) may connect.
func (n *network) ccProc(o *netspec.Org, st ccState, node netspec.Node) proc {
	id := n.l.IdentityFiles(o.Key(), o.MSPID, "ccaas")
	port := o.ChaincodeServerPort + 2*st.Slot
	return proc{node: node, bin: st.Binary, env: []string{
		"CHAINCODE_ID=" + st.PackageID,
		"CHAINCODE_SERVER_ADDRESS=" + node.Address,
		"CHAINCODE_TLS_CERT=" + id.TLSCertFile,
		"CHAINCODE_TLS_KEY=" + id.TLSKeyFile,
		"CHAINCODE_TLS_CLIENT_CA=" + n.l.CACert(o.Key()),
		"PHARMATRACE_ORG_ROLES=" + n.l.OrgRoles(),
		"PHARMATRACE_ORG_PREFIXES=" + n.l.OrgPrefixes(),
		"CHAINCODE_PPROF_ADDRESS=" + n.l.Addr(port+1),
	}}
}

func (n *network) opsHealthy(ctx context.Context, node netspec.Node) error {
	ops, err := fabconn.NewOps(n.l.CACert(node.Org), n.l.OrgAdmin(node.Org))
	if err != nil {
		return err
	}
	_, err = ops.Get(ctx, node, "/healthz")
	return err
}
