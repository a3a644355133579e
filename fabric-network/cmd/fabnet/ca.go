package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

// caProc returns how an org's Fabric CA server runs: TLS on, its own root,
// a TLS certificate for localhost/127.0.0.1 signed by that root.
func (n *network) caProc(node netspec.Node, opsPort int) (proc, error) {
	home := n.l.CAHome(node.Org)
	secret, err := n.bootstrapSecret(node.Org)
	if err != nil {
		return proc{}, err
	}
	_, port, _ := strings.Cut(node.Address, ":")
	p := proc{
		node: node,
		bin:  n.bin("fabric-ca-server"),
		args: []string{"start",
			"-b", caRegistrar + ":" + secret,
			"--home", home,
			"--address", n.l.Host,
			"--port", port,
			"--ca.name", "ca-" + node.Org,
			"--csr.cn", "ca." + node.Org,
			"--csr.hosts", "localhost,127.0.0.1",
			"--tls.enabled",
			"--operations.listenaddress", n.l.Addr(opsPort),
			// /metrics on the operations endpoint (Fabric CA's default is "disabled").
			"--metrics.provider", "prometheus",
		},
	}
	node.DataDir = home
	p.node = node
	// Ready when it completes a TLS handshake: a bare TCP dial can be
	// answered by the old process still closing, or by a self-connection
	// from an ephemeral port equal to the CA's.
	p.ready = func(ctx context.Context) error {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 500 * time.Millisecond}, Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // liveness only
		c, err := d.DialContext(ctx, "tcp", node.Address)
		if err != nil {
			return err
		}
		return c.Close()
	}
	return p, nil
}

// bootstrapSecret is the CA registrar's password, random per network,
// kept (0600) in the org directory.
func (n *network) bootstrapSecret(orgKey string) (string, error) {
	path := filepath.Join(n.l.OrgDir(orgKey), "bootstrap.secret")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 16)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("generate CA secret: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	s := hex.EncodeToString(buf)
	return s, os.WriteFile(path, []byte(s+"\n"), 0o600)
}

// identitySecret derives a per-identity enrollment secret from the org's
// bootstrap secret, so a half-finished run can enroll again.
func identitySecret(bootstrap, name string) string {
	m := hmac.New(sha256.New, []byte(bootstrap))
	m.Write([]byte(name))
	return hex.EncodeToString(m.Sum(nil))[:24]
}

// enrollee is one identity to register with and enroll from an org's CA.
type enrollee struct {
	name  string
	typ   string // client | peer | orderer | admin
	attrs []string
	tls   bool // also enroll a TLS certificate (nodes, admins)
}

// caClient runs fabric-ca-client against one org's CA.
type caClient struct {
	n      *network
	orgKey string
	mspID  string
	port   int
}

func (c caClient) url(user, secret string) string {
	return "https://" + user + ":" + secret + "@" + c.n.l.Addr(c.port)
}

func (c caClient) common() []string {
	return []string{"--caname", "ca-" + c.orgKey, "--tls.certfiles", c.n.l.CACert(c.orgKey)}
}

// enrollAll registers (as the CA's bootstrap registrar) and enrolls every
// identity that has no certificate yet. Everything is issued by the CA.
func (c caClient) enrollAll(ctx context.Context, ids []enrollee) error {
	boot, err := c.n.bootstrapSecret(c.orgKey)
	if err != nil {
		return err
	}
	registrar := filepath.Join(c.n.l.OrgDir(c.orgKey), "registrar")
	if _, err := os.Stat(filepath.Join(registrar, "msp", "signcerts", "cert.pem")); err != nil {
		if _, err := execTool(ctx, nil, c.n.bin("fabric-ca-client"), append([]string{"enroll",
			"-u", c.url(caRegistrar, boot), "--home", registrar, "--mspdir", "msp"}, c.common()...)...); err != nil {
			return fmt.Errorf("enroll CA registrar of %s: %w", c.orgKey, err)
		}
	}
	if err := c.writeOrgMSP(); err != nil {
		return err
	}
	for _, id := range ids {
		files := c.n.l.IdentityFiles(c.orgKey, c.mspID, id.name)
		if _, err := os.Stat(files.CertFile); err == nil && (!id.tls || exists(files.TLSCertFile)) {
			continue
		}
		secret := identitySecret(boot, id.name)
		args := append([]string{"register", "--home", registrar, "--mspdir", "msp",
			"-u", "https://" + c.n.l.Addr(c.port),
			"--id.name", id.name, "--id.secret", secret, "--id.type", id.typ}, c.common()...)
		if len(id.attrs) > 0 {
			args = append(args, "--id.attrs", strings.Join(id.attrs, ","))
		}
		if out, err := execTool(ctx, nil, c.n.bin("fabric-ca-client"), args...); err != nil && !strings.Contains(string(out), "already registered") {
			return fmt.Errorf("register %s with ca-%s: %w", id.name, c.orgKey, err)
		}
		if err := c.enroll(ctx, id.name, secret, files.MSPDir, false); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(files.MSPDir, "config.yaml"), []byte(nodeOUConfig), 0o644); err != nil {
			return err
		}
		if id.tls {
			tmp := filepath.Join(filepath.Dir(files.TLSCertFile), "enroll")
			if err := c.enroll(ctx, id.name, secret, tmp, true); err != nil {
				return err
			}
			if err := moveOne(filepath.Join(tmp, "signcerts"), files.TLSCertFile); err != nil {
				return err
			}
			if err := moveOne(filepath.Join(tmp, "keystore"), files.TLSKeyFile); err != nil {
				return err
			}
			if err := os.RemoveAll(tmp); err != nil {
				return err
			}
		}
		log.Debug("enrolled", "org", c.orgKey, "identity", id.name, "type", id.typ)
	}
	return nil
}

// enroll enrolls name into mspDir and normalises the file names fabric-ca-client
// chose (cacerts/ca.pem, keystore/key.pem, signcerts/cert.pem).
func (c caClient) enroll(ctx context.Context, name, secret, mspDir string, tls bool) error {
	args := append([]string{"enroll", "-u", c.url(name, secret), "--mspdir", mspDir,
		"--home", filepath.Dir(mspDir), "--csr.cn", name, "--csr.hosts", "localhost,127.0.0.1"}, c.common()...)
	if tls {
		args = append(args, "--enrollment.profile", "tls")
	}
	if _, err := execTool(ctx, nil, c.n.bin("fabric-ca-client"), args...); err != nil {
		return fmt.Errorf("enroll %s from ca-%s: %w", name, c.orgKey, err)
	}
	_ = os.Remove(filepath.Join(filepath.Dir(mspDir), "fabric-ca-client-config.yaml"))
	if tls {
		return nil
	}
	if err := moveOne(filepath.Join(mspDir, "keystore"), filepath.Join(mspDir, "keystore", "key.pem")); err != nil {
		return err
	}
	return moveOne(filepath.Join(mspDir, "cacerts"), filepath.Join(mspDir, "cacerts", "ca.pem"))
}

// writeOrgMSP writes the org's channel MSP: its CA as root and TLS root,
// and the NodeOU configuration.
func (c caClient) writeOrgMSP() error {
	dir := c.n.l.OrgMSPDir(c.orgKey)
	ca, err := os.ReadFile(c.n.l.CACert(c.orgKey))
	if err != nil {
		return fmt.Errorf("org MSP of %s: %w", c.orgKey, err)
	}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{filepath.Join(dir, "cacerts", "ca.pem"), ca},
		{filepath.Join(dir, "tlscacerts", "ca.pem"), ca},
		{filepath.Join(dir, "config.yaml"), []byte(nodeOUConfig)},
	} {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

const nodeOUConfig = `NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: orderer
`

// moveOne renames the single file in dir to dst.
func moveOne(dir, dst string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && filepath.Join(dir, e.Name()) != dst {
			files = append(files, e.Name())
		}
	}
	if len(files) == 0 && exists(dst) {
		return nil
	}
	if len(files) != 1 {
		return fmt.Errorf("expected one file in %s, found %d", dir, len(files))
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.Rename(filepath.Join(dir, files[0]), dst)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// userAttrs renders a user's chaincode attributes as Fabric CA ecert attributes.
func userAttrs(u netspec.User) []string {
	attrs := []string{strconv.Quote("role=" + u.Role + ":ecert"), strconv.Quote("gln=" + u.GLN + ":ecert")}
	if u.GCP != "" {
		attrs = append(attrs, strconv.Quote("gcp="+u.GCP+":ecert"))
	}
	return attrs
}

// enrollIdentities issues every identity of the network, one goroutine per CA.
func (n *network) enrollIdentities(ctx context.Context) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	do := func(c caClient, ids []enrollee) {
		defer wg.Done()
		if err := c.enrollAll(ctx, ids); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	oo := n.l.OrdererOrg
	ordererIDs := []enrollee{{name: oo.Admin.Name, typ: "admin", tls: true,
		attrs: userAttrs(netspec.User{Role: "admin", GLN: oo.Admin.GLN})}}
	for _, o := range oo.Orderers {
		ordererIDs = append(ordererIDs, enrollee{name: o.Name, typ: "orderer", tls: true})
	}
	wg.Add(1 + len(n.l.Orgs))
	go do(caClient{n, netspec.OrdererOrgKey, oo.MSPID, oo.CA.Port}, ordererIDs)
	for _, o := range n.l.Orgs {
		ids := []enrollee{
			{name: o.Peer.Name, typ: "peer", tls: true},
			{name: "ccaas", typ: "client", tls: true},
		}
		for _, u := range o.Users {
			typ := "client"
			if u.Role == "admin" {
				typ = "admin"
			}
			ids = append(ids, enrollee{name: u.Name, typ: typ, attrs: userAttrs(u), tls: u.Role == "admin"})
		}
		go do(caClient{n, o.Key(), o.MSPID, o.CA.Port}, ids)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// caRegistrar is the bootstrap identity of every org CA; it registers the
// network's identities. Users may not take this name (netspec checks).
const caRegistrar = netspec.CARegistrar
