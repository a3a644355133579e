package netspec

import (
	"os"
	"path/filepath"
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
