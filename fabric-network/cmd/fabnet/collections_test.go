package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

// readCollections decodes the `collections` of a querycommitted output:
// testdata/querycommitted-seq2.json is what the peer CLI printed for the
// shipped network.yaml on a real network; querycommitted-nested.json was
// made with Fabric 2.5.0's policydsl and protos exactly as the CLI makes
// and prints them.
func readCollections(t *testing.T, file string) []netspec.Collection {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Collections json.RawMessage `json:"collections"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	colls, err := decodeCollections(out.Collections)
	if err != nil {
		t.Fatal(err)
	}
	return colls
}

func TestCommittedCollectionsEqualDerived(t *testing.T) {
	s, err := netspec.Load(filepath.Join("..", "..", "network.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.Collections()
	if err != nil {
		t.Fatal(err)
	}
	got := readCollections(t, "querycommitted-seq2.json")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("committed collections decode to\n%+v\nderived\n%+v", got, want)
	}
	if ch, err := diffCollections(got, want); err != nil || !ch.empty() {
		t.Fatalf("diff of equal collections: %v, %v", ch, err)
	}
}

func TestDecodeNestedPolicies(t *testing.T) {
	got := readCollections(t, "querycommitted-nested.json")
	want := []netspec.Collection{
		{
			Name: "serials-MfrMSP", Policy: "OR('MfrMSP.member','R1MSP.member','R2MSP.member')", MaxPeerCount: 1,
			Endorsement: netspec.CollectionEndorsement{SignaturePolicy: "AND('MfrMSP.peer',OR('R1MSP.peer','R2MSP.peer'))"},
		},
		{
			Name: "serials-OtherMSP", Policy: "OR('OtherMSP.member','R1MSP.admin')",
			RequiredPeerCount: 1, MaxPeerCount: 3, BlockToLive: 10, MemberOnlyRead: true, MemberOnlyWrite: true,
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestDecodeNoCollections(t *testing.T) {
	for _, raw := range []string{``, `null`, `{}`} {
		colls, err := decodeCollections(json.RawMessage(raw))
		if err != nil || len(colls) != 0 {
			t.Errorf("%q: %v, %v", raw, colls, err)
		}
	}
}

func coll(name string, btl uint64, endorse string) netspec.Collection {
	return netspec.Collection{Name: name, Policy: "OR('x.member')", MaxPeerCount: 1, BlockToLive: btl,
		Endorsement: netspec.CollectionEndorsement{SignaturePolicy: endorse}}
}

func TestDiffCollections(t *testing.T) {
	a, b := coll("serials-AMSP", 0, "AND('AMSP.peer','RMSP.peer')"), coll("serials-BMSP", 0, "AND('BMSP.peer','RMSP.peer')")
	tests := []struct {
		name            string
		committed, want []netspec.Collection
		added, changed  []string
		err             string
	}{
		{name: "none committed, none derived"},
		{name: "first collections (a definition committed without any)", want: []netspec.Collection{a}, added: []string{"serials-AMSP"}},
		{name: "new manufacturer", committed: []netspec.Collection{a}, want: []netspec.Collection{a, b}, added: []string{"serials-BMSP"}},
		{name: "same", committed: []netspec.Collection{a, b}, want: []netspec.Collection{a, b}},
		{name: "policy changed", committed: []netspec.Collection{a}, want: []netspec.Collection{coll("serials-AMSP", 0, "AND('AMSP.peer',OR('RMSP.peer','R2MSP.peer'))")}, changed: []string{"serials-AMSP"}},
		{name: "removed", committed: []netspec.Collection{a, b}, want: []netspec.Collection{a},
			err: "collection serials-BMSP is in the committed chaincode definition but network.yaml no longer derives it (no org BMSP with role manufacturer): Fabric does not allow removing a collection"},
		{name: "blockToLive changed", committed: []netspec.Collection{a}, want: []netspec.Collection{coll("serials-AMSP", 5, a.Endorsement.SignaturePolicy)},
			err: "collection serials-AMSP: blockToLive is 0 in the committed definition, 5 derived: Fabric does not allow changing it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := diffCollections(tt.committed, tt.want)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ch.Added, tt.added) || !reflect.DeepEqual(ch.Changed, tt.changed) {
				t.Fatalf("added %v changed %v, want %v %v", ch.Added, ch.Changed, tt.added, tt.changed)
			}
		})
	}
}

func TestOrderAsCommitted(t *testing.T) {
	a, b, c := coll("serials-AMSP", 0, ""), coll("serials-BMSP", 0, ""), coll("serials-CMSP", 0, "")
	got := orderAsCommitted([]netspec.Collection{b, a}, []netspec.Collection{a, c, b})
	if want := []netspec.Collection{b, a, c}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestDefinitionArgsPassCollections(t *testing.T) {
	s, err := netspec.Load(filepath.Join("..", "..", "network.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := netspec.NewLayout(s, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n := &network{l: l}
	colls, _ := s.Collections()
	d, err := n.writeCollections(definition{Sequence: 2, Version: "1+x", Collections: colls})
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(n.definitionArgs(d), " ")
	if !strings.Contains(args, "--sequence 2 ") || !strings.HasSuffix(args, "--collections-config "+n.collectionsFile(2)) {
		t.Fatalf("definition args %q", args)
	}
	b, err := os.ReadFile(d.CollectionsFile)
	if err != nil {
		t.Fatal(err)
	}
	golden, _ := os.ReadFile(filepath.Join("..", "..", "netspec", "testdata", "collections.golden.json"))
	if string(b) != string(golden) {
		t.Fatalf("collections file:\n%s", b)
	}
	none, err := n.writeCollections(definition{Sequence: 3, Version: "1+x"})
	if err != nil || strings.Contains(strings.Join(n.definitionArgs(none), " "), "--collections-config") {
		t.Fatalf("no collections: %v, args %v", err, n.definitionArgs(none))
	}
}
