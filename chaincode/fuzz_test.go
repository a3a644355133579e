package chaincode_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/internal/ledgertest"
	"github.com/pharmatrace/pharmatrace/trace"
)

// FuzzTransaction drives the contract's decoding and dispatch with
// arbitrary function names, arguments and callers, on an in-memory peer
// holding a small supply chain. Every proposal is simulated (endorsed, not
// committed), so each input sees the same state. Invariants: no panic; a
// refused proposal carries a classified error (invalid request, access
// denied, not found, conflict) or contractapi's own dispatch error, never
// an internal one; a proposal that fails writes nothing and emits no event.
//
//	go test -run '^$' -fuzz FuzzTransaction -fuzztime 10m ./chaincode/
func FuzzTransaction(f *testing.F) {
	fns := append(append([]string{}, trace.SubmitTransactions...), trace.EvaluateTransactions...)
	fns = append(fns, "probe:Put", "probe:Get", "pharmatrace:Dispense", "NoSuchFunction", "GetEvaluateTransactions")
	callers := []string{mfgA, mfgB, wh1, ph1, ph2, reg, admin, rogue, noRole, strangerM, rivalA, mfgShort}
	s1 := `{"requestId":"f1","gtin":"` + gtinA + `","serial":"S1","lot":"L1","expiry":"` + expiry + `"}`
	for i, seed := range []string{
		s1,
		`{"requestId":"f1","gtin":"` + gtinA + `","serial":"S1","SERIAL":"S2","lot":"L1","expiry":"` + expiry + `"}`,
		`{"requestId":"f2","shipmentId":"SH2","packs":[{"gtin":"` + gtinA + `","serial":"S1"}]}`,
		`{"requestId":"f3","to":{"msp":"PharmacyMSP","gln":"` + glnPH2 + `"},"packs":[{"gtin":"` + gtinA + `","serial":"S3"}],"ssccs":["000000000000000017"]}`,
		`{"gtin":"` + gtinA + `","lot":"L1","pageSize":1,"bookmark":"AAAA"}`,
		`{"requestId":"f4","gtin":"` + gtinA + `","lot":"L9","expiry":"281200","serials":["A","B","A"]}`,
		`{"requestId":"f5","code":"MANUAL","severity":"low","classification":"process","message":"x"}`,
		`{"requestId":"f6","reason":"stolen","gtin":"` + gtinA + `","serial":"P5","lot":"L1","expiry":"` + expiry + `"}`,
		"", "null", "[]", `{"requestId":"\u0000"}`, "{\"requestId\":\"\xff\"}",
	} {
		f.Add(uint8(i), uint8(i), seed)
	}
	var (
		once sync.Once
		n    *net
	)
	f.Fuzz(func(t *testing.T, fnIdx, whoIdx uint8, arg string) {
		once.Do(func() { n = supplyChain(t) })
		fn, who := fns[int(fnIdx)%len(fns)], callers[int(whoIdx)%len(callers)]
		done := make(chan ledgertest.Response, 1)
		go func() {
			done <- n.l.Simulate(n.cc, proposal(t, who, fn, arg)).Response()
		}()
		var r ledgertest.Response
		select {
		case r = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s as %s with %q: no answer within 5s", fn, who, arg)
		}
		if r.OK() {
			return
		}
		if r.Writes != 0 || r.Event != nil {
			t.Fatalf("%s as %s failed (%s) yet wrote %d keys / an event", fn, who, r.Message, r.Writes)
		}
		if trace.Classify(r.Message) == nil && !dispatchError(r.Message) {
			t.Fatalf("%s as %s with %q: unclassified error %q", fn, who, arg, r.Message)
		}
	})
}

// dispatchError reports contractapi's own refusals (unknown function,
// wrong argument count), which never reach the contract.
func dispatchError(msg string) bool {
	m := strings.ToLower(msg)
	for _, p := range []string{"function ", "incorrect number of params", "contract not found", "probe: key", "access denied", "invalid request"} {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}
