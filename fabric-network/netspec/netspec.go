// Package netspec describes the PharmaTrace consortium as data: the network
// definition a person edits (fabric-network/network.yaml) and the runtime
// layout derived from it (where every certificate, key, log and PID file of a
// running network lives). fabnet builds the network from it; tests, the
// gateway, the scanner agent and the API find endpoints and identities
// through it, so no path or port is written twice.
package netspec

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pharmatrace/pharmatrace/gs1"
)

// Spec is the network definition (network.yaml).
type Spec struct {
	Channel    string     `yaml:"channel"`
	Host       string     `yaml:"host"`
	Chaincode  Chaincode  `yaml:"chaincode"`
	Ordering   Ordering   `yaml:"ordering"`
	OrdererOrg OrdererOrg `yaml:"ordererOrg"`
	Orgs       []Org      `yaml:"orgs"`
	// Apps are the PharmaTrace processes `make up` starts beside the
	// network for a demo on this machine.
	Apps Apps `yaml:"apps"`
	// Monitoring places the Prometheus server `make monitor` starts beside
	// the network and the certificate expiry exporter it scrapes.
	Monitoring Monitoring `yaml:"monitoring"`
}

// Monitoring places the monitoring processes.
type Monitoring struct {
	// PrometheusPort serves Prometheus' web API (queries, targets, alerts).
	PrometheusPort int `yaml:"prometheusPort"`
	// CertExporterPort serves the NotAfter of the network's certificates
	// as metrics (Fabric 2.5 does not export certificate expiry).
	CertExporterPort int `yaml:"certExporterPort"`
}

// Apps places the API and the demo scanner station.
type Apps struct {
	// APIPort serves the API and the regulator dashboard.
	APIPort int `yaml:"apiPort"`
	// StationPort serves the demo station's status page and metrics.
	StationPort int `yaml:"stationPort"`
	// StationUser is the pharmacist ("Org/user") the demo station runs as.
	StationUser string `yaml:"stationUser"`
}

// Chaincode names the chaincode definition committed on the channel. Its
// version and package label are not configured: they name the chaincode
// server binary deployed (`pharmatrace-cc version`), so that the ledger
// says which contract runs (see chaincode.Build).
type Chaincode struct {
	Name string `yaml:"name"`
	// Policy is MAJORITY (the channel's /Channel/Application/Endorsement
	// policy) or an explicit signature policy such as
	// "OutOf(3,'ManufacturerMSP.peer',...)".
	Policy string `yaml:"policy"`
}

// Ordering holds the orderer batch and etcdraft settings (channel
// configuration, fixed when the channel is created) and the orderers'
// cluster settings (orderer.yaml General.Cluster, read at start).
type Ordering struct {
	BatchTimeout      Duration `yaml:"batchTimeout"`
	MaxMessageCount   int      `yaml:"maxMessageCount"`
	AbsoluteMaxBytes  string   `yaml:"absoluteMaxBytes"`
	PreferredMaxBytes string   `yaml:"preferredMaxBytes"`
	TickInterval      Duration `yaml:"tickInterval"`
	ElectionTick      int      `yaml:"electionTick"`
	HeartbeatTick     int      `yaml:"heartbeatTick"`
	// MaxInflightBlocks and SnapshotIntervalSize are etcdraft Options;
	// zero/empty mean fabnet's defaults (5, "1 MB").
	MaxInflightBlocks    int    `yaml:"maxInflightBlocks"`
	SnapshotIntervalSize string `yaml:"snapshotIntervalSize"`
	// Cluster is orderer.yaml General.Cluster; zero fields keep Fabric's
	// defaults.
	Cluster OrdererCluster `yaml:"cluster"`
}

// OrdererCluster is the orderer-to-orderer communication of etcdraft.
type OrdererCluster struct {
	// RPCTimeout bounds a forward of a transaction to the leader and a
	// cluster stream operation (Fabric default 7s).
	RPCTimeout Duration `yaml:"rpcTimeout"`
	// DialTimeout bounds a connection attempt to another orderer
	// (Fabric default 5s).
	DialTimeout Duration `yaml:"dialTimeout"`
	// SendBufferSize is the per-stream queue of messages to another
	// orderer (Fabric default 100).
	SendBufferSize int `yaml:"sendBufferSize"`
}

// CA is an organisation's Fabric CA server.
type CA struct {
	Port    int `yaml:"port"`
	OpsPort int `yaml:"opsPort"`
}

// OrdererOrg is the ordering service organisation.
type OrdererOrg struct {
	Name     string        `yaml:"name"`
	MSPID    string        `yaml:"mspID"`
	CA       CA            `yaml:"ca"`
	Admin    User          `yaml:"admin"`
	Orderers []OrdererNode `yaml:"orderers"`
}

// OrdererNode is one etcdraft orderer.
type OrdererNode struct {
	Name      string `yaml:"name"`
	Port      int    `yaml:"port"`
	AdminPort int    `yaml:"adminPort"`
	OpsPort   int    `yaml:"opsPort"`
}

// Org is a peer organisation.
type Org struct {
	Name  string   `yaml:"name"`
	MSPID string   `yaml:"mspID"`
	Roles []string `yaml:"roles"`
	// GCPs are the GS1 company prefixes (6-12 digits) the organisation
	// owns: its users' `gcp` attributes must lie within them, and the
	// chaincode refuses any other (PHARMATRACE_ORG_PREFIXES).
	GCPs []string `yaml:"gcps,omitempty"`
	CA   CA       `yaml:"ca"`
	Peer PeerNode `yaml:"peer"`
	// ChaincodeServerPort is where the org's chaincode-as-a-service
	// process listens for its peer (pprof on +1). An upgrade starts the new
	// contract's server on the other slot, +2 (pprof +3), before the switch,
	// and the slots alternate from one upgrade to the next.
	ChaincodeServerPort int    `yaml:"chaincodeServerPort"`
	Users               []User `yaml:"users"`
}

// PeerNode is an organisation's peer.
type PeerNode struct {
	Name          string `yaml:"name"`
	Port          int    `yaml:"port"`
	ChaincodePort int    `yaml:"chaincodePort"`
	OpsPort       int    `yaml:"opsPort"`
}

// User is an identity registered with the org's CA. Role, GLN and GCP are
// put into the enrollment certificate as attributes (role, gln, gcp) that
// the chaincode checks.
type User struct {
	Name string `yaml:"name"`
	Role string `yaml:"role"`
	GLN  string `yaml:"gln"`
	GCP  string `yaml:"gcp,omitempty"`
}

// CARegistrar is the bootstrap identity of every org's Fabric CA.
const CARegistrar = "ca-registrar"

// Duration is a time.Duration written as "100ms" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String formats the duration as Go does ("100ms").
func (d Duration) String() string { return time.Duration(d).String() }

// Roles every user may hold. Which MSP may hold which role is per org
// (Org.Roles) and is handed to the chaincode.
var knownRoles = map[string]bool{"manufacturer": true, "distributor": true, "pharmacist": true, "regulator": true, "admin": true}

// Load reads and validates a network definition.
func Load(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read network definition: %w", err)
	}
	var s Spec
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// Validate checks the definition and names the first field that is wrong.
func (s *Spec) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if s.Channel == "" || strings.ToLower(s.Channel) != s.Channel {
		bad("channel", "must be a non-empty lower-case name, got %q", s.Channel)
	}
	if s.Host == "" {
		bad("host", "is empty")
	}
	if s.Chaincode.Name == "" {
		bad("chaincode.name", "is required (version and label come from the chaincode binary)")
	}
	if s.Chaincode.Policy == "" {
		bad("chaincode.policy", "is empty (use MAJORITY or a signature policy)")
	}
	if s.Ordering.BatchTimeout <= 0 || s.Ordering.TickInterval <= 0 {
		bad("ordering", "batchTimeout and tickInterval must be positive")
	}
	if s.Ordering.ElectionTick <= s.Ordering.HeartbeatTick || s.Ordering.HeartbeatTick < 1 {
		bad("ordering.electionTick", "must be greater than heartbeatTick (>= 1)")
	}
	if c := s.Ordering.Cluster; c.RPCTimeout < 0 || c.DialTimeout < 0 || c.SendBufferSize < 0 || s.Ordering.MaxInflightBlocks < 0 {
		bad("ordering", "cluster timeouts, sendBufferSize and maxInflightBlocks must not be negative")
	}
	if n := len(s.OrdererOrg.Orderers); n < 3 || n%2 == 0 {
		bad("ordererOrg.orderers", "need an odd number >= 3 of etcdraft orderers to survive the loss of one, got %d", n)
	}
	used := map[int]string{}
	for _, p := range s.Ports() {
		if p.Number <= 0 || p.Number > 65535 {
			bad(p.Field, "port %d out of range", p.Number)
			continue
		}
		if other, dup := used[p.Number]; dup {
			bad(p.Field, "port %d already used by %s", p.Number, other)
			continue
		}
		used[p.Number] = p.Field
	}
	for i, o := range s.OrdererOrg.Orderers {
		if o.Name == "" {
			bad(fmt.Sprintf("ordererOrg.orderers[%d].name", i), "is empty")
		}
	}
	if org, user, ok := strings.Cut(s.Apps.StationUser, "/"); !ok || org == "" || user == "" {
		bad("apps.stationUser", "want <org>/<user>, got %q", s.Apps.StationUser)
	}
	if err := validUser("ordererOrg.admin", s.OrdererOrg.Admin, []string{"admin"}, false); err != nil {
		errs = append(errs, err)
	}
	names := map[string]bool{}
	msps := map[string]bool{s.OrdererOrg.MSPID: true}
	allPrefixes := map[string][]string{} // company prefixes by MSP, to find overlaps
	if s.OrdererOrg.MSPID == "" {
		bad("ordererOrg.mspID", "is empty")
	}
	if len(s.Orgs) < 2 {
		bad("orgs", "need at least two peer organisations, got %d", len(s.Orgs))
	}
	for i, o := range s.Orgs {
		f := fmt.Sprintf("orgs[%d]", i)
		if o.Name == "" || names[strings.ToLower(o.Name)] {
			bad(f+".name", "empty or duplicate org name %q", o.Name)
		}
		names[strings.ToLower(o.Name)] = true
		if o.MSPID == "" || msps[o.MSPID] {
			bad(f+".mspID", "empty or duplicate MSP ID %q", o.MSPID)
		}
		msps[o.MSPID] = true
		for j, p := range o.GCPs {
			if len(p) < 6 || len(p) > 12 || strings.Trim(p, "0123456789") != "" {
				bad(fmt.Sprintf("%s.gcps[%d]", f, j), "%q is not a 6-12 digit GS1 company prefix", p)
			}
			for owner, theirs := range allPrefixes {
				if overlaps(p, theirs) {
					bad(fmt.Sprintf("%s.gcps[%d]", f, j), "prefix %s overlaps a prefix of %s", p, owner)
				}
			}
		}
		for _, p := range o.GCPs {
			allPrefixes[o.MSPID] = append(allPrefixes[o.MSPID], p)
		}
		for _, r := range o.Roles {
			if !knownRoles[r] {
				bad(f+".roles", "unknown role %q", r)
			}
		}
		hasAdmin := false
		users := map[string]bool{}
		for j, u := range o.Users {
			uf := fmt.Sprintf("%s.users[%d]", f, j)
			if users[u.Name] {
				bad(uf+".name", "duplicate user %q", u.Name)
			}
			users[u.Name] = true
			if err := validUser(uf, u, o.Roles, u.Role == "manufacturer"); err != nil {
				errs = append(errs, err)
			} else if u.Role == "manufacturer" {
				for _, p := range strings.Split(u.GCP, ",") {
					if !withinPrefixes(p, o.GCPs) {
						bad(uf+".gcp", "prefix %s is not within the org's gcps %v", p, o.GCPs)
					}
				}
			}
			hasAdmin = hasAdmin || u.Role == "admin"
		}
		if !hasAdmin {
			bad(f+".users", "needs a user with role admin (it operates the peer and the chaincode lifecycle)")
		}
	}
	return errors.Join(errs...)
}

// Port is one TCP port the network listens on, named by its field in the
// definition ("orgs[1].peer.port"); ports derived from a field (pprof)
// carry the offset in the name ("orgs[1].peer.port+2 (peer pprof)").
type Port struct {
	Field  string
	Number int
}

// Ports lists every port the network's processes listen on, derived ones
// included, in definition order.
func (s *Spec) Ports() []Port {
	var out []Port
	add := func(field string, n int) { out = append(out, Port{Field: field, Number: n}) }
	add("ordererOrg.ca.port", s.OrdererOrg.CA.Port)
	add("ordererOrg.ca.opsPort", s.OrdererOrg.CA.OpsPort)
	for i, o := range s.OrdererOrg.Orderers {
		f := fmt.Sprintf("ordererOrg.orderers[%d]", i)
		add(f+".port", o.Port)
		add(f+".adminPort", o.AdminPort)
		add(f+".opsPort", o.OpsPort)
	}
	add("apps.apiPort", s.Apps.APIPort)
	add("apps.stationPort", s.Apps.StationPort)
	add("monitoring.prometheusPort", s.Monitoring.PrometheusPort)
	add("monitoring.certExporterPort", s.Monitoring.CertExporterPort)
	for i, o := range s.Orgs {
		f := fmt.Sprintf("orgs[%d]", i)
		add(f+".ca.port", o.CA.Port)
		add(f+".ca.opsPort", o.CA.OpsPort)
		add(f+".peer.port", o.Peer.Port)
		add(f+".peer.chaincodePort", o.Peer.ChaincodePort)
		add(f+".peer.opsPort", o.Peer.OpsPort)
		add(f+".peer.port+2 (peer pprof)", o.Peer.Port+2)
		add(f+".chaincodeServerPort", o.ChaincodeServerPort)
		add(f+".chaincodeServerPort+1 (chaincode pprof)", o.ChaincodeServerPort+1)
		add(f+".chaincodeServerPort+2 (chaincode, upgrade slot)", o.ChaincodeServerPort+2)
		add(f+".chaincodeServerPort+3 (chaincode pprof, upgrade slot)", o.ChaincodeServerPort+3)
	}
	return out
}

// ShiftPorts adds offset to every port of the definition, so that a second,
// independent network (with its own run directory) can run beside the
// first on the same host. Derived ports (pprof) follow their base port.
// Call Validate afterwards: a shift can push a port out of range.
func (s *Spec) ShiftPorts(offset int) {
	shiftCA := func(c *CA) {
		c.Port += offset
		c.OpsPort += offset
	}
	shiftCA(&s.OrdererOrg.CA)
	for i := range s.OrdererOrg.Orderers {
		o := &s.OrdererOrg.Orderers[i]
		o.Port += offset
		o.AdminPort += offset
		o.OpsPort += offset
	}
	for i := range s.Orgs {
		o := &s.Orgs[i]
		shiftCA(&o.CA)
		o.Peer.Port += offset
		o.Peer.ChaincodePort += offset
		o.Peer.OpsPort += offset
		o.ChaincodeServerPort += offset
	}
	s.Apps.APIPort += offset
	s.Apps.StationPort += offset
	s.Monitoring.PrometheusPort += offset
	s.Monitoring.CertExporterPort += offset
}

// Marshal renders the definition as YAML that Load reads back unchanged
// (comments of the original file are not kept).
func (s *Spec) Marshal() ([]byte, error) { return yaml.Marshal(s) }

// withinPrefixes reports whether prefix p lies within one of owned (starts
// with it).
func withinPrefixes(p string, owned []string) bool {
	for _, o := range owned {
		if strings.HasPrefix(p, o) {
			return true
		}
	}
	return false
}

// overlaps reports whether p and one of others is a prefix of the other.
func overlaps(p string, others []string) bool {
	for _, o := range others {
		if strings.HasPrefix(p, o) || strings.HasPrefix(o, p) {
			return true
		}
	}
	return false
}

func validUser(field string, u User, roles []string, needGCP bool) error {
	if u.Name == "" || u.Name == CARegistrar || strings.ContainsAny(u.Name, " /:@") {
		return fmt.Errorf("%s.name: %q is not a valid identity name", field, u.Name)
	}
	allowed := false
	for _, r := range roles {
		allowed = allowed || r == u.Role
	}
	if !allowed {
		return fmt.Errorf("%s.role: %q is not one of the org's roles %v", field, u.Role, roles)
	}
	if !gs1.ValidGLN(u.GLN) {
		return fmt.Errorf("%s.gln: %q is not a 13-digit GLN with a valid check digit", field, u.GLN)
	}
	if needGCP {
		for _, p := range strings.Split(u.GCP, ",") {
			if len(p) < 4 || len(p) > 12 || strings.Trim(p, "0123456789") != "" {
				return fmt.Errorf("%s.gcp: %q is not a list of 4-12 digit GS1 company prefixes", field, u.GCP)
			}
		}
	}
	return nil
}

// Org returns the peer organisation with the given name or MSP ID.
func (s *Spec) Org(nameOrMSP string) (*Org, bool) {
	for i := range s.Orgs {
		if strings.EqualFold(s.Orgs[i].Name, nameOrMSP) || s.Orgs[i].MSPID == nameOrMSP {
			return &s.Orgs[i], true
		}
	}
	return nil, false
}

// OrgPrefixes renders the MSP → company prefixes binding handed to the
// chaincode (PHARMATRACE_ORG_PREFIXES): "ManufacturerMSP=4012345,5098765".
func (s *Spec) OrgPrefixes() string {
	var parts []string
	for _, o := range s.Orgs {
		if len(o.GCPs) > 0 {
			parts = append(parts, o.MSPID+"="+strings.Join(o.GCPs, ","))
		}
	}
	return strings.Join(parts, ";")
}

// OrgRoles renders the MSP → allowed roles binding handed to the chaincode
// (PHARMATRACE_ORG_ROLES): "ManufacturerMSP=manufacturer,admin;...".
func (s *Spec) OrgRoles() string {
	parts := make([]string, 0, len(s.Orgs))
	for _, o := range s.Orgs {
		parts = append(parts, o.MSPID+"="+strings.Join(o.Roles, ","))
	}
	return strings.Join(parts, ";")
}
