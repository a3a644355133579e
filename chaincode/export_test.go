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

// PackKeyFor is the ledger key of a pack record in a collection whose
// pseudonym key is key.
func PackKeyFor(key []byte, gtin, serial string) string {
	t := &txn{coll: "c", pseudoKey: key}
	k, err := t.packKey(gtin, serial)
	if err != nil {
		panic(err)
	}
	return k
}
