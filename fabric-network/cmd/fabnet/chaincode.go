package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

// ccPackage builds the org's chaincode-as-a-service package reproducibly
// (fixed modes and times, so the same inputs give the same package ID) and
// returns its path and package ID (label:sha256 of the package bytes, as
// the peer computes it).
func (n *network) ccPackage(o *netspec.Org) (path, id string, err error) {
	peerID := n.l.IdentityFiles(o.Key(), o.MSPID, o.Peer.Name)
	read := func(p string) string {
		if err != nil {
			return ""
		}
		var b []byte
		b, err = os.ReadFile(p)
		return string(b)
	}
	conn := map[string]any{
		"address":              n.l.ChaincodeNode(o).Address,
		"dial_timeout":         "10s",
		"tls_required":         true,
		"client_auth_required": true,
		// The peer presents its own TLS certificate to the chaincode server.
		"client_cert": read(peerID.TLSCertFile),
		"client_key":  read(peerID.TLSKeyFile),
		"root_cert":   read(n.l.CACert(o.Key())),
	}
	if err != nil {
		return "", "", fmt.Errorf("chaincode package for %s: %w", o.Name, err)
	}
	connJSON, err := json.MarshalIndent(conn, "", "  ")
	if err != nil {
		return "", "", err
	}
	code, err := tarGz(map[string][]byte{"connection.json": connJSON})
	if err != nil {
		return "", "", err
	}
	meta, _ := json.Marshal(map[string]string{"type": "ccaas", "label": n.l.Chaincode.Label})
	pkg, err := tarGz(map[string][]byte{"metadata.json": meta, "code.tar.gz": code})
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(pkg)
	id = n.l.Chaincode.Label + ":" + hex.EncodeToString(sum[:])
	path = filepath.Join(n.l.Dir, "chaincode", o.Key()+".tar.gz")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", "", err
	}
	return path, id, os.WriteFile(path, pkg, 0o600)
}

// tarGz writes a deterministic gzipped tar of files (sorted names, zero times).
func tarGz(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range sortedKeys(files) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// installChaincode installs the org's package on its peer unless installed.
func (n *network) installChaincode(ctx context.Context, o *netspec.Org, pkg, id string) error {
	env := n.peerEnv(o)
	out, err := execTool(ctx, env, n.bin("peer"), "lifecycle", "chaincode", "queryinstalled", "--output", "json")
	if err == nil && bytes.Contains(out, []byte(id)) {
		return nil
	}
	if _, err := execTool(ctx, env, n.bin("peer"), "lifecycle", "chaincode", "install", pkg); err != nil {
		return fmt.Errorf("install chaincode on %s: %w", o.Name, err)
	}
	log.Info("chaincode installed", "org", o.Name, "package_id", id)
	return nil
}

type committedDef struct {
	Sequence int    `json:"sequence"`
	Version  string `json:"version"`
	Approved map[string]bool
}

func (n *network) queryCommitted(ctx context.Context) (*committedDef, error) {
	out, err := execTool(ctx, n.peerEnv(&n.l.Orgs[0]), n.bin("peer"), "lifecycle", "chaincode", "querycommitted",
		"-C", n.l.Channel, "-n", n.l.Chaincode.Name, "--output", "json")
	if err != nil {
		if strings.Contains(string(out), "not found") || strings.Contains(string(out), "is not defined") {
			return nil, nil
		}
		return nil, err
	}
	var d struct {
		Sequence  int             `json:"sequence"`
		Version   string          `json:"version"`
		Approvals map[string]bool `json:"approvals"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		return nil, fmt.Errorf("querycommitted output: %w", err)
	}
	return &committedDef{Sequence: d.Sequence, Version: d.Version, Approved: d.Approvals}, nil
}

func (n *network) policyArgs() []string {
	if n.l.Chaincode.Policy == "MAJORITY" {
		return []string{"--channel-config-policy", "/Channel/Application/Endorsement"}
	}
	return []string{"--signature-policy", n.l.Chaincode.Policy}
}

// deployChaincode approves the chaincode definition for every org (each
// with its own CCaaS package ID) and commits it, unless the same version
// is committed already.
func (n *network) deployChaincode(ctx context.Context, ids map[string]string) error {
	def, err := n.queryCommitted(ctx)
	if err != nil {
		return err
	}
	if def != nil && def.Version == n.l.Chaincode.Version {
		log.Debug("chaincode already committed", "sequence", def.Sequence, "version", def.Version)
		return nil
	}
	seq := 1
	if def != nil {
		seq = def.Sequence + 1
	}
	common := append([]string{"-C", n.l.Channel, "-n", n.l.Chaincode.Name, "--version", n.l.Chaincode.Version,
		"--sequence", strconv.Itoa(seq)}, n.policyArgs()...)
	for i := range n.l.Orgs {
		o := &n.l.Orgs[i]
		args := append([]string{"lifecycle", "chaincode", "approveformyorg", "--package-id", ids[o.MSPID]}, common...)
		if _, err := execTool(ctx, n.peerEnv(o), n.bin("peer"), append(args, n.ordererArgs()...)...); err != nil {
			return fmt.Errorf("approve chaincode for %s: %w", o.Name, err)
		}
	}
	args := append([]string{"lifecycle", "chaincode", "commit"}, common...)
	args = append(args, n.ordererArgs()...)
	for _, p := range n.l.PeerNodes() {
		args = append(args, "--peerAddresses", p.Address, "--tlsRootCertFiles", p.TLSRootPEM)
	}
	if _, err := execTool(ctx, n.peerEnv(&n.l.Orgs[0]), n.bin("peer"), args...); err != nil {
		return fmt.Errorf("commit chaincode definition: %w", err)
	}
	log.Info("chaincode committed", "name", n.l.Chaincode.Name, "version", n.l.Chaincode.Version, "sequence", seq)
	return nil
}
