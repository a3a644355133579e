package chaincode

import (
	"encoding/json"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// NewWithMigrations returns the chaincode as New does, but as a future
// contract would be: it writes layout StateLayout()+len(up) and reads the
// older layouts through up (up[i] upgrades layout StateLayout()+i).
func NewWithMigrations(cfg Config, up ...func(kind string, rec map[string]json.RawMessage) error) (*contractapi.ContractChaincode, error) {
	ls := defaultLayouts()
	for _, m := range up {
		ls.up = append(ls.up, m)
	}
	ls.current += len(up)
	return newChaincode(cfg, ls)
}
