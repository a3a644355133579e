package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pharmatrace/pharmatrace/trace"
)

// testTx is one transaction of a test block.
type testTx struct {
	id        string
	code      peer.TxValidationCode
	config    bool   // a config transaction (not an endorser transaction)
	chaincode string // of the event; "" for none
	event     string // event name
	payload   string
	// private: collection -> key -> value, written by the transaction in
	// namespace pvtNamespace (default: chaincode).
	private      map[string]map[string]string
	pvtNamespace string
}

const testCC = "pharmatrace"

var (
	mfrColl   = trace.Collection("MfrMSP")
	otherColl = trace.Collection("OtherMfrMSP")
)

func stubPayload(txID, coll string) string {
	return mustMarshalJSON(trace.Event{Type: trace.TxDispense, TxID: txID, Private: coll, Outcome: trace.Outcome{Status: trace.StatusOK}})
}

func fullPayload(txID string) string {
	return mustMarshalJSON(trace.Event{Type: trace.TxDispense, TxID: txID, RequestID: "r-" + txID, Outcome: trace.Outcome{Status: trace.StatusOK},
		Packs: []trace.Pack{{GTIN: gtinA, Serial: "SECRET-" + txID}}})
}

// testBlock builds block num, as a peer's Deliver service sends it, with
// the private data the peer holds of its transactions.
func testBlock(num uint64, txs ...testTx) *peer.BlockAndPrivateData {
	b := &peer.BlockAndPrivateData{
		Block: &common.Block{
			Header:   &common.BlockHeader{Number: num},
			Data:     &common.BlockData{},
			Metadata: &common.BlockMetadata{Metadata: make([][]byte, len(common.BlockMetadataIndex_name))},
		},
		PrivateDataMap: map[uint64]*rwset.TxPvtReadWriteSet{},
	}
	filter := make([]byte, len(txs))
	for i, tx := range txs {
		filter[i] = byte(tx.code)
		typ := common.HeaderType_ENDORSER_TRANSACTION
		if tx.config {
			typ = common.HeaderType_CONFIG
		}
		chdr := mustMarshal(&common.ChannelHeader{Type: int32(typ), ChannelId: "pharmatrace", TxId: tx.id})
		action := &peer.ChaincodeAction{Results: []byte("public write set")}
		if tx.chaincode != "" {
			action.Events = mustMarshal(&peer.ChaincodeEvent{ChaincodeId: tx.chaincode, TxId: tx.id, EventName: tx.event, Payload: []byte(tx.payload)})
		}
		prp := &peer.ProposalResponsePayload{ProposalHash: []byte("h"), Extension: mustMarshal(action)}
		cap := &peer.ChaincodeActionPayload{Action: &peer.ChaincodeEndorsedAction{ProposalResponsePayload: mustMarshal(prp)}}
		ptx := &peer.Transaction{Actions: []*peer.TransactionAction{{Header: []byte("sig header"), Payload: mustMarshal(cap)}}}
		payload := &common.Payload{Header: &common.Header{ChannelHeader: chdr}, Data: mustMarshal(ptx)}
		b.Block.Data.Data = append(b.Block.Data.Data, mustMarshal(&common.Envelope{Payload: mustMarshal(payload), Signature: []byte("sig")}))
		if len(tx.private) > 0 {
			ns := &rwset.NsPvtReadWriteSet{Namespace: tx.chaincode}
			if tx.pvtNamespace != "" {
				ns.Namespace = tx.pvtNamespace
			}
			for coll, kvs := range tx.private {
				set := &kvrwset.KVRWSet{}
				for k, v := range kvs {
					set.Writes = append(set.Writes, &kvrwset.KVWrite{Key: k, Value: []byte(v)})
				}
				slices.SortFunc(set.Writes, func(a, b *kvrwset.KVWrite) int { return cmpString(a.Key, b.Key) })
				ns.CollectionPvtRwset = append(ns.CollectionPvtRwset, &rwset.CollectionPvtReadWriteSet{CollectionName: coll, Rwset: mustMarshal(set)})
			}
			b.PrivateDataMap[uint64(i)] = &rwset.TxPvtReadWriteSet{DataModel: rwset.TxReadWriteSet_KV, NsPvtRwset: []*rwset.NsPvtReadWriteSet{ns}}
		}
	}
	b.Block.Metadata.Metadata[common.BlockMetadataIndex_TRANSACTIONS_FILTER] = filter
	return b
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func mustMarshalJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// mixedBlock is block 7: a public event, an invalid transaction with a
// stub (no private data), another chaincode's event, a config
// transaction, and a routed transaction with its stub and its private
// write set (the full event among other private writes).
func mixedBlock(withPrivate bool) *peer.BlockAndPrivateData {
	routed := testTx{id: "tx-routed", code: peer.TxValidationCode_VALID, chaincode: testCC, event: trace.TxDispense, payload: stubPayload("tx-routed", mfrColl)}
	if withPrivate {
		routed.private = map[string]map[string]string{mfrColl: {"pack\x00" + gtinA + "\x00SECRET": "{}", trace.PrivateEventKey: fullPayload("tx-routed")}}
	}
	return testBlock(7,
		testTx{id: "tx-public", code: peer.TxValidationCode_VALID, chaincode: testCC, event: trace.TxRegisterLot, payload: `{"type":"RegisterLot"}`},
		testTx{id: "tx-invalid", code: peer.TxValidationCode_MVCC_READ_CONFLICT, chaincode: testCC, event: trace.TxDispense, payload: stubPayload("tx-invalid", mfrColl)},
		testTx{id: "tx-other-cc", code: peer.TxValidationCode_VALID, chaincode: "othercc", event: "E", payload: `{}`},
		testTx{id: "tx-config", config: true, code: peer.TxValidationCode_VALID, chaincode: testCC, event: "E", payload: `{}`},
		routed,
	)
}

func TestBlockEventsOf(t *testing.T) {
	public := rawEvent{TxID: "tx-public", Name: trace.TxRegisterLot, Payload: []byte(`{"type":"RegisterLot"}`)}
	tests := []struct {
		name    string
		block   *peer.BlockAndPrivateData
		expect  func(string) bool
		want    []rawEvent // nil: no blockEvents
		wantErr string     // collection named by the PrivateEventError
	}{
		{name: "stub replaced by the private event; invalid, foreign and config transactions skipped", block: mixedBlock(true),
			want: []rawEvent{public, {TxID: "tx-routed", Name: trace.TxDispense, Payload: []byte(fullPayload("tx-routed"))}}},
		{name: "private event missing from an expected collection", block: mixedBlock(false), wantErr: mfrColl},
		{name: "private event missing from a collection not expected: the stub", block: mixedBlock(false),
			expect: func(c string) bool { return c == otherColl },
			want:   []rawEvent{public, {TxID: "tx-routed", Name: trace.TxDispense, Payload: []byte(stubPayload("tx-routed", mfrColl))}}},
		{name: "private data of another collection only", wantErr: mfrColl, block: testBlock(3, testTx{id: "t", code: peer.TxValidationCode_VALID,
			chaincode: testCC, event: "Ship", payload: stubPayload("t", mfrColl), private: map[string]map[string]string{otherColl: {trace.PrivateEventKey: fullPayload("t")}}})},
		{name: "private data of another namespace only", wantErr: mfrColl, block: testBlock(3, testTx{id: "t", code: peer.TxValidationCode_VALID,
			chaincode: testCC, event: "Ship", payload: stubPayload("t", mfrColl), pvtNamespace: "othercc", private: map[string]map[string]string{mfrColl: {trace.PrivateEventKey: fullPayload("t")}}})},
		{name: "private writes without the event key", wantErr: mfrColl, block: testBlock(3, testTx{id: "t", code: peer.TxValidationCode_VALID,
			chaincode: testCC, event: "Ship", payload: stubPayload("t", mfrColl), private: map[string]map[string]string{mfrColl: {"pack": "{}"}}})},
		{name: "no event of the chaincode", block: testBlock(4,
			testTx{id: "a", code: peer.TxValidationCode_VALID, chaincode: "othercc", event: "E", payload: "{}"},
			testTx{id: "b", code: peer.TxValidationCode_MVCC_READ_CONFLICT, chaincode: testCC, event: "E", payload: "{}"})},
		{name: "validation code missing: not valid", block: func() *peer.BlockAndPrivateData {
			b := testBlock(5, testTx{id: "a", code: peer.TxValidationCode_VALID, chaincode: testCC, event: "E", payload: "{}"})
			b.Block.Metadata.Metadata[common.BlockMetadataIndex_TRANSACTIONS_FILTER] = nil
			return b
		}()},
		{name: "not JSON: delivered as it is", block: testBlock(6, testTx{id: "a", code: peer.TxValidationCode_VALID, chaincode: testCC, event: "E", payload: "raw bytes"}),
			want: []rawEvent{{TxID: "a", Name: "E", Payload: []byte("raw bytes")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be, err := blockEventsOf(tt.block, testCC, &privateEvents{expect: tt.expect})
			if tt.wantErr != "" {
				var pe *PrivateEventError
				if !errors.Is(err, ErrPrivateEventMissing) || !errors.As(err, &pe) || pe.Collection != tt.wantErr || pe.Block != tt.block.Block.Header.Number || pe.TxID == "" {
					t.Fatalf("err = %v, want a missing private event of %s in block %d", err, tt.wantErr, tt.block.Block.Header.Number)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if be != nil {
					t.Fatalf("events %+v, want none", be)
				}
				return
			}
			if be == nil || be.Block != tt.block.Block.Header.Number || !slices.EqualFunc(be.Events, tt.want, equalRawEvent) {
				t.Fatalf("events %s\nwant %s", fmtEvents(be), fmtEvents(&blockEvents{Block: tt.block.Block.Header.Number, Events: tt.want}))
			}
		})
	}
	if _, err := blockEventsOf(&peer.BlockAndPrivateData{Block: &common.Block{Header: &common.BlockHeader{Number: 2}, Data: &common.BlockData{Data: [][]byte{[]byte("\xff garbage")}}}}, testCC, nil); err == nil {
		t.Error("an undecodable envelope was not reported")
	}
}

func equalRawEvent(a, b rawEvent) bool {
	return a.TxID == b.TxID && a.Name == b.Name && string(a.Payload) == string(b.Payload)
}

func fmtEvents(be *blockEvents) string {
	if be == nil {
		return "<nil>"
	}
	s := fmt.Sprintf("block %d:", be.Block)
	for _, e := range be.Events {
		s += fmt.Sprintf(" {%s %s %s}", e.TxID, e.Name, e.Payload)
	}
	return s
}

// fakeDeliverClient is a DeliverWithPrivateData client stream over a list
// of responses; after them it waits for its context.
type fakeDeliverClient struct {
	grpc.ClientStream
	ctx   context.Context
	resps []*peer.DeliverResponse
}

func (f *fakeDeliverClient) Send(*common.Envelope) error { return nil }

func (f *fakeDeliverClient) Recv() (*peer.DeliverResponse, error) {
	if len(f.resps) == 0 {
		<-f.ctx.Done()
		return nil, status.FromContextError(f.ctx.Err()).Err()
	}
	r := f.resps[0]
	f.resps = f.resps[1:]
	return r, nil
}

func blockResponse(b *peer.BlockAndPrivateData) *peer.DeliverResponse {
	return &peer.DeliverResponse{Type: &peer.DeliverResponse_BlockAndPrivateData{BlockAndPrivateData: b}}
}

func statusResponse(st common.Status) *peer.DeliverResponse {
	return &peer.DeliverResponse{Type: &peer.DeliverResponse_Status{Status: st}}
}

// deliverEndpoint is a fake endpoint whose event stream is a deliver
// stream of scripted responses (one script per Events call).
type deliverEndpoint struct {
	*fakeEndpoint
	mu      sync.Mutex
	scripts [][]*peer.DeliverResponse
	privs   []*privateEvents
}

func (d *deliverEndpoint) Events(ctx context.Context, _ uint64, priv *privateEvents) (eventStream, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.privs = append(d.privs, priv)
	var resps []*peer.DeliverResponse
	if len(d.scripts) > 0 {
		resps, d.scripts = d.scripts[0], d.scripts[1:]
	}
	return &deliverEventStream{s: &fakeDeliverClient{ctx: ctx, resps: resps}, chaincode: testCC, priv: priv}, nil
}

func TestPrivateEventStream(t *testing.T) {
	tests := []struct {
		name   string
		script []*peer.DeliverResponse
		expect func(string) bool
		// want: tx IDs handled; wantErr: what Events returns (nil: it is
		// stopped by the test after the events).
		want    []string
		wantPay map[string]string // tx ID -> payload handled
		wantErr error
	}{
		{name: "merged events; blocks without events skipped",
			script: []*peer.DeliverResponse{blockResponse(testBlock(5)), blockResponse(mixedBlock(true)), blockResponse(testBlock(8,
				testTx{id: "tx-8", code: peer.TxValidationCode_VALID, chaincode: testCC, event: "E", payload: `{"n":8}`}))},
			want:    []string{"tx-public", "tx-routed", "tx-8"},
			wantPay: map[string]string{"tx-routed": fullPayload("tx-routed")}},
		{name: "missing private event: Events stops, retryable later", script: []*peer.DeliverResponse{blockResponse(testBlock(6,
			testTx{id: "tx-6", code: peer.TxValidationCode_VALID, chaincode: testCC, event: "E", payload: `{"n":6}`})), blockResponse(mixedBlock(false))},
			want: []string{"tx-6"}, wantErr: ErrPrivateEventMissing},
		{name: "FORBIDDEN: access denied", script: []*peer.DeliverResponse{statusResponse(common.Status_FORBIDDEN)}, wantErr: ErrAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &deliverEndpoint{fakeEndpoint: newFakeEndpoint("a:1", newFakeLedger()), scripts: [][]*peer.DeliverResponse{tt.script}}
			clk := newFakeClock()
			c := newClient(&Config{Channel: "ch", Chaincode: testCC}, []endpoint{ep}, &options{log: discardLogger(), clock: clk, randN: func(n int64) int64 { return 0 }})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var got []string
			payloads := map[string]string{}
			cp := &MemoryCheckpointer{}
			err := c.Events(ctx, cp, func(_ context.Context, ev Event) error {
				got = append(got, ev.TxID)
				payloads[ev.TxID] = string(ev.Payload)
				if tt.wantErr == nil && len(got) == len(tt.want) {
					cancel()
				}
				return nil
			}, WithPrivateEvents(tt.expect), WithHeightProbe(0))
			if tt.wantErr == nil && !errors.Is(err, context.Canceled) || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Events = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("handled %v, want %v", got, tt.want)
			}
			for tx, p := range tt.wantPay {
				if payloads[tx] != p {
					t.Errorf("payload of %s = %s, want %s", tx, payloads[tx], p)
				}
			}
			if len(ep.privs) != 1 || ep.privs[0] == nil {
				t.Errorf("%d streams opened (private: %v), want one private stream", len(ep.privs), ep.privs)
			}
			if errors.Is(tt.wantErr, ErrPrivateEventMissing) {
				var pe *PrivateEventError
				if !Retryable(err) || !errors.As(err, &pe) || pe.TxID != "tx-routed" || pe.Block != 7 || pe.Collection != mfrColl {
					t.Errorf("err = %v: want a retryable error naming tx-routed, block 7, %s", err, mfrColl)
				}
				if pos, _ := cp.Load(ctx); pos.TxID != "tx-6" {
					t.Errorf("checkpoint %+v, want the last event before the missing one", pos)
				}
			}
		})
	}
}

func TestDeliverStatusError(t *testing.T) {
	tests := []struct {
		st   common.Status
		want codes.Code
	}{
		{common.Status_FORBIDDEN, codes.PermissionDenied},
		{common.Status_BAD_REQUEST, codes.InvalidArgument},
		{common.Status_NOT_FOUND, codes.NotFound},
		{common.Status_SERVICE_UNAVAILABLE, codes.Unavailable},
		{common.Status_INTERNAL_SERVER_ERROR, codes.Aborted},
		{common.Status_SUCCESS, codes.Aborted},
	}
	for _, tt := range tests {
		err := deliverStatusError(tt.st)
		if status.Code(err) != tt.want {
			t.Errorf("%s: code %s, want %s", tt.st, status.Code(err), tt.want)
		}
		transient := classify(phaseEvents, err).transient
		if wantTransient := tt.want == codes.Unavailable || tt.want == codes.Aborted; transient != wantTransient {
			t.Errorf("%s: transient %v, want %v", tt.st, transient, wantTransient)
		}
	}
}
