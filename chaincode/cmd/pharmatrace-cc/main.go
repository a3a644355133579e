// Command pharmatrace-cc runs the PharmaTrace chaincode as a service (CCaaS):
// a gRPC server that the peer connects to, with mutual TLS.
//
// Configuration (environment, as the Fabric external-builder convention):
//
//	CHAINCODE_ID              package ID the peer installed (label:sha256)
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
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"

	"github.com/pharmatrace/pharmatrace/chaincode"
	"github.com/pharmatrace/pharmatrace/internal/pprofsrv"
	"github.com/pharmatrace/pharmatrace/internal/shutdown"
)

func main() {
	ctx, stop := shutdown.Context(context.Background(), os.Stderr)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Getenv, log); err != nil {
		log.Error("chaincode server stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, log *slog.Logger) error {
	id, addr := getenv("CHAINCODE_ID"), getenv("CHAINCODE_SERVER_ADDRESS")
	if id == "" {
		return errors.New("CHAINCODE_ID is not set")
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
