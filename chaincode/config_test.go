package chaincode_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/chaincode"
	"github.com/pharmatrace/pharmatrace/internal/ledgertest"
	"github.com/pharmatrace/pharmatrace/trace"
)

func TestOrgRoles(t *testing.T) {
	parsed, err := chaincode.ParseOrgRoles(chaincode.DefaultOrgRoles)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(parsed, chaincode.DefaultConfig().OrgRoles) {
		t.Fatalf("DefaultConfig and DefaultOrgRoles differ: %v", parsed)
	}
	for _, bad := range []string{"", "X", "=a", "M=pilot", "M=admin;M=admin"} {
		if _, err := chaincode.ParseOrgRoles(bad); err == nil {
			t.Errorf("ParseOrgRoles(%q) accepted", bad)
		}
	}
	env := map[string]string{chaincode.EnvOrgRoles: " AMSP = pharmacist , admin ; BMSP=regulator", chaincode.EnvMaxCommission: "1000"}
	cfg, err := chaincode.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || cfg.MaxCommission != 1000 || strings.Join(cfg.OrgRoles["AMSP"], ",") != "pharmacist,admin" {
		t.Fatalf("%+v %v", cfg, err)
	}
	cfg, err = chaincode.ConfigFromEnv(func(string) string { return "" })
	if err != nil || cfg.MaxCommission != trace.DefaultMaxCommission || len(cfg.OrgRoles) != 4 {
		t.Fatalf("%+v %v", cfg, err)
	}
	for _, e := range []map[string]string{{chaincode.EnvMaxCommission: "0"}, {chaincode.EnvMaxCommission: "10001"}, {chaincode.EnvOrgRoles: "X=boss"}} {
		if _, err := chaincode.ConfigFromEnv(func(k string) string { return e[k] }); err == nil {
			t.Errorf("%v accepted", e)
		}
	}
	if _, err := chaincode.New(chaincode.Config{OrgRoles: map[string][]string{"M": {"god"}}}); err == nil {
		t.Error("unknown role accepted")
	}
	if _, err := chaincode.New(chaincode.Config{}); err == nil {
		t.Error("empty binding accepted")
	}
}

// TestCustomBinding: a regulator role claimed by an MSP the binding allows.
func TestCustomBinding(t *testing.T) {
	cfg := chaincode.DefaultConfig()
	cfg.OrgRoles["PharmacyMSP"] = []string{"pharmacist", "regulator"}
	n := newNetWith(t, cfg)
	query[trace.ListAnomaliesResult](n, rogue, "ListAnomalies", trace.ListAnomaliesQuery{})
}

// TestContractSurface: the contract's transactions are exactly the listed
// ones, queries are tagged "evaluate" in the metadata, and the business
// contract is the default (reachable with or without the "pharmatrace:" prefix).
func TestContractSurface(t *testing.T) {
	n := newNet(t)
	r := n.l.Evaluate(n.cc, ledgertest.Proposal{Identity: identity(t, reg), Function: "org.hyperledger.fabric:GetMetadata"})
	var md struct {
		Contracts map[string]struct {
			Transactions []struct {
				Name string   `json:"name"`
				Tag  []string `json:"tag"`
			} `json:"transactions"`
		} `json:"contracts"`
	}
	if err := json.Unmarshal(r.Payload, &md); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tx := range md.Contracts[trace.ContractName].Transactions {
		got = append(got, tx.Name)
		if trace.IsQuery(tx.Name) != slices.Contains(tx.Tag, "EVALUATE") {
			t.Errorf("%s tags %v", tx.Name, tx.Tag)
		}
	}
	want := append(append([]string{}, trace.SubmitTransactions...), trace.EvaluateTransactions...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("transactions:\n got %v\nwant %v", got, want)
	}
	if _, ok := md.Contracts["probe"]; !ok {
		t.Fatal("probe contract missing")
	}
	r = n.l.Evaluate(n.cc, ledgertest.Proposal{Identity: identity(t, reg), Function: "pharmatrace:ListAnomalies", Args: []string{"{}"}})
	if !r.OK() {
		t.Fatal(r.Message)
	}
}

func TestParseOrgPrefixes(t *testing.T) {
	got, err := chaincode.ParseOrgPrefixes("ManufacturerMSP=4012345,5098765; RivalMSP=7012345")
	if err != nil || len(got["ManufacturerMSP"]) != 2 || got["RivalMSP"][0] != "7012345" {
		t.Fatalf("%v %v", got, err)
	}
	for in, want := range map[string]string{
		"M=4006":                "not a 6-12 digit",
		"M=4012345;R=401234567": "overlaps",
		"M=4012345;M=5098765":   "listed twice",
		"4012345":               "is not MSP=prefix,prefix",
	} {
		if _, err := chaincode.ParseOrgPrefixes(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
