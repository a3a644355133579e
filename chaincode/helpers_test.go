package chaincode_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/pharmatrace/pharmatrace/chaincode"
	"github.com/pharmatrace/pharmatrace/internal/ledgertest"
	"github.com/pharmatrace/pharmatrace/trace"
)

// withCheck appends the GS1 mod-10 check digit to digits.
func withCheck(digits string) string {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return digits + string(rune('0'+(10-sum%10)%10))
}

// Demo master data: two manufacturers with their company prefixes, two
// warehouses, two pharmacies, one regulator.
var (
	gcpA   = "4006381"
	gcpB   = "5012345"
	gtinA  = withCheck("0" + gcpA + "00001")
	gtinA2 = withCheck("0" + gcpA + "00002")
	gtinB  = withCheck("0" + gcpB + "00001")

	glnPlantA = withCheck("400638100001")
	glnPlantB = withCheck("501234500001")
	glnWH1    = withCheck("400000000101")
	glnWH2    = withCheck("400000000102")
	glnPH1    = withCheck("400000000201")
	glnPH2    = withCheck("400000000202")
	glnReg    = withCheck("400000000301")
)

// Identity names used by the tests.
const (
	mfgA      = "mfgA"
	mfgB      = "mfgB"
	wh1       = "wh1"
	wh2       = "wh2"
	ph1       = "ph1"
	ph2       = "ph2"
	reg       = "reg"
	admin     = "admin"
	rogue     = "rogue"      // PharmacyMSP claiming role=regulator
	noRole    = "noRole"     // certificate without attributes
	noGLN     = "noGLN"      // pharmacist without gln
	badGLN    = "badGLN"     // pharmacist with a bad check digit
	strangerM = "strangerM"  // MSP not in the binding
	mfgNoGCP  = "mfgNoGCP"   // manufacturer without gcp
	regNoGLN  = "regNoGLN"   // regulator without gln
	mfgAdmin  = "pharmAdmin" // PharmacyMSP admin
	rival     = "rival"      // RivalMSP, a second manufacturer organisation (prefix gcpR)
	rivalA    = "rivalA"     // RivalMSP whose CA writes manufacturer A's prefix
	mfgShort  = "mfgShort"   // ManufacturerMSP with a 4-digit prefix covering A's
)

// gcpR is the rival manufacturer organisation's own prefix.
var gcpR = "7012345"

var identitySpecs = map[string]struct {
	msp   string
	attrs map[string]string
}{
	mfgA:      {"ManufacturerMSP", map[string]string{"role": "manufacturer", "gln": glnPlantA, "gcp": gcpA}},
	mfgB:      {"ManufacturerMSP", map[string]string{"role": "manufacturer", "gln": glnPlantB, "gcp": gcpB}},
	wh1:       {"DistributorMSP", map[string]string{"role": "distributor", "gln": glnWH1}},
	wh2:       {"DistributorMSP", map[string]string{"role": "distributor", "gln": glnWH2}},
	ph1:       {"PharmacyMSP", map[string]string{"role": "pharmacist", "gln": glnPH1}},
	ph2:       {"PharmacyMSP", map[string]string{"role": "pharmacist", "gln": glnPH2}},
	reg:       {"RegulatorMSP", map[string]string{"role": "regulator", "gln": glnReg}},
	regNoGLN:  {"RegulatorMSP", map[string]string{"role": "regulator"}},
	admin:     {"ManufacturerMSP", map[string]string{"role": "admin"}},
	mfgAdmin:  {"PharmacyMSP", map[string]string{"role": "admin"}},
	rogue:     {"PharmacyMSP", map[string]string{"role": "regulator", "gln": glnPH1}},
	noRole:    {"PharmacyMSP", nil},
	noGLN:     {"PharmacyMSP", map[string]string{"role": "pharmacist"}},
	badGLN:    {"PharmacyMSP", map[string]string{"role": "pharmacist", "gln": "4000000002010"}},
	strangerM: {"StrangerMSP", map[string]string{"role": "pharmacist", "gln": glnPH1}},
	mfgNoGCP:  {"ManufacturerMSP", map[string]string{"role": "manufacturer", "gln": glnPlantA}},
	rival:     {"RivalMSP", map[string]string{"role": "manufacturer", "gln": withCheck("701234500001"), "gcp": gcpR}},
	rivalA:    {"RivalMSP", map[string]string{"role": "manufacturer", "gln": withCheck("701234500001"), "gcp": gcpA}},
	mfgShort:  {"ManufacturerMSP", map[string]string{"role": "manufacturer", "gln": glnPlantA, "gcp": "4006"}},
}

// testConfig is DefaultConfig with the tests' organisations: the
// manufacturer org owns prefixes A and B, a rival manufacturer org owns R.
func testConfig() chaincode.Config {
	cfg := chaincode.DefaultConfig()
	cfg.OrgRoles["RivalMSP"] = []string{"manufacturer", "admin"}
	cfg.OrgPrefixes = map[string][]string{"ManufacturerMSP": {gcpA, gcpB}, "RivalMSP": {gcpR}}
	return cfg
}

var (
	idMu    sync.Mutex
	idCache = map[string]*ledgertest.Identity{}
)

func identity(tb testing.TB, name string) *ledgertest.Identity {
	tb.Helper()
	idMu.Lock()
	defer idMu.Unlock()
	if id, ok := idCache[name]; ok {
		return id
	}
	spec, ok := identitySpecs[name]
	if !ok {
		tb.Fatalf("unknown identity %q", name)
	}
	id, err := ledgertest.NewIdentity(spec.msp, name, spec.attrs)
	if err != nil {
		tb.Fatal(err)
	}
	idCache[name] = id
	return id
}

func party(name string) trace.Party {
	s := identitySpecs[name]
	return trace.Party{MSP: s.msp, GLN: s.attrs["gln"]}
}

// t0 is the ledger's start time in the tests.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// net is a one-channel network with the PharmaTrace chaincode.
type net struct {
	tb  testing.TB
	l   *ledgertest.Ledger
	cc  *contractapi.ContractChaincode
	seq int
}

func newNet(tb testing.TB) *net {
	tb.Helper()
	return newNetWith(tb, testConfig())
}

func newNetWith(tb testing.TB, cfg chaincode.Config) *net {
	tb.Helper()
	l := ledgertest.New(t0)
	if cfg.Clock == nil {
		cfg.Clock = l.Now // the endorser's clock is the ledger's
	}
	cc, err := chaincode.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return &net{tb: tb, l: l, cc: cc}
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// reqID returns a fresh request ID.
func (n *net) reqID() string {
	n.seq++
	return fmt.Sprintf("req-%d", n.seq)
}

// submit invokes fn as who and commits it if the chaincode succeeded. A
// commissioning first registers its lot when it is not, as the gateway's
// CommissionPacks does (lots are public, packs private).
func (n *net) submit(who, fn string, req any) ledgertest.Response {
	n.tb.Helper()
	if c, ok := req.(trace.CommissionPacksRequest); ok && fn == "CommissionPacks" {
		if r := n.evaluate(reg, "GetLot", trace.LotQuery{GTIN: c.GTIN, Lot: c.Lot}); !r.OK() {
			n.l.Submit(n.cc, proposal(n.tb, who, "RegisterLot", mustJSON(n.tb, trace.RegisterLotRequest{
				RequestHeader: trace.RequestHeader{RequestID: c.RequestID + ":lot"}, GTIN: c.GTIN, Lot: c.Lot, Expiry: c.Expiry})))
		}
		r := n.l.Submit(n.cc, proposal(n.tb, who, fn, mustJSON(n.tb, req)))
		if !strings.Contains(r.Message, "has no pseudonym key yet") {
			return opened(n.tb, r)
		}
		n.l.Submit(n.cc, proposal(n.tb, who, "InitCollection", mustJSON(n.tb, trace.InitCollectionRequest{
			RequestHeader: trace.RequestHeader{RequestID: c.RequestID + ":key"}, Manufacturer: identitySpecs[who].msp, Key: testCollectionKey})))
	}
	return opened(n.tb, n.l.Submit(n.cc, proposal(n.tb, who, fn, mustJSON(n.tb, req))))
}

// evaluate runs a query as who.
func (n *net) evaluate(who, fn string, req any) ledgertest.Response {
	n.tb.Helper()
	return n.l.Evaluate(n.cc, proposal(n.tb, who, fn, mustJSON(n.tb, req)))
}

// testCollectionKey is every test collection's pseudonym key.
var testCollectionKey = bytes.Repeat([]byte{7}, trace.CollectionKeySize)

// proposal is how a conforming client sends fn's request arg: a routed
// transaction's as transient data with an empty argument (what the
// gateway package does after its Route query), any other as the argument.
func proposal(tb testing.TB, who, fn, arg string) ledgertest.Proposal {
	p := ledgertest.Proposal{Identity: identity(tb, who), Function: fn, Args: []string{arg}}
	if info, ok := trace.TxByName(strings.TrimPrefix(fn, trace.ContractName+":")); ok && info.Routed {
		p.Args, p.Transient = []string{""}, map[string][]byte{trace.TransientRequest: []byte(arg)}
		if !info.Query {
			p.Transient[trace.TransientResultKey] = testResultKey
		}
	}
	return p
}

// testResultKey seals the tests' routed write results.
var testResultKey = bytes.Repeat([]byte{5}, 32)

// opened returns r with its sealed result (a routed write's) opened, as
// the client that sent testResultKey does.
func opened(tb testing.TB, r ledgertest.Response) ledgertest.Response {
	tb.Helper()
	if trace.IsSealed(r.Payload) {
		p, err := trace.OpenResult(testResultKey, r.TxID, r.Payload)
		if err != nil {
			tb.Fatal(err)
		}
		r.Payload = p
	}
	return r
}

// fullEvent is the event a collection member delivers for ev: the private
// event of a routed transaction, else the public one.
func fullEvent(ev ledgertest.Event) []byte {
	if v := ev.PrivateValue(trace.PrivateEventKey); v != nil {
		return v
	}
	return ev.Payload
}

// ok submits and requires a committed transaction; it decodes the result.
func ok[T any](n *net, who, fn string, req any) T {
	n.tb.Helper()
	r := n.submit(who, fn, req)
	if !r.Committed() {
		n.tb.Fatalf("%s as %s: status %d %s (%s)", fn, who, r.Status, r.Message, r.Validation)
	}
	return decodeAs[T](n.tb, r)
}

// query evaluates and requires success; it decodes the result.
func query[T any](n *net, who, fn string, req any) T {
	n.tb.Helper()
	r := n.evaluate(who, fn, req)
	if !r.OK() {
		n.tb.Fatalf("%s as %s: status %d %s", fn, who, r.Status, r.Message)
	}
	return decodeAs[T](n.tb, r)
}

func decodeAs[T any](tb testing.TB, r ledgertest.Response) T {
	tb.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(string(r.Payload)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		tb.Fatalf("decode %T from %s: %v", v, r.Payload, err)
	}
	return v
}

// fails submits and requires an endorsement failure whose message starts
// with the class prefix and contains every part.
func (n *net) fails(who, fn string, req any, class error, parts ...string) ledgertest.Response {
	n.tb.Helper()
	h := n.l.Height()
	r := n.submit(who, fn, req)
	if r.OK() {
		n.tb.Fatalf("%s as %s: want %v, got success %s", fn, who, class, r.Payload)
	}
	if got := trace.Classify(r.Message); got != class {
		n.tb.Fatalf("%s as %s: want class %v, got %q", fn, who, class, r.Message)
	}
	if !strings.HasPrefix(r.Message, class.Error()+": ") {
		n.tb.Fatalf("%s as %s: message %q lacks prefix %q", fn, who, r.Message, class.Error())
	}
	for _, p := range parts {
		if !strings.Contains(r.Message, p) {
			n.tb.Fatalf("%s as %s: message %q lacks %q", fn, who, r.Message, p)
		}
	}
	if n.l.Height() != h {
		n.tb.Fatalf("%s as %s: a failed endorsement was committed", fn, who)
	}
	return r
}

// lastEvent decodes the event of the last committed transaction.
func (n *net) lastEvent() (string, trace.Event) {
	n.tb.Helper()
	evs := n.l.Events()
	if len(evs) == 0 {
		n.tb.Fatal("no event")
	}
	e := evs[len(evs)-1]
	var ev trace.Event
	if err := json.Unmarshal(fullEvent(e), &ev); err != nil {
		n.tb.Fatal(err)
	}
	return e.Name, ev
}

// ---- scenario helpers ----

func (n *net) registerProduct(who, gtin string) {
	n.tb.Helper()
	ok[trace.ProductResult](n, who, "RegisterProduct", trace.RegisterProductRequest{
		RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, GTIN: gtin, Name: "Paracetamol 500 mg", Form: "tablet", Strength: "500 mg", PackSize: 20,
	})
}

// commission commissions serials of lot with expiry.
func (n *net) commission(who, gtin, lot, expiry string, serials ...string) trace.CommissionPacksResult {
	n.tb.Helper()
	return ok[trace.CommissionPacksResult](n, who, "CommissionPacks", trace.CommissionPacksRequest{
		RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, GTIN: gtin, Lot: lot, Expiry: expiry, Serials: serials,
	})
}

func refs(gtin string, serials ...string) []trace.PackRef {
	out := make([]trace.PackRef, len(serials))
	for i, s := range serials {
		out[i] = trace.PackRef{GTIN: gtin, Serial: s}
	}
	return out
}

func (n *net) ship(who string, to string, id string, packs []trace.PackRef, ssccs ...string) trace.ShipmentResult {
	n.tb.Helper()
	return ok[trace.ShipmentResult](n, who, "Ship", trace.ShipRequest{
		RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, ShipmentID: id, To: party(to), Packs: packs, SSCCs: ssccs,
	})
}

func (n *net) receive(who, id string, packs []trace.PackRef, ssccs ...string) trace.ReceiveResult {
	n.tb.Helper()
	return ok[trace.ReceiveResult](n, who, "Receive", trace.ReceiveRequest{
		RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, ShipmentID: id, Packs: packs, SSCCs: ssccs,
	})
}

func scan(gtin, serial, lot, expiry string) trace.Scan {
	return trace.Scan{GTIN: gtin, Serial: serial, Lot: lot, Expiry: expiry}
}

func (n *net) scanTx(who, fn string, s trace.Scan) trace.ScanResult {
	n.tb.Helper()
	return ok[trace.ScanResult](n, who, fn, trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, Scan: s})
}

func (n *net) decommission(who string, s trace.Scan, r trace.Reason) trace.ScanResult {
	n.tb.Helper()
	return ok[trace.ScanResult](n, who, "Decommission", trace.DecommissionRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, Scan: s, Reason: r})
}

func (n *net) verify(who string, s trace.Scan) trace.VerifyResult {
	n.tb.Helper()
	return query[trace.VerifyResult](n, who, "Verify", trace.VerifyRequest{Scan: s})
}

func (n *net) getPack(who, gtin, serial string) trace.Pack {
	n.tb.Helper()
	return query[trace.GetPackResult](n, who, "GetPack", trace.PackQuery{GTIN: gtin, Serial: serial}).Pack
}

func (n *net) anomaly(id string) trace.Anomaly {
	n.tb.Helper()
	return query[trace.GetAnomalyResult](n, reg, "GetAnomaly", trace.AnomalyQuery{ID: id}).Anomaly
}

// expiry is a lot expiry well after t0.
const expiry = "281231"

// wantOutcome checks an outcome's status and code.
func wantOutcome(tb testing.TB, o trace.Outcome, status trace.OutcomeStatus, code trace.Code) {
	tb.Helper()
	if o.Status != status || o.Code != code {
		tb.Fatalf("outcome = %s/%s (%s), want %s/%s", o.Status, o.Code, o.Message, status, code)
	}
}

// wantAnomaly checks that the outcome recorded exactly one anomaly with
// code and classification, and returns it.
func (n *net) wantAnomaly(o trace.Outcome, code trace.AnomalyCode, class trace.Classification) trace.Anomaly {
	n.tb.Helper()
	for _, id := range o.Anomalies {
		a := n.anomaly(id)
		if a.Code == code {
			if a.Classification != class {
				n.tb.Fatalf("anomaly %s %s: classification %s, want %s (%s)", id, code, a.Classification, class, a.Evidence.Message)
			}
			return a
		}
	}
	var got []string
	for _, id := range o.Anomalies {
		a := n.anomaly(id)
		got = append(got, string(a.Code)+"/"+string(a.Classification))
	}
	n.tb.Fatalf("no %s anomaly among %v (outcome %s %s: %s)", code, got, o.Status, o.Code, o.Message)
	return trace.Anomaly{}
}

func probeProposal(tb testing.TB, who, fn string, args ...string) ledgertest.Proposal {
	return ledgertest.Proposal{Identity: identity(tb, who), Function: fn, Args: args}
}
