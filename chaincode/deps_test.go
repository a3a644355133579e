package chaincode_test

import (
	"testing"

	"github.com/pharmatrace/pharmatrace/internal/deptest"
)

// TestDependencies proves that the chaincode and its server binary depend
// only on the contract API, the shim (with its protobuf/gRPC stack) and pure
// packages, and that trace and pprofsrv use the standard library only.
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const mod = "github.com/pharmatrace/pharmatrace"
	cc := deptest.Deps(t, mod+"/chaincode", mod+"/chaincode/cmd/pharmatrace-cc")
	// Why each ban: the chaincode runs on every endorsing peer and must
	// compute the same write set everywhere from the proposal and the
	// state alone. HTTP servers (echo), serial ports, metrics registries
	// and the gateway client are I/O a contract must never do, and each
	// would pull a large module into the endorsement path; gs1 is the
	// scanner-side parser (the contract validates wire types in trace);
	// the in-memory peer is a test fixture.
	deptest.Forbid(t, cc,
		"github.com/labstack/echo", "go.bug.st/serial", "github.com/prometheus",
		"github.com/hyperledger/fabric-gateway", mod+"/gs1", mod+"/internal/ledgertest")
	deptest.AllowModules(t, cc,
		mod+"/chaincode", mod+"/trace", mod+"/internal/pprofsrv", mod+"/internal/shutdown",
		// strict, case-sensitive JSON decoding of requests (encoding/json
		// matches member names case-insensitively and keeps duplicates)
		"github.com/go-json-experiment/json",
		// contract API and its JSON-schema/metadata stack
		"github.com/hyperledger/fabric-contract-api-go", "github.com/go-openapi", "github.com/xeipuuv", "go.yaml.in/yaml",
		// shim and the protocol it speaks
		"github.com/hyperledger/fabric-chaincode-go", "github.com/hyperledger/fabric-protos-go-apiv2",
		"google.golang.org/grpc", "google.golang.org/protobuf", "google.golang.org/genproto", "golang.org/x/net", "golang.org/x/sys", "golang.org/x/text",
	)
	deptest.OnlyStandard(t, deptest.Deps(t, mod+"/trace"), mod+"/trace")
	deptest.OnlyStandard(t, deptest.Deps(t, mod+"/internal/pprofsrv"), mod+"/internal/pprofsrv")
	deptest.OnlyStandard(t, deptest.Deps(t, mod+"/internal/shutdown"), mod+"/internal/shutdown")
}
