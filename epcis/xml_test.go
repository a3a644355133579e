package epcis

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/trace"
)

// xmlDoc wraps events in an EPCIS document of version "2.0" or "1.2".
func xmlDoc(version string, events ...string) string {
	ns := nsEPCIS2
	if version == "1.2" {
		ns = nsEPCIS1
	}
	return `<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="` + ns + `" xmlns:cbvmda="urn:epcglobal:cbv:mda" xmlns:ex="https://ns.example.com/epcis/"
    xmlns:pharmatrace="urn:pharmatrace:epcis:" schemaVersion="` + version + `" creationDate="2026-01-01T00:00:00Z">
  <EPCISHeader><ex:ignored>header content is not read</ex:ignored></EPCISHeader>
  <EPCISBody>
    <EventList>
` + strings.Join(events, "\n") + `
    </EventList>
  </EPCISBody>
</epcis:EPCISDocument>
`
}

func jsonMap(t *testing.T, s string) map[string]any {
	t.Helper()
	m, err := decodeObject([]byte(s))
	if err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return m
}

// TestXMLDecodeEvents decodes an event of each type, in EPCIS 2.0 and 1.2
// XML, and compares it with its JSON-LD structure (what the JSON reader
// decodes) and its pre-hash with the JSON-LD twin's.
func TestXMLDecodeEvents(t *testing.T) {
	jsonCtx := NewContext(map[string]any{"ex": "https://ns.example.com/epcis/", "pharmatrace": Namespace})
	cases := []struct {
		name, version, xml string
		want               string // the decoded event, as JSON
		twin               string // the JSON-LD form of the same event ("" = want)
	}{
		{name: "ObjectEvent commissioning", version: "2.0", xml: `
<ObjectEvent>
  <eventTime>2026-01-02T10:00:00.000+01:00</eventTime>
  <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
  <epcList><epc>urn:epc:id:sgtin:9506000.013435.A1</epc><epc> https://id.gs1.org/01/09506000134352/21/A2 </epc></epcList>
  <action>ADD</action>
  <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
  <disposition>urn:epcglobal:cbv:disp:active</disposition>
  <readPoint><id>urn:epc:id:sgln:9506000.00001.0</id></readPoint>
  <ilmd><cbvmda:lotNumber>L42</cbvmda:lotNumber><cbvmda:itemExpirationDate>2028-06-30</cbvmda:itemExpirationDate></ilmd>
</ObjectEvent>`,
			want: `{"type":"ObjectEvent","eventTime":"2026-01-02T10:00:00.000+01:00","eventTimeZoneOffset":"+01:00",
			  "epcList":["urn:epc:id:sgtin:9506000.013435.A1","https://id.gs1.org/01/09506000134352/21/A2"],"action":"ADD",
			  "bizStep":"urn:epcglobal:cbv:bizstep:commissioning","disposition":"urn:epcglobal:cbv:disp:active",
			  "readPoint":{"id":"urn:epc:id:sgln:9506000.00001.0"},
			  "ilmd":{"{urn:epcglobal:cbv:mda}lotNumber":"L42","{urn:epcglobal:cbv:mda}itemExpirationDate":"2028-06-30"}}`,
			twin: `{"type":"ObjectEvent","eventTime":"2026-01-02T10:00:00.000+01:00","eventTimeZoneOffset":"+01:00",
			  "epcList":["urn:epc:id:sgtin:9506000.013435.A1","https://id.gs1.org/01/09506000134352/21/A2"],"action":"ADD",
			  "bizStep":"commissioning","disposition":"active","readPoint":{"id":"urn:epc:id:sgln:9506000.00001.0"},
			  "ilmd":{"cbvmda:lotNumber":"L42","cbvmda:itemExpirationDate":"2028-06-30"}}`},
		{name: "ObjectEvent 1.2 with extension and baseExtension wrappers", version: "1.2", xml: `
<ObjectEvent>
  <eventTime>2026-01-03T10:00:00-05:00</eventTime>
  <eventTimeZoneOffset>-05:00</eventTimeZoneOffset>
  <baseExtension><eventID>urn:uuid:0f6d4ab2-5e1c-4a52-9d2e-2a4c11b0a001</eventID></baseExtension>
  <epcList><epc>urn:epc:id:sscc:9506000.3000000001</epc></epcList>
  <action>OBSERVE</action>
  <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>
  <disposition>urn:epcglobal:cbv:disp:in_transit</disposition>
  <readPoint><id>urn:epc:id:sgln:9506000.00001.0</id><extension><ex:dock>7</ex:dock></extension></readPoint>
  <bizTransactionList><bizTransaction type="urn:epcglobal:cbv:btt:desadv">urn:pharmatrace:shipment:SH-9</bizTransaction></bizTransactionList>
  <extension>
    <quantityList><quantityElement><epcClass>urn:epc:class:lgtin:9506000.013435.L1</epcClass><quantity>12.50</quantity><uom>KGM</uom></quantityElement></quantityList>
    <sourceList><source type="urn:epcglobal:cbv:sdt:owning_party">urn:epc:id:pgln:9506000.00001</source></sourceList>
    <destinationList><destination type="urn:epcglobal:cbv:sdt:location">urn:epc:id:sgln:9506000.00002.0</destination></destinationList>
    <extension><ex:carrier ex:scac="ABCD">Carrier &amp; Co</ex:carrier></extension>
  </extension>
  <ex:temperature>5</ex:temperature>
  <ex:temperature>6</ex:temperature>
</ObjectEvent>`,
			want: `{"type":"ObjectEvent","eventTime":"2026-01-03T10:00:00-05:00","eventTimeZoneOffset":"-05:00",
			  "eventID":"urn:uuid:0f6d4ab2-5e1c-4a52-9d2e-2a4c11b0a001","epcList":["urn:epc:id:sscc:9506000.3000000001"],"action":"OBSERVE",
			  "bizStep":"urn:epcglobal:cbv:bizstep:shipping","disposition":"urn:epcglobal:cbv:disp:in_transit",
			  "readPoint":{"id":"urn:epc:id:sgln:9506000.00001.0","{https://ns.example.com/epcis/}dock":"7"},
			  "bizTransactionList":[{"type":"urn:epcglobal:cbv:btt:desadv","bizTransaction":"urn:pharmatrace:shipment:SH-9"}],
			  "quantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.013435.L1","quantity":12.50,"uom":"KGM"}],
			  "sourceList":[{"type":"urn:epcglobal:cbv:sdt:owning_party","source":"urn:epc:id:pgln:9506000.00001"}],
			  "destinationList":[{"type":"urn:epcglobal:cbv:sdt:location","destination":"urn:epc:id:sgln:9506000.00002.0"}],
			  "{https://ns.example.com/epcis/}carrier":{"{https://ns.example.com/epcis/}scac":"ABCD","#text":"Carrier & Co"},
			  "{https://ns.example.com/epcis/}temperature":["5","6"]}`,
			twin: `{"type":"ObjectEvent","eventTime":"2026-01-03T10:00:00-05:00","eventTimeZoneOffset":"-05:00",
			  "eventID":"urn:uuid:0f6d4ab2-5e1c-4a52-9d2e-2a4c11b0a001","epcList":["urn:epc:id:sscc:9506000.3000000001"],"action":"OBSERVE",
			  "bizStep":"shipping","disposition":"in_transit","readPoint":{"id":"urn:epc:id:sgln:9506000.00001.0","ex:dock":7},
			  "bizTransactionList":[{"type":"desadv","bizTransaction":"urn:pharmatrace:shipment:SH-9"}],
			  "quantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.013435.L1","quantity":12.5,"uom":"KGM"}],
			  "sourceList":[{"type":"owning_party","source":"urn:epc:id:pgln:9506000.00001"}],
			  "destinationList":[{"type":"location","destination":"urn:epc:id:sgln:9506000.00002.0"}],
			  "ex:carrier":{"ex:scac":"ABCD","#text":"Carrier & Co"},"ex:temperature":[5,6]}`},
		{name: "AggregationEvent 1.2 with childQuantityList in extension", version: "1.2", xml: `
<AggregationEvent>
  <eventTime>2026-01-02T11:00:00Z</eventTime>
  <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <parentID>urn:epc:id:sscc:9506000.3000000001</parentID>
  <childEPCs><epc>urn:epc:id:sgtin:9506000.013435.A1</epc></childEPCs>
  <action>ADD</action>
  <bizStep>urn:epcglobal:cbv:bizstep:packing</bizStep>
  <extension><childQuantityList><quantityElement><epcClass>urn:epc:idpat:sgtin:9506000.013435.*</epcClass><quantity>3</quantity></quantityElement></childQuantityList></extension>
</AggregationEvent>`,
			want: `{"type":"AggregationEvent","eventTime":"2026-01-02T11:00:00Z","eventTimeZoneOffset":"+00:00",
			  "parentID":"urn:epc:id:sscc:9506000.3000000001","childEPCs":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"ADD",
			  "bizStep":"urn:epcglobal:cbv:bizstep:packing",
			  "childQuantityList":[{"epcClass":"urn:epc:idpat:sgtin:9506000.013435.*","quantity":3}]}`},
		{name: "TransactionEvent 1.2", version: "1.2", xml: `
<TransactionEvent>
  <eventTime>2026-01-02T11:00:00.5+02:00</eventTime>
  <eventTimeZoneOffset>+02:00</eventTimeZoneOffset>
  <bizTransactionList><bizTransaction type="urn:epcglobal:cbv:btt:po">urn:epcglobal:cbv:bt:9506000000015:PO1</bizTransaction></bizTransactionList>
  <epcList><epc>urn:epc:id:sgtin:9506000.013435.A1</epc></epcList>
  <action>ADD</action>
  <extension><sourceList><source type="urn:epcglobal:cbv:sdt:possessing_party">urn:epc:id:pgln:9506000.00001</source></sourceList></extension>
</TransactionEvent>`,
			want: `{"type":"TransactionEvent","eventTime":"2026-01-02T11:00:00.5+02:00","eventTimeZoneOffset":"+02:00",
			  "bizTransactionList":[{"type":"urn:epcglobal:cbv:btt:po","bizTransaction":"urn:epcglobal:cbv:bt:9506000000015:PO1"}],
			  "epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"ADD",
			  "sourceList":[{"type":"urn:epcglobal:cbv:sdt:possessing_party","source":"urn:epc:id:pgln:9506000.00001"}]}`},
		{name: "TransformationEvent 1.2 wrapped in the event list's extension", version: "1.2", xml: `
<extension>
 <TransformationEvent>
  <eventTime>2026-01-02T11:00:00Z</eventTime>
  <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <inputEPCList><epc>urn:epc:id:sgtin:9506000.013435.A1</epc></inputEPCList>
  <inputQuantityList><quantityElement><epcClass>urn:epc:class:lgtin:9506000.013435.L1</epcClass><quantity>1E2</quantity><uom>KGM</uom></quantityElement></inputQuantityList>
  <outputEPCList><epc>urn:epc:id:sgtin:9506000.013435.B1</epc></outputEPCList>
  <outputQuantityList/>
  <transformationID>urn:epc:id:gdti:9506000.00001.1</transformationID>
  <ilmd><ex:batch>4711</ex:batch><extension><cbvmda:lotNumber>L9</cbvmda:lotNumber></extension></ilmd>
 </TransformationEvent>
</extension>`,
			want: `{"type":"TransformationEvent","eventTime":"2026-01-02T11:00:00Z","eventTimeZoneOffset":"+00:00",
			  "inputEPCList":["urn:epc:id:sgtin:9506000.013435.A1"],
			  "inputQuantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.013435.L1","quantity":1E2,"uom":"KGM"}],
			  "outputEPCList":["urn:epc:id:sgtin:9506000.013435.B1"],"outputQuantityList":[],
			  "transformationID":"urn:epc:id:gdti:9506000.00001.1",
			  "ilmd":{"{https://ns.example.com/epcis/}batch":"4711","{urn:epcglobal:cbv:mda}lotNumber":"L9"}}`},
		{name: "AssociationEvent", version: "2.0", xml: `
<AssociationEvent>
  <eventTime>2026-01-02T11:00:00Z</eventTime>
  <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <parentID>urn:epc:id:grai:9506000.00001.1</parentID>
  <childEPCs><epc>urn:epc:id:giai:9506000.1</epc></childEPCs>
  <action>ADD</action>
  <bizStep>urn:epcglobal:cbv:bizstep:assembling</bizStep>
  <bizLocation><id>urn:epc:id:sgln:9506000.00001.0</id></bizLocation>
</AssociationEvent>`,
			want: `{"type":"AssociationEvent","eventTime":"2026-01-02T11:00:00Z","eventTimeZoneOffset":"+00:00",
			  "parentID":"urn:epc:id:grai:9506000.00001.1","childEPCs":["urn:epc:id:giai:9506000.1"],"action":"ADD",
			  "bizStep":"urn:epcglobal:cbv:bizstep:assembling","bizLocation":{"id":"urn:epc:id:sgln:9506000.00001.0"}}`},
		{name: "sensor data, persistent disposition, error declaration", version: "2.0", xml: `
<ObjectEvent>
  <eventTime>2026-01-05T10:00:00.000+01:00</eventTime>
  <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
  <errorDeclaration><declarationTime>2026-01-06T10:00:00Z</declarationTime><reason>urn:epcglobal:cbv:er:incorrect_data</reason>
    <correctiveEventIDs><correctiveEventID>urn:uuid:1</correctiveEventID></correctiveEventIDs><ex:why>typo</ex:why></errorDeclaration>
  <epcList><epc>urn:epc:id:sgtin:9506000.013435.A1</epc></epcList>
  <action>OBSERVE</action>
  <sensorElementList>
    <sensorElement>
      <sensorMetadata time="2026-01-05T09:00:00Z" ex:probe="p1"/>
      <sensorReport type="gs1:Temperature" exception="gs1:ALARM_CONDITION" value="31.50" uom="CEL" booleanValue="true"/>
      <sensorReport type="gs1:Humidity" value="40"/>
      <ex:calibrated>2025-12-01</ex:calibrated>
    </sensorElement>
  </sensorElementList>
  <persistentDisposition><set>urn:epcglobal:cbv:disp:recalled</set><set>urn:epcglobal:cbv:disp:damaged</set></persistentDisposition>
</ObjectEvent>`,
			want: `{"type":"ObjectEvent","eventTime":"2026-01-05T10:00:00.000+01:00","eventTimeZoneOffset":"+01:00",
			  "errorDeclaration":{"declarationTime":"2026-01-06T10:00:00Z","reason":"urn:epcglobal:cbv:er:incorrect_data",
			    "correctiveEventIDs":["urn:uuid:1"],"{https://ns.example.com/epcis/}why":"typo"},
			  "epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"OBSERVE",
			  "sensorElementList":[{"sensorMetadata":{"time":"2026-01-05T09:00:00Z","{https://ns.example.com/epcis/}probe":"p1"},
			    "sensorReport":[{"type":"gs1:Temperature","exception":"gs1:ALARM_CONDITION","value":31.50,"uom":"CEL","booleanValue":true},
			                    {"type":"gs1:Humidity","value":40}],
			    "{https://ns.example.com/epcis/}calibrated":"2025-12-01"}],
			  "persistentDisposition":{"set":["urn:epcglobal:cbv:disp:recalled","urn:epcglobal:cbv:disp:damaged"]}}`,
			twin: `{"type":"ObjectEvent","eventTime":"2026-01-05T10:00:00.000+01:00","eventTimeZoneOffset":"+01:00",
			  "errorDeclaration":{"declarationTime":"2026-01-06T10:00:00Z","reason":"incorrect_data","correctiveEventIDs":["urn:uuid:1"],"ex:why":"typo"},
			  "epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"OBSERVE",
			  "sensorElementList":[{"sensorMetadata":{"time":"2026-01-05T09:00:00Z","ex:probe":"p1"},
			    "sensorReport":[{"type":"Temperature","exception":"ALARM_CONDITION","value":31.5,"uom":"CEL","booleanValue":true},{"type":"Humidity","value":40}],
			    "ex:calibrated":"2025-12-01"}],
			  "persistentDisposition":{"set":["recalled","damaged"]}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs := xmlEventsOf(t, xmlDoc(tc.version, tc.xml))
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			want := jsonMap(t, tc.want)
			if !reflect.DeepEqual(evs[0], want) {
				got, _ := json.Marshal(evs[0])
				t.Errorf("decoded\n got %s\nwant %s", got, tc.want)
			}
			twin := want
			if tc.twin != "" {
				twin = jsonMap(t, tc.twin)
			}
			_, got, err := DefaultContext().EventID(evs[0])
			if err != nil {
				t.Fatal(err)
			}
			_, wantPre, _ := jsonCtx.EventID(twin)
			if got != wantPre {
				t.Errorf("pre-hash differs from the JSON-LD twin's: %s", firstDiff(got, wantPre))
			}
		})
	}
}

// TestXMLPlansAsJSON: XML twins of JSON events are planned alike: the
// same event IDs, writes and rejection reasons.
func TestXMLPlansAsJSON(t *testing.T) {
	const when = `<eventTime>2026-01-05T10:00:00.000+01:00</eventTime><eventTimeZoneOffset>+01:00</eventTimeZoneOffset>`
	const jwhen = `"eventTime":"2026-01-05T10:00:00.000+01:00","eventTimeZoneOffset":"+01:00"`
	pairs := []struct{ xml, json string }{
		{`<ObjectEvent>` + when + `<epcList><epc>urn:epc:id:sgtin:9506000.013435.A1</epc><epc>urn:epc:id:sgtin:9506000.013435.A2</epc></epcList>
		  <action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep><readPoint><id>urn:epc:id:sgln:9506000.00001.0</id></readPoint>
		  <extension><ilmd><cbvmda:lotNumber>L42</cbvmda:lotNumber><cbvmda:itemExpirationDate>2028-06-30</cbvmda:itemExpirationDate></ilmd></extension></ObjectEvent>`,
			`{"type":"ObjectEvent",` + jwhen + `,"epcList":["urn:epc:id:sgtin:9506000.013435.A1","urn:epc:id:sgtin:9506000.013435.A2"],
			  "action":"ADD","bizStep":"commissioning","readPoint":{"id":"urn:epc:id:sgln:9506000.00001.0"},
			  "ilmd":{"cbvmda:lotNumber":"L42","cbvmda:itemExpirationDate":"2028-06-30"}}`},
		{`<AggregationEvent>` + when + `<parentID>urn:epc:id:sscc:9506000.3000000001</parentID><childEPCs><epc>urn:epc:id:sgtin:9506000.013435.A1</epc></childEPCs>
		  <action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:packing</bizStep></AggregationEvent>`,
			`{"type":"AggregationEvent",` + jwhen + `,"parentID":"urn:epc:id:sscc:9506000.3000000001","childEPCs":["urn:epc:id:sgtin:9506000.013435.A1"],
			  "action":"ADD","bizStep":"packing"}`},
		{`<ObjectEvent>` + when + `<epcList><epc>urn:epc:id:sscc:9506000.3000000001</epc></epcList><action>OBSERVE</action>
		  <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep><bizTransactionList><bizTransaction type="urn:epcglobal:cbv:btt:desadv">urn:pharmatrace:shipment:SH-9</bizTransaction></bizTransactionList>
		  <extension><destinationList><destination type="urn:epcglobal:cbv:sdt:location">urn:epc:id:sgln:9506000.00002.0</destination></destinationList></extension></ObjectEvent>`,
			`{"type":"ObjectEvent",` + jwhen + `,"epcList":["urn:epc:id:sscc:9506000.3000000001"],"action":"OBSERVE","bizStep":"shipping",
			  "bizTransactionList":[{"type":"desadv","bizTransaction":"urn:pharmatrace:shipment:SH-9"}],
			  "destinationList":[{"type":"location","destination":"urn:epc:id:sgln:9506000.00002.0"}]}`},
		{`<ObjectEvent>` + when + `<epcList><epc>urn:epc:id:sgtin:9506000.013435.A1</epc></epcList><action>DELETE</action>
		  <bizStep>urn:epcglobal:cbv:bizstep:decommissioning</bizStep><pharmatrace:decommissionReason>exported</pharmatrace:decommissionReason></ObjectEvent>`,
			`{"type":"ObjectEvent",` + jwhen + `,"epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"DELETE","bizStep":"decommissioning",
			  "pharmatrace:decommissionReason":"exported"}`},
		// Rejected alike.
		{`<ObjectEvent>` + when + `<epcList><epc>urn:epc:id:sgtin:9506000.013435.A1</epc></epcList><action>OBSERVE</action>
		  <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep><destinationList><destination type="urn:epcglobal:cbv:sdt:location">urn:epc:id:sgln:9506000.00002.0</destination></destinationList>
		  <sensorElementList><sensorElement><sensorReport type="gs1:Temperature" exception="gs1:ALARM_CONDITION" value="31.5" uom="CEL"/></sensorElement></sensorElementList></ObjectEvent>`,
			`{"type":"ObjectEvent",` + jwhen + `,"epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"OBSERVE","bizStep":"shipping",
			  "destinationList":[{"type":"location","destination":"urn:epc:id:sgln:9506000.00002.0"}],
			  "sensorElementList":[{"sensorReport":[{"type":"gs1:Temperature","exception":"gs1:ALARM_CONDITION","value":31.5,"uom":"CEL"}]}]}`},
		{`<ObjectEvent>` + when + `<epcList><epc>urn:epc:id:sgtin:9506000.013435.A1</epc></epcList><action>OBSERVE</action>
		  <bizStep>urn:epcglobal:cbv:bizstep:receiving</bizStep><disposition>urn:epcglobal:cbv:disp:damaged</disposition></ObjectEvent>`,
			`{"type":"ObjectEvent",` + jwhen + `,"epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"OBSERVE","bizStep":"receiving","disposition":"urn:epcglobal:cbv:disp:damaged"}`},
		{`<ObjectEvent><eventTime>2026-01-05T10:00:00</eventTime><eventTimeZoneOffset>+01:00</eventTimeZoneOffset><epcList/><action>OBSERVE</action></ObjectEvent>`,
			`{"type":"ObjectEvent","eventTime":"2026-01-05T10:00:00","eventTimeZoneOffset":"+01:00","epcList":[],"action":"OBSERVE"}`},
		{`<ObjectEvent>` + when + `<baseExtension><errorDeclaration><declarationTime>2026-01-06T00:00:00Z</declarationTime></errorDeclaration></baseExtension>
		  <epcList><epc>urn:epc:id:sgtin:9506000.013435.A1</epc></epcList><action>OBSERVE</action><bizStep>urn:epcglobal:cbv:bizstep:dispensing</bizStep></ObjectEvent>`,
			`{"type":"ObjectEvent",` + jwhen + `,"errorDeclaration":{"declarationTime":"2026-01-06T00:00:00Z"},
			  "epcList":["urn:epc:id:sgtin:9506000.013435.A1"],"action":"OBSERVE","bizStep":"dispensing"}`},
		{`<extension><TransformationEvent>` + when + `</TransformationEvent></extension>`, `{"type":"TransformationEvent",` + jwhen + `}`},
	}
	var xs, js []string
	for _, p := range pairs {
		xs, js = append(xs, p.xml), append(js, p.json)
	}
	opt := ImportOptions{LookupGLN: lookup}
	fromXML := readAllXML(t, xmlDoc("1.2", xs...), opt)
	fromJSON := readAll(t, `{"@context":["`+StandardContext+`",{"pharmatrace":"`+Namespace+`"}],"type":"EPCISDocument","schemaVersion":"2.0",`+
		`"creationDate":"2026-01-01T00:00:00Z","epcisBody":{"eventList":[`+strings.Join(js, ",")+`]}}`, opt)
	if len(fromXML) != len(pairs) || len(fromJSON) != len(pairs) {
		t.Fatalf("%d XML plans, %d JSON plans, want %d", len(fromXML), len(fromJSON), len(pairs))
	}
	applied := 0
	for i := range pairs {
		if !reflect.DeepEqual(fromXML[i], fromJSON[i]) {
			t.Errorf("event %d:\n XML %+v %v\nJSON %+v %v", i, fromXML[i], fromXML[i].Rejection, fromJSON[i], fromJSON[i].Rejection)
		}
		if fromXML[i].Rejection == nil {
			applied++
		}
	}
	if applied != 4 {
		t.Errorf("%d events planned, want 4", applied)
	}
}

// TestXMLEventRejections: an event element the JSON-LD structure cannot
// hold is rejected (the import goes on), the reason naming the element and
// its line.
func TestXMLEventRejections(t *testing.T) {
	const head = "<ObjectEvent>\n<eventTime>2026-01-05T10:00:00Z</eventTime>\n<eventTimeZoneOffset>+00:00</eventTimeZoneOffset>\n"
	cases := []struct{ name, event, reason string }{
		{"unqualified unknown field", head + "<action>OBSERVE</action>\n<bizstep>x</bizstep>\n</ObjectEvent>",
			"<bizstep> (line 5): not a field of <ObjectEvent> in EPCIS XML (a user extension is namespace-qualified)"},
		{"foreign element in epcList", head + "<epcList>\n<epc>urn:epc:id:sgtin:9506000.013435.A1</epc>\n<EPC>x</EPC>\n</epcList>\n</ObjectEvent>",
			"<EPC> (line 6): unexpected element in <epcList>, which holds <epc> elements"},
		{"element in a text field", head + "<action><value>OBSERVE</value></action>\n</ObjectEvent>",
			"<value> (line 4): unexpected element in <action>, which holds text"},
		{"field twice", head + "<action>OBSERVE</action>\n<action>ADD</action>\n</ObjectEvent>",
			"<action> (line 5): a second <action> in <ObjectEvent>"},
		{"field twice across an extension wrapper", head + "<action>OBSERVE</action>\n<extension><action>ADD</action></extension>\n</ObjectEvent>",
			"<action> (line 5): a second <action> in <ObjectEvent>"},
		{"undeclared prefix", head + "<action>OBSERVE</action>\n<acme:lot>L1</acme:lot>\n</ObjectEvent>",
			`<{acme}lot> (line 5): the prefix "acme" of lot is not declared`},
		{"unqualified ILMD field", head + "<action>ADD</action>\n<ilmd>\n<lotNumber>L1</lotNumber>\n</ilmd>\n</ObjectEvent>",
			"<lotNumber> (line 6): not a field of <ilmd> (ILMD fields are namespace-qualified, e.g. cbvmda:lotNumber)"},
		{"unknown field of a quantity element", head + "<quantityList>\n<quantityElement><epcClass>x</epcClass><amount>1</amount></quantityElement>\n</quantityList>\n</ObjectEvent>",
			"<amount> (line 5): not a field of <quantityElement>"},
		{"qualified event element", "<ex:ObjectEvent>\n</ex:ObjectEvent>",
			"not an EPCIS event (events are unqualified elements"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The event element starts on line 1 of the fragment; the
			// document's event list starts on line 7.
			doc := xmlDoc("2.0", tc.event, "<ObjectEvent>"+commissionXML+"</ObjectEvent>")
			want := tc.reason
			if i := strings.Index(want, "(line "); i >= 0 {
				var n int
				fmt.Sscanf(want[i+len("(line "):], "%d", &n)
				want = strings.Replace(want, fmt.Sprintf("(line %d)", n), fmt.Sprintf("(line %d)", n+6), 1)
			}
			ps := readAllXML(t, doc, ImportOptions{})
			if len(ps) != 2 {
				t.Fatalf("%d plans", len(ps))
			}
			if ps[0].Rejection == nil || !strings.Contains(ps[0].Rejection.Reason, want) {
				t.Errorf("plan %+v, want a rejection containing %q", ps[0], want)
			}
			if ps[1].Rejection != nil || len(ps[1].Ops) != 1 {
				t.Errorf("the next event: %+v %v", ps[1], ps[1].Rejection)
			}
		})
	}
}

const commissionXML = `<eventTime>2026-01-02T10:00:00.000+01:00</eventTime><eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
<epcList><epc>urn:epc:id:sgtin:9506000.013435.A1</epc></epcList><action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
<ilmd><cbvmda:lotNumber>L42</cbvmda:lotNumber><cbvmda:itemExpirationDate>2028-06-30</cbvmda:itemExpirationDate></ilmd>`

// TestXMLDocumentErrors: a document that is not well-formed XML or not an
// EPCIS document stops the import with a DocumentError naming the line and
// column; the error is sticky.
func TestXMLDocumentErrors(t *testing.T) {
	ev := "<ObjectEvent>" + commissionXML + "</ObjectEvent>"
	cases := []struct {
		name, doc string
		events    int // plans before the error
		line      int
		reason    string
	}{
		{"empty", "", 0, 1, "the document is empty"},
		{"not XML", "{\"type\":\"EPCISDocument\"}", 0, 1, "text before the root element"},
		{"wrong root", `<EPCISDocument xmlns="urn:example"/>`, 0, 1, `the root element is <EPCISDocument> (namespace "urn:example")`},
		{"no event list", `<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2">` + "\n<EPCISBody/>\n</epcis:EPCISDocument>", 0, 3, "no EPCISBody/EventList"},
		{"mismatched tag", strings.Replace(xmlDoc("2.0", ev, ev), "</action>", "</Action>", 2), 0, 8, "not well-formed XML: element <action> closed by </Action>"},
		{"truncated after an event", strings.SplitAfter(xmlDoc("2.0", ev, ev), "</ObjectEvent>")[0], 1, 9, "the document ends before its root element is closed"},
		{"second root", xmlDoc("2.0", ev) + "<epcis:EPCISDocument/>", 1, 13, "a second root element after the document"},
		{"unsupported encoding", `<?xml version="1.0" encoding="EBCDIC"?><epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"/>`, 0, 1, `encoding "EBCDIC"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewXMLReader(strings.NewReader(tc.doc), ImportOptions{})
			var err error
			n := 0
			for {
				if _, err = r.Next(); err != nil {
					break
				}
				n++
			}
			var de *DocumentError
			if !errors.As(err, &de) || !strings.Contains(de.Reason, tc.reason) || de.Line != tc.line || de.Column < 1 {
				t.Fatalf("err = %v (%#v), want a DocumentError at line %d containing %q", err, de, tc.line, tc.reason)
			}
			if n != tc.events {
				t.Errorf("%d plans before the error, want %d", n, tc.events)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("line %d, column ", tc.line)) {
				t.Errorf("message %q names no line", err)
			}
			if _, again := r.Next(); again != err {
				t.Errorf("the error is not sticky: %v", again)
			}
		})
	}
}

func TestXMLQueryDocumentLatin1AndTrailer(t *testing.T) {
	doc := "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<!-- a comment -->\n" +
		`<epcisq:EPCISQueryDocument xmlns:epcisq="urn:epcglobal:epcis-query:xsd:1" xmlns:cbvmda="urn:epcglobal:cbv:mda" schemaVersion="1.2" creationDate="2026-01-01T00:00:00Z">` +
		`<EPCISBody><epcisq:QueryResults><queryName>SimpleEventQuery</queryName><resultsBody><EventList>` +
		"<ObjectEvent>" + strings.Replace(commissionXML, "L42", "L\xe942", 1) + "</ObjectEvent>" +
		`</EventList></resultsBody></epcisq:QueryResults></EPCISBody></epcisq:EPCISQueryDocument>` + "\n<!-- trailer -->\n"
	ps := readAllXML(t, doc, ImportOptions{})
	if len(ps) != 1 {
		t.Fatalf("%d plans", len(ps))
	}
	// The lot is not a valid GS1 lot (é is not in the GS1 character set):
	// the ISO-8859-1 é came through as é.
	if ps[0].Rejection == nil || !strings.Contains(ps[0].Rejection.Reason, "é") {
		t.Errorf("plan %+v %v", ps[0], ps[0].Rejection)
	}
}

func TestDetectFormat(t *testing.T) {
	cases := []struct {
		in   string
		want Format
	}{
		{`{"type":"EPCISDocument"}`, FormatJSON},
		{"\n\t  <?xml version=\"1.0\"?><x/>", FormatXML},
		{"\xef\xbb\xbf<epcis:EPCISDocument/>", FormatXML},
		{"\xef\xbb\xbf  {}", FormatJSON},
		{"", FormatJSON},
		{"   ", FormatJSON},
	}
	for _, tc := range cases {
		f, r, err := DetectFormat(strings.NewReader(tc.in))
		if err != nil || f != tc.want {
			t.Errorf("%q: %v, %v; want %v", tc.in, f, err, tc.want)
		}
		if b, _ := io.ReadAll(r); string(b) != tc.in {
			t.Errorf("%q: the reader yields %q", tc.in, b)
		}
	}
	if FormatXML.MediaType() != "application/xml" || FormatJSON.MediaType() != "application/ld+json" || FormatXML.String() != "xml" {
		t.Errorf("media types %s %s", FormatXML.MediaType(), FormatJSON.MediaType())
	}
}

// generate12 writes an EPCIS 1.2 XML document of n dispensing events (one
// pack each, with the 1.2 baseExtension and extension wrappers), counting
// the events written in *written.
func generate12(w io.Writer, n int, written *atomic.Int64) error {
	if _, err := io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1" xmlns:ex="https://ns.example.com/epcis/" schemaVersion="1.2" creationDate="2026-01-01T00:00:00Z">
<EPCISBody><EventList>
`); err != nil {
		return err
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		if _, err := fmt.Fprintf(w, `<ObjectEvent><eventTime>%s</eventTime><eventTimeZoneOffset>+01:00</eventTimeZoneOffset>`+
			`<baseExtension><eventID>urn:uuid:00000000-0000-4000-8000-%012d</eventID></baseExtension>`+
			`<epcList><epc>urn:epc:id:sgtin:9506000.013435.S%08d</epc></epcList><action>OBSERVE</action>`+
			`<bizStep>urn:epcglobal:cbv:bizstep:dispensing</bizStep><disposition>urn:epcglobal:cbv:disp:dispensed</disposition>`+
			`<readPoint><id>urn:epc:id:sgln:9506000.00003.0</id></readPoint><bizLocation><id>urn:epc:id:sgln:9506000.00003.0</id></bizLocation>`+
			`<extension><sourceList><source type="urn:epcglobal:cbv:sdt:owning_party">urn:epc:id:pgln:9506000.00003</source></sourceList></extension>`+
			`<ex:till>%d</ex:till></ObjectEvent>`+"\n",
			t0.Add(time.Duration(i)*time.Second).In(time.FixedZone("", 3600)).Format("2006-01-02T15:04:05.000-07:00"), i, i, i%7); err != nil {
			return err
		}
		written.Add(1)
	}
	_, err := io.WriteString(w, "</EventList></EPCISBody></epcis:EPCISDocument>\n")
	return err
}

// TestXMLImportStreams imports a 100,000-event EPCIS 1.2 XML document
// produced by a generator through a pipe: plans come out while the
// document is still being written, and the heap stays flat (the document
// is some 70 MB).
func TestXMLImportStreams(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	pr, pw := io.Pipe()
	var written atomic.Int64
	go func() { pw.CloseWithError(generate12(pw, n, &written)) }()
	defer pr.Close()
	opt := ImportOptions{LookupPack: func(trace.PackRef) (string, string, bool, error) { return "L1", "281231", true, nil }}
	r := NewXMLReader(pr, opt)
	var ms runtime.MemStats
	heap := func() uint64 { runtime.GC(); runtime.ReadMemStats(&ms); return ms.HeapAlloc }
	var base, peak uint64
	for i := 0; ; i++ {
		p, err := r.Next()
		if err == io.EOF {
			if i != n {
				t.Fatalf("%d events, want %d", i, n)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Rejection != nil || len(p.Ops) != 1 || p.Ops[0].Transaction != trace.TxDispense || p.Site != "9506000000039" {
			t.Fatalf("event %d: %+v %v", i, p, p.Rejection)
		}
		switch {
		case i == 0:
			if w := written.Load(); w >= int64(n) {
				t.Errorf("the first plan came after the whole document was written (%d events)", w)
			}
		case i == 1000:
			base = heap()
		case i > 1000 && i%10_000 == 0:
			peak = max(peak, heap())
		}
	}
	peak = max(peak, heap())
	t.Logf("%d events: heap %.1f MB after 1,000 events, at most %.1f MB after", n, float64(base)/1e6, float64(peak)/1e6)
	if peak > base+4<<20 {
		t.Errorf("the heap grew from %d to %d bytes while streaming", base, peak)
	}
}

// readAllXML plans every event of an XML document.
func readAllXML(t *testing.T, doc string, opt ImportOptions) []Planned {
	t.Helper()
	r := NewXMLReader(strings.NewReader(doc), opt)
	var out []Planned
	for {
		p, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, p)
	}
}

// xmlEventsOf decodes the events of an XML document in memory.
func xmlEventsOf(t *testing.T, doc string) []map[string]any {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return xmlDocEvents(t, p)
}
