package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/chaincode"
)

var testBuild = chaincode.CurrentBuild("0123456789ab")

// A server started for another build's package refuses to serve, naming
// both builds; one started for its own serves.
func TestRunRefusesAnotherBuildsPackage(t *testing.T) {
	env := map[string]string{
		"CHAINCODE_SERVER_ADDRESS": "127.0.0.1:0",
		"CHAINCODE_TLS_DISABLED":   "true",
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, id := range []string{
		"pharmatrace_1:abc", // the label of networks before 1.1.0
		chaincode.Build{Version: chaincode.Version, ID: "ffffffffffff"}.Label() + ":abc", // same rules' version, another binary
		chaincode.Build{Version: "0.9.0", ID: testBuild.ID}.Label() + ":abc",             // another version
		testBuild.Label(), // no hash
	} {
		env["CHAINCODE_ID"] = id
		err := run(context.Background(), func(k string) string { return env[k] }, testBuild, log)
		if err == nil || !strings.Contains(err.Error(), "CHAINCODE_ID") || !strings.Contains(err.Error(), testBuild.Label()) {
			t.Errorf("CHAINCODE_ID=%s: got %v, want a refusal naming this build %s", id, err, testBuild.Label())
		}
	}
}

func TestPrintVersion(t *testing.T) {
	var b strings.Builder
	if err := printVersion(&b, testBuild); err != nil {
		t.Fatal(err)
	}
	want := `{"version":"` + chaincode.Version + `","build":"0123456789ab","label":"pharmatrace_` + chaincode.Version +
		`_0123456789ab","definition":"` + chaincode.Version + `+0123456789ab","stateLayout":1}` + "\n"
	if b.String() != want {
		t.Fatalf("version = %s, want %s", b.String(), want)
	}
	if _, err := chaincode.ParseLabel(testBuild.Label()); err != nil {
		t.Fatal(err)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	env := map[string]string{
		"CHAINCODE_ID":             testBuild.Label() + ":abc",
		"CHAINCODE_SERVER_ADDRESS": "127.0.0.1:0",
		"CHAINCODE_TLS_DISABLED":   "true",
		"PHARMATRACE_ORG_ROLES":    "PharmacyMSP=wizard",
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	err := run(context.Background(), func(k string) string { return env[k] }, testBuild, log)
	if err == nil || !strings.Contains(err.Error(), "PHARMATRACE_ORG_ROLES") {
		t.Fatalf("got %v", err)
	}
	env["PHARMATRACE_ORG_ROLES"] = ""
	env["PHARMATRACE_MAX_COMMISSION"] = "20000"
	if err := run(context.Background(), func(k string) string { return env[k] }, testBuild, log); err == nil || !strings.Contains(err.Error(), "PHARMATRACE_MAX_COMMISSION") {
		t.Fatalf("got %v", err)
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	env := map[string]string{
		"CHAINCODE_ID":             testBuild.Label() + ":abc",
		"CHAINCODE_SERVER_ADDRESS": "127.0.0.1:0",
		"CHAINCODE_TLS_DISABLED":   "true",
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := run(ctx, func(k string) string { return env[k] }, testBuild, log); err != nil {
		t.Fatal(err)
	}
}
