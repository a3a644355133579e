package chaincode

import (
	"fmt"
	"regexp"
	"strings"
)

// Version is the version of the contract's rules (semantic versioning):
// bump it with every change of what a transaction decides or writes. It is
// the contract metadata's Info.Version and, with the server binary's build
// ID, names the chaincode package (Build.Label) and the chaincode definition
// committed on the channel (Build.Definition).
const Version = "1.1.0"

// Build identifies the exact contract a chaincode server runs: the rules'
// Version and the build ID of its binary (the first 12 hex digits of the
// binary's SHA-256). Every organisation runs a byte-identical binary
// (reproducible build: same source, same Go, -trimpath), so one build ID
// names one set of rules consortium-wide.
type Build struct {
	Version string // the contract's Version
	ID      string // 12 hex digits of the binary's SHA-256; empty in tests
}

// LabelPrefix starts every package label of the PharmaTrace chaincode.
const LabelPrefix = "pharmatrace_"

// CurrentBuild is this source's Version with the given binary build ID.
func CurrentBuild(id string) Build { return Build{Version: Version, ID: id} }

// Label is the chaincode package label of the build,
// "pharmatrace_<version>_<build ID>" (a valid Fabric label:
// [[:alnum:]][[:alnum:]_.+-]*). A package of this label must be served by
// this build and no other (the server refuses any other CHAINCODE_ID).
func (b Build) Label() string { return LabelPrefix + b.Version + "_" + b.ID }

// Definition is the chaincode definition version committed on the channel
// for the build, "<version>+<build ID>" (semver build metadata): what the
// ledger says every endorser runs. Transactions record it (Event.Contract,
// RequestRecord.Contract). Without a build ID it is the Version alone.
func (b Build) Definition() string {
	if b.ID == "" {
		return b.Version
	}
	return b.Version + "+" + b.ID
}

var labelRE = regexp.MustCompile(`^` + LabelPrefix + `([0-9]+\.[0-9]+\.[0-9]+)_([0-9a-f]{12})$`)

// ParseLabel returns the build a package label names.
func ParseLabel(label string) (Build, error) {
	m := labelRE.FindStringSubmatch(label)
	if m == nil {
		return Build{}, fmt.Errorf("package label %q is not %s<version>_<12 hex digits of the binary's SHA-256>", label, LabelPrefix)
	}
	return Build{Version: m[1], ID: m[2]}, nil
}

// CheckPackageID refuses a package ID (label:hash, CHAINCODE_ID) that does
// not name this build: a server started under another build's package
// would answer for rules the channel's definition does not name.
func (b Build) CheckPackageID(packageID string) error {
	label, _, ok := strings.Cut(packageID, ":")
	if !ok {
		return fmt.Errorf("package ID %q is not <label>:<hash>", packageID)
	}
	if label != b.Label() {
		return fmt.Errorf("package ID %s was made for another contract build: this binary is %s (contract %s, build %s); install and approve a package labelled %s (fabnet upgrade)",
			packageID, b.Label(), b.Version, b.ID, b.Label())
	}
	return nil
}
