package simscan

import (
	"bytes"
	"math/rand/v2"
)

// Layout is a keyboard-layout mix-up a keyboard-wedge scanner suffers when
// the host's layout differs from the scanner's.
type Layout string

// Layouts.
const (
	// LayoutQWERTZ swaps Y and Z (German/Swiss/Czech keyboards).
	LayoutQWERTZ Layout = "qwertz"
	// LayoutAZERTY types the unshifted AZERTY digit row instead of digits:
	// 1234567890 → &é"'(-è_çà (French/Belgian keyboards).
	LayoutAZERTY Layout = "azerty"
)

// dropGS removes every GS.
func dropGS(f []byte) []byte { return bytes.ReplaceAll(f, []byte{0x1d}, nil) }

// invertCase is CAPS LOCK on a keyboard wedge: letter case inverted.
func invertCase(f []byte) []byte {
	out := make([]byte, len(f))
	for i, b := range f {
		switch {
		case b >= 'a' && b <= 'z':
			b -= 'a' - 'A'
		case b >= 'A' && b <= 'Z':
			b += 'a' - 'A'
		}
		out[i] = b
	}
	return out
}

var azertyDigits = [10]string{"à", "&", "é", `"`, "'", "(", "-", "è", "_", "ç"}

// swapLayout retypes f as if on the other layout.
func swapLayout(f []byte, l Layout) []byte {
	out := make([]byte, 0, len(f)+8)
	for _, b := range f {
		switch {
		case l == LayoutAZERTY && b >= '0' && b <= '9':
			out = append(out, azertyDigits[b-'0']...)
		case l != LayoutAZERTY && (b == 'y' || b == 'z' || b == 'Y' || b == 'Z'):
			out = append(out, b^('y'^'z'))
		default:
			out = append(out, b)
		}
	}
	return out
}

// noiseFrame is line noise: 3–40 random bytes including at least one
// control byte, never a CR, LF or TAB (so the framer sees one frame, which
// it must reject).
func noiseFrame(rng *rand.Rand) []byte {
	n := 3 + rng.IntN(38)
	f := make([]byte, n)
	for i := range f {
		b := byte(rng.IntN(256))
		for b == '\r' || b == '\n' || b == '\t' {
			b = byte(rng.IntN(256))
		}
		f[i] = b
	}
	// Guarantee garbage: a control byte that is not GS.
	ctl := []byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x07, 0x08, 0x1b, 0x7f}
	f[rng.IntN(n)] = ctl[rng.IntN(len(ctl))]
	return f
}
