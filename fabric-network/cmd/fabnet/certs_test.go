package main

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The part of a Fabric CA 1.5 server configuration shortenExpiry edits.
const caConfig = `version: 1.5.15
port: 7054
signing:
    default:
      usage:
        - digital signature
      expiry: 8760h
    profiles:
      ca:
         usage:
           - cert sign
         expiry: 43800h
      tls:
         usage:
            - server auth
         expiry: 8760h
crl:
  expiry: 24h
`

func TestShortenExpiry(t *testing.T) {
	out, err := shortenExpiry([]byte(caConfig), 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Version string
		Port    int
		Signing struct {
			Default struct {
				Usage  []string
				Expiry string
			}
			Profiles map[string]struct{ Expiry string }
		}
		CRL struct{ Expiry string }
	}
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Signing.Default.Expiry != "10m0s" || got.Signing.Profiles["tls"].Expiry != "10m0s" {
		t.Errorf("default and tls expiry = %q, %q; want 10m0s", got.Signing.Default.Expiry, got.Signing.Profiles["tls"].Expiry)
	}
	if got.Signing.Profiles["ca"].Expiry != "43800h" || got.CRL.Expiry != "24h" || got.Port != 7054 || got.Version != "1.5.15" ||
		len(got.Signing.Default.Usage) != 1 {
		t.Errorf("other settings changed: %+v", got)
	}
	if _, err := shortenExpiry([]byte("port: 1\n"), time.Minute); err == nil || !strings.Contains(err.Error(), "expiry") {
		t.Errorf("a configuration without signing expiry: %v", err)
	}
}
