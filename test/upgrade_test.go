//go:build integration

package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/test/testnet"
	"github.com/pharmatrace/pharmatrace/trace"
)

// ccStatus is `fabnet chaincode -json`.
type ccStatus struct {
	Definition struct {
		Sequence int    `json:"sequence"`
		Version  string `json:"version"`
	} `json:"definition"`
	Orgs []struct {
		Org        string `json:"org"`
		MSPID      string `json:"mspID"`
		Running    bool   `json:"running"`
		Address    string `json:"address"`
		Label      string `json:"label"`
		Definition string `json:"definition"`
		PackageID  string `json:"packageId"`
		Binary     string `json:"binary"`
		Slot       int    `json:"slot"`
		Sequence   int    `json:"sequence"`
	} `json:"orgs"`
}

func chaincodeStatus(t *testing.T, n *testnet.Network) ccStatus {
	t.Helper()
	var st ccStatus
	if err := json.Unmarshal([]byte(n.Fabnet(t, "chaincode", "-json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// buildNextContract builds the chaincode server from this source with a
// release stamp: another binary, hence another build ID, package label and
// definition version — contract N+1 as far as the lifecycle can tell.
func buildNextContract(t *testing.T, n *testnet.Network) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.release=upgrade-test", "-o", dir, "./chaincode/cmd/pharmatrace-cc")
	cmd.Dir = n.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build contract N+1: %v\n%s", err, out)
	}
	return filepath.Join(dir, "pharmatrace-cc")
}

// contractAt asks org's own peer which contract its chaincode server runs.
func contractAt(t *testing.T, n *testnet.Network, org string) (trace.ContractInfo, error) {
	t.Helper()
	o, _ := n.Org(org)
	c := n.Contract(n.Gateway(t, org, ""), "probe")
	out, err := c.Evaluate("Version", client.WithEndorsingOrganizations(o.MSPID))
	if err != nil {
		return trace.ContractInfo{}, fabconn.Describe(err)
	}
	var info trace.ContractInfo
	return info, json.Unmarshal(out, &info)
}

// The contract is upgraded from N to N+1 on a ledger holding packs,
// anomalies and shipments written by N, while a pharmacy keeps dispensing
// through package gateway: every acknowledged request is on the ledger
// exactly once (GetRequest and the event stream), applied by N or by N+1;
// every earlier pack verifies with the same answer; the definition shows
// the next sequence; a server of N started for its old package on the
// address the peer now expects N+1 at is refused by the peer (other
// organisations keep endorsing); `fabnet up` then detects that bin/ holds
// another contract than the committed one and upgrades to it.
func TestContractUpgradeUnderLoad(t *testing.T) {
	n := testnet.Get(t)
	next := buildNextContract(t, n)
	before := chaincodeStatus(t, n)
	if before.Definition.Sequence == 0 {
		t.Fatal("no chaincode definition committed")
	}
	// Whatever happens, leave the network on the contract of bin/.
	t.Cleanup(func() {
		if out, err := n.FabnetErr("upgrade"); err != nil {
			t.Errorf("restore the contract of bin/: %v\n%s", err, out)
		}
	})

	mfr := newActor(t, n, "Manufacturer", "mfr-alpha")
	whN := newActor(t, n, "Distributor", "wh-north")
	ph1 := newActor(t, n, "Pharmacy", "pharm-central")
	ph2 := newActor(t, n, "Pharmacy", "pharm-station")

	// Ledger of version N: a lot whose packs are verified before and after,
	// a shipment, anomalies; and a lot the pharmacy dispenses during the
	// upgrade.
	tag := runTag()
	g := randomGTIN("4012345")
	submit[trace.ProductResult](t, mfr, "RegisterProduct", trace.RegisterProductRequest{RequestHeader: header(),
		GTIN: g, Name: "Upgrade test " + tag, Form: "tablet", Strength: "5 mg", PackSize: 10})
	lotA, lotB, exp := "UA"+tag, "UB"+tag, "301231"
	const kept, load = 20, 60
	serialsA, serialsB := make([]string, kept), make([]string, load)
	for i := range serialsA {
		serialsA[i] = fmt.Sprintf("A%s%03d", tag, i)
	}
	for i := range serialsB {
		serialsB[i] = fmt.Sprintf("B%s%03d", tag, i)
	}
	for lot, serials := range map[string][]string{lotA: serialsA, lotB: serialsB} {
		c := submit[trace.CommissionPacksResult](t, mfr, "CommissionPacks", trace.CommissionPacksRequest{RequestHeader: header(),
			GTIN: g, Lot: lot, Expiry: exp, Serials: serials})
		wantOutcome(t, "commission "+lot, c.Outcome, trace.StatusOK, "")
	}
	asn := "ASN-UP-" + tag
	wantOutcome(t, "ship", submit[trace.ShipmentResult](t, mfr, "Ship", trace.ShipRequest{RequestHeader: header(), ShipmentID: asn,
		To: whN.party(), Packs: refs(g, serialsA[:5]...)}).Outcome, trace.StatusOK, "")
	wantOutcome(t, "receive", submit[trace.ReceiveResult](t, whN, "Receive", trace.ReceiveRequest{RequestHeader: header(), ShipmentID: asn,
		Packs: refs(g, serialsA[:5]...)}).Outcome, trace.StatusOK, "")
	scanA := func(i int) trace.Scan { return trace.Scan{GTIN: g, Serial: serialsA[i], Lot: lotA, Expiry: exp} }
	submit[trace.ScanResult](t, ph1, "Dispense", trace.ScanRequest{RequestHeader: header(), Scan: scanA(10)})
	clone := submit[trace.ScanResult](t, ph2, "Dispense", trace.ScanRequest{RequestHeader: header(), Scan: scanA(10)})
	wantOutcome(t, "clone", clone.Outcome, trace.StatusRefused, trace.CodeStatusChangeNotPossible)
	unknown := submit[trace.ScanResult](t, ph1, "ReportScan", trace.ScanRequest{RequestHeader: header(),
		Scan: trace.Scan{GTIN: g, Serial: "NOPE" + tag, Lot: lotA, Expiry: exp}})
	anomalies := append(clone.Outcome.Anomalies, unknown.Outcome.Anomalies...)
	if len(anomalies) < 2 {
		t.Fatalf("anomalies recorded by N: %v", anomalies)
	}
	reg := newActor(t, n, "Regulator", "inspector")
	answers := func() map[string]string {
		out := map[string]string{}
		for i := range serialsA {
			out["verify "+serialsA[i]] = js(evaluate[trace.VerifyResult](t, ph1, "Verify", trace.VerifyRequest{Scan: scanA(i)}))
		}
		out["verify unknown"] = js(evaluate[trace.VerifyResult](t, ph1, "Verify", trace.VerifyRequest{Scan: trace.Scan{GTIN: g, Serial: "NOPE" + tag, Lot: lotA, Expiry: exp}}))
		out["shipment"] = js(evaluate[trace.GetShipmentResult](t, reg, "GetShipment", trace.ShipmentQuery{ID: asn}))
		for _, id := range anomalies {
			out["anomaly "+id] = js(evaluate[trace.GetAnomalyResult](t, reg, "GetAnomaly", trace.AnomalyQuery{ID: id}))
		}
		return out
	}
	answersN := answers()

	// The pharmacy dispenses lot B, one scan after the other, each retried
	// with its request ID until acknowledged, before, during and after the
	// upgrade.
	pharmacy := n.Client(t, "Pharmacy", "pharm-central", nil)
	mfrPeer, _ := n.Org("Manufacturer")
	startBlock, err := n.Height(context.Background(), n.PeerNode(mfrPeer))
	if err != nil {
		t.Fatal(err)
	}
	type ack struct {
		req   trace.ScanRequest
		txID  string
		at    time.Time
		tries int
	}
	var (
		mu        sync.Mutex
		acks      []ack
		failures  []string
		upgraded  = make(chan struct{})
		loadDone  = make(chan struct{})
		maxGap    time.Duration
		lastAckAt = time.Now()
	)
	go func() {
		defer close(loadDone)
		after := 0
		for i := range serialsB {
			req := trace.ScanRequest{RequestHeader: header(), Scan: trace.Scan{GTIN: g, Serial: serialsB[i], Lot: lotB, Expiry: exp}}
			var a ack
			for a.tries = 1; ; a.tries++ {
				ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
				res, err := pharmacy.Dispense(ctx, req)
				cancel()
				if err == nil {
					if res.Outcome.Status != trace.StatusOK {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("%s: outcome %+v", req.RequestID, res.Outcome))
						mu.Unlock()
					}
					a = ack{req: req, txID: res.TxID, at: time.Now(), tries: a.tries}
					break
				}
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%s try %d: %v", req.RequestID, a.tries, err))
				mu.Unlock()
				if a.tries == 5 {
					return
				}
			}
			mu.Lock()
			if gap := a.at.Sub(lastAckAt); gap > maxGap {
				maxGap = gap
			}
			lastAckAt = a.at
			acks = append(acks, a)
			mu.Unlock()
			select {
			case <-upgraded:
				if after++; after >= 10 {
					return
				}
			default:
			}
		}
	}()
	testnet.Eventually(t, time.Minute, "10 scans acknowledged before the upgrade", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acks) < 10 {
			return fmt.Errorf("%d acknowledged", len(acks))
		}
		return nil
	})
	t0 := time.Now()
	out := n.Fabnet(t, "upgrade", "-cc-binary", next)
	upgradeTook := time.Since(t0)
	close(upgraded)
	t.Logf("fabnet upgrade (%s wall): %s", upgradeTook.Round(time.Millisecond), strings.TrimSpace(out))
	<-loadDone

	after := chaincodeStatus(t, n)
	if after.Definition.Sequence != before.Definition.Sequence+1 || after.Definition.Version == before.Definition.Version {
		t.Fatalf("definition after the upgrade: %+v; want sequence %d and a version other than %s", after.Definition, before.Definition.Sequence+1, before.Definition.Version)
	}
	for _, o := range after.Orgs {
		if !o.Running || o.Sequence != after.Definition.Sequence || o.Definition != after.Definition.Version {
			t.Errorf("%s after the upgrade: %+v", o.Org, o)
		}
		info, err := contractAt(t, n, o.Org)
		if err != nil || info.Definition != after.Definition.Version || info.PackageID != o.PackageID {
			t.Errorf("%s's peer runs %+v (%v); want %s, package %s", o.Org, info, err, after.Definition.Version, o.PackageID)
		}
	}

	// Exactly once: every acknowledged request is on the ledger once, by
	// the transaction the client was told about.
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d scans acknowledged (%d failed attempts, each retried), longest gap between acknowledgements %s",
		len(acks), len(failures), maxGap.Round(time.Millisecond))
	for _, f := range failures {
		t.Log("  attempt failed: " + f)
	}
	if len(acks) < 20 {
		t.Fatalf("only %d scans acknowledged", len(acks))
	}
	byContract := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, a := range acks {
		gr, err := pharmacy.GetRequest(ctx, trace.RequestQuery{RequestID: a.req.RequestID})
		if err != nil || !gr.Found || gr.Request.TxID != a.txID {
			t.Errorf("request %s: GetRequest = %+v, %v; client was told tx %s", a.req.RequestID, gr, err, a.txID)
			continue
		}
		byContract[gr.Request.Contract]++
		p := evaluate[trace.GetPackResult](t, ph1, "GetPack", trace.PackQuery{GTIN: g, Serial: a.req.Scan.Serial}).Pack
		if p.State != trace.StateInactive || p.Reason != trace.ReasonDispensed || p.LastTx != a.txID {
			t.Errorf("pack %s after its dispense %s: %+v", a.req.Scan.Serial, a.txID, p)
		}
	}
	t.Logf("requests applied by contract: %v", byContract)
	if byContract[before.Definition.Version] == 0 || byContract[after.Definition.Version] == 0 || len(byContract) != 2 {
		t.Errorf("requests by contract %v: want some applied by %s and some by %s, none by another", byContract, before.Definition.Version, after.Definition.Version)
	}
	perRequest := map[string]int{}
	for _, ev := range replayEvents(t, mfr.cl, startBlock) {
		var e trace.Event
		if err := json.Unmarshal(ev.Payload, &e); err != nil {
			t.Fatal(err)
		}
		perRequest[e.RequestID]++
	}
	for _, a := range acks {
		if c := perRequest[a.req.RequestID]; c != 1 {
			t.Errorf("request %s has %d committed events, want exactly 1", a.req.RequestID, c)
		}
	}

	// Every earlier pack, shipment and anomaly reads the same under N+1.
	for k, v := range answers() {
		if answersN[k] != v {
			t.Errorf("%s changed across the upgrade:\n N:   %s\n N+1: %s", k, answersN[k], v)
		}
	}

	// A server of N for its old package on the address where the peer now
	// expects N+1: N+1's binary refuses that package outright; N's binary
	// starts, but the peer refuses its registration and endorsements at
	// that peer fail, naming the package the peer expects, while the
	// other organisations keep endorsing.
	var oldPh, newPh = before.Orgs[2], after.Orgs[2]
	if oldPh.Org != "Pharmacy" || newPh.Org != "Pharmacy" {
		t.Fatalf("orgs in unexpected order: %s, %s", oldPh.Org, newPh.Org)
	}
	n.Fabnet(t, "stop", "cc.pharmacy")
	defer n.Fabnet(t, "start", "cc.pharmacy")
	if out, err := ccServer(t, n, "Pharmacy", newPh.Binary, oldPh.PackageID, newPh.Address).CombinedOutput(); err == nil ||
		!bytes.Contains(out, []byte("was made for another contract build")) {
		t.Fatalf("N+1's binary started for N's package: %v\n%s", err, out)
	}
	stale := ccServer(t, n, "Pharmacy", oldPh.Binary, oldPh.PackageID, newPh.Address)
	var staleLog bytes.Buffer
	stale.Stdout, stale.Stderr = &staleLog, &staleLog
	if err := stale.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stale.Process.Kill(); _, _ = stale.Process.Wait() }()
	testnet.Eventually(t, 10*time.Second, "N's server listening", func() error {
		c, err := net.DialTimeout("tcp", newPh.Address, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	peerLogFile := n.PeerNode(mustOrg(t, n, "Pharmacy")).LogFile
	logFrom := fileSize(peerLogFile)
	t1 := time.Now()
	_, err = contractAt(t, n, "Pharmacy")
	refusedAfter := time.Since(t1)
	if err == nil || !strings.Contains(err.Error(), newPh.PackageID) {
		t.Fatalf("probe at Pharmacy's peer with N's server on N+1's address: %v; want a failure naming %s", err, newPh.PackageID)
	}
	t.Logf("endorsement at the peer with a stale server failed after %s: %s", refusedAfter.Round(time.Millisecond), err)
	peerLog, _ := os.ReadFile(peerLogFile)
	refusal := regexp.MustCompile(`peer will not accept external chaincode connection ` + regexp.QuoteMeta(oldPh.PackageID) + `.*`)
	if line := refusal.Find(peerLog[logFrom:]); line == nil {
		t.Errorf("peer log does not name the refused server %s", oldPh.PackageID)
	} else {
		t.Logf("peer log: %s", line)
	}
	t2 := time.Now()
	wantOutcome(t, "product registered while Pharmacy's server is stale",
		submit[trace.ProductResult](t, mfr, "RegisterProduct", productRequest(randomGTIN("4012345"))).Outcome, trace.StatusOK, "")
	t.Logf("a write through Manufacturer's gateway committed in %s meanwhile", time.Since(t2).Round(time.Millisecond))
	_ = stale.Process.Kill()
	_, _ = stale.Process.Wait()
	n.Fabnet(t, "start", "cc.pharmacy")
	testnet.Eventually(t, 30*time.Second, "Pharmacy's peer serves N+1 again", func() error {
		info, err := contractAt(t, n, "Pharmacy")
		if err == nil && info.Definition != after.Definition.Version {
			err = fmt.Errorf("runs %s", info.Definition)
		}
		return err
	})

	// `fabnet up` (what `make up` runs) sees that bin/ holds another
	// contract than the committed one and upgrades instead of failing.
	t3 := time.Now()
	upOut := n.Fabnet(t, "up")
	want := fmt.Sprintf("chaincode upgraded from %s to ", after.Definition.Version)
	if !strings.Contains(upOut, want) {
		t.Fatalf("fabnet up on N+1 with bin/ holding another build: output lacks %q:\n%s", want, upOut)
	}
	final := chaincodeStatus(t, n)
	if final.Definition.Sequence != after.Definition.Sequence+1 {
		t.Fatalf("after fabnet up: %+v", final.Definition)
	}
	t.Logf("fabnet up upgraded to %s (sequence %d) in %s", final.Definition.Version, final.Definition.Sequence, time.Since(t3).Round(time.Millisecond))
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func mustOrg(t *testing.T, n *testnet.Network, name string) *netspec.Org {
	t.Helper()
	o, ok := n.Org(name)
	if !ok {
		t.Fatalf("no org %s", name)
	}
	return o
}

// ccServer is a chaincode server of org started by hand, as a member
// could: binary bin for package packageID on address, with the org's
// server certificate.
func ccServer(t *testing.T, n *testnet.Network, org, bin, packageID, address string) *exec.Cmd {
	t.Helper()
	o := mustOrg(t, n, org)
	id := n.IdentityFiles(o.Key(), o.MSPID, "ccaas")
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"CHAINCODE_ID="+packageID,
		"CHAINCODE_SERVER_ADDRESS="+address,
		"CHAINCODE_TLS_CERT="+id.TLSCertFile,
		"CHAINCODE_TLS_KEY="+id.TLSKeyFile,
		"CHAINCODE_TLS_CLIENT_CA="+n.CACert(o.Key()),
		"PHARMATRACE_ORG_ROLES="+n.OrgRoles(),
		"PHARMATRACE_ORG_PREFIXES="+n.OrgPrefixes(),
	)
	return cmd
}
