package epcis

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// publishedVectors lists the examples of the GS1 EPCIS event hash
// algorithm published with the reference implementation
// github.com/RalphTro/epcis-event-hash-generator, as copied into
// testdata/eventhash (see README.md there): every JSON or JSON-LD document
// NAME.json[ld] with its published CBV 2.0 hash IDs (NAME.hashes, one line
// per event) and, where published, pre-hash strings (NAME.prehashes).
func publishedVectors(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, pat := range []string{"*.json", "*.jsonld"} {
		m, err := filepath.Glob(filepath.Join("testdata", "eventhash", pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			names = append(names, filepath.Base(f))
		}
	}
	sort.Strings(names)
	return names
}

func vectorPath(doc, ext string) string {
	base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(doc, ".xml"), ".jsonld"), ".json")
	return filepath.Join("testdata", "eventhash", base+ext)
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readDocEvents decodes a small EPCIS document whole (numbers as
// json.Number) and returns its context and events.
func readDocEvents(t *testing.T, path string) (*Context, []map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	type eventList struct {
		EventList []map[string]any `json:"eventList"`
	}
	var doc struct {
		Context any `json:"@context"`
		Body    struct {
			eventList
			QueryResults struct {
				ResultsBody eventList `json:"resultsBody"`
			} `json:"queryResults"` // EPCISQueryDocument
		} `json:"epcisBody"`
	}
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return NewContext(doc.Context), append(doc.Body.EventList, doc.Body.QueryResults.ResultsBody.EventList...)
}

// TestPublishedVectorsConsistent checks the copied expected values
// themselves: every published pre-hash hashes to the published ID.
func TestPublishedVectorsConsistent(t *testing.T) {
	for _, doc := range publishedVectors(t) {
		ids := readLines(t, vectorPath(doc, ".hashes"))
		if _, err := os.Stat(vectorPath(doc, ".prehashes")); err != nil {
			continue // not every example publishes its pre-hashes
		}
		pre := readLines(t, vectorPath(doc, ".prehashes"))
		if len(pre) != len(ids) || len(pre) == 0 {
			t.Fatalf("%s: %d pre-hashes, %d hashes", doc, len(pre), len(ids))
		}
		for i := range pre {
			sum := sha256.Sum256([]byte(pre[i]))
			if want := "ni:///sha-256;" + hex.EncodeToString(sum[:]) + "?ver=CBV2.0"; ids[i] != want {
				t.Errorf("%s[%d]: published hash %s, sha256(pre-hash) %s", doc, i, ids[i], want)
			}
		}
	}
}

// TestEventHashPublishedExamples is the golden test: every event of every
// published example hashes to its published CBV 2.0 ID.
func TestEventHashPublishedExamples(t *testing.T) {
	total := 0
	docs := publishedVectors(t)
	for _, doc := range docs {
		t.Run(doc, func(t *testing.T) {
			ctx, events := readDocEvents(t, filepath.Join("testdata", "eventhash", doc))
			ids := readLines(t, vectorPath(doc, ".hashes"))
			var pre []string
			if _, err := os.Stat(vectorPath(doc, ".prehashes")); err == nil {
				pre = readLines(t, vectorPath(doc, ".prehashes"))
			}
			if len(events) != len(ids) {
				t.Fatalf("%d events, %d published hashes", len(events), len(ids))
			}
			for i, ev := range events {
				id, got, err := ctx.EventID(ev)
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if pre != nil && got != pre[i] {
					t.Errorf("event %d pre-hash differs: %s", i, firstDiff(got, pre[i]))
				}
				if id != ids[i] {
					t.Errorf("event %d: hash %s, published %s", i, id, ids[i])
					if pre == nil && testing.Verbose() {
						t.Logf("pre-hash %s", got)
					}
				}
				total++
			}
		})
	}
	t.Logf("%d published events in %d documents checked", total, len(docs))
	if total < 46 {
		t.Fatalf("only %d published events checked", total)
	}
}

// firstDiff describes where got and want first differ.
func firstDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-60)
	return fmt.Sprintf("at byte %d\n got …%s\nwant …%s", i, got[from:min(len(got), i+120)], want[from:min(len(want), i+120)])
}
