package station

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pharmatrace/pharmatrace/gs1"
)

// FieldError is one invalid setting. Field is the YAML path, e.g.
// "scanners[1].baud".
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// SupportedBauds are the rates the serial layer can set on Linux.
var SupportedBauds = []int{
	50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600,
	19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600,
	1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000,
}

// Parities are the accepted parity names.
var Parities = []string{"none", "odd", "even", "mark", "space"}

// Suffixes are the accepted frame suffix names.
var Suffixes = []string{"CR", "LF", "CRLF", "TAB", "none"}

const (
	minInterChar = time.Millisecond
	maxInterChar = 10 * time.Second
	minMaxFrame  = 16
	maxMaxFrame  = 64 << 10
	maxFeedback  = 64
)

var (
	stationIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	hex4Re      = regexp.MustCompile(`^[0-9A-Fa-f]{4}$`)
)

// Validate fills in defaults for empty fields and checks every field. It
// returns nil or an error joining one *FieldError per problem (use
// errors.As or the message, one problem per line). Files named by the
// configuration (identity, TLS roots) must exist, and the queue's directory
// too.
func (c *Config) Validate() error {
	c.applyDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	fileMustExist := func(field, path string) {
		if path == "" {
			bad(field, "is required")
			return
		}
		if _, err := os.Stat(path); err != nil {
			bad(field, "%v", err)
		}
	}

	switch {
	case c.StationID == "":
		bad("station_id", "is required")
	case !stationIDRe.MatchString(c.StationID):
		bad("station_id", "%q must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit", c.StationID)
	}
	switch {
	case c.GLN == "":
		bad("gln", "is required")
	case !ValidGLN(c.GLN):
		bad("gln", "%q is not a 13-digit GLN with a valid check digit", c.GLN)
	}
	switch {
	case c.Mode == "":
		bad("mode", "is required (one of %s)", modeList())
	case !slices.Contains(Modes, c.Mode):
		bad("mode", "%q is not one of %s", c.Mode, modeList())
	}

	// Identity.
	id := c.Identity
	if id.MSPID == "" {
		bad("identity.msp_id", "is required")
	}
	hasPair := id.CertFile != "" || id.KeyFile != ""
	switch {
	case hasPair && id.MSPDir != "":
		bad("identity", "set either cert_file and key_file, or msp_dir, not both")
	case hasPair:
		fileMustExist("identity.cert_file", id.CertFile)
		fileMustExist("identity.key_file", id.KeyFile)
	case id.MSPDir != "":
		if st, err := os.Stat(id.MSPDir); err != nil {
			bad("identity.msp_dir", "%v", err)
		} else if !st.IsDir() {
			bad("identity.msp_dir", "%s is not a directory", id.MSPDir)
		}
	default:
		bad("identity", "set cert_file and key_file, or msp_dir")
	}

	// Scanners.
	if len(c.Scanners) == 0 {
		bad("scanners", "at least one scanner is required")
	}
	names := map[string]int{}
	devices := map[string]int{}
	for i := range c.Scanners {
		s := &c.Scanners[i]
		f := func(name string) string { return fmt.Sprintf("scanners[%d].%s", i, name) }
		if j, dup := names[s.Name]; dup {
			bad(f("name"), "%q is already used by scanners[%d]", s.Name, j)
		} else {
			names[s.Name] = i
		}
		switch {
		case s.Device != "" && s.USB != nil:
			bad(fmt.Sprintf("scanners[%d]", i), "set either device or usb, not both")
		case s.Device != "":
			if !filepath.IsAbs(s.Device) {
				bad(f("device"), "%q is not an absolute path", s.Device)
			} else if j, dup := devices[s.Device]; dup {
				bad(f("device"), "%s is already used by scanners[%d]", s.Device, j)
			} else {
				devices[s.Device] = i
			}
		case s.USB != nil:
			if !hex4Re.MatchString(s.USB.VID) {
				bad(f("usb.vid"), "%q is not 4 hex digits", s.USB.VID)
			}
			if !hex4Re.MatchString(s.USB.PID) {
				bad(f("usb.pid"), "%q is not 4 hex digits", s.USB.PID)
			}
		default:
			bad(fmt.Sprintf("scanners[%d]", i), "set device or usb")
		}
		if !slices.Contains(SupportedBauds, s.Baud) {
			bad(f("baud"), "%d is not a supported rate", s.Baud)
		}
		if s.DataBits < 5 || s.DataBits > 8 {
			bad(f("data_bits"), "%d is not 5, 6, 7 or 8", s.DataBits)
		}
		if !slices.Contains(Parities, s.Parity) {
			bad(f("parity"), "%q is not one of %s", s.Parity, strings.Join(Parities, ", "))
		}
		if s.StopBits != 1 && s.StopBits != 2 {
			bad(f("stop_bits"), "%d is not 1 or 2", s.StopBits)
		}
		suffixOK := slices.Contains(Suffixes, s.Suffix)
		if !suffixOK {
			bad(f("suffix"), "%q is not one of %s", s.Suffix, strings.Join(Suffixes, ", "))
		}
		if s.InterCharTimeout < minInterChar || s.InterCharTimeout > maxInterChar {
			bad(f("inter_char_timeout"), "%v is outside %v..%v", s.InterCharTimeout, minInterChar, maxInterChar)
		}
		if s.MaxFrame < minMaxFrame || s.MaxFrame > maxMaxFrame {
			bad(f("max_frame"), "%d is outside %d..%d", s.MaxFrame, minMaxFrame, maxMaxFrame)
		}
		if s.GSSubstitute != "" {
			b, err := ParseGSSubstitute(s.GSSubstitute)
			switch {
			case err != nil:
				bad(f("gs_substitute"), "%v", err)
			case b == '\r' || b == '\n' || b == '\t' || b == 0:
				bad(f("gs_substitute"), "%q cannot stand for GS: it is NUL or a suffix character", s.GSSubstitute)
			case b == ']' || isGS1DataChar(b):
				bad(f("gs_substitute"), "%q is a GS1 data character and cannot stand for GS", s.GSSubstitute)
			case b >= 0x80:
				bad(f("gs_substitute"), "%q is not an ASCII character", s.GSSubstitute)
			}
		}
		if s.RefuseFeedback != "" {
			b, err := Unescape(s.RefuseFeedback)
			switch {
			case err != nil:
				bad(f("refuse_feedback"), "%v", err)
			case len(b) > maxFeedback:
				bad(f("refuse_feedback"), "%d bytes is longer than %d", len(b), maxFeedback)
			}
		}
	}

	// Queue.
	if dir := filepath.Dir(c.Queue.Path); !filepath.IsAbs(c.Queue.Path) {
		bad("queue.path", "%q is not an absolute path", c.Queue.Path)
	} else if st, err := os.Stat(dir); err != nil {
		bad("queue.path", "directory %s: %v", dir, err)
	} else if !st.IsDir() {
		bad("queue.path", "%s is not a directory", dir)
	}
	if c.Queue.Retention < time.Minute {
		bad("queue.retention", "%v is shorter than 1m", c.Queue.Retention)
	}

	// Ledger.
	if c.Ledger.Channel == "" {
		bad("ledger.channel", "is required")
	}
	if c.Ledger.Chaincode == "" {
		bad("ledger.chaincode", "is required")
	}
	if len(c.Ledger.Peers) == 0 {
		bad("ledger.peers", "at least one peer is required")
	}
	for i, p := range c.Ledger.Peers {
		f := func(name string) string { return fmt.Sprintf("ledger.peers[%d].%s", i, name) }
		if err := checkHostPort(p.Endpoint); err != nil {
			bad(f("endpoint"), "%v", err)
		}
		fileMustExist(f("tls_root_cert_file"), p.TLSRootCertFile)
	}

	if c.Metrics.Listen != "" {
		if err := checkHostPort(c.Metrics.Listen); err != nil {
			bad("metrics.listen", "%v", err)
		}
	}
	return errors.Join(errs...)
}

func modeList() string {
	s := make([]string, len(Modes))
	for i, m := range Modes {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

func checkHostPort(hp string) error {
	if hp == "" {
		return errors.New("is required")
	}
	_, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("%q is not host:port", hp)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q has no valid port", hp)
	}
	return nil
}

// applyDefaults fills empty fields; called by Validate.
func (c *Config) applyDefaults() {
	c.normaliseSuffixes()
	for i := range c.Scanners {
		s := &c.Scanners[i]
		if s.Name == "" {
			s.Name = fmt.Sprintf("scanner%d", i)
		}
		if s.Baud == 0 {
			s.Baud = DefaultBaud
		}
		if s.DataBits == 0 {
			s.DataBits = DefaultDataBits
		}
		if s.Parity == "" {
			s.Parity = DefaultParity
		}
		s.Parity = strings.ToLower(s.Parity)
		if s.StopBits == 0 {
			s.StopBits = DefaultStopBits
		}
		if s.Suffix == "" {
			s.Suffix = DefaultSuffix
		}
		if s.InterCharTimeout == 0 {
			s.InterCharTimeout = DefaultInterCharTimeout
		}
		if s.MaxFrame == 0 {
			s.MaxFrame = DefaultMaxFrame
		}
	}
	if c.Queue.Path == "" {
		c.Queue.Path = DefaultQueuePath
	}
	if c.Queue.Retention == 0 {
		c.Queue.Retention = DefaultRetention
	}
}

// normaliseSuffixes normalises the spelling of every scanner's suffix (CR,
// LF, CRLF, TAB upper case; none lower case) so that "cr" and "None" are
// accepted.
func (c *Config) normaliseSuffixes() {
	for i := range c.Scanners {
		if name, _, err := ParseSuffix(c.Scanners[i].Suffix); err == nil {
			c.Scanners[i].Suffix = name
		}
	}
}

// SuffixBytes returns the bytes that end a frame; nil for "none". Valid
// after Validate.
func (s *Scanner) SuffixBytes() []byte {
	_, b, _ := ParseSuffix(s.Suffix)
	return b
}

// ParseSuffix maps a suffix name (CR, LF, CRLF, TAB or none, any case) to
// its canonical spelling and its bytes (nil for none).
func ParseSuffix(name string) (string, []byte, error) {
	switch strings.ToUpper(name) {
	case "CR":
		return "CR", []byte{'\r'}, nil
	case "LF":
		return "LF", []byte{'\n'}, nil
	case "CRLF":
		return "CRLF", []byte{'\r', '\n'}, nil
	case "TAB":
		return "TAB", []byte{'\t'}, nil
	case "NONE":
		return "none", nil, nil
	}
	return "", nil, fmt.Errorf("%q is not one of %s", name, strings.Join(Suffixes, ", "))
}

// GSByte returns the GS substitute byte and true, or 0 and false when the
// scanner sends GS itself. Valid after Validate.
func (s *Scanner) GSByte() (byte, bool) {
	if s.GSSubstitute == "" {
		return 0, false
	}
	b, err := ParseGSSubstitute(s.GSSubstitute)
	return b, err == nil
}

// RefuseBytes returns the unescaped refusal feedback sequence, nil if none.
// Valid after Validate.
func (s *Scanner) RefuseBytes() []byte {
	b, _ := Unescape(s.RefuseFeedback)
	return b
}

// ParseGSSubstitute parses a GS substitute: one ASCII character ("~"),
// caret notation ("^]" is 0x1D, "^\" is 0x1C) or a hex escape ("\x1c",
// "0x1c"). It is the notation of the decode command's -gs-substitute.
func ParseGSSubstitute(s string) (byte, error) {
	switch {
	case len(s) == 1:
		return s[0], nil
	case len(s) == 2 && s[0] == '^' && s[1] >= '@' && s[1] <= '_':
		return s[1] - '@', nil
	case len(s) == 4 && (strings.HasPrefix(s, `\x`) || strings.HasPrefix(s, "0x")):
		v, err := strconv.ParseUint(s[2:], 16, 8)
		if err != nil {
			return 0, fmt.Errorf("bad hex escape %q", s)
		}
		return byte(v), nil
	}
	return 0, fmt.Errorf("want one character, ^X or \\xHH, got %q", s)
}

// Unescape decodes \xHH, \r, \n, \t, \e (ESC) and \\ in s.
func Unescape(s string) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(s) {
			return nil, errors.New("trailing backslash")
		}
		i++
		switch s[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'e':
			out = append(out, 0x1b)
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("short \\x escape at byte %d", i-1)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("bad \\x escape %q", s[i-1:i+3])
			}
			out = append(out, byte(v))
			i += 2
		default:
			return nil, fmt.Errorf("unknown escape \\%c", s[i])
		}
	}
	return out, nil
}

// isGS1DataChar reports whether b belongs to GS1 AI encodable character
// set 82, the characters that may appear in element string values.
func isGS1DataChar(b byte) bool {
	switch {
	case b >= '0' && b <= '9', b >= 'A' && b <= 'Z', b >= 'a' && b <= 'z':
		return true
	}
	return strings.IndexByte(`!"%&'()*+,-./:;<=>?_`, b) >= 0
}

// ValidGLN reports whether s is a 13-digit GLN with a valid GS1 check digit.
func ValidGLN(s string) bool { return gs1.ValidGLN(s) }
