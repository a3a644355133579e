package trace

// GS1 syntax rules the contract enforces. They duplicate a few lines of
// package gs1 on purpose: gs1 is the scanner-side parser, whose AI
// dictionary and diagnostics follow GS1's releases, while these rules are
// the contract's and may change only with a chaincode upgrade (every
// endorser must apply the same ones). A test in scanner-agent/counter
// keeps both in step.

import (
	"errors"
	"fmt"
	"time"
)

// GS1 limits used by the validators.
const (
	maxSerialLen = 20 // AI (21)
	maxLotLen    = 20 // AI (10)
)

// cs82 marks the bytes of GS1 AI encodable character set 82.
var cs82 = func() (t [256]bool) {
	for _, c := range "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz" {
		t[c] = true
	}
	return t
}()

// IsCS82 reports whether s is non-empty and made only of GS1 character set 82.
func IsCS82(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !cs82[s[i]] {
			return false
		}
	}
	return true
}

// checkCS82 validates a GS1 alphanumeric data field of at most max characters.
func checkCS82(s string, max int) error {
	if s == "" {
		return errors.New("is empty")
	}
	if len(s) > max {
		return fmt.Errorf("%q is longer than %d characters", s, max)
	}
	if !IsCS82(s) {
		return fmt.Errorf("%q is not GS1 character set 82", s)
	}
	return nil
}

// CheckSerial validates a GS1 serial number (AI 21: 1-20 characters of CS82).
func CheckSerial(s string) error { return checkCS82(s, maxSerialLen) }

// CheckLot validates a GS1 batch/lot number (AI 10: 1-20 characters of CS82).
func CheckLot(s string) error { return checkCS82(s, maxLotLen) }

// checkDigits validates an all-digit GS1 key of length n with a mod-10 check
// digit in its last position.
func checkDigits(s string, n int, what string) error {
	if len(s) != n {
		return fmt.Errorf("%q is not a %d-digit %s", s, n, what)
	}
	sum := 0
	for i := 0; i < n; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return fmt.Errorf("%q is not a %d-digit %s", s, n, what)
		}
		if i == n-1 {
			break
		}
		d := int(c - '0')
		// weights 3,1,3,1... counted from the digit left of the check digit
		if (n-1-i)%2 == 1 {
			d *= 3
		}
		sum += d
	}
	if want := byte('0' + (10-sum%10)%10); s[n-1] != want {
		return fmt.Errorf("%q has an invalid check digit (want %c)", s, want)
	}
	return nil
}

// CheckGTIN validates a GTIN-14 (AI 01), check digit included.
func CheckGTIN(s string) error { return checkDigits(s, 14, "GTIN") }

// CheckGLN validates a 13-digit GLN, check digit included.
func CheckGLN(s string) error { return checkDigits(s, 13, "GLN") }

// CheckSSCC validates an 18-digit SSCC (AI 00), check digit included.
func CheckSSCC(s string) error { return checkDigits(s, 18, "SSCC") }

// CheckCompanyPrefix validates a GS1 company prefix (4 to 12 digits).
func CheckCompanyPrefix(s string) error {
	if len(s) < 4 || len(s) > 12 {
		return fmt.Errorf("%q is not a 4-12 digit GS1 company prefix", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("%q is not a 4-12 digit GS1 company prefix", s)
		}
	}
	return nil
}

// GTINHasPrefix reports whether GTIN-14 gtin was allocated under company
// prefix gcp (the digits after the indicator digit start with gcp).
func GTINHasPrefix(gtin, gcp string) bool {
	return len(gtin) == 14 && len(gcp) > 0 && len(gcp) < 13 && gtin[1:1+len(gcp)] == gcp
}

// ParseExpiry parses a GS1 date YYMMDD (AI 17) into the last valid day it
// denotes (DD = 00 means the last day of the month). The century follows the
// GS1 General Specifications sliding window relative to ref's year: a YY
// 51-99 years ahead of ref belongs to the previous century, 50 or more years
// behind to the next one. ref is the transaction time, so the result is
// deterministic on every peer.
func ParseExpiry(s string, ref time.Time) (time.Time, error) {
	if len(s) != 6 {
		return time.Time{}, fmt.Errorf("%q is not a YYMMDD date", s)
	}
	for i := 0; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, fmt.Errorf("%q is not a YYMMDD date", s)
		}
	}
	yy := int(s[0]-'0')*10 + int(s[1]-'0')
	mm := int(s[2]-'0')*10 + int(s[3]-'0')
	dd := int(s[4]-'0')*10 + int(s[5]-'0')
	if mm < 1 || mm > 12 {
		return time.Time{}, fmt.Errorf("%q has month %02d", s, mm)
	}
	cur := ref.UTC().Year()
	century := cur - cur%100
	switch diff := yy - cur%100; {
	case diff >= 51:
		century -= 100
	case diff <= -50:
		century += 100
	}
	year := century + yy
	last := time.Date(year, time.Month(mm)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if dd == 0 {
		dd = last
	}
	if dd > last {
		return time.Time{}, fmt.Errorf("%q has day %02d but the month has %d days", s, dd, last)
	}
	return time.Date(year, time.Month(mm), dd, 0, 0, 0, 0, time.UTC), nil
}

// CheckExpiry validates a GS1 YYMMDD date without a reference year.
func CheckExpiry(s string) error {
	// Any year works for syntax; use 2000 (a leap year) so that 29 February
	// of leap years is accepted here and checked precisely by ParseExpiry.
	_, err := ParseExpiry(s, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	return err
}

// Expired reports whether a pack with GS1 expiry expiry is expired at
// transaction time now: the expiry day itself is still valid, the day after
// is not, as a calendar date in now's location (the chaincode passes the
// market's time zone, so a pack expiring 31 March cannot be dispensed at
// 01:30 on 1 April in Helsinki). An unparsable expiry counts as expired.
func Expired(expiry string, now time.Time) bool {
	d, err := ParseExpiry(expiry, now)
	if err != nil {
		return true
	}
	y, m, day := now.Date() // the calendar date where the market is: now's location
	today := time.Date(y, m, day, 0, 0, 0, 0, time.UTC)
	return today.After(d)
}

// SameExpiry reports whether two GS1 YYMMDD dates denote the same day
// (DD 00 is the last day of the month, so 281200 and 281231 are equal);
// ref is the transaction time for the century window.
func SameExpiry(a, b string, ref time.Time) bool {
	if a == b {
		return true
	}
	da, errA := ParseExpiry(a, ref)
	db, errB := ParseExpiry(b, ref)
	return errA == nil && errB == nil && da.Equal(db)
}
