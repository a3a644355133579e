package netspec

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func orgs(roles map[string][]string, order ...string) []Org {
	out := make([]Org, 0, len(order))
	for _, msp := range order {
		out = append(out, Org{MSPID: msp, Roles: roles[msp]})
	}
	return out
}

func TestCollections(t *testing.T) {
	tests := []struct {
		name    string
		orgs    []Org
		want    []Collection
		wantErr error
	}{
		{
			name: "one manufacturer, one regulator",
			orgs: orgs(map[string][]string{
				"MfrMSP": {"manufacturer", "admin"}, "DistMSP": {"distributor"}, "RegMSP": {"regulator", "admin"},
			}, "MfrMSP", "DistMSP", "RegMSP"),
			want: []Collection{{
				Name: "serials-MfrMSP", Policy: "OR('MfrMSP.member','RegMSP.member')",
				RequiredPeerCount: 0, MaxPeerCount: 1, BlockToLive: 0,
				Endorsement: CollectionEndorsement{SignaturePolicy: "AND('MfrMSP.peer','RegMSP.peer')"},
			}},
		},
		{
			name: "two manufacturers",
			orgs: orgs(map[string][]string{
				"AMSP": {"manufacturer"}, "BMSP": {"manufacturer"}, "RegMSP": {"regulator"},
			}, "AMSP", "RegMSP", "BMSP"),
			want: []Collection{
				{
					Name: "serials-AMSP", Policy: "OR('AMSP.member','RegMSP.member')", MaxPeerCount: 1,
					Endorsement: CollectionEndorsement{SignaturePolicy: "AND('AMSP.peer','RegMSP.peer')"},
				},
				{
					Name: "serials-BMSP", Policy: "OR('BMSP.member','RegMSP.member')", MaxPeerCount: 1,
					Endorsement: CollectionEndorsement{SignaturePolicy: "AND('BMSP.peer','RegMSP.peer')"},
				},
			},
		},
		{
			name: "two regulators",
			orgs: orgs(map[string][]string{
				"MfrMSP": {"manufacturer"}, "R1MSP": {"regulator"}, "R2MSP": {"regulator"},
			}, "MfrMSP", "R1MSP", "R2MSP"),
			want: []Collection{{
				Name: "serials-MfrMSP", Policy: "OR('MfrMSP.member','R1MSP.member','R2MSP.member')", MaxPeerCount: 1,
				Endorsement: CollectionEndorsement{SignaturePolicy: "AND('MfrMSP.peer',OR('R1MSP.peer','R2MSP.peer'))"},
			}},
		},
		{
			name: "no manufacturer: no collections",
			orgs: orgs(map[string][]string{"DistMSP": {"distributor"}, "RegMSP": {"regulator"}}, "DistMSP", "RegMSP"),
		},
		{
			name:    "no regulator",
			orgs:    orgs(map[string][]string{"MfrMSP": {"manufacturer"}, "DistMSP": {"distributor"}}, "MfrMSP", "DistMSP"),
			wantErr: ErrNoRegulator,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := (&Spec{Orgs: tt.orgs}).Collections()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestNoRegulatorErrorSaysWhatToDo(t *testing.T) {
	_, err := (&Spec{Orgs: orgs(map[string][]string{"MfrMSP": {"manufacturer"}}, "MfrMSP")}).Collections()
	want := "private data collections of the manufacturers MfrMSP: no organisation has role regulator: each collection is shared by its manufacturer and the regulator(s), give one org in network.yaml the role regulator"
	if err == nil || err.Error() != want {
		t.Fatalf("error %q\nwant  %q", err, want)
	}
}

// The collections of the shipped network.yaml, as fabnet passes them to
// the peer CLI (testdata/collections.golden.json; -update rewrites it).
func TestShippedCollectionsGolden(t *testing.T) {
	s, err := Load(filepath.Join("..", "network.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	colls, err := s.Collections()
	if err != nil {
		t.Fatal(err)
	}
	got, err := CollectionsJSON(colls)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "collections.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("collections of network.yaml changed (go test -update to accept):\n%s", got)
	}
}

func TestSignaturePolicyString(t *testing.T) {
	for _, tt := range []struct {
		p    SignaturePolicy
		want string
	}{
		{AnyOf(SignedBy("A", "member")), "OR('A.member')"},
		{AllOf(SignedBy("A", "peer")), "OR('A.peer')"}, // 1 of 1: Fabric compiles AND and OR alike
		{AllOf(SignedBy("A", "peer"), AnyOf(SignedBy("B", "peer"), SignedBy("C", "peer"))), "AND('A.peer',OR('B.peer','C.peer'))"},
		{SignaturePolicy{N: 2, Rules: []SignaturePolicy{SignedBy("A", "peer"), SignedBy("B", "peer"), SignedBy("C", "peer")}}, "OutOf(2,'A.peer','B.peer','C.peer')"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.p, got, tt.want)
		}
	}
}
