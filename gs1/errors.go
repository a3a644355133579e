package gs1

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error returned by the parsers is a *ParseError
// whose Unwrap returns one of these, so callers can classify failures with
// errors.Is.
var (
	ErrEmpty          = errors.New("empty input")
	ErrSyntax         = errors.New("syntax error")
	ErrSymbology      = errors.New("not GS1 data")
	ErrUnknownAI      = errors.New("unknown application identifier")
	ErrLength         = errors.New("wrong length")
	ErrCharset        = errors.New("invalid character")
	ErrCheckDigit     = errors.New("check digit mismatch")
	ErrDate           = errors.New("invalid date or time")
	ErrMissingGTIN    = errors.New("GTIN required")
	ErrMissingAI      = errors.New("required AI missing")
	ErrExclusive      = errors.New("mutually exclusive AIs")
	ErrConflict       = errors.New("duplicate AI with conflicting values")
	ErrKeyboardLayout = errors.New("wrong keyboard layout")
	ErrDigitalLink    = errors.New("invalid GS1 Digital Link URI")
	ErrEPC            = errors.New("invalid EPC URI")
)

// ParseError describes why a scan was rejected.
//
// Pos is a byte offset into the input exactly as it was received: it counts
// the AIM symbology identifier (e.g. "]d2"), a leading GS, the parentheses
// of the bracketed form and the raw (still percent-encoded) characters of a
// Digital Link URI. AI is the Application Identifier concerned, if any; Msg
// says what is wrong in words meant for the operator; Err is the sentinel
// (ErrDate, ErrCheckDigit, ...) returned by Unwrap.
type ParseError struct {
	Pos int
	AI  string
	Msg string
	Err error
}

func (e *ParseError) Error() string {
	if e.AI != "" {
		return "AI " + e.AI + " at byte " + strconv.Itoa(e.Pos) + ": " + e.Msg
	}
	return "byte " + strconv.Itoa(e.Pos) + ": " + e.Msg
}

func (e *ParseError) Unwrap() error { return e.Err }

func perr(pos int, ai string, kind error, msg string) *ParseError {
	return &ParseError{Pos: pos, AI: ai, Msg: msg, Err: kind}
}
