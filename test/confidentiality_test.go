//go:build integration

package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"google.golang.org/protobuf/proto"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/test/testnet"
	"github.com/pharmatrace/pharmatrace/trace"
)

// TestConfidentiality is the acceptance test of issue #14 (serial
// confidentiality, docs/confidentiality.md): no member organisation can
// harvest the valid codes of packs it never held from what it holds.
//
// A lot of 1,000 packs with random 12-character serials is commissioned by
// the manufacturer; 100 packs are shipped one by one to the distributor
// and received, 20 of those shipped on to the pharmacy and received, 10
// dispensed and one more verified there. Then, for each organisation, the
// test collects everything the organisation holds:
//
//   - leveldb: every key and value of every LevelDB under its peer's data
//     directory (stateLeveldb, historyLeveldb, pvtdataStore, transientstore,
//     bookkeeper, chains/index, configHistory, ledgerProvider, snapshots),
//     read with goleveldb from a copy (LevelDB tables are
//     snappy-compressed, so their bytes cannot be searched as they are);
//   - files: the raw bytes of every file of its peer's and its chaincode
//     server's data directories (block files among them);
//   - blocks: every block 0..height of the channel, delivered by its own
//     peer to its admin (and with the private data its peer hands it), and
//     decoded: proposal arguments, transient map, results, read/write sets,
//     collection hashes, chaincode events;
//   - events: the chaincode event stream from block 0 for every one of its
//     users, raw from its own peer and through package gateway;
//   - queries: every query of trace.EvaluateTransactions, called by every
//     one of its users with whatever the organisation knows: its lot, its
//     shipments, its request IDs, the anomalies it is shown, the packs it
//     scanned;
//   - logs: its peer's, chaincode server's and CA's log files.
//
// Every byte source is searched for each of the 1,000 serials (and the
// base64 decodings of base64-looking runs). The distributor and the
// pharmacy must hold none of the serials they never scanned (900 and 980
// packs); the manufacturer and the regulator must hold all 1,000.
func TestConfidentiality(t *testing.T) {
	n := testnet.Get(t)
	s := runConfidentialityScenario(t, n)

	// Every peer at the same height: what the last transaction wrote has
	// reached every organisation before it is dumped.
	height := sameHeight(t, n)
	t.Logf("channel height %d at every peer", height)

	x := newSerialIndex(s.serials)
	selfCheck(t, x)
	var dumps []*orgDump
	for _, org := range []string{"Distributor", "Pharmacy", "Manufacturer", "Regulator"} {
		start := time.Now()
		d := newOrgDump(org, x, s.scanned[org])
		d.collect(t, n, s, height)
		t.Logf("%s dumped in %s: %s", org, time.Since(start).Round(time.Millisecond), d.summary())
		dumps = append(dumps, d)
	}

	var tab strings.Builder
	fmt.Fprintf(&tab, "serials of lot %s (GTIN %s) found, per organisation and source — never scanned / all 1,000:\n", s.lot, s.gtin)
	fmt.Fprintf(&tab, "%-13s %7s", "org", "scanned")
	for _, src := range confSources {
		fmt.Fprintf(&tab, " %11s", src)
	}
	fmt.Fprintf(&tab, " %11s\n", "ANY")
	for _, d := range dumps {
		fmt.Fprintf(&tab, "%-13s %7d", d.org, d.scannedCount())
		for _, src := range confSources {
			fmt.Fprintf(&tab, " %11s", fmt.Sprintf("%d/%d", d.unscannedFound(src), d.allFound(src)))
		}
		fmt.Fprintf(&tab, " %11s\n", fmt.Sprintf("%d/%d", d.unscannedFound(""), d.allFound("")))
	}
	t.Log(tab.String())

	for _, d := range dumps {
		switch d.org {
		case "Distributor", "Pharmacy":
			if got := d.unscannedFound(""); got != 0 {
				t.Errorf("%s holds %d serials of packs it never scanned (of %d): %s; e.g. %s",
					d.org, got, len(s.serials)-d.scannedCount(), d.perSource(), d.example())
			}
		default:
			if got := d.allFound(""); got != len(s.serials) {
				t.Errorf("%s holds %d of the lot's %d serials, want all", d.org, got, len(s.serials))
			}
		}
		if d.transientInBlocks > 0 {
			t.Errorf("%s: %d committed transactions carry a transient map in their block", d.org, d.transientInBlocks)
		}
	}
}

// confScenario is what the flows of the test did: the lot, who scanned
// which serials, the shipments and the request IDs of each organisation.
type confScenario struct {
	gtin, lot, expiry string
	serials           []string
	scanned           map[string][]bool   // org → serial index → scanned
	shipments         map[string][]string // org → shipment IDs it was party to
	requests          map[string][]string // org → request IDs its users submitted
	actors            map[string][]*actor // org → one actor per user of network.yaml
}

func runConfidentialityScenario(t *testing.T, n *testnet.Network) *confScenario {
	t.Helper()
	tag := runTag()
	s := &confScenario{gtin: randomGTIN("4012345"), lot: "C" + tag, expiry: "301231",
		serials: randomSerials(t, 1000), scanned: map[string][]bool{}, shipments: map[string][]string{},
		requests: map[string][]string{}, actors: map[string][]*actor{}}
	for _, o := range n.Orgs {
		s.scanned[o.Name] = make([]bool, len(s.serials))
		for _, u := range o.Users {
			s.actors[o.Name] = append(s.actors[o.Name], newActor(t, n, o.Name, u.Name))
		}
	}
	by := func(org, user string) *actor {
		for _, a := range s.actors[org] {
			if a.name == user {
				return a
			}
		}
		t.Fatalf("no user %s/%s", org, user)
		return nil
	}
	mfr, wh, ph := by("Manufacturer", "mfr-alpha"), by("Distributor", "wh-north"), by("Pharmacy", "pharm-central")
	orgOf := map[*actor]string{mfr: "Manufacturer", wh: "Distributor", ph: "Pharmacy"}
	hdr := func(a *actor) trace.RequestHeader {
		h := header()
		s.requests[orgOf[a]] = append(s.requests[orgOf[a]], h.RequestID)
		return h
	}
	scanned := func(org string, from, to int) {
		for i := from; i < to; i++ {
			s.scanned[org][i] = true
		}
	}
	g, lot, exp := s.gtin, s.lot, s.expiry

	r := submit[trace.ProductResult](t, mfr, "RegisterProduct", trace.RegisterProductRequest{RequestHeader: hdr(mfr),
		GTIN: g, Name: "Confidentiality test " + g, Form: "tablet", Strength: "5 mg", PackSize: 28})
	wantOutcome(t, "register product", r.Outcome, trace.StatusOK, "")
	c := submit[trace.CommissionPacksResult](t, mfr, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: hdr(mfr),
		GTIN: g, Lot: lot, Expiry: exp, Serials: s.serials})
	wantOutcome(t, "commission", c.Outcome, trace.StatusOK, "")
	if c.Commissioned != len(s.serials) {
		t.Fatalf("commissioned %d, want %d", c.Commissioned, len(s.serials))
	}
	scanned("Manufacturer", 0, len(s.serials))

	asn1, asn2 := "CONF-"+tag+"-1", "CONF-"+tag+"-2"
	sh := submit[trace.ShipmentResult](t, mfr, "Ship", trace.ShipRequest{RequestHeader: hdr(mfr), ShipmentID: asn1,
		To: wh.party(), Packs: refs(g, s.serials[:100]...)})
	wantOutcome(t, "ship 100 packs to the distributor", sh.Outcome, trace.StatusOK, "")
	rc := submit[trace.ReceiveResult](t, wh, "Receive", trace.ReceiveRequest{RequestHeader: hdr(wh), ShipmentID: asn1,
		Packs: refs(g, s.serials[:100]...)})
	wantOutcome(t, "receive at the distributor", rc.Outcome, trace.StatusOK, "")
	if rc.Received != 100 {
		t.Fatalf("distributor received %d packs, want 100", rc.Received)
	}
	scanned("Distributor", 0, 100)

	sh = submit[trace.ShipmentResult](t, wh, "Ship", trace.ShipRequest{RequestHeader: hdr(wh), ShipmentID: asn2,
		To: ph.party(), Packs: refs(g, s.serials[:20]...)})
	wantOutcome(t, "ship 20 packs to the pharmacy", sh.Outcome, trace.StatusOK, "")
	rc = submit[trace.ReceiveResult](t, ph, "Receive", trace.ReceiveRequest{RequestHeader: hdr(ph), ShipmentID: asn2,
		Packs: refs(g, s.serials[:20]...)})
	wantOutcome(t, "receive at the pharmacy", rc.Outcome, trace.StatusOK, "")
	if rc.Received != 20 {
		t.Fatalf("pharmacy received %d packs, want 20", rc.Received)
	}
	scanned("Pharmacy", 0, 20)
	s.shipments["Manufacturer"] = []string{asn1}
	s.shipments["Distributor"] = []string{asn1, asn2}
	s.shipments["Pharmacy"] = []string{asn2}
	s.shipments["Regulator"] = []string{asn1, asn2}

	scan := func(i int) trace.Scan { return trace.Scan{GTIN: g, Serial: s.serials[i], Lot: lot, Expiry: exp} }
	for i := range 10 {
		d := submit[trace.ScanResult](t, ph, "Dispense", trace.ScanRequest{RequestHeader: hdr(ph), Scan: scan(i)})
		wantOutcome(t, "dispense", d.Outcome, trace.StatusOK, "")
	}
	v := evaluate[trace.VerifyResult](t, ph, "Verify", trace.VerifyRequest{Scan: scan(10)})
	wantOutcome(t, "verify a pack the pharmacy holds", v.Outcome, trace.StatusOK, "")

	// The regulator may ask about any request ID.
	for _, org := range []string{"Manufacturer", "Distributor", "Pharmacy"} {
		s.requests["Regulator"] = append(s.requests["Regulator"], s.requests[org]...)
	}
	return s
}

// randomSerials returns count distinct serials of 12 random alphanumerics
// (71 bits each): no byte sequence of a ledger matches one by accident.
func randomSerials(t *testing.T, count int) []string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	seen := map[string]bool{}
	out := make([]string, 0, count)
	b := make([]byte, serialLen)
	for len(out) < count {
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		if s := string(b); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// sameHeight waits until every peer reports the same channel height and
// returns it.
func sameHeight(t *testing.T, n *testnet.Network) uint64 {
	t.Helper()
	var h uint64
	testnet.Eventually(t, 60*time.Second, "every peer at the same height", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs := map[uint64][]string{}
		for _, p := range n.PeerNodes() {
			v, err := n.Height(ctx, p)
			if err != nil {
				return err
			}
			hs[v] = append(hs[v], p.Name)
			h = v
		}
		if len(hs) != 1 {
			return fmt.Errorf("heights %v", hs)
		}
		return nil
	})
	return h
}

// ---- the search ----

const serialLen = 12

// confSources are the byte sources of an organisation, in table order.
var confSources = []string{"leveldb", "files", "blocks", "events", "queries", "logs"}

// serialIndex finds the test's serials in bytes: every window of 12
// alphanumerics is looked up in a map, so one pass over the bytes does for
// all 1,000 serials.
type serialIndex struct {
	serials []string
	idx     map[string]int
}

func newSerialIndex(serials []string) *serialIndex {
	x := &serialIndex{serials: serials, idx: make(map[string]int, len(serials))}
	for i, s := range serials {
		if len(s) != serialLen {
			panic("serialIndex: serial " + s + " is not 12 characters")
		}
		x.idx[s] = i
	}
	return x
}

var alnum, base64Char [256]bool

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum[c] = 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9'
		base64Char[c] = alnum[c] || b == '+' || b == '/' || b == '-' || b == '_'
	}
}

// scan marks in found every serial that occurs in b or in the base64
// decoding of one of b's base64-looking runs (a []byte field in JSON).
func (x *serialIndex) scan(b []byte, found []bool) {
	x.scanPlain(b, found)
	start := -1
	for i := 0; i <= len(b); i++ {
		if i < len(b) && base64Char[b[i]] {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= 16 {
			x.scanBase64(b[start:i], found)
		}
		start = -1
	}
}

func (x *serialIndex) scanPlain(b []byte, found []bool) {
	run := 0
	for i, c := range b {
		if !alnum[c] {
			run = 0
			continue
		}
		run++
		if run >= serialLen {
			if j, ok := x.idx[string(b[i+1-serialLen:i+1])]; ok {
				found[j] = true
			}
		}
	}
}

func (x *serialIndex) scanBase64(run []byte, found []bool) {
	if len(run)%4 == 1 {
		run = run[:len(run)-1]
	}
	enc := base64.RawStdEncoding
	if bytes.ContainsAny(run, "-_") {
		enc = base64.RawURLEncoding
	}
	dec := make([]byte, enc.DecodedLen(len(run)))
	if m, err := enc.Decode(dec, run); err == nil {
		x.scanPlain(dec[:m], found)
	}
}

// selfCheck proves the search on known bytes: a serial in a key, in JSON,
// base64-encoded in JSON, and a near miss that must not count.
func selfCheck(t *testing.T, x *serialIndex) {
	t.Helper()
	s0, s1, s2 := x.serials[0], x.serials[1], x.serials[2]
	found := make([]bool, len(x.serials))
	x.scan([]byte("\x00pack~04012345000001~"+s0+"\x00"), found)
	x.scan([]byte(`{"serial":"X`+s1[:serialLen-1]+`"}`), found) // 11 characters of s1
	x.scan([]byte(`{"blob":"`+base64.StdEncoding.EncodeToString([]byte(`{"serial":"`+s2+`"}`))+`"}`), found)
	if !found[0] || found[1] || !found[2] {
		t.Fatalf("search self-check: found %v for a plain serial, a near miss and a base64-encoded one", found[:3])
	}
}

// orgDump is what one organisation holds, as serial hits per source.
type orgDump struct {
	org     string
	x       *serialIndex
	scanned []bool

	mu    sync.Mutex
	found map[string][]bool // source → serial index → found
	bytes map[string]int64  // source → bytes searched
	notes []string          // what was read, for the log

	// transientInBlocks counts committed transactions whose proposal
	// payload in the block still carries a transient map.
	transientInBlocks int
}

func newOrgDump(org string, x *serialIndex, scanned []bool) *orgDump {
	d := &orgDump{org: org, x: x, scanned: scanned, found: map[string][]bool{}, bytes: map[string]int64{}}
	for _, src := range confSources {
		d.found[src] = make([]bool, len(x.serials))
	}
	return d
}

// add searches b as part of source (safe for concurrent use).
func (d *orgDump) add(source string, b []byte) {
	if len(b) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.bytes[source] += int64(len(b))
	d.x.scan(b, d.found[source])
}

func (d *orgDump) note(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notes = append(d.notes, fmt.Sprintf(format, args...))
}

func (d *orgDump) scannedCount() int {
	c := 0
	for _, s := range d.scanned {
		if s {
			c++
		}
	}
	return c
}

// hits reports, per serial, whether source (every source for "") holds it.
func (d *orgDump) hits(source string) []bool {
	out := make([]bool, len(d.x.serials))
	for src, f := range d.found {
		if source != "" && src != source {
			continue
		}
		for i, ok := range f {
			out[i] = out[i] || ok
		}
	}
	return out
}

func (d *orgDump) allFound(source string) int {
	c := 0
	for _, ok := range d.hits(source) {
		if ok {
			c++
		}
	}
	return c
}

func (d *orgDump) unscannedFound(source string) int {
	c := 0
	for i, ok := range d.hits(source) {
		if ok && !d.scanned[i] {
			c++
		}
	}
	return c
}

func (d *orgDump) perSource() string {
	var parts []string
	for _, src := range confSources {
		if c := d.unscannedFound(src); c > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", src, c))
		}
	}
	return strings.Join(parts, ", ")
}

// example names one never-scanned serial found and its sources.
func (d *orgDump) example() string {
	for i, ok := range d.hits("") {
		if !ok || d.scanned[i] {
			continue
		}
		var srcs []string
		for _, src := range confSources {
			if d.found[src][i] {
				srcs = append(srcs, src)
			}
		}
		return fmt.Sprintf("%s in %s", d.x.serials[i], strings.Join(srcs, ", "))
	}
	return "none"
}

func (d *orgDump) summary() string {
	var parts []string
	for _, src := range confSources {
		parts = append(parts, fmt.Sprintf("%s %d kB", src, d.bytes[src]/1000))
	}
	return strings.Join(parts, ", ") + "; " + strings.Join(d.notes, "; ")
}

// ---- the collection ----

func (d *orgDump) collect(t *testing.T, n *testnet.Network, s *confScenario, height uint64) {
	t.Helper()
	o, ok := n.Org(d.org)
	if !ok {
		t.Fatalf("no org %s", d.org)
	}
	d.collectDisk(t, n, o)
	expected := d.collectBlocks(t, n, o, height)
	d.collectEvents(t, n, o, s, expected)
	d.collectQueries(t, n, s)
}

// collectDisk copies the org's peer, chaincode server and CA directories
// (the peer holds LevelDB locks and keeps writing), searches every file's
// raw bytes, and opens every LevelDB of the copy with goleveldb to search
// every key and value. Its logs are searched as they are.
func (d *orgDump) collectDisk(t *testing.T, n *testnet.Network, o *netspec.Org) {
	t.Helper()
	tmp := t.TempDir()
	nodes := []netspec.Node{n.PeerNode(o), n.ChaincodeNode(o)}
	dirs := map[string]string{nodes[0].Name: nodes[0].DataDir, nodes[1].Name: nodes[1].DataDir, "ca." + o.Key(): n.CAHome(o.Key())}
	for name, dir := range dirs {
		if err := copyTree(dir, filepath.Join(tmp, name)); err != nil {
			t.Fatalf("%s: copy %s: %v", d.org, dir, err)
		}
	}
	var dbs []string
	err := filepath.WalkDir(tmp, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(path, "CURRENT")); err == nil {
				dbs = append(dbs, path)
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		d.add("files", b)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: read the copy of its data directories: %v", d.org, err)
	}
	var names []string
	for _, dir := range dbs {
		rel, _ := filepath.Rel(tmp, dir)
		records, err := d.readLevelDB(dir)
		if err != nil {
			t.Errorf("%s: LevelDB %s: %v", d.org, rel, err)
			continue
		}
		names = append(names, fmt.Sprintf("%s (%d)", strings.TrimPrefix(rel, n.PeerNode(o).Name+"/ledger/"), records))
	}
	d.note("LevelDBs: %s", strings.Join(names, ", "))
	for _, want := range []string{"stateLeveldb", "historyLeveldb", "pvtdataStore", "index"} {
		if !slices.ContainsFunc(dbs, func(p string) bool { return filepath.Base(p) == want }) {
			t.Errorf("%s: no %s LevelDB under the peer's data directory (found %v)", d.org, want, names)
		}
	}

	logs := []string{nodes[0].LogFile, nodes[1].LogFile, filepath.Join(n.Dir, "logs", "ca."+o.Key()+".log")}
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v", d.org, err)
		}
		d.add("logs", b)
	}
}

// readLevelDB searches every key and value of the LevelDB in dir (a copy).
func (d *orgDump) readLevelDB(dir string) (int, error) {
	db, err := leveldb.OpenFile(dir, &opt.Options{ReadOnly: true, ErrorIfMissing: true})
	if err != nil {
		// A copy taken while the peer wrote may end in a torn journal
		// record: read what is intact.
		d.note("%s opened without strict checks (%v)", filepath.Base(dir), err)
		db, err = leveldb.OpenFile(dir, &opt.Options{ReadOnly: true, ErrorIfMissing: true, Strict: opt.NoStrict})
		if err != nil {
			return 0, err
		}
	}
	defer db.Close()
	it := db.NewIterator(nil, nil)
	defer it.Release()
	records := 0
	for it.Next() {
		d.add("leveldb", it.Key())
		d.add("leveldb", it.Value())
		records++
	}
	return records, it.Error()
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if !e.Type().IsRegular() {
			return nil // sockets, links
		}
		in, err := os.Open(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a file LevelDB removed meanwhile
			}
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// collectBlocks reads blocks 0..height-1 from the org's own peer as its
// admin — plain and with the private data the peer hands the org — and
// searches their bytes and their decoded contents. It returns the keys
// (transaction ID and event name) of the chaincode events the org's event
// streams must deliver.
func (d *orgDump) collectBlocks(t *testing.T, n *testnet.Network, o *netspec.Org, height uint64) map[string]bool {
	t.Helper()
	network := n.Gateway(t, o.Name, "").GetNetwork(n.Channel)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	expected := map[string]bool{}
	blocks, err := network.BlockEvents(ctx, client.WithStartBlock(0))
	if err != nil {
		t.Fatalf("%s: block events: %v", d.org, err)
	}
	var got uint64
	for got < height {
		b, ok := <-blocks
		if !ok {
			t.Fatalf("%s: block stream ended after %d of %d blocks: %v", d.org, got, height, ctx.Err())
		}
		raw, err := proto.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		d.add("blocks", raw)
		d.decodeBlock(b, n.Chaincode.Name, expected)
		got++
	}
	d.note("%d blocks delivered", got)
	if len(expected) == 0 {
		t.Fatalf("%s: no chaincode event in %d blocks", d.org, got)
	}

	// The same blocks with the private data this org's peer gives it.
	pctx, pcancel := context.WithTimeout(ctx, time.Minute)
	defer pcancel()
	withPvt, err := network.BlockAndPrivateDataEvents(pctx, client.WithStartBlock(0))
	if err != nil {
		t.Fatalf("%s: block and private data events: %v", d.org, err)
	}
	var pvt, pvtBlocks uint64
	for pvtBlocks < height {
		b, ok := <-withPvt
		if !ok {
			d.note("block-and-private-data stream ended after %d blocks: %v", pvtBlocks, pctx.Err())
			break
		}
		raw, err := proto.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		d.add("blocks", raw)
		for _, p := range b.GetPrivateDataMap() {
			pvt++
			for _, ns := range p.GetNsPvtRwset() {
				for _, coll := range ns.GetCollectionPvtRwset() {
					d.addKVRWSet("blocks", coll.GetRwset())
				}
			}
		}
		pvtBlocks++
	}
	d.note("%d blocks with private data, %d private write sets", pvtBlocks, pvt)
	return expected
}

// decodeBlock searches the decoded parts of every transaction of b, and
// records the chaincode events Fabric's event service delivers for it.
func (d *orgDump) decodeBlock(b *common.Block, chaincode string, events map[string]bool) {
	flags := b.GetMetadata().GetMetadata()
	var filter []byte
	if int(common.BlockMetadataIndex_TRANSACTIONS_FILTER) < len(flags) {
		filter = flags[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	}
	for i, raw := range b.GetData().GetData() {
		env := &common.Envelope{}
		payload := &common.Payload{}
		ch := &common.ChannelHeader{}
		if proto.Unmarshal(raw, env) != nil || proto.Unmarshal(env.GetPayload(), payload) != nil ||
			proto.Unmarshal(payload.GetHeader().GetChannelHeader(), ch) != nil {
			continue
		}
		if ch.GetType() != int32(common.HeaderType_ENDORSER_TRANSACTION) {
			d.add("blocks", payload.GetData()) // configuration
			continue
		}
		valid := i < len(filter) && filter[i] == byte(peer.TxValidationCode_VALID)
		tx := &peer.Transaction{}
		if proto.Unmarshal(payload.GetData(), tx) != nil {
			continue
		}
		for _, a := range tx.GetActions() {
			ap := &peer.ChaincodeActionPayload{}
			if proto.Unmarshal(a.GetPayload(), ap) != nil {
				continue
			}
			cpp := &peer.ChaincodeProposalPayload{}
			if proto.Unmarshal(ap.GetChaincodeProposalPayload(), cpp) == nil {
				if len(cpp.GetTransientMap()) > 0 {
					d.mu.Lock()
					d.transientInBlocks++
					d.mu.Unlock()
					for _, v := range cpp.GetTransientMap() {
						d.add("blocks", v)
					}
				}
				cis := &peer.ChaincodeInvocationSpec{}
				if proto.Unmarshal(cpp.GetInput(), cis) == nil {
					for _, arg := range cis.GetChaincodeSpec().GetInput().GetArgs() {
						d.add("blocks", arg)
					}
				}
			}
			prp := &peer.ProposalResponsePayload{}
			act := &peer.ChaincodeAction{}
			if proto.Unmarshal(ap.GetAction().GetProposalResponsePayload(), prp) != nil ||
				proto.Unmarshal(prp.GetExtension(), act) != nil {
				continue
			}
			d.add("blocks", act.GetResponse().GetPayload())
			d.add("blocks", []byte(act.GetResponse().GetMessage()))
			ev := &peer.ChaincodeEvent{}
			if proto.Unmarshal(act.GetEvents(), ev) == nil {
				d.add("blocks", ev.GetPayload())
				if valid && ev.GetChaincodeId() == chaincode && ev.GetEventName() != "" && ev.GetTxId() != "" {
					events[ev.GetTxId()+"/"+ev.GetEventName()] = true
				}
			}
			txrw := &rwset.TxReadWriteSet{}
			if proto.Unmarshal(act.GetResults(), txrw) != nil {
				continue
			}
			for _, ns := range txrw.GetNsRwset() {
				d.addKVRWSet("blocks", ns.GetRwset())
				for _, coll := range ns.GetCollectionHashedRwset() {
					d.add("blocks", coll.GetHashedRwset())
					d.add("blocks", []byte(coll.GetCollectionName()))
				}
			}
		}
	}
}

// addKVRWSet searches the keys and values of a serialized KVRWSet.
func (d *orgDump) addKVRWSet(source string, raw []byte) {
	kv := &kvrwset.KVRWSet{}
	if proto.Unmarshal(raw, kv) != nil {
		d.add(source, raw)
		return
	}
	for _, r := range kv.GetReads() {
		d.add(source, []byte(r.GetKey()))
	}
	for _, q := range kv.GetRangeQueriesInfo() {
		d.add(source, []byte(q.GetStartKey()+"\x00"+q.GetEndKey()))
		for _, r := range q.GetRawReads().GetKvReads() {
			d.add(source, []byte(r.GetKey()))
		}
	}
	for _, w := range kv.GetWrites() {
		d.add(source, []byte(w.GetKey()))
		d.add(source, w.GetValue())
	}
	for _, m := range kv.GetMetadataWrites() {
		d.add(source, []byte(m.GetKey()))
		for _, e := range m.GetEntries() {
			d.add(source, e.GetValue())
		}
	}
}

// collectEvents reads the chaincode event stream from block 0 as every
// user of the org — raw from its own peer, and through package gateway (a
// consumer's view) — until every event the blocks hold has arrived.
func (d *orgDump) collectEvents(t *testing.T, n *testnet.Network, o *netspec.Org, s *confScenario, expected map[string]bool) {
	t.Helper()
	for _, a := range s.actors[o.Name] {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		evs, err := a.gw.GetNetwork(n.Channel).ChaincodeEvents(ctx, n.Chaincode.Name, client.WithStartBlock(0))
		if err != nil {
			cancel()
			t.Fatalf("%s/%s: chaincode events: %v", d.org, a.name, err)
		}
		seen := map[string]bool{}
		for len(seen) < len(expected) {
			ev, ok := <-evs
			if !ok {
				t.Errorf("%s/%s: event stream ended after %d of %d events: %v", d.org, a.name, len(seen), len(expected), ctx.Err())
				break
			}
			d.add("events", []byte(ev.EventName))
			d.add("events", ev.Payload)
			seen[ev.TransactionID+"/"+ev.EventName] = true
		}
		cancel()

		pctx, pcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		count := 0
		err = a.cl.Events(pctx, &gateway.MemoryCheckpointer{}, func(_ context.Context, ev gateway.Event) error {
			d.add("events", []byte(ev.Name))
			d.add("events", ev.Payload)
			if count++; count >= len(expected) {
				pcancel()
			}
			return nil
		}, gateway.FromBlock(0), gateway.WithHeightProbe(0), gateway.WithStreamName("confidentiality"))
		pcancel()
		if count < len(expected) {
			t.Errorf("%s/%s: package gateway delivered %d of %d events: %v", d.org, a.name, count, len(expected), err)
		}
	}
	d.note("%d chaincode events per stream, %d users", len(expected), len(s.actors[o.Name]))
}

// collectQueries calls every query of the contract as every user of the
// org, with every argument the org knows, and searches the answers and the
// errors.
func (d *orgDump) collectQueries(t *testing.T, n *testnet.Network, s *confScenario) {
	t.Helper()
	calls := 0
	var callsMu sync.Mutex
	q := func(a *actor, fn string, req any) []byte {
		arg, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := a.cl.EvaluateRaw(ctx, fn, arg)
		if err != nil {
			d.add("queries", []byte(err.Error()))
		}
		d.add("queries", out)
		callsMu.Lock()
		calls++
		callsMu.Unlock()
		return out
	}
	var mine []int // serials the org scanned
	for i, ok := range d.scanned {
		if ok {
			mine = append(mine, i)
		}
	}
	g, lot := s.gtin, s.lot
	// A serial the org invents (a guess): what does the ledger answer?
	guess := randomSerials(t, 1)[0]

	perQuery := map[string]func(a *actor){
		trace.TxGetProduct: func(a *actor) { q(a, trace.TxGetProduct, trace.ProductQuery{GTIN: g}) },
		trace.TxGetLot:     func(a *actor) { q(a, trace.TxGetLot, trace.LotQuery{GTIN: g, Lot: lot}) },
		trace.TxListPacksByLot: func(a *actor) {
			for _, st := range []trace.PackState{"", trace.StateActive, trace.StateInactive, trace.StateInTransit} {
				pages(func(bm string) string {
					var r trace.ListPacksByLotResult
					_ = json.Unmarshal(q(a, trace.TxListPacksByLot, trace.ListPacksByLotQuery{GTIN: g, Lot: lot, State: st,
						PageSize: trace.MaxPageSize, Bookmark: bm}), &r)
					return r.Bookmark
				})
			}
		},
		trace.TxListAnomalies: func(a *actor) {
			for _, f := range []trace.ListAnomaliesQuery{{}, {Owned: true}, {GTIN: g}, {GTIN: g, Lot: lot}} {
				pages(func(bm string) string {
					f.PageSize, f.Bookmark = trace.MaxPageSize, bm
					var r trace.ListAnomaliesResult
					_ = json.Unmarshal(q(a, trace.TxListAnomalies, f), &r)
					for _, an := range r.Anomalies {
						q(a, trace.TxGetAnomaly, trace.AnomalyQuery{ID: an.ID})
					}
					return r.Bookmark
				})
			}
		},
		trace.TxGetAnomaly: func(*actor) {}, // every anomaly ListAnomalies shows (above)
		trace.TxGetShipment: func(a *actor) {
			for _, id := range s.shipments[d.org] {
				q(a, trace.TxGetShipment, trace.ShipmentQuery{ID: id})
			}
		},
		trace.TxGetRequest: func(a *actor) {
			for _, id := range s.requests[d.org] {
				q(a, trace.TxGetRequest, trace.RequestQuery{RequestID: id})
			}
		},
		trace.TxRoute: func(a *actor) {
			for _, tx := range trace.AllTransactions {
				q(a, trace.TxRoute, trace.RouteQuery{Transaction: tx.Name, Keys: trace.RouteKeys{GTINs: []string{g}}})
			}
			for _, id := range s.shipments[d.org] {
				q(a, trace.TxRoute, trace.RouteQuery{Transaction: trace.TxGetShipment, Keys: trace.RouteKeys{Shipment: id}})
			}
			for _, id := range s.requests[d.org] {
				q(a, trace.TxRoute, trace.RouteQuery{Transaction: trace.TxGetRequest, Keys: trace.RouteKeys{RequestID: id}})
			}
		},
		// Per pack: every pack the org scanned, and one guess.
		trace.TxGetPack: func(a *actor) {
			d.eachSerial(mine, guess, s, func(serial string) { q(a, trace.TxGetPack, trace.PackQuery{GTIN: g, Serial: serial}) })
		},
		trace.TxGetPackHistory: func(a *actor) {
			d.eachSerial(mine, guess, s, func(serial string) {
				q(a, trace.TxGetPackHistory, trace.PackHistoryQuery{GTIN: g, Serial: serial, Limit: trace.MaxHistory})
			})
		},
		trace.TxVerify: func(a *actor) {
			d.eachSerial(mine, guess, s, func(serial string) {
				q(a, trace.TxVerify, trace.VerifyRequest{Scan: trace.Scan{GTIN: g, Serial: serial, Lot: lot, Expiry: s.expiry}})
			})
		},
	}
	for _, fn := range trace.EvaluateTransactions {
		call, ok := perQuery[fn]
		if !ok {
			t.Errorf("query %s is not dumped: add it to collectQueries", fn)
			continue
		}
		for _, a := range s.actors[d.org] {
			// The lot's manufacturer asks about its 1,000 packs as the
			// user who commissioned them only.
			if len(mine) > 200 && a.name != "mfr-alpha" &&
				slices.Contains([]string{trace.TxGetPack, trace.TxGetPackHistory, trace.TxVerify}, fn) {
				continue
			}
			call(a)
		}
	}
	d.note("%d query calls", calls)
}

// eachSerial runs f for the serials of mine and for guess, 4 at a time.
func (d *orgDump) eachSerial(mine []int, guess string, s *confScenario, f func(serial string)) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for serial := range work {
				f(serial)
			}
		}()
	}
	for _, i := range mine {
		work <- s.serials[i]
	}
	work <- guess
	close(work)
	wg.Wait()
}

// pages calls page with each bookmark it returns, starting from "", until
// it returns "" (at most 1,000 pages).
func pages(page func(bookmark string) string) {
	bm := ""
	for range 1000 {
		if bm = page(bm); bm == "" {
			return
		}
	}
}
