package chaincode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/pharmatrace/pharmatrace/trace"
)

// ProbeContract is a deliberately trivial contract kept beside the business
// contract: it proves the deployment pipeline end to end (foundation tests)
// and is the single-key-put baseline of `make bench`, on the same chaincode,
// network and endorsement policy as the real transactions. Only identities
// with role=admin may call Put and Get, and Put writes only under its own
// key prefix; any member may ask Version which contract runs.
type ProbeContract struct {
	contractapi.Contract
	c *Contract // the business contract: its MSP → role binding applies here too
}

const (
	probeKeyPrefix = "probe~"
	probeMaxKey    = 128
	probeMaxValue  = 4096
)

// Put stores value under key in the probe's own key space.
func (p *ProbeContract) Put(ctx contractapi.TransactionContextInterface, key, value string) error {
	if err := p.requireAdmin(ctx); err != nil {
		return err
	}
	if key == "" || len(key) > probeMaxKey || len(value) > probeMaxValue {
		return fmt.Errorf("invalid request: probe: key must be 1-%d bytes and value at most %d bytes", probeMaxKey, probeMaxValue)
	}
	if err := ctx.GetStub().PutState(probeKeyPrefix+key, []byte(value)); err != nil {
		return fmt.Errorf("probe: put %q: %w", key, err)
	}
	return nil
}

// probeMaxMany bounds PutMany: the keys a commissioning of
// trace.HardMaxCommission serials writes (a pack and an index key each).
const probeMaxMany = 2 * trace.HardMaxCommission

// PutMany stores count keys prefix~0 … prefix~count-1, each with a value of
// size bytes: the raw-Fabric baseline of bulk commissioning (`make bench`
// writes as many keys per transaction as a commissioning does).
func (p *ProbeContract) PutMany(ctx contractapi.TransactionContextInterface, prefix string, count, size int) error {
	if err := p.requireAdmin(ctx); err != nil {
		return err
	}
	if prefix == "" || len(prefix) > probeMaxKey-8 || count < 1 || count > probeMaxMany || size < 1 || size > probeMaxValue {
		return fmt.Errorf("invalid request: probe: prefix 1-%d bytes, count 1-%d, size 1-%d", probeMaxKey-8, probeMaxMany, probeMaxValue)
	}
	value := bytes.Repeat([]byte{'x'}, size)
	stub := ctx.GetStub()
	stub.StartWriteBatch()
	for i := range count {
		if err := stub.PutState(fmt.Sprintf("%s%s~%d", probeKeyPrefix, prefix, i), value); err != nil {
			return fmt.Errorf("probe: put %d: %w", i, err)
		}
	}
	if err := stub.FinishWriteBatch(); err != nil {
		return fmt.Errorf("probe: write batch: %w", err)
	}
	return nil
}

// Get returns the value stored under key, or an error when there is none.
func (p *ProbeContract) Get(ctx contractapi.TransactionContextInterface, key string) (string, error) {
	if err := p.requireAdmin(ctx); err != nil {
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

// Version reports which contract this peer's chaincode server runs
// (trace.ContractInfo JSON): the rules' version, the binary's build ID, the
// chaincode definition version they make, the state layout it writes and
// the package it was started for. Any member of a PharmaTrace organisation
// may ask. Evaluate it: the package ID differs between organisations.
func (p *ProbeContract) Version(ctx contractapi.TransactionContextInterface) (string, error) {
	if _, _, err := p.c.caller(ctx); err != nil {
		return "", err
	}
	b, err := json.Marshal(trace.ContractInfo{
		Version: p.c.build.Version, Build: p.c.build.ID, Definition: p.c.build.Definition(),
		StateLayout: p.c.layouts.current, PackageID: p.c.packageID,
	})
	return string(b), err
}

// requireAdmin admits an admin of a PharmaTrace organisation: the role
// attribute is trusted only within the MSP → role binding, as for the
// business contract (a non-member MSP claiming role=admin is refused).
func (p *ProbeContract) requireAdmin(ctx contractapi.TransactionContextInterface) error {
	a, _, err := p.c.caller(ctx)
	if err != nil {
		return err
	}
	if a.Role != trace.RoleAdmin {
		return errors.New("access denied: probe transactions need role=admin")
	}
	return nil
}
