package gs1

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var fuzzParser = Parser{Now: func() time.Time { return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) }}

var fuzzSeeds = []string{
	"]d2" + "0109506000134352" + "17261231" + "10ABC123" + "\x1d" + "21XYZ12345",
	"\x1d01095060001343521726123110ABC123\x1d21XYZ12345\x1d",
	"0109506000134352172612001" + "0ABC12321XYZ",
	"(01)09506000134352(17)201225(10)ABC123(21)12345",
	"(01)03453120000011(17)120508(10)ABCD1234(410)9501101020917",
	"https://id.gs1.org/01/09506000134352/10/ABC/21/123?17=261231",
	"https://example.com/a/b/01/9506000134352/22/X/10/A%2FB/21/1%25?17=260400&linkType=gs1:pip",
	"]Q3010950600013435210ABC\x1d714AIM1234",
	"]C100106141411234567890" + "\x1d" + "400ORDER",
	"]D201095060001343521726123110abc\x1d21xyz",
	"+d201095060001343521726123110ZZY\x1d21YZ",
	"à&àé'(\"-è_çà&&\"'",
	"010950600013435217260431",
	"]d1HELLO",
	"0109506000134352\x1d\x1d10A",
	"01095060001343528030AAAA==",
	"0109506000134352310300012531021000003922EUR",
	"$dé&àçé",
	"00106141412345678908" + "43211\x1d" + "4330001234-" + "\x1d" + "4300A%20B",
	"8006095060001343520102\x1d10L1",
	"HTTPS://ID.GS1.ORG/01/09506000134352/10/abc",
	"]d2(01)09506000134352(21)A(B)(99)C(1)",
	"]E04006381333931",
	"]E496385074",
	"]E00109506000134352" + "10abc",
	"(01)09506000134352(10)ABC(89)XYZ",
	"(01)09506000134352(21)SER(717)ABC",
	"https://id.gs1.org/AQnYUc1gmiRNERERERERE",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, byte(0))
	}
	f.Add("0109506000134352"+"10ABC~21XYZ", byte('~'))
	f.Fuzz(func(t *testing.T, in string, sub byte) {
		p := fuzzParser
		if sub != 0 && sub != GS && !cset82[sub] && !isDigit(sub) {
			p.GSSubstitute = sub
		}
		sc, err := p.ParseString(in)
		checkResult(t, &p, in, sc, err)
	})
}

func FuzzParseDigitalLink(f *testing.F) {
	for _, s := range fuzzSeeds {
		if strings.HasPrefix(s, "http") {
			f.Add(s)
		}
	}
	f.Add("http://x/01/12345670/21/%41%42?3103=000500&17=2604")
	f.Add("https://h/414/9501101020917/254/X?7040=1ABC")
	f.Fuzz(func(t *testing.T, in string) {
		sc, err := fuzzParser.ParseDigitalLink(in)
		checkResult(t, &fuzzParser, in, sc, err)
	})
}

// checkResult asserts the invariants of a parse result.
func checkResult(t *testing.T, p *Parser, in string, sc Scan, err error) {
	t.Helper()
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("error is %T, not *ParseError: %v", err, err)
		}
		if pe.Pos < 0 || pe.Pos > len(in) {
			t.Fatalf("error position %d outside input of %d bytes: %v", pe.Pos, len(in), err)
		}
		if pe.Err == nil || pe.Msg == "" {
			t.Fatalf("error without sentinel or message: %#v", pe)
		}
		return
	}
	if sc.Form == FormEANUPC {
		if sc.Len() != 0 || !ValidGTIN(sc.GTIN) || len(sc.GTIN) != 14 {
			t.Fatalf("EAN/UPC scan %q: %d AIs, GTIN %q", in, sc.Len(), sc.GTIN)
		}
		return
	}
	if sc.Len() == 0 {
		t.Fatalf("success without AIs for %q", in)
	}
	for i := 0; i < sc.Len(); i++ {
		if e := sc.At(i); e.Pos < 0 || e.Pos >= len(in) {
			t.Fatalf("AI %s position %d outside input of %d bytes", e.AI, e.Pos, len(in))
		}
	}
	for _, w := range sc.Warnings {
		if w.Pos < 0 || w.Pos >= len(in) || w.Msg == "" {
			t.Fatalf("bad warning %#v", w)
		}
	}
	// Element string round trip.
	es := sc.ElementString()
	sc2, err := p.ParseElementString(es)
	if err != nil {
		t.Fatalf("re-parsing element string %q of %q: %v", es, in, err)
	}
	if got, want := sc2.HRI(), sc.HRI(); got != want {
		t.Fatalf("element string round trip: got %s, want %s", got, want)
	}
	// Bracketed round trip, unless a value contains "(" (ambiguous form).
	if strings.Count(sc.HRI(), "(") == sc.Len() {
		sc3, err := p.ParseHRI(sc.HRI())
		if err != nil {
			t.Fatalf("re-parsing HRI %q: %v", sc.HRI(), err)
		}
		if sc3.HRI() != sc.HRI() {
			t.Fatalf("HRI round trip: got %s, want %s", sc3.HRI(), sc.HRI())
		}
	}
	// Digital Link round trip, when the scan can be expressed as one.
	if dl, err := sc.DigitalLink(); err == nil {
		sc4, err := p.ParseDigitalLink(dl)
		if err != nil {
			t.Fatalf("re-parsing Digital Link %q of %q: %v", dl, in, err)
		}
		if !sameAIs(&sc, &sc4) {
			t.Fatalf("Digital Link round trip: got %s, want %s", sc4.HRI(), sc.HRI())
		}
	}
}

func sameAIs(a, b *Scan) bool {
	if a.Len() != b.Len() {
		return false
	}
	for i := 0; i < a.Len(); i++ {
		e := a.At(i)
		if v, ok := b.Get(e.AI); !ok || v != e.Value {
			return false
		}
	}
	return true
}
