package gs1

import (
	"errors"
	"testing"
)

func TestSGTIN(t *testing.T) {
	tests := []struct {
		gtin, serial string
		cpLen        int
		uri          string
	}{
		// EPC Tag Data Standard example: urn:epc:id:sgtin:4012345.011111.987
		// is GTIN 04012345111118 with serial 987.
		{"04012345111118", "987", 7, "urn:epc:id:sgtin:4012345.011111.987"},
		{"09506000134352", "ABC123", 7, "urn:epc:id:sgtin:9506000.013435.ABC123"},
		{"09506000134352", "1", 6, "urn:epc:id:sgtin:950600.0013435.1"},
		{"09506000134352", "1", 12, "urn:epc:id:sgtin:950600013435.0.1"},
		{"9506000134352", "x", 7, "urn:epc:id:sgtin:9506000.013435.x"},
		// TDS: " % & / < > ? are escaped; other character set 82
		// characters are literal.
		{"09506000134352", `A"%&/<>?B`, 7, "urn:epc:id:sgtin:9506000.013435.A%22%25%26%2F%3C%3E%3FB"},
		{"09506000134352", "!'()*+,-.:;=_", 7, "urn:epc:id:sgtin:9506000.013435.!'()*+,-.:;=_"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			uri, err := SGTINURI(tt.gtin, tt.serial, tt.cpLen)
			if err != nil || uri != tt.uri {
				t.Fatalf("SGTINURI = %q, %v; want %q", uri, err, tt.uri)
			}
			g, s, err := ParseSGTINURI(uri)
			want, _ := NormalizeGTIN(tt.gtin)
			if err != nil || g != want || s != tt.serial {
				t.Errorf("ParseSGTINURI = %q %q %v", g, s, err)
			}
		})
	}
	sc, err := ParseString("01" + gtin + "21ABC/1")
	if err != nil {
		t.Fatal(err)
	}
	if uri, err := sc.SGTIN(7); err != nil || uri != "urn:epc:id:sgtin:9506000.013435.ABC%2F1" {
		t.Errorf("Scan.SGTIN = %q %v", uri, err)
	}
	sc, _ = ParseString("01" + gtin)
	if _, err := sc.SGTIN(7); !errors.Is(err, ErrMissingAI) {
		t.Errorf("without serial: %v", err)
	}
}

func TestSGTINErrors(t *testing.T) {
	for _, tt := range []struct {
		gtin, serial string
		cp           int
		kind         error
	}{
		{"09506000134353", "1", 7, ErrCheckDigit},
		{gtin, "1", 5, ErrEPC},
		{gtin, "1", 13, ErrEPC},
		{gtin, "", 7, ErrLength},
		{gtin, "123456789012345678901", 7, ErrLength},
		{gtin, "A B", 7, ErrCharset},
	} {
		if _, err := SGTINURI(tt.gtin, tt.serial, tt.cp); !errors.Is(err, tt.kind) {
			t.Errorf("SGTINURI(%q, %q, %d) = %v, want %v", tt.gtin, tt.serial, tt.cp, err, tt.kind)
		}
	}
	for _, tt := range []struct {
		uri  string
		kind error
		pos  int
	}{
		{"urn:epc:id:sscc:0614141.1234567890", ErrEPC, 0},
		{"urn:epc:id:sgtin:9506000.013435", ErrEPC, 17},
		{"urn:epc:id:sgtin:95060.0013435.1", ErrEPC, 17},
		{"urn:epc:id:sgtin:9506000.01343.1", ErrEPC, 25},
		{"urn:epc:id:sgtin:9506000.01343A.1", ErrEPC, 25},
		{"urn:epc:id:sgtin:9506000.013435.A%2", ErrEPC, 33},
		{"urn:epc:id:sgtin:9506000.013435.A/B", ErrEPC, 33},
		{"urn:epc:id:sgtin:9506000.013435.A%20", ErrCharset, 33},
		{"urn:epc:id:sgtin:9506000.013435.", ErrLength, 32},
		{"urn:epc:id:sgtin:9506000.013435.123456789012345678901", ErrLength, 32},
	} {
		_, _, err := ParseSGTINURI(tt.uri)
		var pe *ParseError
		if !errors.Is(err, tt.kind) || !errors.As(err, &pe) || pe.Pos != tt.pos {
			t.Errorf("ParseSGTINURI(%q) = %v, want %v at %d", tt.uri, err, tt.kind, tt.pos)
		}
	}
}
