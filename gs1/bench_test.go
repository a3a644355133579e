package gs1

import (
	"strings"
	"testing"
	"time"
)

// benchDM is a typical pharmaceutical GS1 DataMatrix as a scanner transmits
// it: AIM identifier, GTIN, expiry, lot, GS, serial.
var benchDM = []byte("]d2" + "0109506000134352" + "17261231" + "10ABC123" + "\x1d" + "21XYZ12345678901")

var benchParser = Parser{Now: func() time.Time { return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) }}

var sink Scan

func BenchmarkParseDataMatrix(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sc, err := benchParser.Parse(benchDM)
		if err != nil {
			b.Fatal(err)
		}
		sink = sc
	}
}

func BenchmarkParseDataMatrixDefault(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sc, err := Parse(benchDM)
		if err != nil {
			b.Fatal(err)
		}
		sink = sc
	}
}

func BenchmarkParseStringDataMatrix(b *testing.B) {
	s := string(benchDM)
	b.ReportAllocs()
	for b.Loop() {
		sc, err := benchParser.ParseString(s)
		if err != nil {
			b.Fatal(err)
		}
		sink = sc
	}
}

func BenchmarkParseHRI(b *testing.B) {
	s := "(01)09506000134352(17)261231(10)ABC123(21)XYZ12345678901"
	b.ReportAllocs()
	for b.Loop() {
		sc, err := benchParser.ParseString(s)
		if err != nil {
			b.Fatal(err)
		}
		sink = sc
	}
}

func BenchmarkParseDigitalLink(b *testing.B) {
	s := "https://id.gs1.org/01/09506000134352/10/ABC123/21/XYZ12345678901?17=261231"
	b.ReportAllocs()
	for b.Loop() {
		sc, err := benchParser.ParseString(s)
		if err != nil {
			b.Fatal(err)
		}
		sink = sc
	}
}

// BenchmarkParseLongGarbage guards against super-linear work on long
// invalid frames (a 60 kB value full of embedded AIs).
func BenchmarkParseLongGarbage(b *testing.B) {
	s := "0109506000134352" + "10" + strings.Repeat("1726123110", 6000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := benchParser.ParseString(s); err == nil {
			b.Fatal("no error")
		}
	}
}
