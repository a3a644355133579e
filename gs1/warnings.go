package gs1

import (
	"strconv"
	"strings"
)

// WarningKind classifies a warning. Callers use it to tell a probable
// scanner or workstation fault from a suspicious pack.
type WarningKind uint8

const (
	// DroppedSeparator: a variable-length alphanumeric value (lot, serial,
	// ...) contains what parses completely as valid element strings of AIs
	// 01, 10, 17 or 21 that are otherwise missing from the scan, e.g. lot
	// "ABC12321XYZ" and no AI 21: the scanner dropped the GS that ended the
	// lot. The data is kept as received. Limits: a genuine serial such as
	// "AB2112" in a scan without AI 21 is flagged too; a swallowed AI that is
	// also present elsewhere in the scan is not detected (the length,
	// conflict or charset checks usually reject such data instead). When the
	// swallowed data makes the value too long, the scan is rejected with
	// ErrLength and the same diagnosis in the message.
	DroppedSeparator WarningKind = iota + 1

	// CapsLock: the letter case of the data looks inverted by CAPS LOCK at a
	// keyboard-wedge workstation (the scanner types "A" as Shift+a, which
	// CAPS LOCK turns into "a"; digits and symbols are unaffected).
	//
	// Proof: an AIM symbology identifier in inverted case ("]D2" for "]d2",
	// "]q3" for "]Q3") or a Digital Link URI starting with "HTTP".
	// Heuristic: every letter of the lot (10) and serial (21) is lowercase
	// and there are at least two of them. Pharmaceutical lots and serials are
	// overwhelmingly uppercase and digits, so an uppercase serial is normal
	// and never flagged. Limits: a genuinely lowercase serial is flagged too
	// (the warning is a hint, the data is kept as received), and an inverted
	// mixed-case serial cannot be recognised at all: callers should try
	// InvertCase(serial) as a near miss when a lookup fails.
	CapsLock

	// KeyboardLayout: the PC's keyboard layout differs from the one the
	// scanner emulates. Valid data only shows it through the symbology
	// identifier: "]d2" arriving as "+d2" (a German QWERTZ PC) is reported
	// with this kind, plus one warning per lot or serial containing Y or Z,
	// which that mismatch swaps (see SwapYZ). A Y/Z swap in otherwise valid
	// data cannot be detected from the data itself. Layout faults that
	// produce invalid data (the AZERTY digit row &é"'(-è_çà in a numeric
	// field, ß ä ö ü é è ç à in alphanumeric data) are errors wrapping
	// ErrKeyboardLayout, not warnings.
	KeyboardLayout
)

func (k WarningKind) String() string {
	switch k {
	case DroppedSeparator:
		return "dropped-separator"
	case CapsLock:
		return "caps-lock"
	case KeyboardLayout:
		return "keyboard-layout"
	}
	return "warning(" + strconv.Itoa(int(k)) + ")"
}

// Warning describes valid but suspicious data. AI is the AI concerned ("" for
// the whole scan), Pos a byte offset into the raw input (see ParseError), and
// Msg tells the operator what probably happened and how to fix it.
type Warning struct {
	Kind WarningKind
	AI   string
	Pos  int
	Msg  string
}

func (w Warning) String() string {
	if w.AI != "" {
		return "AI " + w.AI + " at byte " + strconv.Itoa(w.Pos) + ": " + w.Msg
	}
	return w.Msg
}

// Presence bits of the AIs whose absence, together with their presence
// inside another value, signals a dropped separator: the AIs that follow a
// variable-length field in pharmaceutical DataMatrix codes.
const (
	has01 = 1 << iota
	has10
	has17
	has21
	hasAll = has01 | has10 | has17 | has21
)

// heuristics adds the DroppedSeparator and CapsLock warnings of an element
// string (see the WarningKind constants for the rules and their limits).
func (st *state) heuristics() {
	sc := &st.sc
	for k := 0; sc.has != hasAll && k < sc.n; k++ {
		e := sc.At(k)
		def := &aiDefs[e.def-1]
		if def.FixedLength() || def.Components[len(def.Components)-1].Charset != CSet82 {
			continue // only variable-length alphanumeric values can swallow an AI unnoticed
		}
		vpos := e.Pos + len(e.AI)
		if j, ai := st.embeddedAI(e.Value, vpos); j >= 0 {
			sc.warn(Warning{Kind: DroppedSeparator, AI: e.AI, Pos: e.Pos, Msg: "value " + strconv.Quote(e.Value) +
				" seems to contain AI " + ai + " at byte " + strconv.Itoa(vpos+j) + " (" + strconv.Quote(e.Value[j:]) +
				"): group separator missing: enable FNC1 (GS) transmission on the scanner and rescan"})
		}
	}
	st.capsLock()
}

// embeddedAI looks for a dropped separator inside value v (at byte vpos of
// the input). It returns the offset in v and the AI found, or -1.
func (st *state) embeddedAI(v string, vpos int) (int, string) {
	if st.probe {
		return -1, ""
	}
	for k := 1; k+2 < len(v); k++ {
		var bit uint8
		var cand string
		switch {
		case v[k] == '0' && v[k+1] == '1':
			bit, cand = has01, "01"
		case v[k] == '1' && v[k+1] == '0':
			bit, cand = has10, "10"
		case v[k] == '1' && v[k+1] == '7':
			bit, cand = has17, "17"
		case v[k] == '2' && v[k+1] == '1':
			bit, cand = has21, "21"
		default:
			continue
		}
		if st.sc.has&bit != 0 {
			continue
		}
		pst := state{p: st.p, s: v, year: st.year, probe: true}
		tmp := &pst.sc
		if pst.elements(k, len(v)) != nil {
			continue
		}
		if st.year == 0 {
			st.year = pst.year
		}
		fresh := true
		for j := 0; j < tmp.n; j++ {
			if st.sc.Has(tmp.At(j).AI) {
				fresh = false
				break
			}
		}
		if fresh {
			return k, cand
		}
	}
	return -1, ""
}

// capsLock adds the CapsLock heuristic warning (see CapsLock) unless
// CAPS LOCK was already proven.
func (st *state) capsLock() {
	sc := &st.sc
	if st.hasWarning(CapsLock) {
		return
	}
	lower, upper := 0, 0
	for _, v := range [...]string{sc.Lot, sc.Serial} {
		for i := 0; i < len(v); i++ {
			switch c := v[i]; {
			case c >= 'a' && c <= 'z':
				lower++
			case c >= 'A' && c <= 'Z':
				upper++
			}
		}
	}
	if lower >= 2 && upper == 0 {
		ai, pos := "10", 0
		if e, ok := st.element("10"); ok {
			pos = e.Pos
		} else if e, ok := st.element("21"); ok {
			ai, pos = "21", e.Pos
		}
		sc.warn(Warning{Kind: CapsLock, AI: ai, Pos: pos, Msg: "all letters of lot and serial are lowercase, which is what CAPS LOCK makes of uppercase codes: if the pack shows capitals, switch CAPS LOCK off and rescan"})
	}
}

func (st *state) hasWarning(k WarningKind) bool {
	for _, w := range st.sc.Warnings {
		if w.Kind == k {
			return true
		}
	}
	return false
}

func (st *state) element(ai string) (Element, bool) {
	for j := 0; j < st.sc.n; j++ {
		if e := st.sc.At(j); e.AI == ai {
			return e, true
		}
	}
	return Element{}, false
}

// yzHint adds, after a detected QWERTZ/QWERTY mismatch, a warning for every
// lot or serial that contains Y or Z.
func (st *state) yzHint() {
	for _, ai := range [...]string{"10", "21"} {
		if e, ok := st.element(ai); ok && strings.ContainsAny(e.Value, "YZyz") {
			st.sc.warn(Warning{Kind: KeyboardLayout, AI: ai, Pos: e.Pos, Msg: "value " + strconv.Quote(e.Value) +
				" contains Y or Z, which the keyboard-layout mismatch swaps: the pack probably shows " + strconv.Quote(SwapYZ(e.Value))})
		}
	}
}

// InvertCase swaps the case of the ASCII letters of s; it undoes CAPS LOCK.
// Use it to build a near-miss lookup candidate.
func InvertCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 32
		case c >= 'A' && c <= 'Z':
			b[i] = c + 32
		}
	}
	return string(b)
}

// SwapYZ exchanges Y and Z (and y and z) in s; it undoes a German QWERTZ
// versus US QWERTY layout mismatch for letters. Use it to build a near-miss
// lookup candidate.
func SwapYZ(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch c {
		case 'Y':
			b[i] = 'Z'
		case 'Z':
			b[i] = 'Y'
		case 'y':
			b[i] = 'z'
		case 'z':
			b[i] = 'y'
		}
	}
	return string(b)
}
