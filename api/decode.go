package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// decodeJSON decodes the request body into v strictly: media type JSON, no
// unknown field, no trailing data, every error a problem naming the field
// (with its full JSON path, array indexes included).
func decodeJSON(c echo.Context, v any) error {
	if ct := c.Request().Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return NewProblem(ProbUnsupportedMedia, "send the body as application/json, not %q", ct)
		}
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err // body limit → 413 through the error handler
	}
	return decodeBytes(body, v)
}

func decodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		p := NewProblem(ProbInvalidJSON, "the request body is empty; send a JSON object")
		p.Field = "body"
		return p
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); err != io.EOF {
			p := NewProblem(ProbInvalidJSON, "unexpected data after the JSON value at byte %d", dec.InputOffset())
			p.Field = "body"
			return p
		}
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		p := NewProblem(ProbInvalidJSON, "malformed JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
		p.Field = "body"
		return p
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		p := NewProblem(ProbInvalidJSON, "the JSON body ends too early")
		p.Field = "body"
		return p
	}
	// Unknown field or wrong type: find the full path by walking the
	// document against the target type.
	var doc any
	if json.Unmarshal(body, &doc) == nil {
		if m := mismatch(doc, reflect.TypeOf(v), ""); m != nil {
			return m
		}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		p := NewProblem(ProbTypeMismatch, "%s: found %s, expected %s", orBody(te.Field), te.Value, jsonType(te.Type))
		p.Field, p.Expected = orBody(te.Field), jsonType(te.Type)
		return p
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f, _ := strconv.Unquote(name)
		p := NewProblem(ProbUnknownField, "unknown field %s", name)
		p.Field = f
		return p
	}
	p := NewProblem(ProbInvalidJSON, "%s", strings.TrimPrefix(err.Error(), "json: "))
	p.Field = "body"
	return p
}

func orBody(f string) string {
	if f == "" {
		return "body"
	}
	return f
}

var timeType = reflect.TypeOf(time.Time{})

// jsonType names the JSON type of a Go type as a client sees it.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "string (RFC 3339 date-time)"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return "value"
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// jsonFields lists the JSON names of a struct's fields (embedded structs
// without a tag flattened) with their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, dup := out[k]; !dup {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// mismatch returns the first unknown field or wrong JSON type in doc
// against t (in key order for objects), or nil.
func mismatch(doc any, t reflect.Type, path string) *Problem {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if doc == nil {
		return nil
	}
	wrong := func() *Problem {
		p := NewProblem(ProbTypeMismatch, "%s: found %s, expected %s", orBody(path), docType(doc), jsonType(t))
		p.Field, p.Expected = orBody(path), jsonType(t)
		return p
	}
	if t == timeType {
		if _, ok := doc.(string); !ok {
			return wrong()
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Interface:
		return nil
	case reflect.String:
		if _, ok := doc.(string); !ok {
			return wrong()
		}
	case reflect.Bool:
		if _, ok := doc.(bool); !ok {
			return wrong()
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := doc.(float64)
		if !ok || n != float64(int64(n)) {
			return wrong()
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := doc.(float64); !ok {
			return wrong()
		}
	case reflect.Slice, reflect.Array:
		arr, ok := doc.([]any)
		if !ok {
			return wrong()
		}
		for i, e := range arr {
			if p := mismatch(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); p != nil {
				return p
			}
		}
	case reflect.Map:
		obj, ok := doc.(map[string]any)
		if !ok {
			return wrong()
		}
		for _, k := range sortedKeys(obj) {
			if p := mismatch(obj[k], t.Elem(), join(path, k)); p != nil {
				return p
			}
		}
	case reflect.Struct:
		obj, ok := doc.(map[string]any)
		if !ok {
			return wrong()
		}
		fields := jsonFields(t)
		for _, k := range sortedKeys(obj) {
			ft, known := fields[k]
			if !known {
				p := NewProblem(ProbUnknownField, "unknown field %q", join(path, k))
				p.Field = join(path, k)
				return p
			}
			if p := mismatch(obj[k], ft, join(path, k)); p != nil {
				return p
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func docType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}

// writeJSON sends v with a status.
func writeJSON(c echo.Context, status int, v any) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(status)
	return jsonEncode(c.Response(), v)
}

// queryInt parses an integer query parameter within [lo, hi] (def when absent).
func queryInt(c echo.Context, name string, def, lo, hi int) (int, error) {
	s := c.QueryParam(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fieldProblem(name, "%q is not an integer between %d and %d", s, lo, hi)
	}
	return n, nil
}

// queryTime parses an RFC 3339 time or a YYYY-MM-DD date query parameter.
func queryTime(c echo.Context, name string) (time.Time, error) {
	s := c.QueryParam(name)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fieldProblem(name, "%q is not an RFC 3339 time or a YYYY-MM-DD date", s)
}

// queryList returns a repeated or comma-separated query parameter.
func queryList(c echo.Context, name string) []string {
	var out []string
	for _, v := range c.QueryParams()[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// checkQuery rejects query parameters a route does not declare.
func checkQuery(c echo.Context, allowed []string) error {
	for k := range c.QueryParams() {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			p := NewProblem(ProbInvalidField, "unknown query parameter %q", k)
			p.Field = k
			return p
		}
	}
	return nil
}
