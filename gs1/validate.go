package gs1

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// CheckDigit computes the GS1 mod-10 check digit (GenSpecs 7.9.1) for the
// digits in s, which must not include the check digit itself. ok is false if
// s is empty or contains a non-digit.
func CheckDigit(s string) (digit int, ok bool) {
	if s == "" {
		return 0, false
	}
	sum := 0
	w := 3 // the digit next to the check digit has weight 3
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		sum += int(c-'0') * w
		w = 4 - w
	}
	return (10 - sum%10) % 10, true
}

// validCheckDigit reports whether the last digit of s is the GS1 check digit
// of the others.
func validCheckDigit(s string) bool {
	if len(s) < 2 {
		return false
	}
	d, ok := CheckDigit(s[:len(s)-1])
	return ok && s[len(s)-1] == byte('0'+d)
}

// ValidGTIN reports whether s is a GTIN-8, GTIN-12, GTIN-13 or GTIN-14 with a
// correct check digit.
func ValidGTIN(s string) bool {
	switch len(s) {
	case 8, 12, 13, 14:
		return validCheckDigit(s)
	}
	return false
}

// NormalizeGTIN returns s as a GTIN-14 (left-padded with zeros), if s is a
// valid GTIN-8, -12, -13 or -14.
func NormalizeGTIN(s string) (string, bool) {
	if !ValidGTIN(s) {
		return "", false
	}
	if len(s) == 14 {
		return s, true
	}
	return "000000"[:14-len(s)] + s, true
}

// ValidGLN reports whether s is a 13-digit Global Location Number with a
// correct check digit.
func ValidGLN(s string) bool { return len(s) == 13 && validCheckDigit(s) }

// Character set tables (GenSpecs figures 7.11-1, 7.11-2, 7.11-3).
var cset82, cset39, cset64 [256]bool

func init() {
	for _, c := range []byte("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz") {
		cset82[c] = true
	}
	for _, c := range []byte("#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		cset39[c] = true
	}
	for _, c := range []byte("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz") {
		cset64[c] = true
	}
}

// InCharset reports whether every byte of s belongs to the character set.
func InCharset(s string, cs Charset) bool { return badChar(s, cs) < 0 }

// badChar returns the index of the first byte of s not in cs, or -1.
func badChar(s string, cs Charset) int {
	switch cs {
	case Numeric:
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return i
			}
		}
	case CSet82:
		for i := 0; i < len(s); i++ {
			if !cset82[s[i]] {
				return i
			}
		}
	case CSet39:
		for i := 0; i < len(s); i++ {
			if !cset39[s[i]] {
				return i
			}
		}
	case CSet64:
		// base64url; "=" is allowed only as trailing padding (at most two).
		pad := 0
		for i := len(s) - 1; i >= 0 && s[i] == '=' && pad < 2; i-- {
			pad++
		}
		for i := 0; i < len(s)-pad; i++ {
			if !cset64[s[i]] {
				return i
			}
		}
	}
	return -1
}

// century returns the four-digit year for the two-digit year yy, using the
// sliding window of GS1 General Specifications section 7.12: relative to the
// current year, a difference of 51..99 means the previous century, -99..-50
// the next century, anything else the current century.
func century(yy, currentYear int) int {
	cur := currentYear % 100
	base := currentYear - cur
	switch d := yy - cur; {
	case d >= 51:
		base -= 100
	case d <= -50:
		base += 100
	}
	return base + yy
}

func daysIn(year int, m time.Month) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

func atoi2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

// checkDate validates a date of 6 (YYMMDD) or 8 (YYYYMMDD) digits. zeroDay
// allows DD=00, meaning the last day of the month; it is returned as that
// day with dayUnset set. msg is empty when the date is valid.
func checkDate(v string, zeroDay bool, currentYear int) (y int, m time.Month, d int, dayUnset bool, msg string) {
	if len(v) == 8 {
		y = atoi2(v)*100 + atoi2(v[2:])
		v = v[2:]
	} else {
		y = century(atoi2(v), currentYear)
	}
	mm := atoi2(v[2:])
	d = atoi2(v[4:])
	if mm < 1 || mm > 12 {
		return 0, 0, 0, false, "month " + v[2:4] + " is not valid"
	}
	m = time.Month(mm)
	last := daysIn(y, m)
	if d == 0 {
		if !zeroDay {
			return 0, 0, 0, false, "day 00 is not valid here (this AI needs a real day)"
		}
		return y, m, last, true, ""
	}
	if d > last {
		if m == time.February && d == 29 {
			return 0, 0, 0, false, "day 29 is not valid in February " + strconv.Itoa(y) + " (not a leap year)"
		}
		return 0, 0, 0, false, "day " + strconv.Itoa(d) + " is not valid in " + m.String()
	}
	return y, m, d, false, ""
}

// azertyDigit reports whether s[i:] starts with a character that the French
// AZERTY layout produces on the unshifted digit row (&é"'(-è_çà for
// 1234567890), in UTF-8 or Latin-1, and returns the digit and its size.
func azertyDigit(s string, i int) (digit byte, size int, ok bool) {
	switch s[i] {
	case '&':
		return '1', 1, true
	case '"':
		return '3', 1, true
	case '\'':
		return '4', 1, true
	case '(':
		return '5', 1, true
	case '-':
		return '6', 1, true
	case '_':
		return '8', 1, true
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError {
		r, n = rune(s[i]), 1 // Latin-1
	}
	switch r {
	case 'é':
		return '2', n, true
	case 'è':
		return '7', n, true
	case 'ç':
		return '9', n, true
	case 'à':
		return '0', n, true
	}
	return 0, 0, false
}

// azertyEvidence reports whether the AZERTY digit-row character at s[i] is
// convincing evidence of a layout fault: a non-ASCII one (é è ç à), or an
// ASCII one (& " ' ( - _) with another such character within the next three
// bytes.
func azertyEvidence(s string, i int) bool {
	_, n, ok := azertyDigit(s, i)
	if !ok {
		return false
	}
	if s[i] >= 0x80 {
		return true
	}
	for j := i + n; j < len(s) && j <= i+3; j++ {
		if _, _, ok := azertyDigit(s, j); ok {
			return true
		}
	}
	return false
}

// layoutChar reports whether s[i:] starts with a non-ASCII character that a
// keyboard-wedge scanner produces when the PC's keyboard layout differs from
// the scanner's (German QWERTZ: ß ä ö ü § ´ °; French AZERTY: é è ç à ù ² µ £
// §), and a short description of the likely layout. Characters are accepted
// in UTF-8 or Latin-1.
func layoutChar(s string, i int) (layout string, ok bool) {
	r, _ := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError {
		r = rune(s[i])
	}
	switch r {
	case 'ß', 'ä', 'ö', 'ü', 'Ä', 'Ö', 'Ü', '´', '°':
		return "German QWERTZ", true
	case 'é', 'è', 'ç', 'à', 'ù', '²', 'µ', '£', '¨':
		return "French AZERTY", true
	case '§':
		return "German or French", true
	}
	return "", false
}

// charDesc describes the character at s[i] for an error message.
func charDesc(s string, i int) string {
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n <= 1 {
		return "byte 0x" + strconv.FormatUint(uint64(s[i]), 16)
	}
	if r < 0x20 || r == 0x7f {
		return "control character 0x" + strconv.FormatUint(uint64(r), 16)
	}
	return strconv.QuoteRune(r)
}
