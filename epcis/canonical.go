package epcis

import (
	"strings"
)

// This file turns identifiers into the constrained canonical GS1 Digital
// Link form the event hash algorithm requires (CBV 2.0 event hash rules 17
// and 18): EPC URIs, EPC class URIs and EPC pattern URIs become
// https://id.gs1.org/... URIs; Digital Link URIs lose a custom domain, the
// query string, the CPV (22) and, for a serialised item, the lot (10).
// Anything else is returned unchanged. The conversions follow the GS1 EPC
// Tag Data Standard; where the reference implementation
// (github.com/RalphTro/epcis-event-hash-generator, dl_normaliser.py) has
// observable conventions (which characters of an EPC serial are
// percent-encoded, when a Digital Link URI is considered valid) they are
// reproduced so that hashes agree.

const dlHost = "https://id.gs1.org"

// epcSerialOK reports whether s is 1..max "characters" of an EPC URI
// component: a %XX escape or one of ! ' ( ) * + , - . 0-9 : ; = A-Z _ a-z.
func epcSerialOK(s string, max int) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
		case strings.IndexByte("!'()*+,-.:;=_", c) >= 0:
		default:
			return false
		}
		n++
	}
	return n >= 1 && n <= max
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// dlEscape percent-encodes the characters an EPC URI component may carry
// literally but the reference implementation's Digital Link form escapes:
// + , :. The sub-delimiters ! ' ( ) * stay as they are, as in the
// reference's published examples (and gs1.EscapeDigitalLinkValue).
func dlEscape(s string) string {
	if !strings.ContainsAny(s, "+,:") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+', ',', ':':
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// gtinOf builds the GTIN-14 from an EPC company prefix and indicator/item
// reference (13 digits together).
func gtinOf(cp, itemRef string) string { return withCheckDigit(itemRef[:1] + cp + itemRef[1:]) }

// cut3 splits "a.b.c" (c may contain dots when last is true).
func cut3(s string) (a, b, c string, ok bool) {
	a, rest, ok1 := strings.Cut(s, ".")
	b, c, ok2 := strings.Cut(rest, ".")
	return a, b, c, ok1 && ok2
}

// cpRef checks a company prefix (6-12 digits) and a numeric reference with
// len(cp)+len(ref) == total.
func cpRef(cp, ref string, total int) bool {
	return len(cp) >= 6 && len(cp) <= 12 && len(cp)+len(ref) == total && allDigits(cp) && allDigits(ref)
}

// epcToDL converts an EPC pure identity, class or pattern URI to its
// canonical Digital Link URI; ok is false if s is not one it knows.
func epcToDL(s string) (string, bool) {
	switch {
	case strings.HasPrefix(s, "urn:epc:id:"):
		scheme, body, _ := strings.Cut(s[len("urn:epc:id:"):], ":")
		return epcIDToDL(scheme, body)
	case strings.HasPrefix(s, "urn:epc:class:lgtin:"):
		cp, ir, lot, ok := cut3(s[len("urn:epc:class:lgtin:"):])
		if ok && cpRef(cp, ir, 13) && epcSerialOK(lot, 20) {
			return dlHost + "/01/" + gtinOf(cp, ir) + "/10/" + dlEscape(lot), true
		}
	case strings.HasPrefix(s, "urn:epc:idpat:"):
		scheme, body, _ := strings.Cut(s[len("urn:epc:idpat:"):], ":")
		return epcPatternToDL(scheme, body)
	}
	return "", false
}

func epcIDToDL(scheme, body string) (string, bool) {
	switch scheme {
	case "sgtin":
		cp, ir, ser, ok := cut3(body)
		if ok && cpRef(cp, ir, 13) && epcSerialOK(ser, 20) {
			return dlHost + "/01/" + gtinOf(cp, ir) + "/21/" + dlEscape(ser), true
		}
	case "sscc":
		cp, ref, ok := strings.Cut(body, ".")
		if ok && cpRef(cp, ref, 17) {
			return dlHost + "/00/" + withCheckDigit(ref[:1]+cp+ref[1:]), true
		}
	case "sgln":
		cp, loc, ext, ok := cut3(body)
		if ok && cpRef(cp, loc, 12) && epcSerialOK(ext, 20) {
			u := dlHost + "/414/" + withCheckDigit(cp+loc)
			if ext != "0" {
				u += "/254/" + dlEscape(ext)
			}
			return u, true
		}
	case "pgln":
		cp, ref, ok := strings.Cut(body, ".")
		if ok && cpRef(cp, ref, 12) {
			return dlHost + "/417/" + withCheckDigit(cp+ref), true
		}
	case "grai":
		cp, at, ser, ok := cut3(body)
		if ok && cpRef(cp, at, 12) && epcSerialOK(ser, 16) {
			return dlHost + "/8003/" + withCheckDigit("0"+cp+at) + dlEscape(ser), true
		}
	case "giai":
		cp, ref, ok := strings.Cut(body, ".")
		if ok && len(cp) >= 6 && len(cp) <= 12 && allDigits(cp) && epcSerialOK(ref, 30-len(cp)) {
			return dlHost + "/8004/" + cp + dlEscape(ref), true
		}
	case "gsrn", "gsrnp":
		cp, ref, ok := strings.Cut(body, ".")
		if ok && cpRef(cp, ref, 17) {
			ai := "8018"
			if scheme == "gsrnp" {
				ai = "8017"
			}
			return dlHost + "/" + ai + "/" + withCheckDigit(cp+ref), true
		}
	case "gdti":
		cp, dt, ser, ok := cut3(body)
		if ok && cpRef(cp, dt, 12) && epcSerialOK(ser, 17) {
			return dlHost + "/253/" + withCheckDigit(cp+dt) + dlEscape(ser), true
		}
	case "sgcn":
		cp, cr, ser, ok := cut3(body)
		if ok && cpRef(cp, cr, 12) && ser != "" && len(ser) <= 12 && allDigits(ser) {
			return dlHost + "/255/" + withCheckDigit(cp+cr) + ser, true
		}
	case "ginc":
		cp, ref, ok := strings.Cut(body, ".")
		if ok && len(cp) >= 6 && len(cp) <= 12 && allDigits(cp) && epcSerialOK(ref, 30-len(cp)) {
			return dlHost + "/401/" + cp + dlEscape(ref), true
		}
	case "gsin":
		cp, ref, ok := strings.Cut(body, ".")
		if ok && cpRef(cp, ref, 16) {
			return dlHost + "/402/" + withCheckDigit(cp+ref), true
		}
	case "itip":
		parts := strings.SplitN(body, ".", 5)
		if len(parts) == 5 && cpRef(parts[0], parts[1], 13) && len(parts[2]) == 2 && len(parts[3]) == 2 &&
			allDigits(parts[2]+parts[3]) && epcSerialOK(parts[4], 20) {
			return dlHost + "/8006/" + gtinOf(parts[0], parts[1]) + parts[2] + parts[3] + "/21/" + dlEscape(parts[4]), true
		}
	case "upui":
		cp, ir, tpx, ok := cut3(body)
		if ok && cpRef(cp, ir, 13) && epcSerialOK(tpx, 28) {
			return dlHost + "/01/" + gtinOf(cp, ir) + "/235/" + dlEscape(tpx), true
		}
	case "cpi":
		cp, rest, ok := strings.Cut(body, ".")
		i := strings.LastIndexByte(rest, '.')
		if ok && i > 0 && len(cp) >= 6 && len(cp) <= 12 && allDigits(cp) {
			ref, ser := rest[:i], rest[i+1:]
			if ser != "" && len(ser) <= 12 && allDigits(ser) && cpiRefOK(ref, 30-len(cp)) {
				return dlHost + "/8010/" + dlEscape(cp+ref) + "/8011/" + ser, true
			}
		}
	}
	return "", false
}

// cpiRefOK checks a CPI component reference: 1..max of 0-9 A-Z - or %XX.
func cpiRefOK(s string, max int) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			i += 2
		case c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c == '-':
		default:
			return false
		}
		n++
	}
	return n >= 1 && n <= max
}

func epcPatternToDL(scheme, body string) (string, bool) {
	star := strings.HasSuffix(body, ".*")
	if !star {
		return "", false
	}
	body = strings.TrimSuffix(body, ".*")
	switch scheme {
	case "sgtin", "upui":
		cp, ir, ok := strings.Cut(body, ".")
		if ok && cpRef(cp, ir, 13) {
			return dlHost + "/01/" + gtinOf(cp, ir), true
		}
	case "grai":
		cp, at, ok := strings.Cut(body, ".")
		if ok && cpRef(cp, at, 12) {
			return dlHost + "/8003/" + withCheckDigit("0"+cp+at), true
		}
	case "gdti", "sgcn":
		cp, ref, ok := strings.Cut(body, ".")
		if ok && cpRef(cp, ref, 12) {
			ai := "253"
			if scheme == "sgcn" {
				ai = "255"
			}
			return dlHost + "/" + ai + "/" + withCheckDigit(cp+ref), true
		}
	case "cpi":
		cp, ref, ok := strings.Cut(body, ".")
		if ok && len(cp) >= 6 && len(cp) <= 12 && allDigits(cp) && cpiRefOK(ref, 30-len(cp)) {
			return dlHost + "/8010/" + dlEscape(cp+ref), true
		}
	case "itip":
		parts := strings.Split(body, ".")
		if len(parts) == 4 && cpRef(parts[0], parts[1], 13) && len(parts[2]) == 2 && len(parts[3]) == 2 && allDigits(parts[2]+parts[3]) {
			return dlHost + "/8006/" + gtinOf(parts[0], parts[1]) + parts[2] + parts[3], true
		}
	}
	return "", false
}

// dlKeys are the primary-key path segments (AI or short name) a Digital
// Link URI is recognised by, with the AI each stands for.
var dlKeys = map[string]string{
	"01": "01", "gtin": "01", "8006": "8006", "itip": "8006", "8010": "8010", "cpid": "8010",
	"414": "414", "gln": "414", "417": "417", "party": "417", "8017": "8017", "gsrnp": "8017",
	"8018": "8018", "gsrn": "8018", "255": "255", "gcn": "255", "00": "00", "sscc": "00",
	"253": "253", "gdti": "253", "401": "401", "ginc": "401", "402": "402", "gsin": "402",
	"8003": "8003", "grai": "8003", "8004": "8004", "giai": "8004",
}

// dlShortNames maps the Digital Link short names of keys and key qualifiers
// to their AIs.
var dlShortNames = []struct{ from, to string }{
	{"/gtin/", "/01/"}, {"/itip/", "/8006/"}, {"/cpid/", "/8010/"}, {"/gln/", "/414/"}, {"/party/", "/417/"},
	{"/gsrnp/", "/8017/"}, {"/gsrn/", "/8018/"}, {"/gcn/", "/255/"}, {"/sscc/", "/00/"}, {"/gdti/", "/253/"},
	{"/ginc/", "/401/"}, {"/gsin/", "/402/"}, {"/grai/", "/8003/"}, {"/giai/", "/8004/"},
	{"/cpv/", "/22/"}, {"/lot/", "/10/"}, {"/ser/", "/21/"},
}

// dlRehostOrder is the order in which a custom domain's path is searched for
// the primary key when the URI is moved to id.gs1.org.
var dlRehostOrder = []string{"/00/", "/01/", "/253/", "/255/", "/401/", "/402/", "/414/", "/417/",
	"/8003/", "/8004/", "/8006/", "/8010/", "/8017/", "/8018/"}

// dlValueOK reports whether every byte of s is one the constrained
// Digital Link form allows in a value: " ' - . 0-9 ; < = > ? A-Z _ a-z.
func dlValueOK(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '"' || c == '\'' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= ';' && c <= '?' ||
			c >= 'A' && c <= 'Z' || c == '_' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// constrainDL normalises a GS1 Digital Link URI (rule 18); ok is false if s
// is not one, or if the result would not be a valid constrained URI (then
// the value enters the pre-hash unchanged).
func constrainDL(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "http://"); !ok {
			return "", false
		}
	}
	// Recognise a primary key segment followed by a value of at least 4
	// digits somewhere in the path.
	path := rest
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	segs := strings.Split(path, "/")
	found := false
	for i := 1; i+1 < len(segs); i++ {
		if _, ok := dlKeys[segs[i]]; ok && len(segs[i+1]) > 4 && allDigits(segs[i+1][:4]) {
			found = true
			break
		}
	}
	if !found {
		return "", false
	}
	u := s
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	for _, r := range dlShortNames {
		u = strings.ReplaceAll(u, r.from, r.to)
	}
	if !canonicalHostKey(u) {
		for _, k := range dlRehostOrder {
			if i := strings.Index(u, k); i >= 0 {
				u = dlHost + u[i:]
				break
			}
		}
	}
	// GTIN-8/12/13 → GTIN-14.
	if g, ok := strings.CutPrefix(u, dlHost+"/01/"); ok {
		n := 0
		for n < len(g) && g[n] >= '0' && g[n] <= '9' {
			n++
		}
		switch n {
		case 13, 12, 8:
			u = dlHost + "/01/" + strings.Repeat("0", 14-n) + g
		}
	}
	segs = strings.Split(strings.TrimPrefix(u, dlHost), "/")
	// segs[0] == "" (leading slash); pairs follow.
	if len(segs) < 3 || len(segs)%2 != 1 {
		return "", false
	}
	var ps []dlPair
	for i := 1; i+1 < len(segs); i += 2 {
		ps = append(ps, dlPair{segs[i], segs[i+1]})
	}
	// Drop the CPV (22) of a GTIN or ITIP, then the lot of a serialised item.
	if ps[0].ai == "01" || ps[0].ai == "8006" {
		out := ps[:1]
		for _, p := range ps[1:] {
			if p.ai != "22" {
				out = append(out, p)
			}
		}
		ps = out
		if len(ps) == 3 && ps[1].ai == "10" && ps[2].ai == "21" {
			ps = []dlPair{ps[0], ps[2]}
		}
	}
	var b strings.Builder
	b.WriteString(dlHost)
	for _, p := range ps {
		b.WriteString("/" + p.ai + "/" + p.v)
	}
	out := b.String()
	if !validConstrainedDL(ps[0].ai, ps[0].v, ps[1:]) {
		return "", false
	}
	return out, true
}

func canonicalHostKey(u string) bool {
	rest, ok := strings.CutPrefix(u, dlHost+"/")
	if !ok {
		return false
	}
	ai, v, ok := strings.Cut(rest, "/")
	switch ai {
	case "01", "8006", "8010", "414", "417", "8017", "8018", "255", "00", "253", "401", "402", "8003", "8004":
		return ok && len(v) > 4 && allDigits(v[:4])
	}
	return false
}

// validConstrainedDL checks the key/qualifier combinations the constrained
// canonical form allows (rule 18 III) and their value syntax.
// dlPair is one AI path segment and its value.
type dlPair struct{ ai, v string }

func validConstrainedDL(ai, v string, quals []dlPair) bool {
	digits := func(s string, n int) bool { return len(s) == n && allDigits(s) }
	q := ""
	qv := ""
	if len(quals) > 1 {
		return false
	}
	if len(quals) == 1 {
		q, qv = quals[0].ai, quals[0].v
	}
	switch ai {
	case "00":
		return q == "" && digits(v, 18)
	case "01":
		switch q {
		case "":
			return digits(v, 14)
		case "21", "10":
			return digits(v, 14) && dlValueOK(qv, 20)
		case "235":
			return digits(v, 14) && dlValueOK(qv, 28)
		}
	case "253":
		return q == "" && len(v) >= 13 && allDigits(v[:13]) && dlValueOK(v[13:], 17)
	case "255":
		return q == "" && len(v) >= 13 && len(v) <= 25 && allDigits(v)
	case "401", "8004":
		return q == "" && dlValueOK(v, 30)
	case "402":
		return q == "" && digits(v, 17)
	case "414":
		return (q == "" || q == "254" && dlValueOK(qv, 20)) && digits(v, 13)
	case "417":
		return q == "" && digits(v, 13)
	case "8003":
		return q == "" && len(v) >= 14 && allDigits(v[:14]) && dlValueOK(v[14:], 16)
	case "8006":
		return (q == "" || (q == "21" || q == "10") && dlValueOK(qv, 20)) && digits(v, 18)
	case "8010":
		if !cpidOK(v) {
			return false
		}
		return q == "" || q == "8011" && len(qv) <= 12 && allDigits(qv)
	case "8017", "8018":
		return q == "" && digits(v, 18)
	}
	return false
}

func cpidOK(s string) bool {
	if len(s) > 30 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '#' || c == '-' || c == '/' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// canonicalIdentifier returns the canonical Digital Link form of an EPC URI
// or Digital Link URI, or s unchanged.
func canonicalIdentifier(s string) string {
	if strings.HasPrefix(s, "urn:epc:") {
		if u, ok := epcToDL(s); ok {
			return u
		}
		return s
	}
	if u, ok := constrainDL(s); ok {
		return u
	}
	return s
}
