//go:build integration

// Package test holds PharmaTrace's end-to-end and fault tests. They run
// against the real Fabric network (`make up`), starting it when it is not
// running: `make integration` or `go test -tags integration ./test/...`.
package test

import (
	"os"
	"testing"

	"github.com/pharmatrace/pharmatrace/test/testnet"
)

func TestMain(m *testing.M) {
	// The test binary doubles as the event consumer that the fault tests
	// kill and restart (see consumer_test.go).
	if out := os.Getenv(consumerEnv); out != "" {
		os.Exit(runConsumer(out))
	}
	os.Exit(testnet.Main(m))
}
