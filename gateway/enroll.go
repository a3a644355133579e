package gateway

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/identity"
)

// Enroll obtains a new X.509 certificate from a Fabric CA: it generates a
// P-256 key, sends a CSR to the CA's REST API (POST /api/v1/enroll with the
// enrollment ID and secret as basic auth) and returns the certificate and
// the PKCS#8 private key, both PEM.
func Enroll(ctx context.Context, e Enrollment) (certPEM, keyPEM []byte, err error) {
	if err := e.validate("Enrollment"); err != nil {
		return nil, nil, err
	}
	rootPEM, err := os.ReadFile(e.TLSRootCertFile)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: enroll: read CA TLS root: %w", ErrIdentity, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		return nil, nil, fmt.Errorf("%w: enroll: no certificate in %s", ErrIdentity, e.TLSRootCertFile)
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	hc := &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
	}
	defer hc.CloseIdleConnections()
	return enroll(ctx, hc, e)
}

// enrollRequest is the Fabric CA's EnrollmentRequestNet (a cfssl
// SignRequest plus CAName and attribute requests).
type enrollRequest struct {
	Request  string        `json:"certificate_request"`
	Profile  string        `json:"profile"`
	Label    string        `json:"label"`
	CAName   string        `json:"CAName,omitempty"`
	AttrReqs []attrRequest `json:"attr_reqs,omitempty"`
}

type attrRequest struct {
	Name     string `json:"name"`
	Optional bool   `json:"optional,omitempty"`
}

// enrollResponse is the cfssl response envelope around EnrollmentResponseNet.
type enrollResponse struct {
	Success bool `json:"success"`
	Result  struct {
		Cert string `json:"Cert"` // base64 of the PEM certificate
	} `json:"result"`
	Errors []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

func enroll(ctx context.Context, hc *http.Client, e Enrollment) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: enroll: generate key: %w", ErrIdentity, err)
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:            pkix.Name{CommonName: e.EnrollmentID},
		SignatureAlgorithm: x509.ECDSAWithSHA256,
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: enroll: create CSR: %w", ErrIdentity, err)
	}
	req := enrollRequest{
		Request: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})),
		CAName:  e.CAName,
	}
	for _, a := range e.Attributes {
		req.AttrReqs = append(req.AttrReqs, attrRequest{Name: a})
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: enroll: %w", ErrIdentity, err)
	}
	url := strings.TrimRight(e.URL, "/") + "/api/v1/enroll"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: enroll: %w", ErrIdentity, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.SetBasicAuth(e.EnrollmentID, e.Secret)
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: enroll at %s: %w", ErrIdentity, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: enroll: read response: %w", ErrIdentity, err)
	}
	var er enrollResponse
	if err := json.Unmarshal(raw, &er); err != nil {
		return nil, nil, fmt.Errorf("%w: enroll: HTTP %d, undecodable response: %w", ErrIdentity, resp.StatusCode, err)
	}
	if resp.StatusCode >= 300 || !er.Success {
		msgs := make([]string, 0, len(er.Errors))
		for _, m := range er.Errors {
			msgs = append(msgs, fmt.Sprintf("%d %s", m.Code, m.Message))
		}
		return nil, nil, fmt.Errorf("%w: enroll refused by the CA: HTTP %d: %s", ErrIdentity, resp.StatusCode, strings.Join(msgs, "; "))
	}
	certPEM, err = base64.StdEncoding.DecodeString(er.Result.Cert)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: enroll: certificate is not base64: %w", ErrIdentity, err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: enroll: parse certificate: %w", ErrIdentity, err)
	}
	if !keyMatchesCert(key, cert) {
		return nil, nil, fmt.Errorf("%w: enroll: the CA returned a certificate for another key", ErrIdentity)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: enroll: %w", ErrIdentity, err)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// enrollOrReuse returns the identity stored in e.MSPDir when there is a
// valid one, and otherwise enrolls and stores the result there.
func enrollOrReuse(ctx context.Context, e *Enrollment) (certPEM, keyPEM []byte, err error) {
	if e.MSPDir != "" {
		if c, k, err := readMSPDir(e.MSPDir); err == nil {
			if cert, err := identity.CertificateFromPEM(c); err == nil && time.Now().Before(cert.NotAfter) {
				return c, k, nil
			}
		}
	}
	certPEM, keyPEM, err = Enroll(ctx, *e)
	if err != nil {
		return nil, nil, err
	}
	if e.MSPDir != "" {
		if err := writeMSPDir(e.MSPDir, certPEM, keyPEM); err != nil {
			return nil, nil, err
		}
	}
	return certPEM, keyPEM, nil
}

// writeMSPDir stores an enrolled identity as signcerts/cert.pem and
// keystore/key.pem (mode 0600), each written atomically.
func writeMSPDir(dir string, certPEM, keyPEM []byte) error {
	for _, f := range []struct {
		sub, name string
		data      []byte
		mode      os.FileMode
	}{
		{"keystore", "key.pem", keyPEM, 0o600},
		{"signcerts", "cert.pem", certPEM, 0o644},
	} {
		d := filepath.Join(dir, f.sub)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("%w: store enrollment: %w", ErrIdentity, err)
		}
		// Remove other keys so the keystore holds exactly the current one.
		if f.sub == "keystore" {
			old, _ := os.ReadDir(d)
			for _, o := range old {
				if o.Name() != f.name {
					_ = os.Remove(filepath.Join(d, o.Name()))
				}
			}
		}
		if err := writeFileAtomic(filepath.Join(d, f.name), f.data, f.mode); err != nil {
			return fmt.Errorf("%w: store enrollment: %w", ErrIdentity, err)
		}
	}
	return nil
}
