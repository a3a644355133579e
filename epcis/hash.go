package epcis

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HashVersion is the algorithm version carried by the event hash IDs this
// package computes (the "?ver=" part of the ni: URI).
const HashVersion = "CBV2.0"

// Context resolves the JSON-LD prefixes of an EPCIS document ("example:x"
// → "{https://ns.example.com/epcis/}x") for the event hash. The well-known
// prefixes gs1, cbv, epcis and cbvmda are predefined as in the reference
// implementation (cbvmda = "urn:epcglobal:cbv:mda", the XML namespace, so
// that JSON-LD and XML forms of an event hash alike); a document's inline
// @context objects add prefixes and may redefine all of them except gs1.
type Context struct {
	prefixes map[string]string
}

var wellKnownPrefixes = map[string]string{
	"gs1":    gs1WebVoc,
	"cbv":    cbvWebURI,
	"epcis":  "https://ref.gs1.org/epcis/",
	"cbvmda": "urn:epcglobal:cbv:mda",
}

// DefaultContext is the context of a document whose @context is only the
// standard EPCIS 2.0 context.
func DefaultContext() *Context { return NewContext(nil) }

// NewContext builds the context from the decoded value of a document's (or
// event's) "@context": a string, an object or an array of both. Strings
// (remote contexts) add no prefixes: the standard context's terms are built
// in.
func NewContext(jsonld any) *Context {
	c := &Context{prefixes: make(map[string]string, len(wellKnownPrefixes)+4)}
	for k, v := range wellKnownPrefixes {
		c.prefixes[k] = v
	}
	c.add(jsonld)
	return c
}

// With returns the context of an event that carries its own "@context"
// (jsonld, decoded): c's prefixes plus and overridden by the event's. c is
// not changed.
func (c *Context) With(jsonld any) *Context {
	n := &Context{prefixes: make(map[string]string, len(c.prefixes)+4)}
	for k, v := range c.prefixes {
		n.prefixes[k] = v
	}
	n.add(jsonld)
	return n
}

// add adds the prefixes of a decoded "@context" value; gs1 keeps its
// meaning.
func (c *Context) add(jsonld any) {
	var add func(v any)
	add = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, x := range v {
				add(x)
			}
		case map[string]any:
			for k, x := range v {
				if strings.HasPrefix(k, "@") {
					continue
				}
				switch x := x.(type) {
				case string:
					c.prefixes[k] = x
				case map[string]any:
					if id, ok := x["@id"].(string); ok {
						c.prefixes[k] = id
					}
				}
			}
		}
	}
	add(jsonld)
	c.prefixes["gs1"] = gs1WebVoc
}

// expandKey turns a compact key "prefix:local" into "{namespace}local"
// when the prefix is known (rules 19-20).
func (c *Context) expandKey(k string) string {
	p, local, ok := strings.Cut(k, ":")
	if !ok {
		return k
	}
	if ns, ok := c.prefixes[p]; ok {
		return "{" + ns + "}" + local
	}
	return k
}

// expandValue expands a CURIE value whose prefix names a GS1 vocabulary
// (rule 15); other values are returned unchanged.
func (c *Context) expandValue(v string) string {
	p, local, ok := strings.Cut(v, ":")
	if !ok {
		return v
	}
	if ns, ok := c.prefixes[p]; ok && (strings.HasPrefix(ns, "https://ref.gs1.org") || strings.HasPrefix(ns, "https://gs1.org")) {
		return ns + local
	}
	return v
}

// EventHashID returns the EPCIS Event Hash ID of a pre-hash string:
// "ni:///sha-256;" + hex(SHA-256(prehash)) + "?ver=CBV2.0" (RFC 6920).
func EventHashID(prehash string) string {
	sum := sha256.Sum256([]byte(prehash))
	return "ni:///sha-256;" + hex.EncodeToString(sum[:]) + "?ver=" + HashVersion
}

// RequestID derives the ledger request ID of an imported event from its
// hash ID: "ev:" and the first 40 hex digits of the digest (43 characters,
// within the ledger's 64-character, [A-Za-z0-9._:-] limit). It returns ""
// if id is not a SHA-256 event hash ID.
func RequestID(id string) string {
	rest, ok := strings.CutPrefix(id, "ni:///sha-256;")
	if !ok || len(rest) < 40 {
		return ""
	}
	h := rest[:40]
	for i := 0; i < len(h); i++ {
		if !isHex(h[i]) {
			return ""
		}
	}
	return "ev:" + strings.ToLower(h)
}

// EventID computes the canonical hash ID and pre-hash string of one EPCIS
// event given as decoded JSON (decode with json.Decoder.UseNumber so that
// numbers keep their text).
func (c *Context) EventID(event map[string]any) (id, prehash string, err error) {
	prehash, err = c.PreHash(event)
	if err != nil {
		return "", "", err
	}
	return EventHashID(prehash), prehash, nil
}

// EventIDJSON is EventID for the JSON text of one event.
func (c *Context) EventIDJSON(event []byte) (id, prehash string, err error) {
	m, err := decodeObject(event)
	if err != nil {
		return "", "", err
	}
	return c.EventID(m)
}

func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("event is not a JSON object: %w", err)
	}
	return m, nil
}

// ignoredKeys never enter the pre-hash.
var ignoredKeys = map[string]bool{
	"type": true, "eventID": true, "recordTime": true, "errorDeclaration": true,
	"certificationInfo": true, "#text": true, "rdfs:comment": true, "comment": true,
}

// PreHash returns the pre-hash string of one EPCIS event (CBV 2.0
// "Canonical event hash"): the event type, then the standard fields in the
// canonical property order with normalised values, then ILMD and user
// extensions sorted. Normalisation: timestamps in UTC with millisecond
// precision ("Z"), bare CBV values and CBV 1.x URNs as CBV Web URIs, CURIEs
// of GS1 vocabularies expanded, numbers without trailing zeros, EPC URIs and
// Digital Link URIs as constrained canonical GS1 Digital Link URIs, list
// items sorted, a business transaction's, source's or destination's type
// before its value. recordTime, eventID, errorDeclaration and
// certificationInfo do not take part.
func (c *Context) PreHash(event map[string]any) (string, error) {
	typ, ok := event["type"].(string)
	if !ok || typ == "" {
		return "", fmt.Errorf("event has no type")
	}
	var b strings.Builder
	b.WriteString("eventType=" + typ)
	used := make(map[string]bool, len(eventOrder))
	for _, f := range eventOrder {
		used[f.name] = true
		if v, ok := event[f.name]; ok {
			b.WriteString(f.render(c, f, v))
		}
	}
	// Then ILMD, the user extensions nested in standard fields (prefixed
	// with the fields' names, in the canonical property order), and the
	// event's own user extensions, sorted.
	if v, ok := event["ilmd"]; ok {
		for _, s := range c.generic("ilmd", v) {
			b.WriteString(s)
		}
	}
	for _, f := range eventOrder {
		if v, ok := event[f.name]; ok && f.nested != nil {
			b.WriteString(f.nested(c, f, v))
		}
	}
	used["ilmd"] = true
	b.WriteString(c.extensions(event, used))
	return b.String(), nil
}

// extensions renders the members of obj that are neither in known nor
// ignored (user extensions), sorted.
func (c *Context) extensions(obj map[string]any, known map[string]bool) string {
	var ext []string
	for k, v := range obj {
		if known[k] || ignoredKeys[k] || strings.HasPrefix(k, "@") {
			continue
		}
		ext = append(ext, c.generic(c.expandKey(k), v)...)
	}
	sort.Strings(ext)
	return strings.Join(ext, "")
}

// fieldNames is the set of the names of fs.
func fieldNames(fs []field) map[string]bool {
	m := make(map[string]bool, len(fs))
	for _, f := range fs {
		m[f.name] = true
	}
	return m
}

// field describes one standard field of the canonical property order.
type field struct {
	name   string
	render func(c *Context, f field, v any) string
	item   string      // list item key (epc, bizTransaction, source, ...)
	vocab  *vocabulary // bare-value vocabulary
	sub    []field     // ordered sub-fields of an object
	expand func(string) string
	// nested renders the user extensions inside the field (CBV 2.0: after
	// ILMD, prefixed with the field's name); nil for fields that cannot
	// hold any.
	nested func(c *Context, f field, v any) string
}

var (
	quantityElement = []field{plain("epcClass"), plain("quantity"), plain("uom")}
	sensorMetadata  = []field{plain("time"), plain("startTime"), plain("endTime"), plain("deviceID"),
		plain("deviceMetadata"), plain("rawData"), plain("dataProcessingMethod"), plain("bizRules")}
	sensorReport = []field{
		{name: "type", render: renderPlain, expand: gs1Term}, {name: "exception", render: renderPlain, expand: gs1Term},
		plain("deviceID"), plain("deviceMetadata"), plain("rawData"), plain("dataProcessingMethod"), plain("time"),
		plain("microorganism"), plain("chemicalSubstance"), plain("value"),
		{name: "component", render: renderPlain, expand: componentTerm},
		plain("stringValue"), plain("booleanValue"), plain("hexBinaryValue"), plain("uriValue"),
		plain("minValue"), plain("maxValue"), plain("meanValue"), plain("sDev"), plain("percRank"),
		plain("percValue"), plain("uom"), plain("coordinateReferenceSystem")}
)

// eventOrder is the canonical property order (sequence 2-23; 1 is the
// event type, 24-25 ILMD and user extensions).
var eventOrder = []field{
	plain("eventTime"),
	plain("eventTimeZoneOffset"),
	list("epcList", "epc"),
	plain("parentID"),
	list("inputEPCList", "epc"),
	list("childEPCs", "epc"),
	quantities("quantityList"),
	quantities("childQuantityList"),
	quantities("inputQuantityList"),
	list("outputEPCList", "epc"),
	quantities("outputQuantityList"),
	plain("action"),
	plain("transformationID"),
	{name: "bizStep", render: renderPlain, vocab: bizSteps},
	{name: "disposition", render: renderPlain, vocab: dispositions},
	{name: "persistentDisposition", render: renderPersistent, sub: []field{plain("set"), plain("unset")}, nested: nestedObject},
	{name: "readPoint", render: renderObject, sub: []field{plain("id")}, nested: nestedObject},
	{name: "bizLocation", render: renderObject, sub: []field{plain("id")}, nested: nestedObject},
	typed("bizTransactionList", "bizTransaction", bizTransactionTypes),
	typed("sourceList", "source", sourceDestTypes),
	typed("destinationList", "destination", sourceDestTypes),
	{name: "sensorElementList", render: renderSensors, nested: nestedSensors},
}

func plain(name string) field { return field{name: name, render: renderPlain} }
func list(name, item string) field {
	return field{name: name, render: renderList, item: item}
}
func quantities(name string) field {
	return field{name: name, render: renderQuantities, sub: quantityElement, nested: nestedQuantities}
}
func typed(name, item string, v *vocabulary) field {
	return field{name: name, render: renderTyped, item: item, vocab: v}
}

func gs1Term(s string) string {
	if s != "" && !strings.Contains(s, ":") {
		return gs1WebVoc + s
	}
	return s
}

func componentTerm(s string) string {
	if s != "" && !strings.Contains(s, ":") {
		return cbvWebURI + "Comp-" + s
	}
	return s
}

// scalarText returns the text of a JSON scalar.
func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true
	case bool:
		if v {
			return "true", true
		}
		return "false", true
	case nil:
		return "", true
	}
	return "", false
}

// value normalises the value of standard field f.
func (c *Context) value(f field, raw string) string {
	s := strings.TrimSpace(raw)
	if s == "" {
		return ""
	}
	if f.vocab != nil {
		s = f.vocab.expand(s)
	}
	if f.expand != nil {
		s = f.expand(s)
	}
	s = c.expandValue(s)
	if k := strings.ToLower(f.name); strings.Contains(k, "time") && !strings.Contains(k, "offset") {
		return canonicalTime(s)
	}
	return canonicalValue(s)
}

func renderPlain(c *Context, f field, v any) string {
	t, ok := scalarText(v)
	if !ok {
		return ""
	}
	if t = c.value(f, t); t == "" {
		return ""
	}
	return f.name + "=" + t
}

func joinSorted(name string, items []string) string {
	if len(items) == 0 {
		return ""
	}
	sort.Strings(items)
	return name + strings.Join(items, "")
}

func renderList(c *Context, f field, v any) string {
	arr, _ := v.([]any)
	var items []string
	for _, x := range arr {
		if s := renderPlain(c, field{name: f.item}, x); s != "" {
			items = append(items, s)
		}
	}
	return joinSorted(f.name, items)
}

// ordered renders the sub-fields of obj in order; user extensions inside
// obj are rendered separately (nested).
func (c *Context) ordered(obj map[string]any, sub []field) string {
	var b strings.Builder
	for _, f := range sub {
		if v, ok := obj[f.name]; ok {
			b.WriteString(f.render(c, f, v))
		}
	}
	return b.String()
}

// nestedObject renders the user extensions of an object field (readPoint,
// bizLocation, persistentDisposition) as the field's name followed by them.
func nestedObject(c *Context, f field, v any) string {
	obj, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if s := c.extensions(obj, fieldNames(f.sub)); s != "" {
		return f.name + s
	}
	return ""
}

// nestedQuantities renders the user extensions of the quantity elements of
// a quantity list, in document order.
func nestedQuantities(c *Context, f field, v any) string {
	arr, _ := v.([]any)
	var b strings.Builder
	for _, x := range arr {
		if obj, ok := x.(map[string]any); ok {
			if s := c.extensions(obj, fieldNames(f.sub)); s != "" {
				b.WriteString("quantityElement" + s)
			}
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return f.name + b.String()
}

var (
	sensorMetadataNames = fieldNames(sensorMetadata)
	sensorReportNames   = fieldNames(sensorReport)
	sensorElementNames  = map[string]bool{"sensorMetadata": true, "sensorReport": true}
)

// nestedSensors renders the user extensions of each sensor element, in
// document order: "sensorElement", then those of its sensorMetadata and of
// each sensorReport (each prefixed with its name), then its own, sorted.
// As in the standard part, no "sensorElementList" label precedes them.
func nestedSensors(c *Context, f field, v any) string {
	arr, _ := v.([]any)
	var out strings.Builder
	for _, x := range arr {
		obj, ok := x.(map[string]any)
		if !ok {
			continue
		}
		var b strings.Builder
		if md, ok := obj["sensorMetadata"].(map[string]any); ok {
			if s := c.extensions(md, sensorMetadataNames); s != "" {
				b.WriteString("sensorMetadata" + s)
			}
		}
		rs, _ := obj["sensorReport"].([]any)
		for _, r := range rs {
			if rm, ok := r.(map[string]any); ok {
				if s := c.extensions(rm, sensorReportNames); s != "" {
					b.WriteString("sensorReport" + s)
				}
			}
		}
		b.WriteString(c.extensions(obj, sensorElementNames))
		if b.Len() > 0 {
			out.WriteString("sensorElement" + b.String())
		}
	}
	return out.String()
}

func renderObject(c *Context, f field, v any) string {
	obj, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if s := c.ordered(obj, f.sub); s != "" {
		return f.name + s
	}
	return ""
}

func renderQuantities(c *Context, f field, v any) string {
	arr, _ := v.([]any)
	var items []string
	for _, x := range arr {
		if obj, ok := x.(map[string]any); ok {
			if s := c.ordered(obj, f.sub); s != "" {
				items = append(items, "quantityElement"+s)
			}
		}
	}
	return joinSorted(f.name, items)
}

// renderTyped renders bizTransactionList, sourceList and destinationList:
// each item is "type=<type>" followed by "<item>=<value>", items sorted.
func renderTyped(c *Context, f field, v any) string {
	arr, _ := v.([]any)
	var items []string
	for _, x := range arr {
		obj, ok := x.(map[string]any)
		if !ok {
			continue
		}
		sub := []field{{name: "type", render: renderPlain, vocab: f.vocab}, plain(f.item)}
		s := c.ordered(obj, sub) + c.extensions(obj, fieldNames(sub))
		if s != "" {
			items = append(items, s)
		}
	}
	return joinSorted(f.name, items)
}

func renderPersistent(c *Context, f field, v any) string {
	obj, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	var b strings.Builder
	for _, k := range []string{"set", "unset"} {
		arr, _ := obj[k].([]any)
		var items []string
		for _, x := range arr {
			if s := renderPlain(c, field{name: k, vocab: dispositions}, x); s != "" {
				items = append(items, s)
			}
		}
		sort.Strings(items)
		b.WriteString(strings.Join(items, ""))
	}
	if b.Len() == 0 {
		return ""
	}
	return f.name + b.String()
}

// renderSensors renders each sensor element as "sensorElement" +
// sensorMetadata + sensor reports (sorted); elements sorted. Their user
// extensions come after ILMD (nestedSensors).
// As in the reference implementation's current output, no
// "sensorElementList" label precedes them.
func renderSensors(c *Context, f field, v any) string {
	arr, _ := v.([]any)
	var elems []string
	for _, x := range arr {
		obj, ok := x.(map[string]any)
		if !ok {
			continue
		}
		var b strings.Builder
		if md, ok := obj["sensorMetadata"].(map[string]any); ok {
			if s := c.ordered(md, sensorMetadata); s != "" {
				b.WriteString("sensorMetadata" + s)
			}
		}
		var reports []string
		rs, _ := obj["sensorReport"].([]any)
		for _, r := range rs {
			if rm, ok := r.(map[string]any); ok {
				if s := c.ordered(rm, sensorReport); s != "" {
					reports = append(reports, "sensorReport"+s)
				}
			}
		}
		sort.Strings(reports)
		b.WriteString(strings.Join(reports, ""))
		if b.Len() > 0 {
			elems = append(elems, "sensorElement"+b.String())
		}
	}
	sort.Strings(elems)
	return strings.Join(elems, "")
}

// generic renders a member outside the canonical order (ILMD, user
// extensions): "key=value" for a scalar, "key" + its members sorted for an
// object, one entry per element (same key) for an array.
func (c *Context) generic(key string, v any) []string {
	switch v := v.(type) {
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, c.generic(key, x)...)
		}
		return out
	case map[string]any:
		text := ""
		if t, ok := v["#text"]; ok {
			if s, ok := scalarText(t); ok {
				text = canonicalValue(c.expandValue(strings.TrimSpace(s)))
			}
		}
		var kids []string
		for k, x := range v {
			if ignoredKeys[k] || strings.HasPrefix(k, "@") {
				continue
			}
			kids = append(kids, c.generic(c.expandKey(k), x)...)
		}
		sort.Strings(kids)
		s := key
		if text != "" {
			s += "=" + text
		}
		return []string{s + strings.Join(kids, "")}
	}
	t, _ := scalarText(v)
	t = strings.TrimSpace(t)
	if t == "" {
		return []string{key}
	}
	return []string{key + "=" + canonicalValue(c.expandValue(t))}
}

// cbvURNs maps CBV 1.x URN prefixes to CBV Web URI prefixes (rule 14).
var cbvURNs = strings.NewReplacer(
	"urn:epcglobal:cbv:bizstep:", cbvWebURI+"BizStep-",
	"urn:epcglobal:cbv:disp:", cbvWebURI+"Disp-",
	"urn:epcglobal:cbv:btt:", cbvWebURI+"BTT-",
	"urn:epcglobal:cbv:sdt:", cbvWebURI+"SDT-",
	"urn:epcglobal:cbv:er:", cbvWebURI+"ER-",
)

// canonicalValue normalises a non-time value: CBV URNs, numbers, GS1
// identifiers.
func canonicalValue(s string) string {
	if strings.Contains(s, "urn:epcglobal:cbv:") {
		s = cbvURNs.Replace(s)
	}
	if n, ok := canonicalNumber(s); ok {
		return n
	}
	return canonicalIdentifier(s)
}

// canonicalTime returns s in UTC with millisecond precision ("Z"); the 3rd
// decimal is rounded up when the 4th is 5-9 (digits beyond the 6th are
// ignored, as a microsecond-precision parser does). A value that is not an
// RFC 3339 date-time is returned unchanged; one without a zone is taken as
// UTC.
func canonicalTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if t, err = time.Parse("2006-01-02T15:04:05.999999999", s); err != nil {
			return s
		}
	}
	micro := t.Nanosecond() / 1000
	ms := micro / 1000
	if (micro/100)%10 >= 5 {
		ms++
	}
	t = t.Truncate(time.Second).Add(time.Duration(ms) * time.Millisecond)
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// canonicalNumber reports whether s is a number in the syntax Python's
// float() accepts (the reference implementation's test) and returns it
// without trailing zeros: integral values as integers ("1.0" → "1",
// "0123" → "123"), others in the shortest round-trip form ("0.10" → "0.1",
// "0.00001" → "1e-05"). NaN and infinities are not rewritten.
func canonicalNumber(s string) (string, bool) {
	if !pyFloatSyntax(s) {
		return "", false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil && (math.IsInf(f, 0) || math.IsNaN(f)) || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	if f == math.Trunc(f) {
		i, _ := new(big.Float).SetFloat64(f).Int(nil)
		return i.String(), true
	}
	return pyRepr(f), true
}

// pyFloatSyntax accepts [sign] digits [. digits] [e [sign] digits] with
// single underscores between digits, at least one mantissa digit.
func pyFloatSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) {
			if s[i] >= '0' && s[i] <= '9' {
				n++
				i++
			} else if s[i] == '_' && n > 0 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
				i++
			} else {
				break
			}
		}
		return n
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// pyRepr formats a non-integral float like Python's repr: shortest
// round-trip digits, positional for decimal exponents -4..15, otherwise
// d.ddde±XX.
func pyRepr(f float64) string {
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	sign := ""
	if e[0] == '-' {
		sign, e = "-", e[1:]
	}
	mant, exps, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(exps)
	digits := strings.Replace(mant, ".", "", 1)
	if exp >= -4 && exp < 16 {
		if exp < 0 {
			return sign + "0." + strings.Repeat("0", -exp-1) + digits
		}
		for len(digits) < exp+2 {
			digits += "0"
		}
		return sign + digits[:exp+1] + "." + digits[exp+1:]
	}
	m := digits[:1]
	if len(digits) > 1 {
		m += "." + digits[1:]
	}
	es := "+"
	if exp < 0 {
		es, exp = "-", -exp
	}
	return fmt.Sprintf("%s%se%s%02d", sign, m, es, exp)
}
