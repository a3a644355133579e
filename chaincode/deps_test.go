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
	deptest.Forbid(t, cc,
		"github.com/labstack/echo", "go.bug.st/serial", "github.com/prometheus",
		"github.com/hyperledger/fabric-gateway", mod+"/gs1", mod+"/chaincode/internal/ledgertest")
	deptest.AllowModules(t, cc,
		mod+"/chaincode", mod+"/trace", mod+"/internal/pprofsrv",
		// contract API and its JSON-schema/metadata stack
		"github.com/hyperledger/fabric-contract-api-go", "github.com/go-openapi", "github.com/xeipuuv", "go.yaml.in/yaml",
		// shim and the protocol it speaks
		"github.com/hyperledger/fabric-chaincode-go", "github.com/hyperledger/fabric-protos-go-apiv2",
		"google.golang.org/grpc", "google.golang.org/protobuf", "google.golang.org/genproto", "golang.org/x/net", "golang.org/x/sys", "golang.org/x/text",
	)
	deptest.OnlyStandard(t, deptest.Deps(t, mod+"/trace"), mod+"/trace")
	deptest.OnlyStandard(t, deptest.Deps(t, mod+"/internal/pprofsrv"), mod+"/internal/pprofsrv")
}
