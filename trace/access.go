package trace

// Role is the `role` attribute of an enrollment certificate.
type Role string

// Roles.
const (
	RoleManufacturer Role = "manufacturer"
	RoleDistributor  Role = "distributor"
	RolePharmacist   Role = "pharmacist"
	RoleRegulator    Role = "regulator"
	RoleAdmin        Role = "admin"
)

// Roles lists every role in a fixed order.
var Roles = []Role{RoleManufacturer, RoleDistributor, RolePharmacist, RoleRegulator, RoleAdmin}

// SiteBound reports whether the role acts at a site and so needs a valid
// `gln` attribute (manufacturer, distributor, pharmacist).
func (r Role) SiteBound() bool {
	return r == RoleManufacturer || r == RoleDistributor || r == RolePharmacist
}

// Certificate attribute names.
const (
	AttrRole = "role"
	AttrGLN  = "gln"
	AttrGCP  = "gcp"
)

// Right is one permission. Every transaction needs exactly one right (see
// TransactionRights); Decommission needs the reason-specific right.
type Right string

// Rights.
const (
	RightProductRegister  Right = "product.register"
	RightLotRegister      Right = "lot.register"
	RightLotRelease       Right = "lot.release"
	RightLotRecall        Right = "lot.recall"
	RightLotWithdraw      Right = "lot.withdraw"
	RightPackCommission   Right = "pack.commission"
	RightPackAggregate    Right = "pack.aggregate"
	RightPackShip         Right = "pack.ship"
	RightPackReceive      Right = "pack.receive"
	RightPackDispense     Right = "pack.dispense"
	RightPackUndo         Right = "pack.undo"
	RightPackVerify       Right = "pack.verify"
	RightScanReport       Right = "scan.report"
	RightAnomalyFlag      Right = "anomaly.flag"
	RightAnomalyWorkflow  Right = "anomaly.workflow"
	RightAnomalyComment   Right = "anomaly.comment"
	RightPackRead         Right = "pack.read"
	RightLotRead          Right = "lot.read"
	RightProductRead      Right = "product.read"
	RightShipmentRead     Right = "shipment.read"
	RightAnomalyRead      Right = "anomaly.read"
	RightRequestRead      Right = "request.read"
	RightReadAll          Right = "ledger.read-all"
	rightDecommissionBase Right = "pack.decommission."
)

// DecommissionRight is the right to decommission a pack for reason r, e.g.
// "pack.decommission.exported".
func DecommissionRight(r Reason) Right { return rightDecommissionBase + Right(r) }

var readRights = []Right{RightPackVerify, RightScanReport, RightPackRead, RightLotRead, RightProductRead, RightShipmentRead, RightAnomalyRead, RightRequestRead}

// roleRights is the grant table, deny by default.
var roleRights = []struct {
	role   Role
	rights []Right
}{
	{RoleManufacturer, append([]Right{
		RightProductRegister, RightLotRegister, RightLotRelease, RightLotRecall, RightLotWithdraw,
		RightPackCommission, RightPackAggregate, RightPackShip, RightPackReceive, RightPackUndo,
		DecommissionRight(ReasonDestroyed), DecommissionRight(ReasonStolen), DecommissionRight(ReasonExported),
		DecommissionRight(ReasonSample), DecommissionRight(ReasonFreeSample), DecommissionRight(ReasonLocked),
	}, readRights...)},
	{RoleDistributor, append([]Right{
		RightPackAggregate, RightPackShip, RightPackReceive, RightPackUndo,
		DecommissionRight(ReasonDestroyed), DecommissionRight(ReasonStolen), DecommissionRight(ReasonExported),
		DecommissionRight(ReasonSample), DecommissionRight(ReasonFreeSample), DecommissionRight(ReasonLocked),
		DecommissionRight(ReasonSupplied),
	}, readRights...)},
	{RolePharmacist, append([]Right{
		RightPackReceive, RightPackDispense, RightPackUndo,
		DecommissionRight(ReasonDestroyed), DecommissionRight(ReasonStolen), DecommissionRight(ReasonSample),
		DecommissionRight(ReasonFreeSample), DecommissionRight(ReasonLocked), DecommissionRight(ReasonCheckedOut),
	}, readRights...)},
	// The regulator locks (and unlocks, with Undo) any single pack.
	{RoleRegulator, append([]Right{
		RightLotRecall, RightLotWithdraw, RightAnomalyFlag, RightAnomalyWorkflow, RightAnomalyComment, RightReadAll,
		DecommissionRight(ReasonLocked), RightPackUndo,
	}, readRights...)},
	{RoleAdmin, []Right{RightRequestRead}},
}

// Has reports whether role r holds right.
func (r Role) Has(right Right) bool {
	for _, g := range roleRights {
		if g.role == r {
			for _, x := range g.rights {
				if x == right {
					return true
				}
			}
			return false
		}
	}
	return false
}

// RolesWith lists the roles that hold right, in the order of Roles.
func RolesWith(right Right) []Role {
	var out []Role
	for _, r := range Roles {
		if r.Has(right) {
			out = append(out, r)
		}
	}
	return out
}

// ContractName is the name the business contract is registered under.
const ContractName = "pharmatrace"
