//go:build integration

package test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/test/testnet"
	"github.com/pharmatrace/pharmatrace/trace"
)

func productRequest(g string) trace.RegisterProductRequest {
	return trace.RegisterProductRequest{RequestHeader: header(), GTIN: g, Name: "Gateway test " + g,
		Form: "tablet", Strength: "10 mg", PackSize: 30}
}

// randomGTIN returns a GTIN of the company prefix gcp that no earlier call
// of this test process returned and that is not registered on the test
// network: a 7-digit prefix leaves only 100,000 item references, so plain
// random draws collide within one run (the suite registers ~200 products)
// and with products a kept network holds from earlier runs.
func randomGTIN(gcp string) string {
	for range 1000 {
		g := gtin(gcp, fmt.Sprintf("%0*d", 12-len(gcp), rand.IntN(1_000_000_000)%pow10(12-len(gcp))))
		if _, dup := usedGTINs.LoadOrStore(g, true); dup {
			continue
		}
		if registered(g) {
			continue
		}
		return g
	}
	panic("randomGTIN: no free GTIN of prefix " + gcp + " in 1,000 draws")
}

var (
	usedGTINs    sync.Map
	productsOnce sync.Once
	products     *gateway.Client
)

// registered reports whether the test network knows the product (false
// when it cannot tell: the registration that follows then says).
func registered(g string) bool {
	productsOnce.Do(func() {
		n := testnet.Current()
		if n == nil {
			return
		}
		cfg, err := n.GatewayConfig("Regulator", "inspector")
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		products, _ = gateway.Dial(ctx, cfg)
	})
	if products == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := products.GetProduct(ctx, trace.ProductQuery{GTIN: g})
	return !errors.Is(err, gateway.ErrNotFound)
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

// deadAddress returns a loopback address nothing listens on.
func deadAddress(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The gateway client goes past a dead endpoint within a second, returns
// the original outcome when a request ID is replayed, and translates the
// peers' errors into the domain's while keeping fabric-gateway's error.
func TestGatewayDedupErrorsAndDeadEndpoint(t *testing.T) {
	n := testnet.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dead := deadAddress(t)
	c := n.Client(t, "Manufacturer", "mfr-alpha", func(cfg *gateway.Config) {
		cfg.Endpoints = append([]gateway.Endpoint{{Address: dead, TLSRootCertFile: cfg.Endpoints[0].TLSRootCertFile}}, cfg.Endpoints...)
	})

	start := time.Now()
	gr, err := c.GetRequest(ctx, trace.RequestQuery{RequestID: newRequestID()})
	if err != nil || gr.Found {
		t.Fatalf("GetRequest of an unknown ID = %+v, %v", gr, err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("first call took %v past a dead endpoint, want under 1s", el)
	}

	req := productRequest(randomGTIN("4012345"))
	var rc gateway.Receipt
	first, err := c.RegisterProduct(ctx, req, gateway.WithReceipt(&rc))
	if err != nil || !first.OK() || rc.TxID == "" {
		t.Fatalf("RegisterProduct = %+v, %v (receipt %+v)", first, err, rc)
	}
	again, err := c.RegisterProduct(ctx, req)
	if err != nil || again.TxID != first.TxID || again.Product.GTIN != req.GTIN {
		t.Fatalf("replay = %+v, %v; want the original outcome of tx %s", again, err, first.TxID)
	}
	gr, err = c.GetRequest(ctx, trace.RequestQuery{RequestID: req.RequestID})
	if err != nil || !gr.Found || gr.Request.TxID != rc.TxID {
		t.Fatalf("GetRequest = %+v, %v; want tx %s", gr, err, rc.TxID)
	}

	// Server-side validation (bypassing the typed method's own check).
	bad := productRequest("12345")
	var ee *client.EndorseError
	if err := c.Submit(ctx, trace.TxRegisterProduct, bad.RequestID, bad, nil); !errors.Is(err, gateway.ErrInvalid) || !errors.As(err, &ee) {
		t.Fatalf("bad GTIN: err = %v, want ErrInvalid over *client.EndorseError", err)
	}
	ph := n.Client(t, "Pharmacy", "pharm-central", nil)
	if _, err := ph.RegisterProduct(ctx, productRequest(randomGTIN("4012345"))); !errors.Is(err, gateway.ErrAccessDenied) {
		t.Fatalf("pharmacist registering a product: err = %v, want ErrAccessDenied", err)
	}
	if _, err := c.GetProduct(ctx, trace.ProductQuery{GTIN: randomGTIN("4012345")}); !errors.Is(err, gateway.ErrNotFound) {
		t.Fatalf("unknown product: err = %v, want ErrNotFound", err)
	}
}

// Kill the peer the client is connected to in the middle of a stream of
// submits: every request ends exactly once on the ledger, and the client
// carries on through another org's peer.
func TestGatewayPeerKilledDuringSubmitsExactlyOnce(t *testing.T) {
	n := testnet.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mfr, _ := n.Org("Manufacturer")
	peer := n.PeerNode(mfr)
	c := n.Client(t, "Manufacturer", "mfr-alpha", nil)
	startBlock, err := n.Height(ctx, peer)
	if err != nil {
		t.Fatal(err)
	}

	const total, workers, killAfter = 80, 4, 10
	reqs := make([]trace.RegisterProductRequest, total)
	for i := range reqs {
		reqs[i] = productRequest(randomGTIN("4012345"))
	}
	var (
		next, done atomic.Int64
		killedAt   atomic.Int64 // unix nanos
		mu         sync.Mutex
		txIDs      = map[string]string{}
		afterKill  []time.Duration
		wg         sync.WaitGroup
		killed     = make(chan struct{})
		errs       = make(chan error, total)
	)
	t.Cleanup(func() { n.StartPeer(t, peer) })
	go func() {
		for done.Load() < killAfter {
			time.Sleep(10 * time.Millisecond)
		}
		killedAt.Store(time.Now().UnixNano()) // requests started from now on must fail over
		n.Fabnet(t, "kill", peer.Name)
		close(killed)
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				t0 := time.Now()
				var rc gateway.Receipt
				res, err := c.RegisterProduct(ctx, reqs[i], gateway.WithReceipt(&rc))
				if err != nil {
					errs <- fmt.Errorf("request %d (%s): %w", i, reqs[i].RequestID, err)
					continue
				}
				if !res.OK() {
					errs <- fmt.Errorf("request %d: outcome %+v", i, res.Outcome)
				}
				mu.Lock()
				txIDs[reqs[i].RequestID] = res.TxID
				if k := killedAt.Load(); k != 0 && t0.UnixNano() > k {
					afterKill = append(afterKill, time.Since(t0))
				}
				mu.Unlock()
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	<-killed
	if len(afterKill) == 0 {
		t.Fatal("no request ran after the peer was killed")
	}
	t.Logf("%d requests after the kill; first took %s", len(afterKill), afterKill[0].Round(time.Millisecond))
	if afterKill[0] > 2*time.Second {
		t.Errorf("first request after the kill took %s: failover should take under 1s plus a commit", afterKill[0])
	}

	// Ledger state: each request recorded once, by the transaction the
	// client was told about, and exactly one committed event per request.
	for _, r := range reqs {
		gr, err := c.GetRequest(ctx, trace.RequestQuery{RequestID: r.RequestID})
		if err != nil || !gr.Found || gr.Request.TxID != txIDs[r.RequestID] {
			t.Errorf("request %s: GetRequest = %+v, %v; client saw tx %s", r.RequestID, gr, err, txIDs[r.RequestID])
		}
	}
	perRequest := map[string]int{}
	for _, ev := range replayEvents(t, c, startBlock) {
		var e trace.Event
		if err := json.Unmarshal(ev.Payload, &e); err != nil {
			t.Fatal(err)
		}
		perRequest[e.RequestID]++
	}
	for _, r := range reqs {
		if got := perRequest[r.RequestID]; got != 1 {
			t.Errorf("request %s has %d committed events, want exactly 1", r.RequestID, got)
		}
	}
}

// replayEvents reads every chaincode event from block from up to the
// current height, with an in-memory checkpoint: blocks with private data,
// so a routed transaction's event is its full event where c's organisation
// holds the collection, the public stub elsewhere.
func replayEvents(t *testing.T, c *gateway.Client, from uint64) []gateway.Event {
	t.Helper()
	// Mark the end with a transaction of our own.
	end := productRequest(randomGTIN("4012345"))
	endRes, err := c.RegisterProduct(context.Background(), end)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []gateway.Event
	err = c.Events(ctx, &gateway.MemoryCheckpointer{}, func(_ context.Context, ev gateway.Event) error {
		if ev.TxID == endRes.TxID {
			cancel()
			return nil
		}
		out = append(out, ev)
		return nil
	}, gateway.FromBlock(from), gateway.WithPrivateEvents(func(string) bool { return false }))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("replay from block %d: %v", from, err)
	}
	return out
}
