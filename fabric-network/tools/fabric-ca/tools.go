//go:build tools

// Package tools pins the Fabric CA v1.5.15 commands built into bin/ by the Makefile.
package tools

import (
	_ "github.com/hyperledger/fabric-ca/cmd/fabric-ca-client"
	_ "github.com/hyperledger/fabric-ca/cmd/fabric-ca-server"
)
