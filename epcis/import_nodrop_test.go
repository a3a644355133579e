package epcis

import (
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/trace"
)

// TestImportNeverDropsData: an event carrying a fact the ledger cannot
// record is rejected with a reason naming the field, never planned with the
// fact dropped; what import can represent (an event-level @context, DELETE
// decommissioning) is planned.
func TestImportNeverDropsData(t *testing.T) {
	const (
		when = `"eventTime":"2026-01-05T10:00:00.000+01:00","eventTimeZoneOffset":"+01:00"`
		pack = `"epcList":["https://id.gs1.org/01/09506000134352/10/L1/21/A1?17=280131"]`
		asn  = `"bizTransactionList":[{"type":"desadv","bizTransaction":"urn:pharmatrace:shipment:SH-9"}]`
		dest = `"destinationList":[{"type":"location","destination":"urn:epc:id:sgln:9506000.00002.0"}]`
	)
	ev := func(fields ...string) string { return "{" + strings.Join(fields, ",") + "}" }
	obj := `"type":"ObjectEvent"`
	cases := []struct {
		name, event string
		reason      string // rejection reason contains it; "" = planned
		tx          string // planned transaction
		decReason   trace.Reason
	}{
		// Rejected, naming the field.
		{name: "shipping with a temperature alarm", event: ev(obj, when, pack, `"action":"OBSERVE","bizStep":"shipping","disposition":"in_transit"`, dest,
			`"sensorElementList":[{"sensorMetadata":{"time":"2026-01-05T09:00:00Z"},"sensorReport":[{"type":"Temperature","exception":"ALARM_CONDITION","value":31.5,"uom":"CEL"}]}]`),
			reason: "sensorElementList cannot be represented: it carries sensor alarms (Temperature ALARM_CONDITION)"},
		{name: "shipping with sensor readings", event: ev(obj, when, pack, `"action":"OBSERVE","bizStep":"shipping"`, dest,
			`"sensorElementList":[{"sensorReport":[{"type":"Temperature","value":5,"uom":"CEL"}]}]`),
			reason: "sensorElementList cannot be represented: it carries sensor readings"},
		{name: "persistentDisposition", event: ev(obj, when, pack, `"action":"OBSERVE","bizStep":"shipping"`, dest,
			`"persistentDisposition":{"set":["recalled"]}`),
			reason: `persistentDisposition {"set":["recalled"]} cannot be represented`},
		{name: "receiving damaged", event: ev(obj, when, pack, `"action":"OBSERVE","bizStep":"receiving","disposition":"damaged"`, asn),
			reason: `disposition "damaged" cannot be represented on a receiving event`},
		{name: "receiving non_sellable_other", event: ev(obj, when, pack, `"action":"OBSERVE","bizStep":"receiving","disposition":"https://ref.gs1.org/cbv/Disp-non_sellable_other"`, asn),
			reason: `disposition "non_sellable_other" cannot be represented on a receiving event`},
		{name: "receiving expired (CBV 1 URN)", event: ev(obj, when, pack, `"action":"OBSERVE","bizStep":"receiving","disposition":"urn:epcglobal:cbv:disp:expired"`, asn),
			reason: `disposition "expired"`},
		{name: "dispensing recalled", event: ev(obj, when, pack, `"action":"OBSERVE","bizStep":"dispensing","disposition":"recalled"`),
			reason: `disposition "recalled" cannot be represented on a dispensing event`},
		{name: "partially dispensed", event: ev(obj, when, pack, `"action":"OBSERVE","bizStep":"dispensing","disposition":"partially_dispensed"`),
			reason: `disposition "partially_dispensed"`},
		{name: "eventTime not a time", event: ev(obj, `"eventTime":"yesterday","eventTimeZoneOffset":"+01:00"`, pack, `"action":"OBSERVE","bizStep":"dispensing"`),
			reason: `eventTime "yesterday" is not a date-time with time zone`},
		{name: "eventTime without zone", event: ev(obj, `"eventTime":"2026-01-05T10:00:00","eventTimeZoneOffset":"+01:00"`, pack, `"action":"OBSERVE","bizStep":"dispensing"`),
			reason: `eventTime "2026-01-05T10:00:00" is not a date-time with time zone`},
		{name: "eventTime a number", event: ev(obj, `"eventTime":1767600000,"eventTimeZoneOffset":"+01:00"`, pack, `"action":"OBSERVE","bizStep":"dispensing"`),
			reason: `eventTime 1767600000 is not a date-time`},
		{name: "no eventTime", event: ev(obj, `"eventTimeZoneOffset":"+01:00"`, pack, `"action":"OBSERVE","bizStep":"dispensing"`),
			reason: "no eventTime"},
		{name: "bad zone offset", event: ev(obj, `"eventTime":"2026-01-05T10:00:00Z","eventTimeZoneOffset":"+1:00"`, pack, `"action":"OBSERVE","bizStep":"dispensing"`),
			reason: `eventTimeZoneOffset "+1:00" is not a time zone offset`},
		{name: "DELETE decommissioning without a reason", event: ev(obj, when, pack, `"action":"DELETE","bizStep":"decommissioning"`),
			reason: `decommissioning with disposition "" names no EU reason`},

		// Planned, with the data represented.
		{name: "receiving sellable_not_accessible", event: ev(obj, when, pack, `"action":"OBSERVE","bizStep":"receiving","disposition":"sellable_not_accessible"`, asn),
			tx: trace.TxReceive},
		{name: "empty sensorElementList", event: ev(obj, when, pack, `"action":"OBSERVE","bizStep":"dispensing","disposition":"dispensed","sensorElementList":[]`),
			tx: trace.TxDispense},
		{name: "DELETE decommissioning (CBV pairing) with the EU reason", event: ev(obj, when, pack, `"action":"DELETE","bizStep":"decommissioning",
			"pharmatrace:decommissionReason":"exported"`),
			tx: trace.TxDecommission, decReason: trace.ReasonExported},
		{name: "DELETE decommissioning stolen", event: ev(obj, when, pack, `"action":"DELETE","bizStep":"decommissioning","disposition":"stolen"`),
			tx: trace.TxDecommission, decReason: trace.ReasonStolen},
		{name: "event-level @context prefix for the EU reason", event: ev(`"@context":{"acme":"urn:pharmatrace:epcis:"}`, obj, when, pack,
			`"action":"OBSERVE","bizStep":"decommissioning","disposition":"inactive","acme:decommissionReason":"sample"`),
			tx: trace.TxDecommission, decReason: trace.ReasonSample},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := readAll(t, document(c.event), ImportOptions{LookupGLN: lookup})
			if len(ps) != 1 {
				t.Fatalf("%d plans", len(ps))
			}
			p := ps[0]
			if c.reason != "" {
				if p.Rejection == nil {
					t.Fatalf("planned %+v, want rejection %q", p.Ops, c.reason)
				}
				if !strings.Contains(p.Rejection.Reason, c.reason) || len(p.Ops) != 0 || !strings.HasPrefix(p.Rejection.EventID, "ni:///sha-256;") {
					t.Errorf("rejection %+v\nwant reason containing %q", p.Rejection, c.reason)
				}
				return
			}
			if p.Rejection != nil {
				t.Fatalf("rejected: %s", p.Rejection.Reason)
			}
			if len(p.Ops) != 1 || p.Ops[0].Transaction != c.tx {
				t.Fatalf("ops %+v, want one %s", p.Ops, c.tx)
			}
			if d, ok := p.Ops[0].Request.(*trace.DecommissionRequest); c.decReason != "" && (!ok || d.Reason != c.decReason) {
				t.Errorf("request %+v, want reason %s", p.Ops[0].Request, c.decReason)
			}
		})
	}
}

// TestImportEventContext: an event-level @context counts for the event's
// hash ID and for the ILMD import reads, as the document's own does.
func TestImportEventContext(t *testing.T) {
	event := `{"@context":[{"m":"urn:epcglobal:cbv:mda:","ext":"https://ns.example.com/x/"}],"type":"ObjectEvent",
	 "eventTime":"2026-01-02T10:00:00.000+01:00","eventTimeZoneOffset":"+01:00","epcList":["urn:epc:id:sgtin:9506000.013435.B1"],
	 "action":"ADD","bizStep":"commissioning","disposition":"active","ilmd":{"m:lotNumber":"L9","m:itemExpirationDate":"2028-01-31"},
	 "ext:note":"x"}`
	p := readAll(t, document(event), ImportOptions{})[0]
	if p.Rejection != nil {
		t.Fatal(p.Rejection.Reason)
	}
	if c := p.Ops[0].Request.(*trace.CommissionPacksRequest); c.Lot != "L9" || c.Expiry != "280131" {
		t.Errorf("commissioning %+v: the event's prefix m was not used", c)
	}
	m, err := decodeObject([]byte(event))
	if err != nil {
		t.Fatal(err)
	}
	id, pre, _ := DefaultContext().With(m["@context"]).EventID(m)
	if p.EventID != id || !strings.Contains(pre, "{https://ns.example.com/x/}note=x") {
		t.Errorf("event ID %s, want %s (pre-hash %s)", p.EventID, id, pre)
	}
	if plain, _, _ := DefaultContext().EventID(m); plain == id {
		t.Error("the event-level @context makes no difference to the hash")
	}
}
