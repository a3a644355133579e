package chaincode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// World-state record layouts and their lazy migration (see doc.go,
// "Upgrades and state migration").
//
// Layout 1 is the JSON of the trace record structs, without a marker: every
// record written so far. A record of layout n > 1 begins with the marker
// member {"layout":n, (always first, so it is found without parsing). The
// contract reads every layout up to its own: older records are migrated in
// memory, one step at a time, when they are read; the next write of the
// record stores the current layout. A record of a newer layout than the
// contract knows is refused (an endorser running an older contract than
// the one that wrote it).

// migration upgrades one record from layout n to n+1, in place, on its
// JSON object's members. kind is the record's key object type ("pack",
// "lot", "req", ...). It must be deterministic (every endorser runs it)
// and must not read the ledger.
type migration func(kind string, rec map[string]json.RawMessage) error

// migrations[i] upgrades layout i+1 to i+2. Append one (and describe it in
// doc.go) when a record's JSON changes incompatibly; never edit or remove
// one while records of its layout may exist on a ledger.
var migrations []migration

// StateLayout is the layout this contract writes.
func StateLayout() int { return len(migrations) + 1 }

// layouts is the layout a contract writes and how it reads older ones.
type layouts struct {
	current int
	up      []migration // up[i]: layout i+1 → i+2; len(up) == current-1
}

func defaultLayouts() layouts { return layouts{current: StateLayout(), up: migrations} }

var layoutMarker = []byte(`{"layout":`)

// recordLayout returns the layout of a stored record.
func recordLayout(b []byte) (int, error) {
	if !bytes.HasPrefix(b, layoutMarker) {
		return 1, nil
	}
	rest := b[len(layoutMarker):]
	end := bytes.IndexAny(rest, ",}")
	if end < 0 {
		return 0, fmt.Errorf("unterminated layout marker")
	}
	n, err := strconv.Atoi(string(rest[:end]))
	if err != nil || n < 2 {
		return 0, fmt.Errorf("bad layout marker %q", rest[:end])
	}
	return n, nil
}

// decodeRecord decodes the stored record b of key k into v, migrating it
// from an older layout first.
func (c *Contract) decodeRecord(k string, b []byte, v any) error {
	n, err := recordLayout(b)
	if err != nil {
		return fmt.Errorf("ledger: %q: %w", printable(k), err)
	}
	switch {
	case n == c.layouts.current:
		// The marker matches no field of a record struct and is ignored.
		return json.Unmarshal(b, v)
	case n > c.layouts.current:
		return fmt.Errorf("ledger: %q has record layout %d, written by a newer contract; this contract (%s) reads layouts up to %d: "+
			"every endorser must run the chaincode of the committed definition", printable(k), n, c.build.Definition(), c.layouts.current)
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(b, &rec); err != nil {
		return err
	}
	delete(rec, "layout")
	kind := keyKind(k)
	for l := n; l < c.layouts.current; l++ {
		if err := c.layouts.up[l-1](kind, rec); err != nil {
			return fmt.Errorf("ledger: migrate %q from layout %d to %d: %w", printable(k), l, l+1, err)
		}
	}
	mb, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return json.Unmarshal(mb, v)
}

// encodeRecord encodes a record in the current layout.
func (c *Contract) encodeRecord(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || c.layouts.current == 1 {
		return b, err
	}
	if len(b) < 2 || b[0] != '{' {
		return nil, fmt.Errorf("record %T is not a JSON object", v)
	}
	marker := strconv.AppendInt(append([]byte(nil), layoutMarker...), int64(c.layouts.current), 10)
	if b[1] != '}' {
		marker = append(marker, ',')
	}
	return append(marker, b[1:]...), nil
}

// keyKind is the object type of a composite key ("pack" of \x00pack\x00...).
func keyKind(k string) string {
	if len(k) < 2 || k[0] != 0 {
		return ""
	}
	if i := bytes.IndexByte([]byte(k[1:]), 0); i >= 0 {
		return k[1 : 1+i]
	}
	return k[1:]
}
