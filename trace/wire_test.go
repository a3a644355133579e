package trace

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	okGTIN = "04006381000017"
	okGLN  = "4000000002017"
)

func TestValidate(t *testing.T) {
	hdr := RequestHeader{RequestID: "r-1"}
	sc := Scan{GTIN: okGTIN, Serial: "S1", Lot: "L1", Expiry: "281231"}
	for _, tc := range []struct {
		name string
		req  Request
		want string // "" = valid; else the expected message prefix after "invalid request: "
	}{
		{"commission ok", &CommissionPacksRequest{RequestHeader: hdr, GTIN: okGTIN, Lot: "L1", Expiry: "281231", Serials: []string{"A", "B"}}, ""},
		{"commission bad serial", &CommissionPacksRequest{RequestHeader: hdr, GTIN: okGTIN, Lot: "L1", Expiry: "281231", Serials: []string{"A", "B", "C", "AB\x01"}}, `serials[3]: "AB\x01" is not GS1 character set 82`},
		{"commission duplicate", &CommissionPacksRequest{RequestHeader: hdr, GTIN: okGTIN, Lot: "L1", Expiry: "281231", Serials: []string{"A", "B", "A"}}, `serials[2]: "A" duplicates serials[0]`},
		{"commission empty", &CommissionPacksRequest{RequestHeader: hdr, GTIN: okGTIN, Lot: "L1", Expiry: "281231"}, "serials: is empty"},
		{"commission bad expiry", &CommissionPacksRequest{RequestHeader: hdr, GTIN: okGTIN, Lot: "L1", Expiry: "281331", Serials: []string{"A"}}, "expiry:"},
		{"no request id", &ScanRequest{Scan: sc}, "requestId: is empty"},
		{"bad request id", &ScanRequest{RequestHeader: RequestHeader{RequestID: "a b"}, Scan: sc}, "requestId:"},
		{"scan bad gtin", &ScanRequest{RequestHeader: hdr, Scan: Scan{GTIN: "04006381000016", Serial: "S", Lot: "L", Expiry: "281231"}}, "gtin:"},
		{"scan no lot", &ScanRequest{RequestHeader: hdr, Scan: Scan{GTIN: okGTIN, Serial: "S", Expiry: "281231"}}, "lot: is empty"},
		{"scan bad warning", &ScanRequest{RequestHeader: hdr, Scan: Scan{GTIN: okGTIN, Serial: "S", Lot: "L", Expiry: "281231", Warnings: []string{"bad warning"}}}, "warnings[0]:"},
		{"decommission dispensed", &DecommissionRequest{RequestHeader: hdr, Scan: sc, Reason: ReasonDispensed}, "reason: use Dispense"},
		{"decommission unknown", &DecommissionRequest{RequestHeader: hdr, Scan: sc, Reason: "lost"}, "reason:"},
		{"decommission ok", &DecommissionRequest{RequestHeader: hdr, Scan: sc, Reason: ReasonStolen}, ""},
		{"ship no packs", &ShipRequest{RequestHeader: hdr, To: Party{MSP: "X", GLN: okGLN}}, "packs:"},
		{"ship bad gln", &ShipRequest{RequestHeader: hdr, To: Party{MSP: "X", GLN: "123"}, SSCCs: []string{"106141411234567897"}}, "to.gln:"},
		{"ship dup pack", &ShipRequest{RequestHeader: hdr, To: Party{MSP: "X", GLN: okGLN}, Packs: []PackRef{{okGTIN, "A"}, {okGTIN, "A"}}}, "packs[1]: duplicate of packs[0]"},
		{"ship bad sscc", &ShipRequest{RequestHeader: hdr, To: Party{MSP: "X", GLN: okGLN}, SSCCs: []string{"106141411234567890"}}, "ssccs[0]:"},
		{"receive ok", &ReceiveRequest{RequestHeader: hdr, ShipmentID: "SH-1", SSCCs: []string{"106141411234567897"}}, ""},
		{"aggregate too many", &AggregateRequest{RequestHeader: hdr, SSCC: "106141411234567897", Packs: make([]PackRef, MaxAggregationPacks+1)}, "packs:"},
		{"product ok", &RegisterProductRequest{RequestHeader: hdr, GTIN: okGTIN, Name: "N", Form: "tablet", Strength: "5 mg", PackSize: 10}, ""},
		{"product control char", &RegisterProductRequest{RequestHeader: hdr, GTIN: okGTIN, Name: "N\n", Form: "tablet", Strength: "5 mg", PackSize: 10}, "name:"},
		{"product pack size", &RegisterProductRequest{RequestHeader: hdr, GTIN: okGTIN, Name: "N", Form: "tablet", Strength: "5 mg"}, "packSize:"},
		{"lot status", &RegisterLotRequest{RequestHeader: hdr, GTIN: okGTIN, Lot: "L", Expiry: "281231", Status: LotRecalled}, "status:"},
		{"flag ok", &FlagAnomalyRequest{RequestHeader: hdr, Code: AnomalyManual, Severity: SeverityHigh, Classification: ClassDiversion, Message: "seen"}, ""},
		{"flag bad code", &FlagAnomalyRequest{RequestHeader: hdr, Code: "X", Severity: SeverityHigh, Classification: ClassDiversion, Message: "m"}, "code:"},
		{"transition to new", &TransitionAnomalyRequest{RequestHeader: hdr, AnomalyID: "A", To: AnomalyNew}, "to:"},
		{"history limit", &PackHistoryQuery{GTIN: okGTIN, Serial: "S", Limit: MaxHistory + 1}, "limit:"},
		{"page size", &ListAnomaliesQuery{PageSize: MaxPageSize + 1}, "pageSize:"},
		{"list packs bad state", &ListPacksByLotQuery{GTIN: okGTIN, Lot: "L", State: "gone"}, "state:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.req.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidRequest) || !strings.HasPrefix(err.Error(), "invalid request: "+tc.want) {
				t.Fatalf("got %v, want prefix %q", err, "invalid request: "+tc.want)
			}
		})
	}
}

func TestWireJSON(t *testing.T) {
	// Embedded headers and scans are flattened; the outcome is nested.
	b, _ := json.Marshal(DecommissionRequest{RequestHeader: RequestHeader{RequestID: "r"}, Scan: Scan{GTIN: okGTIN, Serial: "S", Lot: "L", Expiry: "281231"}, Reason: ReasonStolen})
	if string(b) != `{"requestId":"r","gtin":"04006381000017","serial":"S","lot":"L","expiry":"281231","reason":"stolen"}` {
		t.Fatal(string(b))
	}
	b, _ = json.Marshal(ScanResult{Outcome: Refused(CodeUnknownSerial, "m")})
	if string(b) != `{"outcome":{"status":"refused","code":"A3","message":"m"}}` {
		t.Fatal(string(b))
	}
	var r Result = &ScanResult{}
	r.Out().Status = StatusOK
	c := Commissioned{GTIN: okGTIN, Lot: "L", Expiry: "281231", State: StateActive, Custodian: Party{MSP: "M", GLN: okGLN}, Serials: []string{"A", "B"}}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ps := c.Packs("tx", at)
	if len(ps) != 2 || ps[1].Serial != "B" || ps[0].LastTx != "tx" || !ps[0].CommissionedAt.Equal(at) {
		t.Fatalf("%+v", ps)
	}
}
