package ledgertest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// fn is a chaincode made of one function.
type fn func(stub shim.ChaincodeStubInterface) ([]byte, error)

func (f fn) Init(shim.ChaincodeStubInterface) *peer.Response { return shim.Success(nil) }
func (f fn) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	b, err := f(stub)
	if err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(b)
}

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func put(kv ...string) fn {
	return func(stub shim.ChaincodeStubInterface) ([]byte, error) {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := stub.PutState(kv[i], []byte(kv[i+1])); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
}

func TestCompositeKeysMatchShim(t *testing.T) {
	s := newStub(New(start), "tx", start, nil, nil)
	for _, attrs := range [][]string{{"a"}, {"a", "b"}, {}} {
		got, err := s.CreateCompositeKey("obj", attrs)
		want, err2 := shim.CreateCompositeKey("obj", attrs)
		if err != nil || err2 != nil || got != want {
			t.Fatalf("%q vs %q", got, want)
		}
		typ, parts, err := s.SplitCompositeKey(got)
		if err != nil || typ != "obj" || strings.Join(parts, ",") != strings.Join(attrs, ",") {
			t.Fatalf("split %q: %s %v %v", got, typ, parts, err)
		}
	}
	if _, err := s.CreateCompositeKey("obj", []string{"a\x00"}); err == nil {
		t.Fatal("U+0000 must be rejected")
	}
}

func TestTransactionalSemantics(t *testing.T) {
	l := New(start)
	// Writes are invisible to the transaction's own reads and applied on commit.
	r := l.Submit(fn(func(stub shim.ChaincodeStubInterface) ([]byte, error) {
		if err := stub.PutState("k", []byte("v1")); err != nil {
			return nil, err
		}
		v, _ := stub.GetState("k")
		if v != nil {
			return nil, errors.New("read its own write")
		}
		return nil, stub.SetEvent("E", []byte("p"))
	}), Proposal{Function: "f"})
	if !r.Committed() || string(l.Get("k")) != "v1" || len(l.Events()) != 1 || l.Events()[0].Name != "E" {
		t.Fatalf("%+v", r)
	}
	// A failing chaincode writes nothing and emits nothing.
	r = l.Submit(fn(func(stub shim.ChaincodeStubInterface) ([]byte, error) {
		_ = stub.PutState("k", []byte("v2"))
		_ = stub.SetEvent("E2", nil)
		return nil, errors.New("boom")
	}), Proposal{Function: "f"})
	if r.Committed() || r.Validation != EndorsementFailure || string(l.Get("k")) != "v1" || len(l.Events()) != 1 {
		t.Fatalf("%+v", r)
	}
	// Empty value deletes; history keeps every version newest first.
	l.Submit(put("k", ""), Proposal{Function: "f"})
	if l.Get("k") != nil {
		t.Fatal("empty value must delete")
	}
	var hist []string
	l.Evaluate(fn(func(stub shim.ChaincodeStubInterface) ([]byte, error) {
		it, _ := stub.GetHistoryForKey("k")
		defer it.Close()
		for it.HasNext() {
			m, _ := it.Next()
			hist = append(hist, fmt.Sprintf("%s:%v", m.Value, m.IsDelete))
		}
		return nil, nil
	}), Proposal{Function: "f"})
	if strings.Join(hist, ",") != ":true,v1:false" {
		t.Fatalf("history %v", hist)
	}
}

func TestTimestampAndTxID(t *testing.T) {
	l := New(start)
	var seen []time.Time
	var ids []string
	cc := fn(func(stub shim.ChaincodeStubInterface) ([]byte, error) {
		ts, _ := stub.GetTxTimestamp()
		seen = append(seen, ts.AsTime())
		ids = append(ids, stub.GetTxID())
		return nil, nil
	})
	l.Submit(cc, Proposal{Function: "f"})
	l.Advance(time.Hour)
	l.Submit(cc, Proposal{Function: "f", TxID: "fixed"})
	if !seen[0].Equal(start) || !seen[1].Equal(start.Add(time.Hour+time.Second)) || ids[1] != "fixed" || len(ids[0]) != 64 {
		t.Fatalf("%v %v", seen, ids)
	}
}

func TestPagination(t *testing.T) {
	l := New(start)
	var kv []string
	for i := 0; i < 7; i++ {
		k, _ := shim.CreateCompositeKey("item", []string{"g", fmt.Sprintf("%02d", i)})
		kv = append(kv, k, "v")
	}
	other, _ := shim.CreateCompositeKey("itex", []string{"g"})
	kv = append(kv, other, "v", "simple", "v")
	l.Submit(put(kv...), Proposal{Function: "f"})
	var pages []string
	bookmark := ""
	for {
		var page []string
		var next string
		r := l.Evaluate(fn(func(stub shim.ChaincodeStubInterface) ([]byte, error) {
			it, md, err := stub.GetStateByPartialCompositeKeyWithPagination("item", []string{"g"}, 3, bookmark)
			if err != nil {
				return nil, err
			}
			defer it.Close()
			for it.HasNext() {
				kv, _ := it.Next()
				_, parts, _ := stub.SplitCompositeKey(kv.Key)
				page = append(page, parts[1])
			}
			if int(md.FetchedRecordsCount) != len(page) {
				return nil, errors.New("count")
			}
			next = md.Bookmark
			return nil, nil
		}), Proposal{Function: "f"})
		if !r.OK() {
			t.Fatal(r.Message)
		}
		pages = append(pages, strings.Join(page, ","))
		if next == "" {
			break
		}
		bookmark = next
	}
	if strings.Join(pages, "|") != "00,01,02|03,04,05|06" {
		t.Fatalf("pages %v", pages)
	}
	// Plain range queries skip composite keys; simple keys with \x00 are refused.
	var keys []string
	l.Evaluate(fn(func(stub shim.ChaincodeStubInterface) ([]byte, error) {
		it, err := stub.GetStateByRange("", "")
		if err != nil {
			return nil, err
		}
		for it.HasNext() {
			kv, _ := it.Next()
			keys = append(keys, kv.Key)
		}
		if _, err := stub.GetStateByRange("\x00a", ""); err == nil {
			return nil, errors.New("accepted a composite start key")
		}
		return nil, nil
	}), Proposal{Function: "f"})
	if strings.Join(keys, ",") != "simple" {
		t.Fatalf("%q", keys)
	}
}

func TestPaginatedQueriesAreReadOnly(t *testing.T) {
	l := New(start)
	r := l.Submit(fn(func(stub shim.ChaincodeStubInterface) ([]byte, error) {
		if _, _, err := stub.GetStateByPartialCompositeKeyWithPagination("x", nil, 10, ""); err != nil {
			return nil, err
		}
		return nil, stub.PutState("k", []byte("v"))
	}), Proposal{Function: "f"})
	if r.OK() || !strings.Contains(r.Message, "Writes are not allowed") {
		t.Fatalf("%+v", r)
	}
	r = l.Submit(fn(func(stub shim.ChaincodeStubInterface) ([]byte, error) {
		_ = stub.PutState("k", []byte("v"))
		_, _, err := stub.GetStateByRangeWithPagination("a", "z", 10, "")
		return nil, err
	}), Proposal{Function: "f"})
	if r.OK() || !strings.Contains(r.Message, "read-only") {
		t.Fatalf("%+v", r)
	}
}

func TestMVCC(t *testing.T) {
	l := New(start)
	inc := fn(func(stub shim.ChaincodeStubInterface) ([]byte, error) {
		v, _ := stub.GetState("counter")
		return nil, stub.PutState("counter", append(v, 'x'))
	})
	a := l.Simulate(inc, Proposal{Function: "f"})
	b := l.Simulate(inc, Proposal{Function: "f"})
	if r := l.Commit(a); !r.Committed() {
		t.Fatal(r.Validation)
	}
	if r := l.Commit(b); r.Validation != MVCCReadConflict {
		t.Fatal(r.Validation)
	}
	if string(l.Get("counter")) != "x" {
		t.Fatal(string(l.Get("counter")))
	}
	// Phantom: a range read invalidated by a new key in the range.
	scan := fn(func(stub shim.ChaincodeStubInterface) ([]byte, error) {
		it, _ := stub.GetStateByRange("a", "c")
		n := 0
		for it.HasNext() {
			_, _ = it.Next()
			n++
		}
		return nil, stub.PutState("count", []byte{byte('0' + n)})
	})
	s := l.Simulate(scan, Proposal{Function: "f"})
	l.Submit(put("b", "1"), Proposal{Function: "f"})
	if r := l.Commit(s); r.Validation != PhantomReadConflict {
		t.Fatal(r.Validation)
	}
}

func TestIdentityParsesLikeAPeer(t *testing.T) {
	id, err := NewIdentity("PharmacyMSP", "ph1", map[string]string{"role": "pharmacist", "gln": "4000000002017"})
	if err != nil {
		t.Fatal(err)
	}
	l := New(start)
	r := l.Evaluate(fn(func(stub shim.ChaincodeStubInterface) ([]byte, error) {
		c, err := cid.New(stub)
		if err != nil {
			return nil, err
		}
		msp, _ := c.GetMSPID()
		role, found, err := c.GetAttributeValue("role")
		if err != nil || !found {
			return nil, fmt.Errorf("role: %v %v", found, err)
		}
		gln, _, _ := c.GetAttributeValue("gln")
		return []byte(msp + "/" + role + "/" + gln), nil
	}), Proposal{Function: "f", Identity: id})
	if string(r.Payload) != "PharmacyMSP/pharmacist/4000000002017" {
		t.Fatalf("%+v", r)
	}
	bare, _ := NewIdentity("PharmacyMSP", "x", nil)
	r = l.Evaluate(fn(func(stub shim.ChaincodeStubInterface) ([]byte, error) {
		_, found, err := cid.GetAttributeValue(stub, "role")
		return []byte(fmt.Sprint(found, err)), nil
	}), Proposal{Function: "f", Identity: bare})
	if string(r.Payload) != "false <nil>" {
		t.Fatal(string(r.Payload))
	}
}

func TestTotalQueryLimit(t *testing.T) {
	l := New(start)
	l.TotalQueryLimit = 2
	l.Submit(put("a", "1", "b", "1", "c", "1"), Proposal{Function: "f"})
	n := 0
	l.Evaluate(fn(func(stub shim.ChaincodeStubInterface) ([]byte, error) {
		it, _ := stub.GetStateByRange("", "")
		for it.HasNext() {
			_, _ = it.Next()
			n++
		}
		return nil, nil
	}), Proposal{Function: "f"})
	if n != 2 {
		t.Fatal(n)
	}
}
