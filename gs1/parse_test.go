package gs1

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// at2025 is the reference "today" of the tests: 1 June 2025.
var at2025 = Parser{Now: func() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }}

func parserAt(year int) Parser {
	return Parser{Now: func() time.Time { return time.Date(year, 6, 1, 0, 0, 0, 0, time.UTC) }}
}

const (
	gtin = "09506000134352"       // GS1 example GTIN (GenSpecs, Digital Link standard)
	sscc = "00106141412345678908" // AI 00 with the GenSpecs example SSCC
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name   string
		p      Parser
		in     string
		hri    string // expected AIs in order, bracketed
		form   Form
		sym    string
		expiry string // YYYY-MM-DD
		unset  bool
	}{
		// GS1 General Specifications / GS1 Digital Link worked example
		// (01)09506000134352(17)201225(10)ABC123(21)12345.
		{name: "GenSpecs example, bracketed", in: "(01)09506000134352(17)201225(10)ABC123(21)12345",
			hri: "(01)09506000134352(17)201225(10)ABC123(21)12345", form: FormHRI, expiry: "2020-12-25"},
		{name: "GenSpecs example, element string", in: "01" + gtin + "17201225" + "10ABC123\x1d" + "2112345",
			hri: "(01)09506000134352(17)201225(10)ABC123(21)12345", expiry: "2020-12-25"},
		// GS1 DataMatrix Guideline (release 2.5.1, section 2.2 and figure
		// "GS1 DataMatrix encoding"): (01)03453120000011(17)120508
		// (10)ABCD1234(410)9501101020917, encoded with FNC1 only after the
		// variable-length lot.
		{name: "DataMatrix Guideline example", in: "]d2" + "0103453120000011" + "17120508" + "10ABCD1234" + "\x1d" + "4109501101020917",
			hri: "(01)03453120000011(17)120508(10)ABCD1234(410)9501101020917", sym: "]d2", expiry: "2012-05-08"},
		{name: "DataMatrix Guideline example, predefined first", in: "]d2" + "0103453120000011" + "17120508" + "4109501101020917" + "10ABCD1234",
			hri: "(01)03453120000011(17)120508(410)9501101020917(10)ABCD1234", sym: "]d2", expiry: "2012-05-08"},
		{name: "leading FNC1 and trailing GS", in: "\x1d0109506000134352" + "10ABC\x1d",
			hri: "(01)09506000134352(10)ABC"},
		{name: "CR LF suffix", in: "]C10109506000134352" + "10ABC\r\n", hri: "(01)09506000134352(10)ABC", sym: "]C1"},
		{name: "GS1 QR", in: "]Q30109506000134352" + "21X", hri: "(01)09506000134352(21)X", sym: "]Q3"},
		{name: "GS1 DataBar", in: "]e00109506000134352" + "17260101", hri: "(01)09506000134352(17)260101", sym: "]e0", expiry: "2026-01-01"},
		{name: "GS tolerated after predefined length", in: "0109506000134352\x1d17261231\x1d10A",
			hri: "(01)09506000134352(17)261231(10)A", expiry: "2026-12-31"},
		{name: "substitute separator", p: Parser{GSSubstitute: '~'}, in: "0109506000134352" + "10ABC~21XYZ",
			hri: "(01)09506000134352(10)ABC(21)XYZ"},
		{name: "substitute and GS both", p: Parser{GSSubstitute: '|'}, in: "|0109506000134352" + "10ABC\x1d21XYZ|",
			hri: "(01)09506000134352(10)ABC(21)XYZ"},
		{name: "NHRN 714 Portugal", in: "01" + gtin + "714" + "1234567\x1d" + "21S1",
			hri: "(01)09506000134352(714)1234567(21)S1"},
		{name: "NHRN 710 PZN and 712", in: "01" + gtin + "710" + "12345678\x1d" + "712ABC",
			hri: "(01)09506000134352(710)12345678(712)ABC"},
		{name: "identical duplicate dropped", in: "01" + gtin + "10A\x1d" + "01" + gtin,
			hri: "(01)09506000134352(10)A"},
		{name: "DD=00 last day of month", in: "01" + gtin + "17260400", hri: "(01)09506000134352(17)260400",
			expiry: "2026-04-30", unset: true},
		{name: "DD=00 February of a leap year", in: "01" + gtin + "17280200", hri: "(01)09506000134352(17)280200",
			expiry: "2028-02-29", unset: true},
		{name: "DD=00 February", in: "01" + gtin + "17270200", hri: "(01)09506000134352(17)270200",
			expiry: "2027-02-28", unset: true},
		{name: "29 February leap year", in: "01" + gtin + "17240229", hri: "(01)09506000134352(17)240229", expiry: "2024-02-29"},
		{name: "production date DD=00 allowed", in: "01" + gtin + "11250100", hri: "(01)09506000134352(11)250100"},
		{name: "7003 expiry time", in: "01" + gtin + "7003" + "2512312359", hri: "(01)09506000134352(7003)2512312359"},
		{name: "net weight and price", in: "01" + gtin + "3103000125" + "3922978" + "\x1d" + "8005000100",
			hri: "(01)09506000134352(3103)000125(3922)978(8005)000100"},
		{name: "SSCC", in: "]C1" + "00106141412345678908", hri: "(00)106141412345678908", sym: "]C1"},
		{name: "CSet 82 punctuation in serial", in: "01" + gtin + "21!\"%&'()*+,-./:;<=>?_", hri: "(01)09506000134352(21)!\"%&'()*+,-./:;<=>?_"},
		{name: "Digital Link", in: "https://id.gs1.org/01/09506000134352/10/ABC/21/123?17=261231",
			hri: "(01)09506000134352(10)ABC(21)123(17)261231", form: FormDigitalLink, expiry: "2026-12-31"},
		{name: "Digital Link in ]Q1 QR code", in: "]Q1https://example.com/01/09506000134352",
			hri: "(01)09506000134352", form: FormDigitalLink, sym: "]Q1"},
		{name: "bracketed in AIM", in: "]d2(01)09506000134352(21)A", hri: "(01)09506000134352(21)A", form: FormHRI, sym: "]d2"},
		{name: "linted components valid", in: sscc + "43211\x1d" + "4330001234-" + "\x1d" + "4300A%20B\x1d" + "4324" + "2601012359",
			hri: "(00)106141412345678908(4321)1(4330)001234-(4300)A%20B(4324)2601012359"},
		{name: "ITIP with lot", in: "8006" + gtin + "0102" + "\x1d10" + "L1",
			hri: "(8006)095060001343520102(10)L1"},
		{name: "production time", in: "01" + gtin + "8008" + "2501011259", hri: "(01)09506000134352(8008)2501011259"},
		{name: "CPID", in: "8010" + "AB-1/#" + "\x1d8011" + "0", hri: "(8010)AB-1/#(8011)0"},
		{name: "8030 digital signature cset 64", in: "01" + gtin + "21A\x1d" + "8030AB-_cd==",
			hri: "(01)09506000134352(21)A(8030)AB-_cd=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			if p.Now == nil {
				p.Now = at2025.Now
			}
			sc, err := p.ParseString(tt.in)
			if err != nil {
				t.Fatalf("ParseString(%q): %v", tt.in, err)
			}
			if got := sc.HRI(); got != tt.hri {
				t.Errorf("HRI = %s, want %s", got, tt.hri)
			}
			if sc.Form != tt.form {
				t.Errorf("Form = %v, want %v", sc.Form, tt.form)
			}
			if sc.Symbology != tt.sym {
				t.Errorf("Symbology = %q, want %q", sc.Symbology, tt.sym)
			}
			exp := ""
			if !sc.Expiry.IsZero() {
				exp = sc.Expiry.Format(time.DateOnly)
			}
			if exp != tt.expiry || sc.ExpiryDayUnset != tt.unset {
				t.Errorf("expiry = %q unset=%v, want %q unset=%v", exp, sc.ExpiryDayUnset, tt.expiry, tt.unset)
			}
			if v, _ := sc.Get("01"); v != sc.GTIN {
				t.Errorf("GTIN field %q != AI 01 %q", sc.GTIN, v)
			}
			if v, _ := sc.Get("21"); v != sc.Serial {
				t.Errorf("Serial field %q != AI 21 %q", sc.Serial, v)
			}
			if v, _ := sc.Get("10"); v != sc.Lot {
				t.Errorf("Lot field %q != AI 10 %q", sc.Lot, v)
			}
			if len(sc.Warnings) != 0 {
				t.Errorf("unexpected warnings %v", sc.Warnings)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	sc, err := at2025.Parse([]byte("]d2" + "0109506000134352" + "17261231" + "10ABC123" + "\x1d" + "71412345\x1d" + "21XYZ12345"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.GTIN != gtin || sc.Serial != "XYZ12345" || sc.Lot != "ABC123" {
		t.Errorf("fields %q %q %q", sc.GTIN, sc.Serial, sc.Lot)
	}
	if want := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC); !sc.Expiry.Equal(want) {
		t.Errorf("Expiry = %v", sc.Expiry)
	}
	if n := sc.NHRN(); len(n) != 1 || n["714"] != "12345" {
		t.Errorf("NHRN = %v", n)
	}
	want := []Element{{AI: "01", Value: gtin, Pos: 3}, {AI: "17", Value: "261231", Pos: 19}, {AI: "10", Value: "ABC123", Pos: 27},
		{AI: "714", Value: "12345", Pos: 36}, {AI: "21", Value: "XYZ12345", Pos: 45}}
	got := sc.AIs()
	if len(got) != len(want) {
		t.Fatalf("AIs = %v", got)
	}
	for i := range want {
		if got[i].AI != want[i].AI || got[i].Value != want[i].Value || got[i].Pos != want[i].Pos {
			t.Errorf("AI %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if !sc.Has("714") || sc.Has("22") {
		t.Error("Has")
	}
}

func TestManyAIs(t *testing.T) {
	// More AIs than fit inline in Scan.
	in := "01" + gtin + "11250101" + "13250101" + "15250101" + "16250101" + "17260101" + "20" + "01" +
		"3103000125" + "10LOT\x1d" + "21SER\x1d" + "240ADD\x1d" + "7100001"
	sc, err := at2025.ParseString(in)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Len() != 12 {
		t.Fatalf("Len = %d", sc.Len())
	}
	if sc.At(11).AI != "710" || sc.Serial != "SER" || sc.Lot != "LOT" {
		t.Errorf("got %s", sc.HRI())
	}
	sc2, err := at2025.ParseElementString(sc.ElementString())
	if err != nil || sc2.HRI() != sc.HRI() {
		t.Errorf("round trip %v %s", err, sc2.HRI())
	}
}

func TestCenturyWindow(t *testing.T) {
	// GS1 General Specifications 7.12: YY - current YY in 51..99 -> previous
	// century, -99..-50 -> next century, otherwise the current one.
	tests := []struct {
		now  int
		yy   string
		want int
	}{
		{2025, "25", 2025},
		{2025, "75", 2075}, // +50: current century
		{2025, "76", 1976}, // +51: previous
		{2025, "99", 1999},
		{2025, "00", 2000},
		{2075, "25", 2125}, // -50: next century
		{2075, "26", 2026}, // -49: current
		{2099, "48", 2148},
		{2099, "49", 2149}, // -50: next century
		{2099, "50", 2050}, // -49: current
		{2000, "51", 1951},
		{2000, "50", 2050},
	}
	for _, tt := range tests {
		t.Run(tt.yy+"@"+strconv.Itoa(tt.now), func(t *testing.T) {
			p := parserAt(tt.now)
			sc, err := p.ParseString("01" + gtin + "17" + tt.yy + "0115")
			if err != nil {
				t.Fatal(err)
			}
			if sc.Expiry.Year() != tt.want {
				t.Errorf("year = %d, want %d", sc.Expiry.Year(), tt.want)
			}
			if got := century(atoi2(tt.yy), tt.now); got != tt.want {
				t.Errorf("century = %d", got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		p    Parser
		in   string
		kind error
		msg  string // exact Error() text if set, else a substring of it
		pos  int
		ai   string
	}{
		{name: "day 31 in April", in: "(01)09506000134352(17)260431(10)A",
			kind: ErrDate, msg: "=AI 17 at byte 18: day 31 is not valid in April", pos: 18, ai: "17"},
		{name: "day 31 in April, DataMatrix", in: "]d20109506000134352" + "17260431" + "10A",
			kind: ErrDate, msg: "=AI 17 at byte 19: day 31 is not valid in April", pos: 19, ai: "17"},
		{name: "29 February non-leap", in: "01" + gtin + "17250229", kind: ErrDate, msg: "day 29 is not valid in February 2025 (not a leap year)", pos: 16, ai: "17"},
		{name: "29 February 1900 in YYYYMMDD", in: "8018" + "123456789012345675" + "\x1d7250" + "19000229", kind: ErrDate, msg: "February 1900"},
		{name: "month 13", in: "01" + gtin + "17261301", kind: ErrDate, msg: "month 13 is not valid"},
		{name: "month 00", in: "01" + gtin + "17260001", kind: ErrDate, msg: "month 00"},
		{name: "day 00 not allowed for YYMMDD", in: "01" + gtin + "7006" + "250100", kind: ErrDate, msg: "day 00"},
		{name: "time 2460", in: "01" + gtin + "7003" + "2512312460", kind: ErrDate, msg: "time 2460"},
		{name: "check digit", in: "0109506000134353", kind: ErrCheckDigit, msg: "=AI 01 at byte 0: check digit is 3, expected 2 (misread, mistyped or not a genuine GTIN)", ai: "01"},
		{name: "GLN check digit", in: "01" + gtin + "4109501101020918", kind: ErrCheckDigit, ai: "410", pos: 16},
		{name: "GTIN too short", in: "01095060001343", kind: ErrLength, msg: "data must be 14 digits long, found only 12"},
		{name: "GTIN with GS inside", in: "010950600\x1d0134352", kind: ErrLength, msg: "found a group separator"},
		{name: "GTIN non-digit", in: "010950600013435X", kind: ErrCharset, pos: 15, ai: "01"},
		{name: "lot too long", in: "01" + gtin + "10ABCDEFGHIJKLMNOPQRSTU", kind: ErrLength, msg: "data is 21 characters long, at most 20 are allowed (X..20): a group separator is probably missing"},
		{name: "lot too long with swallowed serial", in: "01" + gtin + "17261231" + "10ABCDEFGHIJ" + "21KLMNOPQRSTUVWX",
			kind: ErrLength, msg: "it seems to contain AI 21 at byte 36: group separator missing: enable FNC1 (GS) transmission on the scanner"},
		{name: "fixed-length non-predefined without GS", in: "01" + gtin + "422276" + "10A", kind: ErrLength, msg: "exactly 3 characters"},
		{name: "serial charset 82", in: "01" + gtin + "21AB#C", kind: ErrCharset, pos: 20, ai: "21", msg: "'#' is not allowed in character set 82"},
		{name: "serial space", in: "01" + gtin + "21AB C", kind: ErrCharset, ai: "21", pos: 20},
		{name: "lot charset 82", in: "01" + gtin + "10A@B", kind: ErrCharset, ai: "10", pos: 19},
		{name: "unconfigured substitute", in: "01" + gtin + "10ABC~21XYZ", kind: ErrCharset, ai: "10", pos: 21,
			msg: "it stands where a group separator would: if the scanner sends '~' instead of GS"},
		{name: "conflicting duplicate", in: "01" + gtin + "21A\x1d" + "21B", kind: ErrConflict, ai: "21", pos: 20,
			msg: "appears twice with different values"},
		{name: "serial without GTIN", in: "21ABC", kind: ErrMissingGTIN, ai: "21", msg: "requires a GTIN"},
		{name: "lot without GTIN", in: "10ABC\x1d17260101", kind: ErrMissingGTIN, ai: "10"},
		{name: "bracketed serial without GTIN", in: "(21)ABC", kind: ErrMissingGTIN, ai: "21"},
		{name: "254 requires 414", in: "254ABC", kind: ErrMissingAI, msg: "requires AI 414"},
		{name: "01 and 02 exclusive", in: "01" + gtin + "02" + gtin + "37" + "10", kind: ErrExclusive},
		{name: "two net weights", in: "01" + gtin + "3102001000" + "3103000100", kind: ErrExclusive, ai: "3103", pos: 26},
		{name: "unknown AI", in: "01" + gtin + "1899", kind: ErrUnknownAI, msg: "no Application Identifier starts with \"18\""},
		{name: "unassigned 3-digit AI", in: "01" + gtin + "2399", kind: ErrUnknownAI, msg: "\"239\" is not an assigned"},
		{name: "unassigned AI", in: "01" + gtin + "3106000000", kind: ErrUnknownAI, pos: 16, msg: "\"3106\" is not an assigned Application Identifier"},
		{name: "data ends inside a 4-digit AI", in: "01" + gtin + "310", kind: ErrSyntax, pos: 16, msg: "data ends inside an AI"},
		{name: "non-digit inside a 3-digit AI", in: "01" + gtin + "71A", kind: ErrUnknownAI, pos: 16},
		{name: "bracket that is no AI", in: "(01)" + gtin + "(99999)", kind: ErrLength, ai: "01", msg: "found 21"},
		{name: "unknown bracketed AI", in: "(9999)ABC", kind: ErrUnknownAI, msg: "\"9999\" is not an assigned"},
		{name: "bracketed AI too long", in: "(01234)ABC", kind: ErrSyntax},
		{name: "not GS1 symbology", in: "]d1ABC123", kind: ErrSymbology, msg: "]d1"},
		{name: "empty", in: "", kind: ErrEmpty},
		{name: "only AIM", in: "]d2", kind: ErrEmpty},
		{name: "double GS", in: "01" + gtin + "10A\x1d\x1d21B", kind: ErrSyntax, msg: "two group separators"},
		{name: "not an AI", in: "HELLO", kind: ErrSyntax, pos: 0},
		{name: "AZERTY digit row", in: "à&àé'(\"-è_çà&&\"'", kind: ErrKeyboardLayout, pos: 0, msg: "French AZERTY"},
		{name: "AZERTY AIM", in: "$dé&àçé", kind: ErrKeyboardLayout, pos: 0, msg: "symbology identifier arrived as \"$d\" followed by 'é'"},
		{name: "GTIN required, alternatives named", in: "21ABC", kind: ErrMissingGTIN, msg: "=AI 21 at byte 0: requires a GTIN (AI 01) in the same scan (or AI 03 or 8006)"},
		{name: "AZERTY in a date", in: "01" + gtin + "17é6&é31", kind: ErrKeyboardLayout, ai: "17", pos: 18, msg: "in a numeric field: the PC keyboard layout looks like French AZERTY"},
		{name: "AZERTY ASCII in GTIN", in: "01" + "0950600&\"34352", kind: ErrKeyboardLayout, ai: "01", pos: 9},
		{name: "QWERTZ sharp s in lot", in: "01" + gtin + "10ABßC", kind: ErrKeyboardLayout, ai: "10", pos: 20, msg: "German QWERTZ"},
		{name: "Latin-1 e acute in GTIN", in: "01095060001\xe94352", kind: ErrKeyboardLayout, ai: "01", pos: 11},
		{name: "single ASCII character is no layout evidence", in: "01" + "0950600-134352", kind: ErrCharset, ai: "01", pos: 9},
		{name: "empty value", in: "01" + gtin + "10\x1d21A", kind: ErrLength, msg: "no data"},
		{name: "8030 bad base64url", in: "01" + gtin + "21A\x1d8030AB+C", kind: ErrCharset, ai: "8030", pos: 26},
		{name: "one character field too long", in: sscc + "432111", kind: ErrLength, msg: "data must be exactly 1 character (N1), found 2"},
		{name: "yes/no", in: sscc + "43212", kind: ErrSyntax, ai: "4321", pos: 24, msg: "must be 0 or 1"},
		{name: "zero", in: "8003" + "1" + "9501101020917", kind: ErrSyntax, ai: "8003", pos: 4, msg: "must be 0"},
		{name: "non-zero", in: "01" + gtin + "8001" + "0000" + "00100" + "001" + "11", kind: ErrSyntax, ai: "8001", pos: 20, msg: "must not be zero"},
		{name: "hyphen", in: sscc + "4330" + "001234+", kind: ErrSyntax, ai: "4330", pos: 30, msg: "must be '-'"},
		{name: "no zero prefix", in: "8010" + "AB-1/#" + "\x1d8011" + "0123", kind: ErrSyntax, ai: "8011", pos: 15, msg: "must not start with 0"},
		{name: "has non-digit", in: "01" + gtin + "8014" + "12345", kind: ErrSyntax, ai: "8014", pos: 20, msg: "non-digit"},
		{name: "percent-encoding", in: sscc + "4300" + "AB%ZZ", kind: ErrSyntax, ai: "4300", pos: 26, msg: "percent"},
		{name: "piece of total", in: "8006" + gtin + "0302", kind: ErrSyntax, ai: "8006", pos: 18, msg: "piece 03 of total 02"},
		{name: "hour", in: "01" + gtin + "8008" + "25010125", kind: ErrDate, ai: "8008", pos: 16, msg: "hour 25"},
		{name: "minute", in: "01" + gtin + "8008" + "2501011261", kind: ErrDate, ai: "8008", pos: 16, msg: "minute or second 61"},
		{name: "CSet 39 for CPID", in: "8010" + "ab", kind: ErrCharset, ai: "8010", pos: 4},
		{name: "data ends inside an AI", in: "01" + gtin + "1", kind: ErrSyntax, pos: 16, msg: "ends inside an AI"},
		{name: "unrecognised AIM", in: "]z", kind: ErrSymbology},
		{name: "control character", in: "01" + gtin + "10A\x01", kind: ErrCharset, msg: "control character 0x1"},
		{name: "DL wrong qualifier order", in: "https://id.gs1.org/01/09506000134352/21/1/10/A", kind: ErrDigitalLink, msg: "22, 10, 21"},
		{name: "DL no primary key", in: "https://example.com/products/123", kind: ErrDigitalLink, msg: "no GS1 primary key"},
		{name: "DL bad GTIN", in: "https://id.gs1.org/01/09506000134353", kind: ErrCheckDigit, ai: "01", pos: 19},
		{name: "DL bad date", in: "https://id.gs1.org/01/09506000134352?17=260431", kind: ErrDate, ai: "17", pos: 37},
		{name: "DL serial in query", in: "https://id.gs1.org/01/09506000134352?21=1", kind: ErrDigitalLink, ai: "21", pos: 37},
		{name: "DL bad percent", in: "https://id.gs1.org/01/09506000134352/10/A%2", kind: ErrDigitalLink, msg: "percent"},
		{name: "DL unknown numeric parameter", in: "https://id.gs1.org/01/09506000134352?9999=1", kind: ErrUnknownAI},
		{name: "DL no host", in: "https:///01/09506000134352", kind: ErrDigitalLink, msg: "no host"},
		{name: "DL serial without GTIN", in: "https://id.gs1.org/8004/0950600013AB?21=1", kind: ErrDigitalLink},
		{name: "DL primary key takes no qualifiers", in: "https://id.gs1.org/00/106141412345678908/21/1", kind: ErrDigitalLink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			if p.Now == nil {
				p.Now = at2025.Now
			}
			_, err := p.ParseString(tt.in)
			if err == nil {
				t.Fatalf("ParseString(%q) succeeded", tt.in)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("error %q is not %v", err, tt.kind)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not *ParseError", err)
			}
			if tt.pos != 0 || tt.ai != "" {
				if pe.Pos != tt.pos || pe.AI != tt.ai {
					t.Errorf("pos %d AI %q, want %d %q (%v)", pe.Pos, pe.AI, tt.pos, tt.ai, err)
				}
			}
			if exact, ok := strings.CutPrefix(tt.msg, "="); ok {
				if err.Error() != exact {
					t.Errorf("error = %q\nwant    %q", err, exact)
				}
			} else if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		kinds []WarningKind
		msg   string // substring of the first warning
		hri   string
	}{
		{name: "dropped GS between lot and serial", in: "]d2" + "01" + gtin + "17261231" + "10ABC123" + "21XYZ789",
			kinds: []WarningKind{DroppedSeparator}, hri: "(01)09506000134352(17)261231(10)ABC12321XYZ789",
			msg: "AI 10 at byte 27: value \"ABC12321XYZ789\" seems to contain AI 21 at byte 35 (\"21XYZ789\"): group separator missing: enable FNC1 (GS) transmission on the scanner"},
		{name: "dropped GS after serial swallowing expiry and lot", in: "01" + gtin + "21XYZ" + "17261231" + "10ABC",
			kinds: []WarningKind{DroppedSeparator}, msg: "seems to contain AI 17"},
		{name: "dropped GS with GTIN after lot", in: "10ABC" + "01" + gtin, kinds: nil, msg: ""}, // fails: lot needs GTIN
		{name: "no warning when the embedded AI is present", in: "01" + gtin + "17261231" + "21XYZ\x1d" + "10A21B"},
		{name: "no warning for 17 with invalid date", in: "01" + gtin + "21X17261399"},
		{name: "uppercase serial is normal", in: "01" + gtin + "10ABC123\x1d21XYZ789QWE"},
		{name: "mixed case serial is normal", in: "01" + gtin + "10ABC123\x1d21XyZ789qWE"},
		{name: "caps lock heuristic", in: "01" + gtin + "10abc123\x1d21xyz789",
			kinds: []WarningKind{CapsLock}, msg: "all letters of lot and serial are lowercase"},
		{name: "one lowercase letter is not enough", in: "01" + gtin + "10123\x1d21x789"},
		{name: "caps lock proven by AIM", in: "]D2" + "01" + gtin + "10ABC\x1d21XyZ",
			kinds: []WarningKind{CapsLock}, msg: "symbology identifier arrived as \"]D2\" instead of \"]d2\": CAPS LOCK is on"},
		{name: "caps lock proven by AIM q3", in: "]q3" + "01" + gtin + "10abc", kinds: []WarningKind{CapsLock}, msg: "]q3"},
		{name: "caps lock in Digital Link", in: "HTTPS://ID.GS1.ORG/01/" + gtin + "/10/abc", kinds: []WarningKind{CapsLock}, msg: "CAPS LOCK"},
		{name: "QWERTZ layout via AIM", in: "+d2" + "01" + gtin + "10ABC\x1d21XZY",
			kinds: []WarningKind{KeyboardLayout, KeyboardLayout}, msg: "German QWERTZ",
			hri: "(01)09506000134352(10)ABC(21)XZY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := at2025.ParseString(tt.in)
			if tt.name == "dropped GS with GTIN after lot" {
				if !errors.Is(err, ErrMissingGTIN) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(sc.Warnings) != len(tt.kinds) {
				t.Fatalf("warnings %v, want kinds %v", sc.Warnings, tt.kinds)
			}
			for i, k := range tt.kinds {
				if sc.Warnings[i].Kind != k {
					t.Errorf("warning %d kind %v, want %v", i, sc.Warnings[i].Kind, k)
				}
			}
			if tt.msg != "" && !strings.Contains(sc.Warnings[0].String(), tt.msg) {
				t.Errorf("warning %q does not contain %q", sc.Warnings[0], tt.msg)
			}
			if tt.hri != "" && sc.HRI() != tt.hri {
				t.Errorf("HRI = %s", sc.HRI())
			}
		})
	}
	// The QWERTZ case also names the probable serial.
	sc, _ := at2025.ParseString("+d2" + "01" + gtin + "10ABC\x1d21XZY")
	if len(sc.Warnings) != 2 || !strings.Contains(sc.Warnings[1].Msg, `the pack probably shows "XYZ"`) || sc.Warnings[1].AI != "21" {
		t.Errorf("Y/Z hint: %v", sc.Warnings)
	}
}

func TestDigitalLink(t *testing.T) {
	tests := []struct {
		name, in, hri, canon string
	}{
		{"brief example", "https://id.gs1.org/01/09506000134352/10/ABC/21/123?17=261231",
			"(01)09506000134352(10)ABC(21)123(17)261231", "https://id.gs1.org/01/09506000134352/10/ABC/21/123?17=261231"},
		{"GTIN-13 normalised, other host and prefix", "https://example.com/pharma/x/01/9506000134352/21/S1",
			"(01)09506000134352(21)S1", "https://id.gs1.org/01/09506000134352/21/S1"},
		{"GTIN-12", "http://example.com/01/614141123452", "(01)00614141123452", "https://id.gs1.org/01/00614141123452"},
		{"GTIN-8", "https://x.example/01/12345670?3103=000500", "(01)00000012345670(3103)000500",
			"https://id.gs1.org/01/00000012345670?3103=000500"},
		{"percent-decoding", "https://id.gs1.org/01/09506000134352/10/A%2FB%25%26/21/%41b?17=260400",
			"(01)09506000134352(10)A/B%&(21)Ab(17)260400", "https://id.gs1.org/01/09506000134352/10/A%2FB%25%26/21/Ab?17=260400"},
		{"CPV lot serial", "https://id.gs1.org/01/09506000134352/22/2A/10/L/21/S",
			"(01)09506000134352(22)2A(10)L(21)S", "https://id.gs1.org/01/09506000134352/22/2A/10/L/21/S"},
		{"non-AI parameters and fragment ignored", "https://id.gs1.org/01/09506000134352?linkType=gs1:epil&17=261231&context=x#top",
			"(01)09506000134352(17)261231", "https://id.gs1.org/01/09506000134352?17=261231"},
		{"trailing slash", "https://id.gs1.org/01/09506000134352/", "(01)09506000134352", "https://id.gs1.org/01/09506000134352"},
		{"NHRN attribute", "https://id.gs1.org/01/09506000134352/21/1?714=AB1", "(01)09506000134352(21)1(714)AB1",
			"https://id.gs1.org/01/09506000134352/21/1?714=AB1"},
		{"SSCC", "https://id.gs1.org/00/106141412345678908", "(00)106141412345678908", "https://id.gs1.org/00/106141412345678908"},
		{"GLN with extension", "https://id.gs1.org/414/9501101020917/254/A1", "(414)9501101020917(254)A1",
			"https://id.gs1.org/414/9501101020917/254/A1"},
		{"prefix that looks like a key", "https://example.com/01/x/01/09506000134352", "(01)09506000134352", "https://id.gs1.org/01/09506000134352"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := at2025.ParseDigitalLink(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if sc.HRI() != tt.hri {
				t.Errorf("HRI = %s, want %s", sc.HRI(), tt.hri)
			}
			dl, err := sc.DigitalLink()
			if err != nil || dl != tt.canon {
				t.Errorf("DigitalLink = %q, %v; want %q", dl, err, tt.canon)
			}
		})
	}
}

func TestDigitalLinkOutput(t *testing.T) {
	// Element-string order 21, 10, 22 becomes the standard's 22, 10, 21.
	sc, err := at2025.ParseString("01" + gtin + "17261231" + "21S/1\x1d" + "10L" + "\x1d" + "22C")
	if err != nil {
		t.Fatal(err)
	}
	dl, err := sc.DigitalLink()
	if want := "https://id.gs1.org/01/09506000134352/22/C/10/L/21/S%2F1?17=261231"; err != nil || dl != want {
		t.Errorf("DigitalLink = %q %v, want %q", dl, err, want)
	}
	dl, err = sc.DigitalLinkBase("https://example.com/p/")
	if want := "https://example.com/p/01/09506000134352/22/C/10/L/21/S%2F1?17=261231"; err != nil || dl != want {
		t.Errorf("DigitalLinkBase = %q %v", dl, err)
	}
	// AI 8200 cannot be a Digital Link attribute.
	sc, _ = at2025.ParseString("01" + gtin + "8200http://x")
	if _, err := sc.DigitalLink(); !errors.Is(err, ErrDigitalLink) {
		t.Errorf("8200: err = %v", err)
	}
	// No primary key.
	var empty Scan
	if _, err := empty.DigitalLink(); !errors.Is(err, ErrDigitalLink) {
		t.Errorf("empty: err = %v", err)
	}
	if _, err := at2025.ParseDigitalLink("ftp://x/01/" + gtin); !errors.Is(err, ErrDigitalLink) {
		t.Errorf("ftp: err = %v", err)
	}
}

func TestElementStringAndHRI(t *testing.T) {
	sc, err := at2025.ParseString("(01)09506000134352(10)ABC(17)261231(21)XYZ(3103)000125")
	if err != nil {
		t.Fatal(err)
	}
	// GS after the variable-length 10 and 21 but not after predefined 17 or
	// at the end.
	if got, want := sc.ElementString(), "0109506000134352"+"10ABC\x1d"+"17261231"+"21XYZ\x1d"+"3103000125"; got != want {
		t.Errorf("ElementString = %q, want %q", got, want)
	}
	if got, want := sc.HRI(), "(01)09506000134352(10)ABC(17)261231(21)XYZ(3103)000125"; got != want {
		t.Errorf("HRI = %q", got)
	}
}

func TestParseHRIAmbiguity(t *testing.T) {
	// "(" is in character set 82: a value may contain brackets unless they
	// form an assigned AI.
	sc, err := ParseHRI("(01)09506000134352(21)A(B)(99)C(1)")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Serial != "A(B)" {
		t.Errorf("serial %q", sc.Serial)
	}
	if v, _ := sc.Get("99"); v != "C(1)" {
		t.Errorf("99 = %q", v)
	}
	if _, err := ParseHRI("01" + gtin); !errors.Is(err, ErrSyntax) {
		t.Errorf("err = %v", err)
	}
}

func TestParseElementStringOnly(t *testing.T) {
	if _, err := at2025.ParseElementString("(01)" + gtin); !errors.Is(err, ErrSyntax) {
		t.Errorf("err = %v", err)
	}
	if _, err := at2025.ParseElementString("]d1" + "01" + gtin); !errors.Is(err, ErrSymbology) {
		t.Errorf("err = %v", err)
	}
	sc, err := ParseString("]d2" + "01" + gtin)
	if err != nil || sc.GTIN != gtin {
		t.Errorf("%v %q", err, sc.GTIN)
	}
}

func TestDefaultNow(t *testing.T) {
	// Without Parser.Now the system clock is used: a date ten years ahead
	// stays in the future.
	yy := (time.Now().Year() + 10) % 100
	s := "01" + gtin + "17" + string(rune('0'+yy/10)) + string(rune('0'+yy%10)) + "0101"
	sc, err := ParseString(s)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Expiry.Year() != time.Now().Year()+10 {
		t.Errorf("year %d", sc.Expiry.Year())
	}
}

func TestParseErrorFormat(t *testing.T) {
	e := &ParseError{Pos: 18, AI: "17", Msg: "day 31 is not valid in April", Err: ErrDate}
	if e.Error() != "AI 17 at byte 18: day 31 is not valid in April" {
		t.Error(e.Error())
	}
	if !errors.Is(e, ErrDate) || errors.Is(e, ErrCharset) {
		t.Error("errors.Is")
	}
	e = &ParseError{Pos: 0, Msg: "no data", Err: ErrEmpty}
	if e.Error() != "byte 0: no data" {
		t.Error(e.Error())
	}
}
