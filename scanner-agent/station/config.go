// Package station holds the configuration of one PharmaTrace scanner station:
// who the station is (station ID, site GLN, organisation identity), what it
// does (mode), which scanners it reads and how they talk (device or USB
// match, line settings, framing), where its durable queue lives and which
// ledger it submits to.
//
// A configuration is built in three layers, each overriding the one before:
//
//  1. the YAML file (Load / Parse; unknown keys are refused),
//  2. the environment, PHARMATRACE_STATION_* (ApplyEnv; see Keys for the
//     names; an unknown PHARMATRACE_STATION_ variable is refused too),
//  3. command-line flags, applied by the caller with Set or by assigning
//     fields directly.
//
// Then the caller calls Validate, which fills in defaults (9600 8N1, suffix
// CR, inter-character timeout 50ms, max frame 512 bytes, …) and returns an
// error naming every bad field, e.g.
//
//	scanners[1].baud: 7 is not a supported rate
//	gln: "123" is not a 13-digit GLN with a valid check digit
//
// The ledger section is a plain struct that the caller maps to its gateway
// configuration; this package does not dial anything.
package station

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Mode is what a station does with the packs it scans.
type Mode string

// The station modes.
const (
	ModeReceive  Mode = "receive"  // goods in: a pack or case arrives at the site
	ModeDispense Mode = "dispense" // pharmacy counter: verify and decommission on hand-over
	ModeVerify   Mode = "verify"   // look-up only, no state change on the ledger (failed verifications are reported)
)

// Modes lists the valid modes in a stable order. Shipping is not a station
// mode: a shipment names its destination and its whole content, which a
// scan alone does not say (warehouses ship through the API or EPCIS).
var Modes = []Mode{ModeReceive, ModeDispense, ModeVerify}

// Defaults applied by Validate to fields left empty.
const (
	DefaultBaud             = 9600
	DefaultDataBits         = 8
	DefaultParity           = "none"
	DefaultStopBits         = 1
	DefaultSuffix           = "CR"
	DefaultInterCharTimeout = 50 * time.Millisecond
	DefaultMaxFrame         = 512
	DefaultQueuePath        = "/var/lib/pharmatrace/outbox.db"
	DefaultRetention        = 30 * 24 * time.Hour
)

// Config is one station's configuration.
type Config struct {
	// StationID names the station; it prefixes every scan ID and therefore
	// every ledger request ID. 1–64 characters of A-Z a-z 0-9 . _ -
	StationID string `yaml:"station_id"`
	// GLN is the 13-digit Global Location Number of the site.
	GLN string `yaml:"gln"`
	// Mode is receive, dispense or verify.
	Mode Mode `yaml:"mode"`
	// Identity is the organisation identity the station signs with.
	Identity Identity `yaml:"identity"`
	// Scanners are the scanners the station reads; at least one.
	Scanners []Scanner `yaml:"scanners"`
	// Queue is the local durable queue (outbox).
	Queue Queue `yaml:"queue"`
	// Ledger is where scans are submitted.
	Ledger Ledger `yaml:"ledger"`
	// Metrics is the Prometheus endpoint; empty Listen disables it.
	Metrics Metrics `yaml:"metrics"`
}

// Identity is the X.509 identity of the station's organisation: either
// CertFile and KeyFile, or an MSP directory (signcerts/ and keystore/).
type Identity struct {
	MSPID    string `yaml:"msp_id"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	MSPDir   string `yaml:"msp_dir"`
}

// Scanner describes one barcode scanner and its serial line.
type Scanner struct {
	// Name labels the scanner in logs and metrics; defaults to
	// "scanner<index>".
	Name string `yaml:"name"`
	// Device is a device path, e.g. /dev/ttyACM0 or, better, a stable udev
	// symlink such as /dev/serial/by-id/usb-…; symlinks are re-resolved on
	// every reconnect. Exactly one of Device and USB must be set.
	Device string `yaml:"device"`
	// USB finds the port by USB vendor and product ID (and serial number).
	USB *USBMatch `yaml:"usb"`

	Baud     int    `yaml:"baud"`      // default 9600
	DataBits int    `yaml:"data_bits"` // 5–8, default 8
	Parity   string `yaml:"parity"`    // none, odd, even, mark, space; default none
	StopBits int    `yaml:"stop_bits"` // 1 or 2, default 1

	// Suffix ends a frame: CR, LF, CRLF, TAB, or none (frames end only on
	// the inter-character timeout). Default CR.
	Suffix string `yaml:"suffix"`
	// InterCharTimeout ends a frame when the line stays silent this long
	// after a byte. With a suffix configured, a frame cut by the timeout
	// is rejected as truncated. Default 50ms; 1ms to 10s.
	InterCharTimeout time.Duration `yaml:"inter_char_timeout"`
	// MaxFrame is the longest frame in bytes, suffix excluded. Default 512.
	MaxFrame int `yaml:"max_frame"`
	// GSSubstitute is the character the scanner sends instead of GS
	// (0x1D), e.g. "~", "^]" or "\x1c"; empty when it sends GS itself.
	GSSubstitute string `yaml:"gs_substitute"`
	// RefuseFeedback is written back to the scanner when a pack must not
	// be handed over (beep / red light); escapes \xHH, \r, \n, \t and \\
	// are understood. Empty disables it.
	RefuseFeedback string `yaml:"refuse_feedback"`
}

// USBMatch selects a port by USB identity. VID and PID are four hex digits
// as lsusb prints them; Serial, if set, must equal the USB serial number.
type USBMatch struct {
	VID    string `yaml:"vid"`
	PID    string `yaml:"pid"`
	Serial string `yaml:"serial"`
}

// Queue configures the durable queue.
type Queue struct {
	// Path of the bbolt file; its directory must exist. Default
	// /var/lib/pharmatrace/outbox.db.
	Path string `yaml:"path"`
	// Retention keeps finished records this long before compaction.
	// Default 720h (30 days).
	Retention time.Duration `yaml:"retention"`
}

// Ledger is where the station submits scans. It is plain data; the caller
// maps it to its gateway client.
type Ledger struct {
	Channel   string `yaml:"channel"`
	Chaincode string `yaml:"chaincode"`
	Peers     []Peer `yaml:"peers"`
}

// Peer is one gateway peer endpoint.
type Peer struct {
	// Endpoint is host:port.
	Endpoint string `yaml:"endpoint"`
	// TLSRootCertFile is the PEM file of the CA that signed the peer's TLS
	// certificate.
	TLSRootCertFile string `yaml:"tls_root_cert_file"`
	// ServerName overrides the TLS server name (optional).
	ServerName string `yaml:"server_name"`
	// MSPID is the organisation that runs the peer (optional). Scans of a
	// manufacturer's packs carry their serials as transient data and go
	// only through the station's own organisation's peers or the
	// collection members' (docs/confidentiality.md); a peer without an
	// MSP ID is trusted for them only as the first one listed.
	MSPID string `yaml:"msp_id"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Listen is host:port for /metrics; empty disables the endpoint.
	Listen string `yaml:"listen"`
}

// Load reads and parses the YAML file at path. It does not apply the
// environment or validate.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("station config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("station config %s: %w", path, err)
	}
	return c, nil
}

// Parse parses one YAML document. Unknown keys are errors, so that a typo
// does not silently leave a setting at its default.
func Parse(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return &c, nil // empty file: everything from env and flags
		}
		return nil, err
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	return &c, nil
}
