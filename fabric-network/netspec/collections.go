package netspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pharmatrace/pharmatrace/trace"
)

// Collection is one private data collection of the chaincode definition,
// in the JSON form `peer lifecycle chaincode approveformyorg
// --collections-config` reads (Fabric's "private data collection
// definition"). A collection is comparable with ==.
type Collection struct {
	Name string `json:"name"`
	// Policy says which organisations' peers hold the data (an OR of
	// members); written in Fabric's policy language.
	Policy            string `json:"policy"`
	RequiredPeerCount int32  `json:"requiredPeerCount"`
	MaxPeerCount      int32  `json:"maxPeerCount"`
	// BlockToLive 0 keeps the data for ever; Fabric refuses to change it
	// once committed.
	BlockToLive     uint64                `json:"blockToLive"`
	MemberOnlyRead  bool                  `json:"memberOnlyRead"`
	MemberOnlyWrite bool                  `json:"memberOnlyWrite"`
	Endorsement     CollectionEndorsement `json:"endorsementPolicy,omitzero"`
}

// CollectionEndorsement is a collection-level endorsement policy: it
// replaces the chaincode's for writes to the collection.
type CollectionEndorsement struct {
	SignaturePolicy     string `json:"signaturePolicy,omitempty"`
	ChannelConfigPolicy string `json:"channelConfigPolicy,omitempty"`
}

// SignaturePolicy is a Fabric signature policy as a tree: a leaf names a
// principal ("ManufacturerMSP.peer"), an inner node needs N of its rules.
// String renders it in Fabric's policy language, the same way for a
// policy built here and one decoded from a committed definition, so two
// policies are equal when their strings are.
type SignaturePolicy struct {
	SignedBy string
	N        int
	Rules    []SignaturePolicy
}

// SignedBy is the policy satisfied by a signature of role (member, peer,
// admin, client, orderer) of msp.
func SignedBy(msp, role string) SignaturePolicy { return SignaturePolicy{SignedBy: msp + "." + role} }

// AnyOf needs one of rules (OR).
func AnyOf(rules ...SignaturePolicy) SignaturePolicy { return SignaturePolicy{N: 1, Rules: rules} }

// AllOf needs every rule (AND).
func AllOf(rules ...SignaturePolicy) SignaturePolicy {
	return SignaturePolicy{N: len(rules), Rules: rules}
}

// String renders p as Fabric's policy language: OR(...) for 1 of n (a
// single rule too), AND(...) for n of n, OutOf(k, ...) otherwise.
func (p SignaturePolicy) String() string {
	if p.SignedBy != "" {
		return "'" + p.SignedBy + "'"
	}
	parts := make([]string, len(p.Rules))
	for i, r := range p.Rules {
		parts[i] = r.String()
	}
	args := strings.Join(parts, ",")
	switch {
	case p.N == 1:
		return "OR(" + args + ")"
	case p.N == len(p.Rules):
		return "AND(" + args + ")"
	default:
		return fmt.Sprintf("OutOf(%d,%s)", p.N, args)
	}
}

// ErrNoRegulator: collections are derived for manufacturers, but no
// organisation has the regulator role to share them with.
var ErrNoRegulator = errors.New("no organisation has role regulator")

// Collections derives the chaincode definition's private data collections
// from the organisations' roles (trace.Collection): one per organisation
// with role manufacturer, shared with every regulator organisation. Its
// data is held by the peers of the manufacturer and of the regulator(s),
// a write must be endorsed by a peer of the manufacturer AND a peer of a
// regulator (so both hold the data: requiredPeerCount 0, one more member
// best effort), it is kept for ever, and non-members may have a member
// peer evaluate for them (memberOnlyRead/Write false: the contract decides
// who may read what). No manufacturer: no collections.
func (s *Spec) Collections() ([]Collection, error) {
	var mfrs, regs []string
	for _, o := range s.Orgs {
		for _, r := range o.Roles {
			switch r {
			case "manufacturer":
				mfrs = append(mfrs, o.MSPID)
			case "regulator":
				regs = append(regs, o.MSPID)
			}
		}
	}
	if len(mfrs) == 0 {
		return nil, nil
	}
	if len(regs) == 0 {
		return nil, fmt.Errorf("private data collections of the manufacturers %s: %w: each collection is shared by its manufacturer and the regulator(s), give one org in network.yaml the role regulator",
			strings.Join(mfrs, ", "), ErrNoRegulator)
	}
	out := make([]Collection, 0, len(mfrs))
	for _, m := range mfrs {
		members := []SignaturePolicy{SignedBy(m, "member")}
		var endorsers []SignaturePolicy
		for _, r := range regs {
			if r == m { // an org both manufacturer and regulator
				continue
			}
			members = append(members, SignedBy(r, "member"))
			endorsers = append(endorsers, SignedBy(r, "peer"))
		}
		endorse := AllOf(SignedBy(m, "peer"))
		switch len(endorsers) {
		case 0:
		case 1:
			endorse = AllOf(SignedBy(m, "peer"), endorsers[0])
		default:
			endorse = AllOf(SignedBy(m, "peer"), AnyOf(endorsers...))
		}
		out = append(out, Collection{
			Name:              trace.Collection(m),
			Policy:            AnyOf(members...).String(),
			RequiredPeerCount: 0,
			MaxPeerCount:      1,
			BlockToLive:       0,
			Endorsement:       CollectionEndorsement{SignaturePolicy: endorse.String()},
		})
	}
	return out, nil
}

// CollectionsJSON renders collections as the JSON array `peer lifecycle
// chaincode approveformyorg|checkcommitreadiness|commit
// --collections-config` reads.
func CollectionsJSON(colls []Collection) ([]byte, error) {
	if colls == nil {
		colls = []Collection{}
	}
	b, err := json.MarshalIndent(colls, "", "  ")
	return append(b, '\n'), err
}
