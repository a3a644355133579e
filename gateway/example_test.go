package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pharmatrace/pharmatrace/gateway"
)

// Connecting to two peers of different organizations with a Fabric CA
// enrollment (MSP directory), metrics and the GetRequest lookup.
func ExampleDial() {
	metrics, err := gateway.NewMetrics(prometheus.DefaultRegisterer)
	if err != nil {
		log.Fatal(err)
	}
	cfg := gateway.Config{
		Endpoints: []gateway.Endpoint{
			{Address: "127.0.0.1:7051", TLSRootCertFile: "run/orgs/manufacturer/tlsca.pem"},
			{Address: "127.0.0.1:8051", TLSRootCertFile: "run/orgs/distributor/tlsca.pem"},
		},
		Identity:  gateway.Identity{MSPID: "ManufacturerMSP", MSPDir: "run/orgs/manufacturer/users/scanner1/msp"},
		Channel:   "pharmatrace",
		Chaincode: "pharmatrace",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := gateway.Dial(ctx, cfg,
		gateway.WithLogger(slog.New(slog.NewJSONHandler(os.Stderr, nil))),
		gateway.WithMetrics(metrics),
		gateway.WithGetRequestLookup(),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
}

// Submitting a write: the request carries its request ID, which makes
// every retry safe; a refusal is a result, failures are typed.
func ExampleClient_Submit() {
	var client *gateway.Client // from gateway.Dial
	type commission struct {
		RequestID string   `json:"requestId"`
		Serials   []string `json:"serials"`
	}
	type outcome struct {
		Status string `json:"status"` // "ok" or "refused"
		Code   string `json:"code"`   // EU alert code of a refusal, e.g. "A24"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := commission{RequestID: "scan-7f3a", Serials: []string{"0001", "0002"}}
	var out outcome
	var receipt gateway.Receipt
	err := client.Submit(ctx, "CommissionPacks", req.RequestID, req, &out, gateway.WithReceipt(&receipt))
	switch {
	case errors.Is(err, gateway.ErrAccessDenied):
		fmt.Println("not allowed:", err)
	case errors.Is(err, gateway.ErrUnknownOutcome):
		fmt.Println("may have been applied; retry later with the same request ID:", err)
	case err != nil:
		fmt.Println("failed:", err)
	case out.Status == "refused":
		fmt.Println("refused with alert", out.Code)
	default:
		fmt.Println("committed in block", receipt.Block, "as", receipt.TxID)
	}
}

// Evaluating a query, with the generic helper.
func ExampleEvaluateAs() {
	var client *gateway.Client // from gateway.Dial
	type pack struct {
		Serial string `json:"serial"`
		State  string `json:"state"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := gateway.EvaluateAs[pack](ctx, client, "GetPack", map[string]string{"serial": "0001"})
	if errors.Is(err, gateway.ErrNotFound) {
		fmt.Println("no such pack")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.State)
}

// Consuming chaincode events from a checkpoint the consumer stores with its
// own data (here in memory; the API keeps it in the read model's SQL
// transaction): after a crash the stream resumes after the last processed
// event, with no gap and no duplicate. gateway.FromBlock(0) replays the
// whole ledger.
func ExampleClient_Events() {
	var client *gateway.Client // from gateway.Dial
	ctx := context.Background()
	cp := &gateway.MemoryCheckpointer{}
	err := client.Events(ctx, cp, func(ctx context.Context, ev gateway.Event) error {
		fmt.Println(ev.Block, ev.Index, ev.Name, string(ev.Payload))
		return nil // returning an error stops the stream; the event comes again next time
	}, gateway.WithStreamName("agent"))
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}
