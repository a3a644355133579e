package epcis

// CBV 2.0 bare-string vocabularies, as the EPCIS 2.0 JSON-LD context
// (https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld) defines
// them for bizStep, disposition (and persistentDisposition), business
// transaction types, source/destination types and error reasons. A bare
// value from these lists expands to its CBV Web URI
// "https://ref.gs1.org/cbv/" + prefix + value when hashing (rule 16 of the
// event hash algorithm). TestVocabularyMatchesContext checks the lists
// against the shared copy of the context when it is present.
var (
	bizSteps = vocab("BizStep-", "accepting", "arriving", "assembling", "collecting", "commissioning",
		"consigning", "creating_class_instance", "cycle_counting", "decommissioning", "departing",
		"destroying", "disassembling", "dispensing", "encoding", "entering_exiting", "holding",
		"inspecting", "installing", "killing", "loading", "other", "packing", "picking", "receiving",
		"removing", "repackaging", "repairing", "replacing", "reserving", "retail_selling", "sampling",
		"sensor_reporting", "shipping", "staging_outbound", "stock_taking", "stocking", "storing",
		"transporting", "unloading", "unpacking", "void_shipping")
	dispositions = vocab("Disp-", "active", "available", "completeness_verified", "completeness_inferred",
		"conformant", "container_closed", "container_open", "damaged", "destroyed", "dispensed",
		"disposed", "encoded", "expired", "in_progress", "in_transit", "inactive", "mismatch_instance",
		"mismatch_class", "mismatch_quantity", "needs_replacement", "no_pedigree_match",
		"non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved",
		"retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
		"unavailable", "unknown")
	bizTransactionTypes = vocab("BTT-", "bol", "cert", "desadv", "inv", "pedigree", "po", "poc",
		"prodorder", "recadv", "rma", "testprd", "testres", "upevt")
	sourceDestTypes = vocab("SDT-", "owning_party", "possessing_party", "location")
	errorReasons    = vocab("ER-", "did_not_occur", "incorrect_data")
)

// cbvWebURI is the namespace of the CBV 2.0 Web vocabulary.
const cbvWebURI = "https://ref.gs1.org/cbv/"

// gs1WebVoc is the namespace the reference implementation uses for GS1 Web
// Vocabulary terms (sensor measurement types, sensor alert types).
const gs1WebVoc = "https://ref.gs1.org/voc/"

// vocabulary maps a bare CBV value to its Web URI.
type vocabulary struct {
	prefix string // e.g. "BizStep-"
	terms  map[string]bool
}

func vocab(prefix string, terms ...string) *vocabulary {
	v := &vocabulary{prefix: prefix, terms: make(map[string]bool, len(terms))}
	for _, t := range terms {
		v.terms[t] = true
	}
	return v
}

// expand returns the Web URI of a bare term of v, or s unchanged.
func (v *vocabulary) expand(s string) string {
	if v != nil && v.terms[s] {
		return cbvWebURI + v.prefix + s
	}
	return s
}

// bare returns the bare term for a bare term, its Web URI or its CBV 1.x URN
// (urn:epcglobal:cbv:<kind>:<term>), and whether s denoted a term of v.
func (v *vocabulary) bare(s string, urnKind string) (string, bool) {
	switch {
	case v.terms[s]:
		return s, true
	case len(s) > len(cbvWebURI+v.prefix) && s[:len(cbvWebURI+v.prefix)] == cbvWebURI+v.prefix:
		t := s[len(cbvWebURI+v.prefix):]
		return t, v.terms[t]
	case len(s) > len("urn:epcglobal:cbv:"+urnKind+":") && s[:len("urn:epcglobal:cbv:"+urnKind+":")] == "urn:epcglobal:cbv:"+urnKind+":":
		t := s[len("urn:epcglobal:cbv:"+urnKind+":"):]
		return t, v.terms[t]
	}
	return s, false
}
