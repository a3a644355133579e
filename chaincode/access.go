package chaincode

import (
	"slices"
	"strings"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"

	"github.com/pharmatrace/pharmatrace/trace"
)

// caller reads and checks the caller's identity: MSP ID, `role` attribute
// (which must be bound to that MSP by the configuration), `gln` (required
// and check-digit valid for site-bound roles) and `gcp` (manufacturers'
// company prefixes). It denies by default.
func (c *Contract) caller(ctx TxCtx) (trace.Actor, []string, error) {
	var a trace.Actor
	id := ctx.GetClientIdentity()
	if id == nil {
		return a, nil, trace.Denied("no client identity")
	}
	if cl, ok := id.(*cid.ClientID); ok && cl == nil {
		return a, nil, trace.Denied("the creator's identity could not be parsed")
	}
	msp, err := id.GetMSPID()
	if err != nil || msp == "" {
		return a, nil, trace.Denied("the caller has no MSP ID")
	}
	a.MSP = msp
	role, found, err := id.GetAttributeValue(trace.AttrRole)
	if err != nil {
		return a, nil, trace.Denied("cannot read the %q certificate attribute: %v", trace.AttrRole, err)
	}
	if !found || role == "" {
		return a, nil, trace.Denied("the certificate has no %q attribute", trace.AttrRole)
	}
	a.Role = trace.Role(role)
	var (
		allowed []trace.Role
		owned   []string
	)
	known := false
	for _, b := range c.orgs {
		if b.msp == msp {
			allowed, owned, known = b.roles, b.prefixes, true
		}
	}
	if !known {
		return a, nil, trace.Denied("MSP %q is not a PharmaTrace organisation", msp)
	}
	if !slices.Contains(allowed, a.Role) {
		return a, nil, trace.Denied("role %q is not allowed for MSP %q (allowed: %s)", role, msp, roleList(allowed))
	}
	gln, found, err := id.GetAttributeValue(trace.AttrGLN)
	if err != nil {
		return a, nil, trace.Denied("cannot read the %q certificate attribute: %v", trace.AttrGLN, err)
	}
	switch {
	case found && gln != "":
		if err := trace.CheckGLN(gln); err != nil {
			return a, nil, trace.Denied("the %q certificate attribute: %v", trace.AttrGLN, err)
		}
		a.GLN = gln
	case a.Role.SiteBound():
		return a, nil, trace.Denied("role %s needs a %q certificate attribute (the site's GLN)", role, trace.AttrGLN)
	}
	var gcps []string
	if a.Role == trace.RoleManufacturer {
		v, found, err := id.GetAttributeValue(trace.AttrGCP)
		if err != nil {
			return a, nil, trace.Denied("cannot read the %q certificate attribute: %v", trace.AttrGCP, err)
		}
		if found {
			for _, p := range strings.Split(v, ",") {
				p = strings.TrimSpace(p)
				if p == "" {
					continue
				}
				if err := trace.CheckCompanyPrefix(p); err != nil {
					return a, nil, trace.Denied("the %q certificate attribute: %v", trace.AttrGCP, err)
				}
				if !withinPrefixes(p, owned) {
					return a, nil, trace.Denied("the %q certificate attribute claims company prefix %s, which is not within the prefixes of %s [%s] (the network definition binds prefixes to organisations)",
						trace.AttrGCP, p, msp, strings.Join(owned, ","))
				}
				gcps = append(gcps, p)
			}
		}
	}
	return a, gcps, nil
}

// withinPrefixes reports whether company prefix p lies within one of the
// owned prefixes (is equal to or extends it).
func withinPrefixes(p string, owned []string) bool {
	for _, o := range owned {
		if strings.HasPrefix(p, o) {
			return true
		}
	}
	return false
}

// authorize checks that the actor's role holds right.
func authorize(a trace.Actor, tx string, right trace.Right) error {
	if a.Role.Has(right) {
		return nil
	}
	return trace.Denied("%s needs right %q (held by roles: %s); the caller has role %q", tx, right, roleList(trace.RolesWith(right)), a.Role)
}

// ownsGTIN reports the company prefix of gcps under which gtin was allocated.
func ownsGTIN(gcps []string, gtin string) (string, bool) {
	best := ""
	for _, p := range gcps {
		if trace.GTINHasPrefix(gtin, p) && len(p) > len(best) {
			best = p
		}
	}
	return best, best != ""
}

// requireOwner checks that a manufacturer caller owns the product: same MSP
// and the product's company prefix among its `gcp` attribute values.
func (t *txn) requireOwner(p *trace.Product) error {
	if p.OwnerMSP == t.actor.MSP && slices.Contains(t.gcps, p.CompanyPrefix) {
		return nil
	}
	return trace.Denied("%s needs ownership of GTIN %s (owner %s, company prefix %s in the %q attribute); the caller is %s with prefixes [%s]",
		t.name, p.GTIN, p.OwnerMSP, p.CompanyPrefix, trace.AttrGCP, t.actor.MSP, strings.Join(t.gcps, ","))
}

// ownsLot reports whether a manufacturer caller owns lot l: its MSP owns
// the product and the GTIN lies within one of its company prefixes.
func (t *txn) ownsLot(l *trace.Lot) bool {
	if t.actor.Role != trace.RoleManufacturer || l.OwnerMSP != t.actor.MSP {
		return false
	}
	_, ok := ownsGTIN(t.gcps, l.GTIN)
	return ok
}

// canReadPack reports whether the caller may read a pack's full record and
// history: the regulator, the owning manufacturer (MSP and prefix), or the
// organisation that holds it, receives it or last changed its state.
func (t *txn) canReadPack(p *trace.Pack) (bool, error) {
	if t.actor.Role.Has(trace.RightReadAll) {
		return true, nil
	}
	m := t.actor.MSP
	if p.Custodian.MSP == m || p.StateChangedBy.MSP == m || (p.Transit != nil && (p.Transit.To.MSP == m || p.Transit.From.MSP == m)) {
		return true, nil
	}
	if t.actor.Role != trace.RoleManufacturer {
		return false, nil
	}
	l, err := t.lotOf(p)
	if err != nil {
		return false, err
	}
	return t.ownsLot(l), nil
}
