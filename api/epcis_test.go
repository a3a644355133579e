package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/pharmatrace/pharmatrace/api"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/epcis"
	"github.com/pharmatrace/pharmatrace/epcis/epcisschema"
	"github.com/pharmatrace/pharmatrace/epcis/importer"
	"github.com/pharmatrace/pharmatrace/trace"
)

// The export's XML form is checked against the OpenAPI document as text
// (its EPCIS structure is package epcis's to test).
func init() {
	openapi3filter.RegisterBodyDecoder("application/xml", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/xml", openapi3filter.PlainBodyDecoder)
}

// epcisDoc is the part of an exported document the tests look at.
type epcisDoc struct {
	Type      string `json:"type"`
	EPCISBody struct {
		EventList []struct {
			Type      string   `json:"type"`
			EventID   string   `json:"eventID"`
			EPCList   []string `json:"epcList"`
			ChildEPCs []string `json:"childEPCs"`
			BizStep   string   `json:"bizStep"`
			EventTime string   `json:"eventTime"`
		} `json:"eventList"`
	} `json:"epcisBody"`
}

func (d *epcisDoc) bizSteps() []string {
	var out []string
	for _, e := range d.EPCISBody.EventList {
		out = append(out, e.BizStep)
	}
	return out
}

// epcs returns the distinct EPCs of the document's events.
func (d epcisDoc) epcs() map[string]bool {
	out := map[string]bool{}
	for _, e := range d.EPCISBody.EventList {
		for _, epc := range append(e.EPCList, e.ChildEPCs...) {
			out[epc] = true
		}
	}
	return out
}

// export calls the export route and checks the document against the
// official EPCIS 2.0 JSON Schema.
func (h *harness) export(t *testing.T, role trace.Role, query string) epcisDoc {
	t.Helper()
	r := h.do(request{method: http.MethodGet, path: "/api/v1/epcis/events?" + query, role: role})
	if r.status != http.StatusOK {
		t.Fatalf("export %s: %d %s", query, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/ld+json" {
		t.Errorf("content type %q", ct)
	}
	if err := validateEPCIS(t, r.body); err != nil {
		t.Errorf("export %s is not a valid EPCIS 2.0 document: %v\n%.2000s", query, err, r.body)
	}
	var d epcisDoc
	r.json(t, &d)
	if d.Type != "EPCISDocument" {
		t.Errorf("type %q", d.Type)
	}
	return d
}

func TestEPCISExport(t *testing.T) {
	h := newHarness(t)
	pack := url.Values{"gtin": {memledger.DemoGTIN}, "serial": {h.demo.CloneSerial}}
	tests := []struct {
		name  string
		role  trace.Role
		query string
		want  []string // bizSteps in order; nil: only check non-empty
		epc   string   // every epcList/childEPCs entry starts with it
	}{
		{"pack as SGTIN", reg, pack.Encode(), []string{"commissioning", "shipping", "receiving", "shipping", "receiving", "dispensing"}, "urn:epc:id:sgtin:4012345."},
		{"pack as Digital Link", reg, pack.Encode() + "&epcForm=digitallink",
			[]string{"commissioning", "shipping", "receiving", "shipping", "receiving", "dispensing"}, "https://id.gs1.org/01/" + memledger.DemoGTIN + "/21/"},
		{"pack by its manufacturer", mfr, pack.Encode(), []string{"commissioning", "shipping", "receiving", "shipping", "receiving", "dispensing"}, "urn:epc:id:sgtin:"},
		{"lot", reg, url.Values{"gtin": {memledger.DemoGTIN}, "lot": {memledger.DemoLot}}.Encode(), nil, "urn:epc:id:sgtin:4012345."},
		{"shipment", reg, "shipment=" + h.demo.Shipment, nil, "urn:epc:id:sgtin:4012345."},
		{"everything", reg, "", nil, ""},
		{"time range", reg, "from=2000-01-01&to=2100-01-01", nil, ""},
		{"empty time range", reg, "from=2000-01-01&to=2000-01-02", []string{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := h.export(t, tc.role, tc.query)
			got := d.bizSteps()
			switch {
			case tc.want == nil && len(got) == 0:
				t.Errorf("no events")
			case tc.want != nil && strings.Join(got, ",") != strings.Join(tc.want, ","):
				t.Errorf("bizSteps %v, want %v", got, tc.want)
			}
			for _, e := range d.EPCISBody.EventList {
				if !strings.HasPrefix(e.EventID, "ni:///sha-256;") {
					t.Errorf("eventID %q", e.EventID)
				}
				for _, epc := range append(e.EPCList, e.ChildEPCs...) {
					if tc.epc != "" && !strings.HasPrefix(epc, tc.epc) && !strings.HasPrefix(epc, "urn:epc:id:sscc:") {
						t.Errorf("EPC %q, want prefix %q", epc, tc.epc)
					}
				}
			}
		})
	}
	// The shipment's export names only its three packs (SA00001, SA00002,
	// SB00001); the whole ledger has the twelve commissioned packs.
	if got := h.export(t, reg, "shipment="+h.demo.Shipment).epcs(); len(got) != 3 {
		t.Errorf("shipment export names %d EPCs: %v", len(got), got)
	}
	if got := h.export(t, reg, "").epcs(); len(got) != 12 {
		t.Errorf("full export names %d EPCs: %v", len(got), got)
	}

	// The company prefix length comes from the product's record (the fake
	// ledger records none: give the read model one of 8 digits).
	prod := trace.Event{Type: trace.TxRegisterProduct, TxID: "tx-prefix", Timestamp: testStart(), Outcome: trace.Outcome{Status: trace.StatusOK},
		Products: []trace.Product{{GTIN: memledger.DemoGTIN, Name: "Demo", OwnerMSP: users[mfr].MSP, CompanyPrefix: "40123450"}}}
	if _, err := h.store.Apply(t.Context(), prod, readmodel.Position{Block: 1 << 20, TxID: prod.TxID}); err != nil {
		t.Fatal(err)
	}
	if got := h.export(t, reg, pack.Encode()).epcs(); !got["urn:epc:id:sgtin:40123450.00001."+h.demo.CloneSerial] {
		t.Errorf("with an 8-digit company prefix: %v", got)
	}
}

// TestEPCISExportXML: Accept chooses EPCIS 2.0 XML, which holds the JSON
// export's events (the XML reader finds the same event IDs); JSON stays
// the default and wins ties.
func TestEPCISExportXML(t *testing.T) {
	h := newHarness(t)
	query := url.Values{"gtin": {memledger.DemoGTIN}, "lot": {memledger.DemoLot}}.Encode()
	var ids []string
	for _, e := range h.export(t, reg, query).EPCISBody.EventList {
		ids = append(ids, e.EventID)
	}
	if len(ids) == 0 {
		t.Fatal("no events")
	}
	cases := []struct {
		accept, contentType string
	}{
		{"application/xml", "application/xml"},
		{"text/xml", "text/xml"},
		{"application/ld+json;q=0.5, application/xml", "application/xml"},
		{"text/xml;q=0.8, application/xml;q=0.9, */*;q=0.1", "application/xml"},
		{"", "application/ld+json"},
		{"application/json, application/xml", "application/ld+json"},
		{"application/xml;q=0.5, */*", "application/ld+json"},
		{"text/html", "application/ld+json"},
	}
	for _, tc := range cases {
		t.Run(tc.accept, func(t *testing.T) {
			r := h.do(request{method: http.MethodGet, path: "/api/v1/epcis/events?" + query, role: reg, header: http.Header{"Accept": {tc.accept}}})
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != tc.contentType {
				t.Fatalf("content type %q, want %q", ct, tc.contentType)
			}
			if !strings.Contains(r.header.Get("Vary"), "Accept") {
				t.Errorf("Vary %q", r.header.Get("Vary"))
			}
			format := epcis.FormatJSON
			if tc.contentType != "application/ld+json" {
				format = epcis.FormatXML
				if !bytes.Contains(r.body, []byte(`<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"`)) {
					t.Fatalf("not an EPCIS 2.0 XML document: %.300s", r.body)
				}
			}
			rd := epcis.NewFormatReader(bytes.NewReader(r.body), format, epcis.ImportOptions{})
			var got []string
			for {
				p, err := rd.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("read back: %v\n%.1000s", err, r.body)
				}
				got = append(got, p.EventID)
			}
			if strings.Join(got, ",") != strings.Join(ids, ",") {
				t.Errorf("event IDs %v, the JSON export's %v", got, ids)
			}
		})
	}
}

func TestEPCISExportRefusals(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name   string
		role   trace.Role
		query  string
		status int
		kind   string
		field  string
	}{
		{"gtin alone", reg, "gtin=" + memledger.DemoGTIN, 422, api.ProbInvalidField, "gtin"},
		{"serial and lot", reg, "gtin=" + memledger.DemoGTIN + "&serial=A&lot=B", 422, api.ProbInvalidField, "gtin"},
		{"serial alone", reg, "serial=A", 422, api.ProbInvalidField, "serial"},
		{"shipment and gtin", reg, "shipment=X&gtin=" + memledger.DemoGTIN + "&lot=B", 422, api.ProbInvalidField, "shipment"},
		{"bad epcForm", reg, "epcForm=epc", 422, api.ProbInvalidField, "epcForm"},
		{"bad from", reg, "from=yesterday", 422, api.ProbInvalidField, "from"},
		{"to before from", reg, "from=2026-01-02&to=2026-01-01", 422, api.ProbInvalidField, "to"},
		{"unknown parameter", reg, "sscc=1", 422, api.ProbInvalidField, "sscc"},
		{"unknown shipment", reg, "shipment=NOPE", 404, api.ProbNotFound, ""},
		{"other company's GTIN", mfr, "gtin=09501101530003&serial=X", 403, api.ProbAccessDenied, "gtin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(request{method: http.MethodGet, path: "/api/v1/epcis/events?" + tc.query, role: tc.role})
			expectProblem(t, r, tc.status, tc.kind, tc.field)
		})
	}
}

func TestEPCISImportTwiceSkipsEverything(t *testing.T) {
	h := newHarness(t)
	var doc bytes.Buffer
	const n = 25
	if err := epcis.GenerateCommissioning(&doc, n, memledger.DemoGTIN, "IMP-1", "301231", users[mfr].GLN); err != nil {
		t.Fatal(err)
	}
	imp := func(ct string) api.ImportReport {
		t.Helper()
		r := h.do(request{method: http.MethodPost, path: "/api/v1/epcis/import", role: mfr, body: doc.Bytes(), contentType: ct})
		if r.status != http.StatusOK {
			t.Fatalf("import: %d %s", r.status, r.body)
		}
		var rep api.ImportReport
		r.json(t, &rep)
		return rep
	}
	first := imp("application/ld+json")
	if first.Applied != n || first.Skipped != 0 || first.Rejected != 0 || len(first.Events.Applied) != n {
		t.Fatalf("first import: %+v", first)
	}
	// One pack per event, one lot: the events merge into one
	// commissioning write whose request ID derives from all their IDs.
	ids := make([]string, n)
	for i, e := range first.Events.Applied {
		ids[i] = e.EventID
	}
	batch := importer.BatchID(ids)
	for i, e := range first.Events.Applied {
		if e.EventIndex != i || len(e.TxIDs) != 1 || e.TxIDs[0] != first.Events.Applied[0].TxIDs[0] || len(e.RequestIDs) != 1 || e.RequestIDs[0] != batch {
			t.Errorf("applied[%d] = %+v, want request %s", i, e, batch)
		}
	}
	commissions := h.sim.SubmitCount(trace.TxCommissionPacks)
	second := imp("application/json")
	if second.Applied != 0 || second.Skipped != n || second.Rejected != 0 {
		t.Fatalf("second import: %+v", second)
	}
	for i, e := range second.Events.Skipped {
		if e.TxIDs[0] != first.Events.Applied[i].TxIDs[0] {
			t.Errorf("skipped[%d] names tx %s, the first import %s", i, e.TxIDs[0], first.Events.Applied[i].TxIDs[0])
		}
	}
	if got := h.sim.SubmitCount(trace.TxCommissionPacks); got != commissions {
		t.Errorf("the second import submitted %d commissionings", got-commissions)
	}
	// The imported lot exports back as the one commissioning transaction
	// of n packs.
	h.sync()
	d := h.export(t, mfr, url.Values{"gtin": {memledger.DemoGTIN}, "lot": {"IMP-1"}}.Encode())
	if got := d.bizSteps(); len(got) != 1 || got[0] != "commissioning" || len(d.EPCISBody.EventList[0].EPCList) != n {
		t.Fatalf("export of the imported lot: %v", got)
	}
}

// TestEPCISImportXML: an XML document, sent as application/xml or
// text/xml, is imported as its JSON twin: after the JSON document, the XML
// one (EPCIS 2.0, and an EPCIS 1.2 rewrite with extension wrappers) is
// skipped event for event, the request IDs being those of the same hashes.
func TestEPCISImportXML(t *testing.T) {
	h := newHarness(t)
	const n = 6
	var js, xd bytes.Buffer
	if err := epcis.GenerateCommissioning(&js, n, memledger.DemoGTIN, "XML-1", "301231", users[mfr].GLN); err != nil {
		t.Fatal(err)
	}
	if err := epcis.GenerateCommissioningAs(&xd, epcis.FormatXML, n, memledger.DemoGTIN, "XML-1", "301231", users[mfr].GLN); err != nil {
		t.Fatal(err)
	}
	imp := func(body []byte, ct string) api.ImportReport {
		t.Helper()
		r := h.do(request{method: http.MethodPost, path: "/api/v1/epcis/import", role: mfr, body: body, contentType: ct})
		if r.status != http.StatusOK {
			t.Fatalf("import %s: %d %s", ct, r.status, r.body)
		}
		var rep api.ImportReport
		r.json(t, &rep)
		return rep
	}
	first := imp(js.Bytes(), "application/ld+json")
	if first.Applied != n {
		t.Fatalf("JSON import: %+v", first)
	}
	// EPCIS 1.2: the 1.2 namespace, the ILMD inside the event's extension.
	v12 := strings.ReplaceAll(strings.Replace(xd.String(), "urn:epcglobal:epcis:xsd:2", "urn:epcglobal:epcis:xsd:1", 1), "<ilmd>", "<extension><ilmd>")
	v12 = strings.ReplaceAll(v12, "</ilmd>", "</ilmd></extension>")
	for _, tc := range []struct {
		name, ct string
		body     []byte
	}{{"2.0 as application/xml", "application/xml", xd.Bytes()}, {"1.2 as text/xml", "text/xml; charset=utf-8", []byte(v12)}} {
		t.Run(tc.name, func(t *testing.T) {
			rep := imp(tc.body, tc.ct)
			if rep.Applied != 0 || rep.Skipped != n || rep.Rejected != 0 {
				t.Fatalf("report %+v", rep)
			}
			for i, e := range rep.Events.Skipped {
				if e.EventID != first.Events.Applied[i].EventID || e.TxIDs[0] != first.Events.Applied[i].TxIDs[0] {
					t.Errorf("skipped[%d] = %+v, the JSON import applied %+v", i, e, first.Events.Applied[i])
				}
			}
		})
	}
	// A broken XML document is refused naming the line.
	r := h.do(request{method: http.MethodPost, path: "/api/v1/epcis/import", role: mfr, contentType: "application/xml",
		body: "<epcis:EPCISDocument xmlns:epcis=\"urn:epcglobal:epcis:xsd:2\">\n<EPCISBody><EventList><ObjectEvent></EventList>"})
	expectProblem(t, r, 422, api.ProbInvalidUpload, "")
	if p := r.problem(t); !strings.Contains(p.Detail, "line 2, column") {
		t.Errorf("detail %q names no line", p.Detail)
	}
}

func TestEPCISImportReportsPerEvent(t *testing.T) {
	h := newHarness(t)
	ship := func(dest string) string {
		return fmt.Sprintf(`{"type":"ObjectEvent","eventTime":"2026-03-01T10:00:00.000Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE",
			"bizStep":"shipping","disposition":"in_transit","epcList":["urn:epc:id:sgtin:4012345.000001.SA00010"],
			"readPoint":{"id":"urn:epc:id:sgln:4012345.00000.0"},
			"destinationList":[{"type":"location","destination":"urn:epc:id:sgln:%s.%s.0"}]}`, dest[:7], dest[7:12])
	}
	body := `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0",
		"creationDate":"2026-03-01T10:00:00Z","epcisBody":{"eventList":[` +
		ship(users[dist].GLN) + `,` + // the wholesaler's GLN: known from the network users
		ship("4999999000008") + `,` + // nobody's GLN
		`{"type":"TransformationEvent","eventTime":"2026-03-01T10:00:00.000Z","eventTimeZoneOffset":"+00:00"}]}}`
	r := h.do(request{method: http.MethodPost, path: "/api/v1/epcis/import", role: mfr, body: body, contentType: "application/ld+json"})
	if r.status != http.StatusOK {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	var rep api.ImportReport
	r.json(t, &rep)
	// Event 0 reaches the ledger (the destination GLN resolved), which
	// refuses it: SA00010 is not a pack the manufacturer holds. Event 1
	// names an unknown GLN, event 2 a type the ledger cannot represent.
	want := []string{"Ship ev:", "4999999000008", "TransformationEvent"}
	if rep.Applied != 0 || rep.Skipped != 0 || rep.Rejected != 3 || len(rep.Events.Rejected) != 3 {
		t.Fatalf("report: %s", r.body)
	}
	for i, rj := range rep.Events.Rejected {
		if rj.EventIndex != i || !strings.Contains(rj.Reason, want[i]) || !strings.HasPrefix(rj.EventID, "ni:///sha-256;") {
			t.Errorf("rejected[%d] = %+v, want event %d with a reason naming %q", i, rj, i, want[i])
		}
	}
}

func TestEPCISImportRefusals(t *testing.T) {
	h := newHarness(t, withoutDemo(), withConfig(func(c *api.Config) { c.UploadBodyLimit = 4096 }))
	var big bytes.Buffer
	if err := epcis.GenerateCommissioning(&big, 50, memledger.DemoGTIN, "BIG", "301231", users[mfr].GLN); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		body        any
		contentType string
		status      int
		kind        string
	}{
		{"not EPCIS media", "serial\nA", "text/csv", 415, api.ProbUnsupportedMedia},
		{"not an EPCIS document", `{"hello":"world"}`, "application/json", 422, api.ProbInvalidUpload},
		{"over the upload limit", big.String(), "application/json", 413, api.ProbTooLarge},
		// Streamed (no Content-Length): the limit trips while reading.
		{"over the upload limit, streamed", io.MultiReader(bytes.NewReader(big.Bytes())), "application/json", 413, api.ProbTooLarge},
		{"truncated", `{"type":"EPCISDocument","epcisBody":{"eventList":[{"type":"ObjectEvent"`, "application/json", 422, api.ProbInvalidUpload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(request{method: http.MethodPost, path: "/api/v1/epcis/import", role: mfr, body: tc.body, contentType: tc.contentType})
			expectProblem(t, r, tc.status, tc.kind, "")
		})
	}
}

// ---- the official EPCIS 2.0 JSON Schema (as in package epcis's tests) ----

// validateEPCIS checks a document against the official EPCIS 2.0 JSON
// Schema, and that it is one JSON value (a truncated stream is not).
func validateEPCIS(t testing.TB, doc []byte) error {
	t.Helper()
	if err := epcisschema.Validate(t, doc); err != nil {
		return err
	}
	return json.Unmarshal(doc, new(any))
}

func TestSuspectReport(t *testing.T) {
	h := newHarness(t)
	path := "/api/v1/anomalies/" + url.PathEscape(h.demo.Clone) + "/report"
	r := h.do(request{method: http.MethodGet, path: path, role: reg})
	if r.status != http.StatusOK {
		t.Fatalf("report: %d %s", r.status, r.body)
	}
	var rep epcis.SuspectReport
	r.json(t, &rep)
	if rep.Anomaly.ID != h.demo.Clone || rep.Pack.GTIN != memledger.DemoGTIN || rep.Pack.Serial != h.demo.CloneSerial || rep.Pack.Lot != memledger.DemoLot {
		t.Errorf("report names anomaly %s, pack %+v", rep.Anomaly.ID, rep.Pack)
	}
	if len(rep.Custody) < 3 || rep.FDA3911.ProblemType == "" || rep.Product.Name == "" {
		t.Errorf("custody %d steps, problem type %q, product %q", len(rep.Custody), rep.FDA3911.ProblemType, rep.Product.Name)
	}

	r = h.do(request{method: http.MethodGet, path: path + "?format=html", role: reg})
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("html report: %d %q", r.status, r.header.Get("Content-Type"))
	}
	for _, want := range []string{"<html", h.demo.CloneSerial, memledger.DemoLot} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("the HTML page does not contain %q", want)
		}
	}

	tests := []struct {
		name, path  string
		status      int
		kind, field string
	}{
		{"unknown anomaly", "/api/v1/anomalies/nope/report", 404, api.ProbNotFound, ""},
		{"bad format", path + "?format=pdf", 422, api.ProbInvalidField, "format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectProblem(t, h.do(request{method: http.MethodGet, path: tc.path, role: reg}), tc.status, tc.kind, tc.field)
		})
	}
}

func TestVerifyByDigitalLink(t *testing.T) {
	h := newHarness(t)
	const dl = "https://id.gs1.org/01/" + memledger.DemoGTIN + "/10/" + memledger.DemoLot + "/21/SA00004?17=" + memledger.Expiry
	check := func(t *testing.T, r response, wantSerial string) {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var res trace.VerifyResult
		r.json(t, &res)
		if res.Pack == nil || res.Pack.Serial != wantSerial || res.Pack.Lot != memledger.DemoLot || res.Status == "" {
			t.Errorf("verify result %s", r.body)
		}
	}
	t.Run("POST verify with a Digital Link scan", func(t *testing.T) {
		check(t, h.do(request{method: http.MethodPost, path: "/api/v1/packs/verify", role: ph, body: api.VerifyBody{Scan: dl}}), "SA00004")
	})
	t.Run("GET by-digital-link", func(t *testing.T) {
		check(t, h.do(request{method: http.MethodGet, path: "/api/v1/packs/by-digital-link?uri=" + url.QueryEscape(dl), role: ph}), "SA00004")
	})
	t.Run("the dispensed clone is refused", func(t *testing.T) {
		u := strings.Replace(dl, "SA00004", h.demo.CloneSerial, 1)
		r := h.do(request{method: http.MethodGet, path: "/api/v1/packs/by-digital-link?uri=" + url.QueryEscape(u), role: ph})
		check(t, r, h.demo.CloneSerial)
		var res trace.VerifyResult
		r.json(t, &res)
		if res.OK() {
			t.Errorf("a dispensed pack verified ok: %s", r.body)
		}
	})
	tests := []struct {
		name, query string
		kind        string
	}{
		{"no uri", "", api.ProbInvalidField},
		{"not a URI", "uri=" + url.QueryEscape("(01)"+memledger.DemoGTIN+"(21)SA00004"), api.ProbInvalidField},
		{"no expiry", "uri=" + url.QueryEscape(strings.Split(dl, "?")[0]), api.ProbInvalidGS1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(request{method: http.MethodGet, path: "/api/v1/packs/by-digital-link?" + tc.query, role: ph})
			expectProblem(t, r, 422, tc.kind, "uri")
		})
	}
}

// An event at another network member's site is not signed by the caller:
// the ledger would record it at the caller's own site.
func TestEPCISImportRejectsOtherMembersSites(t *testing.T) {
	h := newHarness(t)
	dispense := func(gln string) string {
		return fmt.Sprintf(`{"type":"ObjectEvent","eventTime":"2026-03-01T10:00:00.000Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE",
			"bizStep":"dispensing","disposition":"dispensed","epcList":["https://id.gs1.org/01/%s/10/%s/21/NOPE1?17=%s"],
			"bizLocation":{"id":"https://id.gs1.org/414/%s"}}`, memledger.DemoGTIN, memledger.DemoLot, memledger.Expiry, gln)
	}
	body := `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0",
		"creationDate":"2026-03-01T10:00:00Z","epcisBody":{"eventList":[` + dispense(users[dist].GLN) + `,` + dispense(users[ph].GLN) + `]}}`
	r := h.do(request{method: http.MethodPost, path: "/api/v1/epcis/import", role: ph, body: body, contentType: "application/ld+json"})
	if r.status != http.StatusOK {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	var rep api.ImportReport
	r.json(t, &rep)
	if rep.Rejected != 2 || rep.Events.Rejected[0].EventIndex != 0 ||
		!strings.Contains(rep.Events.Rejected[0].Reason, "happened at "+users[dist].GLN+" (DistributorMSP), not at your site "+users[ph].GLN) {
		t.Fatalf("event at the wholesaler's site: %s", r.body)
	}
	// The pharmacy's own event reaches the ledger, which does not know
	// the pack.
	if got := rep.Events.Rejected[1].Reason; strings.Contains(got, "happened at") || !strings.Contains(got, "Dispense") {
		t.Errorf("event at the caller's site: %s", got)
	}
}
