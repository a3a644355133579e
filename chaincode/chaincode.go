// Package chaincode is the PharmaTrace smart contract: the serialized-pack
// lifecycle, lot transfers and anomaly detection, run by every peer's
// chaincode-as-a-service process (cmd/pharmatrace-cc).
package chaincode

import (
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// New returns the PharmaTrace chaincode with all of its contracts.
func New() (*contractapi.ContractChaincode, error) {
	probe := &ProbeContract{}
	probe.Name = "probe"
	cc, err := contractapi.NewChaincode(probe)
	if err != nil {
		return nil, fmt.Errorf("create chaincode: %w", err)
	}
	cc.Info.Title = "PharmaTrace"
	cc.Info.Version = "0.1.0"
	return cc, nil
}
