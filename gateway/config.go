package gateway

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalidConfig is matched (errors.Is) by every *ConfigError.
var ErrInvalidConfig = errors.New("gateway: invalid config")

// ConfigError names the Config field that is wrong.
type ConfigError struct {
	Field   string // e.g. "Endpoints[1].TLSRootCertFile"
	Problem string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("gateway: invalid config: %s: %s", e.Field, e.Problem)
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Config describes how to reach the ledger. The zero values of Timeouts,
// Retry and ReconnectMaxDelay mean the defaults (see DefaultTimeouts,
// DefaultRetryPolicy).
type Config struct {
	// Endpoints are peer gateway endpoints, possibly of several
	// organizations, in order of preference. At least one.
	Endpoints []Endpoint
	// Identity is the client identity that signs proposals.
	Identity Identity
	// Channel and Chaincode name the ledger and the contract.
	Channel   string
	Chaincode string
	// EndorsingOrgs, when set, is passed to every submit as
	// client.WithEndorsingOrganizations (a call may override it).
	EndorsingOrgs []string

	Timeouts Timeouts
	Retry    RetryPolicy
	// ReconnectMaxDelay caps gRPC's reconnect backoff, so that a restarted
	// peer is used again soon. Default 1s.
	ReconnectMaxDelay time.Duration
	// DialTimeout bounds the initial connection attempt of each endpoint
	// (Dial does not fail when a peer is down, it only logs). Default 3s.
	DialTimeout time.Duration
	// KeepaliveTime is the gRPC client keepalive ping interval. It must not
	// be below the peers' keepalive minInterval (Fabric's default is 60s,
	// pinging more often gets the connection closed). Default 60s.
	KeepaliveTime time.Duration
	// KeepaliveTimeout is how long a keepalive ping may go unanswered before
	// the connection is considered dead. Default 20s.
	KeepaliveTimeout time.Duration
}

// Endpoint is one peer's gateway service.
type Endpoint struct {
	// Address is host:port of the peer.
	Address string
	// MSPID is the organisation that runs the peer. A request routed to a
	// manufacturer's collection carries serials as transient data, which
	// the peer the client talks to reads: it goes only through a peer of
	// the client's own organisation or of the collection's members. Empty:
	// unknown, trusted only as the first (home) endpoint.
	MSPID string
	// TLSRootCertFile is the PEM file of the CA that signed the peer's TLS
	// certificate.
	TLSRootCertFile string
	// ServerNameOverride, when set, is the name checked against the peer's
	// TLS certificate instead of the host part of Address.
	ServerNameOverride string
	// TLSClientCertFile and TLSClientKeyFile, both or neither, enable
	// mutual TLS.
	TLSClientCertFile string
	TLSClientKeyFile  string
}

// Identity is the client's Fabric identity: exactly one of
// CertFile+KeyFile or MSPDir.
type Identity struct {
	// MSPID is the membership service provider ID of the identity's org.
	MSPID string
	// CertFile and KeyFile are PEM files: the X.509 enrollment certificate
	// and its private key (PKCS#8, SEC 1 EC or PKCS#1).
	CertFile string
	KeyFile  string
	// MSPDir is an MSP directory as written by a Fabric CA enrollment:
	// signcerts/*.pem and keystore/*.
	MSPDir string
}

// Timeouts bound each remote call of a request; the caller's context bounds
// the request as a whole.
type Timeouts struct {
	Endorse time.Duration // default 15s
	Submit  time.Duration // default 10s
	// CommitWindow is how long a transaction the orderer accepted may take
	// to commit before the client suspects the orderers lost it (a raft
	// leader that died or stepped down with blocks in flight): it then
	// looks the request up by request ID (with a request lookup) and, when
	// the ledger does not have it, runs it again under the same request ID
	// (safe: the chaincode de-duplicates, and of two transactions of one
	// request only one can commit). Commits take ~BatchTimeout + ~50 ms
	// here, a 5,000-serial commission ~1 s; raise the window for larger
	// transactions or slower validation, or each slow commit costs a
	// second endorsement. Default 3s.
	CommitWindow time.Duration
	Evaluate     time.Duration // default 10s
	// LookupReserve is kept back from the caller's deadline for the request
	// lookup after an ambiguous failure (only when a lookup is configured
	// and the context has a deadline). Default 2s.
	LookupReserve time.Duration
}

// DefaultTimeouts returns the defaults used for zero Timeouts fields.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Endorse:       15 * time.Second,
		Submit:        10 * time.Second,
		CommitWindow:  3 * time.Second,
		Evaluate:      10 * time.Second,
		LookupReserve: 2 * time.Second,
	}
}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts()
	if t.Endorse <= 0 {
		t.Endorse = d.Endorse
	}
	if t.Submit <= 0 {
		t.Submit = d.Submit
	}
	if t.CommitWindow <= 0 {
		t.CommitWindow = d.CommitWindow
	}
	if t.Evaluate <= 0 {
		t.Evaluate = d.Evaluate
	}
	if t.LookupReserve <= 0 {
		t.LookupReserve = d.LookupReserve
	}
	return t
}

// Validate checks c and returns a *ConfigError naming the first bad field.
func (c *Config) Validate() error {
	if len(c.Endpoints) == 0 {
		return &ConfigError{"Endpoints", "at least one endpoint is required"}
	}
	seen := map[string]bool{}
	for i, ep := range c.Endpoints {
		f := fmt.Sprintf("Endpoints[%d]", i)
		if err := validateAddress(ep.Address); err != nil {
			return &ConfigError{f + ".Address", err.Error()}
		}
		if seen[ep.Address] {
			return &ConfigError{f + ".Address", fmt.Sprintf("duplicate endpoint %q", ep.Address)}
		}
		seen[ep.Address] = true
		if ep.TLSRootCertFile == "" {
			return &ConfigError{f + ".TLSRootCertFile", "required"}
		}
		if (ep.TLSClientCertFile == "") != (ep.TLSClientKeyFile == "") {
			return &ConfigError{f + ".TLSClientCertFile", "TLSClientCertFile and TLSClientKeyFile go together"}
		}
	}
	if err := c.Identity.validate("Identity"); err != nil {
		return err
	}
	if c.Channel == "" {
		return &ConfigError{"Channel", "required"}
	}
	if c.Chaincode == "" {
		return &ConfigError{"Chaincode", "required"}
	}
	for i, org := range c.EndorsingOrgs {
		if strings.TrimSpace(org) == "" {
			return &ConfigError{fmt.Sprintf("EndorsingOrgs[%d]", i), "empty MSP ID"}
		}
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"Timeouts.Endorse", c.Timeouts.Endorse},
		{"Timeouts.Submit", c.Timeouts.Submit},
		{"Timeouts.CommitWindow", c.Timeouts.CommitWindow},
		{"Timeouts.Evaluate", c.Timeouts.Evaluate},
		{"Timeouts.LookupReserve", c.Timeouts.LookupReserve},
		{"ReconnectMaxDelay", c.ReconnectMaxDelay},
		{"DialTimeout", c.DialTimeout},
		{"KeepaliveTime", c.KeepaliveTime},
		{"KeepaliveTimeout", c.KeepaliveTimeout},
	} {
		if d.v < 0 {
			return &ConfigError{d.field, "negative duration"}
		}
	}
	if err := c.Retry.validate("Retry"); err != nil {
		return err
	}
	return nil
}

func validateAddress(addr string) error {
	if addr == "" {
		return errors.New("required")
	}
	i := strings.LastIndex(addr, ":")
	if i <= 0 || i == len(addr)-1 {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if !isDigits(addr[i+1:]) {
		return fmt.Errorf("%q has a non-numeric port", addr)
	}
	return nil
}

func (id *Identity) validate(field string) error {
	if id.MSPID == "" {
		return &ConfigError{field + ".MSPID", "required"}
	}
	forms := 0
	if id.CertFile != "" || id.KeyFile != "" {
		forms++
		if id.CertFile == "" {
			return &ConfigError{field + ".CertFile", "required with KeyFile"}
		}
		if id.KeyFile == "" {
			return &ConfigError{field + ".KeyFile", "required with CertFile"}
		}
	}
	if id.MSPDir != "" {
		forms++
	}
	switch forms {
	case 0:
		return &ConfigError{field, "one of CertFile+KeyFile or MSPDir is required"}
	case 1:
		return nil
	default:
		return &ConfigError{field, "only one of CertFile+KeyFile or MSPDir may be set"}
	}
}
