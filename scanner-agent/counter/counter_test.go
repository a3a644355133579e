package counter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/scanner-agent/outbox"
	"github.com/pharmatrace/pharmatrace/scanner-agent/station"
	"github.com/pharmatrace/pharmatrace/trace"
)

// fakeLedger answers from scripted outcomes (unit tests of the station's
// own logic; the real ledger is exercised by the end-to-end tests).
type fakeLedger struct {
	mu       sync.Mutex
	verify   trace.Outcome
	dispense trace.Outcome
	err      error
	calls    []string
}

func (f *fakeLedger) call(fn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fn)
	return f.err
}

func (f *fakeLedger) Verify(_ context.Context, q trace.VerifyRequest, _ ...gateway.CallOption) (*trace.VerifyResult, error) {
	if err := f.call("Verify"); err != nil {
		return nil, err
	}
	return &trace.VerifyResult{Outcome: f.verify}, nil
}

func (f *fakeLedger) Dispense(_ context.Context, r trace.ScanRequest, _ ...gateway.CallOption) (*trace.ScanResult, error) {
	if err := f.call("Dispense:" + r.RequestID); err != nil {
		return nil, err
	}
	return &trace.ScanResult{Outcome: f.dispense}, nil
}

func (f *fakeLedger) ReportScan(_ context.Context, r trace.ScanRequest, _ ...gateway.CallOption) (*trace.ScanResult, error) {
	if err := f.call("ReportScan:" + r.RequestID); err != nil {
		return nil, err
	}
	return &trace.ScanResult{Outcome: f.verify}, nil
}

func (f *fakeLedger) GetPack(context.Context, trace.PackQuery, ...gateway.CallOption) (*trace.GetPackResult, error) {
	return nil, errors.New("not used")
}

func (f *fakeLedger) Receive(context.Context, trace.ReceiveRequest, ...gateway.CallOption) (*trace.ReceiveResult, error) {
	return nil, errors.New("not used")
}

const frame = "]d2\x1d01095060001343521726123110LOT42\x1d21SERIAL1"

func record(t *testing.T, id string) outbox.Record {
	t.Helper()
	payload, err := Decode([]byte(frame))
	if err != nil {
		t.Fatal(err)
	}
	return outbox.Record{ID: outbox.ScanID(id), Frame: []byte(frame), Payload: payload, State: outbox.StatePending, ScannedAt: time.Now()}
}

func newStation(t *testing.T, mode station.Mode, l *fakeLedger) (*Station, *bytes.Buffer, *int) {
	t.Helper()
	var out bytes.Buffer
	refused := 0
	s, err := New(Config{StationID: "st1", Mode: mode, Ledger: l, Out: &out, Refuse: func(string) { refused++ }})
	if err != nil {
		t.Fatal(err)
	}
	return s, &out, &refused
}

func TestDecodeProducesTheLedgerScan(t *testing.T) {
	b, err := Decode([]byte(frame))
	if err != nil {
		t.Fatal(err)
	}
	var s trace.Scan
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	want := trace.Scan{GTIN: "09506000134352", Serial: "SERIAL1", Lot: "LOT42", Expiry: "261231"}
	if s.GTIN != want.GTIN || s.Serial != want.Serial || s.Lot != want.Lot || s.Expiry != want.Expiry {
		t.Fatalf("Decode = %+v, want %+v", s, want)
	}
	if _, err := Decode([]byte("]d2\x1d0109506000134352")); err == nil {
		t.Fatal("a code without serial, lot and expiry must be refused")
	}
}

func TestVerdictsAndCommittedOutcomes(t *testing.T) {
	tests := []struct {
		name        string
		verify      trace.Outcome
		dispense    trace.Outcome
		wantVerdict string
		wantFinal   string
		wantState   outbox.State
		wantRefuse  int
	}{
		{"ok then recorded", trace.Accepted("ok"), trace.Outcome{Status: trace.StatusOK, TxID: "abcdef0123456789"},
			"OK ", "DONE", outbox.StateDone, 0},
		{"refused at verify", trace.Refused(trace.CodeStatusChangeNotPossible, "already dispensed"), trace.Refused(trace.CodeStatusChangeNotPossible, "already dispensed"),
			"REFUSED       A24", "REFUSED       A24", outbox.StateNotice, 1},
		{"ok verdict but refused at commit → notice", trace.Accepted("ok"), trace.Refused(trace.CodeAlreadyInState, "double scan"),
			"OK ", "NOTICE        A7 scan shown as OK", outbox.StateNotice, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &fakeLedger{verify: tt.verify, dispense: tt.dispense}
			s, out, refused := newStation(t, station.ModeDispense, l)
			r := record(t, "st1-"+strings.ReplaceAll(tt.name, " ", ""))
			s.verdict(r)
			if !strings.Contains(out.String(), tt.wantVerdict) {
				t.Fatalf("verdict line %q, want %q", out.String(), tt.wantVerdict)
			}
			o, err := s.Deliver(context.Background(), r)
			if err != nil || o.State != tt.wantState {
				t.Fatalf("Deliver = %+v, %v; want state %s", o, err, tt.wantState)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 || !strings.Contains(lines[1], tt.wantFinal) {
				t.Fatalf("lines %q, want the second to contain %q", lines, tt.wantFinal)
			}
			if *refused != tt.wantRefuse {
				t.Fatalf("refusal feedback %d times, want %d", *refused, tt.wantRefuse)
			}
			if got := l.calls[len(l.calls)-1]; got != "Dispense:"+string(r.ID) {
				t.Fatalf("ledger call %q: the scan ID must be the request ID", got)
			}
		})
	}
}

func TestOfflineScanIsQueuedRetriedAndNoticedWhenRefusedOnSync(t *testing.T) {
	l := &fakeLedger{err: &gateway.Error{Kind: gateway.KindUnavailable, Msg: "no peer"}}
	s, out, _ := newStation(t, station.ModeDispense, l)
	r := record(t, "st1-offline")
	s.verdict(r)
	if _, err := s.Deliver(context.Background(), r); !errors.Is(err, gateway.ErrUnavailable) {
		t.Fatalf("offline Deliver err = %v: the outbox must keep the scan and retry", err)
	}
	if n := strings.Count(out.String(), "QUEUED"); n != 1 {
		t.Fatalf("QUEUED shown %d times, want once:\n%s", n, out)
	}
	// Back online: the lot was recalled meanwhile.
	l.mu.Lock()
	l.err, l.dispense = nil, trace.Refused(trace.CodeLotRecalled, "lot recalled")
	l.mu.Unlock()
	o, err := s.Deliver(context.Background(), r)
	if err != nil || o.State != outbox.StateNotice {
		t.Fatalf("sync Deliver = %+v, %v", o, err)
	}
	if !strings.Contains(out.String(), "NOTICE        LOT_RECALLED scan shown as QUEUED") {
		t.Fatalf("no notice for the changed outcome:\n%s", out)
	}
}

// The gateway decides what is worth another try (gateway.Retryable): a
// read conflict at commit keeps the scan in the outbox, a request the
// chaincode refused as invalid is final.
func TestDeliverAsksTheGatewayWhatIsRetryable(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		final bool
	}{
		{"read conflict at commit", &gateway.Error{Kind: gateway.KindConflict, Code: "MVCC_READ_CONFLICT"}, false},
		{"unknown outcome", &gateway.Error{Kind: gateway.KindUnknownOutcome}, false},
		{"chaincode refused the request", &gateway.Error{Kind: gateway.KindInvalid, Reason: trace.Invalid("scan.serial", "empty")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := newStation(t, station.ModeDispense, &fakeLedger{err: tt.err})
			o, err := s.Deliver(context.Background(), record(t, "st1-r"))
			if final := err == nil && o.State == outbox.StateNotice; final != tt.final {
				t.Fatalf("Deliver = %+v, %v; want final %v", o, err, tt.final)
			}
		})
	}
}

func TestRejectedFrameIsAScannerFault(t *testing.T) {
	s, out, refused := newStation(t, station.ModeDispense, &fakeLedger{})
	s.OnStored(outbox.Record{ID: "st1-x", State: outbox.StateRejected, Detail: "AI 17 at byte 18: day 31 is not valid in April"})
	if !strings.Contains(out.String(), "SCANNER FAULT") || *refused != 1 {
		t.Fatalf("line %q, refused %d", out.String(), *refused)
	}
}

func TestPrefetchedQueryServesTheVerdict(t *testing.T) {
	l := &fakeLedger{verify: trace.Accepted("ok")}
	s, out, _ := newStation(t, station.ModeDispense, l)
	r := record(t, "st1-pre")
	s.Prefetch(r.Payload)
	s.verdict(r)
	if !strings.Contains(out.String(), " OK ") {
		t.Fatalf("verdict %q", out)
	}
	if n := len(l.calls); n != 1 {
		t.Fatalf("%d ledger calls %v: the verdict must reuse the query started at decode time", n, l.calls)
	}
	s.verdict(record(t, "st1-again")) // nothing prefetched: it queries by itself
	if n := len(l.calls); n != 2 {
		t.Fatalf("%d ledger calls, want 2", n)
	}
}
