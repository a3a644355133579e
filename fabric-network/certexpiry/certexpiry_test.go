package certexpiry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func writeCert(t *testing.T, path, cn string, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The collector finds every certificate of the layout (CA root, enrollment
// and TLS certificates), labels it, and counts files that are no
// certificate; a renewed file is read again at the next scrape.
func TestCollectorExportsEveryCertificateOfTheLayout(t *testing.T) {
	run := t.TempDir()
	exp := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	writeCert(t, filepath.Join(run, "orgs", "pharmacy", "ca", "ca-cert.pem"), "ca.pharmacy", exp)
	writeCert(t, filepath.Join(run, "orgs", "pharmacy", "identities", "peer0", "msp", "signcerts", "cert.pem"), "peer0", exp.Add(time.Hour))
	writeCert(t, filepath.Join(run, "orgs", "pharmacy", "identities", "peer0", "tls", "cert.pem"), "peer0", exp.Add(2*time.Hour))
	writeCert(t, filepath.Join(run, "orgs", "orderer", "identities", "orderer1", "tls", "cert.pem"), "orderer1", exp)
	bad := filepath.Join(run, "orgs", "pharmacy", "identities", "pharm-central", "msp", "signcerts", "cert.pem")
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := NewCollector(run)
	want := `
# HELP pharmatrace_cert_not_after_timestamp_seconds Unix time at which the certificate expires (its NotAfter).
# TYPE pharmatrace_cert_not_after_timestamp_seconds gauge
pharmatrace_cert_not_after_timestamp_seconds{cn="ca.pharmacy",identity="ca",org="pharmacy",type="ca"} 1.8039024e+09
pharmatrace_cert_not_after_timestamp_seconds{cn="orderer1",identity="orderer1",org="orderer",type="tls"} 1.8039024e+09
pharmatrace_cert_not_after_timestamp_seconds{cn="peer0",identity="peer0",org="pharmacy",type="enrollment"} 1.803906e+09
pharmatrace_cert_not_after_timestamp_seconds{cn="peer0",identity="peer0",org="pharmacy",type="tls"} 1.8039096e+09
# HELP pharmatrace_cert_unreadable_files Certificate files that could not be read or parsed at this scrape.
# TYPE pharmatrace_cert_unreadable_files gauge
pharmatrace_cert_unreadable_files 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	// Renewed: the next scrape sees the new date.
	writeCert(t, filepath.Join(run, "orgs", "orderer", "identities", "orderer1", "tls", "cert.pem"), "orderer1", exp.AddDate(1, 0, 0))
	renewed := strings.Replace(want, `org="orderer",type="tls"} 1.8039024e+09`, `org="orderer",type="tls"} 1.8355248e+09`, 1)
	if err := testutil.CollectAndCompare(c, strings.NewReader(renewed)); err != nil {
		t.Fatal(err)
	}
}
