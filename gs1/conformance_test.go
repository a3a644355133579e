package gs1

import (
	"errors"
	"strings"
	"testing"
)

// TestSyntaxEngineAgreement holds the inputs on which this package used to
// disagree with GS1's own Syntax Engine (gs1/gs1-syntax-engine) and the
// Syntax Dictionary of 2026-01-27, with the engine's answer.
func TestSyntaxEngineAgreement(t *testing.T) {
	type want struct {
		form     Form
		sym      string
		gtin     string
		lot      string
		serial   string
		hri      string // AIs in order, bracketed
		nhrn     map[string]string
		warnings []WarningKind
	}
	valid := []struct {
		name string
		in   string
		want want
	}{
		// A linear EAN-13/UPC-A ("]E0" and 13 digits) is a GTIN-13 without
		// AIs, not a CAPS-LOCKed "]e0" GS1 DataBar scan.
		{"EAN-13", "]E04006381333931", want{form: FormEANUPC, sym: "]E0", gtin: "04006381333931"}},
		{"EAN-13 with CR LF", "]E04006381333931\r\n", want{form: FormEANUPC, sym: "]E0", gtin: "04006381333931"}},
		{"EAN-13 starting 10 is no lot", "]E01012345678904", want{form: FormEANUPC, sym: "]E0", gtin: "01012345678904"}},
		{"EAN-13 starting 21 is no serial", "]E02112345678900", want{form: FormEANUPC, sym: "]E0", gtin: "02112345678900"}},
		{"UPC-A as 13 digits", "]E00123456789012", want{form: FormEANUPC, sym: "]E0", gtin: "00123456789012"}},
		{"EAN-8", "]E496385074", want{form: FormEANUPC, sym: "]E4", gtin: "00000096385074"}},
		// "]E0" followed by 01 and 14 digits is still DataBar under CAPS LOCK.
		{"CAPS LOCK DataBar", "]E0" + "01" + gtin + "10abc", want{sym: "]E0", gtin: gtin, lot: "abc",
			hri: "(01)09506000134352(10)abc", warnings: []WarningKind{CapsLock}}},
		{"CAPS LOCK DataBar, GTIN only", "]E0" + "01" + gtin, want{sym: "]E0", gtin: gtin,
			hri: "(01)09506000134352", warnings: []WarningKind{CapsLock}}},
		// AI 717 (NHRN SRN) ends the serial before it.
		{"AI 717 bracketed", "(01)" + gtin + "(21)SER(717)ABC", want{form: FormHRI, gtin: gtin, serial: "SER",
			hri: "(01)09506000134352(21)SER(717)ABC", nhrn: map[string]string{"717": "ABC"}}},
		{"AI 717 element string", "01" + gtin + "21SER\x1d717ABC", want{gtin: gtin, serial: "SER",
			hri: "(01)09506000134352(21)SER(717)ABC", nhrn: map[string]string{"717": "ABC"}}},
		// 8030 with serialised instance keys.
		{"8030 with serialised GDTI", "(253)9501101530003X1(8030)ABC", want{form: FormHRI, hri: "(253)9501101530003X1(8030)ABC"}},
		{"8030 with serialised GCN", "(255)09501101530071(8030)ABC", want{form: FormHRI, hri: "(255)09501101530071(8030)ABC"}},
		{"8030 with serialised GRAI", "(8003)09501101530003S1(8030)ABC", want{form: FormHRI, hri: "(8003)09501101530003S1(8030)ABC"}},
		{"GDTI without serial and no 8030", "(253)9501101530003", want{form: FormHRI, hri: "(253)9501101530003"}},
		// Both components present.
		{"7030 complete", "(01)" + gtin + "(7030)276ABC", want{form: FormHRI, gtin: gtin, hri: "(01)09506000134352(7030)276ABC"}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := at2025.ParseString(tt.in)
			if err != nil {
				t.Fatalf("ParseString(%q): %v", tt.in, err)
			}
			w := tt.want
			if sc.Form != w.form || sc.Symbology != w.sym || sc.GTIN != w.gtin || sc.Lot != w.lot || sc.Serial != w.serial || sc.HRI() != w.hri {
				t.Errorf("got form %v sym %q GTIN %q lot %q serial %q HRI %q\nwant form %v sym %q GTIN %q lot %q serial %q HRI %q",
					sc.Form, sc.Symbology, sc.GTIN, sc.Lot, sc.Serial, sc.HRI(), w.form, w.sym, w.gtin, w.lot, w.serial, w.hri)
			}
			if got := sc.NHRN(); len(got) != len(w.nhrn) || got["717"] != w.nhrn["717"] {
				t.Errorf("NHRN = %v, want %v", got, w.nhrn)
			}
			if len(sc.Warnings) != len(w.warnings) {
				t.Fatalf("warnings %v, want kinds %v", sc.Warnings, w.warnings)
			}
			for i, k := range w.warnings {
				if sc.Warnings[i].Kind != k {
					t.Errorf("warning %d is %v, want %v", i, sc.Warnings[i].Kind, k)
				}
			}
		})
	}

	invalid := []struct {
		name, in string
		kind     error
		pos      int
		ai       string
		msg      string
	}{
		{"EAN-13 check digit", "]E04006381333932", ErrCheckDigit, 15, "", "EAN-13/UPC-A check digit is 2, expected 1"},
		{"EAN-13 too short", "]E0400638133393", ErrLength, 3, "", "must be 13 digits, found 12"},
		{"EAN-13 too long", "]E040063813339310", ErrLength, 3, "", "must be 13 digits, found 14"},
		{"EAN-8 too short", "]E49638507", ErrLength, 3, "", "EAN-8 data after symbology identifier \"]E4\" must be 8 digits, found 7"},
		{"unassigned AI after a lot", "(01)" + gtin + "(10)ABC(89)XYZ", ErrUnknownAI, 25, "", "\"89\" is not an assigned Application Identifier (in the bracketed form"},
		{"unassigned AI, brief's example", "(10)ABC(89)XYZ", ErrUnknownAI, 7, "", "=byte 7: \"89\" is not an assigned Application Identifier (in the bracketed form \"(\", 2 to 4 digits and \")\" always start a new AI, so it cannot be part of the previous value)"},
		{"unassigned 4-digit AI after a serial", "(01)" + gtin + "(21)A(3106)1", ErrUnknownAI, 23, "", "\"3106\""},
		{"7030 without approval number", "(7030)276", ErrLength, 0, "7030", "=AI 7030 at byte 0: component 2 of 2 is missing after \"276\" (AI 7030 is N3 X..27)"},
		{"7030 without approval number, element string", "01" + gtin + "7030276", ErrLength, 16, "7030", "component 2 of 2 is missing"},
		{"421 without postal code", "(421)276", ErrLength, 0, "421", "component 2 of 2 is missing after \"276\" (AI 421 is N3 X..9)"},
		{"3910 without amount", "(3910)978", ErrLength, 0, "3910", "component 2 of 2 is missing after \"978\" (AI 3910 is N3 N..15)"},
		{"8030 with unserialised GDTI", "(253)9501101530003(8030)ABC", ErrMissingAI, 0, "253",
			"=AI 253 at byte 0: has no serial component (N13 [X..17]), which it needs to be signed by AI 8030 at byte 18: a digital signature identifies one instance"},
		{"8030 with unserialised GCN", "(255)0950110153007(8030)ABC", ErrMissingAI, 0, "255", "has no serial component"},
		{"8030 with unserialised GRAI", "(8003)09501101530003(8030)ABC", ErrMissingAI, 0, "8003", "has no serial component"},
		{"8030 with unserialised GRAI, element string", "800309501101530003\x1d8030ABC", ErrMissingAI, 0, "8003", "has no serial component"},
		{"compressed Digital Link", "https://id.gs1.org/AQnYUc1gmiRNERERERERE", ErrDigitalLink, 19, "",
			"compressed GS1 Digital Link URIs are not supported"},
		{"partially compressed Digital Link", "https://example.com/01/09506000134352/HTgoLO1Wz0Ow", ErrDigitalLink, 38, "",
			"compressed GS1 Digital Link URIs are not supported"},
		{"no primary key is not compressed", "https://example.com/products/123", ErrDigitalLink, 19, "", "no GS1 primary key"},
		{"a word is not compressed", "https://example.com/products/catalogue", ErrDigitalLink, 19, "", "no GS1 primary key"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := at2025.ParseString(tt.in)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("ParseString(%q) = %v, want %v", tt.in, err, tt.kind)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Pos != tt.pos || pe.AI != tt.ai {
				t.Errorf("error %v: want position %d, AI %q", err, tt.pos, tt.ai)
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

func TestEANUPCOutputs(t *testing.T) {
	sc, err := ParseString("]E04006381333931")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Len() != 0 || sc.HRI() != "" || sc.ElementString() != "" || sc.Has("01") {
		t.Errorf("EAN-13 has AIs: %d %q", sc.Len(), sc.HRI())
	}
	if dl, err := sc.DigitalLink(); err != nil || dl != "https://id.gs1.org/01/04006381333931" {
		t.Errorf("DigitalLink = %q, %v", dl, err)
	}
	if FormEANUPC.String() != "EAN/UPC" {
		t.Error(FormEANUPC.String())
	}
}
