package gs1

import (
	"strings"
	"time"
)

// Form is the form in which scan data arrived.
type Form uint8

// Input forms recognised by Parse.
const (
	FormElementString Form = iota // raw element string, FNC1 sent as GS
	FormHRI                       // bracketed human-readable "(01)...(21)..."
	FormDigitalLink               // GS1 Digital Link URI
	// FormEANUPC is a linear EAN-13, UPC-A or EAN-8 symbol ("]E0" followed
	// by 13 digits, "]E4" by 8): a GTIN and no AIs. Scan.GTIN holds it as a
	// GTIN-14; the scan has no elements, so HRI and ElementString are empty.
	FormEANUPC
)

func (f Form) String() string {
	switch f {
	case FormElementString:
		return "element string"
	case FormHRI:
		return "bracketed"
	case FormDigitalLink:
		return "digital link"
	case FormEANUPC:
		return "EAN/UPC"
	}
	return "unknown"
}

// Element is one AI and its value.
type Element struct {
	AI    string
	Value string
	// Pos is the byte offset of the AI in the raw input (see ParseError).
	Pos int

	def uint16 // index+1 in the AI table
}

// inline is the number of elements stored inside Scan without allocating.
const inline = 8

// Scan is the result of parsing one scan; a parser that fails returns the
// zero Scan. Its string fields are substrings
// of the input (except where Digital Link percent-decoding or GTIN
// normalisation had to build a new string), so a Scan keeps its input alive.
type Scan struct {
	Form Form
	// Symbology is the AIM symbology identifier as received ("]d2"), or "".
	Symbology string

	GTIN   string // AI 01, or the GTIN of a linear EAN/UPC symbol (FormEANUPC); as a GTIN-14
	Serial string // AI 21
	Lot    string // AI 10
	// Expiry is AI 17 as a UTC date; zero if absent. When the day was
	// encoded as 00 it is the last day of the month and ExpiryDayUnset is
	// set.
	Expiry         time.Time
	ExpiryDayUnset bool

	// Warnings lists data that is valid but suspicious (probable scanner
	// faults). Nil if there are none.
	Warnings []Warning

	n    int
	has  uint8 // presence bits of AIs 01, 10, 17, 21 (has01, ...)
	ais  [inline]Element
	more []Element
}

// Len returns the number of AIs in the scan.
func (s *Scan) Len() int { return s.n }

// At returns the i-th AI in input order.
func (s *Scan) At(i int) Element {
	if i < inline {
		return s.ais[i]
	}
	return s.more[i-inline]
}

// AIs returns all AIs in input order. It allocates a new slice.
func (s *Scan) AIs() []Element {
	out := make([]Element, s.n)
	for i := range out {
		out[i] = s.At(i)
	}
	return out
}

// Get returns the value of an AI.
func (s *Scan) Get(ai string) (string, bool) {
	for i := 0; i < s.n; i++ {
		if e := s.At(i); e.AI == ai {
			return e.Value, true
		}
	}
	return "", false
}

// Has reports whether the scan contains the AI.
func (s *Scan) Has(ai string) bool { _, ok := s.Get(ai); return ok }

// NHRN returns the national healthcare reimbursement numbers (AIs 710-717)
// keyed by AI, or nil if there are none.
func (s *Scan) NHRN() map[string]string {
	var m map[string]string
	for i := 0; i < s.n; i++ {
		if e := s.At(i); isNHRN(e.AI) {
			if m == nil {
				m = make(map[string]string)
			}
			m[e.AI] = e.Value
		}
	}
	return m
}

func (s *Scan) add(e Element) {
	if s.n < inline {
		s.ais[s.n] = e
	} else {
		s.more = append(s.more, e)
	}
	s.n++
}

func (s *Scan) warn(w Warning) { s.Warnings = append(s.Warnings, w) }

// ElementString returns the scan as a GS1 element string as transmitted by a
// scanner without symbology identifier: AIs in input order, each element
// whose AI is not of predefined length followed by GS (0x1D) unless it is
// the last one. No leading FNC1 is included.
func (s *Scan) ElementString() string {
	var b strings.Builder
	for i := 0; i < s.n; i++ {
		e := s.At(i)
		b.WriteString(e.AI)
		b.WriteString(e.Value)
		if _, ok := PredefinedLength(e.AI); !ok && i < s.n-1 {
			b.WriteByte(GS)
		}
	}
	return b.String()
}

// HRI returns the bracketed human-readable interpretation, e.g.
// "(01)09506000134352(17)201225(10)ABC123(21)12345".
func (s *Scan) HRI() string {
	var b strings.Builder
	for i := 0; i < s.n; i++ {
		e := s.At(i)
		b.WriteByte('(')
		b.WriteString(e.AI)
		b.WriteByte(')')
		b.WriteString(e.Value)
	}
	return b.String()
}
