// Package gs1 parses and validates GS1 barcode data as pharmacy and
// warehouse scanners deliver it, and converts it between the GS1 forms.
//
// Every scan enters PharmaTrace through this package. It is strict where the
// GS1 General Specifications are strict (Application Identifier formats,
// check digits, real calendar dates, character sets, mandatory associations
// and invalid pairs of AIs, conflicting duplicates) and tolerant where real
// scanners are sloppy: an AIM symbology identifier (]d2, ]Q3, ]C1, ]e0, ]J1)
// is recognised and stripped, FNC1 arrives as GS (0x1D), a leading FNC1 is
// ignored and a trailing one stripped, a trailing CR/LF is dropped, a GS
// after a predefined-length element is accepted, and a keyboard-wedge
// scanner's substitute for GS can be configured (Parser.GSSubstitute).
//
// Input forms, auto-detected by Parse: raw element strings, the bracketed
// human-readable form "(01)…(21)…" (ParseHRI), GS1 Digital Link URIs
// (ParseDigitalLink) and the linear EAN-13/UPC-A/EAN-8 printed beside most
// packs' DataMatrix ("]E0" and 13 digits, "]E4" and 8: a GTIN without AIs,
// FormEANUPC; "]E0" followed by 01 and 14 digits is a GS1 DataBar scan under
// CAPS LOCK). Output forms: Scan.ElementString, Scan.HRI,
// Scan.DigitalLink and the SGTIN EPC URI (SGTINURI, ParseSGTINURI).
//
// Errors are *ParseError values with the byte position in the input as
// received (AIM identifier included), the AI and a message for the operator,
// e.g. "AI 17 at byte 18: day 31 is not valid in April"; they wrap sentinel
// errors (ErrDate, ErrCheckDigit, ...) for errors.Is. Data that is valid but
// suspicious yields typed warnings (DroppedSeparator, CapsLock,
// KeyboardLayout) so that callers can classify a failed verification as a
// probable scanner fault rather than a counterfeit; InvertCase and SwapYZ
// build near-miss lookup candidates.
//
// The AI table (Definitions, Lookup) follows the GS1 Barcode Syntax
// Dictionary; the table of predefined-length AIs (PredefinedLength) is GS1
// General Specifications figure 7.8.5-2. YYMMDD dates get their century from
// the sliding window of GenSpecs 7.12 relative to Parser.Now.
//
// The hot path does not allocate beyond one copy of a []byte input: a Scan's
// strings are substrings of the input and up to eight AIs are stored inside
// the Scan itself. The package uses only the standard library and never logs.
package gs1
