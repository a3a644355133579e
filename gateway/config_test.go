package gateway

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func validConfig() Config {
	return Config{
		Endpoints: []Endpoint{
			{Address: "127.0.0.1:7051", TLSRootCertFile: "org1-tls.pem"},
			{Address: "peer0.org2:9051", TLSRootCertFile: "org2-tls.pem", ServerNameOverride: "peer0.org2.example.com"},
		},
		Identity:  Identity{MSPID: "Org1MSP", CertFile: "cert.pem", KeyFile: "key.pem"},
		Channel:   "pharmatrace",
		Chaincode: "pharmatrace",
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (&Config{}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty config: %v", err)
	}
	c := validConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name  string
		edit  func(c *Config)
		field string
	}{
		{"no endpoints", func(c *Config) { c.Endpoints = nil }, "Endpoints"},
		{"bad address", func(c *Config) { c.Endpoints[1].Address = "peer0" }, "Endpoints[1].Address"},
		{"non-numeric port", func(c *Config) { c.Endpoints[0].Address = "peer0:http" }, "Endpoints[0].Address"},
		{"duplicate address", func(c *Config) { c.Endpoints[1].Address = c.Endpoints[0].Address }, "Endpoints[1].Address"},
		{"no TLS root", func(c *Config) { c.Endpoints[0].TLSRootCertFile = "" }, "Endpoints[0].TLSRootCertFile"},
		{"client cert without key", func(c *Config) { c.Endpoints[0].TLSClientCertFile = "c.pem" }, "Endpoints[0].TLSClientCertFile"},
		{"no MSP ID", func(c *Config) { c.Identity.MSPID = "" }, "Identity.MSPID"},
		{"cert without key", func(c *Config) { c.Identity.KeyFile = "" }, "Identity.KeyFile"},
		{"two identity forms", func(c *Config) { c.Identity.MSPDir = "msp" }, "Identity"},
		{"no identity form", func(c *Config) { c.Identity = Identity{MSPID: "M"} }, "Identity"},
		{"no channel", func(c *Config) { c.Channel = "" }, "Channel"},
		{"no chaincode", func(c *Config) { c.Chaincode = "" }, "Chaincode"},
		{"empty endorsing org", func(c *Config) { c.EndorsingOrgs = []string{"Org1MSP", " "} }, "EndorsingOrgs[1]"},
		{"negative timeout", func(c *Config) { c.Timeouts.Submit = -time.Second }, "Timeouts.Submit"},
		{"negative keepalive", func(c *Config) { c.KeepaliveTime = -1 }, "KeepaliveTime"},
		{"retry bounds", func(c *Config) { c.Retry.MaxAttempts = -2 }, "Retry.MaxAttempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(&c)
			err := c.Validate()
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want a *ConfigError", err)
			}
			if ce.Field != tt.field {
				t.Errorf("field = %q, want %q (%v)", ce.Field, tt.field, err)
			}
		})
	}
}

func TestTimeoutsDefaults(t *testing.T) {
	got := Timeouts{Submit: time.Second}.withDefaults()
	want := DefaultTimeouts()
	want.Submit = time.Second
	if got != want {
		t.Errorf("withDefaults = %+v, want %+v", got, want)
	}
}

func TestMetricsNilSafeAndRegistration(t *testing.T) {
	var m *Metrics
	m.observeSubmit("f", "ok", time.Second)
	m.observeEvaluate("f", "ok", time.Second)
	m.retry("f", "r")
	m.failover("a")
	m.lookup("found")
	m.streamLag("s", 1)
	m.streamEvent("s")
	m.streamReconnect("s")
	m.route("f", "cached")

	reg := newRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("registering twice on one registry succeeded")
	}
}

func TestOutcomeOf(t *testing.T) {
	tests := []struct {
		raw  string
		err  error
		want string
	}{
		{`{"status":"ok"}`, nil, "ok"},
		{`{"status":"refused","code":"A24"}`, nil, "refused"},
		{`{"outcome":{"status":"refused","code":"A24"},"pack":{"state":"active"}}`, nil, "refused"},
		{`{"outcome":{"status":"ok"},"note":"refused"}`, nil, "ok"},
		{`{"note":"refused elsewhere"}`, nil, "ok"},
		{``, &Error{Kind: KindConflict}, "conflict"},
		{``, errors.New("plain"), "internal"},
	}
	for _, tt := range tests {
		if got := outcomeOf([]byte(tt.raw), tt.err); got != tt.want {
			t.Errorf("outcomeOf(%s, %v) = %q, want %q", tt.raw, tt.err, got, tt.want)
		}
	}
}

func newRegistry() *prometheus.Registry { return prometheus.NewRegistry() }
