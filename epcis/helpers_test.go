package epcis

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// repoRoot walks up from the package directory to the directory holding
// go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// sharedEPCIS returns ../shared/epcis relative to the repository root, or
// skips the test when it is absent.
func sharedEPCIS(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "..", "shared", "epcis")
	if _, err := os.Stat(filepath.Join(dir, "EPCIS-JSON-Schema.json")); err != nil {
		t.Skipf("EPCIS reference data not available (%v): the shared directory ../shared/epcis next to the repository is needed for schema validation", err)
	}
	return dir
}

const schemaURL = "https://gs1.github.io/EPCIS/EPCIS-JSON-Schema.json"

// offline refuses every remote reference: the schema must compile from the
// local copy alone.
type offline struct{}

func (offline) Load(url string) (any, error) {
	return nil, errors.New("offline test: refusing to load " + url)
}

// negated is a pattern "^(?!X)": it matches the strings that do not start
// with a match of X.
type negated struct {
	src string
	re  *regexp.Regexp
}

func (n negated) String() string            { return n.src }
func (n negated) MatchString(s string) bool { return !n.re.MatchString(s) }

// lookaheadRegexp compiles the schema's patterns with Go's regexp, adding
// the one ECMA-262 construct the EPCIS schema uses beyond RE2: a pattern
// made of a single leading negative lookahead, "^(?!X)" (vocab-other-uri,
// vocab-nonGS1WebVoc-uri). Any other lookaround is an error.
func lookaheadRegexp(s string) (jsonschema.Regexp, error) {
	if inner, ok := strings.CutPrefix(s, "^(?!"); ok && strings.HasSuffix(inner, ")") {
		inner = strings.TrimSuffix(inner, ")")
		if strings.Contains(inner, "(?!") || strings.Contains(inner, "(?=") {
			return nil, fmt.Errorf("unsupported nested lookaround in %q", s)
		}
		re, err := regexp.Compile("^(?:" + inner + ")")
		if err != nil {
			return nil, err
		}
		return negated{s, re}, nil
	}
	return regexp.Compile(s)
}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// epcisSchema compiles the official EPCIS 2.0 JSON Schema from
// ../shared/epcis with formats asserted and no network access.
func epcisSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	dir := sharedEPCIS(t)
	schemaOnce.Do(func() {
		f, err := os.Open(filepath.Join(dir, "EPCIS-JSON-Schema.json"))
		if err != nil {
			schemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		c.UseLoader(offline{})
		c.UseRegexpEngine(lookaheadRegexp)
		if schemaErr = c.AddResource(schemaURL, doc); schemaErr != nil {
			return
		}
		schema, schemaErr = c.Compile(schemaURL)
	})
	if schemaErr != nil {
		t.Fatalf("compile EPCIS schema: %v", schemaErr)
	}
	return schema
}

// validate checks a document against the EPCIS 2.0 JSON Schema.
func validate(t testing.TB, doc []byte) error {
	t.Helper()
	sch := epcisSchema(t)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update after checking the change):\n got: %s\nwant: %s", path, clip(got), clip(want))
	}
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}
