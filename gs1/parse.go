package gs1

import (
	"strconv"
	"strings"
	"time"
)

// GS is the ASCII group separator, by which scanners transmit FNC1.
const GS = 0x1D

// Parser parses scans. The zero value is ready to use: no separator
// substitute and the system clock for the century window. A Parser is safe
// for concurrent use as long as its fields are not modified.
type Parser struct {
	// GSSubstitute is a byte that a keyboard-wedge scanner sends instead of
	// GS (0x1D), e.g. '~' or '|'; 0 for none. It is accepted in addition to
	// GS. It should not be a character of character set 82, since it could
	// then not be told apart from data.
	GSSubstitute byte

	// Now returns the current time, used only for the century sliding
	// window of YYMMDD dates (GenSpecs 7.12). Nil means time.Now.
	Now func() time.Time
}

// Parse parses scanner data, auto-detecting the form: a linear EAN/UPC
// symbol ("]E0" and 13 digits, "]E4" and 8), or an optional AIM symbology
// identifier (]d2, ]Q3, ]C1, ]e0, ]J1 or any other "]" prefix) followed by
// a GS1 Digital Link URI (http:// or https://), the bracketed form
// "(01)...", or a raw element string. It is ParseString on a copy of data.
func Parse(data []byte) (Scan, error) { var p Parser; return p.ParseString(string(data)) }

// ParseString is Parse for a string. The returned Scan refers to s.
func ParseString(s string) (Scan, error) { var p Parser; return p.ParseString(s) }

// Parse is like the package-level Parse, with p's settings.
func (p *Parser) Parse(data []byte) (Scan, error) { return p.ParseString(string(data)) }

// ParseString is like the package-level ParseString, with p's settings.
func (p *Parser) ParseString(s string) (Scan, error) {
	st := state{p: *p, s: s}
	if err := st.parse(); err != nil {
		return Scan{}, err
	}
	return st.sc, nil
}

// gs1Symbologies are the AIM symbology identifiers that announce GS1
// element strings: GS1 DataMatrix, GS1 QR Code, GS1-128, GS1 DataBar (and
// Composite), GS1 DotCode.
var gs1Symbologies = [...]string{"]d2", "]Q3", "]C1", "]e0", "]J1"}

func (st *state) parse() error {
	s := st.s
	sc := &st.sc
	end := len(s)
	for end > 0 && (s[end-1] == '\n' || s[end-1] == '\r') {
		end-- // a scanner's CR/LF suffix
	}
	if end == 0 {
		return perr(0, "", ErrEmpty, "no data")
	}
	if isLinearEANUPC(s[:end]) {
		return st.linear(end)
	}
	i := 0
	gs1Sym := true // no identifier: assume GS1
	var symWarn Warning
	if end >= 3 && (s[0] == ']' || s[0] == '+') && isAIMChar(s[1]) && isDigit(s[2]) {
		id := s[:3]
		switch {
		case s[0] == '+':
			// "]" typed through a German layout arrives as "+".
			if isGS1Symbology("]" + id[1:]) {
				i = 3
				symWarn = Warning{Kind: KeyboardLayout, Pos: 0, Msg: "symbology identifier arrived as \"" + id +
					"\" instead of \"]" + id[1:] + "\": the PC's keyboard layout (German QWERTZ?) differs from the scanner's, so Y and Z in the data may be swapped and some symbols changed: set the scanner to the PC's keyboard layout"}
			}
		case isGS1Symbology(id):
			i = 3
		case isGS1Symbology(InvertCase(id)):
			i = 3
			symWarn = Warning{Kind: CapsLock, Pos: 0, Msg: "symbology identifier arrived as \"" + id + "\" instead of \"" +
				InvertCase(id) + "\": CAPS LOCK is on at the workstation, so the letter case of lot and serial is inverted: switch CAPS LOCK off and rescan"}
		default:
			i = 3
			gs1Sym = false
		}
		if i == 3 {
			sc.Symbology = id
		}
	}
	if symWarn.Msg != "" {
		sc.warn(symWarn)
	}
	body := s[i:end]
	switch {
	case hasPrefixFold(body, "https://") || hasPrefixFold(body, "http://"):
		if err := st.digitalLink(i, end); err != nil {
			return err
		}
	case len(body) > 0 && body[0] == '(':
		if err := st.hri(i, end); err != nil {
			return err
		}
	default:
		if !gs1Sym {
			return perr(0, "", ErrSymbology, "symbology identifier \""+s[:3]+
				"\" does not announce GS1 data (expected ]d2 GS1 DataMatrix, ]Q3 GS1 QR Code, ]C1 GS1-128 or ]e0 GS1 DataBar): the symbol is not GS1-encoded")
		}
		if err := st.elements(i, end); err != nil {
			return err
		}
	}
	if symWarn.Kind == KeyboardLayout {
		st.yzHint()
	}
	return nil
}

// isLinearEANUPC reports whether s is the transmission of a linear EAN/UPC
// symbol: "]E4" followed by digits (EAN-8), or "]E0" (EAN-13, UPC-A, UPC-E)
// followed by digits that are not "01" and 14 or more digits. That exception
// is a GS1 DataBar scan ("]e0") whose identifier CAPS LOCK turned into
// "]E0": DataBar carries AI 01 first, while an EAN-13 is exactly 13 digits.
func isLinearEANUPC(s string) bool {
	if len(s) < 4 || s[0] != ']' || s[1] != 'E' || (s[2] != '0' && s[2] != '4') || badChar(s[3:], Numeric) >= 0 {
		return false
	}
	return s[2] == '4' || !(len(s)-3 >= 16 && s[3:5] == "01")
}

// linear parses s[:end], for which isLinearEANUPC holds: the GTIN-13 (or
// GTIN-8) of an EAN/UPC symbol, stored as a GTIN-14 without AIs.
func (st *state) linear(end int) error {
	s := st.s
	sc := &st.sc
	want, name := 13, "EAN-13/UPC-A"
	if s[2] == '4' {
		want, name = 8, "EAN-8"
	}
	d := s[3:end]
	if len(d) != want {
		return perr(3, "", ErrLength, name+" data after symbology identifier \""+s[:3]+"\" must be "+strconv.Itoa(want)+
			" digits, found "+strconv.Itoa(len(d)))
	}
	if !validCheckDigit(d) {
		w, _ := CheckDigit(d[:want-1])
		return perr(3+want-1, "", ErrCheckDigit, name+" check digit is "+d[want-1:]+", expected "+strconv.Itoa(w)+
			" (misread, mistyped or not a genuine GTIN)")
	}
	sc.Form = FormEANUPC
	sc.Symbology = s[:3]
	sc.GTIN = "000000"[:14-want] + d
	sc.has |= has01
	return nil
}

func isAIMChar(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

func isGS1Symbology(id string) bool {
	for _, g := range gs1Symbologies {
		if g == id {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// ParseElementString parses a raw element string (optionally with AIM
// identifier and leading FNC1) without auto-detection of other forms.
func (p *Parser) ParseElementString(s string) (Scan, error) {
	st := state{p: *p, s: s}
	sc := &st.sc
	i, end := 0, len(s)
	if end >= 3 && s[0] == ']' {
		if !isGS1Symbology(s[:3]) {
			return Scan{}, perr(0, "", ErrSymbology, "symbology identifier \""+s[:3]+"\" does not announce GS1 data")
		}
		sc.Symbology = s[:3]
		i = 3
	}
	if err := st.elements(i, end); err != nil {
		return Scan{}, err
	}
	return st.sc, nil
}

type state struct {
	p     Parser
	s     string
	sc    Scan
	year  int  // current year, 0 until needed
	probe bool // trial parse for the dropped-separator heuristic
}

func (st *state) currentYear() int {
	if st.year == 0 {
		if st.p.Now != nil {
			st.year = st.p.Now().Year()
		} else {
			st.year = time.Now().Year()
		}
	}
	return st.year
}

func (st *state) isSep(c byte) bool {
	return c == GS || (st.p.GSSubstitute != 0 && c == st.p.GSSubstitute)
}

// elements parses the element string s[i:end].
func (st *state) elements(i, end int) error {
	s := st.s
	sc := &st.sc
	sc.Form = FormElementString
	if i < end && st.isSep(s[i]) {
		i++ // leading FNC1
	}
	if end > i && st.isSep(s[end-1]) {
		end-- // trailing FNC1
	}
	if i >= end {
		return perr(i, "", ErrEmpty, "no element string")
	}
	for i < end {
		aiPos := i
		if !isDigit(s[i]) || i+1 >= end || !isDigit(s[i+1]) {
			return st.badAIStart(i, end)
		}
		idx, n := matchAI(s[i:end])
		if idx == 0 {
			return st.unknownAI(i, end, n)
		}
		def := &aiDefs[idx-1]
		ai := s[i : i+n]
		vs := i + n
		var ve int
		if pl := int(predefinedLen[atoi2(s[i:])]); pl > 0 {
			ve = aiPos + pl
			if ve > end {
				return perr(aiPos, ai, ErrLength, "data must be "+strconv.Itoa(pl-n)+" digits long, found only "+
					strconv.Itoa(end-vs)+" before the end of the data")
			}
			for j := vs; j < ve; j++ {
				if st.isSep(s[j]) {
					return perr(aiPos, ai, ErrLength, "data must be "+strconv.Itoa(pl-n)+" digits long, found a group separator after "+
						strconv.Itoa(j-vs))
				}
			}
		} else {
			ve = vs
			for ve < end && !st.isSep(s[ve]) {
				ve++
			}
		}
		if err := st.checkValue(def, ai, aiPos, s[vs:ve], vs); err != nil {
			return err
		}
		if err := st.addElement(idx, Element{AI: ai, Value: s[vs:ve], Pos: aiPos}); err != nil {
			return err
		}
		i = ve
		if i < end && st.isSep(s[i]) {
			// Required after a variable-length field, tolerated after a
			// predefined-length one.
			i++
			if i < end && st.isSep(s[i]) {
				return perr(i, "", ErrSyntax, "two group separators in a row (empty element string)")
			}
		}
	}
	if st.probe {
		return nil
	}
	return st.finish()
}

// finish runs the checks that need the whole message.
func (st *state) finish() error {
	if err := st.associations(); err != nil {
		return err
	}
	st.heuristics()
	return nil
}

// badAIStart builds the error for a position where an AI was expected but
// does not start with two digits.
func (st *state) badAIStart(i, end int) error {
	s := st.s
	if azertyEvidence(s, i) {
		return perr(i, "", ErrKeyboardLayout, charDesc(s, i)+" where an AI was expected: the PC keyboard layout looks like French AZERTY (the digit row 1234567890 arrives as &é\"'(-è_çà): set the scanner to the PC's keyboard layout")
	}
	if i == 0 && len(s) > 3 && s[0] == '$' && isAIMChar(s[1]) && azertyEvidence(s, 2) {
		// "]d2" typed through AZERTY arrives as "$dé".
		return perr(0, "", ErrKeyboardLayout, "symbology identifier arrived as "+strconv.Quote(s[:2])+" followed by "+charDesc(s, 2)+
			": the PC keyboard layout looks like French AZERTY (\"]\" arrives as \"$\", digits as &é\"'(-è_çà): set the scanner to the PC's keyboard layout")
	}
	if i == 0 || (st.sc.Symbology != "" && i == len(st.sc.Symbology)) {
		if s[i] == ']' {
			return perr(i, "", ErrSymbology, "unrecognised symbology identifier")
		}
		return perr(i, "", ErrSyntax, charDesc(s, i)+" where an AI was expected: the data does not start with a GS1 Application Identifier")
	}
	if i+1 >= end && isDigit(s[i]) {
		return perr(i, "", ErrSyntax, "data ends inside an AI")
	}
	return perr(i, "", ErrSyntax, charDesc(s, i)+" where an AI was expected")
}

func (st *state) unknownAI(i, end, n int) error {
	s := st.s
	switch {
	case n == 0:
		return perr(i, "", ErrUnknownAI, "no Application Identifier starts with \""+s[i:i+2]+"\"")
	case i+n > end:
		return perr(i, "", ErrSyntax, "data ends inside an AI")
	}
	return perr(i, "", ErrUnknownAI, strconv.Quote(s[i:i+n])+" is not an assigned Application Identifier")
}

// addElement appends e, rejecting conflicting duplicates and silently
// dropping identical ones, and sets the convenience fields.
func (st *state) addElement(idx int, e Element) error {
	sc := &st.sc
	e.def = uint16(idx)
	for k := 0; k < sc.n; k++ {
		if o := sc.At(k); o.def == e.def {
			if o.Value == e.Value {
				return nil
			}
			return perr(e.Pos, e.AI, ErrConflict, "appears twice with different values ("+strconv.Quote(o.Value)+
				" at byte "+strconv.Itoa(o.Pos)+" and "+strconv.Quote(e.Value)+")")
		}
	}
	sc.add(e)
	if len(e.AI) == 2 {
		switch e.AI {
		case "01":
			sc.GTIN = e.Value
			sc.has |= has01
		case "21":
			sc.Serial = e.Value
			sc.has |= has21
		case "10":
			sc.Lot = e.Value
			sc.has |= has10
		case "17":
			sc.has |= has17
			y, m, d, unset, _ := checkDate(e.Value, true, st.currentYear())
			sc.Expiry = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
			sc.ExpiryDayUnset = unset
		}
	}
	return nil
}

// checkValue validates value v of AI ai (AI at aiPos, value at vpos)
// against its definition.
func (st *state) checkValue(def *AIDef, ai string, aiPos int, v string, vpos int) error {
	if len(v) == 0 {
		return perr(aiPos, ai, ErrLength, "no data (an empty "+def.Title+")")
	}
	off := 0
	for ci := range def.Components {
		c := &def.Components[ci]
		rem := len(v) - off
		if rem == 0 && c.Optional {
			break
		}
		n := c.Max
		if rem == 0 {
			// A mandatory component after the first is missing, e.g. the
			// processor's approval number of (7030)276.
			return perr(aiPos, ai, ErrLength, "component "+strconv.Itoa(ci+1)+" of "+strconv.Itoa(len(def.Components))+
				" is missing after "+strconv.Quote(v)+" (AI "+ai+" is "+def.Format()+")")
		}
		if c.Min == c.Max {
			if rem < c.Max {
				return st.lengthErr(def, ai, aiPos, v, vpos)
			}
		} else {
			n = rem
			if n > c.Max {
				n = c.Max
			}
		}
		part := v[off : off+n]
		if b := badChar(part, c.Charset); b >= 0 {
			return st.charsetErr(def, ai, aiPos, v, vpos, off+b, c.Charset)
		}
		if c.Checks&^(CheckKey|CheckOther) != 0 {
			if err := st.lint(def, ai, aiPos, part, vpos+off, c.Checks); err != nil {
				return err
			}
		}
		off += n
	}
	if off < len(v) {
		return st.lengthErr(def, ai, aiPos, v, vpos)
	}
	return nil
}

// maxProbe bounds the part of an over-long value searched for a swallowed
// element string.
const maxProbe = 256

func (st *state) lengthErr(def *AIDef, ai string, aiPos int, v string, vpos int) error {
	var msg string
	if def.FixedLength() {
		msg = "data must be exactly " + plural(def.MaxLength(), "character") + " (" + def.Format() + "), found " + strconv.Itoa(len(v))
	} else {
		msg = "data is " + strconv.Itoa(len(v)) + " characters long, at most " + strconv.Itoa(def.MaxLength()) + " are allowed (" + def.Format() + ")"
	}
	if len(v) > def.MaxLength() {
		probe := v
		if len(probe) > maxProbe {
			probe = probe[:maxProbe] // bound the work on garbage input
		}
		if k, eai := st.embeddedAI(probe, vpos); k >= 0 {
			msg += "; it seems to contain AI " + eai + " at byte " + strconv.Itoa(vpos+k) + ": group separator missing: enable FNC1 (GS) transmission on the scanner"
		} else {
			msg += ": a group separator is probably missing after it"
		}
	}
	return perr(aiPos, ai, ErrLength, msg)
}

// charsetErr reports the character at v[b], diagnosing keyboard-layout and
// separator-substitute faults.
func (st *state) charsetErr(def *AIDef, ai string, aiPos int, v string, vpos, b int, cs Charset) error {
	pos := vpos + b
	desc := charDesc(v, b)
	if cs == Numeric {
		if azertyEvidence(v, b) {
			return perr(pos, ai, ErrKeyboardLayout, desc+" in a numeric field: the PC keyboard layout looks like French AZERTY (the digit row 1234567890 arrives as &é\"'(-è_çà): set the scanner to the PC's keyboard layout")
		}
	}
	if layout, ok := layoutChar(v, b); ok {
		return perr(pos, ai, ErrKeyboardLayout, desc+" is not allowed in "+cs.String()+" and is typical of a "+layout+
			" keyboard layout on the PC that differs from the scanner's: set the scanner to the PC's keyboard layout")
	}
	if c := v[b]; c < 0x80 && c != GS && !cset82[c] && b+2 < len(v) && isDigit(v[b+1]) && isDigit(v[b+2]) {
		if idx, _ := matchAI(v[b+1:]); idx != 0 {
			return perr(pos, ai, ErrCharset, desc+" is not allowed in "+cs.String()+"; it stands where a group separator would: if the scanner sends "+
				strconv.QuoteRune(rune(c))+" instead of GS (keyboard-wedge mode), configure it as the GS substitute, or enable GS transmission on the scanner")
		}
	}
	return perr(pos, ai, ErrCharset, desc+" is not allowed in "+cs.String()+" (AI "+ai+" is "+def.Format()+")")
}

// lint applies the content checks of one component.
func (st *state) lint(def *AIDef, ai string, aiPos int, part string, pos int, ck Check) error {
	if ck&CheckCsum != 0 && !validCheckDigit(part) {
		want, _ := CheckDigit(part[:len(part)-1])
		return perr(aiPos, ai, ErrCheckDigit, "check digit is "+part[len(part)-1:]+", expected "+strconv.Itoa(want)+
			" (misread, mistyped or not a genuine "+def.Title+")")
	}
	if ck&(CheckYYMMDD|CheckYYMMD0|CheckYYYYMMDD) != 0 {
		if _, _, _, _, msg := checkDate(part, ck&CheckYYMMD0 != 0, st.currentYear()); msg != "" {
			return perr(aiPos, ai, ErrDate, msg)
		}
	}
	if ck&CheckHHMI != 0 && (atoi2(part) > 23 || atoi2(part[2:]) > 59) {
		return perr(aiPos, ai, ErrDate, "time "+part+" is not a valid HHMM time")
	}
	if ck&CheckHH != 0 && atoi2(part) > 23 {
		return perr(aiPos, ai, ErrDate, "hour "+part+" is not valid")
	}
	if ck&(CheckMI|CheckSS) != 0 && atoi2(part) > 59 {
		return perr(aiPos, ai, ErrDate, "minute or second "+part+" is not valid")
	}
	if ck&CheckYesNo != 0 && part != "0" && part != "1" {
		return perr(pos, ai, ErrSyntax, "must be 0 or 1")
	}
	if ck&CheckZero != 0 && part != "0" {
		return perr(pos, ai, ErrSyntax, "must be 0")
	}
	if ck&CheckNonZero != 0 && strings.Trim(part, "0") == "" {
		return perr(pos, ai, ErrSyntax, "must not be zero")
	}
	if ck&CheckHyphen != 0 && part != "-" {
		return perr(pos, ai, ErrSyntax, "must be '-'")
	}
	if ck&CheckNoZeroPrefix != 0 && len(part) > 1 && part[0] == '0' {
		return perr(pos, ai, ErrSyntax, "must not start with 0")
	}
	if ck&CheckHasNonDigit != 0 && badChar(part, Numeric) < 0 {
		return perr(pos, ai, ErrSyntax, "must contain a non-digit")
	}
	if ck&CheckPercentEnc != 0 {
		for k := 0; k < len(part); k++ {
			if part[k] == '%' && (k+2 >= len(part) || unhex(part[k+1]) < 0 || unhex(part[k+2]) < 0) {
				return perr(pos+k, ai, ErrSyntax, "invalid percent-encoding")
			}
		}
	}
	if ck&CheckPieceOfTotal != 0 {
		if p, t := atoi2(part), atoi2(part[2:]); p == 0 || t == 0 || p > t {
			return perr(pos, ai, ErrSyntax, "piece "+part[:2]+" of total "+part[2:]+" is not valid")
		}
	}
	return nil
}

// associations checks the req= and ex= rules of the AI table (GenSpecs
// 4.14: mandatory associations and invalid pairs of element strings).
func (st *state) associations() error {
	sc := &st.sc
	for k := 0; k < sc.n; k++ {
		e := sc.At(k)
		def := &aiDefs[e.def-1]
		for _, req := range def.req {
			if !st.satisfied(req) {
				for k, alt := range req {
					if alt[0].pat == "01" && len(alt) == 1 {
						msg := "requires a GTIN (AI 01) in the same scan"
						if others := joinReq(append(req[:k:k], req[k+1:]...)); others != "" {
							msg += " (or AI " + others + ")"
						}
						return perr(e.Pos, e.AI, ErrMissingGTIN, msg)
					}
				}
				return perr(e.Pos, e.AI, ErrMissingAI, "requires AI "+joinReq(req)+" in the same scan")
			}
		}
		if e.AI == "8030" {
			if err := st.digSigSerial(e); err != nil {
				return err
			}
		}
		for _, pat := range def.ex {
			for j := 0; j < sc.n; j++ {
				o := sc.At(j)
				if o.def != e.def && pat.matches(o) {
					return perr(o.Pos, o.AI, ErrExclusive, "must not appear together with AI "+e.AI)
				}
			}
		}
	}
	return nil
}

// digSigSerial enforces that a digital signature (AI 8030, element e) signs
// an instance-level key: a GDTI (253), GCN (255) or GRAI (8003) in the same
// scan must carry its optional serial component. The req= alternatives of
// 8030 only require one of these keys; the serial rule is the Syntax
// Dictionary's note of 2023-12-11 ("instance level simple keys such as AI
// (253) with optional serial component made mandatory, when encoded with AI
// (8030)"), enforced in code by GS1's Syntax Engine as well.
func (st *state) digSigSerial(e Element) error {
	for _, ai := range [...]string{"253", "255", "8003"} {
		k, ok := st.element(ai)
		if !ok {
			continue
		}
		if d := &aiDefs[k.def-1]; len(k.Value) <= d.MinLength() {
			return perr(k.Pos, ai, ErrMissingAI, "has no serial component ("+d.Format()+"), which it needs to be signed by AI 8030 at byte "+
				strconv.Itoa(e.Pos)+": a digital signature identifies one instance")
		}
	}
	return nil
}

func joinReq(req [][]aiPattern) string {
	parts := make([]string, len(req))
	for i, alt := range req {
		for k, p := range alt {
			if k > 0 {
				parts[i] += "+"
			}
			parts[i] += p.pat
		}
	}
	return strings.Join(parts, " or ")
}

func (st *state) satisfied(req [][]aiPattern) bool {
	for _, alt := range req {
		ok := true
		for _, pat := range alt {
			if !st.hasPattern(pat) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (st *state) hasPattern(pat aiPattern) bool {
	for j := 0; j < st.sc.n; j++ {
		if pat.matches(st.sc.At(j)) {
			return true
		}
	}
	return false
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
