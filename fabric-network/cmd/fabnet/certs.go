package main

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hyperledger/fabric-config/configtx"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

// Certificate lifecycle (README "Certificates: renew and revoke").
//
// Renewal re-enrolls an identity with the certificate it holds
// (fabric-ca-client reenroll: new key, new certificate, same attributes)
// while it is still valid. Revocation revokes it at its org's CA, has the
// CA sign a new CRL and puts that CRL into the org's MSP in the channel
// configuration: from the config block on, every peer and orderer refuses
// the identity.

// Fabric CA 1.5 sets a certificate's lifetime from its signing profile
// only, and a profile other than "default", "tls" and "ca" cannot carry the
// attribute extension every enrollment certificate has (its whitelist is
// set for those three alone; the configuration file cannot name the OID,
// viper splits it at the dots). Short-lived certificates for a renewal
// drill therefore come from the org CA itself, run for the seconds of the
// renewal with a short default and tls expiry (withCAExpiry).

// withCAExpiry runs fn while o's CA issues certificates valid for d
// (signing.default and signing.profiles.tls), then restores the CA's
// configuration. The CA restarts twice (about a second); enrollments by
// anyone else meanwhile get d as well.
func (n *network) withCAExpiry(ctx context.Context, o *netspec.Org, d time.Duration, fn func() error) error {
	node, _ := n.l.NodeByName("ca." + o.Key())
	p, err := n.procFor(node)
	if err != nil {
		return err
	}
	path := filepath.Join(n.l.CAHome(o.Key()), "fabric-ca-server-config.yaml")
	orig, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	short, err := shortenExpiry(orig, d)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	restart := func(cfg []byte) error {
		if err := writeFileAtomic(path, cfg, 0o600); err != nil {
			return err
		}
		if _, err := stop(node, 10*time.Second, false); err != nil {
			return err
		}
		return start(ctx, p)
	}
	if err := restart(short); err != nil {
		return err
	}
	log.Info("CA issues short-lived certificates", "ca", node.Name, "expiry", d)
	ferr := fn()
	if err := restart(orig); err != nil {
		return errors.Join(ferr, fmt.Errorf("restore %s: %w", node.Name, err))
	}
	log.Info("CA expiry restored", "ca", node.Name)
	return ferr
}

// shortenExpiry sets signing.default.expiry and signing.profiles.tls.expiry
// of a Fabric CA server configuration to d, keeping everything else.
func shortenExpiry(cfg []byte, d time.Duration) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("empty configuration")
	}
	signing := mapping(doc.Content[0], "signing")
	for _, prof := range []*yaml.Node{mapping(signing, "default"), mapping(mapping(signing, "profiles"), "tls")} {
		exp := mapping(prof, "expiry")
		if exp == nil {
			return nil, errors.New("no signing.default.expiry or signing.profiles.tls.expiry to shorten")
		}
		exp.Value = d.String()
	}
	return yaml.Marshal(&doc)
}

// mapping returns the value node of key in mapping node m (nil: none).
func mapping(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// certTarget is an identity fabnet can renew or revoke: a user of a peer
// org ("Pharmacy/pharm-station"), a peer ("peer0.pharmacy") or a
// chaincode server ("cc.pharmacy").
type certTarget struct {
	org   *netspec.Org
	name  string // identity name at the CA
	files netspec.Identity
	tls   bool         // has a TLS certificate too
	node  netspec.Node // the process to restart (empty for users)
}

func (n *network) certTarget(arg string) (certTarget, error) {
	if orgName, user, ok := strings.Cut(arg, "/"); ok {
		id, err := n.l.User(orgName, user)
		if err != nil {
			return certTarget{}, err
		}
		o, _ := n.l.Org(orgName)
		files := n.l.IdentityFiles(o.Key(), o.MSPID, user)
		return certTarget{org: o, name: user, files: files, tls: id.Role == "admin"}, nil
	}
	nd, ok := n.l.NodeByName(arg)
	if !ok {
		return certTarget{}, fmt.Errorf("%q is neither ORG/USER nor a node (one of: %s)", arg, strings.Join(n.nodeNames(), ", "))
	}
	o, ok := n.l.Org(nd.Org)
	switch {
	case ok && nd.Kind == "peer":
		return certTarget{org: o, name: o.Peer.Name, files: n.l.IdentityFiles(o.Key(), o.MSPID, o.Peer.Name), tls: true, node: nd}, nil
	case ok && nd.Kind == "chaincode":
		return certTarget{org: o, name: "ccaas", files: n.l.IdentityFiles(o.Key(), o.MSPID, "ccaas"), tls: true, node: nd}, nil
	case nd.Kind == "orderer":
		return certTarget{}, errors.New("an orderer's TLS certificate is in the channel's consenter set: renewing it needs a channel configuration update of the consenters, one orderer at a time, which fabnet does not do yet")
	}
	return certTarget{}, fmt.Errorf("fabnet renews and revokes users, peers and chaincode servers, not %s (%s)", arg, nd.Kind)
}

func (n *network) caClientFor(o *netspec.Org) caClient {
	return caClient{n: n, orgKey: o.Key(), mspID: o.MSPID, port: o.CA.Port}
}

// renew re-enrolls the target's certificates (enrollment, and TLS for
// nodes and admins) while they are valid; with expiry > 0 the new ones are
// valid for expiry only (a drill, see withCAExpiry). A node is restarted to
// use them, and a peer's chaincode package, which carries the peer's TLS
// client certificate for its chaincode server, is made anew.
func (n *network) renew(ctx context.Context, w io.Writer, arg string, expiry time.Duration) error {
	t, err := n.certTarget(arg)
	if err != nil {
		return err
	}
	c := n.caClientFor(t.org)
	reenroll := func() error {
		if t.name != "ccaas" { // the chaincode server's enrollment certificate is never used
			if err := c.reenroll(ctx, t.files.CertFile, t.files.KeyFile, t.files, ""); err != nil {
				return err
			}
			report(w, "enrollment certificate", t.files.CertFile)
		}
		if t.tls {
			if err := c.reenroll(ctx, t.files.TLSCertFile, t.files.TLSKeyFile, t.files, "tls"); err != nil {
				return err
			}
			report(w, "TLS certificate", t.files.TLSCertFile)
		}
		return nil
	}
	if expiry > 0 {
		err = n.withCAExpiry(ctx, t.org, expiry, reenroll)
	} else {
		err = reenroll()
	}
	if err != nil {
		return err
	}
	switch t.node.Kind {
	case "peer":
		if _, err := stop(t.node, 10*time.Second, false); err != nil {
			return err
		}
		if err := start(ctx, n.peerProc(t.org)); err != nil {
			return err
		}
		if err := n.repackage(ctx, t.org); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s restarted with its new certificates; chaincode package of %s made with its new TLS client certificate\n", t.node.Name, t.org.Name)
	case "chaincode":
		p, err := n.procFor(t.node)
		if err != nil {
			return err
		}
		if _, err := stop(t.node, 10*time.Second, false); err != nil {
			return err
		}
		if err := start(ctx, p); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s restarted with its new TLS certificate\n", t.node.Name)
	default:
		fmt.Fprintf(w, "%s renewed in place: processes using it read it when they next connect\n", arg)
	}
	return nil
}

func report(w io.Writer, what, certFile string) {
	if c, err := readCert(certFile); err == nil {
		fmt.Fprintf(w, "%s %s: serial %s, valid until %s\n", what, certFile, c.SerialNumber.Text(16), c.NotAfter.UTC().Format(time.RFC3339))
	}
}

// repackage makes o's chaincode package anew for the committed build (the
// package carries the peer's TLS client certificate), approves it for the
// committed sequence and switches o's chaincode server to it.
func (n *network) repackage(ctx context.Context, o *netspec.Org) error {
	st, ok, err := n.loadCCState(o)
	if err != nil || !ok {
		return err
	}
	def, err := n.queryCommitted(ctx, o)
	if err != nil {
		return err
	}
	if def == nil {
		return nil
	}
	b, err := n.binaryBuild(ctx, st.Binary)
	if err != nil {
		return err
	}
	// The committed definition as it is: approving its sequence again
	// needs the same version and collections.
	d, err := n.writeCollections(definition{Sequence: def.Sequence, Version: def.Version, Collections: def.Collections})
	if err != nil {
		return err
	}
	next, err := n.prepareOrg(ctx, o, b, st.Binary, d)
	if err != nil {
		return err
	}
	return n.switchServer(o, next)
}

// reenroll renews one certificate (certFile, keyFile) of identity id with
// the CA signing profile, authenticating with id's current enrollment
// certificate; the new certificate and key replace the old ones.
func (c caClient) reenroll(ctx context.Context, certFile, keyFile string, id netspec.Identity, profile string) error {
	home, err := os.MkdirTemp(filepath.Dir(id.MSPDir), "renew-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	msp := filepath.Join(home, "msp")
	for src, dst := range map[string]string{id.CertFile: filepath.Join(msp, "signcerts", "cert.pem"), id.KeyFile: filepath.Join(msp, "keystore", "key.pem")} {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			return err
		}
	}
	args := append([]string{"reenroll", "-u", "https://" + c.n.l.Addr(c.port), "--home", home, "--mspdir", "msp",
		"--csr.cn", id.Name, "--csr.hosts", "localhost,127.0.0.1"}, c.common()...)
	if profile != "" {
		args = append(args, "--enrollment.profile", profile)
	}
	if _, err := execTool(ctx, nil, c.n.bin("fabric-ca-client"), args...); err != nil {
		return fmt.Errorf("reenroll %s at ca-%s: %w", id.Name, c.orgKey, err)
	}
	if err := os.Remove(filepath.Join(msp, "keystore", "key.pem")); err != nil {
		return err
	}
	newKey := filepath.Join(home, "key.pem")
	if err := moveOne(filepath.Join(msp, "keystore"), newKey); err != nil {
		return err
	}
	// Key first: a reader between the two renames pairs the old
	// certificate with the new key and fails loudly; never the reverse.
	if err := os.Rename(newKey, keyFile); err != nil {
		return err
	}
	return os.Rename(filepath.Join(msp, "signcerts", "cert.pem"), certFile)
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

// revoke revokes a user (or a node's identity) at its org's CA, has the
// CA sign a new CRL and puts it into the org's MSP in the channel
// configuration; it returns once every peer has the config block.
func (n *network) revoke(ctx context.Context, w io.Writer, arg, reason string) error {
	t, err := n.certTarget(arg)
	if err != nil {
		return err
	}
	if reason == "" || strings.ContainsAny(reason, " ,") {
		return fmt.Errorf("-reason %q: want one CRL reason, e.g. keycompromise", reason)
	}
	t0 := time.Now()
	c := n.caClientFor(t.org)
	registrar := filepath.Join(n.l.OrgDir(t.org.Key()), "registrar")
	args := append([]string{"revoke", "-u", "https://" + n.l.Addr(c.port), "--home", registrar, "--mspdir", "msp",
		"-e", t.name, "-r", reason, "--gencrl"}, c.common()...)
	if out, err := execTool(ctx, nil, n.bin("fabric-ca-client"), args...); err != nil && !strings.Contains(string(out), "already revoked") {
		return fmt.Errorf("revoke %s at ca-%s: %w", t.name, t.org.Key(), err)
	}
	crlPEM, err := os.ReadFile(filepath.Join(registrar, "msp", "crls", "crl.pem"))
	if err != nil {
		return fmt.Errorf("CRL of ca-%s: %w", t.org.Key(), err)
	}
	// Kept in the org's MSP directory as well, for new channels and joins.
	if err := writeFileAtomic(filepath.Join(n.l.OrgMSPDir(t.org.Key()), "crls", "crl.pem"), crlPEM, 0o644); err != nil {
		return err
	}
	block, err := n.setCRL(ctx, t.org, crlPEM)
	if err != nil {
		return err
	}
	if err := n.waitPeersHeight(ctx, block+1); err != nil {
		return err
	}
	fmt.Fprintf(w, "revoked %s (%s): CRL of ca-%s in %s's MSP from config block %d, on every peer %s after the revocation\n",
		arg, reason, t.org.Key(), t.org.MSPID, block, time.Since(t0).Round(time.Millisecond))
	return nil
}

// setCRL replaces the CRLs of org o's MSP in the channel configuration by
// crlPEM. The MSP value's modification policy is the org's own Admins, so
// the update is signed by the org's admin alone (peer channel update). It
// returns the number of the config block that carries it.
func (n *network) setCRL(ctx context.Context, o *netspec.Org, crlPEM []byte) (uint64, error) {
	blk, _ := pem.Decode(crlPEM)
	if blk == nil {
		return 0, errors.New("CRL: no PEM block")
	}
	crl, err := x509.ParseDERCRL(blk.Bytes) //nolint:staticcheck // fabric-config takes a pkix.CertificateList
	if err != nil {
		return 0, fmt.Errorf("CRL: %w", err)
	}
	cfg, number, err := n.channelConfig(ctx, o)
	if err != nil {
		return 0, err
	}
	tx := configtx.New(cfg)
	org := tx.Application().Organization(o.Name)
	if org == nil {
		return 0, fmt.Errorf("channel %s has no application org %s", n.l.Channel, o.Name)
	}
	msp, err := org.MSP().Configuration()
	if err != nil {
		return 0, err
	}
	msp.RevocationList = []*pkix.CertificateList{crl}
	if err := org.SetMSP(msp); err != nil {
		return 0, fmt.Errorf("set the CRL of %s: %w", o.MSPID, err)
	}
	update, err := tx.ComputeMarshaledUpdate(n.l.Channel)
	if err != nil {
		return 0, err
	}
	env, err := configtx.NewEnvelope(update)
	if err != nil {
		return 0, err
	}
	raw, err := proto.Marshal(env)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp(n.channelDir(), "update-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "update.pb")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		return 0, err
	}
	args := append([]string{"channel", "update", "-c", n.l.Channel, "-f", file}, n.ordererArgs()...)
	if _, err := execTool(ctx, n.peerEnv(o), n.bin("peer"), args...); err != nil {
		return 0, fmt.Errorf("channel update (CRL of %s): %w", o.MSPID, err)
	}
	// The update is ordered into the next config block.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, now, err := n.channelConfig(ctx, o)
		if err == nil && now > number {
			log.Info("CRL in the channel configuration", "msp", o.MSPID, "config_block", now)
			return now, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no new config block after the CRL update of %s: %v", o.MSPID, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// channelConfig fetches the channel's latest config block from the
// ordering service (as o's admin) and returns its configuration and number.
func (n *network) channelConfig(ctx context.Context, o *netspec.Org) (*common.Config, uint64, error) {
	dir, err := os.MkdirTemp(n.channelDir(), "fetch-")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "config.block")
	args := append([]string{"channel", "fetch", "config", file, "-c", n.l.Channel}, n.ordererArgs()...)
	if _, err := execTool(ctx, n.peerEnv(o), n.bin("peer"), args...); err != nil {
		return nil, 0, fmt.Errorf("fetch the config of %s: %w", n.l.Channel, err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, 0, err
	}
	return configFromBlock(raw)
}

// configFromBlock decodes a config block: block → envelope → payload →
// config envelope → config.
func configFromBlock(raw []byte) (*common.Config, uint64, error) {
	var b common.Block
	if err := proto.Unmarshal(raw, &b); err != nil {
		return nil, 0, fmt.Errorf("config block: %w", err)
	}
	if len(b.GetData().GetData()) != 1 {
		return nil, 0, fmt.Errorf("config block %d holds %d transactions, want 1", b.GetHeader().GetNumber(), len(b.GetData().GetData()))
	}
	var env common.Envelope
	if err := proto.Unmarshal(b.Data.Data[0], &env); err != nil {
		return nil, 0, fmt.Errorf("config block envelope: %w", err)
	}
	var p common.Payload
	if err := proto.Unmarshal(env.Payload, &p); err != nil {
		return nil, 0, fmt.Errorf("config block payload: %w", err)
	}
	var ch common.ChannelHeader
	if err := proto.Unmarshal(p.GetHeader().GetChannelHeader(), &ch); err != nil || ch.Type != int32(common.HeaderType_CONFIG) {
		return nil, 0, fmt.Errorf("block %d is not a config block (type %d, %v)", b.GetHeader().GetNumber(), ch.Type, err)
	}
	var ce common.ConfigEnvelope
	if err := proto.Unmarshal(p.Data, &ce); err != nil {
		return nil, 0, fmt.Errorf("config envelope: %w", err)
	}
	return ce.Config, b.GetHeader().GetNumber(), nil
}

// waitPeersHeight waits until every peer's ledger has height blocks.
func (n *network) waitPeersHeight(ctx context.Context, height uint64) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range n.l.PeerNodes() {
		ops, err := fabconn.NewOps(n.l.CACert(p.Org), n.l.OrgAdmin(p.Org))
		if err != nil {
			return err
		}
		for {
			v, err := ops.Metric(ctx, p, "ledger_blockchain_height", `channel="`+n.l.Channel+`"`)
			if err == nil && uint64(v) >= height {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s has not reached block height %d: %v (height %v)", p.Name, height, err, v)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}
