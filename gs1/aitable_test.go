package gs1

import (
	"strings"
	"testing"
)

func TestPredefinedLengthTable(t *testing.T) {
	// GS1 General Specifications figure 7.8.5-2.
	want := map[string]int{
		"00": 20, "01": 16, "02": 16, "03": 16, "04": 16,
		"11": 8, "12": 8, "13": 8, "14": 8, "15": 8, "16": 8, "17": 8, "18": 8, "19": 8,
		"20": 4, "31": 10, "32": 10, "33": 10, "34": 10, "35": 10, "36": 10, "41": 16,
	}
	for i := 0; i < 100; i++ {
		p := string(rune('0'+i/10)) + string(rune('0'+i%10))
		n, ok := PredefinedLength(p)
		if w, in := want[p]; in != ok || n != w {
			t.Errorf("PredefinedLength(%s) = %d, %v; want %d", p, n, ok, w)
		}
	}
	if _, ok := PredefinedLength("1"); ok {
		t.Error("short AI")
	}
	// The "*" flags of the Syntax Dictionary must agree with the figure,
	// and a predefined-length AI's data length must fill the figure's length.
	for _, d := range Definitions() {
		n, ok := PredefinedLength(d.AI)
		if ok != d.Predefined {
			t.Errorf("AI %s: Predefined=%v but figure 7.8.5-2 says %v", d.AI, d.Predefined, ok)
		}
		if ok && (!d.FixedLength() || len(d.AI)+d.MaxLength() != n) {
			t.Errorf("AI %s: %s does not fill predefined length %d", d.AI, d.Format(), n)
		}
	}
}

func TestAITable(t *testing.T) {
	tests := []struct {
		ai, format, title string
		check             Check
		dlAttr            bool
	}{
		{"00", "N18", "SSCC", CheckCsum, true},
		{"01", "N14", "GTIN", CheckCsum, true},
		{"02", "N14", "CONTENT", CheckCsum, true},
		{"03", "N14", "MTO GTIN", CheckCsum, false},
		{"10", "X..20", "BATCH/LOT", 0, true},
		{"11", "N6", "PROD DATE", CheckYYMMD0, true},
		{"17", "N6", "USE BY or EXPIRY", CheckYYMMD0, true},
		{"20", "N2", "VARIANT", 0, true},
		{"21", "X..20", "SERIAL", 0, false},
		{"22", "X..20", "CPV", 0, false},
		{"235", "X..28", "TPX", 0, false},
		{"253", "N13 [X..17]", "GDTI", CheckCsum, true},
		{"3103", "N6", "NET WEIGHT (kg)", 0, true},
		{"3922", "N..15", "PRICE", 0, true},
		{"3932", "N3 N..15", "PRICE", 0, true},
		{"410", "N13", "SHIP TO LOC", CheckCsum, true},
		{"4309", "N10 N10", "SHIP TO GEO", 0, true},
		{"4330", "N6 [X1]", "MAX TEMP F.", 0, true},
		{"7003", "N6 N4", "EXPIRY TIME", CheckYYMMDD, true},
		{"7011", "N6 [N4]", "TEST BY DATE", CheckYYMMDD, true},
		{"7035", "N3 X..27", "PROCESSOR # 5", 0, true},
		{"7040", "N1 X1 X1 X1", "UIC+EXT", 0, false},
		{"710", "X..20", "NHRN PZN", 0, true},
		{"711", "X..20", "NHRN CIP", 0, true},
		{"712", "X..20", "NHRN CN", 0, true},
		{"713", "X..20", "NHRN DRN", 0, true},
		{"714", "X..20", "NHRN AIM", 0, true},
		{"715", "X..20", "NHRN NDC", 0, true},
		{"716", "X..20", "NHRN AIC", 0, true},
		{"717", "X..20", "NHRN SRN", 0, true},
		{"7239", "X2 X..28", "CERT # 9", 0, true},
		{"7250", "N8", "DOB", CheckYYYYMMDD, true},
		{"8003", "N1 N13 [X..16]", "GRAI", CheckZero, true},
		{"8006", "N14 N4", "ITIP", CheckCsum, true},
		{"8010", "Y..30", "CPID", 0, true},
		{"8013", "X..25", "GMN", 0, true},
		{"8030", "Z..90", "DIGSIG", 0, true},
		{"8200", "X..70", "PRODUCT URL", 0, false},
		{"90", "X..30", "INTERNAL", 0, true},
		{"99", "X..90", "INTERNAL", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.ai, func(t *testing.T) {
			d, ok := Lookup(tt.ai)
			if !ok {
				t.Fatalf("AI %s missing", tt.ai)
			}
			if d.Format() != tt.format || d.Title != tt.title || d.DLAttribute != tt.dlAttr {
				t.Errorf("got %s %q dl=%v, want %s %q dl=%v", d.Format(), d.Title, d.DLAttribute, tt.format, tt.title, tt.dlAttr)
			}
			if tt.check != 0 && d.Components[0].Checks&tt.check == 0 {
				t.Errorf("checks %b lack %b", d.Components[0].Checks, tt.check)
			}
		})
	}
	for _, ai := range []string{"04", "14", "18", "19", "23", "2399", "0", "1", "12345", "7", "x1", "3106", "716x"} {
		if _, ok := Lookup(ai); ok {
			t.Errorf("Lookup(%q) found a definition", ai)
		}
	}
	d, _ := Lookup("01")
	if !d.DLPrimaryKey || len(d.DLQualifiers) != 2 || strings.Join(d.DLQualifiers[0], ",") != "22,10,21" {
		t.Errorf("01 Digital Link key: %v %v", d.DLPrimaryKey, d.DLQualifiers)
	}
	if d, _ := Lookup("21"); strings.Join(d.Requires, " ") != "01,03,8006" || d.Excludes != "235" {
		t.Errorf("21 associations: %v %q", d.Requires, d.Excludes)
	}
	if d, _ := Lookup("714"); !d.NHRN() {
		t.Error("714 is an NHRN")
	}
	if d, _ := Lookup("717"); !d.NHRN() || strings.Join(d.Requires, " ") != "01" {
		t.Error("717 is an NHRN (Syntax Dictionary 2026-01-27) and requires AI 01")
	}
	if d, _ := Lookup("718"); d != nil {
		t.Error("718")
	}
}

func TestAITableConsistency(t *testing.T) {
	defs := Definitions()
	if len(defs) < 500 {
		t.Errorf("only %d AIs", len(defs))
	}
	for i, d := range defs {
		if i > 0 && defs[i-1].AI >= d.AI {
			t.Errorf("table not sorted at %s", d.AI)
		}
		if got, ok := Lookup(d.AI); !ok || got.AI != d.AI {
			t.Errorf("Lookup(%s)", d.AI)
		}
		if len(d.Components) == 0 || d.MinLength() < 1 || d.MaxLength() > 90 {
			t.Errorf("AI %s: bad components %s", d.AI, d.Format())
		}
		for k, c := range d.Components {
			if c.Min != c.Max && k != len(d.Components)-1 {
				t.Errorf("AI %s: variable component not last", d.AI)
			}
		}
		// Every AI of a two-digit prefix has the same length, which is
		// what lets a parser find the end of the AI.
		if j := lookupIndex(d.AI[:2]); j != 0 && len(d.AI) != 2 {
			t.Errorf("AI %s shadowed by %s", d.AI, d.AI[:2])
		}
		for _, q := range d.DLQualifiers {
			for _, ai := range q {
				if _, ok := Lookup(ai); !ok {
					t.Errorf("AI %s: unknown qualifier %s", d.AI, ai)
				}
			}
		}
		for _, alts := range d.req {
			for _, all := range alts {
				for _, p := range all {
					if p.idx == 0 && !strings.Contains(p.pat, "n") {
						t.Errorf("AI %s: unknown required AI %s", d.AI, p.pat)
					}
				}
			}
		}
	}
	prefixLen := map[string]int{}
	for _, d := range defs {
		if l, ok := prefixLen[d.AI[:2]]; ok && l != len(d.AI) {
			t.Errorf("prefix %s has AIs of lengths %d and %d", d.AI[:2], l, len(d.AI))
		}
		prefixLen[d.AI[:2]] = len(d.AI)
	}
	if Numeric.String() != "numeric" || CSet82.String() != "character set 82" || CSet39.String() != "character set 39" || CSet64.String() != "character set 64" {
		t.Error("Charset.String")
	}
}

func TestCheckDigits(t *testing.T) {
	valid := []string{
		"09506000134352", // GS1 example GTIN-14
		"9506000134352",  // as GTIN-13
		"614141123452",   // GTIN-12 (GS1 US example)
		"12345670",       // GTIN-8
		"03453120000011", // GS1 DataMatrix Guideline example
		"04012345111118", // EPC Tag Data Standard example
	}
	for _, g := range valid {
		if !ValidGTIN(g) {
			t.Errorf("ValidGTIN(%s) = false", g)
		}
		n, ok := NormalizeGTIN(g)
		if !ok || len(n) != 14 || !strings.HasSuffix(n, g) {
			t.Errorf("NormalizeGTIN(%s) = %s", g, n)
		}
	}
	for _, g := range []string{"09506000134353", "0950600013435", "", "1234567", "123456789012345", "0950600013435A", "00000000000000x"} {
		if ValidGTIN(g) {
			t.Errorf("ValidGTIN(%q) = true", g)
		}
		if _, ok := NormalizeGTIN(g); ok {
			t.Errorf("NormalizeGTIN(%q) ok", g)
		}
	}
	if !ValidGLN("9501101020917") || ValidGLN("9501101020918") || ValidGLN("09501101020917") || ValidGLN("950110102091A") {
		t.Error("ValidGLN")
	}
	if d, ok := CheckDigit("10614141234567890"); !ok || d != 8 { // SSCC example
		t.Errorf("CheckDigit = %d %v", d, ok)
	}
	if _, ok := CheckDigit(""); ok {
		t.Error("empty")
	}
	if _, ok := CheckDigit("12a"); ok {
		t.Error("non-digit")
	}
}

func TestCharsets(t *testing.T) {
	n := 0
	for c := 0; c < 256; c++ {
		if cset82[c] {
			n++
		}
	}
	if n != 82 {
		t.Errorf("character set 82 has %d characters", n)
	}
	n = 0
	for c := 0; c < 256; c++ {
		if cset39[c] {
			n++
		}
	}
	if n != 39 {
		t.Errorf("character set 39 has %d characters", n)
	}
	tests := []struct {
		s  string
		cs Charset
		ok bool
	}{
		{"0123", Numeric, true}, {"01a", Numeric, false},
		{"AZaz09!\"%&'()*+,-./:;<=>?_", CSet82, true}, {"#", CSet82, false}, {" ", CSet82, false}, {"é", CSet82, false},
		{"AZ09#-/", CSet39, true}, {"a", CSet39, false},
		{"Az09-_", CSet64, true}, {"AB==", CSet64, true}, {"A=B", CSet64, false}, {"A===", CSet64, false}, {"+/", CSet64, false},
	}
	for _, tt := range tests {
		if InCharset(tt.s, tt.cs) != tt.ok {
			t.Errorf("InCharset(%q, %v) != %v", tt.s, tt.cs, tt.ok)
		}
	}
}

func TestHelpers(t *testing.T) {
	if got := InvertCase("abC12-xY"); got != "ABc12-Xy" {
		t.Errorf("InvertCase = %q", got)
	}
	if got := SwapYZ("XYZ-yz-A"); got != "XZY-zy-A" {
		t.Errorf("SwapYZ = %q", got)
	}
	if InvertCase(InvertCase("Mixed1")) != "Mixed1" || SwapYZ(SwapYZ("YZzy")) != "YZzy" {
		t.Error("not involutions")
	}
	for _, k := range []WarningKind{DroppedSeparator, CapsLock, KeyboardLayout, 99} {
		if k.String() == "" {
			t.Error("WarningKind.String")
		}
	}
	for _, f := range []Form{FormElementString, FormHRI, FormDigitalLink, 9} {
		if f.String() == "" {
			t.Error("Form.String")
		}
	}
	if (Warning{Msg: "m"}).String() != "m" || (Warning{AI: "10", Pos: 3, Msg: "m"}).String() != "AI 10 at byte 3: m" {
		t.Error("Warning.String")
	}
}
