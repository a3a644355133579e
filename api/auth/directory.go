package auth

import (
	"fmt"
	"strings"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/trace"
)

// Directory resolves "<org>/<user>" (org by name or MSP ID) to the user's
// ledger identity.
type Directory interface {
	Lookup(org, user string) (Identity, error)
}

// NetworkDirectory resolves users from the network definition
// (fabric-network/network.yaml): the same users, roles, GLNs and company
// prefixes that were put into their enrollment certificates.
type NetworkDirectory struct{ Spec *netspec.Spec }

// Lookup implements Directory.
func (d NetworkDirectory) Lookup(org, user string) (Identity, error) {
	o, ok := d.Spec.Org(org)
	if !ok {
		return Identity{}, fmt.Errorf("no organisation %q in the network definition", org)
	}
	for _, u := range o.Users {
		if u.Name == user {
			id := Identity{Org: o.Name, MSP: o.MSPID, User: u.Name, Role: trace.Role(u.Role), GLN: u.GLN, GCP: u.GCP}
			return id, id.Validate()
		}
	}
	return Identity{}, fmt.Errorf("organisation %s has no user %q", o.Name, user)
}

// ParseUser splits "<org>/<user>".
func ParseUser(s string) (org, user string, err error) {
	org, user, ok := strings.Cut(s, "/")
	if !ok || org == "" || user == "" || strings.Contains(user, "/") {
		return "", "", fmt.Errorf("user %q: want <org>/<name>, e.g. Regulator/inspector", s)
	}
	return org, user, nil
}
