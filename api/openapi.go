package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pharmatrace/pharmatrace/api/bulk"
	"github.com/pharmatrace/pharmatrace/api/commission"
	"github.com/pharmatrace/pharmatrace/trace"
)

// The OpenAPI 3.0 document is generated from the route table (paths,
// methods, parameters, roles, bodies) and from the Go types of the bodies
// (schemas by reflection on their JSON tags), so that the document and the
// code cannot drift: every route is documented and the schemas are those
// of the values actually encoded. Tests walk Echo's routes and the document
// both ways and validate responses against it.

// enums lists the allowed values of the named string types.
var enums = map[reflect.Type][]string{
	reflect.TypeOf(trace.AnomalyCode("")):    enumOf(trace.AnomalyCodes),
	reflect.TypeOf(trace.Severity("")):       enumOf(trace.Severities),
	reflect.TypeOf(trace.Classification("")): enumOf(trace.Classifications),
	reflect.TypeOf(trace.AnomalyStatus("")):  enumOf(trace.AnomalyStatuses),
	reflect.TypeOf(trace.CloseReason("")):    enumOf(trace.CloseReasons),
	reflect.TypeOf(trace.Role("")):           enumOf(trace.Roles),
	reflect.TypeOf(trace.LotStatus("")):      {string(trace.LotReleased), string(trace.LotQuarantined), string(trace.LotRecalled), string(trace.LotWithdrawn)},
	reflect.TypeOf(trace.PackState("")):      {string(trace.StateActive), string(trace.StateInactive), string(trace.StateInTransit)},
	reflect.TypeOf(trace.ShipmentStatus("")): {string(trace.ShipmentInTransit), string(trace.ShipmentReceived), string(trace.ShipmentPartiallyReceived)},
	reflect.TypeOf(trace.OutcomeStatus("")):  {string(trace.StatusOK), string(trace.StatusRefused)},
	reflect.TypeOf(commission.Status("")): {string(commission.StatusRunning), string(commission.StatusCompleted), string(commission.StatusRefused),
		string(commission.StatusFailed), string(commission.StatusInterrupted), string(commission.BatchPending), string(commission.BatchConfirmed)},
	reflect.TypeOf(bulk.Status("")):  enumOf(bulk.Statuses),
	reflect.TypeOf(bulk.Op("")):      enumOf(bulk.Ops),
	reflect.TypeOf(trace.Reason("")): append([]string{string(trace.ReasonDispensed)}, enumOf(trace.DecommissionReasons)...),
}

type schemaGen struct {
	components map[string]any
	names      map[reflect.Type]string
}

var anyType = reflect.TypeOf((*any)(nil)).Elem()

// nameOf gives a component name, unique per Go type.
func (g *schemaGen) nameOf(t reflect.Type) string {
	if n, ok := g.names[t]; ok {
		return n
	}
	base := t.Name()
	if pkg := t.PkgPath(); strings.HasSuffix(pkg, "/readmodel") || strings.HasSuffix(pkg, "/commission") || strings.HasSuffix(pkg, "/bulk") ||
		strings.HasSuffix(pkg, "/alerts") {
		base = strings.ToUpper(pkg[strings.LastIndex(pkg, "/")+1:][:1]) + pkg[strings.LastIndex(pkg, "/")+2:] + base
	}
	name := base
	for i := 2; ; i++ {
		taken := false
		for _, n := range g.names {
			taken = taken || n == name
		}
		if !taken {
			break
		}
		name = base + strconv.Itoa(i)
	}
	g.names[t] = name
	return name
}

func nullable(s map[string]any) map[string]any {
	if ref, ok := s["$ref"]; ok {
		return map[string]any{"allOf": []any{map[string]any{"$ref": ref}}, "nullable": true}
	}
	out := map[string]any{"nullable": true}
	for k, v := range s {
		out[k] = v
	}
	return out
}

// schema returns the schema of t ($ref for named structs).
func (g *schemaGen) schema(t reflect.Type) map[string]any {
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	if t == anyType {
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.schema(t.Elem()))
	case reflect.String:
		s := map[string]any{"type": "string"}
		if e, ok := enums[t]; ok {
			s["enum"] = e
		}
		return s
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := g.nameOf(t)
		if _, done := g.components[name]; !done {
			g.components[name] = map[string]any{} // placeholder against recursion
			g.components[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	panic(fmt.Sprintf("openapi: no schema for %v", t))
}

// object builds a struct's schema: properties by JSON name, embedded
// structs without a tag flattened, omitempty/omitzero fields optional, nil
// slices and pointers without omitempty nullable, no other property allowed.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
			s := g.schema(f.Type)
			if !optional && (f.Type.Kind() == reflect.Slice || f.Type.Kind() == reflect.Pointer || f.Type.Kind() == reflect.Map) {
				if f.Type.Kind() != reflect.Pointer {
					s = nullable(s)
				}
			}
			props[name] = s
			if !optional {
				required = append(required, name)
			}
		}
	}
	walk(t)
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		sort.Strings(required)
		s["required"] = required
	}
	return s
}

var pathParam = regexp.MustCompile(`:([A-Za-z]+)`)

// OpenAPIPath converts an Echo path to an OpenAPI path ("/a/:id" → "/a/{id}").
func OpenAPIPath(p string) string { return pathParam.ReplaceAllString(p, "{$1}") }

var paramDocs = map[string]string{
	"gtin": "GTIN-14 (14 digits, valid check digit)", "lot": "batch/lot number (GS1 character set 82, up to 20)",
	"serial": "serial number (GS1 character set 82, up to 20)", "id": "identifier", "uploadId": "client-chosen upload ID (1-40 of A-Z a-z 0-9 . _ -)",
	"name": "asset file name",
}

func buildOpenAPI(routes []Route) ([]byte, error) {
	g := &schemaGen{components: map[string]any{}, names: map[reflect.Type]string{}}
	problem := g.schema(reflect.TypeOf(Problem{}))
	paths := map[string]map[string]any{}
	for _, r := range routes {
		op := map[string]any{"operationId": r.Name, "summary": r.Summary, "tags": []string{r.Tag}}
		desc := "Public."
		switch {
		case !r.Public && len(r.Roles) > 0:
			desc = "Roles: " + rolesString(r.Roles) + "."
		case !r.Public:
			desc = "No role may call it."
		}
		op["description"] = desc
		switch {
		case r.Public:
			op["security"] = []any{}
		case strings.HasPrefix(r.Path, "/dashboard"):
			op["security"] = []any{map[string]any{"session": []string{}}}
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(r.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}, "description": paramDocs[m[1]]})
		}
		for _, q := range r.Query {
			typ := q.Type
			if typ == "" {
				typ = "string"
			}
			s := map[string]any{"type": typ}
			if q.Enum != nil {
				s["enum"] = q.Enum
			}
			p := map[string]any{"name": q.Name, "in": "query", "required": q.Required, "schema": s}
			if q.Repeated {
				p["schema"] = map[string]any{"type": "array", "items": s}
				p["style"], p["explode"] = "form", true
			}
			if q.Doc != "" {
				p["description"] = q.Doc
			}
			params = append(params, p)
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.Body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(r.Body))}}}
		}
		if r.Upload && r.UploadTypes != nil {
			content := map[string]any{}
			for _, mt := range r.UploadTypes {
				content[mt] = map[string]any{"schema": map[string]any{"type": "object"}}
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		} else if r.Upload {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"text/csv":         map[string]any{"schema": map[string]any{"type": "string"}},
				"application/json": map[string]any{"schema": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}},
			}}
		}
		status := r.Status
		if status == 0 {
			status = http.StatusOK
		}
		produces := r.Produces
		if produces == "" {
			produces = "application/json"
		}
		ok := map[string]any{"description": http.StatusText(status)}
		switch {
		case status == http.StatusNoContent:
		case status == http.StatusSeeOther:
			ok["headers"] = map[string]any{"Location": map[string]any{"schema": map[string]any{"type": "string"}}}
		case r.Resp != nil && produces == "application/json":
			ok["content"] = map[string]any{produces: map[string]any{"schema": g.schema(reflect.TypeOf(r.Resp))}}
		default:
			content := map[string]any{}
			for _, mt := range strings.Split(produces, ",") {
				switch {
				case mt == "application/json" && r.Resp != nil: // JSON or another form (?format=)
					content[mt] = map[string]any{"schema": g.schema(reflect.TypeOf(r.Resp))}
				case strings.HasSuffix(mt, "+json"): // a JSON document of its own standard (EPCIS JSON-LD)
					content[mt] = map[string]any{"schema": map[string]any{"type": "object"}}
				default:
					content[mt] = map[string]any{"schema": map[string]any{"type": "string"}}
				}
			}
			ok["content"] = content
		}
		errContent := map[string]any{"application/problem+json": map[string]any{"schema": problem}}
		if strings.HasPrefix(r.Path, "/dashboard") {
			// The dashboard shows errors as HTML pages.
			errContent["text/html"] = map[string]any{"schema": map[string]any{"type": "string"}}
		}
		responses := map[string]any{strconv.Itoa(status): ok,
			"default": map[string]any{"description": "An RFC 9457 problem (type URIs under " + ProblemBase + ")", "content": errContent}}
		if strings.HasPrefix(r.Path, "/dashboard") && !r.Public && r.Method == http.MethodGet {
			responses["303"] = map[string]any{"description": "Not logged in: redirect to the login page",
				"headers": map[string]any{"Location": map[string]any{"schema": map[string]any{"type": "string"}}}}
		}
		if r.Accepted {
			responses["202"] = map[string]any{"description": "Accepted: the batches are being submitted; poll the Location",
				"content": map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(r.Resp))}}}
		}
		op["responses"] = responses
		p := OpenAPIPath(r.Path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		m := strings.ToLower(r.Method)
		if _, dup := paths[p][m]; dup {
			return nil, fmt.Errorf("route %s %s twice", r.Method, r.Path)
		}
		paths[p][m] = op
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "PharmaTrace API", "version": "1.0.0",
			"description": "Regulator and partner API of PharmaTrace (pharmaceutical supply-chain traceability on Hyperledger Fabric). " +
				"Every route but /healthz, /metrics and the dashboard's login page needs an API token (Authorization: Bearer); " +
				"writes are signed on the ledger with the token owner's own identity. Errors are RFC 9457 problems.",
		},
		"servers":  []any{map[string]any{"url": "/"}},
		"security": []any{map[string]any{"bearer": []string{}}},
		"paths":    paths,
		"components": map[string]any{
			"schemas": g.components,
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "API token from `pharmatrace-api token create`"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": "pt_session", "description": "dashboard session (the token, set at login)"},
			},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}
