package chaincode_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/internal/ledgertest"
	"github.com/pharmatrace/pharmatrace/trace"
)

// Serial confidentiality on the in-memory peer (docs/confidentiality.md).
// The real-network proof is test/confidentiality_test.go, which dumps the
// peers' LevelDB, blocks and events.

// collections as fabnet defines them for testConfig's organisations.
var testCollections = map[string][]string{
	trace.Collection("ManufacturerMSP"): {"ManufacturerMSP", "RegulatorMSP"},
	trace.Collection("RivalMSP"):        {"RivalMSP", "RegulatorMSP"},
}

// TestPublicStateAndEventsHoldNoSerial runs the supply chain and a clone,
// then reads every public record and every public event, as any member's
// peer holds them: no serial appears; the collection has them all.
func TestPublicStateAndEventsHoldNoSerial(t *testing.T) {
	n := supplyChain(t)
	n.scanTx(ph1, "Dispense", scan(gtinA, "S1", "L1", expiry))
	n.scanTx(ph2, "Dispense", scan(gtinA, "S1", "L1", expiry)) // clone: A24 + anomaly
	serials := []string{"S1", "S2", "S3", "S4", "P5", "AbY7", "ZZ9"}
	coll := ledgertest.PrivateKey(trace.Collection("ManufacturerMSP"), "")

	var public, private, privateKeys bytes.Buffer
	for _, k := range n.l.Keys("", "\U0010FFFF") {
		if strings.HasPrefix(k, coll) {
			private.WriteString(k)
			private.Write(n.l.Get(k))
			privateKeys.WriteString(k)
			continue
		}
		public.WriteString(k)
		public.Write(n.l.Get(k))
	}
	for _, e := range n.l.Events() {
		public.Write(e.Payload)
	}
	for _, s := range serials {
		// Serials are quoted in JSON and \x00-delimited in keys.
		for _, form := range []string{`"` + s + `"`, "\x00" + s + "\x00"} {
			if bytes.Contains(public.Bytes(), []byte(form)) {
				t.Errorf("serial %s is in the public state or events as %q", s, form)
			}
			// Every peer holds SHA-256 of each private key: a key holding
			// a serial could be brute-forced over the serial space.
			if bytes.Contains(privateKeys.Bytes(), []byte(form)) {
				t.Errorf("serial %s is in a private key as %q (its hash is on every peer)", s, form)
			}
		}
		if !bytes.Contains(private.Bytes(), []byte(`"`+s+`"`)) {
			t.Errorf("serial %s is not in the manufacturer's collection", s)
		}
	}
	// The public event says what happened, not to what.
	last := n.l.Events()[len(n.l.Events())-1]
	var ev trace.Event
	if err := json.Unmarshal(last.Payload, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Private != trace.Collection("ManufacturerMSP") || len(ev.Packs) != 0 || len(ev.Anomalies) != 0 || ev.Actor != (trace.Actor{}) {
		t.Fatalf("public event of the clone: %+v", ev)
	}
}

// TestRoutedRequestAsArgumentRefused: a client that puts a routed request
// in the argument (where every peer's blocks would keep its serials) is
// refused before anything is read.
func TestRoutedRequestAsArgumentRefused(t *testing.T) {
	n := supplyChain(t)
	req := mustJSON(t, trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "arg-1"}, Scan: scan(gtinA, "S1", "L1", expiry)})
	r := n.l.Submit(n.cc, ledgertest.Proposal{Identity: identity(t, ph1), Function: "Dispense", Args: []string{req}})
	if r.OK() || trace.Classify(r.Message) != trace.ErrInvalidRequest || !strings.Contains(r.Message, "send the request as transient data") {
		t.Fatalf("%d %s", r.Status, r.Message)
	}
	// The result of a routed write is in every peer's blocks: without a
	// result key to seal it with, refused; with one, sealed.
	p := proposal(t, ph1, "Dispense", req)
	delete(p.Transient, trace.TransientResultKey)
	if r := n.l.Submit(n.cc, p); r.OK() || !strings.Contains(r.Message, "result key") {
		t.Fatalf("%d %s", r.Status, r.Message)
	}
	r = n.l.Submit(n.cc, proposal(t, ph1, "Dispense", req))
	if !r.Committed() || !trace.IsSealed(r.Payload) || bytes.Contains(r.Payload, []byte("S1")) {
		t.Fatalf("%s: %s", r.Validation, r.Payload)
	}
	if o := opened(t, r); !bytes.Contains(o.Payload, []byte(`"serial":"S1"`)) {
		t.Fatalf("opened: %s", o.Payload)
	}
	// A product no manufacturer's prefix covers is public: no collection.
	unknown := withCheck("0" + "9990001" + "00001")
	v := n.evaluate(ph1, "Verify", trace.VerifyRequest{Scan: scan(unknown, "X1", "L1", expiry)})
	if !v.OK() {
		t.Fatal(v.Message)
	}
}

// TestNonMemberPeerCannotAnswer: the pharmacy's own peer, which holds no
// collection, cannot verify or dispense a manufacturer's pack, whatever its
// client sends; the collection members' peers can.
func TestNonMemberPeerCannotAnswer(t *testing.T) {
	n := supplyChain(t)
	n.l.SetCollections(testCollections)
	s1 := mustJSON(t, trace.VerifyRequest{Scan: scan(gtinA, "S1", "L1", expiry)})
	for _, peer := range []string{"PharmacyMSP", "DistributorMSP"} {
		p := proposal(t, ph1, "Verify", s1)
		p.Peer = peer
		if r := n.l.Evaluate(n.cc, p); r.OK() || !strings.Contains(r.Message, "private data matching public hash version is not available") {
			t.Fatalf("verify on %s's peer: %d %s %s", peer, r.Status, r.Message, r.Payload)
		}
	}
	for _, peer := range []string{"ManufacturerMSP", "RegulatorMSP"} {
		p := proposal(t, ph1, "Verify", s1)
		p.Peer = peer
		var res trace.VerifyResult
		r := n.l.Evaluate(n.cc, p)
		if err := json.Unmarshal(r.Payload, &res); err != nil || !res.OK() {
			t.Fatalf("verify on %s's peer: %s %s", peer, r.Message, r.Payload)
		}
	}
}

// TestRoute: where each kind of request goes.
func TestRoute(t *testing.T) {
	n := supplyChain(t)
	n.registerProduct(rival, withCheck("0"+gcpR+"00001"))
	mfr := []string{"ManufacturerMSP", "RegulatorMSP"}
	for _, tc := range []struct {
		name, who string
		q         trace.RouteQuery
		want      trace.RouteResult
		err       string
	}{
		{"scan of A's product", ph1, trace.RouteQuery{Transaction: "Dispense", Keys: trace.RouteKeys{GTINs: []string{gtinA}}},
			trace.RouteResult{Collection: trace.Collection("ManufacturerMSP"), Endorsers: mfr}, ""},
		{"receipt of a shipment, by ID only", wh1, trace.RouteQuery{Transaction: "Receive", Keys: trace.RouteKeys{Shipment: "SH1"}},
			trace.RouteResult{Collection: trace.Collection("ManufacturerMSP"), Endorsers: mfr}, ""},
		{"a product nobody's prefix covers", ph1, trace.RouteQuery{Transaction: "Verify", Keys: trace.RouteKeys{GTINs: []string{withCheck("0999000100001")}}},
			trace.RouteResult{}, ""},
		{"lot master data", ph1, trace.RouteQuery{Transaction: "RecallLot", Keys: trace.RouteKeys{GTINs: []string{gtinA}}},
			trace.RouteResult{}, ""},
		{"anomalies, pharmacist: a regulator's peer", ph1, trace.RouteQuery{Transaction: "ListAnomalies"},
			trace.RouteResult{Endorsers: []string{"RegulatorMSP"}}, ""},
		{"anomalies, manufacturer: its own peer", mfgA, trace.RouteQuery{Transaction: "ListAnomalies"},
			trace.RouteResult{Endorsers: []string{"ManufacturerMSP"}}, ""},
		{"two manufacturers' packs in one request", wh1, trace.RouteQuery{Transaction: "Ship", Keys: trace.RouteKeys{GTINs: []string{gtinA, withCheck("0" + gcpR + "00001")}}},
			trace.RouteResult{}, "touches packs of ManufacturerMSP and RivalMSP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := n.evaluate(tc.who, "Route", tc.q)
			if tc.err != "" {
				if r.OK() || !strings.Contains(r.Message, tc.err) {
					t.Fatalf("%d %s", r.Status, r.Message)
				}
				return
			}
			var got trace.RouteResult
			if err := json.Unmarshal(r.Payload, &got); err != nil {
				t.Fatal(r.Message, err)
			}
			if got.Collection != tc.want.Collection || !slices.Equal(got.Endorsers, tc.want.Endorsers) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// A collection's first commissioning needs its pseudonym key: refused as a
// conflict naming InitCollection (the gateway sets the key and retries),
// and the key is set once, by the manufacturer only.
func TestCollectionKeyFirst(t *testing.T) {
	n := newNet(t)
	n.registerProduct(mfgA, gtinA)
	ok[trace.LotResult](n, mfgA, "RegisterLot", trace.RegisterLotRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, GTIN: gtinA, Lot: "L1", Expiry: expiry})
	req := mustJSON(t, trace.CommissionPacksRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, GTIN: gtinA, Lot: "L1", Expiry: expiry, Serials: []string{"S1"}})
	r := n.l.Submit(n.cc, proposal(t, mfgA, "CommissionPacks", req))
	if r.OK() || trace.Classify(r.Message) != trace.ErrConflict || !strings.Contains(r.Message, "InitCollection") {
		t.Fatalf("%d %s", r.Status, r.Message)
	}
	key := func(who, msp string) trace.InitCollectionRequest {
		return trace.InitCollectionRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, Manufacturer: msp, Key: testCollectionKey}
	}
	n.fails(ph1, "InitCollection", key(ph1, "ManufacturerMSP"), trace.ErrAccessDenied)
	n.fails(rival, "InitCollection", key(rival, "ManufacturerMSP"), trace.ErrAccessDenied)
	ok[trace.InitCollectionResult](n, mfgA, "InitCollection", key(mfgA, "ManufacturerMSP"))
	n.fails(mfgA, "InitCollection", key(mfgA, "ManufacturerMSP"), trace.ErrConflict, "never replaced")
	if r := n.l.Submit(n.cc, proposal(t, mfgA, "CommissionPacks", req)); !r.Committed() {
		t.Fatal(r.Message)
	}
}
