package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/epcis"
)

const spec = "../../../fabric-network/network.yaml"

func runCmd(t *testing.T, env map[string]string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"import"}, "give one document"},
		{[]string{"import", "-spec", spec, "-as", "Manufacturer/nobody", "-"}, "-as Manufacturer/nobody: no such user"},
		{[]string{"import", "-spec", spec, "-as", "Regulator/admin", "-as", "Regulator/inspector", "-"}, "have the same GLN 4900000000009"},
		{[]string{"import", "-spec", spec, "-default", "Pharmacy/ghost", "-"}, "-default Pharmacy/ghost: no such user"},
		{[]string{"import", "-api", "http://127.0.0.1:1", "-"}, "-token: give an API token"},
		{[]string{"generate", "-n", "0", "-gtin", "09506000134352", "-lot", "L", "-expiry", "281231", "-gln", "9506000000015"}, "n = 0"},
		{[]string{"export", "extra"}, `unexpected argument "extra"`},
		{[]string{"export", "-format", "csv"}, `-format "csv": want json or xml`},
		{[]string{"generate", "-format", "yaml", "-n", "1", "-gtin", "09506000134352", "-lot", "L", "-expiry", "281231", "-gln", "9506000000015"}, `-format "yaml"`},
	}
	for _, c := range cases {
		_, _, err := runCmd(t, nil, "", c.args...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want a usage error containing %q", c.args, err, c.want)
		}
	}
}

func TestGenerateWritesAValidDocumentAtomically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.json")
	if _, _, err := runCmd(t, nil, "", "generate", "-n", "7", "-gtin", "09506000134352", "-lot", "L1", "-expiry", "281231", "-gln", "9506000000015", "-o", path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := epcis.NewReader(f, epcis.ImportOptions{})
	n := 0
	for {
		p, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || p.Rejection != nil || p.Site != "9506000000015" {
			t.Fatalf("event %d: %v %+v", n, err, p)
		}
		n++
	}
	if n != 7 {
		t.Errorf("%d events, want 7", n)
	}
	if _, err := os.Stat(path + ".partial"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestRoutingBySite(t *testing.T) {
	ids, err := newIdentities(spec, t.TempDir(), []string{"Manufacturer/mfr-alpha", "Pharmacy/pharm-central"}, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if ids.byGLN["4012345000009"] != "Manufacturer/mfr-alpha" || ids.byGLN["4300123000014"] != "Pharmacy/pharm-central" {
		t.Fatalf("identities by GLN: %v", ids.byGLN)
	}
	_, err = ids.ledgerFor(&epcis.Planned{Site: "4098765000010"})
	if err == nil || !strings.Contains(err.Error(), "no identity for the event's site 4098765000010 among Manufacturer/mfr-alpha, Pharmacy/pharm-central") {
		t.Errorf("unknown site: %v", err)
	}
	if msp, ok := ids.lookupGLN("4098765000010"); !ok || msp != "DistributorMSP" {
		t.Errorf("destination directory: %q %v", msp, ok)
	}
	// Without -as: every manufacturer, distributor and pharmacist.
	all, err := newIdentities(spec, t.TempDir(), nil, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if len(all.names) != 6 || all.byGLN["4900000000009"] != "" {
		t.Errorf("default identities %v", all.names)
	}
}

func TestExportAndImportThroughTheAPI(t *testing.T) {
	var gotQuery, gotAuth, gotBody, gotType, gotAccept string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotType, gotAccept = r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("Accept")
		switch r.URL.Path {
		case "/api/v1/epcis/events":
			gotQuery = r.URL.RawQuery
			if r.URL.Query().Get("gtin") == "00000000000000" {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusUnprocessableEntity)
				io.WriteString(w, `{"title":"invalid field","detail":"gtin: bad check digit"}`)
				return
			}
			io.WriteString(w, `{"type":"EPCISDocument"}`)
		case "/api/v1/epcis/import":
			b, _ := io.ReadAll(r.Body)
			gotBody = string(b)
			io.WriteString(w, `{"applied":1,"skipped":0,"rejected":1,"events":{"applied":[{"eventIndex":0,"eventId":"e0","requestIds":["r"]}],"skipped":[],"rejected":[{"eventIndex":1,"reason":"nope"}]}}`)
		}
	}))
	defer srv.Close()
	env := map[string]string{"PHARMATRACE_API_URL": srv.URL, "PHARMATRACE_API_TOKEN": "tok"}
	out, _, err := runCmd(t, env, "", "export", "-gtin", "09506000134352", "-serial", "S1", "-epc-form", "digitallink")
	if err != nil || out != `{"type":"EPCISDocument"}` || gotQuery != "epcForm=digitallink&gtin=09506000134352&serial=S1" || gotAuth != "Bearer tok" {
		t.Fatalf("export: %v %q query %q auth %q", err, out, gotQuery, gotAuth)
	}
	if _, _, err := runCmd(t, env, "", "export", "-gtin", "00000000000000", "-lot", "L"); err == nil || !strings.Contains(err.Error(), "gtin: bad check digit") {
		t.Errorf("export problem: %v", err)
	}
	if gotAccept != "application/ld+json" {
		t.Errorf("export asked for %q", gotAccept)
	}
	if _, _, err := runCmd(t, env, "", "export", "-format", "xml"); err != nil || gotAccept != "application/xml" {
		t.Errorf("export -format xml: %v, asked for %q", err, gotAccept)
	}
	out, stderr, err := runCmd(t, env, `{"doc":1}`, "import", "-api", srv.URL, "-")
	if !errors.Is(err, errRejected) || gotBody != `{"doc":1}` || gotType != "application/ld+json" || !strings.Contains(out, `"rejected": 1`) || !strings.Contains(stderr, "rejected event 1: nope") {
		t.Errorf("import via API: %v body %q type %q\n%s\n%s", err, gotBody, gotType, out, stderr)
	}
	// An XML document is recognised by its first byte and sent as XML,
	// whole.
	const xmlDoc = "\n  <?xml version=\"1.0\"?><epcis:EPCISDocument xmlns:epcis=\"urn:epcglobal:epcis:xsd:1\"/>"
	if _, _, err := runCmd(t, env, xmlDoc, "import", "-api", srv.URL, "-"); !errors.Is(err, errRejected) || gotBody != xmlDoc || gotType != "application/xml" {
		t.Errorf("XML import via API: %v body %q type %q", err, gotBody, gotType)
	}
}

func TestGenerateXML(t *testing.T) {
	out, _, err := runCmd(t, nil, "", "generate", "-format", "xml", "-n", "3", "-gtin", "09506000134352", "-lot", "L1", "-expiry", "281231", "-gln", "9506000000015")
	if err != nil {
		t.Fatal(err)
	}
	f, doc, err := epcis.DetectFormat(strings.NewReader(out))
	if err != nil || f != epcis.FormatXML {
		t.Fatalf("format %v, %v", f, err)
	}
	rd := epcis.NewFormatReader(doc, f, epcis.ImportOptions{})
	n := 0
	for {
		p, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || p.Rejection != nil || p.Site != "9506000000015" {
			t.Fatalf("event %d: %v %+v", n, err, p)
		}
		n++
	}
	if n != 3 {
		t.Errorf("%d events", n)
	}
}
