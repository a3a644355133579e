package chaincode_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/trace"
)

// sampleRequest returns a syntactically valid request for every transaction.
func sampleRequest(n *net, tx string) any {
	h := trace.RequestHeader{RequestID: n.reqID()}
	sc := scan(gtinA, "S1", "L1", expiry)
	switch tx {
	case "RegisterProduct":
		return trace.RegisterProductRequest{RequestHeader: h, GTIN: gtinA2, Name: "X", Form: "tablet", Strength: "1 mg", PackSize: 10}
	case "RegisterLot":
		return trace.RegisterLotRequest{RequestHeader: h, GTIN: gtinA, Lot: "L9", Expiry: expiry}
	case "ReleaseLot", "RecallLot", "WithdrawLot":
		return trace.LotStatusRequest{RequestHeader: h, GTIN: gtinA, Lot: "L1", Reason: "test"}
	case "CommissionPacks":
		return trace.CommissionPacksRequest{RequestHeader: h, GTIN: gtinA, Lot: "L1", Expiry: expiry, Serials: []string{"M" + h.RequestID}}
	case "Aggregate":
		return trace.AggregateRequest{RequestHeader: h, SSCC: withCheck("10614141123456789"), Packs: refs(gtinA, "S1")}
	case "Ship":
		return trace.ShipRequest{RequestHeader: h, To: party(ph2), Packs: refs(gtinA, "S1")}
	case "Receive":
		return trace.ReceiveRequest{RequestHeader: h, ShipmentID: "SH-X", Packs: refs(gtinA, "S1")}
	case "Dispense", "Undo", "ReportScan":
		return trace.ScanRequest{RequestHeader: h, Scan: sc}
	case "Decommission":
		return trace.DecommissionRequest{RequestHeader: h, Scan: sc, Reason: trace.ReasonDestroyed}
	case "FlagAnomaly":
		return trace.FlagAnomalyRequest{RequestHeader: h, Code: trace.AnomalyManual, Severity: trace.SeverityLow, Classification: trace.ClassProcess, Message: "m"}
	case "TransitionAnomaly":
		return trace.TransitionAnomalyRequest{RequestHeader: h, AnomalyID: "AN-X", To: trace.AnomalyInvestigating}
	case "CommentAnomaly":
		return trace.CommentAnomalyRequest{RequestHeader: h, AnomalyID: "AN-X", Comment: "c"}
	case "Verify":
		return trace.VerifyRequest{Scan: sc}
	case "GetProduct":
		return trace.ProductQuery{GTIN: gtinA}
	case "GetPack":
		return trace.PackQuery{GTIN: gtinA, Serial: "S1"}
	case "GetPackHistory":
		return trace.PackHistoryQuery{GTIN: gtinA, Serial: "S1"}
	case "GetLot":
		return trace.LotQuery{GTIN: gtinA, Lot: "L1"}
	case "GetShipment":
		return trace.ShipmentQuery{ID: "SH-X"}
	case "GetAnomaly":
		return trace.AnomalyQuery{ID: "AN-X"}
	case "GetRequest":
		return trace.RequestQuery{RequestID: "r"}
	case "ListAnomalies":
		return trace.ListAnomaliesQuery{}
	case "ListPacksByLot":
		return trace.ListPacksByLotQuery{GTIN: gtinA, Lot: "L1"}
	case "InitCollection":
		return trace.InitCollectionRequest{RequestHeader: h, Manufacturer: "ManufacturerMSP", Key: testCollectionKey}
	case "Route":
		return trace.RouteQuery{Transaction: "Dispense", Keys: trace.RouteKeys{GTINs: []string{gtinA}}}
	}
	n.tb.Fatalf("no sample for %s", tx)
	return nil
}

// TestPermissionMatrix runs every transaction as every role: a role without
// the transaction's right is denied with an error naming the right; a role
// with it is never denied for lack of it.
func TestPermissionMatrix(t *testing.T) {
	n := newNet(t)
	n.registerProduct(mfgA, gtinA)
	n.commission(mfgA, gtinA, "L1", expiry, "S1")
	all := append(append([]string{}, trace.SubmitTransactions...), trace.EvaluateTransactions...)
	for _, tx := range all {
		for _, who := range []string{mfgA, wh1, ph1, reg, admin} {
			role := trace.Role(identitySpecs[who].attrs["role"])
			t.Run(tx+"/"+string(role), func(t *testing.T) {
				req := sampleRequest(n, tx)
				right := trace.TransactionRights[tx]
				if tx == "Decommission" {
					right = trace.DecommissionRight(trace.ReasonDestroyed)
				}
				var r = n.evaluate(who, tx, req)
				if !trace.IsQuery(tx) {
					r = n.submit(who, tx, req)
				}
				denial := `needs right "` + string(right) + `"`
				if role.Has(right) {
					if strings.Contains(r.Message, denial) {
						t.Fatalf("%s allowed for %s but denied: %s", tx, role, r.Message)
					}
					return
				}
				if trace.Classify(r.Message) != trace.ErrAccessDenied || !strings.Contains(r.Message, denial) || !strings.Contains(r.Message, tx) {
					t.Fatalf("%s as %s: want access denied naming %q, got %d %q", tx, role, right, r.Status, r.Message)
				}
				if r.Committed() {
					t.Fatal("denied transaction committed")
				}
			})
		}
	}
}

func TestIdentityChecks(t *testing.T) {
	n := newNet(t)
	q := trace.ListAnomaliesQuery{}
	for _, tc := range []struct {
		who, want string
	}{
		{rogue, `role "regulator" is not allowed for MSP "PharmacyMSP" (allowed: pharmacist, admin)`},
		{noRole, `the certificate has no "role" attribute`},
		{noGLN, `role pharmacist needs a "gln" certificate attribute`},
		{badGLN, `the "gln" certificate attribute: "4000000002010" has an invalid check digit`},
		{strangerM, `MSP "StrangerMSP" is not a PharmaTrace organisation`},
	} {
		t.Run(tc.who, func(t *testing.T) {
			r := n.evaluate(tc.who, "ListAnomalies", q)
			if trace.Classify(r.Message) != trace.ErrAccessDenied || !strings.Contains(r.Message, tc.want) {
				t.Fatalf("got %q, want %q", r.Message, tc.want)
			}
		})
	}
	// A regulator needs no gln.
	query[trace.ListAnomaliesResult](n, regNoGLN, "ListAnomalies", q)
}

func TestManufacturerPrefixAndOwnership(t *testing.T) {
	n := newNet(t)
	h := func() trace.RequestHeader { return trace.RequestHeader{RequestID: n.reqID()} }
	n.fails(mfgB, "RegisterProduct", trace.RegisterProductRequest{RequestHeader: h(), GTIN: gtinA, Name: "X", Form: "f", Strength: "s", PackSize: 1},
		trace.ErrAccessDenied, "company prefix of GTIN "+gtinA, `"gcp"`)
	n.fails(mfgNoGCP, "RegisterProduct", trace.RegisterProductRequest{RequestHeader: h(), GTIN: gtinA, Name: "X", Form: "f", Strength: "s", PackSize: 1},
		trace.ErrAccessDenied, "company prefix")
	n.registerProduct(mfgA, gtinA)
	n.registerProduct(mfgB, gtinB)
	n.fails(mfgA, "RegisterProduct", trace.RegisterProductRequest{RequestHeader: h(), GTIN: gtinA, Name: "X", Form: "f", Strength: "s", PackSize: 1},
		trace.ErrConflict, "already registered")
	n.fails(mfgB, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L1", Expiry: expiry, Serials: []string{"X"}},
		trace.ErrAccessDenied, "needs ownership of GTIN "+gtinA)
	n.fails(mfgB, "RegisterLot", trace.RegisterLotRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L1", Expiry: expiry},
		trace.ErrAccessDenied, "needs ownership")
	n.fails(mfgA, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: h(), GTIN: gtinA2, Lot: "L1", Expiry: expiry, Serials: []string{"X"}},
		trace.ErrNotFound, "product "+gtinA2+" is not registered")
	n.commission(mfgA, gtinA, "L1", expiry, "S1")
	n.fails(mfgB, "RecallLot", trace.LotStatusRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L1", Reason: "r"}, trace.ErrAccessDenied, "needs ownership")
	// Acceptance: a pharmacist trying to commission is denied.
	n.fails(ph1, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L1", Expiry: expiry, Serials: []string{"P"}},
		trace.ErrAccessDenied, `CommissionPacks needs right "pack.commission"`, `caller has role "pharmacist"`)
	// Owner and regulator may recall.
	res := ok[trace.LotResult](n, reg, "RecallLot", trace.LotStatusRequest{RequestHeader: h(), GTIN: gtinA, Lot: "L1", Reason: "contamination"})
	wantOutcome(t, res.Outcome, trace.StatusOK, "")
	if res.Lot.StatusChangedBy.Role != trace.RoleRegulator {
		t.Fatal(res.Lot.StatusChangedBy)
	}
}

func TestDecommissionReasonRights(t *testing.T) {
	n := newNet(t)
	for _, tc := range []struct {
		who    string
		reason trace.Reason
		ok     bool
	}{
		{ph1, trace.ReasonExported, false},
		{ph1, trace.ReasonCheckedOut, true},
		{wh1, trace.ReasonCheckedOut, false},
		{wh1, trace.ReasonExported, true},
		{mfgA, trace.ReasonSample, true},
		{reg, trace.ReasonDestroyed, false},
	} {
		t.Run(tc.who+"/"+string(tc.reason), func(t *testing.T) {
			r := n.submit(tc.who, "Decommission", trace.DecommissionRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()},
				Scan: scan(gtinA, "S1", "L1", expiry), Reason: tc.reason})
			denied := strings.Contains(r.Message, `needs right "pack.decommission.`+string(tc.reason)+`"`)
			if denied == tc.ok {
				t.Fatalf("%q", r.Message)
			}
		})
	}
}

func TestReadVisibility(t *testing.T) {
	n := newNet(t)
	n.registerProduct(mfgA, gtinA)
	n.commission(mfgA, gtinA, "L1", expiry, "S1", "S2")
	n.ship(mfgA, wh1, "SH1", refs(gtinA, "S1", "S2"))
	n.receive(wh1, "SH1", refs(gtinA, "S1", "S2"))
	n.ship(wh1, ph1, "SH2", refs(gtinA, "S1"))
	n.receive(ph1, "SH2", refs(gtinA, "S1"))
	pq := trace.PackQuery{GTIN: gtinA, Serial: "S1"}
	for who, allowed := range map[string]bool{reg: true, mfgA: true, ph1: true, ph2: true, wh1: false, mfgB: false} {
		r := n.evaluate(who, "GetPack", pq)
		if r.OK() != allowed {
			t.Errorf("GetPack as %s: %d %s", who, r.Status, r.Message)
		}
		if !allowed && trace.Classify(r.Message) != trace.ErrAccessDenied {
			t.Errorf("GetPack as %s: %s", who, r.Message)
		}
		// Anyone may verify it.
		n.verify(who, scan(gtinA, "S1", "L1", expiry))
	}
	sq := trace.ShipmentQuery{ID: "SH2"}
	for who, allowed := range map[string]bool{reg: true, wh1: true, ph2: true, mfgA: false} {
		if r := n.evaluate(who, "GetShipment", sq); r.OK() != allowed {
			t.Errorf("GetShipment as %s: %s", who, r.Message)
		}
	}
	// Lots and products are public to every business role.
	query[trace.GetLotResult](n, ph2, "GetLot", trace.LotQuery{GTIN: gtinA, Lot: "L1"})
	query[trace.GetProductResult](n, wh2, "GetProduct", trace.ProductQuery{GTIN: gtinA})
	// ListPacksByLot: the lot's serials for the owner and the regulator
	// only; everyone else (even the holder of some packs) is denied.
	lq := trace.ListPacksByLotQuery{GTIN: gtinA, Lot: "L1"}
	for who, want := range map[string]int{reg: 2, mfgA: 2} {
		if got := len(query[trace.ListPacksByLotResult](n, who, "ListPacksByLot", lq).Packs); got != want {
			t.Errorf("ListPacksByLot as %s: %d packs, want %d", who, got, want)
		}
	}
	for _, who := range []string{wh1, ph1, mfgB, rival} {
		if r := n.evaluate(who, "ListPacksByLot", lq); r.OK() || trace.Classify(r.Message) != trace.ErrAccessDenied {
			t.Errorf("ListPacksByLot as %s: %d %s", who, r.Status, r.Message)
		}
	}
}

func TestProbeContractStillRegistered(t *testing.T) {
	n := newNet(t)
	r := n.l.Submit(n.cc, probeProposal(t, admin, "probe:Put", "k", "v"))
	if !r.Committed() {
		t.Fatal(r.Message)
	}
	r = n.l.Evaluate(n.cc, probeProposal(t, admin, "probe:Get", "k"))
	if string(r.Payload) != "v" {
		t.Fatalf("%+v", r)
	}
	r = n.l.Submit(n.cc, probeProposal(t, ph1, "probe:Put", "k", "w"))
	if r.OK() || !strings.HasPrefix(r.Message, "access denied") {
		t.Fatalf("%+v", r)
	}
	// PutMany, the bulk baseline: count keys of size bytes, admins only.
	if r := n.l.Submit(n.cc, probeProposal(t, admin, "probe:PutMany", "b", "3", "5")); !r.Committed() || r.Writes != 3 {
		t.Fatalf("%+v", r)
	}
	if v := n.l.Get("probe~b~2"); string(v) != "xxxxx" {
		t.Fatalf("probe~b~2 = %q", v)
	}
	for _, args := range [][]string{{"b", "0", "5"}, {"b", strconv.Itoa(2*trace.HardMaxCommission + 1), "5"}, {"b", "3", "4097"}, {"", "3", "5"}} {
		if r := n.l.Submit(n.cc, probeProposal(t, admin, "probe:PutMany", args...)); r.OK() || !strings.Contains(r.Message, "invalid request") {
			t.Fatalf("PutMany %v: %+v", args, r)
		}
	}
	if r := n.l.Submit(n.cc, probeProposal(t, ph1, "probe:PutMany", "b", "3", "5")); r.OK() {
		t.Fatal("a pharmacist wrote through PutMany")
	}
}
