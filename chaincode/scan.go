package chaincode

import (
	"fmt"

	"github.com/pharmatrace/pharmatrace/trace"
)

// lookupScan resolves a scan to its pack and lot. When the pack is unknown
// or its data do not match, the verdict refuses with the EU-style code (A1
// unknown product, A2 unknown batch, A3 unknown serial, A68 batch mismatch,
// A52 expiry mismatch) and carries the finding, classified with the
// scanner's warnings and near-miss lookups (a pack whose serial, or a lot
// whose number, differs only by case or a Y/Z swap exists).
func (t *txn) lookupScan(s trace.Scan) (*trace.Pack, *trace.Lot, trace.Verdict, error) {
	p, err := t.pack(s.GTIN, s.Serial)
	if err != nil {
		return nil, nil, trace.Verdict{}, err
	}
	if p != nil {
		l, err := t.lotOf(p)
		if err != nil {
			return nil, nil, trace.Verdict{}, err
		}
		return p, l, trace.CheckScanData(s, p, t.now), nil
	}
	ref := s.Ref()
	lotRef := trace.LotRef{GTIN: s.GTIN, Lot: s.Lot}
	prod, err := t.product(s.GTIN)
	if err != nil {
		return nil, nil, trace.Verdict{}, err
	}
	if prod == nil {
		msg := fmt.Sprintf("product %s is unknown", s.GTIN)
		f := trace.ScanFinding(trace.AnomalyUnknownProduct, trace.CodeUnknownProduct, s, nil, trace.Evidence{Message: msg})
		f.Pack = &ref
		return nil, nil, trace.Verdict{Code: trace.CodeUnknownProduct, Message: msg, Findings: []trace.Finding{f}}, nil
	}
	near, err := t.nearMissSerials(s.GTIN, s.Serial)
	if err != nil {
		return nil, nil, trace.Verdict{}, err
	}
	l, err := t.lot(s.GTIN, s.Lot)
	if err != nil {
		return nil, nil, trace.Verdict{}, err
	}
	code, ac, msg := trace.CodeUnknownSerial, trace.AnomalyUnknownSerial, fmt.Sprintf("serial %s is unknown for product %s", s.Serial, s.GTIN)
	if l == nil {
		code, ac, msg = trace.CodeUnknownBatch, trace.AnomalyUnknownBatch, fmt.Sprintf("batch %s is unknown for product %s", s.Lot, s.GTIN)
		nearLots, err := t.nearMissLots(s.GTIN, s.Lot)
		if err != nil {
			return nil, nil, trace.Verdict{}, err
		}
		near = append(near, nearLots...)
	}
	if len(near) > 0 {
		msg += fmt.Sprintf("; probable scanner fault: %v exists", near)
	}
	f := trace.ScanFinding(ac, code, s, near, trace.Evidence{Message: msg})
	f.Pack, f.Lot = &ref, &lotRef
	return nil, nil, trace.Verdict{Code: code, Message: msg, Findings: []trace.Finding{f}}, nil
}

// nearMissSerials returns the case-inverted / Y-Z-swapped variants of serial
// that exist as packs of gtin (at most 3 extra reads, only on the failure path).
func (t *txn) nearMissSerials(gtin, serial string) ([]string, error) {
	var out []string
	for _, v := range trace.NearMisses(serial) {
		p, err := t.pack(gtin, v)
		if err != nil {
			return nil, err
		}
		if p != nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// nearMissLots is nearMissSerials for lot numbers.
func (t *txn) nearMissLots(gtin, lot string) ([]string, error) {
	var out []string
	for _, v := range trace.NearMisses(lot) {
		l, err := t.lot(gtin, v)
		if err != nil {
			return nil, err
		}
		if l != nil {
			out = append(out, "lot "+v)
		}
	}
	return out, nil
}

func outcomeOf(v trace.Verdict, okMsg string) trace.Outcome {
	if v.OK() {
		return trace.Accepted(okMsg)
	}
	return trace.Refused(v.Code, v.Message)
}

// verify is the Verify query: lookup, data checks, then trace.Assess.
func (c *Contract) verify(t *txn, req *trace.VerifyRequest) (any, error) {
	p, l, v, err := t.lookupScan(req.Scan)
	if err != nil {
		return nil, err
	}
	res := &trace.VerifyResult{}
	if p != nil {
		res.Pack = t.statusOf(p, l)
		if v.OK() {
			v = trace.Assess(p, l, t.actor, t.local())
		}
	}
	res.Outcome = outcomeOf(v, "pack verified")
	readable := false
	if p != nil {
		if readable, err = t.canReadPack(p); err != nil {
			return nil, err
		}
	}
	res.Findings = v.Findings
	if !readable && !t.actor.Role.Has(trace.RightReadAll) {
		res.Findings = redact(v.Findings)
	}
	return res, nil
}

// redact strips from findings what the caller may not know about a pack it
// may not read: who holds it or changed it, and which near-miss serials or
// lots exist (an oracle for valid codes). The anomalies recorded for the
// regulator keep everything.
func redact(fs []trace.Finding) []trace.Finding {
	out := make([]trace.Finding, len(fs))
	for i, f := range fs {
		named := f.Evidence.Counterpart != nil // its message names that party
		f.Evidence.Counterpart = nil
		if len(f.Evidence.NearMiss) > 0 {
			f.Evidence.NearMiss = nil
			f.Evidence.Message = "the scanned data differs from a pack on the ledger only by letter case or a Y/Z swap: probable scanner fault"
		} else if named || f.Code == trace.AnomalyClone || f.Code == trace.AnomalyCustodyMismatch ||
			f.Code == trace.AnomalyInactivePack || f.Code == trace.AnomalyDiversion {
			f.Evidence.Message = string(f.Code) + ": details are recorded for the regulator"
		}
		out[i] = f
	}
	return out
}

// reportScan is Verify committed: its findings become anomalies.
func (c *Contract) reportScan(t *txn, req *trace.ScanRequest) (trace.Result, error) {
	p, l, v, err := t.lookupScan(req.Scan)
	if err != nil {
		return nil, err
	}
	res := &trace.ScanResult{}
	if p != nil {
		res.Pack = t.statusOf(p, l)
		if v.OK() {
			v = trace.Assess(p, l, t.actor, t.local())
		}
	}
	if err := t.record(withScan(v.Findings, req.Scan)); err != nil {
		return nil, err
	}
	res.Outcome = outcomeOf(v, "scan reported")
	return res, nil
}

// scanAction runs a pack state change on a scanned pack.
func (t *txn) scanAction(s trace.Scan, okMsg string, apply func(trace.Pack, *trace.Lot) (trace.Pack, trace.Verdict)) (trace.Result, error) {
	p, l, v, err := t.lookupScan(s)
	if err != nil {
		return nil, err
	}
	res := &trace.ScanResult{}
	if p != nil && v.OK() {
		var np trace.Pack
		np, v = apply(*p, l)
		if v.OK() {
			if err := t.savePack(np); err != nil {
				return nil, err
			}
			p = &np
		}
	}
	if p != nil {
		res.Pack = t.statusOf(p, l)
	}
	if err := t.record(withScan(v.Findings, s)); err != nil {
		return nil, err
	}
	res.Outcome = outcomeOf(v, okMsg)
	return res, nil
}

func (c *Contract) dispense(t *txn, req *trace.ScanRequest) (trace.Result, error) {
	return t.scanAction(req.Scan, "pack dispensed", func(p trace.Pack, l *trace.Lot) (trace.Pack, trace.Verdict) {
		return trace.Dispense(p, l, t.actor, t.local(), t.txID)
	})
}

func (c *Contract) decommission(t *txn, req *trace.DecommissionRequest) (trace.Result, error) {
	return t.scanAction(req.Scan, "pack decommissioned ("+string(req.Reason)+")", func(p trace.Pack, l *trace.Lot) (trace.Pack, trace.Verdict) {
		return trace.Decommission(p, l, t.actor, req.Reason, t.local(), t.txID)
	})
}

func (c *Contract) undo(t *txn, req *trace.ScanRequest) (trace.Result, error) {
	return t.scanAction(req.Scan, "pack reactivated", func(p trace.Pack, l *trace.Lot) (trace.Pack, trace.Verdict) {
		return trace.Undo(p, l, t.actor, t.local(), t.txID)
	})
}

// withScan attaches the scanned data to findings that lack it.
func withScan(fs []trace.Finding, s trace.Scan) []trace.Finding {
	for i := range fs {
		if fs[i].Evidence.Scan == nil {
			sc := s
			fs[i].Evidence.Scan = &sc
		}
	}
	return fs
}
