package gateway

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/pharmatrace/pharmatrace/trace"
)

// Private event streams (WithPrivateEvents). A routed write transaction's
// public chaincode event is a stub (trace.Event.Public: Private names the
// collection); its full event is a private write, under
// trace.PrivateEventKey, in that collection. The gateway's ChaincodeEvents
// service delivers only the stubs, so a private stream reads the blocks
// with their private data from the peer's Deliver service
// (DeliverWithPrivateData: the peer sends the private data it holds of the
// collections the client may read) and makes of each block the events
// ChaincodeEvents would deliver, stubs replaced by the full events.

// ErrPrivateEventMissing is matched (errors.Is) by the error of an event
// stream that met the public stub of a routed transaction whose full event
// the peer did not deliver, in a collection the client expects to read
// (see WithPrivateEvents). The peer may not have the private data yet (it
// gets it by dissemination at commit or, later, by reconciliation): run
// the stream again later, from its checkpoint.
var ErrPrivateEventMissing = errors.New("gateway: private event missing")

// PrivateEventError names the transaction whose full event is missing.
type PrivateEventError struct {
	Block      uint64
	TxID       string
	Collection string
	Err        error // why the private write could not be read, if it was there
}

func (e *PrivateEventError) Error() string {
	msg := fmt.Sprintf("private event of transaction %s (block %d) missing from collection %s", e.TxID, e.Block, e.Collection)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrPrivateEventMissing) true.
func (e *PrivateEventError) Is(target error) bool { return target == ErrPrivateEventMissing }

func (e *PrivateEventError) Unwrap() error { return e.Err }

// privateEvents configures a private event stream.
type privateEvents struct {
	// expect reports whether the client's organisation reads collection
	// coll, so that a stub of it must be replaced by its full event; nil:
	// every collection.
	expect func(coll string) bool
}

func (p *privateEvents) expects(coll string) bool {
	return p == nil || p.expect == nil || p.expect(coll)
}

// blockEventsOf returns the events of chaincode cc in block b as the
// gateway's ChaincodeEvents service delivers them (Fabric v2.5
// internal/pkg/gateway/event: the endorser transactions whose validation
// code is VALID, in block order, the event of each of their actions that
// names a chaincode, an event name and a transaction ID, of chaincode cc),
// with each stub of a routed transaction replaced by the full event found
// in b's private data. It returns nil when the block has no such event.
func blockEventsOf(b *peer.BlockAndPrivateData, cc string, p *privateEvents) (*blockEvents, error) {
	block := b.GetBlock()
	num := block.GetHeader().GetNumber()
	var filter []byte
	if md := block.GetMetadata().GetMetadata(); int(common.BlockMetadataIndex_TRANSACTIONS_FILTER) < len(md) {
		filter = md[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	}
	var be *blockEvents
	for i, envBytes := range block.GetData().GetData() {
		env := &common.Envelope{}
		if err := proto.Unmarshal(envBytes, env); err != nil {
			return nil, fmt.Errorf("block %d, transaction %d: envelope: %w", num, i, err)
		}
		payload := &common.Payload{}
		if err := proto.Unmarshal(env.GetPayload(), payload); err != nil {
			return nil, fmt.Errorf("block %d, transaction %d: payload: %w", num, i, err)
		}
		chdr := &common.ChannelHeader{}
		if err := proto.Unmarshal(payload.GetHeader().GetChannelHeader(), chdr); err != nil {
			return nil, fmt.Errorf("block %d, transaction %d: channel header: %w", num, i, err)
		}
		if chdr.GetType() != int32(common.HeaderType_ENDORSER_TRANSACTION) {
			continue
		}
		if i >= len(filter) || peer.TxValidationCode(filter[i]) != peer.TxValidationCode_VALID {
			continue
		}
		for _, ev := range chaincodeEvents(payload.GetData()) {
			if ev.GetChaincodeId() != cc {
				continue
			}
			re := rawEvent{TxID: ev.GetTxId(), Name: ev.GetEventName(), Payload: ev.GetPayload()}
			if coll := stubCollection(re.Payload); coll != "" {
				full, err := privateEvent(b.GetPrivateDataMap()[uint64(i)], cc, coll)
				switch {
				case full != nil:
					re.Payload = full
				case err != nil || p.expects(coll):
					return nil, &PrivateEventError{Block: num, TxID: chdr.GetTxId(), Collection: coll, Err: err}
				}
			}
			if be == nil {
				be = &blockEvents{Block: num}
			}
			be.Events = append(be.Events, re)
		}
	}
	return be, nil
}

// chaincodeEvents returns the chaincode events of the actions of a
// transaction; like Fabric's gateway, it skips an action it cannot decode.
func chaincodeEvents(txBytes []byte) []*peer.ChaincodeEvent {
	tx := &peer.Transaction{}
	if err := proto.Unmarshal(txBytes, tx); err != nil {
		return nil
	}
	var out []*peer.ChaincodeEvent
	for _, action := range tx.GetActions() {
		cap := &peer.ChaincodeActionPayload{}
		if err := proto.Unmarshal(action.GetPayload(), cap); err != nil {
			continue
		}
		prp := &peer.ProposalResponsePayload{}
		if err := proto.Unmarshal(cap.GetAction().GetProposalResponsePayload(), prp); err != nil {
			continue
		}
		ca := &peer.ChaincodeAction{}
		if err := proto.Unmarshal(prp.GetExtension(), ca); err != nil {
			continue
		}
		ev := &peer.ChaincodeEvent{}
		if err := proto.Unmarshal(ca.GetEvents(), ev); err != nil {
			continue
		}
		if ev.GetChaincodeId() == "" || ev.GetEventName() == "" || ev.GetTxId() == "" {
			continue
		}
		out = append(out, ev)
	}
	return out
}

// stubCollection returns the collection a public stub names (its "private"
// field), or "" when payload is not a stub.
func stubCollection(payload []byte) string {
	var stub struct {
		Private string `json:"private"`
	}
	if json.Unmarshal(payload, &stub) != nil {
		return ""
	}
	return stub.Private
}

// privateEvent returns the value the transaction wrote under
// trace.PrivateEventKey in collection coll of chaincode cc, from its
// private write set pvt (nil, nil when it is not there).
func privateEvent(pvt *rwset.TxPvtReadWriteSet, cc, coll string) ([]byte, error) {
	for _, ns := range pvt.GetNsPvtRwset() {
		if ns.GetNamespace() != cc {
			continue
		}
		for _, c := range ns.GetCollectionPvtRwset() {
			if c.GetCollectionName() != coll {
				continue
			}
			kv := &kvrwset.KVRWSet{}
			if err := proto.Unmarshal(c.GetRwset(), kv); err != nil {
				return nil, fmt.Errorf("undecodable write set: %w", err)
			}
			for _, w := range kv.GetWrites() {
				if w.GetKey() == trace.PrivateEventKey && !w.GetIsDelete() && len(w.GetValue()) > 0 {
					return w.GetValue(), nil
				}
			}
		}
	}
	return nil, nil
}

// deliverEventStream makes blockEvents of a DeliverWithPrivateData stream.
type deliverEventStream struct {
	s         peer.Deliver_DeliverWithPrivateDataClient
	chaincode string
	priv      *privateEvents
}

func (d *deliverEventStream) Recv() (*blockEvents, error) {
	for {
		resp, err := d.s.Recv()
		if err != nil {
			return nil, err
		}
		switch r := resp.GetType().(type) {
		case *peer.DeliverResponse_Status:
			return nil, deliverStatusError(r.Status)
		case *peer.DeliverResponse_BlockAndPrivateData:
			be, err := blockEventsOf(r.BlockAndPrivateData, d.chaincode, d.priv)
			if err != nil {
				return nil, err
			}
			if be != nil { // blocks without events are skipped, as by ChaincodeEvents
				return be, nil
			}
		default:
			return nil, status.Errorf(codes.Internal, "deliver: unexpected response %T", r)
		}
	}
}

// deliverStatusError turns the status that ends a Deliver stream into the
// gRPC error the gateway's ChaincodeEvents service would have returned, so
// that it is classified alike: refusals stop the stream, the rest is
// retried.
func deliverStatusError(st common.Status) error {
	code := codes.Aborted // SUCCESS (the stream reached its stop, never here), INTERNAL_SERVER_ERROR...
	switch st {
	case common.Status_FORBIDDEN:
		code = codes.PermissionDenied
	case common.Status_BAD_REQUEST:
		code = codes.InvalidArgument
	case common.Status_NOT_FOUND:
		code = codes.NotFound
	case common.Status_SERVICE_UNAVAILABLE:
		code = codes.Unavailable
	}
	return status.Errorf(code, "deliver: stream ended with status %s", st)
}
