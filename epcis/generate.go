package epcis

import (
	"fmt"
	"io"
	"time"

	"github.com/pharmatrace/pharmatrace/gs1"
	"github.com/pharmatrace/pharmatrace/trace"
)

// generatorEpoch is the eventTime of the first generated event; event i is
// i seconds later. Fixed so that the same arguments always give the same
// document (and so the same event hashes and request IDs).
var generatorEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// GenerateCommissioning writes a valid EPCIS 2.0 document of n
// commissioning events (ObjectEvent ADD commissioning, one pack each) of
// one lot to w, streaming: serials are the first 12 characters of the lot
// followed by an 8-digit index (from 00000001), expiry is GS1 YYMMDD,
// readPoint and bizLocation the SGLN of gln (company prefix length 7).
// The output is deterministic.
func GenerateCommissioning(w io.Writer, n int, gtin, lot, expiry, gln string) error {
	return GenerateCommissioningAs(w, FormatJSON, n, gtin, lot, expiry, gln)
}

// GenerateCommissioningAs is GenerateCommissioning writing a document of
// format f: the XML document holds the same events (same event hashes).
func GenerateCommissioningAs(w io.Writer, f Format, n int, gtin, lot, expiry, gln string) error {
	switch {
	case n < 1 || n > 99_999_999:
		return fmt.Errorf("epcis: GenerateCommissioning: n = %d is not between 1 and 99999999", n)
	case !gs1.ValidGTIN(gtin) || len(gtin) != 14:
		return fmt.Errorf("epcis: GenerateCommissioning: %q is not a GTIN-14", gtin)
	case trace.CheckLot(lot) != nil:
		return fmt.Errorf("epcis: GenerateCommissioning: lot: %v", trace.CheckLot(lot))
	case trace.CheckExpiry(expiry) != nil:
		return fmt.Errorf("epcis: GenerateCommissioning: expiry: %v", trace.CheckExpiry(expiry))
	case !gs1.ValidGLN(gln):
		return fmt.Errorf("epcis: GenerateCommissioning: %q is not a GLN", gln)
	}
	prefix := lot
	if len(prefix) > 12 {
		prefix = prefix[:12]
	}
	enc := NewEncoder(w, Options{CreationDate: generatorEpoch, Format: f})
	site := trace.Party{MSP: "generator", GLN: gln}
	for i := 1; i <= n; i++ {
		at := generatorEpoch.Add(time.Duration(i-1) * time.Second)
		ev := trace.Event{Type: trace.TxCommissionPacks, TxID: fmt.Sprintf("gen%08d", i), Timestamp: at,
			Actor: trace.Actor{MSP: site.MSP, GLN: gln}, Outcome: trace.Outcome{Status: trace.StatusOK},
			Commissioned: &trace.Commissioned{GTIN: gtin, Lot: lot, Expiry: expiry, State: trace.StateActive,
				Custodian: site, Serials: []string{fmt.Sprintf("%s%08d", prefix, i)}}}
		if _, err := enc.Encode(&ev); err != nil {
			return fmt.Errorf("epcis: GenerateCommissioning: event %d: %w", i, err)
		}
	}
	return enc.Close()
}
