package epcis

import (
	"time"

	"github.com/pharmatrace/pharmatrace/trace"
)

const (
	fxGTIN   = "09506000134352"
	fxLot    = "LOT1"
	fxExpiry = "271231"
	fxSSCC   = "395060000000000016"
)

var (
	fxT0    = time.Date(2026, 3, 2, 8, 30, 0, 123_000_000, time.UTC)
	fxMfr   = trace.Actor{MSP: "ManufacturerMSP", Role: trace.RoleManufacturer, GLN: "9506000000015"}
	fxDist  = trace.Actor{MSP: "DistributorMSP", Role: trace.RoleDistributor, GLN: "9506000000022"}
	fxPharm = trace.Actor{MSP: "PharmacyMSP", Role: trace.RolePharmacist, GLN: "9506000000039"}
)

func fxRef(serial string) trace.PackRef { return trace.PackRef{GTIN: fxGTIN, Serial: serial} }

func fxPack(serial string, st trace.PackState, r trace.Reason, cust trace.Actor, tr *trace.Transit, sscc string) trace.Pack {
	return trace.Pack{GTIN: fxGTIN, Serial: serial, Lot: fxLot, Expiry: fxExpiry, State: st, Reason: r,
		Custodian: cust.Party(), Transit: tr, SSCC: sscc}
}

func ok() trace.Outcome { return trace.Outcome{Status: trace.StatusOK} }

// fixtureEvents is a pack journey through the ledger: commissioning of five
// packs, a case of three, shipping to a distributor (case + one loose
// pack), receipt, shipping two packs loose to a pharmacy, receipt,
// dispensing, decommissioning (locked, then undone; destroyed; stolen;
// exported), a refused dispense and a lot recall (neither exported).
func fixtureEvents() []trace.Event {
	h := time.Hour
	t := func(d time.Duration) time.Time { return fxT0.Add(d) }
	sh1 := trace.Transit{Shipment: "SH-1", From: fxMfr.Party(), To: fxDist.Party()}
	sh2 := trace.Transit{Shipment: "SH-2", From: fxDist.Party(), To: fxPharm.Party()}
	agg := trace.Aggregation{SSCC: fxSSCC, Packs: []trace.PackRef{fxRef("S1"), fxRef("S2"), fxRef("S3")}, CreatedBy: fxMfr.Party(), CreatedAt: t(h)}
	shipped := agg
	shipped.Shipment = "SH-1"
	return []trace.Event{
		{Type: trace.TxCommissionPacks, TxID: "tx01", Timestamp: t(0), RequestID: "r1", Actor: fxMfr, Outcome: ok(),
			Commissioned: &trace.Commissioned{GTIN: fxGTIN, Lot: fxLot, Expiry: fxExpiry, State: trace.StateActive,
				Custodian: fxMfr.Party(), Serials: []string{"S1", "S2", "S3", "S4", "S5"}}},
		{Type: trace.TxAggregate, TxID: "tx02", Timestamp: t(h), Actor: fxMfr, Outcome: ok(),
			Aggregations: []trace.Aggregation{agg},
			Packs: []trace.Pack{fxPack("S1", "active", "", fxMfr, nil, fxSSCC), fxPack("S2", "active", "", fxMfr, nil, fxSSCC),
				fxPack("S3", "active", "", fxMfr, nil, fxSSCC)}},
		{Type: trace.TxShip, TxID: "tx03", Timestamp: t(2 * h), Actor: fxMfr, Outcome: ok(),
			Shipments: []trace.Shipment{{ID: "SH-1", From: fxMfr.Party(), To: fxDist.Party(), SSCCs: []string{fxSSCC},
				Packs: []trace.PackRef{fxRef("S1"), fxRef("S2"), fxRef("S3"), fxRef("S4")}, Status: trace.ShipmentInTransit}},
			Aggregations: []trace.Aggregation{shipped},
			Packs: []trace.Pack{fxPack("S1", "in_transit", "", fxMfr, &sh1, fxSSCC), fxPack("S2", "in_transit", "", fxMfr, &sh1, fxSSCC),
				fxPack("S3", "in_transit", "", fxMfr, &sh1, fxSSCC), fxPack("S4", "in_transit", "", fxMfr, &sh1, "")}},
		{Type: trace.TxReceive, TxID: "tx04", Timestamp: t(24 * h), Actor: fxDist, Outcome: ok(),
			Shipments: []trace.Shipment{{ID: "SH-1", From: fxMfr.Party(), To: fxDist.Party(), Status: trace.ShipmentReceived}},
			Packs: []trace.Pack{fxPack("S1", "active", "", fxDist, nil, fxSSCC), fxPack("S2", "active", "", fxDist, nil, fxSSCC),
				fxPack("S3", "active", "", fxDist, nil, fxSSCC), fxPack("S4", "active", "", fxDist, nil, "")}},
		{Type: trace.TxShip, TxID: "tx05", Timestamp: t(48 * h), Actor: fxDist, Outcome: ok(),
			Shipments: []trace.Shipment{{ID: "SH-2", From: fxDist.Party(), To: fxPharm.Party(),
				Packs: []trace.PackRef{fxRef("S1"), fxRef("S2")}, Status: trace.ShipmentInTransit}},
			Packs: []trace.Pack{fxPack("S1", "in_transit", "", fxDist, &sh2, ""), fxPack("S2", "in_transit", "", fxDist, &sh2, "")}},
		{Type: trace.TxReceive, TxID: "tx06", Timestamp: t(72 * h), Actor: fxPharm, Outcome: ok(),
			Shipments: []trace.Shipment{{ID: "SH-2", From: fxDist.Party(), To: fxPharm.Party(), Status: trace.ShipmentReceived}},
			Packs:     []trace.Pack{fxPack("S1", "active", "", fxPharm, nil, ""), fxPack("S2", "active", "", fxPharm, nil, "")}},
		{Type: trace.TxDispense, TxID: "tx07", Timestamp: t(96 * h), Actor: fxPharm, Outcome: ok(),
			Packs: []trace.Pack{fxPack("S1", "inactive", trace.ReasonDispensed, fxPharm, nil, "")}},
		{Type: trace.TxDecommission, TxID: "tx08", Timestamp: t(97 * h), Actor: fxPharm, Outcome: ok(),
			Packs: []trace.Pack{fxPack("S2", "inactive", trace.ReasonLocked, fxPharm, nil, "")}},
		{Type: trace.TxUndo, TxID: "tx09", Timestamp: t(98 * h), Actor: fxPharm, Outcome: ok(),
			Packs: []trace.Pack{fxPack("S2", "active", "", fxPharm, nil, "")}},
		{Type: trace.TxDecommission, TxID: "tx10", Timestamp: t(120 * h), Actor: fxMfr, Outcome: ok(),
			Packs: []trace.Pack{fxPack("S5", "inactive", trace.ReasonDestroyed, fxMfr, nil, "")}},
		{Type: trace.TxDecommission, TxID: "tx11", Timestamp: t(121 * h), Actor: fxDist, Outcome: ok(),
			Packs: []trace.Pack{fxPack("S3", "inactive", trace.ReasonStolen, fxDist, nil, fxSSCC)}},
		{Type: trace.TxDispense, TxID: "tx12", Timestamp: t(122 * h), Actor: fxPharm,
			Outcome: trace.Refused(trace.CodeStatusChangeNotPossible, "pack is inactive (stolen)")},
		{Type: trace.TxRecallLot, TxID: "tx13", Timestamp: t(123 * h), Actor: fxMfr, Outcome: ok(),
			Lots: []trace.Lot{{GTIN: fxGTIN, Lot: fxLot, Expiry: fxExpiry, Status: trace.LotRecalled}}},
		{Type: trace.TxDecommission, TxID: "tx14", Timestamp: t(124 * h), Actor: fxDist, Outcome: ok(),
			Packs: []trace.Pack{fxPack("S4", "inactive", trace.ReasonExported, fxDist, nil, "")}},
	}
}
