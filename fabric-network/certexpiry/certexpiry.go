// Package certexpiry exports when the certificates of a PharmaTrace network
// expire, as Prometheus metrics. Fabric v2.5.0's peers and orderers only log
// a warning in the week before their own enrollment or TLS certificate
// expires, and Fabric CA v1.5.15 exports no expiry either, so `make monitor`
// runs this collector (`fabnet cert-exporter`) over the network's
// certificate files: every org's CA root, and every identity's enrollment
// and TLS certificate. Files are read at each scrape, so a renewed
// certificate shows at once.
package certexpiry

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Kinds of certificates.
const (
	KindCA         = "ca"
	KindEnrollment = "enrollment"
	KindTLS        = "tls"
)

// Cert is one certificate file of the network and what it is.
type Cert struct {
	Path     string
	Org      string // the org's directory key: "pharmacy", "orderer"
	Identity string // "peer0", "pharm-central"; "ca" for the CA root
	Kind     string // KindCA, KindEnrollment or KindTLS: the label "type" (scrape targets carry "kind")
}

// patterns place the certificates under a run directory, as netspec.Layout
// lays them out: orgs/<org>/ca/ca-cert.pem,
// orgs/<org>/identities/<name>/msp/signcerts/cert.pem and
// orgs/<org>/identities/<name>/tls/cert.pem.
var patterns = []struct {
	glob, kind string
}{
	{filepath.Join("orgs", "*", "ca", "ca-cert.pem"), KindCA},
	{filepath.Join("orgs", "*", "identities", "*", "msp", "signcerts", "cert.pem"), KindEnrollment},
	{filepath.Join("orgs", "*", "identities", "*", "tls", "cert.pem"), KindTLS},
}

// Files lists the certificate files of the network whose run directory is
// runDir.
func Files(runDir string) ([]Cert, error) {
	var out []Cert
	for _, p := range patterns {
		paths, err := filepath.Glob(filepath.Join(runDir, p.glob))
		if err != nil {
			return nil, err
		}
		for _, path := range paths {
			rel, err := filepath.Rel(runDir, path)
			if err != nil {
				return nil, err
			}
			parts := strings.Split(filepath.ToSlash(rel), "/") // orgs, <org>, identities|ca, <name>, ...
			c := Cert{Path: path, Org: parts[1], Identity: "ca", Kind: p.kind}
			if p.kind != KindCA {
				c.Identity = parts[3]
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// Read parses the first certificate of a PEM file.
func Read(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New(path + ": no PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Collector exports pharmatrace_cert_not_after_timestamp_seconds (the Unix
// time a certificate expires) by org, identity, type (ca, enrollment, tls)
// and subject CN, and
// pharmatrace_cert_unreadable_files (files that are not a certificate).
type Collector struct {
	runDir     string
	notAfter   *prometheus.Desc
	unreadable *prometheus.Desc
}

// NewCollector returns the collector of the network run from runDir.
func NewCollector(runDir string) *Collector {
	return &Collector{
		runDir: runDir,
		notAfter: prometheus.NewDesc("pharmatrace_cert_not_after_timestamp_seconds",
			"Unix time at which the certificate expires (its NotAfter).", []string{"org", "identity", "type", "cn"}, nil),
		unreadable: prometheus.NewDesc("pharmatrace_cert_unreadable_files",
			"Certificate files that could not be read or parsed at this scrape.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.notAfter
	ch <- c.unreadable
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	files, err := Files(c.runDir)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.notAfter, err)
		return
	}
	bad := 0
	for _, f := range files {
		cert, err := Read(f.Path)
		if err != nil {
			bad++
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.notAfter, prometheus.GaugeValue, float64(cert.NotAfter.Unix()),
			f.Org, f.Identity, f.Kind, cert.Subject.CommonName)
	}
	ch <- prometheus.MustNewConstMetric(c.unreadable, prometheus.GaugeValue, float64(bad))
}
