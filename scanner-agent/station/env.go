package station

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts every environment variable that overrides the file.
const EnvPrefix = "PHARMATRACE_STATION_"

// EnvConfigFile names the configuration file; ApplyEnv ignores it, the
// caller reads it before Load.
const EnvConfigFile = EnvPrefix + "CONFIG"

// Key is one setting that the environment or a flag can override.
type Key struct {
	// Name is the key as Set takes it, e.g. "queue.path".
	Name string
	// Env is the environment variable, e.g. PHARMATRACE_STATION_QUEUE_PATH.
	Env string
	// Help describes the value.
	Help string
	set  func(c *Config, v string) error
}

// Keys lists the overridable settings. Scanner keys apply to scanners[0],
// which they create if the file has no scanner (a single-scanner station
// configured entirely from the environment).
var Keys = []Key{
	{"station_id", "ID", "station ID", func(c *Config, v string) error { c.StationID = v; return nil }},
	{"gln", "GLN", "site GLN (13 digits)", func(c *Config, v string) error { c.GLN = v; return nil }},
	{"mode", "MODE", "receive | dispense | verify", func(c *Config, v string) error { c.Mode = Mode(v); return nil }},
	{"identity.msp_id", "IDENTITY_MSP_ID", "MSP ID of the organisation", func(c *Config, v string) error { c.Identity.MSPID = v; return nil }},
	{"identity.cert_file", "IDENTITY_CERT_FILE", "PEM certificate", func(c *Config, v string) error { c.Identity.CertFile = v; return nil }},
	{"identity.key_file", "IDENTITY_KEY_FILE", "PEM private key", func(c *Config, v string) error { c.Identity.KeyFile = v; return nil }},
	{"identity.msp_dir", "IDENTITY_MSP_DIR", "MSP directory", func(c *Config, v string) error { c.Identity.MSPDir = v; return nil }},
	{"queue.path", "QUEUE_PATH", "outbox file", func(c *Config, v string) error { c.Queue.Path = v; return nil }},
	{"queue.retention", "QUEUE_RETENTION", "retention of finished records (duration)", func(c *Config, v string) error {
		return setDuration(&c.Queue.Retention, v)
	}},
	{"ledger.channel", "LEDGER_CHANNEL", "channel name", func(c *Config, v string) error { c.Ledger.Channel = v; return nil }},
	{"ledger.chaincode", "LEDGER_CHAINCODE", "chaincode name", func(c *Config, v string) error { c.Ledger.Chaincode = v; return nil }},
	{"ledger.peers", "LEDGER_PEERS", "comma-separated endpoint=tls_root_cert_file; replaces the list", func(c *Config, v string) error {
		var peers []Peer
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			ep, ca, _ := strings.Cut(item, "=")
			peers = append(peers, Peer{Endpoint: ep, TLSRootCertFile: ca})
		}
		c.Ledger.Peers = peers
		return nil
	}},
	{"metrics.listen", "METRICS_LISTEN", "host:port of /metrics, empty to disable", func(c *Config, v string) error { c.Metrics.Listen = v; return nil }},
	{"scanner.device", "SCANNER_DEVICE", "device path of scanners[0] (replaces its usb match)", func(c *Config, v string) error {
		s := c.scanner0()
		s.Device, s.USB = v, nil
		return nil
	}},
	{"scanner.baud", "SCANNER_BAUD", "baud rate of scanners[0]", func(c *Config, v string) error { return setInt(&c.scanner0().Baud, v) }},
	{"scanner.suffix", "SCANNER_SUFFIX", "frame suffix of scanners[0]: CR, LF, CRLF, TAB, none", func(c *Config, v string) error { c.scanner0().Suffix = v; return nil }},
	{"scanner.inter_char_timeout", "SCANNER_INTER_CHAR_TIMEOUT", "inter-character timeout of scanners[0]", func(c *Config, v string) error {
		return setDuration(&c.scanner0().InterCharTimeout, v)
	}},
	{"scanner.gs_substitute", "SCANNER_GS_SUBSTITUTE", "GS substitute of scanners[0]", func(c *Config, v string) error { c.scanner0().GSSubstitute = v; return nil }},
}

func init() {
	for i := range Keys {
		Keys[i].Env = EnvPrefix + Keys[i].Env
	}
}

func (c *Config) scanner0() *Scanner {
	if len(c.Scanners) == 0 {
		c.Scanners = append(c.Scanners, Scanner{})
	}
	return &c.Scanners[0]
}

func setInt(dst *int, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%q is not an integer", v)
	}
	*dst = n
	return nil
}

func setDuration(dst *time.Duration, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a duration", v)
	}
	*dst = d
	return nil
}

// Set overrides the setting named key (see Keys) with value, e.g.
// Set("queue.path", "/tmp/outbox.db"). Flags use it.
func (c *Config) Set(key, value string) error {
	for _, k := range Keys {
		if k.Name == key {
			if err := k.set(c, value); err != nil {
				return &FieldError{Field: key, Problem: err.Error()}
			}
			return nil
		}
	}
	return &FieldError{Field: key, Problem: "is not a setting that can be overridden"}
}

// ApplyEnv applies every PHARMATRACE_STATION_* variable in environ (as
// os.Environ returns it). An unknown PHARMATRACE_STATION_ variable is an
// error naming it, so that a typo is not silently ignored.
// PHARMATRACE_STATION_CONFIG is left to the caller.
func (c *Config) ApplyEnv(environ []string) error {
	byEnv := make(map[string]Key, len(Keys))
	for _, k := range Keys {
		byEnv[k.Env] = k
	}
	var unknown []string
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || name == EnvConfigFile {
			continue
		}
		k, ok := byEnv[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if err := k.set(c, value); err != nil {
			return &FieldError{Field: name, Problem: err.Error()}
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return &FieldError{Field: unknown[0], Problem: "is not a known setting (see station.Keys)"}
	}
	return nil
}
