package epcis

import (
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// xmlVectors lists the XML documents of testdata/eventhash (see README.md
// there): each has its published CBV 2.0 hash IDs in NAME.hashes, shared
// with its JSON twin NAME.json[ld] when the reference publishes one.
func xmlVectors(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join("testdata", "eventhash", "*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range m {
		names = append(names, filepath.Base(f))
	}
	sort.Strings(names)
	return names
}

// xmlDocEvents decodes every event of an XML document into its JSON-LD
// structure (the form the planner and the event hash read).
func xmlDocEvents(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := NewXMLReader(f, ImportOptions{})
	x := rd.xml
	if err := x.start(rd); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []map[string]any
	for {
		n, err := x.next(rd)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if n == nil {
			break
		}
		ev, err := xmlEvent(n)
		if err != nil {
			t.Fatalf("%s: event %d: %v", path, len(out), err)
		}
		out = append(out, ev)
	}
	if err := x.finish(rd); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

// jsonTwin returns the JSON or JSON-LD document of the same name as an XML
// example, "" if there is none.
func jsonTwin(doc string) string {
	base := strings.TrimSuffix(doc, ".xml")
	for _, ext := range []string{".jsonld", ".json"} {
		p := filepath.Join("testdata", "eventhash", base+ext)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// TestXMLEventHashPublishedExamples is the golden test of XML import: every
// event of every published XML example, decoded by the XML reader, hashes
// to its published CBV 2.0 ID; where the example has a JSON twin, each
// event's pre-hash string equals the twin's. The reader's own plans carry
// the same IDs.
func TestXMLEventHashPublishedExamples(t *testing.T) {
	total, twins := 0, 0
	docs := xmlVectors(t)
	for _, doc := range docs {
		t.Run(doc, func(t *testing.T) {
			path := filepath.Join("testdata", "eventhash", doc)
			events := xmlDocEvents(t, path)
			ids := readLines(t, vectorPath(doc, ".hashes"))
			if len(events) != len(ids) {
				t.Fatalf("%d events, %d published hashes", len(events), len(ids))
			}
			var pre []string
			if _, err := os.Stat(vectorPath(doc, ".prehashes")); err == nil {
				pre = readLines(t, vectorPath(doc, ".prehashes"))
			}
			var twin []map[string]any
			var twinCtx *Context
			if p := jsonTwin(doc); p != "" {
				twinCtx, twin = readDocEvents(t, p)
				if len(twin) != len(events) {
					t.Fatalf("%d events, the JSON twin %d", len(events), len(twin))
				}
			}
			ctx := DefaultContext()
			for i, ev := range events {
				id, got, err := ctx.EventID(ev)
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if pre != nil && got != pre[i] {
					t.Errorf("event %d pre-hash differs from the published one: %s", i, firstDiff(got, pre[i]))
				}
				if id != ids[i] {
					t.Errorf("event %d: hash %s, published %s\npre-hash %s", i, id, ids[i], got)
				}
				if twin != nil {
					_, want, err := twinCtx.EventID(twin[i])
					if err != nil {
						t.Fatal(err)
					}
					if got != want {
						t.Errorf("event %d pre-hash differs from the JSON twin's: %s", i, firstDiff(got, want))
					}
					twins++
				}
				total++
			}
			// The reader's plans carry the same IDs.
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rd := NewXMLReader(f, ImportOptions{})
			for i := range ids {
				p, err := rd.Next()
				if err != nil {
					t.Fatalf("Next %d: %v", i, err)
				}
				if p.EventID != ids[i] {
					t.Errorf("plan %d: event ID %q, published %s", i, p.EventID, ids[i])
				}
			}
			if _, err := rd.Next(); err == nil {
				t.Errorf("more plans than events")
			}
		})
	}
	t.Logf("%d published events in %d XML documents checked, %d of them against their JSON twin", total, len(docs), twins)
}

// TestXMLEventHashEPCIS12Twin hashes the EPCIS 1.2 version of
// epcisDocWithVariousEventTypes.xml (testdata/eventhash/epcis12: the
// reference's example before it dropped the 1.2 <extension> wrappers,
// namespace urn:epcglobal:epcis:xsd:1; quantity lists, source and
// destination lists and ILMD inside <extension>, TransformationEvents
// wrapped in <extension> in the EventList). Apart from the wrappers it
// differs from the 2.0 version in three places: the cbvmda namespace
// (urn:epcglobal:cbv:mda, not urn:epcglobal:cbv:mda:), the example namespace
// (http://ns.example.com/epcis, not https://ns.example.com/epcis/) and the
// user-defined bizStep of the last event. Events 0-2 and 4-9 do not use
// them and hash to the 2.0 version's published IDs as they are; with the
// three values of the 2.0 version put in, all thirteen do.
func TestXMLEventHashEPCIS12Twin(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("testdata", "eventhash", "epcis12", "epcisDocWithVariousEventTypes.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(orig), `xmlns:epcis="urn:epcglobal:epcis:xsd:1"`) || strings.Count(string(orig), "<extension>") != 8 {
		t.Fatal("not the EPCIS 1.2 document with its extension wrappers")
	}
	ids := readLines(t, filepath.Join("testdata", "eventhash", "epcisDocWithVariousEventTypes.hashes"))
	twin := strings.NewReplacer(
		`xmlns:cbvmda="urn:epcglobal:cbv:mda"`, `xmlns:cbvmda="urn:epcglobal:cbv:mda:"`,
		`xmlns:example="http://ns.example.com/epcis"`, `xmlns:example="https://ns.example.com/epcis/"`,
		"user/vocab/bizstep/commissioning", "user/vocab/bizstep/exampling").Replace(string(orig))
	differ := map[int]bool{3: true, 10: true, 11: true, 12: true}
	for _, tc := range []struct {
		name string
		doc  string
	}{{"as published", string(orig)}, {"with the 2.0 version's namespaces and bizStep", twin}} {
		t.Run(tc.name, func(t *testing.T) {
			rd := NewXMLReader(strings.NewReader(tc.doc), ImportOptions{})
			equal := 0
			for i := 0; ; i++ {
				p, err := rd.Next()
				if err == io.EOF {
					if i != len(ids) {
						t.Fatalf("%d events, want %d", i, len(ids))
					}
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				same := p.EventID == ids[i]
				if same {
					equal++
				}
				if want := tc.doc == twin || !differ[i]; same != want {
					t.Errorf("event %d (%s): hash %s, the 2.0 version's %s", i, p.Type, p.EventID, ids[i])
				}
			}
			t.Logf("%d of %d events hash as their EPCIS 2.0 twin", equal, len(ids))
		})
	}
}
