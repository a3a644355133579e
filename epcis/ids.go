package epcis

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pharmatrace/pharmatrace/gs1"
)

// DefaultCompanyPrefixLen is the GS1 Company Prefix length assumed when the
// caller does not say: 7 digits, the most common length in Europe. EPC URIs
// split a GS1 key at the end of the company prefix, which the key itself
// does not reveal, so a wrong length yields a syntactically valid but
// different-looking URI (the canonical event hash is not affected: it
// converts every EPC URI back to the GS1 key).
const DefaultCompanyPrefixLen = 7

const (
	sgtinURN = "urn:epc:id:sgtin:"
	ssccURN  = "urn:epc:id:sscc:"
	sglnURN  = "urn:epc:id:sgln:"
	pglnURN  = "urn:epc:id:pgln:"
)

func checkPrefixLen(n int) error {
	if n < 6 || n > 12 {
		return fmt.Errorf("company prefix length must be 6 to 12, got %d", n)
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// withCheckDigit appends the GS1 check digit to the digits in body.
func withCheckDigit(body string) string {
	d, _ := gs1.CheckDigit(body)
	return body + strconv.Itoa(d)
}

// validKey reports whether s is n digits with a correct GS1 check digit.
func validKey(s string, n int) bool {
	return len(s) == n && allDigits(s) && withCheckDigit(s[:n-1]) == s
}

// SGTIN returns the SGTIN EPC URI of a pack (GS1 EPC Tag Data Standard),
// e.g. urn:epc:id:sgtin:0614141.107346.2017, given the length of the GTIN's
// company prefix (6-12).
func SGTIN(gtin, serial string, companyPrefixLen int) (string, error) {
	return gs1.SGTINURI(gtin, serial, companyPrefixLen)
}

// DigitalLinkSGTIN returns the canonical GS1 Digital Link URI of a pack:
// https://id.gs1.org/01/{GTIN-14}/21/{serial}, the serial percent-encoded
// by gs1.EscapeDigitalLinkValue (all but A-Z a-z 0-9 - . _ ~ ! ' ( ) *, as
// the event hash reference implementation writes it).
func DigitalLinkSGTIN(gtin, serial string) (string, error) {
	g, ok := gs1.NormalizeGTIN(gtin)
	if !ok {
		return "", fmt.Errorf("%q is not a valid GTIN", gtin)
	}
	if serial == "" || len(serial) > 20 || !gs1.InCharset(serial, gs1.CSet82) {
		return "", fmt.Errorf("serial %q is not 1-20 characters of GS1 character set 82", serial)
	}
	return gs1.CanonicalDigitalLinkHost + "/01/" + g + "/21/" + gs1.EscapeDigitalLinkValue(serial), nil
}

// SGLN returns the SGLN EPC URI of a GLN without extension,
// urn:epc:id:sgln:CompanyPrefix.LocationReference.0, given the length of the
// GLN's company prefix (6-12). The location reference has 12 -
// companyPrefixLen digits (empty for a 12-digit prefix).
func SGLN(gln string, companyPrefixLen int) (string, error) {
	if err := checkPrefixLen(companyPrefixLen); err != nil {
		return "", err
	}
	if !validKey(gln, 13) {
		return "", fmt.Errorf("%q is not a 13-digit GLN with a valid check digit", gln)
	}
	return sglnURN + gln[:companyPrefixLen] + "." + gln[companyPrefixLen:12] + ".0", nil
}

// PGLN returns the party GLN EPC URI urn:epc:id:pgln:CompanyPrefix.PartyReference.
func PGLN(gln string, companyPrefixLen int) (string, error) {
	if err := checkPrefixLen(companyPrefixLen); err != nil {
		return "", err
	}
	if !validKey(gln, 13) {
		return "", fmt.Errorf("%q is not a 13-digit GLN with a valid check digit", gln)
	}
	return pglnURN + gln[:companyPrefixLen] + "." + gln[companyPrefixLen:12], nil
}

// SSCC returns the SSCC EPC URI urn:epc:id:sscc:CompanyPrefix.SerialReference
// of an 18-digit SSCC: the serial reference is the extension digit followed
// by the digits between the company prefix and the check digit.
func SSCC(sscc string, companyPrefixLen int) (string, error) {
	if err := checkPrefixLen(companyPrefixLen); err != nil {
		return "", err
	}
	if !validKey(sscc, 18) {
		return "", fmt.Errorf("%q is not an 18-digit SSCC with a valid check digit", sscc)
	}
	return ssccURN + sscc[1:1+companyPrefixLen] + "." + sscc[:1] + sscc[1+companyPrefixLen:17], nil
}

// splitCP splits "CompanyPrefix.Rest" after an EPC URI scheme, requiring
// all digits and len(cp)+len(rest) == total.
func splitCP(body string, total int) (cp, rest string, ok bool) {
	cp, rest, ok = strings.Cut(body, ".")
	if !ok || len(cp) < 6 || len(cp) > 12 || len(cp)+len(rest) != total || !allDigits(cp) || !allDigits(rest) {
		return "", "", false
	}
	return cp, rest, true
}

// ParseSGLN parses an SGLN EPC URI into the GLN (with its check digit) and
// the extension ("0" when there is none).
func ParseSGLN(uri string) (gln, extension string, err error) {
	body, ok := strings.CutPrefix(uri, sglnURN)
	if !ok {
		return "", "", fmt.Errorf("%q is not an SGLN EPC URI (%s...)", uri, sglnURN)
	}
	i := strings.LastIndexByte(body, '.')
	if i < 0 {
		return "", "", fmt.Errorf("%q: expected CompanyPrefix.LocationReference.Extension", uri)
	}
	cp, loc, ok := splitCP(body[:i], 12)
	if !ok {
		return "", "", fmt.Errorf("%q: company prefix and location reference must be 12 digits together", uri)
	}
	ext := body[i+1:]
	if ext == "" {
		return "", "", fmt.Errorf("%q: the extension is empty", uri)
	}
	return withCheckDigit(cp + loc), ext, nil
}

// ParsePGLN parses a PGLN EPC URI into the GLN.
func ParsePGLN(uri string) (string, error) {
	body, ok := strings.CutPrefix(uri, pglnURN)
	if !ok {
		return "", fmt.Errorf("%q is not a PGLN EPC URI (%s...)", uri, pglnURN)
	}
	cp, ref, ok := splitCP(body, 12)
	if !ok {
		return "", fmt.Errorf("%q: company prefix and party reference must be 12 digits together", uri)
	}
	return withCheckDigit(cp + ref), nil
}

// ParseSSCC parses an SSCC EPC URI into the 18-digit SSCC.
func ParseSSCC(uri string) (string, error) {
	body, ok := strings.CutPrefix(uri, ssccURN)
	if !ok {
		return "", fmt.Errorf("%q is not an SSCC EPC URI (%s...)", uri, ssccURN)
	}
	cp, ref, ok := splitCP(body, 17)
	if !ok {
		return "", fmt.Errorf("%q: company prefix and serial reference must be 17 digits together", uri)
	}
	return withCheckDigit(ref[:1] + cp + ref[1:]), nil
}

// Identifier kinds recognised in imported events.
const (
	kindSGTIN = "sgtin"
	kindSSCC  = "sscc"
	kindGLN   = "gln"  // a location: SGLN or Digital Link 414
	kindParty = "pgln" // a party: PGLN or Digital Link 417
)

// parsedID is an identifier read from an imported event.
type parsedID struct {
	kind   string
	key    string // GTIN-14, SSCC, GLN
	serial string // SGTIN serial
	lot    string // Digital Link AI 10, if any
	expiry string // Digital Link AI 17 as YYMMDD, if any
}

// parseID reads an SGTIN, SSCC, SGLN or PGLN given as an EPC URI or as a GS1
// Digital Link URI (any host).
func parseID(s string) (parsedID, error) {
	switch {
	case strings.HasPrefix(s, sgtinURN):
		g, ser, err := gs1.ParseSGTINURI(s)
		if err != nil {
			return parsedID{}, err
		}
		return parsedID{kind: kindSGTIN, key: g, serial: ser}, nil
	case strings.HasPrefix(s, ssccURN):
		k, err := ParseSSCC(s)
		return parsedID{kind: kindSSCC, key: k}, err
	case strings.HasPrefix(s, sglnURN):
		k, _, err := ParseSGLN(s)
		return parsedID{kind: kindGLN, key: k}, err
	case strings.HasPrefix(s, pglnURN):
		k, err := ParsePGLN(s)
		return parsedID{kind: kindParty, key: k}, err
	case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://"):
		sc, err := gs1.ParseDigitalLink(s)
		if err != nil {
			return parsedID{}, err
		}
		var p parsedID
		if lot, ok := sc.Get("10"); ok {
			p.lot = lot
		}
		if exp, ok := sc.Get("17"); ok {
			p.expiry = exp
		}
		if ser, ok := sc.Get("21"); ok && sc.GTIN != "" {
			p.kind, p.key, p.serial = kindSGTIN, sc.GTIN, ser
			return p, nil
		}
		for _, c := range []struct{ ai, kind string }{{"00", kindSSCC}, {"414", kindGLN}, {"417", kindParty}} {
			if v, ok := sc.Get(c.ai); ok {
				p.kind, p.key = c.kind, v
				return p, nil
			}
		}
		return parsedID{}, fmt.Errorf("%q is a GS1 Digital Link URI but not of a serialised item (01+21), an SSCC (00), a location (414) or a party (417)", s)
	}
	return parsedID{}, fmt.Errorf("%q is neither an EPC URI nor a GS1 Digital Link URI this ledger understands", s)
}
