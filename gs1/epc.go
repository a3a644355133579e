package gs1

import (
	"strconv"
	"strings"
)

const sgtinPrefix = "urn:epc:id:sgtin:"

// SGTINURI returns the EPC pure identity URI of a serialised GTIN (GS1 EPC
// Tag Data Standard, SGTIN): urn:epc:id:sgtin:CompanyPrefix.IndicatorItemRef.Serial.
// gtin is a GTIN-8/12/13/14, serial the value of AI 21 (character set 82, at
// most 20 characters), companyPrefixLen the length of the GS1 Company Prefix
// (6 to 12 digits), which the GTIN itself does not reveal. The serial is
// escaped as TDS requires: " % & / < > ? become %22 %25 %26 %2F %3C %3E %3F.
func SGTINURI(gtin, serial string, companyPrefixLen int) (string, error) {
	g, ok := NormalizeGTIN(gtin)
	if !ok {
		return "", perr(0, "01", ErrCheckDigit, "not a valid GTIN: "+strconv.Quote(gtin))
	}
	if companyPrefixLen < 6 || companyPrefixLen > 12 {
		return "", perr(0, "", ErrEPC, "company prefix length must be 6 to 12, got "+strconv.Itoa(companyPrefixLen))
	}
	if serial == "" || len(serial) > 20 {
		return "", perr(0, "21", ErrLength, "serial must be 1 to 20 characters")
	}
	if b := badChar(serial, CSet82); b >= 0 {
		return "", perr(b, "21", ErrCharset, charDesc(serial, b)+" is not allowed in character set 82")
	}
	var b strings.Builder
	b.WriteString(sgtinPrefix)
	b.WriteString(g[1 : 1+companyPrefixLen])
	b.WriteByte('.')
	b.WriteByte(g[0])
	b.WriteString(g[1+companyPrefixLen : 13])
	b.WriteByte('.')
	for k := 0; k < len(serial); k++ {
		switch c := serial[k]; c {
		case '"', '%', '&', '/', '<', '>', '?':
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(strconv.FormatUint(uint64(c), 16)))
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// SGTIN returns the scan's SGTIN EPC URI; it needs AI 01 and AI 21.
func (s *Scan) SGTIN(companyPrefixLen int) (string, error) {
	if s.GTIN == "" || s.Serial == "" {
		return "", perr(0, "", ErrMissingAI, "an SGTIN needs a GTIN (AI 01) and a serial (AI 21)")
	}
	return SGTINURI(s.GTIN, s.Serial, companyPrefixLen)
}

// ParseSGTINURI parses urn:epc:id:sgtin:CompanyPrefix.IndicatorItemRef.Serial
// back to the GTIN-14 (with its computed check digit) and the unescaped
// serial. Positions in errors are byte offsets into uri.
func ParseSGTINURI(uri string) (gtin, serial string, err error) {
	if !strings.HasPrefix(uri, sgtinPrefix) {
		return "", "", perr(0, "", ErrEPC, "an SGTIN URI starts with "+sgtinPrefix)
	}
	rest := uri[len(sgtinPrefix):]
	cp, rest, ok1 := strings.Cut(rest, ".")
	ir, ser, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 {
		return "", "", perr(len(sgtinPrefix), "", ErrEPC, "expected CompanyPrefix.IndicatorItemRef.Serial")
	}
	if len(cp) < 6 || len(cp) > 12 || badChar(cp, Numeric) >= 0 {
		return "", "", perr(len(sgtinPrefix), "", ErrEPC, "company prefix must be 6 to 12 digits")
	}
	irPos := len(sgtinPrefix) + len(cp) + 1
	if len(cp)+len(ir) != 13 || badChar(ir, Numeric) >= 0 {
		return "", "", perr(irPos, "", ErrEPC, "company prefix and indicator/item reference must be 13 digits together")
	}
	body := ir[:1] + cp + ir[1:]
	cd, _ := CheckDigit(body)
	gtin = body + strconv.Itoa(cd)
	serPos := irPos + len(ir) + 1
	var b []byte
	for k := 0; k < len(ser); k++ {
		c, at := ser[k], k
		if c == '%' {
			if k+2 >= len(ser) || unhex(ser[k+1]) < 0 || unhex(ser[k+2]) < 0 {
				return "", "", perr(serPos+k, "21", ErrEPC, "invalid percent-escape in the serial")
			}
			c = byte(unhex(ser[k+1])<<4 | unhex(ser[k+2]))
			k += 2
		} else if c == '"' || c == '&' || c == '/' || c == '<' || c == '>' || c == '?' {
			return "", "", perr(serPos+k, "21", ErrEPC, charDesc(ser, k)+" must be percent-escaped in an EPC URI")
		}
		if !cset82[c] {
			return "", "", perr(serPos+at, "21", ErrCharset, "serial character "+strconv.QuoteRune(rune(c))+" is not in character set 82")
		}
		b = append(b, c)
	}
	if len(b) == 0 || len(b) > 20 {
		return "", "", perr(serPos, "21", ErrLength, "serial must be 1 to 20 characters")
	}
	return gtin, string(b), nil
}
