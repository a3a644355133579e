package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA is a throwaway certificate authority for tests.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{key: key, cert: cert, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue signs pub for cn; hosts become DNS/IP SANs (for TLS servers).
func (ca *testCA) issue(t *testing.T, cn string, pub any, hosts ...string) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// newKeyPEM returns an EC key and its PEM in the given encoding.
func newKeyPEM(t *testing.T, pkcs8 bool) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if pkcs8 {
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	der, _ := x509.MarshalECPrivateKey(key)
	return key, append([]byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})...)
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadIdentityFiles(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	for _, pkcs8 := range []bool{true, false} {
		key, keyPEM := newKeyPEM(t, pkcs8)
		certFile := writeFile(t, filepath.Join(dir, "cert.pem"), ca.issue(t, "user1", &key.PublicKey))
		keyFile := writeFile(t, filepath.Join(dir, "key.pem"), keyPEM)
		id, sign, err := LoadIdentity(context.Background(), Identity{MSPID: "Org1MSP", CertFile: certFile, KeyFile: keyFile})
		if err != nil {
			t.Fatalf("pkcs8=%v: %v", pkcs8, err)
		}
		if id.MspID() != "Org1MSP" {
			t.Errorf("MSP ID %q", id.MspID())
		}
		digest := make([]byte, 32)
		sig, err := sign(digest)
		if err != nil || !ecdsa.VerifyASN1(&key.PublicKey, digest, sig) {
			t.Errorf("pkcs8=%v: signature does not verify: %v", pkcs8, err)
		}
	}
}

func TestLoadIdentityErrors(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	key, keyPEM := newKeyPEM(t, true)
	_, otherKeyPEM := newKeyPEM(t, true)
	certFile := writeFile(t, filepath.Join(dir, "cert.pem"), ca.issue(t, "u", &key.PublicKey))
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	tests := []struct {
		name string
		cert string
		key  []byte
	}{
		{"key of another certificate", certFile, otherKeyPEM},
		{"not a key", certFile, []byte("hello")},
		{"RSA key", writeFile(t, filepath.Join(dir, "rsa-cert.pem"), ca.issue(t, "u", &rsaKey.PublicKey)), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})},
		{"missing certificate", filepath.Join(dir, "nope.pem"), keyPEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keyFile := writeFile(t, filepath.Join(t.TempDir(), "key"), tt.key)
			_, _, err := LoadIdentity(context.Background(), Identity{MSPID: "M", CertFile: tt.cert, KeyFile: keyFile})
			if !errors.Is(err, ErrIdentity) {
				t.Fatalf("err = %v, want ErrIdentity", err)
			}
		})
	}
	if _, _, err := LoadIdentity(context.Background(), Identity{MSPID: "M"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("no identity form: err = %v", err)
	}
}

func TestLoadIdentityMSPDir(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	key, keyPEM := newKeyPEM(t, true)
	_, stray := newKeyPEM(t, true)
	writeFile(t, filepath.Join(dir, "signcerts", "cert.pem"), ca.issue(t, "u", &key.PublicKey))
	// Fabric CA names keys <ski>_sk; an older key and a junk file sit beside it.
	writeFile(t, filepath.Join(dir, "keystore", "0000_sk"), stray)
	writeFile(t, filepath.Join(dir, "keystore", "README"), []byte("not a key"))
	writeFile(t, filepath.Join(dir, "keystore", "ffff_sk"), keyPEM)
	id, sign, err := LoadIdentity(context.Background(), Identity{MSPID: "M", MSPDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := sign(make([]byte, 32))
	if err != nil || !ecdsa.VerifyASN1(&key.PublicKey, make([]byte, 32), sig) || id.MspID() != "M" {
		t.Fatalf("wrong key chosen: %v", err)
	}

	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "signcerts", "cert.pem"), ca.issue(t, "u", &key.PublicKey))
	writeFile(t, filepath.Join(empty, "keystore", "x_sk"), stray)
	if _, _, err := LoadIdentity(context.Background(), Identity{MSPID: "M", MSPDir: empty}); !errors.Is(err, ErrIdentity) {
		t.Fatalf("no matching key: err = %v", err)
	}
}
