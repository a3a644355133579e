package counter

import (
	"fmt"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/gs1"
	"github.com/pharmatrace/pharmatrace/trace"
)

// trace keeps its own small copies of the GS1 syntax rules the contract
// enforces (check digits, character set 82, the century window), so that
// the contract's rules change only with the contract, never because the
// scanner-side parser's AI dictionary moved. This test keeps the two in
// step where they must agree.
func TestTraceAndGS1AgreeOnSyntax(t *testing.T) {
	for c := range 256 {
		s := string([]byte{byte(c)})
		if trace.IsCS82(s) != gs1.InCharset(s, gs1.CSet82) {
			t.Errorf("byte %#x: trace says %v, gs1 says %v", c, trace.IsCS82(s), gs1.InCharset(s, gs1.CSet82))
		}
	}
	for i := range 20000 {
		body := fmt.Sprintf("%013d", (uint64(i)*2654435761)%1e13)
		for d := range 10 {
			g := body + fmt.Sprint(d)
			if (trace.CheckGTIN(g) == nil) != gs1.ValidGTIN(g) {
				t.Fatalf("GTIN %s: trace %v, gs1 %v", g, trace.CheckGTIN(g), gs1.ValidGTIN(g))
			}
			if l := g[1:]; (trace.CheckGLN(l) == nil) != gs1.ValidGLN(l) {
				t.Fatalf("GLN %s: trace %v, gs1 %v", l, trace.CheckGLN(l), gs1.ValidGLN(l))
			}
		}
	}
	p := gs1.Parser{}
	for _, now := range []time.Time{time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), time.Date(2049, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2051, 1, 1, 0, 0, 0, 0, time.UTC)} {
		p.Now = func() time.Time { return now }
		for yy := range 100 {
			exp := fmt.Sprintf("%02d1231", yy)
			sc, err := p.Parse([]byte("(01)04012345000016(17)" + exp + "(10)L(21)S"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := trace.ParseExpiry(exp, now)
			want := sc.Expiry
			if err != nil || got.Year() != want.Year() {
				t.Errorf("%s at %s: trace year %d (%v), gs1 year %d", exp, now.Format("2006"), got.Year(), err, want.Year())
			}
		}
	}
}
