package chaincode

import (
	"github.com/pharmatrace/pharmatrace/trace"
)

// flagAnomaly records an anomaly by hand (regulator).
func (c *Contract) flagAnomaly(t *txn, req *trace.FlagAnomalyRequest) (trace.Result, error) {
	f := trace.Finding{Code: req.Code, Severity: req.Severity, Classification: req.Classification,
		Pack: req.Pack, Lot: req.Lot, Shipment: req.Shipment, Evidence: trace.Evidence{Message: req.Message}}
	if err := t.record([]trace.Finding{f}); err != nil {
		return nil, err
	}
	a := t.anomalies[0]
	if req.Site != "" {
		a.Site = req.Site
		t.anomalies[0] = a
		if err := t.saveAnomaly(a, nil); err != nil {
			return nil, err
		}
	}
	return &trace.AnomalyResult{Outcome: trace.Accepted("anomaly recorded"), Anomaly: &a}, nil
}

func (t *txn) existingAnomaly(id string) (*trace.Anomaly, error) {
	a, err := t.anomaly(id)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, trace.NotFound("anomaly %s does not exist", id)
	}
	return a, nil
}

// transitionAnomaly moves an anomaly along new → investigating → escalated
// → closed (regulator).
func (c *Contract) transitionAnomaly(t *txn, req *trace.TransitionAnomalyRequest) (trace.Result, error) {
	a, err := t.existingAnomaly(req.AnomalyID)
	if err != nil {
		return nil, err
	}
	na, err := trace.TransitionAnomaly(*a, req.To, req.Reason, req.Comment, t.actor, t.now, t.txID)
	if err != nil {
		return nil, err
	}
	if err := t.saveAnomaly(na, a); err != nil {
		return nil, err
	}
	return &trace.AnomalyResult{Outcome: trace.Accepted("anomaly " + string(na.Status)), Anomaly: &na}, nil
}

// canSeeAnomaly: the regulator sees every anomaly, others the ones their
// organisation reported, and a manufacturer every anomaly about its own
// products (the owning MSP and a company prefix of the GTIN).
func (t *txn) canSeeAnomaly(a *trace.Anomaly) bool {
	if t.actor.Role.Has(trace.RightReadAll) || a.ReportedBy.MSP == t.actor.MSP {
		return true
	}
	return t.ownsAnomalyProduct(a)
}

func (t *txn) ownsAnomalyProduct(a *trace.Anomaly) bool {
	if t.actor.Role != trace.RoleManufacturer || a.ProductOwner != t.actor.MSP {
		return false
	}
	gtin := ""
	switch {
	case a.Pack != nil:
		gtin = a.Pack.GTIN
	case a.Lot != nil:
		gtin = a.Lot.GTIN
	}
	_, ok := ownsGTIN(t.gcps, gtin)
	return ok
}

// commentAnomaly adds a comment: the regulator, or the reporting organisation.
func (c *Contract) commentAnomaly(t *txn, req *trace.CommentAnomalyRequest) (trace.Result, error) {
	a, err := t.existingAnomaly(req.AnomalyID)
	if err != nil {
		return nil, err
	}
	if !t.actor.Role.Has(trace.RightAnomalyComment) && a.ReportedBy.MSP != t.actor.MSP {
		return nil, trace.Denied("%s needs right %q or to be the reporting organisation (%s)", t.name, trace.RightAnomalyComment, a.ReportedBy.MSP)
	}
	na := trace.CommentAnomaly(*a, req.Comment, t.actor, t.now, t.txID)
	if err := t.saveAnomaly(na, a); err != nil {
		return nil, err
	}
	return &trace.AnomalyResult{Outcome: trace.Accepted("comment added"), Anomaly: &na}, nil
}
