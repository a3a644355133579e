package chaincode

import (
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// ProbeContract is a deliberately trivial contract kept beside the business
// contract: it proves the deployment pipeline end to end (foundation tests)
// and is the single-key-put baseline of `make bench`, on the same chaincode,
// network and endorsement policy as the real transactions. Only identities
// with role=admin may call it, and it writes only under its own key prefix.
type ProbeContract struct {
	contractapi.Contract
}

const probeKeyPrefix = "probe~"

// Put stores value under key in the probe's own key space.
func (p *ProbeContract) Put(ctx contractapi.TransactionContextInterface, key, value string) error {
	if err := requireProbeAdmin(ctx); err != nil {
		return err
	}
	if key == "" {
		return errors.New("probe: key is empty")
	}
	if err := ctx.GetStub().PutState(probeKeyPrefix+key, []byte(value)); err != nil {
		return fmt.Errorf("probe: put %q: %w", key, err)
	}
	return nil
}

// Get returns the value stored under key, or an error when there is none.
func (p *ProbeContract) Get(ctx contractapi.TransactionContextInterface, key string) (string, error) {
	if err := requireProbeAdmin(ctx); err != nil {
		return "", err
	}
	b, err := ctx.GetStub().GetState(probeKeyPrefix + key)
	if err != nil {
		return "", fmt.Errorf("probe: get %q: %w", key, err)
	}
	if b == nil {
		return "", fmt.Errorf("probe: key %q not found", key)
	}
	return string(b), nil
}

func requireProbeAdmin(ctx contractapi.TransactionContextInterface) error {
	role, found, err := ctx.GetClientIdentity().GetAttributeValue("role")
	if err != nil {
		return fmt.Errorf("probe: read role attribute: %w", err)
	}
	if !found || role != "admin" {
		return errors.New("access denied: probe transactions need role=admin")
	}
	return nil
}
