package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeFabricCA serves POST /api/v1/enroll like a Fabric CA: basic auth,
// a CSR in "certificate_request", a cfssl-style JSON response.
func fakeFabricCA(t *testing.T, ca *testCA, hits *atomic.Int32) *httptest.Server {
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/enroll" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		user, pass, ok := r.BasicAuth()
		if !ok || user != "scanner1" || pass != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"success":false,"result":null,"errors":[{"code":20,"message":"Authentication failure"}],"messages":[]}`))
			return
		}
		var req struct {
			CSR      string `json:"certificate_request"`
			CAName   string `json:"CAName"`
			AttrReqs []struct {
				Name string `json:"name"`
			} `json:"attr_reqs"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("CA: bad request body: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if len(req.AttrReqs) != 1 || req.AttrReqs[0].Name != "role" || req.CAName != "ca-org1" {
			t.Errorf("CA: attr_reqs %+v, CAName %q", req.AttrReqs, req.CAName)
		}
		block, _ := pem.Decode([]byte(req.CSR))
		if block == nil || block.Type != "CERTIFICATE REQUEST" {
			t.Errorf("CA: no CSR PEM")
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil || csr.CheckSignature() != nil || csr.Subject.CommonName != "scanner1" {
			t.Errorf("CA: bad CSR: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		certPEM := ca.issue(t, csr.Subject.CommonName, csr.PublicKey)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"success":  true,
			"result":   map[string]any{"Cert": base64.StdEncoding.EncodeToString(certPEM), "ServerInfo": map[string]any{"CAName": "ca-org1", "CAChain": base64.StdEncoding.EncodeToString(ca.pem)}},
			"errors":   []any{},
			"messages": []any{},
		})
	}))
}

func TestEnrollAgainstFabricCA(t *testing.T) {
	ca := newTestCA(t)
	var hits atomic.Int32
	srv := fakeFabricCA(t, ca, &hits)
	defer srv.Close()
	dir := t.TempDir()
	root := writeFile(t, filepath.Join(dir, "ca-tls.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	e := Enrollment{URL: srv.URL, CAName: "ca-org1", TLSRootCertFile: root, EnrollmentID: "scanner1", Secret: "s3cret", Attributes: []string{"role"}}

	certPEM, keyPEM, err := Enroll(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newSigner("Org1MSP", certPEM, keyPEM); err != nil {
		t.Fatalf("enrolled identity unusable: %v", err)
	}
	if err := verifyIssued(ca, certPEM); err != nil {
		t.Fatal(err)
	}

	t.Run("wrong secret", func(t *testing.T) {
		bad := e
		bad.Secret = "nope"
		_, _, err := Enroll(context.Background(), bad)
		if !errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), "Authentication failure") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("untrusted server", func(t *testing.T) {
		other := e
		other.TLSRootCertFile = writeFile(t, filepath.Join(t.TempDir(), "other.pem"), newTestCA(t).pem)
		if _, _, err := Enroll(context.Background(), other); !errors.Is(err, ErrIdentity) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("stored in MSP dir and reused", func(t *testing.T) {
		before := hits.Load()
		withDir := e
		withDir.MSPDir = filepath.Join(t.TempDir(), "msp")
		id := Identity{MSPID: "Org1MSP", Enroll: &withDir}
		first, sign1, err := LoadIdentity(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		second, _, err := LoadIdentity(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if hits.Load()-before != 1 {
			t.Errorf("CA called %d times, want 1 (second load reuses the stored identity)", hits.Load()-before)
		}
		if string(first.Credentials()) != string(second.Credentials()) {
			t.Error("second load has another certificate")
		}
		if _, err := sign1(make([]byte, 32)); err != nil {
			t.Error(err)
		}
		// The stored directory is a regular MSP directory.
		if _, _, err := LoadIdentity(context.Background(), Identity{MSPID: "Org1MSP", MSPDir: withDir.MSPDir}); err != nil {
			t.Errorf("stored MSP dir unreadable: %v", err)
		}
	})
}

func verifyIssued(ca *testCA, certPEM []byte) error {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return errors.New("no PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok {
		return errors.New("not an EC certificate")
	}
	return cert.CheckSignatureFrom(ca.cert)
}
