package gs1

import (
	"strconv"
	"strings"
)

// CanonicalDigitalLinkHost is the domain of canonical GS1 Digital Link URIs.
const CanonicalDigitalLinkHost = "https://id.gs1.org"

// ParseDigitalLink parses a GS1 Digital Link URI (GS1 Digital Link: URI
// Syntax, section 4): any http or https host, an optional path prefix, the
// primary key and its key qualifiers as path segments ("/01/<GTIN>/10/<lot>
// /21/<serial>"), and data attributes as numeric query parameters
// ("?17=261231"). Values are percent-decoded; a GTIN-8, -12 or -13 in the
// path is normalised to GTIN-14. Query parameters whose name is not numeric
// (linkType, context, ...) and the fragment are ignored. Key qualifiers
// must appear in the order the standard gives (for 01: 22, 10, 21).
func (p *Parser) ParseDigitalLink(uri string) (Scan, error) {
	st := state{p: *p, s: uri}
	sc := &st.sc
	i := 0
	if len(uri) >= 3 && uri[0] == ']' {
		sc.Symbology = uri[:3]
		i = 3
	}
	end := len(uri)
	for end > i && (uri[end-1] == '\n' || uri[end-1] == '\r') {
		end--
	}
	if !hasPrefixFold(uri[i:end], "https://") && !hasPrefixFold(uri[i:end], "http://") {
		return Scan{}, perr(i, "", ErrDigitalLink, "a GS1 Digital Link URI starts with https:// or http://")
	}
	if err := st.digitalLink(i, end); err != nil {
		return Scan{}, err
	}
	return st.sc, nil
}

// ParseDigitalLink parses a GS1 Digital Link URI with default settings.
func ParseDigitalLink(uri string) (Scan, error) { var p Parser; return p.ParseDigitalLink(uri) }

type span struct{ lo, hi int }

const maxSegments = 64

func (st *state) digitalLink(i, end int) error {
	s := st.s
	sc := &st.sc
	sc.Form = FormDigitalLink
	if s[i:i+4] == "HTTP" && !st.hasWarning(CapsLock) {
		sc.warn(Warning{Kind: CapsLock, Pos: i, Msg: "the URI arrived in capitals (\"" + s[i:i+4] +
			"\"): CAPS LOCK is on at the workstation, so the letter case of lot and serial is inverted: switch CAPS LOCK off and rescan"})
	}
	h := i + strings.Index(s[i:end], "//") + 2
	pathStart := h
	for pathStart < end && s[pathStart] != '/' && s[pathStart] != '?' && s[pathStart] != '#' {
		pathStart++
	}
	if pathStart == h {
		return perr(h, "", ErrDigitalLink, "the URI has no host")
	}
	pathEnd := pathStart
	for pathEnd < end && s[pathEnd] != '?' && s[pathEnd] != '#' {
		pathEnd++
	}
	// Path segments.
	var segBuf [maxSegments]span
	segs := segBuf[:0]
	for k := pathStart; k < pathEnd; {
		k++ // skip '/'
		lo := k
		for k < pathEnd && s[k] != '/' {
			k++
		}
		if len(segs) == maxSegments {
			return perr(lo, "", ErrDigitalLink, "too many path segments")
		}
		segs = append(segs, span{lo, k})
	}
	if n := len(segs); n > 0 && segs[n-1].lo == segs[n-1].hi {
		segs = segs[:n-1] // trailing slash
	}
	pk := -1
	var qerr error
	for k := len(segs) - 2; k >= 0; k -= 2 {
		key := s[segs[k].lo:segs[k].hi]
		idx := lookupIndex(key)
		if idx == 0 {
			break
		}
		def := &aiDefs[idx-1]
		if def.DLPrimaryKey {
			if err := st.checkQualifiers(def, segs[k+2:]); err != nil {
				if qerr == nil {
					qerr = err
				}
				continue
			}
			pk = k
			break
		}
	}
	if pk < 0 {
		if n := len(segs); n > 0 && looksCompressed(s[segs[n-1].lo:segs[n-1].hi]) {
			return perr(segs[n-1].lo, "", ErrDigitalLink, "compressed GS1 Digital Link URIs are not supported (path segment "+
				strconv.Quote(s[segs[n-1].lo:segs[n-1].hi])+" looks like compressed data): use the uncompressed form, e.g. /01/<GTIN>/21/<serial>")
		}
		if qerr != nil {
			return qerr
		}
		return perr(pathStart, "", ErrDigitalLink, "no GS1 primary key (such as /01/ followed by a GTIN) found at the end of the path")
	}
	for k := pk; k+1 < len(segs); k += 2 {
		key := s[segs[k].lo:segs[k].hi]
		idx := lookupIndex(key)
		def := &aiDefs[idx-1]
		vs := segs[k+1]
		v, err := pctDecode(s, vs.lo, vs.hi, key)
		if err != nil {
			return err
		}
		if key == "01" {
			switch len(v) {
			case 8, 12, 13:
				if badChar(v, Numeric) < 0 {
					v = "000000"[:14-len(v)] + v
				}
			}
		}
		if err := st.checkValue(def, key, segs[k].lo, v, vs.lo); err != nil {
			return err
		}
		if err := st.addElement(idx, Element{AI: key, Value: v, Pos: segs[k].lo}); err != nil {
			return err
		}
	}
	// Query: data attributes.
	if pathEnd < end && s[pathEnd] == '?' {
		qEnd := pathEnd + 1
		for qEnd < end && s[qEnd] != '#' {
			qEnd++
		}
		for k := pathEnd + 1; k < qEnd; {
			lo := k
			for k < qEnd && s[k] != '&' {
				k++
			}
			hi := k
			k++
			eq := strings.IndexByte(s[lo:hi], '=')
			key := s[lo:hi]
			if eq >= 0 {
				key = s[lo : lo+eq]
			}
			if key == "" || badChar(key, Numeric) >= 0 {
				continue // not an AI: linkType, context, ...
			}
			idx := lookupIndex(key)
			if idx == 0 {
				return perr(lo, "", ErrUnknownAI, "query parameter \""+key+"\" is not an assigned Application Identifier")
			}
			def := &aiDefs[idx-1]
			if !def.DLAttribute {
				return perr(lo, key, ErrDigitalLink, "is not permitted as a GS1 Digital Link query attribute")
			}
			if eq < 0 {
				return perr(lo, key, ErrLength, "query parameter has no value")
			}
			v, err := pctDecode(s, lo+eq+1, hi, key)
			if err != nil {
				return err
			}
			if err := st.checkValue(def, key, lo, v, lo+eq+1); err != nil {
				return err
			}
			if err := st.addElement(idx, Element{AI: key, Value: v, Pos: lo}); err != nil {
				return err
			}
		}
	}
	if err := st.associations(); err != nil {
		return err
	}
	st.capsLock()
	return nil
}

// looksCompressed reports whether a path segment that ends a URI without a
// GS1 primary key looks like the base64url binary of a compressed (or
// partially compressed) GS1 Digital Link URI (GS1 Digital Link: Compression):
// at least 8 characters of A-Z a-z 0-9 - _ mixing at least two of upper
// case, lower case and digits, so that words and numbers ("products",
// "123") are not taken for compressed data.
func looksCompressed(seg string) bool {
	if len(seg) < 8 || badChar(seg, CSet64) >= 0 || strings.IndexByte(seg, '=') >= 0 {
		return false
	}
	var upper, lower, digit int
	for i := 0; i < len(seg); i++ {
		switch c := seg[i]; {
		case c >= 'A' && c <= 'Z':
			upper = 1
		case c >= 'a' && c <= 'z':
			lower = 1
		case c >= '0' && c <= '9':
			digit = 1
		}
	}
	return upper+lower+digit >= 2
}

// checkQualifiers verifies that the key qualifiers in segs (key, value
// pairs) follow one of def's permitted ordered sequences.
func (st *state) checkQualifiers(def *AIDef, segs []span) error {
	if len(segs) == 0 {
		return nil
	}
	s := st.s
	first := s[segs[0].lo:segs[0].hi]
	if len(def.DLQualifiers) == 0 {
		return perr(segs[0].lo, first, ErrDigitalLink, "primary key "+def.AI+" takes no key qualifiers in the path")
	}
	for _, seq := range def.DLQualifiers {
		at, ok := 0, true
		for k := 0; k < len(segs); k += 2 {
			key := s[segs[k].lo:segs[k].hi]
			for at < len(seq) && seq[at] != key {
				at++
			}
			if at == len(seq) {
				ok = false
				break
			}
			at++
		}
		if ok {
			return nil
		}
	}
	var alts []string
	for _, seq := range def.DLQualifiers {
		alts = append(alts, strings.Join(seq, ", "))
	}
	return perr(segs[0].lo, "", ErrDigitalLink, "key qualifiers of AI "+def.AI+" must be a subset of "+strings.Join(alts, " or ")+", in that order")
}

// pctDecode percent-decodes s[lo:hi]; it returns a substring when there is
// nothing to decode.
func pctDecode(s string, lo, hi int, ai string) (string, error) {
	v := s[lo:hi]
	if strings.IndexByte(v, '%') < 0 {
		return v, nil
	}
	b := make([]byte, 0, len(v))
	for k := 0; k < len(v); k++ {
		if v[k] != '%' {
			b = append(b, v[k])
			continue
		}
		if k+2 >= len(v) || unhex(v[k+1]) < 0 || unhex(v[k+2]) < 0 {
			return "", perr(lo+k, ai, ErrDigitalLink, "invalid percent-encoding")
		}
		b = append(b, byte(unhex(v[k+1])<<4|unhex(v[k+2])))
		k += 2
	}
	return string(b), nil
}

// DigitalLink returns the canonical GS1 Digital Link URI of the scan: host
// id.gs1.org, the first primary key in the scan (for trade items the
// GTIN-14), its key qualifiers in the order of the standard (22, 10, 21 for
// a GTIN), then every other AI as a query attribute in scan order. Values
// are percent-encoded as EscapeDigitalLinkValue does. It fails if the scan has no primary key or an AI that Digital Link
// cannot carry. A linear EAN/UPC scan (FormEANUPC) gives /01/ and its GTIN.
func (s *Scan) DigitalLink() (string, error) { return s.DigitalLinkBase(CanonicalDigitalLinkHost) }

// DigitalLinkBase is DigitalLink with another scheme, host and optional path
// prefix, e.g. "https://example.com/pharma" (no trailing slash).
func (s *Scan) DigitalLinkBase(base string) (string, error) {
	pk := -1
	var pdef *AIDef
	for k := 0; k < s.n; k++ {
		if d, ok := Lookup(s.At(k).AI); ok && d.DLPrimaryKey {
			pk, pdef = k, d
			break
		}
	}
	if pk < 0 && s.Form == FormEANUPC && s.GTIN != "" {
		return strings.TrimRight(base, "/") + "/01/" + s.GTIN, nil
	}
	if pk < 0 {
		return "", perr(0, "", ErrDigitalLink, "the scan has no GS1 primary key (such as AI 01) for a Digital Link URI")
	}
	used := make([]bool, s.n)
	used[pk] = true
	var b strings.Builder
	b.WriteString(strings.TrimRight(base, "/"))
	e := s.At(pk)
	b.WriteString("/" + e.AI + "/")
	pctEncode(&b, e.Value)
	// Choose the qualifier sequence covering most of the scan's AIs.
	var best []string
	bestN := 0
	for _, seq := range pdef.DLQualifiers {
		n := 0
		for _, q := range seq {
			if s.Has(q) {
				n++
			}
		}
		if n > bestN {
			best, bestN = seq, n
		}
	}
	for _, q := range best {
		for k := 0; k < s.n; k++ {
			if e := s.At(k); e.AI == q && !used[k] {
				used[k] = true
				b.WriteString("/" + q + "/")
				pctEncode(&b, e.Value)
			}
		}
	}
	sep := byte('?')
	for k := 0; k < s.n; k++ {
		if used[k] {
			continue
		}
		e := s.At(k)
		d, _ := Lookup(e.AI)
		if !d.DLAttribute {
			return "", perr(e.Pos, e.AI, ErrDigitalLink, "cannot be expressed in a GS1 Digital Link URI with primary key "+pdef.AI)
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(e.AI + "=")
		pctEncode(&b, e.Value)
	}
	return b.String(), nil
}

// EscapeDigitalLinkValue percent-encodes a value for a GS1 Digital Link URI
// path segment or query attribute: every byte but the unreserved A-Z a-z
// 0-9 - . _ ~ and the sub-delimiters ! ' ( ) * becomes %XX (upper-case
// hex). Leaving ! ' ( ) * as they are (RFC 3986 allows them in a path
// segment and a query value) is what the EPCIS event hash reference
// implementation does, so an EPCIS event that names a pack by this URI
// hashes as the same event named by its SGTIN EPC URI.
func EscapeDigitalLinkValue(v string) string {
	var b strings.Builder
	pctEncode(&b, v)
	return b.String()
}

func pctEncode(b *strings.Builder, v string) {
	const hex = "0123456789ABCDEF"
	for k := 0; k < len(v); k++ {
		c := v[k]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!'()*", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}
