// Package chaincode is the PharmaTrace smart contract: the serialised-pack
// lifecycle of the EU medicines verification model (commission, verify,
// dispense, decommission, undo), lot recalls, custody transfers (SSCC
// aggregation, shipments, receipts) and the anomaly workflow, run by every
// peer's chaincode-as-a-service process (cmd/pharmatrace-cc).
//
// Every transaction and query takes one string argument, the JSON of a
// request type of package trace, and returns the JSON of a result type of
// package trace. See doc.go for the conventions and the design decisions.
package chaincode

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/pharmatrace/pharmatrace/trace"
)

// DefaultOrgRoles is the role binding used when PHARMATRACE_ORG_ROLES is unset.
const DefaultOrgRoles = "ManufacturerMSP=manufacturer,admin;DistributorMSP=distributor,admin;PharmacyMSP=pharmacist,admin;RegulatorMSP=regulator,admin"

// Environment variables read by ConfigFromEnv.
const (
	EnvOrgRoles      = "PHARMATRACE_ORG_ROLES"
	EnvMaxCommission = "PHARMATRACE_MAX_COMMISSION"
	EnvMaxClockSkew  = "PHARMATRACE_MAX_CLOCK_SKEW"
	EnvOrgPrefixes   = "PHARMATRACE_ORG_PREFIXES"
	EnvMarketTZ      = "PHARMATRACE_MARKET_TZ"
)

// Config is the chaincode's configuration. It must be identical on every
// endorsing peer (it decides access and limits, hence the endorsement
// result).
type Config struct {
	// OrgRoles binds each MSP ID to the roles its certificates may claim:
	// the `role` attribute is only trusted within this binding, since any
	// organisation's CA could issue itself role=regulator.
	OrgRoles map[string][]string
	// MaxCommission is the most serials one CommissionPacks may carry
	// (0: trace.DefaultMaxCommission; at most trace.HardMaxCommission).
	MaxCommission int
	// MaxClockSkew is how far a proposal's timestamp (written by the
	// client) may be from this endorser's clock (0: DefaultMaxClockSkew).
	// Every FMD deadline is computed from the timestamp, so a client that
	// could choose it could undo after 10 days or dispense an expired pack.
	MaxClockSkew time.Duration
	// Clock is this endorser's clock (nil: time.Now). Peers run NTP.
	Clock func() time.Time
	// OrgPrefixes binds each MSP ID to the GS1 company prefixes (6-12
	// digits) it owns: a manufacturer's `gcp` attribute must lie within its
	// MSP's prefixes, since any organisation's CA could write another
	// company's prefix into a certificate.
	OrgPrefixes map[string][]string
	// Market is the time zone of the market whose calendar decides expiry
	// (nil: UTC). Every endorser must use the same.
	Market *time.Location
	// BuildID is the server binary's build ID (Build.ID, set by
	// cmd/pharmatrace-cc; empty in tests). With Version it is written into
	// every event and request record.
	BuildID string
	// PackageID is the package the server was started for (CHAINCODE_ID),
	// reported by probe:Version.
	PackageID string
}

// DefaultMaxClockSkew is the default of Config.MaxClockSkew.
const DefaultMaxClockSkew = 5 * time.Minute

// DefaultConfig returns the configuration for the reference network.
func DefaultConfig() Config {
	// The same binding as DefaultOrgRoles (a test keeps them in step).
	return Config{OrgRoles: map[string][]string{
		"ManufacturerMSP": {"manufacturer", "admin"},
		"DistributorMSP":  {"distributor", "admin"},
		"PharmacyMSP":     {"pharmacist", "admin"},
		"RegulatorMSP":    {"regulator", "admin"},
	}, OrgPrefixes: map[string][]string{"ManufacturerMSP": {"4012345", "5098765"}},
		MaxCommission: trace.DefaultMaxCommission, MaxClockSkew: DefaultMaxClockSkew}
}

// ParseOrgRoles parses "MSP1=role,role;MSP2=role" into an MSP → roles map.
func ParseOrgRoles(s string) (map[string][]string, error) {
	out, err := parseBinding(s, "org roles", "role", func(msp, r string, _ map[string][]string) error {
		if !slices.Contains(trace.Roles, trace.Role(r)) {
			return fmt.Errorf("%q is not a role (%s)", r, roleList(trace.Roles))
		}
		return nil
	})
	if err == nil && len(out) == 0 {
		return nil, fmt.Errorf("org roles: %q binds no MSP", s)
	}
	return out, err
}

// ParseOrgPrefixes parses "MSP1=4012345,5098765;MSP2=..." into an MSP →
// company prefixes map (6-12 digits each; no prefix of one MSP may overlap
// another MSP's).
func ParseOrgPrefixes(s string) (map[string][]string, error) {
	return parseBinding(s, "org prefixes", "prefix", func(msp, p string, seen map[string][]string) error {
		if len(p) < 6 || len(p) > 12 || strings.Trim(p, "0123456789") != "" {
			return fmt.Errorf("%q is not a 6-12 digit GS1 company prefix", p)
		}
		for other, theirs := range seen {
			for _, q := range theirs {
				if other != msp && (strings.HasPrefix(p, q) || strings.HasPrefix(q, p)) {
					return fmt.Errorf("%s overlaps %s's %s", p, other, q)
				}
			}
		}
		return nil
	})
}

// parseBinding parses "MSP1=v,v;MSP2=v" into an MSP → values map, checking
// each value with check (given the values bound so far); repeated values of
// one MSP are kept once.
func parseBinding(s, what, item string, check func(msp, v string, seen map[string][]string) error) (map[string][]string, error) {
	out := map[string][]string{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		msp, list, ok := strings.Cut(part, "=")
		msp = strings.TrimSpace(msp)
		if !ok || msp == "" {
			return nil, fmt.Errorf("%s: %q is not MSP=%s,%s", what, part, item, item)
		}
		if _, dup := out[msp]; dup {
			return nil, fmt.Errorf("%s: MSP %q listed twice", what, msp)
		}
		var vals []string
		for _, v := range strings.Split(list, ",") {
			v = strings.TrimSpace(v)
			if err := check(msp, v, out); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", what, msp, err)
			}
			if !slices.Contains(vals, v) {
				vals = append(vals, v)
			}
		}
		out[msp] = vals
	}
	return out, nil
}

// ConfigFromEnv builds the configuration from PHARMATRACE_ORG_ROLES
// (default DefaultOrgRoles) and PHARMATRACE_MAX_COMMISSION (default
// trace.DefaultMaxCommission).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	if s := getenv(EnvOrgRoles); s != "" {
		roles, err := ParseOrgRoles(s)
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", EnvOrgRoles, err)
		}
		cfg.OrgRoles = roles
	}
	if s := getenv(EnvMaxCommission); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > trace.HardMaxCommission {
			return cfg, fmt.Errorf("%s: %q is not a number between 1 and %d", EnvMaxCommission, s, trace.HardMaxCommission)
		}
		cfg.MaxCommission = n
	}
	if s := getenv(EnvMaxClockSkew); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second || d > time.Hour {
			return cfg, fmt.Errorf("%s: %q is not a duration between 1s and 1h", EnvMaxClockSkew, s)
		}
		cfg.MaxClockSkew = d
	}
	if s := getenv(EnvOrgPrefixes); s != "" {
		p, err := ParseOrgPrefixes(s)
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", EnvOrgPrefixes, err)
		}
		cfg.OrgPrefixes = p
	}
	if s := getenv(EnvMarketTZ); s != "" {
		loc, err := time.LoadLocation(s)
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", EnvMarketTZ, err)
		}
		cfg.Market = loc
	}
	return cfg, nil
}

// New returns the PharmaTrace chaincode: the business contract "pharmatrace"
// (the default contract) and the deployment probe "probe".
func New(cfg Config) (*contractapi.ContractChaincode, error) {
	return newChaincode(cfg, defaultLayouts())
}

func newChaincode(cfg Config, ls layouts) (*contractapi.ContractChaincode, error) {
	c, err := newContract(cfg)
	if err != nil {
		return nil, err
	}
	c.layouts = ls
	probe := &ProbeContract{c: c}
	probe.Name = "probe"
	cc, err := contractapi.NewChaincode(c, probe)
	if err != nil {
		return nil, fmt.Errorf("create chaincode: %w", err)
	}
	cc.DefaultContract = trace.ContractName
	// contractapi has built the metadata already: its chaincode-level info
	// says "latest"; each contract's info (set in newContract) has Version.
	cc.Info.Title = "PharmaTrace"
	cc.Info.Version = Version
	return cc, nil
}

func roleList[T ~string](rs []T) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
