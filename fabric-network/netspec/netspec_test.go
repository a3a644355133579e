package netspec

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestShippedNetworkDefinitionLoads(t *testing.T) {
	s, err := Load(filepath.Join("..", "network.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Orgs) != 4 || len(s.OrdererOrg.Orderers) != 3 || s.Chaincode.Policy != "MAJORITY" {
		t.Fatalf("unexpected definition: %d orgs, %d orderers, policy %s", len(s.Orgs), len(s.OrdererOrg.Orderers), s.Chaincode.Policy)
	}
	if got := s.OrgRoles(); !strings.Contains(got, "PharmacyMSP=pharmacist,admin") {
		t.Fatalf("OrgRoles = %q", got)
	}
}

func TestInvalidDefinitionsNameTheField(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "network.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"duplicate port", "port: 7251,", "port: 7151,", "orgs[1].peer.port: port 7151 already used by orgs[0].peer.port"},
		{"bad GLN check digit", `gln: "4300123000014"`, `gln: "4300123000015"`, `orgs[2].users[1].gln: "4300123000015" is not a 13-digit GLN`},
		{"role the org may not issue", "{ name: inspector, role: regulator", "{ name: inspector, role: manufacturer", `orgs[3].users[1].role: "manufacturer" is not one of the org's roles`},
		{"two orderers", "    - { name: orderer2, port: 7070, adminPort: 7073, opsPort: 9070 }\n", "", "ordererOrg.orderers: need an odd number >= 3"},
		{"unknown key", "channel: pharmatrace", "channel: pharmatrace\nchanel: typo", "field chanel not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(base), tt.old) {
				t.Fatalf("fixture text %q not in network.yaml", tt.old)
			}
			p := filepath.Join(t.TempDir(), "network.yaml")
			if err := os.WriteFile(p, []byte(strings.Replace(string(base), tt.old, tt.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// intFields returns every int field of v (walked through structs, slices
// and pointers) by its Go path, e.g. "Orgs[1].Peer.ChaincodePort".
func intFields(v reflect.Value, path string, out map[string]int) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			intFields(v.Elem(), path, out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			intFields(v.Field(i), path+"."+v.Type().Field(i).Name, out)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			intFields(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Int:
		out[path] = int(v.Int())
	}
}

// Every int field named ...Port moves by the offset and no other does, so
// a port field added to the definition without ShiftPorts knowing fails here.
func TestShiftPortsMovesEveryPort(t *testing.T) {
	const offset = 1000
	s, err := Load(filepath.Join("..", "network.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]int{}
	intFields(reflect.ValueOf(s), "Spec", before)
	s.ShiftPorts(offset)
	after := map[string]int{}
	intFields(reflect.ValueOf(s), "Spec", after)

	ports := 0
	for field, was := range before {
		want := was
		if strings.HasSuffix(field, "Port") {
			want += offset
			ports++
		}
		if after[field] != want {
			t.Errorf("%s = %d after ShiftPorts(%d), want %d (was %d)", field, after[field], offset, want, was)
		}
	}
	// 5 CAs × 2, 3 orderers × 3, 4 orgs × (3 peer + chaincode server), 2 apps, 2 monitoring.
	if want := 5*2 + 3*3 + 4*4 + 2 + 2; ports != want {
		t.Errorf("walked %d port fields, want %d: the walk no longer sees the definition", ports, want)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("shifted definition does not validate: %v", err)
	}
	// Ports lists every port field and the derived ones, 4 per org: the
	// peer's and the chaincode server's pprof, the upgrade slot's server
	// and pprof.
	if got, want := len(s.Ports()), ports+4*len(s.Orgs); got != want {
		t.Errorf("Ports() lists %d ports, want %d", got, want)
	}
}

// The second network the integration tests start (testnet.Fresh, offset
// 1000) must not share a port with the first, derived ports included.
func TestShiftedNetworkSharesNoPortWithTheFirst(t *testing.T) {
	const offset = 1000 // testnet.FreshOffset
	main, err := Load(filepath.Join("..", "network.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := Load(filepath.Join("..", "network.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	second.ShiftPorts(offset)
	used := map[int]string{}
	for _, p := range main.Ports() {
		used[p.Number] = p.Field
	}
	for _, p := range second.Ports() {
		if other, ok := used[p.Number]; ok {
			t.Errorf("shifted %s = %d collides with the first network's %s", p.Field, p.Number, other)
		}
	}
}

func TestShiftPortsOutOfRangeFailsValidation(t *testing.T) {
	s, err := Load(filepath.Join("..", "network.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s.ShiftPorts(60000)
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("Validate after ShiftPorts(60000) = %v, want a port out of range", err)
	}
}

// Marshal writes what Load reads back unchanged (fabnet hands a shifted
// definition to the processes it starts this way).
func TestMarshalRoundTrips(t *testing.T) {
	s, err := Load(filepath.Join("..", "network.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s.ShiftPorts(1000)
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "network.yaml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := Load(p)
	if err != nil {
		t.Fatalf("Load(Marshal()) = %v\n%s", err, b)
	}
	if !reflect.DeepEqual(back, s) {
		t.Fatalf("round trip changed the definition:\n%s", b)
	}
}
