package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/trace"
)

// The chaincode definition's private data collections are derived from
// network.yaml (netspec.Spec.Collections: one per manufacturer org, shared
// with the regulator). fabnet writes them to
// run/chaincode/collections/sequence-<N>.json and passes that file to
// every approveformyorg, checkcommitreadiness and commit of sequence N. The definition on the channel is "changed" when its collections
// differ from the derived ones as well as when the chaincode binary is
// another build: either makes the next sequence.

// collectionsFile is where the collections of definition sequence seq
// are written for the peer CLI (kept: a record of what was approved).
func (n *network) collectionsFile(seq int) string {
	return filepath.Join(n.ccDir(), "collections", fmt.Sprintf("sequence-%d.json", seq))
}

// writeCollections writes d's collections for the peer CLI and returns d
// with the file set; there is no file when there are no collections (no
// manufacturer org): the definition then has none at all.
func (n *network) writeCollections(d definition) (definition, error) {
	d.CollectionsFile = ""
	if len(d.Collections) == 0 {
		return d, nil
	}
	b, err := netspec.CollectionsJSON(d.Collections)
	if err != nil {
		return d, err
	}
	f := n.collectionsFile(d.Sequence)
	if err := writeFileAtomic(f, b, 0o644); err != nil {
		return d, fmt.Errorf("write collections config: %w", err)
	}
	d.CollectionsFile = f
	return d, nil
}

// The `collections` of `peer lifecycle chaincode querycommitted|queryapproved
// --output json`: the CLI prints the CollectionConfigPackage proto (Fabric
// 2.5.0: fabric-protos-go v0.2.0) with encoding/json, so oneofs appear as
// {"Payload": {"StaticCollectionConfig": ...}} and MSP principals as
// base64 of their proto bytes.
type cliCollections struct {
	Config []struct {
		Payload struct {
			Static *cliStaticCollection `json:"StaticCollectionConfig"`
		} `json:"Payload"`
	} `json:"config"`
}

type cliStaticCollection struct {
	Name             string `json:"name"`
	MemberOrgsPolicy struct {
		Payload struct {
			SignaturePolicy *cliPolicyEnvelope `json:"SignaturePolicy"`
		} `json:"Payload"`
	} `json:"member_orgs_policy"`
	RequiredPeerCount int32  `json:"required_peer_count"`
	MaximumPeerCount  int32  `json:"maximum_peer_count"`
	BlockToLive       uint64 `json:"block_to_live"`
	MemberOnlyRead    bool   `json:"member_only_read"`
	MemberOnlyWrite   bool   `json:"member_only_write"`
	EndorsementPolicy *struct {
		Type struct {
			SignaturePolicy              *cliPolicyEnvelope `json:"SignaturePolicy"`
			ChannelConfigPolicyReference string             `json:"ChannelConfigPolicyReference"`
		} `json:"Type"`
	} `json:"endorsement_policy"`
}

type cliPolicyEnvelope struct {
	Rule       *cliRule `json:"rule"`
	Identities []struct {
		Classification int32  `json:"principal_classification"`
		Principal      []byte `json:"principal"`
	} `json:"identities"`
}

type cliRule struct {
	Type struct {
		SignedBy *int32 `json:"SignedBy"`
		NOutOf   *struct {
			N     int        `json:"n"`
			Rules []*cliRule `json:"rules"`
		} `json:"NOutOf"`
	} `json:"Type"`
}

// decodeCollections turns the CLI's `collections` into the form fabnet
// derives, policies rendered the same way, so the two compare with ==.
func decodeCollections(raw json.RawMessage) ([]netspec.Collection, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var pkg cliCollections
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return nil, fmt.Errorf("collections of the chaincode definition: %w", err)
	}
	var out []netspec.Collection
	for i, c := range pkg.Config {
		s := c.Payload.Static
		if s == nil {
			return nil, fmt.Errorf("collections of the chaincode definition: config[%d] is not a static collection", i)
		}
		members, err := s.MemberOrgsPolicy.Payload.SignaturePolicy.policy()
		if err != nil {
			return nil, fmt.Errorf("collection %s: member policy: %w", s.Name, err)
		}
		coll := netspec.Collection{
			Name: s.Name, Policy: members,
			RequiredPeerCount: s.RequiredPeerCount, MaxPeerCount: s.MaximumPeerCount, BlockToLive: s.BlockToLive,
			MemberOnlyRead: s.MemberOnlyRead, MemberOnlyWrite: s.MemberOnlyWrite,
		}
		if ep := s.EndorsementPolicy; ep != nil {
			coll.Endorsement.ChannelConfigPolicy = ep.Type.ChannelConfigPolicyReference
			if ep.Type.SignaturePolicy != nil {
				if coll.Endorsement.SignaturePolicy, err = ep.Type.SignaturePolicy.policy(); err != nil {
					return nil, fmt.Errorf("collection %s: endorsement policy: %w", s.Name, err)
				}
			}
		}
		out = append(out, coll)
	}
	return out, nil
}

// policy renders a signature policy envelope as netspec.SignaturePolicy does.
func (e *cliPolicyEnvelope) policy() (string, error) {
	if e == nil || e.Rule == nil {
		return "", nil
	}
	principals := make([]string, len(e.Identities))
	for i, id := range e.Identities {
		if id.Classification != int32(msp.MSPPrincipal_ROLE) {
			// Not a role: never what fabnet derives, so it compares unequal.
			principals[i] = fmt.Sprintf("principal#%d(classification %d)", i, id.Classification)
			continue
		}
		var role msp.MSPRole
		if err := proto.Unmarshal(id.Principal, &role); err != nil {
			return "", fmt.Errorf("identity %d: %w", i, err)
		}
		principals[i] = role.GetMspIdentifier() + "." + strings.ToLower(role.GetRole().String())
	}
	p, err := e.Rule.tree(principals)
	if err != nil {
		return "", err
	}
	return p.String(), nil
}

func (r *cliRule) tree(principals []string) (netspec.SignaturePolicy, error) {
	switch {
	case r == nil:
		return netspec.SignaturePolicy{}, errors.New("empty rule")
	case r.Type.SignedBy != nil:
		i := int(*r.Type.SignedBy)
		if i < 0 || i >= len(principals) {
			return netspec.SignaturePolicy{}, fmt.Errorf("rule signed by identity %d of %d", i, len(principals))
		}
		return netspec.SignaturePolicy{SignedBy: principals[i]}, nil
	case r.Type.NOutOf != nil:
		p := netspec.SignaturePolicy{N: r.Type.NOutOf.N}
		for _, sub := range r.Type.NOutOf.Rules {
			t, err := sub.tree(principals)
			if err != nil {
				return netspec.SignaturePolicy{}, err
			}
			p.Rules = append(p.Rules, t)
		}
		return p, nil
	}
	return netspec.SignaturePolicy{}, errors.New("rule is neither signed-by nor n-out-of")
}

// collectionChange says how the derived collections differ from the
// committed ones: collections added, and existing ones whose settings
// changed. Fabric refuses a definition that drops a committed collection
// or changes its blockToLive; so does this, before anything is approved.
type collectionChange struct {
	Added, Changed []string
}

func (c collectionChange) empty() bool { return len(c.Added) == 0 && len(c.Changed) == 0 }

func (c collectionChange) String() string {
	var parts []string
	if len(c.Added) > 0 {
		parts = append(parts, "added "+strings.Join(c.Added, ", "))
	}
	if len(c.Changed) > 0 {
		parts = append(parts, "changed "+strings.Join(c.Changed, ", "))
	}
	return strings.Join(parts, "; ")
}

// diffCollections compares the committed collections with the derived
// ones (want, in the order of orderAsCommitted).
func diffCollections(committed, want []netspec.Collection) (collectionChange, error) {
	var ch collectionChange
	wantByName := map[string]netspec.Collection{}
	for _, c := range want {
		wantByName[c.Name] = c
	}
	var errs []error
	have := map[string]bool{}
	for _, c := range committed {
		have[c.Name] = true
		w, ok := wantByName[c.Name]
		switch {
		case !ok:
			msp, _ := trace.CollectionOwner(c.Name)
			errs = append(errs, fmt.Errorf("collection %s is in the committed chaincode definition but network.yaml no longer derives it (no org %s with role manufacturer): Fabric does not allow removing a collection from a chaincode definition; put the org back (its collection may stay unused)", c.Name, msp))
		case w.BlockToLive != c.BlockToLive:
			errs = append(errs, fmt.Errorf("collection %s: blockToLive is %d in the committed definition, %d derived: Fabric does not allow changing it", c.Name, c.BlockToLive, w.BlockToLive))
		case w != c:
			ch.Changed = append(ch.Changed, c.Name)
		}
	}
	for _, c := range want {
		if !have[c.Name] {
			ch.Added = append(ch.Added, c.Name)
		}
	}
	return ch, errors.Join(errs...)
}

// orderAsCommitted orders want as the committed collections are (new ones
// after them, in definition order): approvals must match byte for byte,
// and reordering the orgs in network.yaml is no reason for a new sequence.
func orderAsCommitted(committed, want []netspec.Collection) []netspec.Collection {
	pos := map[string]int{}
	for i, c := range committed {
		pos[c.Name] = i
	}
	out := slices.Clone(want)
	slices.SortStableFunc(out, func(a, b netspec.Collection) int {
		pa, oka := pos[a.Name]
		pb, okb := pos[b.Name]
		switch {
		case oka && okb:
			return pa - pb
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	return out
}
