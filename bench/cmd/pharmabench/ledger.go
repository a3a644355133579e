package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/bench"
	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/gs1"
	"github.com/pharmatrace/pharmatrace/trace"
)

// dial connects package gateway as a demo user (closed by the caller).
func (e *env) dial(ctx context.Context, org, user string) (*gateway.Client, error) {
	cfg, err := fabconn.GatewayConfig(e.l, org, user)
	if err != nil {
		return nil, err
	}
	return gateway.Dial(ctx, cfg, gateway.WithGetRequestLookup())
}

// newManufacturerProduct dials the manufacturer user every scenario
// commissions as and registers a fresh product of its company prefix: the
// client (to close) and the product's GTIN.
func (e *env) newManufacturerProduct(ctx context.Context) (*gateway.Client, string, error) {
	mfr, err := e.dial(ctx, "Manufacturer", "mfr-alpha")
	if err != nil {
		return nil, "", err
	}
	id, _ := e.l.User("Manufacturer", "mfr-alpha")
	g, err := newProduct(ctx, mfr, id.GCP)
	if err != nil {
		mfr.Close()
		return nil, "", err
	}
	return mfr, g, nil
}

func requestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "bench-" + hex.EncodeToString(b)
}

func hdr() trace.RequestHeader { return trace.RequestHeader{RequestID: requestID()} }

// newProduct registers a fresh GTIN under the manufacturer's prefix.
func newProduct(ctx context.Context, c *gateway.Client, gcp string) (string, error) {
	for range 5 {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		item := fmt.Sprintf("%0*d", 12-len(gcp), (uint64(b[0])<<24|uint64(b[1])<<16|uint64(b[2])<<8|uint64(b[3]))%pow10(12-len(gcp)))
		g := withCheckDigit("0" + gcp + item)
		res, err := c.RegisterProduct(ctx, trace.RegisterProductRequest{RequestHeader: hdr(), GTIN: g, Name: "Bench " + g,
			Form: "tablet", Strength: "1 mg", PackSize: 10})
		if err != nil {
			return "", err
		}
		if res.OK() {
			return g, nil
		}
	}
	return "", fmt.Errorf("no free GTIN under prefix %s", gcp)
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

func withCheckDigit(s string) string {
	d, _ := gs1.CheckDigit(s)
	return s + strconv.Itoa(d)
}

// commission commissions count serials of a new lot in batches of at most
// trace.DefaultMaxCommission, one lot's batches in order (they update the
// lot's pack count, so concurrent batches of one lot would conflict).
func commission(ctx context.Context, c *gateway.Client, g, lot string, serials []string) error {
	for i := 0; i < len(serials); i += trace.DefaultMaxCommission {
		batch := serials[i:min(i+trace.DefaultMaxCommission, len(serials))]
		res, err := c.CommissionPacks(ctx, trace.CommissionPacksRequest{RequestHeader: hdr(), GTIN: g, Lot: lot, Expiry: "301231", Serials: batch})
		if err != nil {
			return fmt.Errorf("commission %s batch %d: %w", lot, i/trace.DefaultMaxCommission, err)
		}
		if !res.OK() {
			return fmt.Errorf("commission %s: %s %s", lot, res.Code, res.Message)
		}
	}
	return nil
}

func serialsFor(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%07d", prefix, i)
	}
	return out
}

// bulk commissions N serials through batched transactions: lots of up to
// 50,000 serials, four lots in parallel, 5,000 serials per transaction.
func bulk(ctx context.Context, e *env) ([]bench.Figure, error) {
	total := bulkTotal(e)
	c, g, err := e.newManufacturerProduct(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	const lotSize, workers = 50_000, 4
	tag := requestID()[6:14]
	jobs := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lotNo := range jobs {
				n := min(lotSize, total-lotNo*lotSize)
				if err := commission(ctx, c, g, fmt.Sprintf("B%s%03d", tag, lotNo), serialsFor(fmt.Sprintf("%s%03d", tag, lotNo), n)); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	for lotNo := 0; lotNo*lotSize < total; lotNo++ {
		select {
		case jobs <- lotNo:
		case err := <-errc:
			close(jobs)
			return nil, err
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	el := time.Since(start)
	rate := float64(total) / el.Seconds()
	figs := []bench.Figure{{Scenario: "bulk commission", Metric: "pack events committed per second", Value: rate,
		Unit: "packs/s", Target: ">= 5000", Note: fmt.Sprintf("%d serials in %s, 5,000 per tx, 4 lots in parallel", total, el.Round(time.Second))}}
	if e.bulkBaselineRate > 0 {
		figs = append(figs, bench.Figure{Scenario: "bulk commission", Metric: "commission / raw bulk baseline", Value: rate / e.bulkBaselineRate, Unit: "x",
			Note: "same keys per transaction written by a trivial PutMany"})
	}
	return figs, nil
}

// counters is the number of simulated pharmacy counters of the dispense scenario.
const counters = 50

// dispense: 50 concurrent counters, each verify → dispense on distinct
// packs that were commissioned, shipped to and received by its pharmacy.
func dispense(ctx context.Context, e *env) ([]bench.Figure, error) {
	perCounter := 100
	if e.quick {
		perCounter = 30
	}
	mfr, g, err := e.newManufacturerProduct(ctx)
	if err != nil {
		return nil, err
	}
	defer mfr.Close()
	tag := requestID()[6:14]
	lot := "D" + tag
	sites := []string{"pharm-central", "pharm-station"}
	pools := map[string][]string{}
	clients := map[string]*gateway.Client{}
	for i, site := range sites {
		serials := serialsFor(fmt.Sprintf("%s%d", tag, i), perCounter*counters/len(sites))
		pools[site] = serials
		if err := commission(ctx, mfr, g, lot, serials); err != nil {
			return nil, err
		}
		c, err := e.dial(ctx, "Pharmacy", site)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		clients[site] = c
		user, _ := e.l.User("Pharmacy", site)
		if err := shipAndReceive(ctx, mfr, c, trace.Party{MSP: user.MSPID, GLN: user.GLN}, g, serials); err != nil {
			return nil, err
		}
	}
	e.log.Info("dispense fixture ready", "packs", perCounter*counters)

	profile := e.profileChaincode(ctx, "Pharmacy", "dispense")
	var (
		mu                sync.Mutex
		verifyL, commitL  []time.Duration
		refused, failures int
		firstErr          error
		wg                sync.WaitGroup
	)
	start := time.Now()
	for k := range counters {
		site := sites[k%len(sites)]
		c := clients[site]
		mine := pools[site][(k/len(sites))*perCounter : (k/len(sites)+1)*perCounter]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range mine {
				scan := trace.Scan{GTIN: g, Serial: s, Lot: lot, Expiry: "301231"}
				t0 := time.Now()
				v, err := c.Verify(ctx, trace.VerifyRequest{Scan: scan})
				t1 := time.Now()
				var d *trace.ScanResult
				if err == nil && v.OK() {
					d, err = c.Dispense(ctx, trace.ScanRequest{RequestHeader: hdr(), Scan: scan})
				}
				t2 := time.Now()
				mu.Lock()
				switch {
				case err != nil:
					failures++
					if firstErr == nil {
						firstErr = err
					}
				case !v.OK() || !d.OK():
					refused++
				default:
					verifyL = append(verifyL, t1.Sub(t0))
					commitL = append(commitL, t2.Sub(t1))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if err := profile(); err != nil {
		e.log.Warn("chaincode profile", "err", err)
	}
	if len(commitL) == 0 {
		return nil, fmt.Errorf("no dispense committed (%d refused, %d failed, first error %v)", refused, failures, firstErr)
	}
	vs, cs := bench.Summarize(verifyL), bench.Summarize(commitL)
	rate := float64(len(commitL)) / el.Seconds()
	e.dispenseRate = rate
	note := fmt.Sprintf("%d counters, %d dispensed, %d refused, %d failed", counters, len(commitL), refused, failures)
	figs := []bench.Figure{
		{Scenario: "dispense", Metric: "verify p50 (gateway)", Value: bench.Ms(vs.P50), Unit: "ms"},
		{Scenario: "dispense", Metric: "verify p95 (gateway)", Value: bench.Ms(vs.P95), Unit: "ms"},
		{Scenario: "dispense", Metric: "verify p99 (gateway)", Value: bench.Ms(vs.P99), Unit: "ms", Target: "<= 10"},
		{Scenario: "dispense", Metric: "committed dispense p50", Value: bench.Ms(cs.P50), Unit: "ms"},
		{Scenario: "dispense", Metric: "committed dispense p95", Value: bench.Ms(cs.P95), Unit: "ms", Target: "<= 300"},
		{Scenario: "dispense", Metric: "committed dispense p99", Value: bench.Ms(cs.P99), Unit: "ms"},
		{Scenario: "dispense", Metric: "dispenses per second", Value: rate, Unit: "/s", Target: ">= 200", Note: note},
	}
	if e.baselineTPS > 0 {
		figs = append(figs, bench.Figure{Scenario: "dispense", Metric: "throughput / baseline", Value: rate / e.baselineTPS, Unit: "x", Target: ">= 0.8"})
	}
	return figs, nil
}

// shipAndReceive moves serials from the manufacturer to a pharmacy site in
// shipments of at most trace.MaxShipmentPacks.
func shipAndReceive(ctx context.Context, from, to *gateway.Client, dest trace.Party, g string, serials []string) error {
	for i := 0; i < len(serials); i += trace.MaxShipmentPacks {
		part := serials[i:min(i+trace.MaxShipmentPacks, len(serials))]
		refs := make([]trace.PackRef, len(part))
		for j, s := range part {
			refs[j] = trace.PackRef{GTIN: g, Serial: s}
		}
		asn := "BENCH-" + requestID()[6:18]
		sh, err := from.Ship(ctx, trace.ShipRequest{RequestHeader: hdr(), ShipmentID: asn, To: dest, Packs: refs})
		if err != nil {
			return err
		}
		if !sh.OK() {
			return fmt.Errorf("ship: %s %s", sh.Code, sh.Message)
		}
		req := trace.ReceiveRequest{RequestHeader: hdr(), ShipmentID: asn, Packs: refs}
		rc, err := gateway.AwaitVisible(ctx, 10*time.Second, func(ctx context.Context) (*trace.ReceiveResult, error) { return to.Receive(ctx, req) })
		if err != nil {
			return err
		}
		if !rc.OK() {
			return fmt.Errorf("receive: %s %s", rc.Code, rc.Message)
		}
	}
	return nil
}

// profileChaincode starts a CPU profile of org's chaincode server.
func (e *env) profileChaincode(ctx context.Context, org, scenario string) func() error {
	o, ok := e.l.Org(org)
	if !ok {
		return func() error { return fmt.Errorf("no org %s", org) }
	}
	return e.profile(ctx, e.l.Addr(o.ChaincodeServerPort+1), fmt.Sprintf("chaincode-%s-%s.pprof", o.Key(), scenario))
}

// profile starts an 8-second CPU profile from the pprof server at addr;
// the returned func waits for it and saves it as name beside the results.
func (e *env) profile(ctx context.Context, addr, name string) func() error {
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/profile?seconds=8", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if err := os.MkdirAll(e.out, 0o755); err != nil {
			done <- err
			return
		}
		f, err := os.Create(filepath.Join(e.out, name))
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		_, err = io.Copy(f, resp.Body)
		done <- err
	}()
	return func() error { return <-done }
}
