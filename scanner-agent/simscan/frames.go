package simscan

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/pharmatrace/pharmatrace/gs1"
)

// ParseFrames reads frames one per line. In a line, `\x1d`, `<GS>` and
// `\G` stand for GS (0x1D); `\xHH` is any byte and `\\` a backslash. A
// trailing CR is dropped; blank lines and lines starting with # are
// skipped (# is not a GS1 data character).
func ParseFrames(r io.Reader) ([][]byte, error) {
	var out [][]byte
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(s) == "" || strings.HasPrefix(s, "#") {
			continue
		}
		f, err := unescapeFrame(s)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, f)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func unescapeFrame(s string) ([]byte, error) {
	s = strings.ReplaceAll(s, "<GS>", "\x1d")
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("trailing backslash")
		}
		switch s[i+1] {
		case '\\':
			b.WriteByte('\\')
			i++
		case 'G':
			b.WriteByte(0x1d)
			i++
		case 'x':
			if i+3 >= len(s) {
				return nil, fmt.Errorf("short \\x escape")
			}
			v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("bad escape %q", s[i:i+4])
			}
			b.WriteByte(byte(v))
			i += 3
		default:
			return nil, fmt.Errorf("unknown escape \\%c", s[i+1])
		}
	}
	return b.Bytes(), nil
}

// DefaultGTIN is the GTIN Generate uses when given none (GS1's example
// pharmaceutical GTIN).
const DefaultGTIN = "09506000134352"

// NormalizeGTIN accepts a 14-digit GTIN with a valid check digit, or 13
// digits to which it appends the check digit (shorter GTINs are
// zero-padded to 13 first).
func NormalizeGTIN(g string) (string, error) {
	for _, c := range g {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("GTIN %q: not all digits", g)
		}
	}
	switch {
	case len(g) == 14:
		if checkDigit(g[:13]) != g[13] {
			return "", fmt.Errorf("GTIN %s: check digit should be %c", g, checkDigit(g[:13]))
		}
		return g, nil
	case len(g) >= 7 && len(g) <= 13:
		g = strings.Repeat("0", 13-len(g)) + g
		return g + string(checkDigit(g)), nil
	}
	return "", fmt.Errorf("GTIN %q: want 14 digits, or 7 to 13 without the check digit", g)
}

// checkDigit is the GS1 mod-10 check digit of a digit string, as a byte.
func checkDigit(s string) byte {
	d, _ := gs1.CheckDigit(s)
	return byte('0' + d)
}

// Generate yields n pharmaceutical DataMatrix element strings as a scanner
// transmits them with the symbology identifier:
//
//	]d2 01<GTIN> 17<YYMMDD> 10<lot> GS 21<serial>
//
// Serial numbers are unique within the run (a random prefix from seed,
// then the index); lots change every 500 packs; expiry dates are valid
// calendar dates in 2027–2030. The same seed gives the same frames.
func Generate(n int, gtin string, seed uint64) (iter.Seq[[]byte], error) {
	if gtin == "" {
		gtin = DefaultGTIN
	}
	g, err := NormalizeGTIN(gtin)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("count %d is negative", n)
	}
	const alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	prefix := make([]byte, 4)
	for i := range prefix {
		prefix[i] = alnum[rng.IntN(len(alnum))]
	}
	return func(yield func([]byte) bool) {
		rng := rand.New(rand.NewPCG(seed, 7))
		for i := range n {
			lot := fmt.Sprintf("L%05d", (i/500)%100000)
			expiry := fmt.Sprintf("%02d%02d%02d", 27+rng.IntN(4), 1+rng.IntN(12), 1+rng.IntN(28))
			serial := fmt.Sprintf("%s%010d", prefix, i)
			f := make([]byte, 0, 64)
			f = append(f, "]d201"...)
			f = append(f, g...)
			f = append(f, "17"...)
			f = append(f, expiry...)
			f = append(f, "10"...)
			f = append(f, lot...)
			f = append(f, 0x1d)
			f = append(f, "21"...)
			f = append(f, serial...)
			if !yield(f) {
				return
			}
		}
	}, nil
}
