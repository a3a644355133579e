package epcisschema

import (
	"os"
	"path/filepath"
	"testing"
)

func TestValidateAcceptsTheOfficialExampleAndRejectsBrokenDocuments(t *testing.T) {
	// The shared example is a bare event; wrap it as a document.
	ev, err := os.ReadFile(filepath.Join(Dir(t), "example-ObjectEvent.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument",` +
		`"schemaVersion":"2.0","creationDate":"2005-07-11T11:30:47.0Z","epcisBody":{"eventList":[` + string(ev) + `]}}`)
	if err := Validate(t, doc); err != nil {
		t.Fatalf("official example rejected: %v", err)
	}
	for name, bad := range map[string]string{
		"no epcisBody":   `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2005-07-11T11:30:47.0Z"}`,
		"bad action":     `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2005-07-11T11:30:47.0Z","epcisBody":{"eventList":[{"type":"ObjectEvent","action":"SHOUT","eventTime":"2005-04-03T20:33:31.116-06:00","eventTimeZoneOffset":"-06:00","epcList":[]}]}}`,
		"not a document": `[1,2,3]`,
	} {
		if err := Validate(t, []byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
