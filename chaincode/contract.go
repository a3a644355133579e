package chaincode

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/pharmatrace/pharmatrace/trace"
)

// Contract is the PharmaTrace business contract. Its exported methods are
// exactly the transactions and queries of trace.SubmitTransactions and
// trace.EvaluateTransactions; each takes the JSON of a trace request type and
// returns the JSON of a trace result type.
type Contract struct {
	contractapi.Contract
	orgs          []orgBinding // sorted by MSP: deterministic iteration
	maxCommission int
	maxSkew       time.Duration
	clock         func() time.Time
	market        *time.Location
	build         Build
	packageID     string
	layouts       layouts
}

type orgBinding struct {
	msp      string
	roles    []trace.Role
	prefixes []string // GS1 company prefixes the MSP owns
}

func newContract(cfg Config) (*Contract, error) {
	c := &Contract{maxCommission: cfg.MaxCommission, maxSkew: cfg.MaxClockSkew, clock: cfg.Clock, market: cfg.Market,
		build: CurrentBuild(cfg.BuildID), packageID: cfg.PackageID, layouts: defaultLayouts()}
	if c.market == nil {
		c.market = time.UTC
	}
	for msp := range cfg.OrgPrefixes {
		if _, ok := cfg.OrgRoles[msp]; !ok {
			return nil, fmt.Errorf("config: OrgPrefixes names MSP %s, which OrgRoles does not bind", msp)
		}
	}
	if c.maxSkew == 0 {
		c.maxSkew = DefaultMaxClockSkew
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.maxCommission == 0 {
		c.maxCommission = trace.DefaultMaxCommission
	}
	if c.maxCommission < 1 || c.maxCommission > trace.HardMaxCommission {
		return nil, fmt.Errorf("config: MaxCommission %d is not between 1 and %d", cfg.MaxCommission, trace.HardMaxCommission)
	}
	msps := make([]string, 0, len(cfg.OrgRoles))
	for msp := range cfg.OrgRoles {
		msps = append(msps, msp)
	}
	sort.Strings(msps)
	for _, msp := range msps {
		b := orgBinding{msp: msp, prefixes: slices.Clone(cfg.OrgPrefixes[msp])}
		for _, r := range cfg.OrgRoles[msp] {
			if !slices.Contains(trace.Roles, trace.Role(r)) {
				return nil, fmt.Errorf("config: MSP %s: %q is not a role", msp, r)
			}
			b.roles = append(b.roles, trace.Role(r))
		}
		c.orgs = append(c.orgs, b)
	}
	if len(c.orgs) == 0 {
		return nil, fmt.Errorf("config: OrgRoles binds no MSP")
	}
	c.Name = trace.ContractName
	c.Info.Title = "PharmaTrace"
	c.Info.Version = Version
	c.Info.Description = "Serialised medicine packs: verification, custody and anomalies"
	return c, nil
}

// GetEvaluateTransactions marks the queries as "evaluate" in the metadata.
func (c *Contract) GetEvaluateTransactions() []string {
	return slices.Clone(trace.EvaluateTransactions)
}

// TxCtx is the transaction context type of the contract's methods.
type TxCtx = contractapi.TransactionContextInterface

// ---- master data ----

// RegisterProduct registers a GTIN of the caller's company prefix
// (trace.RegisterProductRequest → trace.ProductResult).
func (c *Contract) RegisterProduct(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.RegisterProduct, request, c.registerProduct)
}

// RegisterLot registers a lot of one of the caller's products
// (trace.RegisterLotRequest → trace.LotResult).
func (c *Contract) RegisterLot(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.RegisterLot, request, c.registerLot)
}

// ReleaseLot releases a quarantined lot (trace.LotStatusRequest → trace.LotResult).
func (c *Contract) ReleaseLot(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.ReleaseLot, request, c.lotStatus(trace.LotReleased))
}

// RecallLot recalls a lot: the owning manufacturer or the regulator
// (trace.LotStatusRequest → trace.LotResult).
func (c *Contract) RecallLot(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.RecallLot, request, c.lotStatus(trace.LotRecalled))
}

// WithdrawLot withdraws a lot from the market: the owning manufacturer or
// the regulator (trace.LotStatusRequest → trace.LotResult).
func (c *Contract) WithdrawLot(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.WithdrawLot, request, c.lotStatus(trace.LotWithdrawn))
}

// ---- packs ----

// CommissionPacks commissions serials of one lot
// (trace.CommissionPacksRequest → trace.CommissionPacksResult).
func (c *Contract) CommissionPacks(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.CommissionPacks, request, c.commissionPacks)
}

// Dispense supplies a scanned pack to a patient (trace.ScanRequest → trace.ScanResult).
func (c *Contract) Dispense(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.Dispense, request, c.dispense)
}

// Decommission sets a scanned pack inactive for a reason
// (trace.DecommissionRequest → trace.ScanResult).
func (c *Contract) Decommission(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.Decommission, request, c.decommission)
}

// Undo reactivates a scanned pack (trace.ScanRequest → trace.ScanResult).
func (c *Contract) Undo(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.Undo, request, c.undo)
}

// ReportScan commits the findings of a verification as anomalies
// (trace.ScanRequest → trace.ScanResult).
func (c *Contract) ReportScan(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.ReportScan, request, c.reportScan)
}

// ---- custody ----

// Aggregate packs loose packs into a new SSCC
// (trace.AggregateRequest → trace.AggregateResult).
func (c *Contract) Aggregate(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.Aggregate, request, c.aggregate)
}

// Ship ships packs and SSCCs to another party
// (trace.ShipRequest → trace.ShipmentResult).
func (c *Contract) Ship(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.Ship, request, c.ship)
}

// Receive records the receipt of a shipment at the caller's site
// (trace.ReceiveRequest → trace.ReceiveResult).
func (c *Contract) Receive(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.Receive, request, c.receive)
}

// ---- anomalies ----

// FlagAnomaly records an anomaly by hand (trace.FlagAnomalyRequest → trace.AnomalyResult).
func (c *Contract) FlagAnomaly(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.FlagAnomaly, request, c.flagAnomaly)
}

// TransitionAnomaly moves an anomaly along its workflow
// (trace.TransitionAnomalyRequest → trace.AnomalyResult).
func (c *Contract) TransitionAnomaly(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.TransitionAnomaly, request, c.transitionAnomaly)
}

// CommentAnomaly adds a comment to an anomaly
// (trace.CommentAnomalyRequest → trace.AnomalyResult).
func (c *Contract) CommentAnomaly(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.CommentAnomaly, request, c.commentAnomaly)
}

// ---- queries ----

// Verify checks a scanned pack and writes nothing
// (trace.VerifyRequest → trace.VerifyResult).
func (c *Contract) Verify(ctx TxCtx, request string) (string, error) {
	return query(c, ctx, trace.Txs.Verify, request, c.verify)
}

// GetProduct returns a product (trace.ProductQuery → trace.GetProductResult).
func (c *Contract) GetProduct(ctx TxCtx, request string) (string, error) {
	return query(c, ctx, trace.Txs.GetProduct, request, c.getProduct)
}

// GetPack returns a pack (trace.PackQuery → trace.GetPackResult).
func (c *Contract) GetPack(ctx TxCtx, request string) (string, error) {
	return query(c, ctx, trace.Txs.GetPack, request, c.getPack)
}

// GetPackHistory returns a pack's committed versions, newest first
// (trace.PackHistoryQuery → trace.PackHistoryResult).
func (c *Contract) GetPackHistory(ctx TxCtx, request string) (string, error) {
	return query(c, ctx, trace.Txs.GetPackHistory, request, c.getPackHistory)
}

// GetLot returns a lot (trace.LotQuery → trace.GetLotResult).
func (c *Contract) GetLot(ctx TxCtx, request string) (string, error) {
	return query(c, ctx, trace.Txs.GetLot, request, c.getLot)
}

// GetShipment returns a shipment (trace.ShipmentQuery → trace.GetShipmentResult).
func (c *Contract) GetShipment(ctx TxCtx, request string) (string, error) {
	return query(c, ctx, trace.Txs.GetShipment, request, c.getShipment)
}

// GetAnomaly returns an anomaly (trace.AnomalyQuery → trace.GetAnomalyResult).
func (c *Contract) GetAnomaly(ctx TxCtx, request string) (string, error) {
	return query(c, ctx, trace.Txs.GetAnomaly, request, c.getAnomaly)
}

// GetRequest returns the committed outcome of one of the caller
// organisation's request IDs (trace.RequestQuery → trace.GetRequestResult).
func (c *Contract) GetRequest(ctx TxCtx, request string) (string, error) {
	return query(c, ctx, trace.Txs.GetRequest, request, c.getRequest)
}

// ListAnomalies returns one page of anomalies
// (trace.ListAnomaliesQuery → trace.ListAnomaliesResult).
func (c *Contract) ListAnomalies(ctx TxCtx, request string) (string, error) {
	return query(c, ctx, trace.Txs.ListAnomalies, request, c.listAnomalies)
}

// ListPacksByLot returns one page of a lot's packs
// (trace.ListPacksByLotQuery → trace.ListPacksByLotResult).
func (c *Contract) ListPacksByLot(ctx TxCtx, request string) (string, error) {
	return query(c, ctx, trace.Txs.ListPacksByLot, request, c.listPacksByLot)
}

// InitCollection sets a manufacturer collection's pseudonym key, once.
func (c *Contract) InitCollection(ctx TxCtx, request string) (string, error) {
	return submit(c, ctx, trace.Txs.InitCollection, request, c.initCollection)
}

// Route tells a client where a request goes: public, or as transient data
// to the members of one manufacturer's collection (trace/route.go).
func (c *Contract) Route(ctx TxCtx, request string) (string, error) {
	return query(c, ctx, trace.Txs.Route, request, c.routeQuery)
}
