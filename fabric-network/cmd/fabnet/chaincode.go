package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

// The chaincode's lifecycle (see README "Upgrading the contract").
//
// The chaincode binary names itself (`pharmatrace-cc version`): package
// label pharmatrace_<contract version>_<build ID> and definition version
// <contract version>+<build ID>. Deploying a binary whose definition
// version is not the committed one is an upgrade: every org packages a new
// CCaaS package (its own connection.json) pointing at its free server slot,
// installs it, starts the new server there beside the old one and approves
// the next sequence; once a majority has approved, the definition is
// committed and each org's old server is stopped. Peers switch to the new
// server as soon as they commit the definition, so no endorsement waits for
// a server to start. What each org runs is kept in run/chaincode/<org>.json.

// ccBuild is what `pharmatrace-cc version` prints.
type ccBuild struct {
	Version     string `json:"version"`
	Build       string `json:"build"`
	Label       string `json:"label"`
	Definition  string `json:"definition"`
	StateLayout int    `json:"stateLayout"`
}

// binaryBuild asks a chaincode server binary which build it is.
func (n *network) binaryBuild(ctx context.Context, bin string) (ccBuild, error) {
	out, err := execTool(ctx, nil, bin, "version")
	if err != nil {
		return ccBuild{}, fmt.Errorf("chaincode binary %s: %w", bin, err)
	}
	var b ccBuild
	if err := json.Unmarshal(out, &b); err != nil || b.Label == "" || b.Definition == "" {
		return ccBuild{}, fmt.Errorf("chaincode binary %s: `version` printed %q: %v", bin, bytes.TrimSpace(out), err)
	}
	return b, nil
}

// ccState is what an org's chaincode server runs, kept in
// run/chaincode/<org>.json.
type ccState struct {
	Label      string `json:"label"`
	Definition string `json:"definition"`
	PackageID  string `json:"packageId"`
	// Binary is the server binary, a copy per build under
	// run/chaincode/builds/<label>/ (rebuilding bin/ leaves it alone).
	Binary string `json:"binary"`
	// Slot 0 listens on chaincodeServerPort, slot 1 on chaincodeServerPort+2.
	Slot     int `json:"slot"`
	Sequence int `json:"sequence"` // the definition sequence approved with PackageID
}

func (n *network) ccDir() string { return filepath.Join(n.l.Dir, "chaincode") }

func (n *network) ccStateFile(o *netspec.Org) string {
	return filepath.Join(n.ccDir(), o.Key()+".json")
}

// loadCCState returns the org's recorded chaincode server (false: none).
func (n *network) loadCCState(o *netspec.Org) (ccState, bool, error) {
	b, err := os.ReadFile(n.ccStateFile(o))
	if errors.Is(err, os.ErrNotExist) {
		return ccState{}, false, nil
	}
	if err != nil {
		return ccState{}, false, err
	}
	var st ccState
	if err := json.Unmarshal(b, &st); err != nil {
		return ccState{}, false, fmt.Errorf("%s: %w", n.ccStateFile(o), err)
	}
	return st, true, nil
}

func (n *network) saveCCState(o *netspec.Org, st ccState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(n.ccStateFile(o), append(b, '\n'), 0o644)
}

// writeFileAtomic writes path through a synced temporary file and a rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// ccNodeAt is the org's chaincode server node on a slot; next names the
// PID file of a server started by an upgrade that has not switched yet.
func (n *network) ccNodeAt(o *netspec.Org, slot int, next bool) netspec.Node {
	node := n.l.ChaincodeNode(o)
	node.Address = n.l.Addr(o.ChaincodeServerPort + 2*slot)
	if next {
		node.PIDFile = strings.TrimSuffix(node.PIDFile, ".pid") + ".next.pid"
	}
	return node
}

// ccNode is the org's current chaincode server node (slot 0 when none was
// recorded).
func (n *network) ccNode(o *netspec.Org) netspec.Node {
	st, _, _ := n.loadCCState(o)
	return n.ccNodeAt(o, st.Slot, false)
}

// nodes is the layout's nodes with each chaincode server at its current slot.
func (n *network) nodes() []netspec.Node {
	out := n.l.Nodes()
	for i, nd := range out {
		if nd.Kind != "chaincode" {
			continue
		}
		if o, ok := n.l.Org(nd.Org); ok {
			out[i] = n.ccNode(o)
		}
	}
	return out
}

// installBinary keeps a copy of a chaincode server binary per build, so a
// recorded server always starts the build its package names.
func (n *network) installBinary(ctx context.Context, src string, b ccBuild) (string, error) {
	dst := filepath.Join(n.ccDir(), "builds", b.Label, "pharmatrace-cc")
	if exists(dst) {
		return dst, nil
	}
	in, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(dst, in, 0o755); err != nil {
		return "", fmt.Errorf("keep chaincode build %s: %w", b.Label, err)
	}
	if got, err := n.binaryBuild(ctx, dst); err != nil || got.Label != b.Label {
		_ = os.Remove(dst)
		return "", fmt.Errorf("copy of %s names itself %q (%v), want %s", src, got.Label, err, b.Label)
	}
	return dst, nil
}

// ccPackage builds the org's chaincode-as-a-service package for a build
// and server address, reproducibly (fixed modes and times, so the same
// inputs give the same package ID), and returns its path and package ID
// (label:sha256 of the package bytes, as the peer computes it).
func (n *network) ccPackage(o *netspec.Org, label, address string) (path, id string, err error) {
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
		"address":              address,
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
	meta, _ := json.Marshal(map[string]string{"type": "ccaas", "label": label})
	pkg, err := tarGz(map[string][]byte{"metadata.json": meta, "code.tar.gz": code})
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(pkg)
	id = label + ":" + hex.EncodeToString(sum[:])
	path = filepath.Join(n.ccDir(), "packages", o.Key()+"_"+label+"_"+strings.ReplaceAll(address, ":", "_")+".tar.gz")
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
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
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
	Sequence    int                  `json:"sequence"`
	Version     string               `json:"version"`
	Collections []netspec.Collection `json:"collections,omitempty"`
	Approved    map[string]bool      `json:"approvals"`
}

// definition is a chaincode definition fabnet approves and commits: the
// version names the chaincode build, the collections are derived from
// network.yaml.
type definition struct {
	Sequence    int
	Version     string
	Collections []netspec.Collection
	// CollectionsFile holds Collections for the peer CLI ("": none).
	CollectionsFile string
}

// queryCommitted returns the chaincode definition committed on the channel
// as o's peer sees it (nil: none).
func (n *network) queryCommitted(ctx context.Context, o *netspec.Org) (*committedDef, error) {
	out, err := execTool(ctx, n.peerEnv(o), n.bin("peer"), "lifecycle", "chaincode", "querycommitted",
		"-C", n.l.Channel, "-n", n.l.Chaincode.Name, "--output", "json")
	if err != nil {
		if strings.Contains(string(out), "not found") || strings.Contains(string(out), "is not defined") {
			return nil, nil
		}
		return nil, err
	}
	var d struct {
		committedDef
		Collections json.RawMessage `json:"collections"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		return nil, fmt.Errorf("querycommitted output: %w", err)
	}
	if d.committedDef.Collections, err = decodeCollections(d.Collections); err != nil {
		return nil, fmt.Errorf("querycommitted: %w", err)
	}
	return &d.committedDef, nil
}

func (n *network) policyArgs() []string {
	if n.l.Chaincode.Policy == "MAJORITY" {
		return []string{"--channel-config-policy", "/Channel/Application/Endorsement"}
	}
	return []string{"--signature-policy", n.l.Chaincode.Policy}
}

// definitionArgs are the peer CLI flags that state definition d: the same
// for approveformyorg, checkcommitreadiness and commit.
func (n *network) definitionArgs(d definition) []string {
	args := append([]string{"-C", n.l.Channel, "-n", n.l.Chaincode.Name, "--version", d.Version,
		"--sequence", strconv.Itoa(d.Sequence)}, n.policyArgs()...)
	if d.CollectionsFile != "" {
		args = append(args, "--collections-config", d.CollectionsFile)
	}
	return args
}

// approvedDef is what `peer lifecycle chaincode queryapproved --output
// json` prints.
type approvedDef struct {
	Sequence    int             `json:"sequence"`
	Version     string          `json:"version"`
	Collections json.RawMessage `json:"collections"`
	Source      struct {
		Type struct {
			LocalPackage struct {
				PackageID string `json:"package_id"`
			} `json:"LocalPackage"`
		} `json:"Type"`
	} `json:"source"`
}

// approvedAlready reports whether o approved exactly d with packageID.
func (n *network) approvedAlready(ctx context.Context, o *netspec.Org, packageID string, d definition) bool {
	out, err := execTool(ctx, n.peerEnv(o), n.bin("peer"), "lifecycle", "chaincode", "queryapproved", "-C", n.l.Channel,
		"-n", n.l.Chaincode.Name, "--sequence", strconv.Itoa(d.Sequence), "--output", "json")
	if err != nil {
		return false
	}
	var a approvedDef
	if err := json.Unmarshal(out, &a); err != nil {
		return false
	}
	colls, err := decodeCollections(a.Collections)
	return err == nil && a.Sequence == d.Sequence && a.Version == d.Version &&
		a.Source.Type.LocalPackage.PackageID == packageID && slices.Equal(colls, d.Collections)
}

// approve approves definition d with packageID for o, unless o approved
// exactly that already.
func (n *network) approve(ctx context.Context, o *netspec.Org, packageID string, d definition) error {
	if n.approvedAlready(ctx, o, packageID, d) {
		return nil
	}
	args := append([]string{"lifecycle", "chaincode", "approveformyorg", "--package-id", packageID}, n.definitionArgs(d)...)
	if _, err := execTool(ctx, n.peerEnv(o), n.bin("peer"), append(args, n.ordererArgs()...)...); err != nil {
		return fmt.Errorf("approve chaincode %s sequence %d for %s: %w", d.Version, d.Sequence, o.Name, err)
	}
	log.Info("chaincode approved", "org", o.Name, "version", d.Version, "sequence", d.Sequence,
		"collections", len(d.Collections), "package_id", packageID)
	return nil
}

// deployResult says what deployChaincode did.
type deployResult struct {
	From, To string // definition versions ("" From: nothing was committed)
	Sequence int
	Upgraded bool
	// CollectionChange is against the definition committed before.
	CollectionChange collectionChange
	// Collections names the collections of the definition now committed.
	Collections  []string
	Took         time.Duration
	Orgs, Failed []string
}

// deployChaincode makes the channel run the chaincode binary bin with the
// collections network.yaml derives: a first deployment, an upgrade (the
// next sequence) when the committed definition names another build or
// other collections, or, when it names this build and these collections,
// bringing every org's server in line (started, on this build).
func (n *network) deployChaincode(ctx context.Context, bin string) (deployResult, error) {
	t0 := time.Now()
	b, err := n.binaryBuild(ctx, bin)
	if err != nil {
		return deployResult{}, err
	}
	copyPath, err := n.installBinary(ctx, bin, b)
	if err != nil {
		return deployResult{}, err
	}
	orgs := make([]*netspec.Org, len(n.l.Orgs))
	for i := range n.l.Orgs {
		orgs[i] = &n.l.Orgs[i]
	}
	colls, err := n.l.Collections()
	if err != nil {
		return deployResult{}, err
	}
	def, err := n.queryCommitted(ctx, orgs[0])
	if err != nil {
		return deployResult{}, err
	}
	res := deployResult{To: b.Definition}
	if def != nil {
		colls = orderAsCommitted(def.Collections, colls)
		if res.CollectionChange, err = diffCollections(def.Collections, colls); err != nil {
			return deployResult{}, fmt.Errorf("network.yaml's collections can not replace those of the committed definition (sequence %d): %w", def.Sequence, err)
		}
	}
	want := definition{Version: b.Definition, Collections: colls}
	for _, c := range colls {
		res.Collections = append(res.Collections, c.Name)
	}
	if def != nil && def.Version == b.Definition && res.CollectionChange.empty() {
		res.From, res.Sequence = def.Version, def.Sequence
		want.Sequence = def.Sequence
		if want, err = n.writeCollections(want); err != nil {
			return res, err
		}
		var mu sync.Mutex
		err := parallel(orgs, func(o *netspec.Org) error {
			switched, err := n.alignOrg(ctx, o, b, copyPath, want)
			if switched {
				mu.Lock()
				res.Orgs = append(res.Orgs, o.Name)
				mu.Unlock()
			}
			return err
		})
		res.Took = time.Since(t0)
		return res, err
	}
	seq := 1
	if def != nil {
		seq, res.From = def.Sequence+1, def.Version
		if def.Version != b.Definition {
			log.Info("contract changed: upgrading", "committed", def.Version, "sequence", def.Sequence, "binary", b.Definition, "next_sequence", seq)
		}
		if !res.CollectionChange.empty() {
			log.Info("collections changed: upgrading", "sequence", def.Sequence, "collections", res.CollectionChange.String(), "next_sequence", seq)
		}
	}
	res.Sequence, res.Upgraded = seq, def != nil
	want.Sequence = seq
	if want, err = n.writeCollections(want); err != nil {
		return res, err
	}

	// Every org: package, install, start the new server on its free slot,
	// approve. A majority of approvals suffices to commit.
	var (
		mu       sync.Mutex
		prepared = map[string]ccState{}
		failures []error
	)
	_ = parallel(orgs, func(o *netspec.Org) error {
		st, err := n.prepareOrg(ctx, o, b, copyPath, want)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failures = append(failures, err)
			res.Failed = append(res.Failed, o.Name)
			return nil
		}
		prepared[o.Key()] = st
		res.Orgs = append(res.Orgs, o.Name)
		return nil
	})
	if need := len(orgs)/2 + 1; len(prepared) < need {
		for _, o := range orgs {
			if _, ok := prepared[o.Key()]; ok {
				_, _ = stop(n.ccNodeAt(o, prepared[o.Key()].Slot, true), 10*time.Second, false)
			}
		}
		return res, fmt.Errorf("only %d of %d organisations approved %s (a majority, %d, must): %w",
			len(prepared), len(orgs), b.Definition, need, errors.Join(failures...))
	}
	var ready []*netspec.Org
	for _, o := range orgs {
		if _, ok := prepared[o.Key()]; ok {
			ready = append(ready, o)
		}
	}
	if err := n.commitDefinition(ctx, ready, want); err != nil {
		return res, err
	}
	// Switch: each peer that committed the definition now connects to the
	// new server; the old one goes.
	err = parallel(ready, func(o *netspec.Org) error {
		if err := n.waitCommitted(ctx, o, seq); err != nil {
			return err
		}
		return n.switchServer(o, prepared[o.Key()])
	})
	res.Took = time.Since(t0)
	if err != nil {
		return res, err
	}
	log.Info("chaincode committed", "name", n.l.Chaincode.Name, "version", b.Definition, "sequence", seq,
		"collections", len(colls), "from", res.From, "orgs", res.Orgs, "took", res.Took.Round(time.Millisecond))
	if len(failures) > 0 {
		return res, fmt.Errorf("committed %s at sequence %d without %s (run `fabnet upgrade` again once they are back): %w",
			b.Definition, seq, strings.Join(res.Failed, ", "), errors.Join(failures...))
	}
	return res, nil
}

// prepareOrg packages build b for o's free server slot, installs it,
// starts its server there (beside the running one) and approves definition
// d (of build b) with it. It returns the server's state, to record at the
// switch.
func (n *network) prepareOrg(ctx context.Context, o *netspec.Org, b ccBuild, bin string, d definition) (ccState, error) {
	cur, have, err := n.loadCCState(o)
	if err != nil {
		return ccState{}, err
	}
	slot := 0
	if have {
		slot = 1 - cur.Slot
	} else if _, running := readPID(n.ccNodeAt(o, 0, false)); running {
		slot = 1 // a server of a network from before the lifecycle was recorded
	}
	next := n.ccNodeAt(o, slot, true)
	// A server left on the free slot by an interrupted upgrade goes first.
	if _, err := stop(next, 10*time.Second, false); err != nil {
		return ccState{}, err
	}
	pkg, id, err := n.ccPackage(o, b.Label, next.Address)
	if err != nil {
		return ccState{}, err
	}
	if err := n.installChaincode(ctx, o, pkg, id); err != nil {
		return ccState{}, err
	}
	st := ccState{Label: b.Label, Definition: b.Definition, PackageID: id, Binary: bin, Slot: slot, Sequence: d.Sequence}
	if err := start(ctx, n.ccProc(o, st, next)); err != nil {
		return ccState{}, err
	}
	if err := n.approve(ctx, o, id, d); err != nil {
		_, _ = stop(next, 10*time.Second, false)
		return ccState{}, err
	}
	return st, nil
}

// alignOrg brings o in line with the committed definition d of build b:
// its recorded server is started if it is this build, or replaced
// (prepared on the free slot and switched) if it is not; it reports
// whether it switched.
func (n *network) alignOrg(ctx context.Context, o *netspec.Org, b ccBuild, bin string, d definition) (bool, error) {
	cur, have, err := n.loadCCState(o)
	if err != nil {
		return false, err
	}
	if have && cur.Label == b.Label {
		return false, start(ctx, n.ccProc(o, cur, n.ccNodeAt(o, cur.Slot, false)))
	}
	st, err := n.prepareOrg(ctx, o, b, bin, d)
	if err != nil {
		return false, err
	}
	return true, n.switchServer(o, st)
}

// switchServer stops o's current server and makes the one prepareOrg
// started the current one.
func (n *network) switchServer(o *netspec.Org, st ccState) error {
	cur := n.ccNodeAt(o, 0, false) // the PID file does not depend on the slot
	if _, err := stop(cur, 10*time.Second, false); err != nil {
		return err
	}
	next := n.ccNodeAt(o, st.Slot, true)
	if err := os.Rename(next.PIDFile, cur.PIDFile); err != nil {
		return fmt.Errorf("switch chaincode server of %s: %w", o.Name, err)
	}
	if err := n.saveCCState(o, st); err != nil {
		return err
	}
	log.Info("chaincode server switched", "org", o.Name, "label", st.Label, "address", next.Address, "sequence", st.Sequence)
	return nil
}

// commitDefinition commits definition d, endorsed by the peers of orgs (a
// majority, each of which approved d), once checkcommitreadiness confirms
// that they approved exactly d.
func (n *network) commitDefinition(ctx context.Context, orgs []*netspec.Org, d definition) error {
	env := n.peerEnv(orgs[0])
	out, err := execTool(ctx, env, n.bin("peer"), append(append([]string{"lifecycle", "chaincode", "checkcommitreadiness"},
		n.definitionArgs(d)...), "--output", "json")...)
	if err != nil {
		return fmt.Errorf("check commit readiness of chaincode definition %s sequence %d: %w", d.Version, d.Sequence, err)
	}
	var ready struct {
		Approvals map[string]bool `json:"approvals"`
	}
	if err := json.Unmarshal(out, &ready); err != nil {
		return fmt.Errorf("checkcommitreadiness output: %w", err)
	}
	var missing []string
	for _, o := range orgs {
		if !ready.Approvals[o.MSPID] {
			missing = append(missing, o.MSPID)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("commit chaincode definition %s sequence %d: %s approved another definition (version, policy or collections) at this sequence",
			d.Version, d.Sequence, strings.Join(missing, ", "))
	}
	args := append([]string{"lifecycle", "chaincode", "commit"}, n.definitionArgs(d)...)
	args = append(args, n.ordererArgs()...)
	for _, o := range orgs {
		p := n.l.PeerNode(o)
		args = append(args, "--peerAddresses", p.Address, "--tlsRootCertFiles", p.TLSRootPEM)
	}
	if _, err := execTool(ctx, env, n.bin("peer"), args...); err != nil {
		return fmt.Errorf("commit chaincode definition %s sequence %d: %w", d.Version, d.Sequence, err)
	}
	return nil
}

// waitCommitted waits until o's peer has committed sequence seq.
func (n *network) waitCommitted(ctx context.Context, o *netspec.Org, seq int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		def, err := n.queryCommitted(ctx, o)
		if err == nil && def != nil && def.Sequence >= seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("peer of %s has not committed chaincode sequence %d: %v", o.Name, seq, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// printDeploy reports an upgrade (or that none was needed) on w.
func printDeploy(w io.Writer, r deployResult) {
	switch {
	case r.Upgraded && r.From == r.To:
		fmt.Fprintf(w, "chaincode definition of %s upgraded (collections %s): sequence %d committed, approved by %s, in %s\n",
			r.To, r.CollectionChange, r.Sequence, strings.Join(r.Orgs, ", "), r.Took.Round(time.Millisecond))
	case r.Upgraded:
		fmt.Fprintf(w, "chaincode upgraded from %s to %s: sequence %d committed, approved by %s, in %s\n",
			r.From, r.To, r.Sequence, strings.Join(r.Orgs, ", "), r.Took.Round(time.Millisecond))
		if !r.CollectionChange.empty() {
			fmt.Fprintf(w, "collections %s\n", r.CollectionChange)
		}
	case r.From == "":
		fmt.Fprintf(w, "chaincode %s committed at sequence %d, approved by %s\n", r.To, r.Sequence, strings.Join(r.Orgs, ", "))
	case len(r.Orgs) > 0:
		fmt.Fprintf(w, "chaincode %s is committed at sequence %d; %s approved it and switched to it now\n", r.To, r.Sequence, strings.Join(r.Orgs, ", "))
	default:
		fmt.Fprintf(w, "chaincode %s is committed at sequence %d: nothing to upgrade\n", r.To, r.Sequence)
	}
	if len(r.Failed) > 0 {
		fmt.Fprintf(w, "not switched: %s\n", strings.Join(r.Failed, ", "))
	}
}

// chaincodeStatus prints the committed definition and, per org, the
// server it runs (recorded state, whether the process runs).
func (n *network) chaincodeStatus(ctx context.Context, w io.Writer, asJSON bool) error {
	type orgStatus struct {
		Org     string `json:"org"`
		MSPID   string `json:"mspID"`
		Running bool   `json:"running"`
		Address string `json:"address"`
		ccState
	}
	out := struct {
		Definition *committedDef `json:"definition"`
		Orgs       []orgStatus   `json:"orgs"`
	}{}
	def, err := n.queryCommitted(ctx, &n.l.Orgs[0])
	if err != nil {
		return err
	}
	out.Definition = def
	for i := range n.l.Orgs {
		o := &n.l.Orgs[i]
		st, _, err := n.loadCCState(o)
		if err != nil {
			return err
		}
		node := n.ccNodeAt(o, st.Slot, false)
		_, running := readPID(node)
		out.Orgs = append(out.Orgs, orgStatus{Org: o.Name, MSPID: o.MSPID, Running: running, Address: node.Address, ccState: st})
	}
	if asJSON {
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	if def == nil {
		fmt.Fprintf(w, "no definition of %s committed on %s\n", n.l.Chaincode.Name, n.l.Channel)
	} else {
		var approved []string
		for msp, ok := range def.Approved {
			if ok {
				approved = append(approved, msp)
			}
		}
		slices.Sort(approved)
		fmt.Fprintf(w, "%s on %s: version %s, sequence %d, approved by %s\n", n.l.Chaincode.Name, n.l.Channel, def.Version, def.Sequence, strings.Join(approved, " "))
		for _, c := range def.Collections {
			fmt.Fprintf(w, "collection %s: members %s, endorsement %s\n", c.Name, c.Policy, c.Endorsement.SignaturePolicy+c.Endorsement.ChannelConfigPolicy)
		}
	}
	for _, o := range out.Orgs {
		state := "stopped"
		if o.Running {
			state = "running"
		}
		fmt.Fprintf(w, "%-14s %-8s %-22s sequence %-3d %s\n", o.Org, state, o.Address, o.Sequence, o.PackageID)
	}
	return nil
}
