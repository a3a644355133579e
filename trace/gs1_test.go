package trace

import (
	"testing"
	"time"
)

func TestCheckDigits(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(string) error
		in   string
		ok   bool
	}{
		{"gtin ok", CheckGTIN, "09506000134352", true},
		{"gtin bad check", CheckGTIN, "09506000134353", false},
		{"gtin short", CheckGTIN, "9506000134352", false},
		{"gtin letters", CheckGTIN, "0950600013435A", false},
		{"gln ok", CheckGLN, "4000000002017", true},
		{"gln bad", CheckGLN, "4000000002010", false},
		{"sscc ok", CheckSSCC, "106141411234567897", true},
		{"sscc bad", CheckSSCC, "106141411234567890", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f(tc.in); (err == nil) != tc.ok {
				t.Fatalf("%s(%q) = %v, want ok=%v", tc.name, tc.in, err, tc.ok)
			}
		})
	}
}

func TestCS82(t *testing.T) {
	for in, ok := range map[string]bool{
		"ABC-123/x": true, "": false, "AB\x01": false, "AB C": false, "é": false,
		"!\"%&'()*+,-./:;<=>?_": true, "123456789012345678901": false,
	} {
		if err := CheckSerial(in); (err == nil) != ok {
			t.Errorf("CheckSerial(%q) = %v, want ok=%v", in, err, ok)
		}
	}
	if err := CheckSerial("AB\x01"); err == nil || err.Error() != `"AB\x01" is not GS1 character set 82` {
		t.Errorf("message: %v", err)
	}
}

func TestCompanyPrefix(t *testing.T) {
	if !GTINHasPrefix("04006381000016", "4006381") || GTINHasPrefix("04006381000016", "4006382") {
		t.Fatal("prefix match")
	}
	if CheckCompanyPrefix("123") == nil || CheckCompanyPrefix("12a4") == nil || CheckCompanyPrefix("4006381") != nil {
		t.Fatal("prefix syntax")
	}
}

func TestParseExpiry(t *testing.T) {
	ref := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"281231", "2028-12-31", true},
		{"280200", "2028-02-29", true}, // DD=00: last day (leap year)
		{"270200", "2027-02-28", true},
		{"270229", "", false},
		{"271301", "", false},
		{"271131", "", false},
		{"99123", "", false},
		{"991231", "1999-12-31", true}, // 73 years ahead → previous century
		{"760101", "2076-01-01", true}, // 50 ahead → this century
		{"770101", "1977-01-01", true}, // 51 ahead → previous century
	} {
		d, err := ParseExpiry(tc.in, ref)
		if (err == nil) != tc.ok || (tc.ok && d.Format("2006-01-02") != tc.want) {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %s ok=%v", tc.in, d, err, tc.want, tc.ok)
		}
	}
	// Century window forward: in 2090, YY=30 means 2130.
	if d, _ := ParseExpiry("300101", time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC)); d.Year() != 2130 {
		t.Errorf("window: %v", d)
	}
}

func TestExpired(t *testing.T) {
	day := func(s string) time.Time {
		d, _ := time.Parse(time.RFC3339, s)
		return d
	}
	if Expired("261231", day("2026-12-31T23:59:59Z")) {
		t.Error("the expiry day itself is valid")
	}
	if !Expired("261231", day("2027-01-01T00:00:00Z")) {
		t.Error("the day after expiry is expired")
	}
	if Expired("261200", day("2026-12-31T12:00:00Z")) || !Expired("261200", day("2027-01-01T00:00:01Z")) {
		t.Error("DD=00")
	}
	if !Expired("bad", day("2026-01-01T00:00:00Z")) {
		t.Error("unparsable expiry counts as expired")
	}
}

func TestNearMisses(t *testing.T) {
	got := NearMisses("AbyZ1")
	want := []string{"aBYz1", "AbzY1", "aBZy1"}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
	if len(NearMisses("1234")) != 0 {
		t.Fatal("digits have no near misses")
	}
	if got := NearMisses("AB"); len(got) != 1 || got[0] != "ab" {
		t.Fatalf("%v", got)
	}
}

func TestClassify(t *testing.T) {
	for msg, want := range map[string]error{
		"access denied: Dispense needs right":                              ErrAccessDenied,
		"invalid request: serials[3]: bad":                                 ErrInvalidRequest,
		"not found: shipment S":                                            ErrNotFound,
		"conflict: request ID":                                             ErrConflict,
		`endorsement failure: status:500 message:"access denied: x"`:       ErrAccessDenied,
		`chaincode response 500, conflict: lot L: invalid request: nested`: ErrConflict,
		"ledger: get failed":                                               nil,
	} {
		if got := Classify(msg); got != want {
			t.Errorf("Classify(%q) = %v, want %v", msg, got, want)
		}
	}
	if ClassifyError(Denied("x")) != ErrAccessDenied || ClassifyError(nil) != nil {
		t.Error("ClassifyError")
	}
	if e := Invalid("serials[3]", "%q is bad", "x"); e.Error() != `invalid request: serials[3]: "x" is bad` {
		t.Error(e)
	}
}
