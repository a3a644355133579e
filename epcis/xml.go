package epcis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Format is the syntax of an EPCIS document.
type Format int

// Document formats.
const (
	// FormatJSON is EPCIS 2.0 JSON / JSON-LD (the default).
	FormatJSON Format = iota
	// FormatXML is EPCIS XML: 2.0 (urn:epcglobal:epcis:xsd:2) on export;
	// 2.0 or 1.2 (urn:epcglobal:epcis:xsd:1) on import.
	FormatXML
)

func (f Format) String() string {
	if f == FormatXML {
		return "xml"
	}
	return "json"
}

// MediaType returns the media type of documents of the format:
// application/ld+json or application/xml.
func (f Format) MediaType() string {
	if f == FormatXML {
		return "application/xml"
	}
	return "application/ld+json"
}

// DetectFormat tells an XML document from a JSON one by its first byte
// that is not white space (after a UTF-8 byte order mark): '<' is XML,
// anything else JSON. It returns a reader that yields all of r, the bytes
// looked at included.
func DetectFormat(r io.Reader) (Format, io.Reader, error) {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if err == io.EOF {
				return FormatJSON, br, nil // empty: the JSON reader says so
			}
			return FormatJSON, br, err
		}
		c := b[n-1]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		case n <= 3 && bytes.HasPrefix([]byte("\xef\xbb\xbf"), b):
		case c == '<':
			return FormatXML, br, nil
		default:
			return FormatJSON, br, nil
		}
		if n >= 4096 {
			return FormatJSON, br, nil
		}
	}
}

// EPCIS XML namespaces.
const (
	nsEPCIS2      = "urn:epcglobal:epcis:xsd:2"
	nsEPCIS1      = "urn:epcglobal:epcis:xsd:1"
	nsEPCISQuery2 = "urn:epcglobal:epcis-query:xsd:2"
	nsEPCISQuery1 = "urn:epcglobal:epcis-query:xsd:1"
	nsXSI         = "http://www.w3.org/2001/XMLSchema-instance"
)

// NewXMLReader returns a reader of the EPCIS XML document r: an
// EPCISDocument or EPCISQueryDocument of EPCIS 2.0 (namespace
// urn:epcglobal:epcis:xsd:2) or EPCIS 1.2 (urn:epcglobal:epcis:xsd:1).
// Events are decoded one element at a time with encoding/xml tokens into
// the form the JSON reader produces (the JSON-LD structure of the event),
// so planning, rejection reasons and event hashes are those of the JSON
// twin; a document of any size is read in constant memory. The EPCIS 1.2
// <extension> and <baseExtension> wrappers (of events, of readPoint and
// bizLocation, of the event list around a TransformationEvent) are
// unwrapped. User extensions (namespace-qualified elements and attributes)
// keep their namespace: the key is "{namespace}local", as the event hash
// expands a JSON-LD "prefix:local". An event element the JSON-LD structure
// cannot hold (an unqualified element that is no EPCIS field, text where
// a list is expected, an undeclared prefix) is rejected with a reason
// naming the element and its line; XML that is not well-formed stops the
// import with a DocumentError giving the line and column.
func NewXMLReader(r io.Reader, opt ImportOptions) *Reader {
	dec := xml.NewDecoder(r)
	dec.CharsetReader = charsetReader
	return newReader(opt, &xmlEvents{dec: dec})
}

// NewFormatReader returns the reader of a document of format f.
func NewFormatReader(r io.Reader, f Format, opt ImportOptions) *Reader {
	if f == FormatXML {
		return NewXMLReader(r, opt)
	}
	return NewReader(r, opt)
}

// charsetReader accepts the single-byte encodings XML documents declare
// besides UTF-8: US-ASCII (a subset of UTF-8) and ISO-8859-1.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "latin1", "latin-1", "iso8859-1":
		return &latin1Reader{r: bufio.NewReader(in)}, nil
	}
	return nil, fmt.Errorf("the encoding %q is not supported (use UTF-8)", label)
}

type latin1Reader struct {
	r   *bufio.Reader
	buf []byte
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(l.buf) > 0 {
			c := copy(p[n:], l.buf)
			l.buf, n = l.buf[c:], n+c
			continue
		}
		b, err := l.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b < utf8.RuneSelf {
			p[n] = b
			n++
			continue
		}
		l.buf = utf8.AppendRune(l.buf[:0], rune(b))
	}
	return n, nil
}

// xmlEvents walks an EPCIS XML document to its EventList and yields its
// event elements.
type xmlEvents struct {
	dec     *xml.Decoder
	inList  bool
	wrapped int // open <extension> wrappers inside the EventList (EPCIS 1.2)
	open    int // elements open outside the event list
}

// xnode is one element of an event, held only while the event is decoded.
type xnode struct {
	name  xml.Name
	attrs []xml.Attr
	kids  []*xnode
	text  string
	buf   []byte // text while the element is read
	line  int
}

// maxDepth bounds the nesting of an event's elements.
const maxDepth = 64

func (x *xmlEvents) fail(r *Reader, format string, args ...any) error {
	line, col := x.dec.InputPos()
	r.err = &DocumentError{Offset: x.dec.InputOffset(), Line: line, Column: col, Reason: fmt.Sprintf(format, args...)}
	return r.err
}

// token returns the next token, or a DocumentError (io.ErrUnexpectedEOF
// for a document that ends early).
func (x *xmlEvents) token(r *Reader) (xml.Token, error) {
	t, err := x.dec.Token()
	if err == io.EOF {
		return nil, x.fail(r, "the document ends before its root element is closed")
	}
	if err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			if se.Msg == "unexpected EOF" {
				return nil, x.fail(r, "the document ends before its root element is closed")
			}
			return nil, x.fail(r, "not well-formed XML: %s", se.Msg)
		}
		return nil, x.fail(r, "%v", err)
	}
	return t, nil
}

func isEPCISNamespace(ns string) bool {
	switch ns {
	case nsEPCIS2, nsEPCIS1, nsEPCISQuery2, nsEPCISQuery1:
		return true
	}
	return false
}

// start reads to the EventList: into the root (EPCISDocument or
// EPCISQueryDocument), EPCISBody, QueryResults and resultsBody; every
// other element (EPCISHeader, queryName, ...) is skipped.
func (x *xmlEvents) start(r *Reader) error {
	for {
		t, err := x.dec.Token()
		if err == io.EOF {
			return x.fail(r, "the document is empty: no EPCISDocument element")
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return x.fail(r, "not well-formed XML: %s", se.Msg)
			}
			return x.fail(r, "%v", err)
		}
		if se, ok := t.(xml.StartElement); ok {
			if (se.Name.Local != "EPCISDocument" && se.Name.Local != "EPCISQueryDocument") || !isEPCISNamespace(se.Name.Space) {
				return x.fail(r, "the root element is <%s> (namespace %q), not an EPCISDocument or EPCISQueryDocument of namespace %s or %s",
					se.Name.Local, se.Name.Space, nsEPCIS2, nsEPCIS1)
			}
			break
		}
		if cd, ok := t.(xml.CharData); ok && len(bytes.TrimSpace(cd)) > 0 {
			return x.fail(r, "text before the root element")
		}
	}
	x.open = 1
	for {
		t, err := x.token(r)
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "EventList":
				x.open++
				x.inList = true
				return nil
			case "EPCISBody", "QueryResults", "resultsBody":
				x.open++
			default:
				if err := x.dec.Skip(); err != nil {
					return x.fail(r, "in <%s>: %v", t.Name.Local, err)
				}
			}
		case xml.EndElement:
			x.open--
			if x.open == 0 {
				return x.fail(r, "the document has no EPCISBody/EventList")
			}
		}
	}
}

// finish reads past the event list to the end of the document.
func (x *xmlEvents) finish(r *Reader) error {
	for x.open > 0 {
		t, err := x.token(r)
		if err != nil {
			return err
		}
		switch t.(type) {
		case xml.StartElement:
			if err := x.dec.Skip(); err != nil {
				return x.fail(r, "%v", err)
			}
		case xml.EndElement:
			x.open--
		}
	}
	for {
		t, err := x.dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return x.fail(r, "after the root element: %v", err)
		}
		if _, ok := t.(xml.StartElement); ok {
			return x.fail(r, "a second root element after the document")
		}
	}
}

// next returns the next event element of the list, nil at its end.
func (x *xmlEvents) next(r *Reader) (*xnode, error) {
	for {
		t, err := x.token(r)
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.StartElement:
			if t.Name.Local == "extension" && (t.Name.Space == "" || isEPCISNamespace(t.Name.Space)) {
				x.wrapped++ // EPCIS 1.2: <extension><TransformationEvent>...
				continue
			}
			return x.element(r, t)
		case xml.EndElement:
			if x.wrapped > 0 {
				x.wrapped--
				continue
			}
			x.open-- // </EventList>
			x.inList = false
			return nil, nil
		}
	}
}

// element reads the element that starts with se, whole.
func (x *xmlEvents) element(r *Reader, se xml.StartElement) (*xnode, error) {
	line, _ := x.dec.InputPos()
	root := &xnode{name: se.Name, attrs: se.Attr, line: line}
	stack := []*xnode{root}
	for len(stack) > 0 {
		t, err := x.token(r)
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch t := t.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return nil, x.fail(r, "<%s> is nested more than %d elements deep in <%s>", t.Name.Local, maxDepth, root.name.Local)
			}
			line, _ := x.dec.InputPos()
			n := &xnode{name: t.Name, attrs: t.Attr, line: line}
			top.kids = append(top.kids, n)
			stack = append(stack, n)
		case xml.CharData:
			top.buf = append(top.buf, t...)
		case xml.EndElement:
			top.text, top.buf = strings.TrimSpace(string(top.buf)), nil
			stack = stack[:len(stack)-1]
		}
	}
	return root, nil
}

// ---- from XML elements to the JSON-LD structure of an event ----

// xmlError is a structural error in one event: the event is rejected.
type xmlError struct{ msg string }

func (e *xmlError) Error() string { return e.msg }

func xerrorf(n *xnode, format string, args ...any) error {
	return &xmlError{fmt.Sprintf("<%s> (line %d): ", qname(n.name), n.line) + fmt.Sprintf(format, args...)}
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return "{" + n.Space + "}" + n.Local
}

// std reports whether an element is in no namespace (EPCIS fields are
// unqualified), or in an EPCIS namespace.
func std(n xml.Name) bool { return n.Space == "" || isEPCISNamespace(n.Space) }

// wrapper reports whether an element is an EPCIS 1.2 extension wrapper.
func wrapper(n *xnode) bool {
	return std(n.name) && (n.name.Local == "extension" || n.name.Local == "baseExtension")
}

// extKey is the key of a user extension element or attribute: its name
// with the namespace in braces, as the event hash expands "prefix:local".
// An undeclared prefix (encoding/xml leaves the prefix as the namespace)
// is refused.
func extKey(n *xnode, name xml.Name) (string, error) {
	if !strings.Contains(name.Space, ":") {
		return "", xerrorf(n, "the prefix %q of %s is not declared (xmlns:%s=\"...\")", name.Space, name.Local, name.Space)
	}
	return "{" + name.Space + "}" + name.Local, nil
}

// attrs adds the data attributes of n to m: unqualified ones under their
// name (the standard fields of sensorMetadata, sensorReport, the type of a
// business transaction, source or destination), qualified ones as user
// extensions. Namespace declarations and xsi: attributes are not data.
func attrs(n *xnode, m map[string]any) error {
	for _, a := range n.attrs {
		switch {
		case a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" || a.Name.Space == nsXSI:
		case a.Name.Space == "":
			m[a.Name.Local] = a.Value
		default:
			k, err := extKey(n, a.Name)
			if err != nil {
				return err
			}
			m[k] = a.Value
		}
	}
	return nil
}

// hasAttrs reports whether n has data attributes.
func hasAttrs(n *xnode) bool {
	for _, a := range n.attrs {
		if !(a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" || a.Name.Space == nsXSI) {
			return true
		}
	}
	return false
}

// add sets m[k] = v, turning repeated keys into a list (repeated XML
// elements are a JSON array).
func add(m map[string]any, k string, v any) {
	old, ok := m[k]
	if !ok {
		m[k] = v
		return
	}
	if arr, ok := old.(multi); ok {
		m[k] = append(arr, v)
		return
	}
	m[k] = multi{old, v}
}

// multi marks a list built from repeated elements, until finalised as
// []any.
type multi []any

// finalise turns every multi in m into []any.
func finalise(m map[string]any) {
	for k, v := range m {
		if arr, ok := v.(multi); ok {
			m[k] = []any(arr)
		}
	}
}

// generic converts a user extension element (or an ILMD field): text for
// an element with neither attributes nor child elements, else an object of
// its attributes, its children (repeated ones as a list, EPCIS 1.2
// extension wrappers unwrapped) and its text as "#text".
func generic(n *xnode) (any, error) {
	if len(n.kids) == 0 && !hasAttrs(n) {
		return n.text, nil
	}
	m := map[string]any{}
	if err := attrs(n, m); err != nil {
		return nil, err
	}
	if err := genericKids(n, m); err != nil {
		return nil, err
	}
	if n.text != "" {
		m["#text"] = n.text
	}
	finalise(m)
	return m, nil
}

func genericKids(n *xnode, m map[string]any) error {
	for _, k := range n.kids {
		if wrapper(k) {
			if err := genericKids(k, m); err != nil {
				return err
			}
			continue
		}
		key := k.name.Local
		if k.name.Space != "" {
			var err error
			if key, err = extKey(k, k.name); err != nil {
				return err
			}
		}
		v, err := generic(k)
		if err != nil {
			return err
		}
		add(m, key, v)
	}
	return nil
}

// userExtension adds a qualified child element to m; an unqualified one
// that is no field of the parent is an error.
func userExtension(parent, k *xnode, m map[string]any) error {
	if std(k.name) {
		return xerrorf(k, "not a field of <%s> in EPCIS XML (a user extension is namespace-qualified)", parent.name.Local)
	}
	key, err := extKey(k, k.name)
	if err != nil {
		return err
	}
	v, err := generic(k)
	if err != nil {
		return err
	}
	add(m, key, v)
	return nil
}

// leaf returns the text of an element that holds text only.
func leaf(n *xnode) (string, error) {
	for _, k := range n.kids {
		if !wrapper(k) || len(k.kids) > 0 {
			return "", xerrorf(k, "unexpected element in <%s>, which holds text", n.name.Local)
		}
	}
	return n.text, nil
}

// numberOrText returns a number's text as json.Number (as the JSON form
// carries it), other text unchanged.
func numberOrText(s string) any {
	if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
		return s
	}
	var n json.Number
	if json.Unmarshal([]byte(s), &n) != nil {
		return s
	}
	return n
}

// items returns the children of a list element n, which must all be named
// item (EPCIS 1.2 extension wrappers unwrapped).
func items(n *xnode, item string) ([]*xnode, error) {
	var out []*xnode
	for _, k := range n.kids {
		switch {
		case wrapper(k):
			kk, err := items(k, item)
			if err != nil {
				return nil, err
			}
			out = append(out, kk...)
		case std(k.name) && k.name.Local == item:
			out = append(out, k)
		default:
			return nil, xerrorf(k, "unexpected element in <%s>, which holds <%s> elements", n.name.Local, item)
		}
	}
	return out, nil
}

// event converts an event element to the JSON-LD structure of the event.
func xmlEvent(n *xnode) (map[string]any, error) {
	ev := map[string]any{"type": n.name.Local}
	if !std(n.name) {
		return nil, xerrorf(n, "not an EPCIS event (events are unqualified elements: ObjectEvent, AggregationEvent, ...)")
	}
	if err := attrs(n, ev); err != nil {
		return nil, err
	}
	if err := eventFields(n, n.kids, ev); err != nil {
		return nil, err
	}
	finalise(ev)
	return ev, nil
}

// eventFields converts the children of an event (or of its extension
// wrappers) into ev.
func eventFields(ev0 *xnode, kids []*xnode, ev map[string]any) error {
	for _, k := range kids {
		if !std(k.name) {
			if err := userExtension(ev0, k, ev); err != nil {
				return err
			}
			continue
		}
		name := k.name.Local
		if name == "extension" || name == "baseExtension" {
			if err := eventFields(ev0, k.kids, ev); err != nil {
				return err
			}
			continue
		}
		if _, dup := ev[name]; dup && name != "certificationInfo" {
			return xerrorf(k, "a second <%s> in <%s>", name, ev0.name.Local)
		}
		var v any
		var err error
		switch name {
		case "eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "action", "parentID",
			"bizStep", "disposition", "transformationID":
			v, err = leaf(k)
		case "certificationInfo":
			var s string
			if s, err = leaf(k); err == nil {
				add(ev, name, s)
				continue
			}
		case "epcList", "childEPCs", "inputEPCList", "outputEPCList":
			v, err = epcs(k)
		case "quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList":
			v, err = quantityList(k)
		case "bizTransactionList":
			v, err = typedList(k, "bizTransaction")
		case "sourceList":
			v, err = typedList(k, "source")
		case "destinationList":
			v, err = typedList(k, "destination")
		case "readPoint", "bizLocation":
			v, err = location(k)
		case "persistentDisposition":
			v, err = persistentDisposition(k)
		case "sensorElementList":
			v, err = sensorElements(k)
		case "ilmd":
			v, err = ilmd(k)
		case "errorDeclaration":
			v, err = errorDeclaration(k)
		default:
			err = xerrorf(k, "not a field of <%s> in EPCIS XML (a user extension is namespace-qualified)", ev0.name.Local)
		}
		if err != nil {
			return err
		}
		ev[name] = v
	}
	return nil
}

func epcs(n *xnode) (any, error) {
	kids, err := items(n, "epc")
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(kids))
	for _, k := range kids {
		s, err := leaf(k)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func quantityList(n *xnode) (any, error) {
	kids, err := items(n, "quantityElement")
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(kids))
	for _, q := range kids {
		m := map[string]any{}
		if err := attrs(q, m); err != nil {
			return nil, err
		}
		if err := fields(q, m, map[string]bool{"epcClass": true, "quantity": true, "uom": true}); err != nil {
			return nil, err
		}
		if s, ok := m["quantity"].(string); ok {
			m["quantity"] = numberOrText(s)
		}
		out = append(out, m)
	}
	return out, nil
}

// fields converts the children of n into m: the text fields named in
// known, user extensions, EPCIS 1.2 extension wrappers unwrapped.
func fields(n *xnode, m map[string]any, known map[string]bool) error {
	var walk func(kids []*xnode) error
	walk = func(kids []*xnode) error {
		for _, k := range kids {
			switch {
			case wrapper(k):
				if err := walk(k.kids); err != nil {
					return err
				}
			case std(k.name) && known[k.name.Local]:
				if _, dup := m[k.name.Local]; dup {
					return xerrorf(k, "a second <%s> in <%s>", k.name.Local, n.name.Local)
				}
				s, err := leaf(k)
				if err != nil {
					return err
				}
				m[k.name.Local] = s
			default:
				if err := userExtension(n, k, m); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(n.kids); err != nil {
		return err
	}
	finalise(m)
	return nil
}

// typedList converts bizTransactionList, sourceList or destinationList:
// <item type="...">value</item> becomes {"type": ..., item: value}.
func typedList(n *xnode, item string) (any, error) {
	kids, err := items(n, item)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(kids))
	for _, k := range kids {
		m := map[string]any{}
		if err := attrs(k, m); err != nil {
			return nil, err
		}
		if err := fields(k, m, nil); err != nil {
			return nil, err
		}
		m[item] = k.text
		out = append(out, m)
	}
	return out, nil
}

func location(n *xnode) (any, error) {
	m := map[string]any{}
	if err := attrs(n, m); err != nil {
		return nil, err
	}
	return m, fields(n, m, map[string]bool{"id": true})
}

func persistentDisposition(n *xnode) (any, error) {
	m := map[string]any{}
	if err := attrs(n, m); err != nil {
		return nil, err
	}
	var walk func(kids []*xnode) error
	walk = func(kids []*xnode) error {
		for _, k := range kids {
			switch {
			case wrapper(k):
				if err := walk(k.kids); err != nil {
					return err
				}
			case std(k.name) && (k.name.Local == "set" || k.name.Local == "unset"):
				s, err := leaf(k)
				if err != nil {
					return err
				}
				arr, _ := m[k.name.Local].([]any)
				m[k.name.Local] = append(arr, s)
			default:
				if err := userExtension(n, k, m); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(n.kids); err != nil {
		return nil, err
	}
	finalise(m)
	return m, nil
}

// sensorNumbers are the sensorReport attributes JSON carries as numbers.
var sensorNumbers = map[string]bool{"value": true, "minValue": true, "maxValue": true, "meanValue": true,
	"sDev": true, "percRank": true, "percValue": true}

func sensorElements(n *xnode) (any, error) {
	kids, err := items(n, "sensorElement")
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(kids))
	for _, se := range kids {
		m := map[string]any{}
		if err := attrs(se, m); err != nil {
			return nil, err
		}
		var reports []any
		var walk func(kids []*xnode) error
		walk = func(kids []*xnode) error {
			for _, k := range kids {
				switch {
				case wrapper(k):
					if err := walk(k.kids); err != nil {
						return err
					}
				case std(k.name) && k.name.Local == "sensorMetadata":
					if _, dup := m["sensorMetadata"]; dup {
						return xerrorf(k, "a second <sensorMetadata> in <sensorElement>")
					}
					md := map[string]any{}
					if err := attrs(k, md); err != nil {
						return err
					}
					if err := fields(k, md, nil); err != nil {
						return err
					}
					m["sensorMetadata"] = md
				case std(k.name) && k.name.Local == "sensorReport":
					rm := map[string]any{}
					if err := attrs(k, rm); err != nil {
						return err
					}
					if err := fields(k, rm, nil); err != nil {
						return err
					}
					for f := range sensorNumbers {
						if s, ok := rm[f].(string); ok {
							rm[f] = numberOrText(s)
						}
					}
					if b, ok := rm["booleanValue"].(string); ok && (b == "true" || b == "false") {
						rm["booleanValue"] = b == "true"
					}
					reports = append(reports, rm)
				default:
					if err := userExtension(se, k, m); err != nil {
						return err
					}
				}
			}
			return nil
		}
		if err := walk(se.kids); err != nil {
			return nil, err
		}
		if reports != nil {
			m["sensorReport"] = reports
		}
		finalise(m)
		out = append(out, m)
	}
	return out, nil
}

func ilmd(n *xnode) (any, error) {
	m := map[string]any{}
	if err := attrs(n, m); err != nil {
		return nil, err
	}
	for _, k := range n.kids {
		if !wrapper(k) && std(k.name) {
			return nil, xerrorf(k, "not a field of <ilmd> (ILMD fields are namespace-qualified, e.g. cbvmda:lotNumber)")
		}
	}
	if err := genericKids(n, m); err != nil {
		return nil, err
	}
	finalise(m)
	return m, nil
}

func errorDeclaration(n *xnode) (any, error) {
	m := map[string]any{}
	if err := attrs(n, m); err != nil {
		return nil, err
	}
	var walk func(kids []*xnode) error
	walk = func(kids []*xnode) error {
		for _, k := range kids {
			switch {
			case wrapper(k):
				if err := walk(k.kids); err != nil {
					return err
				}
			case std(k.name) && (k.name.Local == "declarationTime" || k.name.Local == "reason"):
				s, err := leaf(k)
				if err != nil {
					return err
				}
				m[k.name.Local] = s
			case std(k.name) && k.name.Local == "correctiveEventIDs":
				ids, err := items(k, "correctiveEventID")
				if err != nil {
					return err
				}
				list := make([]any, 0, len(ids))
				for _, id := range ids {
					s, err := leaf(id)
					if err != nil {
						return err
					}
					list = append(list, s)
				}
				m["correctiveEventIDs"] = list
			default:
				if err := userExtension(n, k, m); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(n.kids); err != nil {
		return nil, err
	}
	finalise(m)
	return m, nil
}
