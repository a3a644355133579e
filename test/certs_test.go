//go:build integration

package test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/test/testnet"
	"github.com/pharmatrace/pharmatrace/trace"
)

// servedCert returns the TLS certificate a node serves on addr.
func servedCert(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only reads the certificate
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// On a network of its own (the channel configuration changes for good): a
// stolen scanner station's identity is revoked and its very next
// transaction is refused while the other station of the same pharmacy, and
// every other organisation, keep working; then a user's and a peer's
// certificates are renewed to short-lived ones and back to a year's, each
// time without stopping the network, and the renewed identities keep
// transacting.
func TestCertificateRevokeAndRenew(t *testing.T) {
	n := testnet.Fresh(t, testnet.FreshOffset)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	mfr := n.Client(t, "Manufacturer", "mfr-alpha", nil)
	station := n.Client(t, "Pharmacy", "pharm-station", nil) // the stolen one
	central := n.Client(t, "Pharmacy", "pharm-central", nil)

	g := randomGTIN("4012345")
	if r, err := mfr.RegisterProduct(ctx, productRequest(g)); err != nil || !r.OK() {
		t.Fatalf("RegisterProduct = %+v, %v", r, err)
	}
	lot, exp := "RV"+runTag(), "301231"
	serials := make([]string, 10)
	for i := range serials {
		serials[i] = fmt.Sprintf("R%d", i)
	}
	if r, err := mfr.CommissionPacks(ctx, trace.CommissionPacksRequest{RequestHeader: header(), GTIN: g, Lot: lot, Expiry: exp, Serials: serials}); err != nil || !r.OK() {
		t.Fatalf("CommissionPacks = %+v, %v", r, err)
	}
	dispense := func(c *gateway.Client, i int) (*trace.ScanResult, error) {
		return c.Dispense(ctx, trace.ScanRequest{RequestHeader: header(), Scan: trace.Scan{GTIN: g, Serial: serials[i], Lot: lot, Expiry: exp}})
	}
	mustDispense := func(who string, c *gateway.Client, i int) {
		t.Helper()
		r, err := dispense(c, i)
		if err != nil || r.Outcome.Status != trace.StatusOK {
			t.Fatalf("%s dispensing %s: %+v, %v", who, serials[i], r, err)
		}
	}
	mustDispense("the station before revocation", station, 0)

	// Revoke the station: CA revocation, CRL, channel config update.
	t0 := time.Now()
	out := n.Fabnet(t, "revoke", "-reason", "keycompromise", "Pharmacy/pharm-station")
	revokeTook := time.Since(t0)
	t.Logf("fabnet revoke took %s: %s", revokeTook.Round(time.Millisecond), strings.TrimSpace(lastLine(out)))
	_, err := dispense(station, 2)
	refusedAfter := time.Since(t0)
	if err == nil {
		t.Fatal("the revoked station's next dispense was accepted")
	}
	t.Logf("the revoked station's next dispense, %s after the revocation began, refused: %v", refusedAfter.Round(time.Millisecond), err)
	if !strings.Contains(err.Error(), "access denied") && !strings.Contains(err.Error(), "revoked") {
		t.Errorf("refusal does not say access denied: %v", err)
	}
	if _, err := station.Verify(ctx, trace.VerifyRequest{Scan: trace.Scan{GTIN: g, Serial: serials[3], Lot: lot, Expiry: exp}}); err == nil {
		t.Error("the revoked station may still query")
	}
	reg := n.Client(t, "Regulator", "inspector", nil)
	if p, err := reg.GetPack(ctx, trace.PackQuery{GTIN: g, Serial: serials[2]}); err != nil || p.Pack.State != trace.StateActive {
		t.Fatalf("pack the revoked station tried to dispense: %+v, %v; want it still active", p, err)
	}
	mustDispense("the other station of the pharmacy", central, 1)
	if r, err := mfr.RegisterProduct(ctx, productRequest(randomGTIN("4012345"))); err != nil || !r.OK() {
		t.Fatalf("another organisation after the revocation: %+v, %v", r, err)
	}
	if out, err := n.FabnetErr("renew", "Pharmacy/pharm-station"); err == nil || !strings.Contains(out, "Authentication failure") {
		t.Fatalf("a revoked identity renewed itself: %v\n%s", err, out)
	}

	// Renew a user: to a certificate valid 10 minutes, then to a year.
	// A client dialled with the renewed certificate keeps its attributes
	// (role, site), so the contract accepts it.
	user, err := n.User("Pharmacy", "pharm-central")
	if err != nil {
		t.Fatal(err)
	}
	renewUser := func(expiry string, i int, min, max time.Duration) {
		t.Helper()
		args := []string{"renew", "Pharmacy/pharm-central"}
		if expiry != "" {
			args = []string{"renew", "-expiry", expiry, "Pharmacy/pharm-central"}
		}
		n.Fabnet(t, args...)
		c, err := readCertFile(user.CertFile)
		if err != nil {
			t.Fatal(err)
		}
		if left := time.Until(c.NotAfter); left < min || left > max {
			t.Fatalf("renewed user certificate valid for %s more, want %s..%s", left, min, max)
		}
		mustDispense("pharm-central renewed (valid until "+c.NotAfter.Format(time.RFC3339)+")", n.Client(t, "Pharmacy", "pharm-central", nil), i)
	}
	renewUser("10m", 4, 8*time.Minute, 11*time.Minute)
	renewUser("", 5, 300*24*time.Hour, 367*24*time.Hour)

	// Renew a peer (enrollment and TLS certificates; the one peer restarts,
	// its chaincode package is made with its new TLS client certificate).
	ph, _ := n.Org("Pharmacy")
	peer := n.PeerNode(ph)
	renewPeer := func(expiry string, i int, min, max time.Duration) {
		t.Helper()
		before := servedCert(t, peer.Address)
		args := []string{"renew", peer.Name}
		if expiry != "" {
			args = []string{"renew", "-expiry", expiry, peer.Name}
		}
		t1 := time.Now()
		n.Fabnet(t, args...)
		took := time.Since(t1)
		served := servedCert(t, peer.Address)
		if served.SerialNumber.Cmp(before.SerialNumber) == 0 {
			t.Fatal("the peer serves its old TLS certificate")
		}
		if left := time.Until(served.NotAfter); left < min || left > max {
			t.Fatalf("renewed peer TLS certificate valid for %s more, want %s..%s", left, min, max)
		}
		if info, err := contractAt(t, n, "Pharmacy"); err != nil {
			t.Fatalf("Pharmacy's peer runs no chaincode after its renewal: %v", err)
		} else {
			t.Logf("peer renewed in %s (TLS valid until %s); its chaincode package is now %s", took.Round(time.Millisecond), served.NotAfter.Format(time.RFC3339), info.PackageID)
		}
		mustDispense("pharm-central through the renewed peer", n.Client(t, "Pharmacy", "pharm-central", nil), i)
		if r, err := mfr.RegisterProduct(ctx, productRequest(randomGTIN("4012345"))); err != nil || !r.OK() {
			t.Fatalf("another organisation after the peer's renewal: %+v, %v", r, err)
		}
	}
	renewPeer("10m", 6, 8*time.Minute, 11*time.Minute)
	renewPeer("", 7, 300*24*time.Hour, 367*24*time.Hour)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func readCertFile(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}
