package epcis

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/pharmatrace/pharmatrace/trace"
)

// StandardContext is the EPCIS 2.0 JSON-LD context every exported document
// refers to.
const StandardContext = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

// Namespace is the JSON-LD namespace of PharmaTrace's user extension fields
// (prefix "pharmatrace"): pharmatrace:decommissionReason (the EU reason of
// a decommissioning), pharmatrace:transaction and pharmatrace:txId (with
// Options.LedgerRefs).
const Namespace = "urn:pharmatrace:epcis:"

// ShipmentURNPrefix starts the business transaction ID under which a ledger
// shipment appears in bizTransactionList (type desadv):
// urn:pharmatrace:shipment:{shipment ID}. Import reuses the ID it carries.
const ShipmentURNPrefix = "urn:pharmatrace:shipment:"

// EPCForm selects how packs are written in epcList and childEPCs.
type EPCForm int

// EPC forms.
const (
	// FormSGTIN writes SGTIN EPC URIs (urn:epc:id:sgtin:...), the default.
	FormSGTIN EPCForm = iota
	// FormDigitalLink writes canonical GS1 Digital Link URIs
	// (https://id.gs1.org/01/{GTIN}/21/{serial}).
	FormDigitalLink
)

// PackFilter decides whether a pack belongs in an export; lot is the pack's
// lot when the event carries it ("" otherwise).
type PackFilter func(ref trace.PackRef, lot string) bool

// Packs returns a filter matching the given packs (one pack, or a
// shipment's Packs).
func Packs(refs ...trace.PackRef) PackFilter {
	set := make(map[trace.PackRef]bool, len(refs))
	for _, r := range refs {
		set[r] = true
	}
	return func(ref trace.PackRef, _ string) bool { return set[ref] }
}

// Lot returns a filter matching the packs of one lot.
func Lot(gtin, lot string) PackFilter {
	return func(ref trace.PackRef, l string) bool { return ref.GTIN == gtin && l == lot }
}

// Options configure an export.
type Options struct {
	// EPCForm chooses SGTIN EPC URIs or GS1 Digital Link URIs for packs.
	EPCForm EPCForm
	// CompanyPrefixLen returns the GS1 Company Prefix length (6-12) of a
	// GTIN-14, GLN or SSCC, needed to write EPC URIs; nil means
	// DefaultCompanyPrefixLen for every key. (trace.Product.CompanyPrefix
	// gives it for a GTIN.)
	CompanyPrefixLen func(key string) int
	// Filter keeps only the packs it accepts; nil keeps every pack. An
	// event none of whose packs match is left out; an SSCC is kept when one
	// of its packs matches.
	Filter PackFilter
	// From and To bound the transaction time: From <= Timestamp < To; a
	// zero value leaves that side open.
	From, To time.Time
	// CreationDate is the document's creationDate; zero means the time of
	// the first write.
	CreationDate time.Time
	// LedgerRefs adds pharmatrace:transaction and pharmatrace:txId to every
	// event.
	LedgerRefs bool
	// Format chooses EPCIS 2.0 JSON-LD (FormatJSON, the default) or EPCIS
	// 2.0 XML (FormatXML): the same events, fields and event IDs.
	Format Format
}

func (o *Options) prefixLen(key string) int {
	if o.CompanyPrefixLen == nil {
		return DefaultCompanyPrefixLen
	}
	return o.CompanyPrefixLen(key)
}

func (o *Options) keep(ref trace.PackRef, lot string) bool {
	return o.Filter == nil || o.Filter(ref, lot)
}

// Event is the JSON form of one exported EPCIS event, fields in the order
// written.
type Event struct {
	Type                string         `json:"type"`
	EventID             string         `json:"eventID,omitempty"`
	EventTime           string         `json:"eventTime"`
	EventTimeZoneOffset string         `json:"eventTimeZoneOffset"`
	EPCList             []string       `json:"epcList,omitempty"`
	ParentID            string         `json:"parentID,omitempty"`
	ChildEPCs           []string       `json:"childEPCs,omitempty"`
	Action              string         `json:"action"`
	BizStep             string         `json:"bizStep,omitempty"`
	Disposition         string         `json:"disposition,omitempty"`
	ReadPoint           *Location      `json:"readPoint,omitempty"`
	BizLocation         *Location      `json:"bizLocation,omitempty"`
	BizTransactionList  []BizTx        `json:"bizTransactionList,omitempty"`
	SourceList          []Source       `json:"sourceList,omitempty"`
	DestinationList     []Destination  `json:"destinationList,omitempty"`
	ILMD                map[string]any `json:"ilmd,omitempty"`
	DecommissionReason  string         `json:"pharmatrace:decommissionReason,omitempty"`
	Transaction         string         `json:"pharmatrace:transaction,omitempty"`
	TxID                string         `json:"pharmatrace:txId,omitempty"`
}

// Location is a readPoint or bizLocation.
type Location struct {
	ID string `json:"id"`
}

// BizTx is one entry of bizTransactionList.
type BizTx struct {
	Type           string `json:"type,omitempty"`
	BizTransaction string `json:"bizTransaction"`
}

// Source is one entry of sourceList.
type Source struct {
	Type   string `json:"type"`
	Source string `json:"source"`
}

// Destination is one entry of destinationList.
type Destination struct {
	Type        string `json:"type"`
	Destination string `json:"destination"`
}

// exportContext is the hash context of exported documents (their
// @context: the standard context and the pharmatrace prefix).
var exportContext = NewContext(map[string]any{"pharmatrace": Namespace})

// Encoder writes one EPCISDocument to a writer as a stream: the header on
// the first write, each event as it is encoded, the footer on Close. Memory
// use does not grow with the number of events.
type Encoder struct {
	w       *bufio.Writer
	opt     Options
	started bool
	closed  bool
	n       int
	err     error
}

// NewEncoder returns an encoder writing to w.
func NewEncoder(w io.Writer, opt Options) *Encoder {
	return &Encoder{w: bufio.NewWriterSize(w, 64<<10), opt: opt}
}

// Count returns the number of EPCIS events written so far.
func (e *Encoder) Count() int { return e.n }

func (e *Encoder) header() error {
	if e.started {
		return nil
	}
	e.started = true
	cd := e.opt.CreationDate
	if cd.IsZero() {
		cd = time.Now()
	}
	if e.opt.Format == FormatXML {
		_, err := fmt.Fprintf(e.w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
			`<epcis:EPCISDocument xmlns:epcis="%s" xmlns:cbvmda="%s" xmlns:pharmatrace="%s" schemaVersion="2.0" creationDate="%s">`+
			"\n<EPCISBody>\n<EventList>\n", nsEPCIS2, nsCBVMDA, Namespace, formatTime(cd))
		return err
	}
	ctx, _ := json.Marshal([]any{StandardContext, map[string]string{"pharmatrace": Namespace}})
	_, err := fmt.Fprintf(e.w, `{"@context":%s,"type":"EPCISDocument","schemaVersion":"2.0","creationDate":%q,"epcisBody":{"eventList":[`+"\n",
		ctx, formatTime(cd))
	return err
}

// Encode converts one ledger event and writes the EPCIS event it yields
// (transactions that change no pack, refused transactions, events outside
// the time range and events none of whose packs pass the filter yield
// none). It returns the number of EPCIS events written (0 or 1).
func (e *Encoder) Encode(ev *trace.Event) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.closed {
		return 0, errors.New("epcis: Encode after Close")
	}
	out, ok, err := Convert(ev, e.opt)
	if err != nil {
		return 0, err // a bad record: the document stays writable
	}
	if !ok {
		return 0, nil
	}
	b, err := json.Marshal(out)
	if err == nil && e.opt.Format == FormatXML {
		b, err = xmlOf(b)
	}
	if err != nil {
		return 0, fmt.Errorf("epcis: encode %s event of transaction %s: %w", ev.Type, ev.TxID, err)
	}
	if err := e.header(); err != nil {
		e.err = err
		return 0, err
	}
	if e.opt.Format == FormatXML {
		b = append(b, '\n')
	} else if e.n > 0 {
		if _, err := e.w.WriteString(",\n"); err != nil {
			e.err = err
			return 0, err
		}
	}
	if _, err := e.w.Write(b); err != nil {
		e.err = err
		return 0, err
	}
	e.n++
	return 1, nil
}

// Close writes the end of the document (a document with no events if
// nothing was encoded) and flushes. It does not close the underlying writer.
func (e *Encoder) Close() error {
	if e.err != nil {
		return e.err
	}
	if e.closed {
		return nil
	}
	e.closed = true
	if err := e.header(); err != nil {
		e.err = err
		return err
	}
	end := "]}}\n"
	switch {
	case e.opt.Format == FormatXML:
		end = "</EventList>\n</EPCISBody>\n</epcis:EPCISDocument>\n"
	case e.n > 0:
		end = "\n" + end
	}
	if _, err := e.w.WriteString(end); err != nil {
		e.err = err
		return err
	}
	e.err = e.w.Flush()
	return e.err
}

// Export writes every event of a sequence as one EPCISDocument and returns
// the number of EPCIS events written. The sequence's first error stops the
// export (the document is then left unterminated).
func Export(w io.Writer, events iter.Seq2[trace.Event, error], opt Options) (int, error) {
	enc := NewEncoder(w, opt)
	i := 0
	for ev, err := range events {
		if err != nil {
			return enc.Count(), fmt.Errorf("epcis: reading event %d: %w", i, err)
		}
		if _, err := enc.Encode(&ev); err != nil {
			return enc.Count(), fmt.Errorf("epcis: event %d (%s %s): %w", i, ev.Type, ev.TxID, err)
		}
		i++
	}
	return enc.Count(), enc.Close()
}

// nsCBVMDA is the XML namespace of CBV master data attributes (ILMD).
const nsCBVMDA = "urn:epcglobal:cbv:mda"

// xmlDocNS are the namespaces an exported XML document declares on its
// root element.
var xmlDocNS = map[string]string{nsCBVMDA: "cbvmda", Namespace: "pharmatrace"}

// xmlOf rewrites the JSON of one exported event as its EPCIS 2.0 XML
// element.
func xmlOf(event []byte) ([]byte, error) {
	m, err := decodeObject(event)
	if err != nil {
		return nil, err
	}
	return appendXMLEvent(nil, m, exportContext, xmlDocNS)
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// Convert maps one ledger event to its EPCIS event (see the package
// documentation for the mapping), eventID included; ok is false when the
// event yields none.
func Convert(ev *trace.Event, opt Options) (out *Event, ok bool, err error) {
	if ev.Outcome.Status != "" && ev.Outcome.Status != trace.StatusOK {
		return nil, false, nil
	}
	if !opt.From.IsZero() && ev.Timestamp.Before(opt.From) || !opt.To.IsZero() && !ev.Timestamp.Before(opt.To) {
		return nil, false, nil
	}
	c := converter{opt: &opt, ev: ev}
	switch ev.Type {
	case trace.TxCommissionPacks:
		out, err = c.commission()
	case trace.TxAggregate:
		out, err = c.aggregate()
	case trace.TxShip:
		out, err = c.ship()
	case trace.TxReceive:
		out, err = c.receive()
	case trace.TxDispense, trace.TxDecommission, trace.TxUndo:
		out, err = c.statusChange()
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s transaction %s: %w", ev.Type, ev.TxID, err)
	}
	if out == nil {
		return nil, false, nil
	}
	if opt.LedgerRefs {
		out.Transaction, out.TxID = ev.Type, ev.TxID
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, false, err
	}
	id, _, err := exportContext.EventIDJSON(b)
	if err != nil {
		return nil, false, err
	}
	out.EventID = id
	return out, true, nil
}

type converter struct {
	opt *Options
	ev  *trace.Event
}

func (c *converter) base(typ, action, bizStep, disp string) *Event {
	return &Event{Type: typ, EventTime: formatTime(c.ev.Timestamp), EventTimeZoneOffset: "+00:00",
		Action: action, BizStep: bizStep, Disposition: disp}
}

func (c *converter) epc(gtin, serial string) (string, error) {
	if c.opt.EPCForm == FormDigitalLink {
		return DigitalLinkSGTIN(gtin, serial)
	}
	return SGTIN(gtin, serial, c.opt.prefixLen(gtin))
}

// site sets readPoint and bizLocation to the SGLN of gln (none if empty).
func (c *converter) site(e *Event, gln string) error {
	if gln == "" {
		return nil
	}
	u, err := SGLN(gln, c.opt.prefixLen(gln))
	if err != nil {
		return fmt.Errorf("site: %w", err)
	}
	e.ReadPoint, e.BizLocation = &Location{ID: u}, &Location{ID: u}
	return nil
}

// party returns the owning_party (PGLN) and location (SGLN) entries of a
// party's GLN.
func (c *converter) party(p trace.Party) (owner, loc string, err error) {
	if p.GLN == "" {
		return "", "", nil
	}
	n := c.opt.prefixLen(p.GLN)
	if owner, err = PGLN(p.GLN, n); err != nil {
		return "", "", err
	}
	loc, err = SGLN(p.GLN, n)
	return owner, loc, err
}

func (c *converter) sources(p trace.Party) ([]Source, error) {
	o, l, err := c.party(p)
	if err != nil || o == "" {
		return nil, err
	}
	return []Source{{Type: "owning_party", Source: o}, {Type: "location", Source: l}}, nil
}

func (c *converter) destinations(p trace.Party) ([]Destination, error) {
	o, l, err := c.party(p)
	if err != nil || o == "" {
		return nil, err
	}
	return []Destination{{Type: "owning_party", Destination: o}, {Type: "location", Destination: l}}, nil
}

func shipmentTx(id string) []BizTx {
	if id == "" {
		return nil
	}
	return []BizTx{{Type: "desadv", BizTransaction: ShipmentURNPrefix + id}}
}

// isoDate turns a GS1 YYMMDD expiry into YYYY-MM-DD (DD 00 = last day of the
// month; century by the GS1 sliding window from ref).
func isoDate(yymmdd string, ref time.Time) (string, error) {
	d, err := trace.ParseExpiry(yymmdd, ref)
	if err != nil {
		return "", err
	}
	return d.Format(time.DateOnly), nil
}

func (c *converter) commission() (*Event, error) {
	cm := c.ev.Commissioned
	if cm == nil {
		return nil, nil
	}
	e := c.base("ObjectEvent", "ADD", "commissioning", "active")
	for _, s := range cm.Serials {
		if !c.opt.keep(trace.PackRef{GTIN: cm.GTIN, Serial: s}, cm.Lot) {
			continue
		}
		u, err := c.epc(cm.GTIN, s)
		if err != nil {
			return nil, fmt.Errorf("serial %q: %w", s, err)
		}
		e.EPCList = append(e.EPCList, u)
	}
	if len(e.EPCList) == 0 {
		return nil, nil
	}
	exp, err := isoDate(cm.Expiry, c.ev.Timestamp)
	if err != nil {
		return nil, fmt.Errorf("expiry: %w", err)
	}
	e.ILMD = map[string]any{"cbvmda:lotNumber": cm.Lot, "cbvmda:itemExpirationDate": exp}
	return e, c.site(e, cm.Custodian.GLN)
}

// lots indexes the event's pack records by reference.
func (c *converter) lots() map[trace.PackRef]string {
	m := make(map[trace.PackRef]string, len(c.ev.Packs))
	for i := range c.ev.Packs {
		m[c.ev.Packs[i].Ref()] = c.ev.Packs[i].Lot
	}
	return m
}

func (c *converter) aggregate() (*Event, error) {
	if len(c.ev.Aggregations) == 0 {
		return nil, nil
	}
	a := c.ev.Aggregations[0]
	lots := c.lots()
	e := c.base("AggregationEvent", "ADD", "packing", "in_progress")
	for _, r := range a.Packs {
		if !c.opt.keep(r, lots[r]) {
			continue
		}
		u, err := c.epc(r.GTIN, r.Serial)
		if err != nil {
			return nil, fmt.Errorf("pack %s/%s: %w", r.GTIN, r.Serial, err)
		}
		e.ChildEPCs = append(e.ChildEPCs, u)
	}
	if len(e.ChildEPCs) == 0 {
		return nil, nil
	}
	p, err := SSCC(a.SSCC, c.opt.prefixLen(a.SSCC))
	if err != nil {
		return nil, err
	}
	e.ParentID = p
	gln := a.CreatedBy.GLN
	if gln == "" {
		gln = c.ev.Actor.GLN
	}
	return e, c.site(e, gln)
}

func (c *converter) ship() (*Event, error) {
	if len(c.ev.Shipments) == 0 {
		return nil, nil
	}
	sh := c.ev.Shipments[0]
	lots := c.lots()
	inCase := map[trace.PackRef]bool{}
	e := c.base("ObjectEvent", "OBSERVE", "shipping", "in_transit")
	for _, a := range c.ev.Aggregations {
		if a.Shipment != sh.ID {
			continue
		}
		match := false
		for _, r := range a.Packs {
			inCase[r] = true
			match = match || c.opt.keep(r, lots[r])
		}
		if match {
			u, err := SSCC(a.SSCC, c.opt.prefixLen(a.SSCC))
			if err != nil {
				return nil, err
			}
			e.EPCList = append(e.EPCList, u)
		}
	}
	for _, r := range sh.Packs {
		if inCase[r] || !c.opt.keep(r, lots[r]) {
			continue
		}
		u, err := c.epc(r.GTIN, r.Serial)
		if err != nil {
			return nil, fmt.Errorf("pack %s/%s: %w", r.GTIN, r.Serial, err)
		}
		e.EPCList = append(e.EPCList, u)
	}
	if len(e.EPCList) == 0 {
		return nil, nil
	}
	var err error
	e.BizTransactionList = shipmentTx(sh.ID)
	if e.SourceList, err = c.sources(sh.From); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if e.DestinationList, err = c.destinations(sh.To); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	return e, c.site(e, sh.From.GLN)
}

func (c *converter) receive() (*Event, error) {
	e := c.base("ObjectEvent", "OBSERVE", "receiving", "in_progress")
	for i := range c.ev.Packs {
		p := &c.ev.Packs[i]
		if !c.opt.keep(p.Ref(), p.Lot) {
			continue
		}
		u, err := c.epc(p.GTIN, p.Serial)
		if err != nil {
			return nil, fmt.Errorf("pack %s/%s: %w", p.GTIN, p.Serial, err)
		}
		e.EPCList = append(e.EPCList, u)
	}
	if len(e.EPCList) == 0 {
		return nil, nil
	}
	var err error
	if len(c.ev.Shipments) > 0 {
		sh := c.ev.Shipments[0]
		e.BizTransactionList = shipmentTx(sh.ID)
		if e.SourceList, err = c.sources(sh.From); err != nil {
			return nil, fmt.Errorf("from: %w", err)
		}
	}
	if e.DestinationList, err = c.destinations(c.ev.Actor.Party()); err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	return e, c.site(e, c.ev.Actor.GLN)
}

// statusMapping is the CBV mapping of a pack status change.
type statusMapping struct{ action, bizStep, disposition string }

// StatusMapping returns the EPCIS action, CBV bizStep and CBV disposition
// of Dispense, Decommission (by reason) and Undo.
func StatusMapping(tx string, reason trace.Reason) (action, bizStep, disposition string) {
	m := statusMappingOf(tx, reason)
	return m.action, m.bizStep, m.disposition
}

func statusMappingOf(tx string, reason trace.Reason) statusMapping {
	switch {
	case tx == trace.TxDispense || reason == trace.ReasonDispensed:
		return statusMapping{"OBSERVE", "dispensing", "dispensed"}
	case tx == trace.TxUndo:
		return statusMapping{"OBSERVE", "stocking", "active"}
	case reason == trace.ReasonDestroyed:
		return statusMapping{"DELETE", "destroying", "destroyed"}
	case reason == trace.ReasonStolen:
		return statusMapping{"OBSERVE", "decommissioning", "stolen"}
	}
	return statusMapping{"OBSERVE", "decommissioning", "inactive"}
}

func (c *converter) statusChange() (*Event, error) {
	var e *Event
	for i := range c.ev.Packs {
		p := &c.ev.Packs[i]
		if !c.opt.keep(p.Ref(), p.Lot) {
			continue
		}
		if e == nil {
			m := statusMappingOf(c.ev.Type, p.Reason)
			e = c.base("ObjectEvent", m.action, m.bizStep, m.disposition)
			if c.ev.Type == trace.TxDecommission {
				e.DecommissionReason = string(p.Reason)
			}
		}
		u, err := c.epc(p.GTIN, p.Serial)
		if err != nil {
			return nil, fmt.Errorf("pack %s/%s: %w", p.GTIN, p.Serial, err)
		}
		e.EPCList = append(e.EPCList, u)
	}
	if e == nil {
		return nil, nil
	}
	return e, c.site(e, c.ev.Actor.GLN)
}
