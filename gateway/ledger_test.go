package gateway

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pharmatrace/pharmatrace/trace"
)

func TestTypedMethodsMirrorEveryChaincodeFunction(t *testing.T) {
	want := append(slices.Clone(trace.SubmitTransactions), trace.EvaluateTransactions...)
	got := slices.Clone(mirrored)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("typed methods %v\nchaincode functions %v", got, want)
	}
}

func TestTypedMethodsValidateBeforeCallingTheLedger(t *testing.T) {
	c := &Client{} // no endpoints: a request that reached the network would panic
	_, err := c.Dispense(context.Background(), trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: "r1"},
		Scan: trace.Scan{GTIN: "123", Serial: "S", Lot: "L", Expiry: "301231"}})
	var ge *Error
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &ge) || ge.Fn != "Dispense" || !strings.Contains(err.Error(), "gtin") {
		t.Fatalf("err = %v, want ErrInvalid naming gtin", err)
	}
	if _, err := c.Verify(context.Background(), trace.VerifyRequest{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Verify of an empty scan: %v", err)
	}
}

// The first commission of a manufacturer's collection sets its pseudonym
// key: a fresh random key through InitCollection, as transient data, once.
func TestCommissionSetsTheCollectionKeyOnce(t *testing.T) {
	c, ep, fc := routedClient(t)
	fc.keyed = false
	fc.lots[gtinA+"/L1"] = trace.Lot{GTIN: gtinA, Lot: "L1", Expiry: "301231", Status: trace.LotReleased}
	req := trace.CommissionPacksRequest{RequestHeader: trace.RequestHeader{RequestID: "k1"}, GTIN: gtinA, Lot: "L1", Expiry: "301231", Serials: []string{"S1"}}
	if _, err := c.CommissionPacks(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	first := fc.lastKey
	if fc.keyInits != 1 || len(first) != trace.CollectionKeySize || bytes.Equal(first, make([]byte, trace.CollectionKeySize)) {
		t.Fatalf("%d InitCollection, key %x", fc.keyInits, first)
	}
	inits := ep.invocations(trace.TxInitCollection)
	if len(inits) != 1 || inits[0].inv.Transient == nil || len(inits[0].inv.Arg) != 0 {
		t.Fatalf("InitCollection must travel as transient data: %+v", inits)
	}
	// An endorser that has not committed the new key yet: commissioned
	// again after a backoff, the key not set twice.
	fc.keyed, fc.keyInits, fc.keyLag = false, 0, 2
	req.RequestID = "k0"
	if _, err := c.CommissionPacks(context.Background(), req); err != nil || fc.keyInits != 1 || fc.keyLag != 0 {
		t.Fatalf("%v: %d InitCollection, lag left %d", err, fc.keyInits, fc.keyLag)
	}
	// A keyed collection: commissioned straight away.
	req.RequestID = "k2"
	if _, err := c.CommissionPacks(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if fc.keyInits != 1 {
		t.Fatalf("%d InitCollection for a keyed collection", fc.keyInits)
	}
}

func TestCommissionPacksRegistersAMissingLot(t *testing.T) {
	lotL1 := trace.Lot{GTIN: gtinA, Lot: "L1", Expiry: "301231", Status: trace.LotReleased}
	commission := trace.CommissionPacksRequest{RequestHeader: trace.RequestHeader{RequestID: "c1"}, GTIN: gtinA, Lot: "L1", Expiry: "301231", Serials: []string{"S1", "S2"}}
	tests := []struct {
		name  string
		setup func(fc *fakeContract, ep *fakeEndpoint)
		// wantRegister: the RegisterLot proposals sent.
		wantRegister int
		wantRetries  float64 // commissions tried again for lot_not_found
		wantErr      error
	}{
		{name: "lot missing: registered, then commissioned", wantRegister: 1},
		{name: "lot registered: commissioned only", setup: func(fc *fakeContract, _ *fakeEndpoint) {
			fc.lots[gtinA+"/L1"] = lotL1
		}},
		{name: "lot registered meanwhile: the conflict is fine", wantRegister: 1, setup: func(fc *fakeContract, _ *fakeEndpoint) {
			fc.lots[gtinA+"/L1"] = lotL1
			fc.hideLots = 1
		}},
		{name: "an endorser has not seen the new lot yet: commissioned again", wantRegister: 1, wantRetries: 2, setup: func(fc *fakeContract, _ *fakeEndpoint) {
			fc.commissionNotFound = 2
		}},
		{name: "registration refused: no commission", wantRegister: 1, wantErr: ErrAccessDenied, setup: func(_ *fakeContract, ep *fakeEndpoint) {
			ep.addFault("endorse", fault{err: status.Error(codes.Unknown, "chaincode response 500, access denied: needs right lot.register")})
		}},
		{name: "lot query fails otherwise: nothing submitted", wantErr: ErrAccessDenied, setup: func(_ *fakeContract, ep *fakeEndpoint) {
			ep.setAlways("evaluate", fault{err: status.Error(codes.Unknown, "chaincode response 500, access denied: needs right lot.read")})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := NewMetrics(nil)
			c, ep, fc := routedClient(t, WithMetrics(m))
			if tt.setup != nil {
				tt.setup(fc, ep)
			}
			res, err := c.CommissionPacks(context.Background(), commission)
			registers := ep.invocations(trace.TxRegisterLot)
			if len(registers) != tt.wantRegister {
				t.Fatalf("%d RegisterLot proposals, want %d", len(registers), tt.wantRegister)
			}
			if len(registers) > 0 {
				want := mustJSON(t, &trace.RegisterLotRequest{RequestHeader: trace.RequestHeader{RequestID: "c1:lot"}, GTIN: gtinA, Lot: "L1", Expiry: "301231"})
				if got := string(registers[0].inv.Arg); got != want || registers[0].inv.Transient != nil {
					t.Errorf("RegisterLot sent %s (transient %v), want %s as the argument", got, registers[0].inv.Transient, want)
				}
			}
			commissions := ep.invocations(trace.TxCommissionPacks)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || len(commissions) != 0 {
					t.Fatalf("err = %v after %d commissions, want %v before any", err, len(commissions), tt.wantErr)
				}
				return
			}
			if err != nil || !res.OK() || res.Commissioned != 2 {
				t.Fatalf("CommissionPacks = %+v, %v", res, err)
			}
			if len(commissions) != 1+int(tt.wantRetries) || commissions[0].inv.Transient == nil {
				t.Errorf("%d commission proposals (routed: %v), want %v", len(commissions), commissions[0].inv.Transient != nil, 1+tt.wantRetries)
			}
			if got := testutil.ToFloat64(m.Retries.WithLabelValues(trace.TxCommissionPacks, "lot_not_found")); got != tt.wantRetries {
				t.Errorf("lot_not_found retries %v, want %v", got, tt.wantRetries)
			}
			if tt.wantRegister > 0 && len(fc.lots) != 1 {
				t.Errorf("lots %v", fc.lots)
			}
			// The commission again (a retry by the caller): nothing new.
			before := len(ep.invocations(trace.TxRegisterLot))
			again, err := c.CommissionPacks(context.Background(), commission)
			if err != nil || again.Commissioned != 2 || len(ep.invocations(trace.TxRegisterLot)) != before || ep.ledger.appliedCount("c1") != 1 {
				t.Errorf("retried commission: %+v, %v", again, err)
			}
		})
	}
}

func TestLotRequestID(t *testing.T) {
	long := strings.Repeat("r", 64)
	for _, id := range []string{"c1", long, long[:60], long[:61]} {
		got := derivedRequestID(id, "lot")
		if err := trace.CheckID(got); err != nil || got == id || derivedRequestID(id, "lot") != got {
			t.Errorf("derivedRequestID(%q) = %q: %v", id, got, err)
		}
	}
	if derivedRequestID("c1", "lot") != "c1:lot" || derivedRequestID(long, "lot") == derivedRequestID(long[:63]+"s", "lot") {
		t.Error("lot request IDs are not the expected ones or collide")
	}
}
