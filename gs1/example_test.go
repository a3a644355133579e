package gs1_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/pharmatrace/pharmatrace/gs1"
)

func ExampleParse() {
	// A GS1 DataMatrix as a scanner sends it: AIM identifier ]d2, GTIN,
	// expiry, lot, GS (FNC1), serial.
	data := []byte("]d2" + "0109506000134352" + "17261231" + "10ABC123" + "\x1d" + "21XYZ789")
	scan, err := gs1.Parse(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(scan.GTIN, scan.Serial, scan.Lot, scan.Expiry.Format(time.DateOnly))
	fmt.Println(scan.HRI())
	// Output:
	// 09506000134352 XYZ789 ABC123 2026-12-31
	// (01)09506000134352(17)261231(10)ABC123(21)XYZ789
}

func ExampleParser() {
	// A keyboard-wedge scanner configured to send '~' for FNC1, and a fixed
	// "today" for the century of two-digit years.
	p := gs1.Parser{
		GSSubstitute: '~',
		Now:          func() time.Time { return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) },
	}
	scan, err := p.ParseString("0109506000134352" + "10ABC~21XYZ~17260400")
	fmt.Println(scan.Lot, scan.Serial, scan.Expiry.Format(time.DateOnly), scan.ExpiryDayUnset, err)
	// Output: ABC XYZ 2026-04-30 true <nil>
}

func ExampleParseError() {
	_, err := gs1.ParseString("(01)09506000134352(17)260431(10)ABC123")
	fmt.Println(err)
	var pe *gs1.ParseError
	if errors.As(err, &pe) {
		fmt.Println(pe.Pos, pe.AI, errors.Is(err, gs1.ErrDate))
	}
	// Output:
	// AI 17 at byte 18: day 31 is not valid in April
	// 18 17 true
}

func ExampleWarning() {
	// The scanner dropped the GS after the lot: the serial is swallowed.
	scan, _ := gs1.ParseString("0109506000134352" + "10ABC123" + "21XYZ789")
	for _, w := range scan.Warnings {
		fmt.Println(w.Kind, "-", w)
	}
	// Output:
	// dropped-separator - AI 10 at byte 16: value "ABC12321XYZ789" seems to contain AI 21 at byte 24 ("21XYZ789"): group separator missing: enable FNC1 (GS) transmission on the scanner and rescan
}

func ExampleParseDigitalLink() {
	scan, err := gs1.ParseDigitalLink("https://example.com/01/9506000134352/21/A%2F1/10/L1?17=261231")
	if err != nil {
		// Qualifiers out of order (21 before 10) are rejected.
		fmt.Println(err)
	}
	scan, _ = gs1.ParseDigitalLink("https://example.com/01/9506000134352/10/L1/21/A%2F1?17=261231")
	fmt.Println(scan.GTIN, scan.Serial)
	dl, _ := scan.DigitalLink()
	fmt.Println(dl)
	// Output:
	// byte 37: key qualifiers of AI 01 must be a subset of 22, 10, 21 or 235, in that order
	// 09506000134352 A/1
	// https://id.gs1.org/01/09506000134352/10/L1/21/A%2F1?17=261231
}

func ExampleScan_ElementString() {
	scan, _ := gs1.ParseHRI("(01)09506000134352(10)ABC(21)123(17)261231")
	fmt.Printf("%q\n", scan.ElementString())
	// Output: "010950600013435210ABC\x1d21123\x1d17261231"
}

func ExampleSGTINURI() {
	uri, _ := gs1.SGTINURI("04012345111118", "987", 7)
	fmt.Println(uri)
	gtin, serial, _ := gs1.ParseSGTINURI(uri)
	fmt.Println(gtin, serial)
	// Output:
	// urn:epc:id:sgtin:4012345.011111.987
	// 04012345111118 987
}

func ExampleInvertCase() {
	// Near-miss candidates for a serial that was not found.
	serial := "abc123xyz"
	fmt.Println(gs1.InvertCase(serial), gs1.SwapYZ("XYZ"))
	// Output: ABC123XYZ XZY
}
