// Command pharmatrace-cc runs the PharmaTrace chaincode as a service (CCaaS):
// a gRPC server that the peer connects to, with mutual TLS.
//
//	pharmatrace-cc            serve (configured by the environment below)
//	pharmatrace-cc version    print this build as JSON: version, build ID,
//	                          package label and definition version (fabnet
//	                          packages and upgrades from it)
//
// The server refuses to start for a package whose label is not its own
// (pharmatrace_<contract version>_<first 12 hex digits of the binary's
// SHA-256>): a binary swapped under an installed package, or an old
// server started for a new package, never answers for the channel.
//
// Configuration (environment, as the Fabric external-builder convention):
//
//	CHAINCODE_ID              package ID the peer installed (label:sha256); its label must be this build's
//	CHAINCODE_SERVER_ADDRESS  listen address, e.g. 127.0.0.1:7052
//	CHAINCODE_TLS_CERT        PEM server certificate file  (TLS is on unless CHAINCODE_TLS_DISABLED=true)
//	CHAINCODE_TLS_KEY         PEM server key file
//	CHAINCODE_TLS_CLIENT_CA   PEM CA file that peer client certificates must chain to
//
// Contract configuration (must be identical on every peer):
//
//	PHARMATRACE_ORG_ROLES       MSP → allowed roles, e.g.
//	                            ManufacturerMSP=manufacturer,admin;DistributorMSP=distributor,admin;PharmacyMSP=pharmacist,admin;RegulatorMSP=regulator,admin
//	                            (that binding is the default when unset)
//	PHARMATRACE_MAX_COMMISSION  serials per CommissionPacks (default 5000, at most 10000)
//	CHAINCODE_PPROF_ADDRESS     optional loopback address serving net/http/pprof
//	                            (CPU profiles under load for `make bench`); off when unset
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"

	"github.com/pharmatrace/pharmatrace/chaincode"
	"github.com/pharmatrace/pharmatrace/internal/pprofsrv"
	"github.com/pharmatrace/pharmatrace/internal/shutdown"
)

// release is stamped by a release build (go build -ldflags "-X
// main.release=v1.1.0-rc2"), logged and printed by `version`. Like any
// change to the binary it changes the build ID, hence the package label:
// deploying it is an upgrade.
var release string

func main() {
	ctx, stop := shutdown.Context(context.Background(), os.Stderr)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	build, err := selfBuild()
	if err != nil {
		log.Error("cannot identify this binary", "err", err)
		os.Exit(1)
	}
	if len(os.Args) > 1 {
		if os.Args[1] != "version" || len(os.Args) > 2 {
			fmt.Fprintln(os.Stderr, "usage: pharmatrace-cc [version]")
			os.Exit(2)
		}
		if err := printVersion(os.Stdout, build); err != nil {
			fmt.Fprintln(os.Stderr, "pharmatrace-cc:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Getenv, build, log); err != nil {
		log.Error("chaincode server stopped", "err", err)
		os.Exit(1)
	}
}

// selfBuild identifies this binary: the contract version it was built
// from and the first 12 hex digits of its own SHA-256.
func selfBuild() (chaincode.Build, error) {
	exe, err := os.Executable()
	if err != nil {
		return chaincode.Build{}, err
	}
	f, err := os.Open(exe)
	if err != nil {
		return chaincode.Build{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return chaincode.Build{}, fmt.Errorf("hash %s: %w", exe, err)
	}
	return chaincode.CurrentBuild(hex.EncodeToString(h.Sum(nil))[:12]), nil
}

// versionInfo is what `pharmatrace-cc version` prints.
type versionInfo struct {
	Release     string `json:"release,omitempty"`
	Version     string `json:"version"`
	Build       string `json:"build"`
	Label       string `json:"label"`
	Definition  string `json:"definition"`
	StateLayout int    `json:"stateLayout"`
}

func printVersion(w io.Writer, b chaincode.Build) error {
	out, err := json.Marshal(versionInfo{Release: release, Version: b.Version, Build: b.ID, Label: b.Label(), Definition: b.Definition(), StateLayout: chaincode.StateLayout()})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}

func run(ctx context.Context, getenv func(string) string, build chaincode.Build, log *slog.Logger) error {
	id, addr := getenv("CHAINCODE_ID"), getenv("CHAINCODE_SERVER_ADDRESS")
	if id == "" {
		return errors.New("CHAINCODE_ID is not set")
	}
	if err := build.CheckPackageID(id); err != nil {
		return fmt.Errorf("CHAINCODE_ID: %w", err)
	}
	if addr == "" {
		return errors.New("CHAINCODE_SERVER_ADDRESS is not set")
	}
	tlsProps, err := loadTLS(getenv)
	if err != nil {
		return err
	}
	cfg, err := chaincode.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	cfg.BuildID, cfg.PackageID = build.ID, id
	cc, err := chaincode.New(cfg)
	if err != nil {
		return err
	}
	if pa := getenv("CHAINCODE_PPROF_ADDRESS"); pa != "" {
		if err := pprofsrv.Serve(ctx, pa, log); err != nil {
			return fmt.Errorf("CHAINCODE_PPROF_ADDRESS: %w", err)
		}
	}
	srv := &shim.ChaincodeServer{CCID: id, Address: addr, CC: cc, TLSProps: tlsProps}
	errc := make(chan error, 1)
	go func() { errc <- srv.Start() }()
	log.Info("chaincode server listening", "addr", addr, "ccid", id, "tls", !tlsProps.Disabled,
		"contract_version", build.Version, "build", build.ID, "release", release, "definition", build.Definition(), "state_layout", chaincode.StateLayout(),
		"orgs", len(cfg.OrgRoles), "maxCommission", cfg.MaxCommission)
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
		log.Info("shutting down")
		return nil
	}
}

func loadTLS(getenv func(string) string) (shim.TLSProperties, error) {
	if getenv("CHAINCODE_TLS_DISABLED") == "true" {
		return shim.TLSProperties{Disabled: true}, nil
	}
	var p shim.TLSProperties
	for _, f := range []struct {
		env string
		dst *[]byte
	}{
		{"CHAINCODE_TLS_CERT", &p.Cert},
		{"CHAINCODE_TLS_KEY", &p.Key},
		{"CHAINCODE_TLS_CLIENT_CA", &p.ClientCACerts},
	} {
		path := getenv(f.env)
		if path == "" {
			return p, fmt.Errorf("%s is not set (TLS is required; set CHAINCODE_TLS_DISABLED=true only for local experiments)", f.env)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return p, fmt.Errorf("%s: %w", f.env, err)
		}
		*f.dst = b
	}
	return p, nil
}
