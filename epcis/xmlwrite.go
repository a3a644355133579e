package epcis

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"sort"
	"strings"
)

// This file writes events, given in their JSON-LD structure, as EPCIS 2.0
// XML elements: the export's XML form (Options.Format), so that an XML
// document carries what the JSON one does and its events hash alike.

// xmlFieldOrder is the order of an event's standard fields in EPCIS 2.0 XML
// (the EPCIS 2.0 XML schema's sequences; persistentDisposition where the
// reference implementation's all-fields examples put it), by event type.
var xmlFieldOrder = map[string][]string{
	"ObjectEvent": {"epcList", "action", "bizStep", "disposition", "readPoint", "bizLocation", "bizTransactionList",
		"quantityList", "sourceList", "destinationList", "sensorElementList", "persistentDisposition", "ilmd"},
	"AggregationEvent": {"parentID", "childEPCs", "action", "bizStep", "disposition", "readPoint", "bizLocation",
		"bizTransactionList", "childQuantityList", "sourceList", "destinationList", "sensorElementList", "persistentDisposition"},
	"TransactionEvent": {"bizTransactionList", "parentID", "epcList", "action", "bizStep", "disposition", "readPoint",
		"bizLocation", "quantityList", "sourceList", "destinationList", "sensorElementList", "persistentDisposition"},
	"TransformationEvent": {"inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList", "transformationID",
		"bizStep", "disposition", "readPoint", "bizLocation", "bizTransactionList", "sourceList", "destinationList",
		"sensorElementList", "persistentDisposition", "ilmd"},
	"AssociationEvent": {"parentID", "childEPCs", "childQuantityList", "action", "bizStep", "disposition", "readPoint",
		"bizLocation", "bizTransactionList", "sourceList", "destinationList", "sensorElementList", "persistentDisposition"},
}

// xmlCommonFields come first in every event.
var xmlCommonFields = []string{"eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "errorDeclaration", "certificationInfo"}

// cbvURN writes a bare CBV term of v as its CBV 1.x URN, the form EPCIS XML
// documents use (urn:epcglobal:cbv:bizstep:shipping); other values stay.
func cbvURN(v *vocabulary, kind, s string) string {
	if v.terms[s] {
		return "urn:epcglobal:cbv:" + kind + ":" + s
	}
	return s
}

// xmlWriter writes the XML of one event.
type xmlWriter struct {
	b   bytes.Buffer
	ctx *Context
	// ns maps a namespace to its prefix: those declared on the document
	// element, then those the event declares.
	ns    map[string]string
	local map[string]string // the event's own declarations
}

func newXMLWriter(ctx *Context, docNS map[string]string) *xmlWriter {
	w := &xmlWriter{ctx: ctx, ns: map[string]string{}, local: map[string]string{}}
	for ns, p := range docNS {
		w.ns[ns] = p
	}
	return w
}

// name resolves a user extension key ("prefix:local" of the context, or
// "{namespace}local" as the XML reader writes it) to a qualified XML name.
func (w *xmlWriter) name(key string) (string, error) {
	ns, local := "", ""
	if strings.HasPrefix(key, "{") {
		if i := strings.IndexByte(key, '}'); i > 0 {
			ns, local = key[1:i], key[i+1:]
		}
	} else if p, l, ok := strings.Cut(key, ":"); ok {
		if n, ok := w.ctx.prefixes[p]; ok {
			ns, local = n, l
		}
	}
	if ns == "" || !ncName(local) {
		return "", fmt.Errorf("%q is not a namespace-qualified name (a user extension needs a prefix of the @context)", key)
	}
	p, ok := w.ns[ns]
	if !ok {
		p, _, _ = strings.Cut(key, ":")
		for i := 1; strings.HasPrefix(key, "{") || !ncName(p) || strings.HasPrefix(strings.ToLower(p), "xml") || w.prefixTaken(p); i++ {
			p, key = fmt.Sprintf("ns%d", i), ""
		}
		w.ns[ns], w.local[ns] = p, p
	}
	return p + ":" + local, nil
}

func (w *xmlWriter) prefixTaken(p string) bool {
	for _, q := range w.ns {
		if q == p {
			return true
		}
	}
	return p == "epcis"
}

// ncName reports whether s is an XML name without a colon (ASCII subset).
func ncName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= 0x80 ||
			i > 0 && (c == '-' || c == '.' || c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

func xmlText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return string(v), nil
	case float64:
		return fmt.Sprint(v), nil
	case bool:
		if v {
			return "true", nil
		}
		return "false", nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("%s is not a text value", jsonText(v))
}

func (w *xmlWriter) escape(s string) {
	xml.EscapeText(&w.b, []byte(s)) //nolint:errcheck // a bytes.Buffer does not fail
}

func (w *xmlWriter) leaf(name, text string) {
	w.b.WriteString("<" + name + ">")
	w.escape(text)
	w.b.WriteString("</" + name + ">")
}

func (w *xmlWriter) attr(name, value string) {
	w.b.WriteString(" " + name + `="`)
	w.escape(value)
	w.b.WriteString(`"`)
}

// asList returns a JSON array's items, or v alone.
func asList(v any) []any {
	if arr, ok := v.([]any); ok {
		return arr
	}
	return []any{v}
}

// event writes one event; the element declares the namespaces its user
// extensions need beyond docNS.
func appendXMLEvent(dst []byte, ev map[string]any, ctx *Context, docNS map[string]string) ([]byte, error) {
	typ, _ := ev["type"].(string)
	if !ncName(typ) {
		return nil, fmt.Errorf("event type %s is not an XML element name", jsonText(ev["type"]))
	}
	if c, ok := ev["@context"]; ok {
		ctx = ctx.With(c)
	}
	w := newXMLWriter(ctx, docNS)
	order, ok := xmlFieldOrder[typ]
	if !ok {
		order = xmlFieldOrder["ObjectEvent"]
	}
	done := map[string]bool{"type": true}
	for _, f := range slicesConcat(xmlCommonFields, order) {
		v, ok := ev[f]
		if !ok {
			continue
		}
		done[f] = true
		if err := w.field(f, v); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	var ext []string
	for k := range ev {
		if !done[k] && !strings.HasPrefix(k, "@") {
			ext = append(ext, k)
		}
	}
	sort.Strings(ext)
	for _, k := range ext {
		if err := w.extension(k, ev[k]); err != nil {
			return nil, err
		}
	}
	dst = append(dst, "<"+typ...)
	decl := make([]string, 0, len(w.local))
	for ns, p := range w.local {
		decl = append(decl, p+"\x00"+ns)
	}
	sort.Strings(decl)
	for _, d := range decl {
		p, ns, _ := strings.Cut(d, "\x00")
		var a bytes.Buffer
		xml.EscapeText(&a, []byte(ns)) //nolint:errcheck
		dst = append(dst, ` xmlns:`+p+`="`+a.String()+`"`...)
	}
	dst = append(dst, '>')
	dst = append(dst, w.b.Bytes()...)
	return append(dst, "</"+typ+">"...), nil
}

func slicesConcat(a, b []string) []string { return append(append([]string(nil), a...), b...) }

// field writes a standard field.
func (w *xmlWriter) field(f string, v any) error {
	switch f {
	case "epcList", "childEPCs", "inputEPCList", "outputEPCList":
		w.b.WriteString("<" + f + ">")
		for _, x := range asList(v) {
			s, err := xmlText(x)
			if err != nil {
				return err
			}
			w.leaf("epc", s)
		}
		w.b.WriteString("</" + f + ">")
	case "quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList":
		w.b.WriteString("<" + f + ">")
		for _, x := range asList(v) {
			if err := w.object("quantityElement", x, []string{"epcClass", "quantity", "uom"}); err != nil {
				return err
			}
		}
		w.b.WriteString("</" + f + ">")
	case "bizTransactionList":
		return w.typed(f, "bizTransaction", "btt", bizTransactionTypes, v)
	case "sourceList":
		return w.typed(f, "source", "sdt", sourceDestTypes, v)
	case "destinationList":
		return w.typed(f, "destination", "sdt", sourceDestTypes, v)
	case "readPoint", "bizLocation":
		return w.object(f, v, []string{"id"})
	case "persistentDisposition":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not an object", jsonText(v))
		}
		w.b.WriteString("<" + f + ">")
		for _, k := range []string{"set", "unset"} {
			for _, x := range asList(m[k]) {
				if x == nil {
					continue
				}
				s, err := xmlText(x)
				if err != nil {
					return err
				}
				w.leaf(k, cbvURN(dispositions, "disp", s))
			}
		}
		if err := w.extensions(m, map[string]bool{"set": true, "unset": true}); err != nil {
			return err
		}
		w.b.WriteString("</" + f + ">")
	case "sensorElementList":
		w.b.WriteString("<" + f + ">")
		for _, x := range asList(v) {
			if err := w.sensorElement(x); err != nil {
				return err
			}
		}
		w.b.WriteString("</" + f + ">")
	case "ilmd":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not an object", jsonText(v))
		}
		w.b.WriteString("<ilmd>")
		if err := w.extensions(m, nil); err != nil {
			return err
		}
		w.b.WriteString("</ilmd>")
	case "errorDeclaration":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not an object", jsonText(v))
		}
		w.b.WriteString("<errorDeclaration>")
		if t, ok := m["declarationTime"]; ok {
			s, err := xmlText(t)
			if err != nil {
				return err
			}
			w.leaf("declarationTime", s)
		}
		if r, ok := m["reason"]; ok {
			s, err := xmlText(r)
			if err != nil {
				return err
			}
			w.leaf("reason", cbvURN(errorReasons, "er", s))
		}
		if ids, ok := m["correctiveEventIDs"]; ok {
			w.b.WriteString("<correctiveEventIDs>")
			for _, x := range asList(ids) {
				s, err := xmlText(x)
				if err != nil {
					return err
				}
				w.leaf("correctiveEventID", s)
			}
			w.b.WriteString("</correctiveEventIDs>")
		}
		if err := w.extensions(m, map[string]bool{"declarationTime": true, "reason": true, "correctiveEventIDs": true}); err != nil {
			return err
		}
		w.b.WriteString("</errorDeclaration>")
	case "certificationInfo":
		for _, x := range asList(v) {
			s, err := xmlText(x)
			if err != nil {
				return err
			}
			w.leaf(f, s)
		}
	default: // text fields
		s, err := xmlText(v)
		if err != nil {
			return err
		}
		switch f {
		case "bizStep":
			s = cbvURN(bizSteps, "bizstep", s)
		case "disposition":
			s = cbvURN(dispositions, "disp", s)
		}
		w.leaf(f, s)
	}
	return nil
}

// object writes an object as an element of its text fields (in order) and
// user extensions.
func (w *xmlWriter) object(name string, v any, fields []string) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s is not an object", jsonText(v))
	}
	w.b.WriteString("<" + name + ">")
	known := map[string]bool{}
	for _, f := range fields {
		known[f] = true
		if x, ok := m[f]; ok {
			s, err := xmlText(x)
			if err != nil {
				return fmt.Errorf("%s.%s: %w", name, f, err)
			}
			w.leaf(f, s)
		}
	}
	if err := w.extensions(m, known); err != nil {
		return err
	}
	w.b.WriteString("</" + name + ">")
	return nil
}

// typed writes bizTransactionList, sourceList or destinationList.
func (w *xmlWriter) typed(name, item, kind string, v *vocabulary, val any) error {
	w.b.WriteString("<" + name + ">")
	for _, x := range asList(val) {
		m, ok := x.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not an object", jsonText(x))
		}
		w.b.WriteString("<" + item)
		if t, ok := m["type"]; ok {
			s, err := xmlText(t)
			if err != nil {
				return err
			}
			w.attr("type", cbvURN(v, kind, s))
		}
		w.b.WriteString(">")
		s, err := xmlText(m[item])
		if err != nil {
			return err
		}
		w.escape(s)
		if err := w.extensions(m, map[string]bool{"type": true, item: true}); err != nil {
			return err
		}
		w.b.WriteString("</" + item + ">")
	}
	w.b.WriteString("</" + name + ">")
	return nil
}

// sensorElement writes a sensor element: sensorMetadata and each
// sensorReport as attributes (user extension values that are objects as
// child elements), then the element's user extensions.
func (w *xmlWriter) sensorElement(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s is not an object", jsonText(v))
	}
	w.b.WriteString("<sensorElement>")
	if md, ok := m["sensorMetadata"]; ok {
		if err := w.attributes("sensorMetadata", md, sensorMetadataNames); err != nil {
			return err
		}
	}
	if rs, ok := m["sensorReport"]; ok {
		for _, r := range asList(rs) {
			if err := w.attributes("sensorReport", r, sensorReportNames); err != nil {
				return err
			}
		}
	}
	if err := w.extensions(m, sensorElementNames); err != nil {
		return err
	}
	w.b.WriteString("</sensorElement>")
	return nil
}

func (w *xmlWriter) attributes(name string, v any, known map[string]bool) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s is not an object", jsonText(v))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w.b.WriteString("<" + name)
	nested := map[string]any{}
	for _, k := range keys {
		x := m[k]
		switch x.(type) {
		case map[string]any, []any:
			nested[k] = x
			continue
		}
		s, err := xmlText(x)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", name, k, err)
		}
		an := k
		if !known[k] {
			if an, err = w.name(k); err != nil {
				return err
			}
		} else {
			switch k {
			case "type", "exception":
				if s != "" && !strings.Contains(s, ":") {
					s = "gs1:" + s
				}
			case "component":
				s = componentTerm(s)
			}
		}
		w.attr(an, s)
	}
	if len(nested) == 0 {
		w.b.WriteString("/>")
		return nil
	}
	w.b.WriteString(">")
	if err := w.extensions(nested, nil); err != nil {
		return err
	}
	w.b.WriteString("</" + name + ">")
	return nil
}

// extensions writes the members of m that are not in known as user
// extension elements, sorted by key.
func (w *xmlWriter) extensions(m map[string]any, known map[string]bool) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !known[k] && !strings.HasPrefix(k, "@") && k != "#text" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := w.extension(k, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// extension writes one user extension member: an element per array item,
// text for a scalar, children for an object ("#text" as its text). A
// JSON-LD comment (comment, rdfs:comment), which the event hash leaves out,
// becomes an XML comment, which it leaves out too.
func (w *xmlWriter) extension(key string, v any) error {
	if key == "comment" || key == "rdfs:comment" {
		for _, x := range asList(v) {
			s, err := xmlText(x)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			s = strings.ReplaceAll(s, "--", "- -")
			if strings.HasSuffix(s, "-") {
				s += " "
			}
			w.b.WriteString("<!--" + s + "-->")
		}
		return nil
	}
	name, err := w.name(key)
	if err != nil {
		return err
	}
	for _, x := range asList(v) {
		switch x := x.(type) {
		case map[string]any:
			w.b.WriteString("<" + name + ">")
			if t, ok := x["#text"]; ok {
				s, err := xmlText(t)
				if err != nil {
					return fmt.Errorf("%s: %w", key, err)
				}
				w.escape(s)
			}
			if err := w.extensions(x, nil); err != nil {
				return err
			}
			w.b.WriteString("</" + name + ">")
		case []any:
			return fmt.Errorf("%s: a list in a list cannot be written as XML", key)
		default:
			s, err := xmlText(x)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			w.leaf(name, s)
		}
	}
	return nil
}
