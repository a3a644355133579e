// Package epcisschema is test support: it validates documents against the
// official GS1 EPCIS 2.0 JSON Schema kept in ../shared/epcis next to the
// repository, offline (no remote reference is ever loaded). The schema uses
// one ECMA-262 construct beyond Go's RE2, a pattern made of a single
// leading negative lookahead "^(?!X)"; it is evaluated as "does not match
// ^X". Any other lookaround is an error.
package epcisschema

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaURL = "https://gs1.github.io/EPCIS/EPCIS-JSON-Schema.json"

// Dir returns ../shared/epcis beside the repository holding the working
// directory, or skips the test when it is absent.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			tb.Fatal("go.mod not found above the working directory")
		}
		dir = filepath.Dir(dir)
	}
	dir = filepath.Join(dir, "..", "shared", "epcis")
	if _, err := os.Stat(filepath.Join(dir, "EPCIS-JSON-Schema.json")); err != nil {
		tb.Skipf("EPCIS reference data not available (%v): ../shared/epcis next to the repository is needed for schema validation", err)
	}
	return dir
}

var (
	once      sync.Once
	schema    *jsonschema.Schema
	schemaErr error
)

// Validate checks doc against the EPCIS 2.0 JSON Schema, formats asserted.
// The schema is compiled once per test binary.
func Validate(tb testing.TB, doc []byte) error {
	tb.Helper()
	dir := Dir(tb)
	once.Do(func() { schema, schemaErr = compile(filepath.Join(dir, "EPCIS-JSON-Schema.json")) })
	if schemaErr != nil {
		tb.Fatalf("compile the EPCIS schema: %v", schemaErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return schema.Validate(inst)
}

func compile(path string) (*jsonschema.Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseLoader(offline{})
	c.UseRegexpEngine(lookaheadRegexp)
	if err := c.AddResource(schemaURL, raw); err != nil {
		return nil, err
	}
	return c.Compile(schemaURL)
}

// offline refuses every remote reference.
type offline struct{}

func (offline) Load(url string) (any, error) {
	return nil, errors.New("offline: refusing to load " + url)
}

// negated is a pattern "^(?!X)": it matches the strings that do not start
// with a match of X.
type negated struct {
	src string
	re  *regexp.Regexp
}

func (n negated) String() string            { return n.src }
func (n negated) MatchString(s string) bool { return !n.re.MatchString(s) }

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
