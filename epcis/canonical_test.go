package epcis

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func TestCanonicalNumber(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"1", "1", true}, {"1.0", "1", true}, {"0123", "123", true}, {"+5", "5", true}, {"-0.0", "0", true},
		{"0.10", "0.1", true}, {"26.2", "26.2", true}, {".5", "0.5", true}, {"5.", "5", true}, {"1e3", "1000", true},
		{"1_000", "1000", true}, {"0.00001", "1e-05", true}, {"0.0001", "0.0001", true}, {"1234567.5", "1234567.5", true},
		{"12345678901234567890", "12345678901234567168", true}, {"1.5e-7", "1.5e-07", true},
		{"abc", "", false}, {"", "", false}, {"1_", "", false}, {"_1", "", false}, {"1e", "", false}, {"nan", "", false},
		{"inf", "", false}, {"1e400", "", false}, {"2019-10-21", "", false}, {"+01:00", "", false}, {"0x10", "", false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, ok := canonicalNumber(c.in)
			if ok != c.ok || got != c.want {
				t.Errorf("canonicalNumber(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestCanonicalTime(t *testing.T) {
	cases := []struct{ in, want string }{
		{"2005-04-03T20:33:31.116000-06:00", "2005-04-04T02:33:31.116Z"},
		{"2019-10-21T00:05:00-06:00", "2019-10-21T06:05:00.000Z"},
		{"2023-02-02T11:04:03.1415Z", "2023-02-02T11:04:03.142Z"},
		{"2023-02-02T11:04:03.1414Z", "2023-02-02T11:04:03.141Z"},
		{"2023-02-02T11:04:03.12449Z", "2023-02-02T11:04:03.124Z"},
		{"2023-02-02T11:04:03.1245Z", "2023-02-02T11:04:03.125Z"}, // algorithm text: 4th decimal 5 rounds up
		{"2023-12-31T23:59:59.9996Z", "2024-01-01T00:00:00.000Z"},
		{"2023-02-02T11:04:03", "2023-02-02T11:04:03.000Z"},
		{"not a time", "not a time"},
	}
	for _, c := range cases {
		if got := canonicalTime(c.in); got != c.want {
			t.Errorf("canonicalTime(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCanonicalIdentifier(t *testing.T) {
	cases := []struct{ in, want string }{
		{"urn:epc:id:sgtin:0614141.107346.2017", "https://id.gs1.org/01/10614141073464/21/2017"},
		// ! stays unescaped, as in the reference's epclist_normalisation example.
		{"urn:epc:id:sgtin:9506000.013435.A%2FB!", "https://id.gs1.org/01/09506000134352/21/A%2FB!"},
		{"urn:epc:id:sgtin:9506000.013435.A+B,C:D", "https://id.gs1.org/01/09506000134352/21/A%2BB%2CC%3AD"},
		{"urn:epc:id:sscc:4012345.1112223334", "https://id.gs1.org/00/140123451122233341"},
		{"urn:epc:id:sgln:0614141.07346.1234", "https://id.gs1.org/414/0614141073467/254/1234"},
		{"urn:epc:id:sgln:4012345.00022.0", "https://id.gs1.org/414/4012345000221"},
		{"urn:epc:id:sgln:950600000001..0", "https://id.gs1.org/414/9506000000015"},
		{"urn:epc:id:pgln:4012345.00000", "https://id.gs1.org/417/4012345000009"},
		{"urn:epc:id:giai:4000001.111", "https://id.gs1.org/8004/4000001111"},
		{"urn:epc:id:gdti:4012345.55555.1234", "https://id.gs1.org/253/40123455555541234"},
		{"urn:epc:id:gsrn:0614141.0000010253", "https://id.gs1.org/8018/061414100000102534"},
		{"urn:epc:id:grai:4012345.00022.987", "https://id.gs1.org/8003/04012345000221987"},
		{"urn:epc:class:lgtin:4054739.099914.20160711", "https://id.gs1.org/01/04054739999148/10/20160711"},
		{"urn:epc:idpat:sgtin:4012345.066666.*", "https://id.gs1.org/01/04012345666663"},
		{"https://id.gs1.de/00/040123451111111110", "https://id.gs1.org/00/040123451111111110"},
		{"https://example.com/path/01/09506000134352/10/L1/21/S1?17=281231", "https://id.gs1.org/01/09506000134352/21/S1"},
		{"https://example.com/gtin/9506000134352/cpv/A/ser/S1", "https://id.gs1.org/01/09506000134352/21/S1"},
		{"https://id.gs1.org/01/09506000134352/21/A%2FB", "https://id.gs1.org/01/09506000134352/21/A%2FB"}, // not constrainable: unchanged
		{"urn:epc:id:sgtin:95060.013435.A1", "urn:epc:id:sgtin:95060.013435.A1"},
		{"http://transaction.acme.com/po/12345678", "http://transaction.acme.com/po/12345678"},
		{"geo:47.506694,11.104301", "geo:47.506694,11.104301"},
		{"urn:epcglobal:cbv:bt:4012345000009:ASN1099", "urn:epcglobal:cbv:bt:4012345000009:ASN1099"},
	}
	for _, c := range cases {
		if got := canonicalIdentifier(c.in); got != c.want {
			t.Errorf("canonicalIdentifier(%q)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

func TestEPCURIs(t *testing.T) {
	for n := 6; n <= 12; n++ {
		u, err := SGLN(fxMfr.GLN, n)
		if err != nil {
			t.Fatal(err)
		}
		if g, ext, err := ParseSGLN(u); err != nil || g != fxMfr.GLN || ext != "0" {
			t.Errorf("SGLN %s → %s %s %v", u, g, ext, err)
		}
		if canonicalIdentifier(u) != "https://id.gs1.org/414/"+fxMfr.GLN {
			t.Errorf("SGLN %s canonical %s", u, canonicalIdentifier(u))
		}
		p, err := PGLN(fxMfr.GLN, n)
		if err != nil {
			t.Fatal(err)
		}
		if g, err := ParsePGLN(p); err != nil || g != fxMfr.GLN {
			t.Errorf("PGLN %s → %s %v", p, g, err)
		}
		s, err := SSCC(fxSSCC, n)
		if err != nil {
			t.Fatal(err)
		}
		if k, err := ParseSSCC(s); err != nil || k != fxSSCC {
			t.Errorf("SSCC %s → %s %v", s, k, err)
		}
		if canonicalIdentifier(s) != "https://id.gs1.org/00/"+fxSSCC {
			t.Errorf("SSCC %s canonical %s", s, canonicalIdentifier(s))
		}
	}
	for _, bad := range []func() (string, error){
		func() (string, error) { return SGLN(fxMfr.GLN, 5) },
		func() (string, error) { return SGLN("9506000000016", 7) },
		func() (string, error) { return PGLN("950600000001", 7) },
		func() (string, error) { return SSCC("395060000000000017", 7) },
		func() (string, error) { return DigitalLinkSGTIN(fxGTIN, "a b") },
		func() (string, error) { return DigitalLinkSGTIN("09506000134353", "S1") },
	} {
		if u, err := bad(); err == nil {
			t.Errorf("accepted: %s", u)
		}
	}
	for _, bad := range []string{"urn:epc:id:sgln:9506000.00001", "urn:epc:id:sgln:9506000.0001.0", "urn:epc:id:sscc:9506000.300000001", "urn:epc:id:pgln:9506000.0000x"} {
		if _, err := parseID(bad); err == nil {
			t.Errorf("parseID(%q) succeeded", bad)
		}
	}
	if u, _ := DigitalLinkSGTIN(fxGTIN, "A/B'1"); u != "https://id.gs1.org/01/09506000134352/21/A%2FB'1" {
		t.Errorf("Digital Link %s", u)
	}
	// A pack named by its Digital Link URI or by its SGTIN EPC URI hashes
	// alike, also when the serial holds ! ' ( ) *, which the reference
	// implementation leaves unescaped in both.
	for _, ser := range []string{"S1", "A!B", "X'(1)*", "6789!()"} {
		dl, err := DigitalLinkSGTIN(fxGTIN, ser)
		if err != nil {
			t.Fatal(err)
		}
		epc, err := SGTIN(fxGTIN, ser, 7)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := canonicalIdentifier(dl), canonicalIdentifier(epc); a != b {
			t.Errorf("serial %q: Digital Link canonical %s, SGTIN canonical %s", ser, a, b)
		}
	}
}

// TestVocabularyMatchesContext checks the built-in CBV vocabularies
// against the shared copy of the EPCIS 2.0 JSON-LD context.
func TestVocabularyMatchesContext(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(sharedEPCIS(t), "epcis-context.jsonld"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Context map[string]json.RawMessage `json:"@context"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	terms := func(path ...string) []string {
		var cur map[string]json.RawMessage = doc.Context
		for _, p := range path {
			var next map[string]json.RawMessage
			if err := json.Unmarshal(cur[p], &next); err != nil {
				t.Fatalf("context %v: %v", path, err)
			}
			cur = next
		}
		var out []string
		for k, v := range cur {
			var s string
			if k[0] != '@' && json.Unmarshal(v, &s) == nil {
				out = append(out, k)
			}
		}
		sort.Strings(out)
		return out
	}
	have := func(v *vocabulary) []string {
		var out []string
		for k := range v.terms {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	for _, c := range []struct {
		v    *vocabulary
		path []string
	}{
		{bizSteps, []string{"bizStep", "@context"}},
		{dispositions, []string{"disposition", "@context"}},
		{bizTransactionTypes, []string{"bizTransactionList", "@context", "type", "@context"}},
		{sourceDestTypes, []string{"sourceList", "@context", "type", "@context"}},
		{errorReasons, []string{"errorDeclaration", "@context", "reason", "@context"}},
	} {
		want, got := terms(c.path...), have(c.v)
		if len(want) == 0 || len(want) != len(got) {
			t.Errorf("%v: context has %d terms %v, package %d", c.path, len(want), want, len(got))
			continue
		}
		for i := range want {
			if want[i] != got[i] {
				t.Errorf("%v: context term %q, package %q", c.path, want[i], got[i])
			}
		}
	}
}

func TestRequestID(t *testing.T) {
	id := EventHashID("x")
	r := RequestID(id)
	if len(r) != 43 || r[:3] != "ev:" || r[3:] != id[len("ni:///sha-256;"):len("ni:///sha-256;")+40] {
		t.Errorf("RequestID(%s) = %s", id, r)
	}
	for _, bad := range []string{"", "urn:uuid:1", "ni:///sha-256;xyz"} {
		if RequestID(bad) != "" {
			t.Errorf("RequestID(%q) = %q", bad, RequestID(bad))
		}
	}
}

func TestPreHashExtensionsAndContext(t *testing.T) {
	ev := map[string]any{
		"type": "ObjectEvent", "eventTime": "2020-01-01T00:00:00Z", "eventTimeZoneOffset": "+00:00", "action": "OBSERVE",
		"recordTime": "2021-01-01T00:00:00Z", "eventID": "urn:uuid:x",
		"example:b": "2.50", "example:a": map[string]any{"example:y": []any{"2", "1"}},
		"ilmd": map[string]any{"cbvmda:lotNumber": "L1"},
	}
	ctx := NewContext([]any{StandardContext, map[string]any{"example": "https://ns.example.com/"}})
	got, err := ctx.PreHash(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := "eventType=ObjectEventeventTime=2020-01-01T00:00:00.000ZeventTimeZoneOffset=+00:00action=OBSERVE" +
		"ilmd{urn:epcglobal:cbv:mda}lotNumber=L1{https://ns.example.com/}a{https://ns.example.com/}y=1{https://ns.example.com/}y=2{https://ns.example.com/}b=2.5"
	if got != want {
		t.Errorf("pre-hash\n got %s\nwant %s", got, want)
	}
	// cbvmda redefined by the document (as in the published example).
	ctx2 := NewContext([]any{map[string]any{"cbvmda": "urn:epcglobal:cbv:mda:", "gs1": "https://example.com/"}})
	if ctx2.expandKey("cbvmda:lotNumber") != "{urn:epcglobal:cbv:mda:}lotNumber" || ctx2.expandValue("gs1:Temperature") != "https://ref.gs1.org/voc/Temperature" {
		t.Errorf("context overrides: %s %s", ctx2.expandKey("cbvmda:lotNumber"), ctx2.expandValue("gs1:Temperature"))
	}
	if _, err := ctx.PreHash(map[string]any{"eventTime": "x"}); err == nil {
		t.Error("an event without type hashed")
	}
}
