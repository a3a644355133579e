package memledger

import (
	"context"
	"fmt"

	"github.com/pharmatrace/pharmatrace/trace"
)

// Demo identities, as in fabric-network/network.yaml.
var (
	MfrAlpha     = trace.Actor{MSP: "ManufacturerMSP", Role: trace.RoleManufacturer, GLN: "4012345000009"}
	WhNorth      = trace.Actor{MSP: "DistributorMSP", Role: trace.RoleDistributor, GLN: "4098765000010"}
	PharmCentral = trace.Actor{MSP: "PharmacyMSP", Role: trace.RolePharmacist, GLN: "4300123000014"}
	PharmStation = trace.Actor{MSP: "PharmacyMSP", Role: trace.RolePharmacist, GLN: "4300123000021"}
	Inspector    = trace.Actor{MSP: "RegulatorMSP", Role: trace.RoleRegulator, GLN: "4900000000009"}
)

// DemoGCPs are the company prefixes of the demo manufacturers, by GLN.
var DemoGCPs = map[string][]string{MfrAlpha.GLN: {"4012345"}}

// Demo product codes (valid GTIN-14 of mfr-alpha's prefix 4012345).
const (
	DemoGTIN  = "04012345000016"
	DemoGTIN2 = "04012345000023"
	DemoLot   = "LOT-A1"
	DemoLot2  = "LOT-B7"
	Expiry    = "301231"
)

// DemoResult names what the demo flow produced.
type DemoResult struct {
	// Clone is the CLONE anomaly raised when pharm-station dispensed a pack
	// already dispensed at pharm-central.
	Clone string
	// CloneSerial is that pack's serial (of DemoGTIN, lot DemoLot).
	CloneSerial string
	Shipment    string
}

// Demo runs the end-to-end flow of the acceptance scenario against the fake
// ledger: mfr-alpha registers two products and commissions two lots,
// ships packs to wh-north, which receives them and ships on to
// pharm-central; pharm-central dispenses one pack, pharm-station dispenses
// the same serial again (a clone: refused, critical CLONE anomaly); lot B7
// is recalled by its manufacturer and one of its packs is then verified at
// a pharmacy (recalled lot presented).
func (l *Ledger) Demo(ctx context.Context) (DemoResult, error) {
	var res DemoResult
	step := 0
	id := func() string { step++; return fmt.Sprintf("demo-%03d", step) }
	submit := func(a trace.Actor, fn string, req trace.WriteRequest, out trace.Result) error {
		if err := l.For(a, DemoGCPs[a.GLN]...).Submit(ctx, fn, req, out); err != nil {
			return fmt.Errorf("demo %s: %w", fn, err)
		}
		return nil
	}
	for _, p := range []struct{ gtin, name string }{{DemoGTIN, "Amoxicillin 500 mg"}, {DemoGTIN2, "Ibuprofen 400 mg"}} {
		var r trace.ProductResult
		if err := submit(MfrAlpha, trace.TxRegisterProduct, &trace.RegisterProductRequest{RequestHeader: trace.RequestHeader{RequestID: id()},
			GTIN: p.gtin, Name: p.name, Form: "tablet", Strength: "500 mg", PackSize: 20}, &r); err != nil {
			return res, err
		}
	}
	serials := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%05d", prefix, i+1)
		}
		return out
	}
	for _, c := range []struct {
		gtin, lot, prefix string
	}{{DemoGTIN, DemoLot, "SA"}, {DemoGTIN2, DemoLot2, "SB"}} {
		var r trace.CommissionPacksResult
		if err := submit(MfrAlpha, trace.TxCommissionPacks, &trace.CommissionPacksRequest{RequestHeader: trace.RequestHeader{RequestID: id()},
			GTIN: c.gtin, Lot: c.lot, Expiry: Expiry, Serials: serials(c.prefix, 6)}, &r); err != nil {
			return res, err
		}
	}
	refs := func(gtin, prefix string, from, to int) []trace.PackRef {
		var out []trace.PackRef
		for i := from; i <= to; i++ {
			out = append(out, trace.PackRef{GTIN: gtin, Serial: fmt.Sprintf("%s%05d", prefix, i)})
		}
		return out
	}
	toWh := append(refs(DemoGTIN, "SA", 1, 4), refs(DemoGTIN2, "SB", 1, 3)...)
	var sh trace.ShipmentResult
	if err := submit(MfrAlpha, trace.TxShip, &trace.ShipRequest{RequestHeader: trace.RequestHeader{RequestID: id()}, ShipmentID: "ASN-1001",
		To: WhNorth.Party(), Packs: toWh}, &sh); err != nil {
		return res, err
	}
	var rr trace.ReceiveResult
	if err := submit(WhNorth, trace.TxReceive, &trace.ReceiveRequest{RequestHeader: trace.RequestHeader{RequestID: id()}, ShipmentID: "ASN-1001", Packs: toWh}, &rr); err != nil {
		return res, err
	}
	toPh := append(refs(DemoGTIN, "SA", 1, 2), refs(DemoGTIN2, "SB", 1, 1)...)
	if err := submit(WhNorth, trace.TxShip, &trace.ShipRequest{RequestHeader: trace.RequestHeader{RequestID: id()}, ShipmentID: "ASN-2001",
		To: PharmCentral.Party(), Packs: toPh}, &sh); err != nil {
		return res, err
	}
	res.Shipment = "ASN-2001"
	if err := submit(PharmCentral, trace.TxReceive, &trace.ReceiveRequest{RequestHeader: trace.RequestHeader{RequestID: id()}, ShipmentID: "ASN-2001", Packs: toPh}, &rr); err != nil {
		return res, err
	}
	scan := trace.Scan{GTIN: DemoGTIN, Serial: "SA00001", Lot: DemoLot, Expiry: Expiry}
	var sr trace.ScanResult
	if err := submit(PharmCentral, trace.TxDispense, &trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: id()}, Scan: scan}, &sr); err != nil {
		return res, err
	}
	if err := submit(PharmStation, trace.TxDispense, &trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: id()}, Scan: scan}, &sr); err != nil {
		return res, err
	}
	if sr.Outcome.Status != trace.StatusRefused || len(sr.Outcome.Anomalies) == 0 {
		return res, fmt.Errorf("demo: second dispense was not refused with an anomaly: %+v", sr.Outcome)
	}
	res.Clone, res.CloneSerial = sr.Outcome.Anomalies[0], scan.Serial
	var lr trace.LotResult
	if err := submit(MfrAlpha, trace.TxRecallLot, &trace.LotStatusRequest{RequestHeader: trace.RequestHeader{RequestID: id()}, GTIN: DemoGTIN2, Lot: DemoLot2,
		Reason: "contamination found in QC retest"}, &lr); err != nil {
		return res, err
	}
	rec := trace.Scan{GTIN: DemoGTIN2, Serial: "SB00001", Lot: DemoLot2, Expiry: Expiry}
	if err := submit(PharmCentral, trace.TxReportScan, &trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: id()}, Scan: rec}, &sr); err != nil {
		return res, err
	}
	return res, nil
}
