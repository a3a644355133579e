package epcis

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pharmatrace/pharmatrace/trace"
)

// ImportOptions configure the planning of imported events.
type ImportOptions struct {
	// LookupGLN resolves a destination GLN (site or party) to the MSP ID
	// of the PharmaTrace organisation there. Shipping events need it.
	LookupGLN func(gln string) (msp string, ok bool)
	// MaxSerials caps the serials of one CommissionPacksRequest; a larger
	// commissioning event is split into several requests (default
	// trace.DefaultMaxCommission).
	MaxSerials int
	// LookupPack returns the lot and expiry (YYMMDD) of a pack the document
	// did not commission itself and whose EPC does not carry them (an
	// SGTIN EPC URI never does): dispensing, decommissioning and undo need
	// them for the scan they replay. An error stops the import (it is
	// returned by Next); ok false rejects the event.
	LookupPack func(ref trace.PackRef) (lot, expiry string, ok bool, err error)
}

// Op is one ledger write planned for an imported event.
type Op struct {
	// Transaction is the chaincode transaction: trace.TxCommissionPacks,
	// trace.TxShip or trace.TxAggregate.
	Transaction string
	// Request is *trace.CommissionPacksRequest, *trace.ShipRequest or
	// *trace.AggregateRequest; it has passed Validate.
	Request trace.WriteRequest
}

// Rejection explains why an imported event is not applied.
type Rejection struct {
	EventIndex int    `json:"eventIndex"`
	EventID    string `json:"eventId,omitempty"`
	Reason     string `json:"reason"`
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("event %d (%s): %s", r.EventIndex, r.EventID, r.Reason)
}

// Planned is the plan for one imported event: the ledger writes that apply
// it (in order), or its rejection.
type Planned struct {
	// Index is the event's position in epcisBody.eventList, from 0.
	Index int
	// EventID is the event's canonical hash ID (computed, whatever eventID
	// the document declares).
	EventID string
	// Type, Action and BizStep describe the event (BizStep as a bare CBV
	// term when it is one).
	Type, Action, BizStep string
	// Site is the GLN where the event happened: bizLocation, else
	// readPoint ("" when the event names neither). An importer holding
	// several identities signs the writes with the one of this site.
	Site      string
	Ops       []Op
	Rejection *Rejection
}

// RequestIDs returns the request IDs of the planned writes.
func (p *Planned) RequestIDs() []string {
	ids := make([]string, len(p.Ops))
	for i, op := range p.Ops {
		ids[i] = op.Request.ID()
	}
	return ids
}

// Reader decodes an EPCIS 2.0 JSON or JSON-LD document (EPCISDocument, or
// EPCISQueryDocument with epcisBody.queryResults.resultsBody.eventList) as a
// stream: the events of epcisBody.eventList are decoded one at a time, so a
// document of any size is read in constant memory. The @context must come
// before epcisBody (it always does in practice) for its prefixes to be used
// in event hashes.
type Reader struct {
	dec    *json.Decoder
	xml    *xmlEvents // an XML document (NewXMLReader) instead of dec
	opt    ImportOptions
	ctx    *Context                    // the document's @context
	cur    *Context                    // the event being planned: ctx and the event's own @context
	packs  map[trace.PackRef]lotExpiry // packs commissioned by the document
	index  int
	open   int  // JSON objects open around the event list
	inList bool // positioned inside the event list
	done   bool
	err    error
}

// NewReader returns a reader of the document r.
func NewReader(r io.Reader, opt ImportOptions) *Reader {
	rd := newReader(opt, nil)
	rd.dec = json.NewDecoder(r)
	rd.dec.UseNumber()
	return rd
}

func newReader(opt ImportOptions, x *xmlEvents) *Reader {
	if opt.MaxSerials <= 0 {
		opt.MaxSerials = trace.DefaultMaxCommission
	}
	return &Reader{xml: x, opt: opt, ctx: DefaultContext(), packs: map[trace.PackRef]lotExpiry{}}
}

// lotExpiry is what a replayed scan needs besides the pack's identity.
type lotExpiry struct{ lot, expiry string }

// DocumentError says where and how a document is malformed (not JSON or
// not well-formed XML, not an EPCIS document); Reader.Next returns it.
type DocumentError struct {
	Offset int64 // byte offset in the document
	// Line and Column (from 1) locate the error in an XML document; 0 for
	// JSON.
	Line, Column int
	Reason       string
}

func (e *DocumentError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("epcis: XML document at line %d, column %d: %s", e.Line, e.Column, e.Reason)
	}
	return fmt.Sprintf("epcis: document at byte %d: %s", e.Offset, e.Reason)
}

func (r *Reader) fail(format string, args ...any) error {
	r.err = &DocumentError{Offset: r.dec.InputOffset(), Reason: fmt.Sprintf(format, args...)}
	return r.err
}

func (r *Reader) delim(want json.Delim, what string) error {
	t, err := r.dec.Token()
	if err != nil {
		return r.fail("%s: %v", what, err)
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return r.fail("%s: expected %q, found %v", what, string(want), t)
	}
	return nil
}

func (r *Reader) key() (string, bool, error) {
	if !r.dec.More() {
		if _, err := r.dec.Token(); err != nil { // the closing '}'
			return "", false, r.fail("%v", err)
		}
		return "", false, nil
	}
	t, err := r.dec.Token()
	if err != nil {
		return "", false, r.fail("%v", err)
	}
	k, _ := t.(string)
	return k, true, nil
}

func (r *Reader) skip() error {
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		return r.fail("%v", err)
	}
	return nil
}

// start walks to the event list.
func (r *Reader) start() error {
	if err := r.delim('{', "an EPCIS document is a JSON object"); err != nil {
		return err
	}
	r.open = 1
	for {
		k, ok, err := r.key()
		if err != nil {
			return err
		}
		if !ok {
			return r.fail("the document has no epcisBody.eventList")
		}
		switch k {
		case "@context":
			var v any
			if err := r.dec.Decode(&v); err != nil {
				return r.fail("@context: %v", err)
			}
			r.ctx = NewContext(v)
		case "type":
			var v any
			if err := r.dec.Decode(&v); err != nil {
				return r.fail("type: %v", err)
			}
			if s, _ := v.(string); s != "EPCISDocument" && s != "EPCISQueryDocument" {
				return r.fail("type is %v, not EPCISDocument or EPCISQueryDocument", v)
			}
		case "epcisBody":
			return r.body()
		default:
			if err := r.skip(); err != nil {
				return err
			}
		}
	}
}

// body walks from epcisBody to its eventList (directly or under
// queryResults.resultsBody).
func (r *Reader) body() error {
	if err := r.delim('{', "epcisBody"); err != nil {
		return err
	}
	r.open++
	for {
		k, ok, err := r.key()
		if err != nil {
			return err
		}
		if !ok {
			return r.fail("epcisBody has no eventList")
		}
		switch k {
		case "eventList":
			if err := r.delim('[', "epcisBody.eventList"); err != nil {
				return err
			}
			r.inList = true
			return nil
		case "queryResults", "resultsBody":
			if err := r.delim('{', "epcisBody."+k); err != nil {
				return err
			}
			r.open++
		default:
			if err := r.skip(); err != nil {
				return err
			}
		}
	}
}

// finish reads past the event list to the end of the document.
func (r *Reader) finish() error {
	for ; r.open > 0; r.open-- {
		for {
			_, ok, err := r.key()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if err := r.skip(); err != nil {
				return err
			}
		}
	}
	if _, err := r.dec.Token(); err != io.EOF {
		return r.fail("unexpected data after the document")
	}
	return nil
}

// Next returns the plan of the next event, or io.EOF after the last one.
// Events that cannot be applied come back with a Rejection, not an error;
// an error means the document itself is malformed (it is sticky).
func (r *Reader) Next() (Planned, error) {
	if r.err != nil {
		return Planned{}, r.err
	}
	if r.done {
		return Planned{}, io.EOF
	}
	if r.xml != nil {
		return r.nextXML()
	}
	if !r.inList {
		if err := r.start(); err != nil {
			return Planned{}, err
		}
	}
	if !r.dec.More() {
		if _, err := r.dec.Token(); err != nil { // ']'
			return Planned{}, r.fail("eventList: %v", err)
		}
		r.inList = false
		if err := r.finish(); err != nil {
			return Planned{}, err
		}
		r.done = true
		return Planned{}, io.EOF
	}
	var raw any
	if err := r.dec.Decode(&raw); err != nil {
		return Planned{}, r.fail("eventList[%d]: %v", r.index, err)
	}
	i := r.index
	r.index++
	ev, ok := raw.(map[string]any)
	if !ok {
		return Planned{Index: i, Rejection: &Rejection{EventIndex: i, Reason: "the event is not a JSON object"}}, nil
	}
	return r.planEvent(i, ev)
}

// planEvent plans event i; an error (a failed LookupPack) is sticky.
func (r *Reader) planEvent(i int, ev map[string]any) (Planned, error) {
	p, err := r.plan(i, ev)
	if err != nil {
		r.err = fmt.Errorf("epcis: eventList[%d]: %w", i, err)
		return Planned{}, r.err
	}
	return p, nil
}

// nextXML is Next for an XML document: the event element is converted to
// the JSON-LD structure the JSON reader decodes, then planned alike.
func (r *Reader) nextXML() (Planned, error) {
	x := r.xml
	if !x.inList {
		if err := x.start(r); err != nil {
			return Planned{}, err
		}
	}
	n, err := x.next(r)
	if err != nil {
		return Planned{}, err
	}
	if n == nil {
		if err := x.finish(r); err != nil {
			return Planned{}, err
		}
		r.done = true
		return Planned{}, io.EOF
	}
	i := r.index
	r.index++
	ev, err := xmlEvent(n)
	if err != nil {
		return Planned{Index: i, Type: n.name.Local, Rejection: &Rejection{EventIndex: i, Reason: err.Error()}}, nil
	}
	return r.planEvent(i, ev)
}

// Context returns the hash context read from the document's @context.
func (r *Reader) Context() *Context { return r.ctx }

func str(v any) string { s, _ := v.(string); return strings.TrimSpace(s) }

// lookupError marks a LookupPack failure: it stops the import.
type lookupError struct{ err error }

func (e lookupError) Error() string { return e.err.Error() }
func (e lookupError) Unwrap() error { return e.err }

func (r *Reader) plan(i int, ev map[string]any) (Planned, error) {
	p := Planned{Index: i, Type: str(ev["type"]), Action: str(ev["action"])}
	p.BizStep, _ = bizSteps.bare(str(ev["bizStep"]), "bizstep")
	reject := func(format string, args ...any) (Planned, error) {
		p.Ops = nil
		p.Rejection = &Rejection{EventIndex: i, EventID: p.EventID, Reason: fmt.Sprintf(format, args...)}
		return p, nil
	}
	// An event may declare prefixes of its own (event-level @context):
	// they count for its hash and for the extensions import reads.
	r.cur = r.ctx
	if c, ok := ev["@context"]; ok {
		r.cur = r.ctx.With(c)
	}
	id, _, err := r.cur.EventID(ev)
	if err != nil {
		return reject("%v", err)
	}
	p.EventID = id
	reqID := RequestID(id)
	if err := checkTimes(ev); err != nil {
		return reject("%v", err)
	}
	if _, ok := ev["errorDeclaration"]; ok {
		return reject("the event carries an errorDeclaration (it corrects an earlier event); the ledger cannot retract or correct recorded events")
	}
	if err := unrepresented(ev); err != nil {
		return reject("%v", err)
	}
	if p.Site, err = site(ev); err != nil {
		return reject("%v", err)
	}
	disp, _ := dispositions.bare(str(ev["disposition"]), "disp")
	if err := checkDisposition(p.Type, p.BizStep, disp); err != nil {
		return reject("%v", err)
	}
	var ops []Op
	switch {
	case p.Type == "ObjectEvent" && p.Action == "ADD" && p.BizStep == "commissioning":
		ops, err = r.planCommission(ev, reqID)
	case p.Type == "ObjectEvent" && p.Action == "OBSERVE" && p.BizStep == "shipping":
		ops, err = r.planShip(ev, reqID)
	case p.Type == "ObjectEvent" && p.Action == "OBSERVE" && p.BizStep == "receiving":
		ops, err = r.planReceive(ev, reqID)
	case p.Type == "ObjectEvent" && p.Action == "OBSERVE" && p.BizStep == "dispensing":
		ops, err = r.planStatus(ev, reqID, trace.TxDispense, "")
	case p.Type == "ObjectEvent" && p.BizStep == "destroying" && (p.Action == "DELETE" || p.Action == "OBSERVE"):
		ops, err = r.planStatus(ev, reqID, trace.TxDecommission, trace.ReasonDestroyed)
	case p.Type == "ObjectEvent" && (p.Action == "OBSERVE" || p.Action == "DELETE") && p.BizStep == "decommissioning":
		var reason trace.Reason
		if reason, err = r.decommissionReason(ev, disp); err == nil {
			ops, err = r.planStatus(ev, reqID, trace.TxDecommission, reason)
		}
	case p.Type == "ObjectEvent" && p.Action == "OBSERVE" && p.BizStep == "stocking" && disp == "active":
		ops, err = r.planStatus(ev, reqID, trace.TxUndo, "")
	case p.Type == "AggregationEvent" && p.Action == "ADD" && (p.BizStep == "packing" || p.BizStep == ""):
		ops, err = r.planAggregate(ev, reqID)
	case p.Type == "AggregationEvent" && p.Action == "DELETE":
		err = errors.New("unpacking (AggregationEvent DELETE) cannot be represented: the ledger has no unpacking transaction (a case is broken by shipping its packs loose)")
	default:
		desc := strings.TrimSpace(strings.Join([]string{p.Type, p.Action, str(ev["bizStep"])}, " "))
		err = fmt.Errorf("%s cannot be represented on the ledger: import applies ObjectEvents of commissioning (ADD), shipping, receiving and dispensing (OBSERVE), decommissioning and destroying (OBSERVE or DELETE), stocking back to active (undo, OBSERVE), and AggregationEvent ADD packing", desc)
	}
	var le lookupError
	if errors.As(err, &le) {
		return Planned{}, le.err
	}
	if err != nil {
		return reject("%v", err)
	}
	p.Ops = ops
	return p, nil
}

// checkTimes validates eventTime (an xsd:dateTime with time zone, as EPCIS
// requires) and eventTimeZoneOffset (±HH:MM): an event whose time is not a
// time is not planned.
func checkTimes(ev map[string]any) error {
	v, ok := ev["eventTime"]
	if !ok {
		return errors.New("no eventTime: an EPCIS event says when it happened")
	}
	s, _ := v.(string)
	if _, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); err != nil {
		return fmt.Errorf("eventTime %s is not a date-time with time zone (e.g. 2026-01-02T10:00:00.000+01:00)", jsonText(v))
	}
	v, ok = ev["eventTimeZoneOffset"]
	if !ok {
		return errors.New("no eventTimeZoneOffset: EPCIS requires the local time zone offset of the event (e.g. +01:00)")
	}
	if !validOffset(str(v)) {
		return fmt.Errorf("eventTimeZoneOffset %s is not a time zone offset ±HH:MM", jsonText(v))
	}
	return nil
}

func validOffset(o string) bool {
	if len(o) != 6 || (o[0] != '+' && o[0] != '-') || o[3] != ':' || !allDigits(o[1:3]+o[4:]) {
		return false
	}
	return atoi(o[1:3]) <= 14 && atoi(o[4:]) <= 59
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// jsonText quotes a JSON value for a rejection reason.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 80 {
		return fmt.Sprintf("%.80v", v)
	}
	return string(b)
}

// unrepresented rejects the fields of an event that the ledger cannot
// record, so that the event is never planned with them dropped: sensor data
// (sensorElementList: readings, cold-chain alarms) and persistent
// dispositions (e.g. recalled, set on the packs beyond this event).
func unrepresented(ev map[string]any) error {
	if v, ok := ev["sensorElementList"]; ok && !isEmptyList(v) {
		arr, _ := v.([]any)
		what := "sensor readings"
		if ex := sensorExceptions(arr); len(ex) > 0 {
			what = "sensor alarms (" + strings.Join(ex, ", ") + ")"
		}
		return fmt.Errorf("sensorElementList cannot be represented: it carries %s and the ledger records no sensor data, so the event would be applied without them", what)
	}
	if pd, ok := ev["persistentDisposition"]; ok {
		return fmt.Errorf("persistentDisposition %s cannot be represented: the ledger keeps no persistent dispositions, so the event would be applied without it", jsonText(pd))
	}
	return nil
}

func isEmptyList(v any) bool { arr, ok := v.([]any); return ok && len(arr) == 0 }

// sensorExceptions lists the exception values (e.g. ALARM_CONDITION) of
// sensor reports, with the measurement type.
func sensorExceptions(elems []any) []string {
	var out []string
	for _, e := range elems {
		m, _ := e.(map[string]any)
		rs, _ := m["sensorReport"].([]any)
		for _, r := range rs {
			rm, _ := r.(map[string]any)
			if ex := str(rm["exception"]); ex != "" {
				if t := str(rm["type"]); t != "" {
					ex = t + " " + ex
				}
				out = append(out, ex)
			}
		}
	}
	return out
}

// allowedDispositions are, per business step the import applies, the CBV
// dispositions that the planned ledger write records faithfully ("" means
// none given). Any other disposition (damaged, non_sellable_*, expired,
// recalled, partially_dispensed, ...) states a fact about the packs that the
// write would drop, so the event is rejected. (Stocking is applied only
// with disposition active, as an undo.)
var allowedDispositions = map[string][]string{
	"commissioning":   {"", "active"},
	"packing":         {"", "in_progress", "container_closed"},
	"shipping":        {"", "in_transit"},
	"receiving":       {"", "in_progress", "sellable_accessible", "sellable_not_accessible"},
	"dispensing":      {"", "dispensed"},
	"destroying":      {"", "destroyed"},
	"decommissioning": {"", "inactive", "stolen"},
}

func checkDisposition(typ, step, disp string) error {
	allowed, ok := allowedDispositions[step]
	if !ok || (typ != "ObjectEvent" && typ != "AggregationEvent") || slices.Contains(allowed, disp) {
		return nil // not a step import applies: rejected by plan
	}
	return fmt.Errorf("disposition %q cannot be represented on a %s event: the ledger would record an ordinary %s and lose it (accepted: %s)",
		disp, step, step, strings.Join(slices.DeleteFunc(slices.Clone(allowed), func(s string) bool { return s == "" }), ", "))
}

// site returns the GLN of the event's bizLocation, else of its readPoint.
func site(ev map[string]any) (string, error) {
	for _, f := range []string{"bizLocation", "readPoint"} {
		m, ok := ev[f].(map[string]any)
		if !ok {
			continue
		}
		s := str(m["id"])
		if s == "" {
			continue
		}
		id, err := parseID(s)
		if err != nil {
			return "", fmt.Errorf("%s.id: %v", f, err)
		}
		if id.kind != kindGLN {
			return "", fmt.Errorf("%s.id is not a location (SGLN or Digital Link 414)", f)
		}
		return id.key, nil
	}
	return "", nil
}

// decommissionReason reads the EU reason of a decommissioning event: the
// PharmaTrace extension pharmatrace:decommissionReason, else what the CBV
// disposition implies (stolen).
func (r *Reader) decommissionReason(ev map[string]any, disp string) (trace.Reason, error) {
	for k, v := range ev {
		if k == "pharmatrace:decommissionReason" || r.cur.expandKey(k) == "{"+Namespace+"}decommissionReason" {
			reason := trace.Reason(str(v))
			if slices.Contains(trace.DecommissionReasons, reason) {
				return reason, nil
			}
			return "", fmt.Errorf("%s %q is not an EU decommissioning reason (%v)", k, str(v), trace.DecommissionReasons)
		}
	}
	if disp == "stolen" {
		return trace.ReasonStolen, nil
	}
	return "", fmt.Errorf("decommissioning with disposition %q names no EU reason: add pharmatrace:decommissionReason (namespace %s) with one of %v", disp, Namespace, trace.DecommissionReasons)
}

// ids reads a list of identifiers.
func ids(ev map[string]any, field string) ([]parsedID, error) {
	v, ok := ev[field]
	if !ok {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is not an array", field)
	}
	out := make([]parsedID, 0, len(arr))
	for k, x := range arr {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("%s[%d] is not a string", field, k)
		}
		id, err := parseID(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %v", field, k, err)
		}
		out = append(out, id)
	}
	return out, nil
}

func noQuantities(ev map[string]any, fields ...string) error {
	for _, f := range fields {
		if arr, ok := ev[f].([]any); ok && len(arr) > 0 {
			return fmt.Errorf("%s (class-level quantities) cannot be represented: the ledger tracks serialised packs only", f)
		}
	}
	return nil
}

// mdaField reads a CBV master data attribute (urn:epcglobal:cbv:mda) from
// ilmd, whatever prefix or form the document uses.
func (r *Reader) mdaField(ilmd map[string]any, name string) (string, bool) {
	for k, v := range ilmd {
		ek := r.cur.expandKey(k)
		if k == name || ek == "{urn:epcglobal:cbv:mda}"+name || ek == "{urn:epcglobal:cbv:mda:}"+name ||
			k == "urn:epcglobal:cbv:mda:"+name || k == "urn:epcglobal:cbv:mda#"+name {
			s, ok := scalarText(v)
			return strings.TrimSpace(s), ok && strings.TrimSpace(s) != ""
		}
	}
	return "", false
}

// yymmdd converts an xsd:date (YYYY-MM-DD) to the GS1 YYMMDD form.
func yymmdd(d string) (string, error) {
	if len(d) != 10 || d[4] != '-' || d[7] != '-' || !allDigits(d[:4]+d[5:7]+d[8:]) {
		return "", fmt.Errorf("%q is not a YYYY-MM-DD date", d)
	}
	s := d[2:4] + d[5:7] + d[8:]
	return s, trace.CheckExpiry(s)
}

func (r *Reader) planCommission(ev map[string]any, reqID string) ([]Op, error) {
	if err := noQuantities(ev, "quantityList"); err != nil {
		return nil, err
	}
	epcs, err := ids(ev, "epcList")
	if err != nil {
		return nil, err
	}
	if len(epcs) == 0 {
		return nil, errors.New("epcList is empty: nothing to commission")
	}
	ilmd, _ := ev["ilmd"].(map[string]any)
	lot, hasLot := r.mdaField(ilmd, "lotNumber")
	exp := ""
	if d, ok := r.mdaField(ilmd, "itemExpirationDate"); ok {
		if exp, err = yymmdd(d); err != nil {
			return nil, fmt.Errorf("ilmd itemExpirationDate: %v", err)
		}
	}
	// Group by GTIN in order of first appearance.
	var gtins []string
	serials := map[string][]string{}
	for k, id := range epcs {
		if id.kind != kindSGTIN {
			return nil, fmt.Errorf("epcList[%d] is not a serialised pack (SGTIN): commissioning of other identifiers cannot be represented", k)
		}
		if id.lot != "" {
			if !hasLot {
				lot, hasLot = id.lot, true
			} else if id.lot != lot {
				return nil, fmt.Errorf("epcList[%d] carries lot %q, the event lot %q", k, id.lot, lot)
			}
		}
		if id.expiry != "" {
			if exp == "" {
				exp = id.expiry
			} else if id.expiry != exp {
				return nil, fmt.Errorf("epcList[%d] carries expiry %s, the event expiry %s", k, id.expiry, exp)
			}
		}
		if _, ok := serials[id.key]; !ok {
			gtins = append(gtins, id.key)
		}
		serials[id.key] = append(serials[id.key], id.serial)
	}
	if !hasLot {
		return nil, errors.New("no lot number: the ledger needs ilmd cbvmda:lotNumber (or AI 10 in Digital Link URIs)")
	}
	if exp == "" {
		return nil, errors.New("no expiry date: the ledger needs ilmd cbvmda:itemExpirationDate (or AI 17 in Digital Link URIs)")
	}
	var ops []Op
	for _, g := range gtins {
		for _, ser := range serials[g] {
			r.packs[trace.PackRef{GTIN: g, Serial: ser}] = lotExpiry{lot, exp}
		}
		s := serials[g]
		for len(s) > 0 {
			n := min(len(s), r.opt.MaxSerials)
			ops = append(ops, Op{Transaction: trace.TxCommissionPacks,
				Request: &trace.CommissionPacksRequest{GTIN: g, Lot: lot, Expiry: exp, Serials: s[:n:n]}})
			s = s[n:]
		}
	}
	return numbered(ops, reqID)
}

// numbered sets the request IDs: the event's request ID for a single
// write, the request ID + "." + n (from 1) when an event needs several; and
// validates every request.
func numbered(ops []Op, reqID string) ([]Op, error) {
	for k := range ops {
		id := reqID
		if len(ops) > 1 {
			id = fmt.Sprintf("%s.%d", reqID, k+1)
		}
		// Every planned request embeds trace.RequestHeader.
		ops[k].Request.(interface{ SetID(string) }).SetID(id)
		if err := ops[k].Request.Validate(); err != nil {
			return nil, fmt.Errorf("%s request %s: %v", ops[k].Transaction, id, err)
		}
	}
	return ops, nil
}

func (r *Reader) planShip(ev map[string]any, reqID string) ([]Op, error) {
	_, packs, ssccs, err := epcLists(ev, "ship")
	if err != nil {
		return nil, err
	}
	req := &trace.ShipRequest{Packs: packs, SSCCs: ssccs}
	to, err := r.destination(ev)
	if err != nil {
		return nil, err
	}
	req.To = to
	req.ShipmentID = reqID
	if id, ok := shipmentID(ev); ok {
		req.ShipmentID = id
	}
	return numbered([]Op{{Transaction: trace.TxShip, Request: req}}, reqID)
}

// shipmentID derives the ledger shipment ID from the event's despatch
// advice (bizTransactionList entry of type desadv): a PharmaTrace shipment
// URN gives its ID back; another desadv (a trading partner's ASN) gives
// "asn-" and 32 hex digits of its SHA-256, so that the shipping and the
// receiving event of one ASN name the same shipment.
func shipmentID(ev map[string]any) (string, bool) {
	txs, _ := ev["bizTransactionList"].([]any)
	other := ""
	for _, x := range txs {
		m, _ := x.(map[string]any)
		bt := str(m["bizTransaction"])
		if id, ok := strings.CutPrefix(bt, ShipmentURNPrefix); ok && trace.CheckID(id) == nil {
			return id, true
		}
		if typ, _ := bizTransactionTypes.bare(str(m["type"]), "btt"); typ == "desadv" && bt != "" && other == "" {
			other = bt
		}
	}
	if other == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(other))
	return "asn-" + hex.EncodeToString(sum[:16]), true
}

// epcLists reads epcList as packs (SGTIN) and logistic units (SSCC).
func epcLists(ev map[string]any, what string) ([]parsedID, []trace.PackRef, []string, error) {
	if err := noQuantities(ev, "quantityList"); err != nil {
		return nil, nil, nil, err
	}
	epcs, err := ids(ev, "epcList")
	if err != nil {
		return nil, nil, nil, err
	}
	if len(epcs) == 0 {
		return nil, nil, nil, fmt.Errorf("epcList is empty: nothing to %s", what)
	}
	var packs []trace.PackRef
	var ssccs []string
	for k, id := range epcs {
		switch id.kind {
		case kindSGTIN:
			packs = append(packs, trace.PackRef{GTIN: id.key, Serial: id.serial})
		case kindSSCC:
			ssccs = append(ssccs, id.key)
		default:
			return nil, nil, nil, fmt.Errorf("epcList[%d] is neither a pack (SGTIN) nor a logistic unit (SSCC)", k)
		}
	}
	return epcs, packs, ssccs, nil
}

func (r *Reader) planReceive(ev map[string]any, reqID string) ([]Op, error) {
	_, packs, ssccs, err := epcLists(ev, "receive")
	if err != nil {
		return nil, err
	}
	id, ok := shipmentID(ev)
	if !ok {
		return nil, errors.New("receiving without a despatch advice (bizTransactionList desadv) cannot be represented: the ledger receives a shipment")
	}
	req := &trace.ReceiveRequest{ShipmentID: id, Packs: packs, SSCCs: ssccs}
	return numbered([]Op{{Transaction: trace.TxReceive, Request: req}}, reqID)
}

// planStatus plans one scan per pack of a dispensing, decommissioning,
// destroying or undo event (fn trace.TxDispense, TxDecommission, TxUndo).
func (r *Reader) planStatus(ev map[string]any, reqID, fn string, reason trace.Reason) ([]Op, error) {
	epcs, _, _, err := epcLists(ev, "change")
	if err != nil {
		return nil, err
	}
	ops := make([]Op, 0, len(epcs))
	for k, id := range epcs {
		if id.kind != kindSGTIN {
			return nil, fmt.Errorf("epcList[%d] is not a pack (SGTIN): the ledger changes the state of packs", k)
		}
		ref := trace.PackRef{GTIN: id.key, Serial: id.serial}
		le, ok := r.packs[ref]
		if id.lot != "" && id.expiry != "" {
			le, ok = lotExpiry{id.lot, id.expiry}, true
		}
		if !ok && r.opt.LookupPack != nil {
			lot, exp, found, err := r.opt.LookupPack(ref)
			if err != nil {
				return nil, lookupError{fmt.Errorf("look up pack %s/%s: %w", ref.GTIN, ref.Serial, err)}
			}
			le, ok = lotExpiry{lot, exp}, found
		}
		if !ok {
			return nil, fmt.Errorf("epcList[%d]: pack %s/%s is unknown (not commissioned by this document nor on the ledger), so its lot and expiry are too", k, ref.GTIN, ref.Serial)
		}
		scan := trace.Scan{GTIN: ref.GTIN, Serial: ref.Serial, Lot: le.lot, Expiry: le.expiry}
		var req trace.WriteRequest
		switch fn {
		case trace.TxDecommission:
			req = &trace.DecommissionRequest{Scan: scan, Reason: reason}
		default:
			req = &trace.ScanRequest{Scan: scan}
		}
		ops = append(ops, Op{Transaction: fn, Request: req})
	}
	return numbered(ops, reqID)
}

// destination resolves destinationList to the receiving party: the site is
// the location's GLN (else the owning or possessing party's), the MSP comes
// from LookupGLN of the site (else of the owning party).
func (r *Reader) destination(ev map[string]any) (trace.Party, error) {
	arr, _ := ev["destinationList"].([]any)
	if len(arr) == 0 {
		return trace.Party{}, errors.New("no destinationList: the ledger needs the receiving party (owning_party or location)")
	}
	glns := map[string]string{}
	for k, x := range arr {
		m, ok := x.(map[string]any)
		if !ok {
			return trace.Party{}, fmt.Errorf("destinationList[%d] is not an object", k)
		}
		typ, _ := sourceDestTypes.bare(str(m["type"]), "sdt")
		id, err := parseID(str(m["destination"]))
		if err != nil {
			return trace.Party{}, fmt.Errorf("destinationList[%d]: %v", k, err)
		}
		if id.kind != kindGLN && id.kind != kindParty {
			return trace.Party{}, fmt.Errorf("destinationList[%d] is not a GLN (SGLN, PGLN or Digital Link 414/417)", k)
		}
		if prev, ok := glns[typ]; ok && prev != id.key {
			return trace.Party{}, fmt.Errorf("destinationList names two %s GLNs (%s, %s): one shipment has one destination", typ, prev, id.key)
		}
		glns[typ] = id.key
	}
	site := glns["location"]
	for _, t := range []string{"owning_party", "possessing_party"} {
		if site == "" {
			site = glns[t]
		}
	}
	if site == "" {
		return trace.Party{}, errors.New("destinationList has no owning_party, possessing_party or location")
	}
	if r.opt.LookupGLN == nil {
		return trace.Party{}, errors.New("no GLN directory configured: cannot resolve the destination to an organisation")
	}
	msp, ok := r.opt.LookupGLN(site)
	if !ok && glns["owning_party"] != "" && glns["owning_party"] != site {
		msp, ok = r.opt.LookupGLN(glns["owning_party"])
	}
	if !ok {
		return trace.Party{}, fmt.Errorf("destination GLN %s is not a known PharmaTrace site", site)
	}
	return trace.Party{MSP: msp, GLN: site}, nil
}

func (r *Reader) planAggregate(ev map[string]any, reqID string) ([]Op, error) {
	if err := noQuantities(ev, "childQuantityList"); err != nil {
		return nil, err
	}
	parent := str(ev["parentID"])
	if parent == "" {
		return nil, errors.New("no parentID: packing needs the SSCC of the case")
	}
	pid, err := parseID(parent)
	if err != nil {
		return nil, fmt.Errorf("parentID: %v", err)
	}
	if pid.kind != kindSSCC {
		return nil, errors.New("parentID is not an SSCC: the ledger aggregates packs into SSCCs only")
	}
	kids, err := ids(ev, "childEPCs")
	if err != nil {
		return nil, err
	}
	if len(kids) == 0 {
		return nil, errors.New("childEPCs is empty: nothing to pack")
	}
	req := &trace.AggregateRequest{SSCC: pid.key}
	for k, id := range kids {
		if id.kind != kindSGTIN {
			return nil, fmt.Errorf("childEPCs[%d] is not a pack (SGTIN): nested aggregation (pallets) is not modelled", k)
		}
		req.Packs = append(req.Packs, trace.PackRef{GTIN: id.key, Serial: id.serial})
	}
	return numbered([]Op{{Transaction: trace.TxAggregate, Request: req}}, reqID)
}
