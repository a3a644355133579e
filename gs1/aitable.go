package gs1

import (
	"fmt"
	"strconv"
	"strings"
)

// Charset is the character set of one component of an AI's data field.
type Charset uint8

// Character sets of the GS1 General Specifications (section 7.11).
const (
	Numeric Charset = iota // digits 0-9
	CSet82                 // GS1 AI encodable character set 82 (figure 7.11-1)
	CSet39                 // GS1 AI encodable character set 39 (figure 7.11-2)
	CSet64                 // GS1 AI encodable character set 64, base64url (figure 7.11-3)
)

func (c Charset) String() string {
	switch c {
	case Numeric:
		return "numeric"
	case CSet82:
		return "character set 82"
	case CSet39:
		return "character set 39"
	case CSet64:
		return "character set 64"
	}
	return "charset(" + strconv.Itoa(int(c)) + ")"
}

// typeLetter returns the Syntax Dictionary letter of c.
func (c Charset) typeLetter() byte { return "NXYZ"[c] }

// Check is a bit set of the content checks ("linters" in the GS1 Barcode
// Syntax Dictionary) applied to a component.
type Check uint32

// Content checks. Checks that are only listed in the Syntax Dictionary but
// not enforced here (iso3166, iso4217, iban, csumalpha, couponcode, ...) are
// recorded as CheckOther so that the table stays faithful to its source.
const (
	CheckCsum         Check = 1 << iota // GS1 mod-10 check digit in the last position
	CheckYYMMDD                         // date YYMMDD, a real calendar date
	CheckYYMMD0                         // date YYMMDD where DD=00 means the last day of the month
	CheckYYYYMMDD                       // date YYYYMMDD
	CheckHHMI                           // time HHMM
	CheckHH                             // hour 00-23
	CheckMI                             // minute 00-59
	CheckSS                             // second 00-59
	CheckYesNo                          // 0 or 1
	CheckZero                           // the digit 0
	CheckNonZero                        // not all zeros
	CheckHyphen                         // the character '-'
	CheckNoZeroPrefix                   // no leading zero unless the value is "0"
	CheckPercentEnc                     // valid percent-encoding
	CheckHasNonDigit                    // at least one non-digit
	CheckPieceOfTotal                   // NNMM with 1 <= piece NN <= total MM
	CheckKey                            // the component is (part of) a GS1 identification key
	CheckOther                          // a Syntax Dictionary linter not enforced by this package
)

var checkNames = map[string]Check{
	"csum":         CheckCsum,
	"yymmdd":       CheckYYMMDD,
	"yymmd0":       CheckYYMMD0,
	"yyyymmdd":     CheckYYYYMMDD,
	"hhmi":         CheckHHMI,
	"hh":           CheckHH,
	"mi":           CheckMI,
	"ss":           CheckSS,
	"yesno":        CheckYesNo,
	"zero":         CheckZero,
	"nonzero":      CheckNonZero,
	"hyphen":       CheckHyphen,
	"nozeroprefix": CheckNoZeroPrefix,
	"pcenc":        CheckPercentEnc,
	"hasnondigit":  CheckHasNonDigit,
	"pieceoftotal": CheckPieceOfTotal,
	"key":          CheckKey,
	"keyoff1":      CheckKey,
}

// Component is one part of an AI's data field.
type Component struct {
	Charset  Charset
	Min, Max int // Min == Max for a fixed-length component
	Optional bool
	Checks   Check
}

// IsDate reports whether the component holds a YYMMDD-style date.
func (c Component) IsDate() bool { return c.Checks&(CheckYYMMDD|CheckYYMMD0) != 0 }

// AIDef describes one Application Identifier.
type AIDef struct {
	AI    string // "01", "17", "3103", ...
	Title string // data title, e.g. "USE BY or EXPIRY"

	// Components of the data field, in order.
	Components []Component

	// Predefined is set when the AI's first two digits are in the table of
	// predefined-length element strings (GenSpecs figure 7.8.5-2): no
	// separator is needed after it.
	Predefined bool

	// DLAttribute: permitted as a GS1 Digital Link query data attribute.
	DLAttribute bool
	// DLPrimaryKey: a GS1 Digital Link primary key; DLQualifiers lists its
	// alternative ordered sequences of key qualifiers (e.g. [[22 10 21] [235]]).
	DLPrimaryKey bool
	DLQualifiers [][]string

	// Requires is the raw "req=" attributes (each must be satisfied by one
	// of its comma-separated alternatives, "+" joining AIs that are all
	// needed); Excludes the raw "ex=" list. "n" in a pattern matches any digit.
	Requires []string
	Excludes string

	req [][][]aiPattern // parsed Requires: AND of OR of AND
	ex  []aiPattern
}

// aiPattern is an AI or a pattern such as "31nn" from req= and ex=
// attributes; idx is the table index+1 of a plain AI, 0 for a pattern.
type aiPattern struct {
	pat string
	idx uint16
}

func (p aiPattern) matches(e Element) bool {
	if p.idx != 0 {
		return p.idx == e.def
	}
	return aiMatches(p.pat, e.AI)
}

// MinLength is the minimum length of the data field.
func (d *AIDef) MinLength() int {
	n := 0
	for _, c := range d.Components {
		if !c.Optional {
			n += c.Min
		}
	}
	return n
}

// MaxLength is the maximum length of the data field.
func (d *AIDef) MaxLength() int {
	n := 0
	for _, c := range d.Components {
		n += c.Max
	}
	return n
}

// FixedLength reports whether the data field has exactly one length.
func (d *AIDef) FixedLength() bool { return d.MinLength() == d.MaxLength() }

// Format returns the GenSpecs-style format of the data field, e.g. "N6",
// "X..20", "N13 [X..17]".
func (d *AIDef) Format() string {
	var b strings.Builder
	for i, c := range d.Components {
		if i > 0 {
			b.WriteByte(' ')
		}
		if c.Optional {
			b.WriteByte('[')
		}
		b.WriteByte(c.Charset.typeLetter())
		if c.Min != c.Max {
			b.WriteString("..")
		}
		b.WriteString(strconv.Itoa(c.Max))
		if c.Optional {
			b.WriteByte(']')
		}
	}
	return b.String()
}

// NHRN reports whether the AI is a national healthcare reimbursement number
// (AIs 710-717).
func (d *AIDef) NHRN() bool { return isNHRN(d.AI) }

func isNHRN(ai string) bool {
	return len(ai) == 3 && ai[0] == '7' && ai[1] == '1' && ai[2] >= '0' && ai[2] <= '7'
}

type aiSpec struct{ from, to, flags, spec, attrs, title string }

var (
	aiDefs []AIDef
	// idx2, idx3, idx4 map the numeric value of a 2-, 3- or 4-digit AI to
	// its index in aiDefs plus one (0: not assigned).
	idx2 [100]uint16
	idx3 [1000]uint16
	idx4 [10000]uint16
	// aiLen maps the first two digits of an AI to the AI's length (2, 3 or
	// 4), 0 if no AI starts with them.
	aiLen [100]uint8
	// predefinedLen maps the first two digits of an AI to the total length
	// of its element string, or 0 when a separator is needed.
	predefinedLen [100]uint8
)

func init() {
	for k, v := range predefinedLengthByPrefix {
		predefinedLen[k] = uint8(v)
	}
	for _, s := range aiSpecs {
		to := s.to
		if to == "" {
			to = s.from
		}
		lo, _ := strconv.Atoi(s.from)
		hi, _ := strconv.Atoi(to)
		for n := lo; n <= hi; n++ {
			ai := fmt.Sprintf("%0*d", len(s.from), n)
			aiDefs = append(aiDefs, newAIDef(ai, s))
		}
	}
	for i := range aiDefs {
		d := &aiDefs[i]
		for _, alts := range d.req {
			for _, all := range alts {
				for k := range all {
					all[k].idx = uint16(lookupIndexInit(all[k].pat))
				}
			}
		}
		for k := range d.ex {
			d.ex[k].idx = uint16(lookupIndexInit(d.ex[k].pat))
		}
	}
	for i := range aiDefs {
		d := &aiDefs[i]
		n, _ := strconv.Atoi(d.AI)
		aiLen[atoi2(d.AI)] = uint8(len(d.AI))
		switch len(d.AI) {
		case 2:
			idx2[n] = uint16(i + 1)
		case 3:
			idx3[n] = uint16(i + 1)
		case 4:
			idx4[n] = uint16(i + 1)
		}
	}
}

// lookupIndexInit finds an AI by linear search (the index arrays are not
// built yet when it runs).
func lookupIndexInit(ai string) int {
	for i := range aiDefs {
		if aiDefs[i].AI == ai {
			return i + 1
		}
	}
	return 0
}

func newAIDef(ai string, s aiSpec) AIDef {
	d := AIDef{AI: ai, Title: s.title}
	if strings.Contains(s.title, "# n") {
		d.Title = strings.Replace(s.title, "# n", "# "+ai[3:], 1)
	}
	d.Predefined = strings.Contains(s.flags, "*")
	d.DLAttribute = strings.Contains(s.flags, "?")
	for _, tok := range strings.Fields(s.spec) {
		var c Component
		parts := strings.Split(tok, ",")
		t := parts[0]
		if strings.HasPrefix(t, "[") {
			c.Optional = true
			t = strings.Trim(t, "[]")
		}
		c.Charset = Charset(strings.IndexByte("NXYZ", t[0]))
		if strings.HasPrefix(t[1:], "..") {
			c.Min = 1
			c.Max, _ = strconv.Atoi(t[3:])
		} else {
			c.Max, _ = strconv.Atoi(t[1:])
			c.Min = c.Max
		}
		for _, l := range parts[1:] {
			if ck, ok := checkNames[l]; ok {
				c.Checks |= ck
			} else {
				c.Checks |= CheckOther
			}
		}
		d.Components = append(d.Components, c)
	}
	for _, a := range strings.Fields(s.attrs) {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "req":
			d.Requires = append(d.Requires, v)
			var alts [][]aiPattern
			for _, alt := range strings.Split(v, ",") {
				var all []aiPattern
				for _, p := range strings.Split(alt, "+") {
					all = append(all, aiPattern{pat: p})
				}
				alts = append(alts, all)
			}
			d.req = append(d.req, alts)
		case "ex":
			d.Excludes = v
			for _, p := range strings.Split(v, ",") {
				d.ex = append(d.ex, aiPattern{pat: p})
			}
		case "dlpkey":
			d.DLPrimaryKey = true
			if v != "" {
				for _, seq := range strings.Split(v, "|") {
					d.DLQualifiers = append(d.DLQualifiers, strings.Split(seq, ","))
				}
			}
		}
	}
	return d
}

// Definitions returns every Application Identifier of the table, sorted by
// AI. The returned slice must not be modified.
func Definitions() []AIDef { return aiDefs }

// Lookup returns the definition of an AI given as 2 to 4 digits.
func Lookup(ai string) (*AIDef, bool) {
	if i := lookupIndex(ai); i > 0 {
		return &aiDefs[i-1], true
	}
	return nil, false
}

func lookupIndex(ai string) int {
	n := 0
	for i := 0; i < len(ai); i++ {
		c := ai[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	switch len(ai) {
	case 2:
		return int(idx2[n])
	case 3:
		return int(idx3[n])
	case 4:
		return int(idx4[n])
	}
	return 0
}

// matchAI returns the index+1 of the AI at the start of s and the AI's
// length n. The first two digits of an AI determine its length (aiLen), so
// idx is 0 with n > 0 when s ends inside an AI (len(s) < n) or the AI of
// that length is not assigned, and 0 with n == 0 when no AI starts with
// those two digits. The caller has checked that s[0:2] are digits.
func matchAI(s string) (idx, n int) {
	v := int(s[0]-'0')*10 + int(s[1]-'0')
	n = int(aiLen[v])
	if n == 0 || len(s) < n {
		return 0, n
	}
	switch n {
	case 2:
		return int(idx2[v]), 2
	case 3:
		if isDigit(s[2]) {
			return int(idx3[v*10+int(s[2]-'0')]), 3
		}
	case 4:
		if isDigit(s[2]) && isDigit(s[3]) {
			return int(idx4[v*100+int(s[2]-'0')*10+int(s[3]-'0')]), 4
		}
	}
	return 0, n
}

// PredefinedLength returns the total length (AI plus data) of an element
// string whose AI starts with the given two digits, when that prefix is in
// the GS1 table of predefined-length element strings (GenSpecs figure
// 7.8.5-2); ok is false when such an element string must be followed by a
// separator.
func PredefinedLength(ai string) (n int, ok bool) {
	if len(ai) < 2 || !isDigit(ai[0]) || !isDigit(ai[1]) {
		return 0, false
	}
	n = int(predefinedLen[int(ai[0]-'0')*10+int(ai[1]-'0')])
	return n, n > 0
}

// aiMatches reports whether ai matches pattern, where 'n' in the pattern
// matches any digit.
func aiMatches(pattern, ai string) bool {
	if len(pattern) != len(ai) {
		return false
	}
	for i := 0; i < len(ai); i++ {
		if pattern[i] != 'n' && pattern[i] != ai[i] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
