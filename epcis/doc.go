// Package epcis is PharmaTrace's pure GS1 EPCIS 2.0 interoperability core:
// export of ledger events as EPCIS 2.0 JSON-LD or XML documents, import of
// EPCIS documents (2.0 JSON-LD, 2.0 or 1.2 XML) as planned ledger requests,
// the canonical EPCIS event hash, and the suspect-product report. It does no I/O beyond the readers and writers
// it is given and imports only the standard library and PharmaTrace's trace
// and gs1 packages.
//
// # Export
//
// Encoder (or Export) turns trace.Event values, in the order given, into
// one EPCISDocument with the standard @context, written as a stream
// (header, one event at a time, footer), so documents of any size use
// constant memory; Options.Format FormatXML writes EPCIS 2.0 XML instead
// (see XML below). Options choose SGTIN EPC URIs or GS1 Digital Link URIs
// for packs (EPCForm), the GS1 Company Prefix length of each key
// (CompanyPrefixLen; DefaultCompanyPrefixLen = 7 otherwise), a pack filter
// (Packs for a pack or a shipment's packs, Lot for a lot, or any func), a
// time range and ledger references. One ledger transaction yields at most
// one EPCIS event, listing all its packs that pass the filter; refused
// transactions and transactions that move no pack yield none. eventTime is
// the transaction timestamp (UTC, milliseconds), eventTimeZoneOffset
// "+00:00", and eventID the canonical event hash of the event as written.
// readPoint and bizLocation are the SGLN (extension 0) of the acting site's
// GLN; a party in sourceList/destinationList appears as owning_party (its
// GLN as PGLN) and location (the same GLN as SGLN). A shipment is
// referenced in bizTransactionList as type desadv with the URN
// urn:pharmatrace:shipment:{shipment ID} (ShipmentURNPrefix).
//
//	Transaction        EPCIS event       action   bizStep          disposition
//	CommissionPacks    ObjectEvent       ADD      commissioning    active       ilmd cbvmda:lotNumber, cbvmda:itemExpirationDate (YYYY-MM-DD)
//	Aggregate          AggregationEvent  ADD      packing          in_progress  parentID = SSCC, childEPCs = packs
//	Ship               ObjectEvent       OBSERVE  shipping         in_transit   epcList = SSCCs + loose packs; source/destination; desadv
//	Receive            ObjectEvent       OBSERVE  receiving        in_progress  packs received; source = shipper, destination = receiver
//	Dispense           ObjectEvent       OBSERVE  dispensing       dispensed
//	Decommission
//	  destroyed        ObjectEvent       DELETE   destroying       destroyed
//	  stolen           ObjectEvent       OBSERVE  decommissioning  stolen
//	  exported, sample, free_sample, locked, checked_out
//	                   ObjectEvent       OBSERVE  decommissioning  inactive
//	Undo               ObjectEvent       OBSERVE  stocking         active
//
// Decommission events carry the EU reason in the user extension
// pharmatrace:decommissionReason (namespace urn:pharmatrace:epcis:), since
// CBV has no disposition per EU reason; with Options.LedgerRefs every event
// also carries pharmatrace:transaction and pharmatrace:txId. Only destroying
// uses action DELETE: the other EU decommissionings are reversible (Undo),
// so the EPC stays alive (OBSERVE) and the disposition says inactive. CBV
// has no re-activation step; Undo is exported as stocking/active (the pack
// returns to saleable stock). Lot transactions (release, recall,
// withdrawal), scans and anomaly workflow are not exported; the ledger has
// no unpacking transaction (shipping a pack loose breaks its case without a
// record of the case), so no unpacking events are written.
//
// # Import
//
// Reader decodes an EPCIS 2.0 JSON or JSON-LD document with json.Decoder
// tokens: it walks to epcisBody.eventList and decodes one event at a time,
// so documents of 100,000+ events never sit in memory. Each event becomes a
// Planned value: its canonical hash ID, its site (bizLocation, else
// readPoint) and either ledger writes (Ops) or a Rejection with the reason:
//
//	EPCIS event                               ledger writes
//	ObjectEvent ADD commissioning             CommissionPacks per GTIN (lot from ilmd cbvmda:lotNumber,
//	                                          expiry from cbvmda:itemExpirationDate, or AI 10/17 of Digital
//	                                          Link URIs), split every ImportOptions.MaxSerials serials
//	AggregationEvent ADD packing              Aggregate (parentID SSCC, childEPCs packs)
//	ObjectEvent OBSERVE shipping              Ship (packs and SSCCs; destination from destinationList: the
//	                                          location's GLN, MSP through ImportOptions.LookupGLN)
//	ObjectEvent OBSERVE receiving             Receive of the shipment the desadv names
//	ObjectEvent OBSERVE dispensing            Dispense, one per pack
//	ObjectEvent DELETE|OBSERVE destroying     Decommission destroyed, one per pack
//	ObjectEvent OBSERVE|DELETE decommissioning
//	                                          Decommission, one per pack, reason from
//	                                          pharmatrace:decommissionReason (else stolen for disposition stolen)
//	ObjectEvent OBSERVE stocking, active      Undo, one per pack
//
// The shipment ID comes from the desadv business transaction: an
// urn:pharmatrace:shipment: URN gives the ID itself, another desadv (a
// partner's ASN) "asn-" and a hash of it, so that its shipping and
// receiving events meet; a shipping event without one uses its request ID.
// A replayed scan needs the pack's lot and expiry: from the EPC (Digital
// Link AI 10/17), else from the document's own commissioning, else from
// ImportOptions.LookupPack (the ledger). The request ID is
// RequestID(eventID): "ev:" and the first 40 hex digits of the event hash,
// with ".1", ".2"... appended when an event needs several writes, so
// importing the same document twice sends the same requests and the
// ledger answers the second time with the original outcomes. Everything
// else (other business steps, class-level quantities, unpacking, nested
// aggregation, error declarations...) is rejected with a reason, never
// dropped silently. So is an event of an applied step that carries a fact
// the ledger cannot record, the reason naming the field: sensorElementList
// (readings, cold-chain alarms such as ALARM_CONDITION),
// persistentDisposition, or a disposition other than the step's ordinary
// ones (receiving: in_progress, sellable_accessible, sellable_not_accessible;
// dispensing: dispensed; shipping: in_transit; commissioning and stocking:
// active; packing: in_progress, container_closed; destroying: destroyed;
// decommissioning: inactive, stolen), so damaged, non_sellable_*, expired,
// recalled or partially_dispensed packs are rejected rather than imported as
// plain receipts or dispensings (PharmaTrace records such facts through its
// own recall and anomaly workflows, not from imported events). eventTime
// must be a date-time with time zone and eventTimeZoneOffset ±HH:MM. An
// event's own @context adds its prefixes to the document's, for its hash
// and for the extensions import reads. Report collects applied, skipped and
// rejected events. Package epcis/importer applies the plans: in
// dependency-preserving segments, concurrently within a segment, with
// consecutive one-pack commissioning events merged into one write.
//
// # XML
//
// NewXMLReader reads EPCIS XML: an EPCISDocument or EPCISQueryDocument of
// EPCIS 2.0 (namespace urn:epcglobal:epcis:xsd:2) or 1.2
// (urn:epcglobal:epcis:xsd:1). It walks encoding/xml tokens to EventList and
// reads one event element at a time into the JSON-LD structure of the event
// (the map the JSON reader decodes), which is then planned and hashed as a
// JSON event: planning, rejection reasons and event IDs are those of the
// JSON twin. Lists become arrays (epcList/epc, quantityList/quantityElement,
// bizTransaction, source and destination with their type attribute),
// sensorMetadata and sensorReport attributes become members, repeated
// elements arrays, an element with attributes and text an object with
// "#text"; the EPCIS 1.2 <extension> and <baseExtension> wrappers (of an
// event, its readPoint, bizLocation or ILMD, and of the TransformationEvent
// in the event list) are unwrapped. User extensions (namespace-qualified
// elements and attributes) keep their namespace, as "{namespace}local",
// which the hash reads as it reads a JSON-LD "prefix:local" expanded; CBV
// values stay as written (URNs in XML: the planner and the hash know
// every form). An unqualified element that is no EPCIS field, an element
// where text belongs, a field given twice or an undeclared prefix rejects
// the event, the reason naming the element and its line; XML that is not
// well-formed (or not EPCIS) stops the import with a DocumentError naming
// the line and column. UTF-8, US-ASCII and ISO-8859-1 are read; entities
// are not expanded beyond XML's own. DetectFormat tells XML from JSON by
// the first byte that is not white space.
//
// The XML export writes each event of the JSON export as an EPCIS 2.0
// element: standard fields in the schema's order (by event type), CBV
// values as URNs (urn:epcglobal:cbv:bizstep:shipping), ILMD under
// xmlns:cbvmda="urn:epcglobal:cbv:mda", PharmaTrace's extensions under
// xmlns:pharmatrace="urn:pharmatrace:epcis:", so each event hashes to the
// eventID it carries, as in the JSON export. The official EPCIS XML schema
// is not available here: tests check the export's structure, read it back
// (same plans and hashes as the JSON export) and write every published
// JSON example as XML and back (same hash). The golden test also holds the
// reference's XML examples (testdata/eventhash/README.md).
//
// # Canonical event hash
//
// Context.EventID computes the EPCIS Event Hash ID of CBV 2.0 ("Canonical
// event hash"), ni:///sha-256;{hex}?ver=CBV2.0, from a pre-hash string
// (Context.PreHash): the event type, the standard fields in the canonical
// property order, then ILMD, then the user extensions nested in standard
// fields (each block prefixed with the field's name, in the property order:
// quantity lists, persistentDisposition, readPoint, bizLocation, sensor
// elements with their sensorMetadata and sensorReport), then the event's own
// user extensions, all sorted where the algorithm sorts, with timestamps in
// UTC at millisecond precision, bare CBV values and CBV 1.x URNs as CBV Web
// URIs, numbers without trailing zeros, and every EPC URI or GS1 Digital
// Link URI in constrained canonical Digital Link form (! ' ( ) * of an EPC
// component stay unescaped, + , : become %2B %2C %3A). The golden test
// checks it against every JSON example published with the reference
// implementation's current test set (github.com/RalphTro/epcis-event-hash-
// generator, documents/ and expected/CBV2.0/); see
// testdata/eventhash/README.md. Where the algorithm text and the reference
// implementation differ, the published examples decide (a business
// transaction's or source's type precedes its value; sensor elements carry no
// "sensorElementList" label; nested user extensions move after ILMD; cbvmda
// keys hash under the XML namespace urn:epcglobal:cbv:mda unless the
// document's own @context redefines the prefix; certificationInfo does not
// take part). Known deviations from the reference implementation, none of
// which affects the events PharmaTrace exports or imports: bare CBV values
// are expanded only in the fields the EPCIS context types as vocabulary (the
// reference expands any matching string); masterDataAvailableFor is hashed
// as a plain user extension (the reference normalises it with the GS1 Web
// Vocabulary's JSON-LD context); JSON null contributes the bare key.
//
// # Suspect-product report
//
// BuildSuspectReport assembles, from an anomaly, the pack, its history and
// its product, the content of an FDA Form 3911 notification (or EU alert to
// the marketing authorisation holder): the pack's identifiers (GTIN, NDC
// when the GTIN carries one, serial, lot, expiry, SGTIN, Digital Link), the
// chain of custody, the anomaly's evidence and workflow, and the problem
// type derived from the anomaly (ProblemType). RenderHTML prints it as a
// self-contained HTML page.
//
// # Identifiers
//
// SGTIN, SGLN, PGLN and SSCC build EPC URIs from GS1 keys given the company
// prefix length; ParseSGLN, ParsePGLN and ParseSSCC read them back;
// DigitalLinkSGTIN builds the Digital Link URI of a pack.
package epcis
