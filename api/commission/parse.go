// Package commission runs the commissioning of large lots: a manufacturer
// uploads the serial list of a lot (CSV, one serial per row with an optional
// "serial" header, or a JSON array of strings), the whole list is parsed as
// a stream and validated before anything is submitted, then it is split
// into ledger transactions of at most 5,000 serials (trace
// CommissionPacksRequest), submitted one after the other with progress
// stored in the API's database.
//
// Each batch's request ID is derived from the upload ID and the batch
// index ("cm-<upload>-<index>"), so an interrupted upload is resumed by
// sending the same list again under the same upload ID: batches already
// confirmed are skipped, and a batch whose transaction committed without the
// API learning it is answered by the chaincode's request de-duplication
// with the original result instead of being applied twice. A list that
// differs from the first upload under that ID (hash, GTIN, lot or expiry)
// is a conflict.
package commission

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pharmatrace/pharmatrace/trace"
)

// Format is the upload's encoding.
type Format int

// Formats.
const (
	CSV Format = iota + 1
	JSON
)

// RowError is one rejected row. Row is the 1-based line number in a CSV
// upload (the header counts as line 1) and the 1-based position in a JSON
// array.
type RowError struct {
	Row     int    `json:"row"`
	Serial  string `json:"serial,omitempty"`
	Message string `json:"message"`
}

// MaxRowErrors caps the rows listed in a ValidationError.
const MaxRowErrors = 100

// ValidationError rejects a whole upload: nothing of it is submitted.
type ValidationError struct {
	Rows  []RowError
	Total int // rows rejected (Rows lists at most MaxRowErrors)
}

func (e *ValidationError) Error() string {
	if len(e.Rows) == 0 {
		return fmt.Sprintf("%v: upload rejected", trace.ErrInvalidRequest)
	}
	r := e.Rows[0]
	more := ""
	if e.Total > 1 {
		more = fmt.Sprintf(" (and %d more bad rows)", e.Total-1)
	}
	return fmt.Sprintf("%v: row %d: %s%s", trace.ErrInvalidRequest, r.Row, r.Message, more)
}

// Unwrap makes a ValidationError an invalid request.
func (e *ValidationError) Unwrap() error { return trace.ErrInvalidRequest }

// ErrTooMany is returned when an upload holds more serials than allowed.
var ErrTooMany = errors.New("too many serials")

// Parse reads and validates an upload as a stream. Every row is checked
// (GS1 character set 82, at most 20 characters — trace.CheckSerial, the
// chaincode's own check — and no duplicate within the upload); if any row
// is bad the result is a *ValidationError naming the rows and no serials.
// More than max serials is an error wrapping ErrTooMany. Read errors (for
// example an exceeded body limit) are returned as they are.
func Parse(r io.Reader, f Format, max int) ([]string, error) {
	v := validator{seen: map[string]int{}, max: max}
	var err error
	switch f {
	case CSV:
		err = v.csv(r)
	case JSON:
		err = v.json(r)
	default:
		return nil, fmt.Errorf("commission: unknown format %d", f)
	}
	if err != nil {
		return nil, err
	}
	if v.bad.Total > 0 {
		return nil, &v.bad
	}
	if len(v.serials) == 0 {
		return nil, trace.Invalid("serials", "the upload holds no serial")
	}
	return v.serials, nil
}

type validator struct {
	serials []string
	seen    map[string]int
	bad     ValidationError
	max     int
}

func (v *validator) reject(row int, serial, format string, args ...any) {
	v.bad.Total++
	if len(v.bad.Rows) < MaxRowErrors {
		if len(serial) > 64 {
			serial = serial[:64] + "…"
		}
		v.bad.Rows = append(v.bad.Rows, RowError{Row: row, Serial: serial, Message: fmt.Sprintf(format, args...)})
	}
}

func (v *validator) add(row int, s string) error {
	if err := trace.CheckSerial(s); err != nil {
		v.reject(row, s, "%s", err)
		return nil
	}
	if prev, dup := v.seen[s]; dup {
		v.reject(row, s, "serial %q duplicates row %d", s, prev)
		return nil
	}
	if len(v.serials) >= v.max {
		return fmt.Errorf("%w: more than %d serials in one upload", ErrTooMany, v.max)
	}
	v.seen[s] = row
	v.serials = append(v.serials, s)
	return nil
}

func (v *validator) csv(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		line, _ := cr.FieldPos(0)
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			v.reject(pe.Line, "", "malformed CSV: %v", pe.Err)
			if pe.Err == csv.ErrQuote || pe.Err == csv.ErrBareQuote {
				return nil // the rest cannot be read reliably
			}
			continue
		}
		if err != nil {
			return err
		}
		if first {
			first = false
			if len(rec) == 1 && strings.EqualFold(strings.TrimSpace(rec[0]), "serial") {
				continue
			}
		}
		if len(rec) != 1 {
			v.reject(line, strings.Join(rec, ","), "want one serial per row, found %d fields", len(rec))
			continue
		}
		if err := v.add(line, rec[0]); err != nil {
			return err
		}
	}
}

func (v *validator) json(r io.Reader) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	syntax := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return trace.Invalid("body", "malformed JSON at byte %d: %v", se.Offset, err)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return trace.Invalid("body", "truncated JSON array")
		}
		return err
	}
	tok, err := dec.Token()
	if err != nil {
		return syntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return trace.Invalid("body", "want a JSON array of serial strings")
	}
	row := 0
	for dec.More() {
		row++
		tok, err := dec.Token()
		if err != nil {
			return syntax(err)
		}
		s, ok := tok.(string)
		if !ok {
			if d, isDelim := tok.(json.Delim); isDelim {
				return trace.Invalid(fmt.Sprintf("serials[%d]", row-1), "row %d: want a string, found %v", row, d)
			}
			v.reject(row, fmt.Sprint(tok), "want a string, found %T", tok)
			continue
		}
		if err := v.add(row, s); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return syntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return trace.Invalid("body", "unexpected data after the JSON array")
	}
	return nil
}
