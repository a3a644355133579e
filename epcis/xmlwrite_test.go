package epcis

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// checkXMLStructure checks an EPCIS 2.0 XML document by structure, in
// place of the official XML schema (not available here): well-formed, the
// EPCISDocument of namespace urn:epcglobal:epcis:xsd:2 with schemaVersion
// 2.0 and creationDate, EPCISBody/EventList, each event an unqualified
// element whose standard fields are the schema's for its type, each at
// most once, in the schema's order, with the user extensions (qualified
// elements) after them; lists hold their item elements only.
func checkXMLStructure(doc []byte) (events int, err error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var path []string
	var fields []string // the fields of the current event, in document order
	evType := ""
	for {
		t, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return events, err
		}
		line, _ := dec.InputPos()
		switch t := t.(type) {
		case xml.StartElement:
			name := t.Name.Local
			switch len(path) {
			case 0:
				if name != "EPCISDocument" || t.Name.Space != nsEPCIS2 {
					return events, fmt.Errorf("line %d: root %v", line, t.Name)
				}
				var version, created bool
				for _, a := range t.Attr {
					version = version || a.Name.Local == "schemaVersion" && a.Value == "2.0"
					created = created || a.Name.Local == "creationDate" && a.Value != ""
				}
				if !version || !created {
					return events, fmt.Errorf("line %d: the root needs schemaVersion 2.0 and creationDate", line)
				}
			case 1:
				if name != "EPCISBody" || t.Name.Space != "" {
					return events, fmt.Errorf("line %d: <%s> in the root", line, name)
				}
			case 2:
				if name != "EventList" || t.Name.Space != "" {
					return events, fmt.Errorf("line %d: <%s> in EPCISBody", line, name)
				}
			case 3:
				if _, ok := xmlFieldOrder[name]; !ok || t.Name.Space != "" {
					return events, fmt.Errorf("line %d: <%s> is not an EPCIS 2.0 event", line, name)
				}
				evType, fields = name, nil
				events++
			case 4:
				if t.Name.Space == "" {
					fields = append(fields, name)
					order := slicesConcat(xmlCommonFields, xmlFieldOrder[evType])
					if !slices.Contains(order, name) {
						return events, fmt.Errorf("line %d: <%s> is not a field of %s", line, name, evType)
					}
					if len(fields) > 1 {
						prev := fields[len(fields)-2]
						if prev == "" || slices.Index(order, prev) >= slices.Index(order, name) {
							return events, fmt.Errorf("line %d: <%s> after <%s> in %s", line, name, prev, evType)
						}
					}
				} else {
					fields = append(fields, "") // user extensions come last
				}
			case 5:
				parent := path[4]
				want := map[string]string{"epcList": "epc", "childEPCs": "epc", "inputEPCList": "epc", "outputEPCList": "epc",
					"quantityList": "quantityElement", "childQuantityList": "quantityElement", "bizTransactionList": "bizTransaction",
					"sourceList": "source", "destinationList": "destination", "sensorElementList": "sensorElement"}[parent]
				if want != "" && name != want {
					return events, fmt.Errorf("line %d: <%s> in <%s>", line, name, parent)
				}
				if parent == "ilmd" && t.Name.Space == "" {
					return events, fmt.Errorf("line %d: unqualified <%s> in ilmd", line, name)
				}
			}
			path = append(path, name)
		case xml.EndElement:
			path = path[:len(path)-1]
		}
	}
	return events, nil
}

// TestXMLExportRoundTrip exports the fixture journey as JSON and as XML
// (each EPC form, with and without ledger references), checks the XML by
// structure, imports both, and compares: the same plans (event IDs,
// sites, writes, rejections), the event IDs those the JSON document
// declares, and the XML document's eventIDs the same.
func TestXMLExportRoundTrip(t *testing.T) {
	for _, opt := range []Options{
		{CreationDate: fxCreated},
		{CreationDate: fxCreated, EPCForm: FormDigitalLink},
		{CreationDate: fxCreated, LedgerRefs: true},
	} {
		t.Run(fmt.Sprintf("form %d refs %v", opt.EPCForm, opt.LedgerRefs), func(t *testing.T) {
			js := exportAll(t, fixtureEvents(), opt)
			opt.Format = FormatXML
			xd := exportAll(t, fixtureEvents(), opt)
			n, err := checkXMLStructure(xd)
			if err != nil {
				t.Fatalf("the XML export is not an EPCIS 2.0 document: %v\n%s", err, clip(xd))
			}
			jsEvents := docEvents(t, js)
			if n != len(jsEvents) || n == 0 {
				t.Fatalf("%d XML events, %d JSON events", n, len(jsEvents))
			}
			fromJSON := readAll(t, string(js), ImportOptions{LookupGLN: lookup})
			fromXML := readAllXML(t, string(xd), ImportOptions{LookupGLN: lookup})
			if !reflect.DeepEqual(fromJSON, fromXML) {
				t.Errorf("plans differ:\nJSON %+v\n XML %+v", fromJSON, fromXML)
			}
			declared := xmlEventIDs(t, xd)
			for i, p := range fromXML {
				if p.EventID != jsEvents[i].EventID || declared[i] != p.EventID {
					t.Errorf("event %d: hash of the XML event %s, the JSON document declares %v, the XML %s", i, p.EventID, jsEvents[i].EventID, declared[i])
				}
			}
		})
	}
}

// xmlEventIDs returns the eventID elements of an XML document.
func xmlEventIDs(t *testing.T, doc []byte) []string {
	t.Helper()
	var ids []string
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return ids
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "eventID" {
			var s string
			if err := dec.DecodeElement(&s, &se); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, s)
		}
	}
}

func TestXMLExportGolden(t *testing.T) {
	doc := exportAll(t, fixtureEvents(), Options{CreationDate: fxCreated, LedgerRefs: true, Format: FormatXML})
	golden(t, "export_sgtin.xml", doc)
}

// TestXMLWriterRoundTripsPublishedExamples writes every event of the
// reference's JSON examples as EPCIS 2.0 XML and reads it back: the
// pre-hash is the JSON event's (so the XML form loses nothing the hash
// sees), and the element passes the structure check.
func TestXMLWriterRoundTripsPublishedExamples(t *testing.T) {
	total, refused := 0, 0
	for _, doc := range publishedVectors(t) {
		ctx, events := readDocEvents(t, filepath.Join("testdata", "eventhash", doc))
		for i, ev := range events {
			_, want, err := ctx.EventID(ev)
			if err != nil {
				t.Fatal(err)
			}
			x, err := appendXMLEvent(nil, ev, ctx, nil)
			if err != nil {
				// A JSON key with no prefix has no namespace: not a
				// user extension EPCIS XML can carry.
				if !strings.Contains(err.Error(), "is not a namespace-qualified name") {
					t.Errorf("%s event %d: %v", doc, i, err)
				}
				t.Logf("%s event %d not written: %v", doc, i, err)
				refused++
				continue
			}
			wrapped := `<epcis:EPCISDocument xmlns:epcis="` + nsEPCIS2 + `" schemaVersion="2.0" creationDate="2026-01-01T00:00:00Z"><EPCISBody><EventList>` +
				string(x) + `</EventList></EPCISBody></epcis:EPCISDocument>`
			if _, err := checkXMLStructure([]byte(wrapped)); err != nil {
				t.Errorf("%s event %d: %v\n%s", doc, i, err, x)
			}
			back := readAllXML(t, wrapped, ImportOptions{})
			if len(back) != 1 {
				t.Fatalf("%s event %d: %d events back", doc, i, len(back))
			}
			if back[0].Rejection != nil && back[0].EventID == "" {
				t.Errorf("%s event %d: %s\n%s", doc, i, back[0].Rejection.Reason, x)
				continue
			}
			id, _, _ := ctx.EventID(ev)
			if back[0].EventID != id {
				events := xmlEventsOf(t, wrapped)
				_, got, _ := DefaultContext().EventID(events[0])
				t.Errorf("%s event %d: pre-hash after the XML round trip differs: %s\n%s", doc, i, firstDiff(got, want), x)
			}
			total++
		}
	}
	t.Logf("%d events of the published JSON examples written as XML and read back with the same hash; %d not writable", total, refused)
	if refused > 2 {
		t.Errorf("%d events not writable as XML", refused)
	}
}

func TestXMLEncoderEmptyAndNamespaces(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf, Options{CreationDate: fxCreated, Format: FormatXML})
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := checkXMLStructure(buf.Bytes()); err != nil || n != 0 {
		t.Fatalf("empty document: %d events, %v\n%s", n, err, buf.Bytes())
	}
	ps := readAllXML(t, buf.String(), ImportOptions{})
	if len(ps) != 0 {
		t.Errorf("%d events in the empty document", len(ps))
	}
	// A user extension of an unknown namespace gets a prefix of its own.
	x, err := appendXMLEvent(nil, map[string]any{"type": "ObjectEvent", "{urn:x:y}z": "1", "ex:a": map[string]any{"#text": "t", "ex:b": []any{"1", "2"}}},
		NewContext(map[string]any{"ex": "https://ex.example/"}), xmlDocNS)
	if err != nil {
		t.Fatal(err)
	}
	want := `<ObjectEvent xmlns:ex="https://ex.example/" xmlns:ns1="urn:x:y"><ex:a>t<ex:b>1</ex:b><ex:b>2</ex:b></ex:a><ns1:z>1</ns1:z></ObjectEvent>`
	if string(x) != want {
		t.Errorf("got  %s\nwant %s", x, want)
	}
	if _, err := appendXMLEvent(nil, map[string]any{"type": "ObjectEvent", "plain": "1"}, DefaultContext(), nil); err == nil ||
		!strings.Contains(err.Error(), `"plain" is not a namespace-qualified name`) {
		t.Errorf("an unqualified extension: %v", err)
	}
}

// TestGenerateCommissioningXML: the generator's XML document holds the
// JSON document's events: the same plans, hence the same request IDs.
func TestGenerateCommissioningXML(t *testing.T) {
	var js, xd bytes.Buffer
	if err := GenerateCommissioning(&js, 30, fxGTIN, "LOT-X", "281231", fxMfr.GLN); err != nil {
		t.Fatal(err)
	}
	if err := GenerateCommissioningAs(&xd, FormatXML, 30, fxGTIN, "LOT-X", "281231", fxMfr.GLN); err != nil {
		t.Fatal(err)
	}
	if n, err := checkXMLStructure(xd.Bytes()); err != nil || n != 30 {
		t.Fatalf("%d events, %v", n, err)
	}
	a, b := readAll(t, js.String(), ImportOptions{}), readAllXML(t, xd.String(), ImportOptions{})
	if len(a) != 30 || !reflect.DeepEqual(a, b) {
		t.Errorf("the XML document's plans differ from the JSON document's")
	}
}
