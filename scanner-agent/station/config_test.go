package station

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// validConfig returns a configuration that passes Validate, with every file
// it names created under t.TempDir().
func validConfig(t *testing.T) *Config {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"cert.pem", "key.pem", "ca.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &Config{
		StationID: "counter-1",
		GLN:       "4012345000009",
		Mode:      ModeDispense,
		Identity: Identity{
			MSPID:    "PharmacyMSP",
			CertFile: filepath.Join(dir, "cert.pem"),
			KeyFile:  filepath.Join(dir, "key.pem"),
		},
		Scanners: []Scanner{{Device: "/dev/ttyACM0"}, {Name: "dock", USB: &USBMatch{VID: "0c2e", PID: "0B61"}}},
		Queue:    Queue{Path: filepath.Join(dir, "outbox.db")},
		Ledger: Ledger{
			Channel: "pharmatrace", Chaincode: "pharmatrace",
			Peers: []Peer{{Endpoint: "peer0:7051", TLSRootCertFile: filepath.Join(dir, "ca.pem")}},
		},
	}
}

func TestValidConfigAndDefaults(t *testing.T) {
	c := validConfig(t)
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	s := c.Scanners[0]
	if s.Name != "scanner0" || s.Baud != 9600 || s.DataBits != 8 || s.Parity != "none" || s.StopBits != 1 ||
		s.Suffix != "CR" || s.InterCharTimeout != 50*time.Millisecond || s.MaxFrame != 512 {
		t.Errorf("defaults not applied: %+v", s)
	}
	if c.Queue.Retention != DefaultRetention {
		t.Errorf("retention default = %v", c.Queue.Retention)
	}
	if got := string(s.SuffixBytes()); got != "\r" {
		t.Errorf("SuffixBytes = %q", got)
	}
	if _, ok := s.GSByte(); ok {
		t.Error("GSByte reported a substitute")
	}
}

func TestValidateFieldErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"station id missing", func(c *Config) { c.StationID = "" }, "station_id: is required"},
		{"station id chars", func(c *Config) { c.StationID = "a b" }, `station_id: "a b" must be`},
		{"gln missing", func(c *Config) { c.GLN = "" }, "gln: is required"},
		{"gln short", func(c *Config) { c.GLN = "123" }, `gln: "123" is not a 13-digit GLN with a valid check digit`},
		{"gln check digit", func(c *Config) { c.GLN = "4012345000008" }, `gln: "4012345000008" is not a 13-digit GLN`},
		{"mode missing", func(c *Config) { c.Mode = "" }, "mode: is required"},
		{"mode bad", func(c *Config) { c.Mode = "sell" }, `mode: "sell" is not one of receive, dispense, verify`},
		{"mode ship", func(c *Config) { c.Mode = "ship" }, `mode: "ship" is not one of receive, dispense, verify`},
		{"msp id", func(c *Config) { c.Identity.MSPID = "" }, "identity.msp_id: is required"},
		{"no identity", func(c *Config) { c.Identity.CertFile, c.Identity.KeyFile = "", "" }, "identity: set cert_file and key_file, or msp_dir"},
		{"both identities", func(c *Config) { c.Identity.MSPDir = "/tmp" }, "identity: set either cert_file and key_file, or msp_dir, not both"},
		{"key missing", func(c *Config) { c.Identity.KeyFile = "" }, "identity.key_file: is required"},
		{"cert absent", func(c *Config) { c.Identity.CertFile = "/nonexistent/cert.pem" }, "identity.cert_file: stat /nonexistent/cert.pem"},
		{"msp dir absent", func(c *Config) {
			c.Identity = Identity{MSPID: "X", MSPDir: "/nonexistent/msp"}
		}, "identity.msp_dir: stat /nonexistent/msp"},
		{"no scanners", func(c *Config) { c.Scanners = nil }, "scanners: at least one scanner is required"},
		{"device and usb", func(c *Config) { c.Scanners[0].USB = &USBMatch{VID: "0c2e", PID: "0b61"} }, "scanners[0]: set either device or usb, not both"},
		{"neither", func(c *Config) { c.Scanners[0].Device = "" }, "scanners[0]: set device or usb"},
		{"relative device", func(c *Config) { c.Scanners[0].Device = "ttyACM0" }, `scanners[0].device: "ttyACM0" is not an absolute path`},
		{"duplicate device", func(c *Config) { c.Scanners[1] = Scanner{Device: "/dev/ttyACM0"} }, "scanners[1].device: /dev/ttyACM0 is already used by scanners[0]"},
		{"duplicate name", func(c *Config) { c.Scanners[0].Name = "dock" }, `scanners[1].name: "dock" is already used by scanners[0]`},
		{"vid", func(c *Config) { c.Scanners[1].USB.VID = "xyz" }, `scanners[1].usb.vid: "xyz" is not 4 hex digits`},
		{"pid", func(c *Config) { c.Scanners[1].USB.PID = "12345" }, `scanners[1].usb.pid: "12345" is not 4 hex digits`},
		{"baud", func(c *Config) { c.Scanners[1].Baud = 7 }, "scanners[1].baud: 7 is not a supported rate"},
		{"data bits", func(c *Config) { c.Scanners[0].DataBits = 9 }, "scanners[0].data_bits: 9 is not 5, 6, 7 or 8"},
		{"parity", func(c *Config) { c.Scanners[0].Parity = "sometimes" }, `scanners[0].parity: "sometimes" is not one of none, odd, even, mark, space`},
		{"stop bits", func(c *Config) { c.Scanners[0].StopBits = 3 }, "scanners[0].stop_bits: 3 is not 1 or 2"},
		{"suffix", func(c *Config) { c.Scanners[0].Suffix = "ETX" }, `scanners[0].suffix: "ETX" is not one of CR, LF, CRLF, TAB, none`},
		{"timeout low", func(c *Config) { c.Scanners[0].InterCharTimeout = time.Microsecond }, "scanners[0].inter_char_timeout: 1µs is outside 1ms..10s"},
		{"timeout high", func(c *Config) { c.Scanners[0].InterCharTimeout = time.Minute }, "scanners[0].inter_char_timeout: 1m0s is outside"},
		{"max frame", func(c *Config) { c.Scanners[0].MaxFrame = 8 }, "scanners[0].max_frame: 8 is outside 16..65536"},
		{"gs bad notation", func(c *Config) { c.Scanners[0].GSSubstitute = "ab" }, `scanners[0].gs_substitute: want one character`},
		{"gs data char", func(c *Config) { c.Scanners[0].GSSubstitute = "%" }, `scanners[0].gs_substitute: "%" is a GS1 data character`},
		{"gs bracket", func(c *Config) { c.Scanners[0].GSSubstitute = "]" }, `scanners[0].gs_substitute: "]" is a GS1 data character`},
		{"gs suffix char", func(c *Config) { c.Scanners[0].GSSubstitute = "^M" }, `scanners[0].gs_substitute: "^M" cannot stand for GS`},
		{"gs non-ascii", func(c *Config) { c.Scanners[0].GSSubstitute = `\xe9` }, `is not an ASCII character`},
		{"feedback escape", func(c *Config) { c.Scanners[0].RefuseFeedback = `\q` }, `scanners[0].refuse_feedback: unknown escape \q`},
		{"feedback long", func(c *Config) { c.Scanners[0].RefuseFeedback = strings.Repeat("x", 65) }, "scanners[0].refuse_feedback: 65 bytes is longer than 64"},
		{"queue relative", func(c *Config) { c.Queue.Path = "outbox.db" }, `queue.path: "outbox.db" is not an absolute path`},
		{"queue dir absent", func(c *Config) { c.Queue.Path = "/nonexistent/dir/outbox.db" }, "queue.path: directory /nonexistent/dir"},
		{"retention", func(c *Config) { c.Queue.Retention = time.Second }, "queue.retention: 1s is shorter than 1m"},
		{"channel", func(c *Config) { c.Ledger.Channel = "" }, "ledger.channel: is required"},
		{"chaincode", func(c *Config) { c.Ledger.Chaincode = "" }, "ledger.chaincode: is required"},
		{"no peers", func(c *Config) { c.Ledger.Peers = nil }, "ledger.peers: at least one peer is required"},
		{"peer endpoint", func(c *Config) { c.Ledger.Peers[0].Endpoint = "peer0" }, `ledger.peers[0].endpoint: "peer0" is not host:port`},
		{"peer port", func(c *Config) { c.Ledger.Peers[0].Endpoint = "peer0:99999" }, `ledger.peers[0].endpoint: "peer0:99999" has no valid port`},
		{"peer ca", func(c *Config) { c.Ledger.Peers[0].TLSRootCertFile = "" }, "ledger.peers[0].tls_root_cert_file: is required"},
		{"metrics", func(c *Config) { c.Metrics.Listen = "9464" }, `metrics.listen: "9464" is not host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t)
			tt.mutate(c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate accepted the config, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %q\nwant it to contain %q", err, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T holds no *FieldError", err)
			}
		})
	}
}

func TestValidateReportsEveryField(t *testing.T) {
	c := validConfig(t)
	c.GLN = "123"
	c.Scanners[1].Baud = 7
	err := c.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "gln: ") || !strings.HasPrefix(lines[1], "scanners[1].baud: ") {
		t.Fatalf("want one line per field, got %q", err)
	}
}

func TestGSSubstituteAndEscapes(t *testing.T) {
	for in, want := range map[string]byte{"~": '~', "^]": 0x1d, `^\`: 0x1c, `\x1c`: 0x1c, "0x7c": '|'} {
		got, err := ParseGSSubstitute(in)
		if err != nil || got != want {
			t.Errorf("ParseGSSubstitute(%q) = %#x, %v; want %#x", in, got, err, want)
		}
	}
	s := Scanner{GSSubstitute: "~", RefuseFeedback: `\x07\e[5q\r\\`}
	if b, ok := s.GSByte(); !ok || b != '~' {
		t.Errorf("GSByte = %q %v", b, ok)
	}
	if got := string(s.RefuseBytes()); got != "\a\x1b[5q\r\\" {
		t.Errorf("RefuseBytes = %q", got)
	}
	for _, bad := range []string{`\x`, `\x1`, `\xzz`, `abc\`} {
		if _, err := Unescape(bad); err == nil {
			t.Errorf("Unescape(%q) accepted", bad)
		}
	}
}

func TestSuffixSpellings(t *testing.T) {
	for in, want := range map[string]string{"cr": "\r", "lf": "\n", "CrLf": "\r\n", "tab": "\t", "NONE": ""} {
		c := validConfig(t)
		c.Scanners[0].Suffix = in
		if err := c.Validate(); err != nil {
			t.Fatalf("suffix %q: %v", in, err)
		}
		if got := string(c.Scanners[0].SuffixBytes()); got != want {
			t.Errorf("suffix %q: bytes %q, want %q", in, got, want)
		}
	}
}

func TestGLN(t *testing.T) {
	for _, g := range []string{"4012345000009", "0614141000005", "5412345000013"} {
		if !ValidGLN(g) {
			t.Errorf("ValidGLN(%s) = false", g)
		}
	}
	for _, g := range []string{"4012345000001", "401234500000", "40123450000090", "401234500000X"} {
		if ValidGLN(g) {
			t.Errorf("ValidGLN(%s) = true", g)
		}
	}
}

func TestParse(t *testing.T) {
	c, err := Parse([]byte(`
station_id: s1
mode: verify
scanners:
  - device: /dev/ttyUSB0
    inter_char_timeout: 80ms
    suffix: crlf
queue:
  retention: 48h
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.StationID != "s1" || c.Mode != ModeVerify || c.Scanners[0].InterCharTimeout != 80*time.Millisecond ||
		c.Queue.Retention != 48*time.Hour {
		t.Errorf("parsed %+v", c)
	}

	if _, err := Parse([]byte("station_id: s1\nstaton_mode: x\n")); err == nil || !strings.Contains(err.Error(), "staton_mode") {
		t.Errorf("unknown key: err = %v", err)
	}
	if _, err := Parse([]byte("scanners:\n  - devise: /dev/x\n")); err == nil || !strings.Contains(err.Error(), "devise") {
		t.Errorf("unknown nested key: err = %v", err)
	}
	if _, err := Parse([]byte("scanners:\n  - inter_char_timeout: soon\n")); err == nil {
		t.Error("bad duration accepted")
	}
	if c, err := Parse(nil); err != nil || c == nil {
		t.Errorf("empty document: %v", err)
	}
	if _, err := Parse([]byte("a: 1\n---\nb: 2\n")); err == nil {
		t.Error("two documents accepted")
	}
}

func TestExampleFile(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "deploy", "station.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		return
	}
	// The example names files that do not exist here; nothing else may be
	// wrong with it.
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.Contains(line, "no such file or directory") {
			t.Errorf("example: %s", line)
		}
	}
	s := c.Scanners[0]
	if s.Name != "counter" || string(s.RefuseBytes()) != "\a" || c.Mode != ModeDispense {
		t.Errorf("example parsed as %+v", c)
	}
}

func TestEnvAndSet(t *testing.T) {
	c := validConfig(t)
	env := []string{
		"HOME=/root",
		"PHARMATRACE_STATION_CONFIG=/etc/x.yaml",
		"PHARMATRACE_STATION_MODE=verify",
		"PHARMATRACE_STATION_GLN=0614141000005",
		"PHARMATRACE_STATION_SCANNER_DEVICE=/dev/pts/7",
		"PHARMATRACE_STATION_SCANNER_INTER_CHAR_TIMEOUT=120ms",
		"PHARMATRACE_STATION_LEDGER_PEERS=a:1=/x.pem, b:2=/y.pem",
	}
	if err := c.ApplyEnv(env); err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeVerify || c.GLN != "0614141000005" || c.Scanners[0].Device != "/dev/pts/7" ||
		c.Scanners[0].InterCharTimeout != 120*time.Millisecond || len(c.Ledger.Peers) != 2 ||
		c.Ledger.Peers[1] != (Peer{Endpoint: "b:2", TLSRootCertFile: "/y.pem"}) {
		t.Errorf("env not applied: %+v", c)
	}

	err := c.ApplyEnv([]string{"PHARMATRACE_STATION_MODEE=x"})
	if err == nil || !strings.Contains(err.Error(), "PHARMATRACE_STATION_MODEE: is not a known setting") {
		t.Errorf("unknown env: %v", err)
	}
	err = c.ApplyEnv([]string{"PHARMATRACE_STATION_SCANNER_BAUD=fast"})
	if err == nil || !strings.Contains(err.Error(), "PHARMATRACE_STATION_SCANNER_BAUD") {
		t.Errorf("bad env value: %v", err)
	}

	var empty Config
	if err := empty.Set("scanner.device", "/dev/ttyACM3"); err != nil || len(empty.Scanners) != 1 || empty.Scanners[0].Device != "/dev/ttyACM3" {
		t.Errorf("Set scanner.device on empty config: %v %+v", err, empty)
	}
	if err := empty.Set("queue.retention", "1h"); err != nil || empty.Queue.Retention != time.Hour {
		t.Errorf("Set retention: %v", err)
	}
	if err := empty.Set("nope", "1"); err == nil {
		t.Error("Set accepted an unknown key")
	}
	for _, k := range Keys {
		if !strings.HasPrefix(k.Env, EnvPrefix) || k.Name == "" || k.Help == "" {
			t.Errorf("bad key %+v", k)
		}
	}
}
