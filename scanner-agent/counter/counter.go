// Package counter is what a scanner station does with each scan once the
// intake has stored it durably: an immediate verdict for the person at the
// counter or dock (a ledger query), then — in scan order, exactly once on
// the ledger with the scan ID as request ID — the state change of the
// station's mode, and one clear line per event on the terminal: OK,
// REFUSED with the reason and code, QUEUED (offline), SCANNER FAULT with
// the fix, and a NOTICE when a queued scan's outcome turned out different
// from what the counter was shown.
package counter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/gs1"
	"github.com/pharmatrace/pharmatrace/scanner-agent/outbox"
	"github.com/pharmatrace/pharmatrace/scanner-agent/station"
	"github.com/pharmatrace/pharmatrace/trace"
)

// Ledger is the part of package gateway a station uses.
type Ledger interface {
	Verify(ctx context.Context, q trace.VerifyRequest, opts ...gateway.CallOption) (*trace.VerifyResult, error)
	Dispense(ctx context.Context, req trace.ScanRequest, opts ...gateway.CallOption) (*trace.ScanResult, error)
	ReportScan(ctx context.Context, req trace.ScanRequest, opts ...gateway.CallOption) (*trace.ScanResult, error)
	GetPack(ctx context.Context, q trace.PackQuery, opts ...gateway.CallOption) (*trace.GetPackResult, error)
	Receive(ctx context.Context, req trace.ReceiveRequest, opts ...gateway.CallOption) (*trace.ReceiveResult, error)
}

// Verdict is what the counter was told about one scan.
type Verdict string

// Verdicts, as printed at the start of each terminal line.
const (
	VerdictOK       Verdict = "OK"
	VerdictRefused  Verdict = "REFUSED"
	VerdictQueued   Verdict = "QUEUED"
	VerdictFault    Verdict = "SCANNER FAULT"
	VerdictNotice   Verdict = "NOTICE"
	VerdictCommitOK Verdict = "DONE"
)

// Line is one event shown at the counter and on the status page.
type Line struct {
	At      time.Time `json:"at"`
	ScanID  string    `json:"scanId"`
	Verdict Verdict   `json:"verdict"`
	Code    string    `json:"code,omitempty"`
	Text    string    `json:"text"`
}

func (l Line) String() string {
	code := ""
	if l.Code != "" {
		code = " " + l.Code
	}
	return fmt.Sprintf("%s %-13s%s %s [%s]", l.At.Format("15:04:05.000"), l.Verdict, code, l.Text, l.ScanID)
}

// Config configures a Station.
type Config struct {
	StationID string
	GLN       string
	Mode      station.Mode
	Ledger    Ledger
	// Out is the counter's terminal; one line per event.
	Out io.Writer
	Log *slog.Logger
	// Metrics may be nil.
	Metrics *Metrics
	// Refuse is called when a pack must not be handed over (e.g. to make
	// the scanner beep); may be nil.
	Refuse func(scanner string)
	// VerifyTimeout bounds the immediate verdict; default 2s.
	VerifyTimeout time.Duration
	// Recent is how many lines the status page keeps; default 50.
	Recent int
	Now    func() time.Time
}

// Station processes the scans of one station.
type Station struct {
	cfg Config

	mu       sync.Mutex
	shown    map[outbox.ScanID]Verdict // what the counter was told, until the scan is final
	recent   []Line
	prefetch map[string][]*query // verify queries started at decode time, by payload, oldest first
	sem      chan struct{}       // bounds prefetch queries
	queries  chan struct{}       // bounds the verdicts' own queries
}

// query is a ledger verification under way.
type query struct {
	done chan struct{}
	v    *trace.VerifyResult
	err  error
}

// New returns a station; the config's Ledger, Out and Mode are required.
func New(cfg Config) (*Station, error) {
	if cfg.Ledger == nil || cfg.Out == nil {
		return nil, errors.New("counter: Ledger and Out are required")
	}
	switch cfg.Mode {
	case station.ModeDispense, station.ModeVerify, station.ModeReceive:
	default:
		return nil, fmt.Errorf("counter: mode %q is not a station mode (%v)", cfg.Mode, station.Modes)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = 2 * time.Second
	}
	if cfg.Recent <= 0 {
		cfg.Recent = 50
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Station{cfg: cfg, shown: map[outbox.ScanID]Verdict{}, prefetch: map[string][]*query{},
		sem: make(chan struct{}, 8), queries: make(chan struct{}, 8)}, nil
}

// Decode is the intake's decoder: a scanner frame → the trace.Scan JSON
// stored in the outbox. A frame gs1 refuses is stored as rejected with the
// parser's message (which names the AI, the byte and the fix).
func Decode(frame []byte) ([]byte, error) {
	sc, err := gs1.Parse(frame)
	if err != nil {
		return nil, err
	}
	if sc.GTIN == "" || sc.Serial == "" || sc.Lot == "" || sc.Expiry.IsZero() {
		return nil, errors.New("not a pack code: a serialised pack carries GTIN (01), serial (21), lot (10) and expiry (17)")
	}
	s := trace.Scan{GTIN: sc.GTIN, Serial: sc.Serial, Lot: sc.Lot, Expiry: sc.Expiry.Format("060102")}
	if sc.ExpiryDayUnset {
		s.Expiry = sc.Expiry.Format("0601") + "00"
	}
	for _, w := range sc.Warnings {
		s.Warnings = append(s.Warnings, w.Kind.String())
	}
	return json.Marshal(s)
}

// hints returns the operator's fix for each warning of a frame.
func hints(frame []byte) []string {
	sc, err := gs1.Parse(frame)
	if err != nil {
		return nil
	}
	var out []string
	for _, w := range sc.Warnings {
		out = append(out, w.Msg)
	}
	return out
}

func (s *Station) show(l Line) {
	l.At = s.cfg.Now()
	fmt.Fprintln(s.cfg.Out, l.String())
	s.mu.Lock()
	s.recent = append(s.recent, l)
	if len(s.recent) > s.cfg.Recent {
		s.recent = s.recent[len(s.recent)-s.cfg.Recent:]
	}
	if l.Verdict != VerdictCommitOK && l.Verdict != VerdictNotice {
		s.shown[outbox.ScanID(l.ScanID)] = l.Verdict
	}
	s.mu.Unlock()
	s.cfg.Metrics.scan(l.Verdict)
}

// Recent returns the last lines shown, oldest first.
func (s *Station) Recent() []Line {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Line(nil), s.recent...)
}

// Prefetch is the intake's OnDecoded hook: the verification query of a
// decoded scan starts at once, in parallel with its fsync into the
// outbox; the verdict still waits for OnStored. It never blocks: when
// eight queries are already under way, the verdict queries by itself.
func (s *Station) Prefetch(payload []byte) {
	var scan trace.Scan
	if json.Unmarshal(payload, &scan) != nil {
		return
	}
	select {
	case s.sem <- struct{}{}:
	default:
		return
	}
	q := &query{done: make(chan struct{})}
	s.mu.Lock()
	s.prefetch[string(payload)] = append(s.prefetch[string(payload)], q)
	s.mu.Unlock()
	go func() {
		defer func() { <-s.sem }()
		defer close(q.done)
		q.v, q.err = s.verify(scan)
	}()
}

// takePrefetch returns the oldest query started for payload, if any.
func (s *Station) takePrefetch(payload []byte) *query {
	s.mu.Lock()
	defer s.mu.Unlock()
	qs := s.prefetch[string(payload)]
	if len(qs) == 0 {
		return nil
	}
	if len(qs) == 1 {
		delete(s.prefetch, string(payload))
	} else {
		s.prefetch[string(payload)] = qs[1:]
	}
	return qs[0]
}

func (s *Station) verify(scan trace.Scan) (*trace.VerifyResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.VerifyTimeout)
	defer cancel()
	start := time.Now()
	v, err := s.cfg.Ledger.Verify(ctx, trace.VerifyRequest{Scan: scan})
	s.cfg.Metrics.observeVerify(time.Since(start), err)
	return v, err
}

// OnStored is the intake's hook: for a stored scan, the immediate verdict
// (a query, never a write); for a rejected frame, the scanner fault and
// its fix. It returns at once; the verdict follows within milliseconds.
func (s *Station) OnStored(r outbox.Record) {
	if r.State == outbox.StateRejected {
		s.show(Line{ScanID: string(r.ID), Verdict: VerdictFault, Text: r.Detail})
		s.refuse(r.Scanner)
		return
	}
	go s.verdict(r)
}

func (s *Station) verdict(r outbox.Record) {
	var scan trace.Scan
	if err := json.Unmarshal(r.Payload, &scan); err != nil {
		s.show(Line{ScanID: string(r.ID), Verdict: VerdictFault, Text: "stored scan unreadable: " + err.Error()})
		return
	}
	var v *trace.VerifyResult
	var err error
	if q := s.takePrefetch(r.Payload); q != nil {
		<-q.done
		v, err = q.v, q.err
	} else {
		s.queries <- struct{}{}
		v, err = s.verify(scan)
		<-s.queries
	}
	switch {
	case gateway.Retryable(err):
		s.show(Line{ScanID: string(r.ID), Verdict: VerdictQueued, Text: "queued (offline): the ledger is unreachable; the scan is kept and will be recorded when it is back"})
	case err != nil:
		s.show(Line{ScanID: string(r.ID), Verdict: VerdictRefused, Text: "cannot verify: " + err.Error()})
		s.refuse(r.Scanner)
	case v.OK():
		text := describe(scan, "may be supplied")
		if len(scan.Warnings) > 0 {
			text += "; scanner warning: " + joinHints(hints(r.Frame))
		}
		s.show(Line{ScanID: string(r.ID), Verdict: VerdictOK, Text: text})
	default:
		text := describe(scan, v.Message) + " — do NOT hand over"
		if len(scan.Warnings) > 0 {
			text += "; probable SCANNER FAULT: " + joinHints(hints(r.Frame))
		}
		s.show(Line{ScanID: string(r.ID), Verdict: VerdictRefused, Code: string(v.Code), Text: text})
		s.refuse(r.Scanner)
	}
}

func (s *Station) refuse(scanner string) {
	if s.cfg.Refuse != nil {
		s.cfg.Refuse(scanner)
	}
}

func describe(sc trace.Scan, what string) string {
	return fmt.Sprintf("GTIN %s serial %s lot %s exp %s: %s", sc.GTIN, sc.Serial, sc.Lot, sc.Expiry, what)
}

func joinHints(h []string) string {
	if len(h) == 0 {
		return "check the scanner's configuration"
	}
	out := h[0]
	for _, x := range h[1:] {
		out += "; " + x
	}
	return out
}

// Deliver is the outbox delivery handler: the station's state change on
// the ledger, in scan order, with the scan ID as request ID (a retry after
// a crash or an outage returns the original outcome, never a second
// write). Unreachable ledger → an error, so the outbox keeps the scan and
// retries it; anything the ledger answered → a terminal outcome.
func (s *Station) Deliver(ctx context.Context, r outbox.Record) (outbox.Outcome, error) {
	var scan trace.Scan
	if err := json.Unmarshal(r.Payload, &scan); err != nil {
		return outbox.Outcome{State: outbox.StateNotice, Detail: "stored scan unreadable: " + err.Error()}, nil
	}
	req := trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: string(r.ID)}, Scan: scan}
	start := time.Now()
	out, err := s.apply(ctx, req)
	s.cfg.Metrics.observeCommit(time.Since(start), err)
	if err != nil {
		if gateway.Retryable(err) || ctx.Err() != nil {
			s.mu.Lock()
			shown := s.shown[r.ID]
			s.mu.Unlock()
			if shown != VerdictQueued {
				s.show(Line{ScanID: string(r.ID), Verdict: VerdictQueued, Text: "queued (offline): " + err.Error()})
			}
			return outbox.Outcome{}, err
		}
		// The ledger judged it and would judge the same again (invalid,
		// access denied, a chaincode failure): final, and the person must
		// know.
		s.final(r, Line{ScanID: string(r.ID), Verdict: VerdictNotice, Text: "not recorded: " + err.Error()})
		return outbox.Outcome{State: outbox.StateNotice, Detail: err.Error()}, nil
	}
	if out == nil { // nothing to write (verify mode, pack ok)
		s.final(r, Line{})
		return outbox.Outcome{State: outbox.StateDone, Detail: "verified"}, nil
	}
	if out.OK() {
		s.final(r, Line{ScanID: string(r.ID), Verdict: VerdictCommitOK, Text: fmt.Sprintf("%s recorded on the ledger (tx %.12s)", s.cfg.Mode, out.TxID)})
		return outbox.Outcome{State: outbox.StateDone, Detail: out.TxID}, nil
	}
	detail := fmt.Sprintf("%s %s", out.Code, out.Message)
	s.final(r, Line{ScanID: string(r.ID), Verdict: VerdictRefused, Code: string(out.Code), Text: describe(scan, out.Message)})
	return outbox.Outcome{State: outbox.StateNotice, Detail: detail}, nil
}

// final shows the committed outcome, and a NOTICE when it differs from
// what the counter was shown earlier (a queued scan refused on sync, an OK
// verdict refused at commit).
func (s *Station) final(r outbox.Record, l Line) {
	s.mu.Lock()
	shown, known := s.shown[r.ID]
	delete(s.shown, r.ID)
	s.mu.Unlock()
	if l.Verdict == "" {
		return
	}
	if l.Verdict == VerdictRefused && (!known || shown == VerdictOK || shown == VerdictQueued) {
		was := "shown as " + string(shown)
		if !known {
			was = "scanned before a restart"
		}
		l.Verdict, l.Text = VerdictNotice, fmt.Sprintf("scan %s at %s was REFUSED by the ledger: %s", was,
			r.ScannedAt.Local().Format("15:04:05"), l.Text)
		s.refuse(r.Scanner)
	}
	s.show(l)
}

// apply runs the mode's ledger change; nil, nil when there is nothing to write.
func (s *Station) apply(ctx context.Context, req trace.ScanRequest) (*trace.Outcome, error) {
	switch s.cfg.Mode {
	case station.ModeDispense:
		res, err := s.cfg.Ledger.Dispense(ctx, req)
		if err != nil {
			return nil, err
		}
		return &res.Outcome, nil
	case station.ModeVerify:
		v, err := s.cfg.Ledger.Verify(ctx, trace.VerifyRequest{Scan: req.Scan})
		if err != nil {
			return nil, err
		}
		if v.OK() {
			return nil, nil
		}
		// Record what the verification found (anomalies) on the ledger.
		res, err := s.cfg.Ledger.ReportScan(ctx, req)
		if err != nil {
			return nil, err
		}
		return &res.Outcome, nil
	case station.ModeReceive:
		p, err := s.cfg.Ledger.GetPack(ctx, trace.PackQuery{GTIN: req.GTIN, Serial: req.Serial})
		if err != nil {
			return nil, err
		}
		if p.Pack.Transit == nil {
			o := trace.Refused(trace.CodeStatusChangeNotPossible, "pack is not in transit: nothing to receive")
			return &o, nil
		}
		res, err := s.cfg.Ledger.Receive(ctx, trace.ReceiveRequest{RequestHeader: req.RequestHeader,
			ShipmentID: p.Pack.Transit.Shipment, Packs: []trace.PackRef{req.Scan.Ref()}, Warnings: req.Warnings})
		if err != nil {
			return nil, err
		}
		return &res.Outcome, nil
	}
	return nil, fmt.Errorf("mode %q", s.cfg.Mode)
}
