package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/pharmatrace/pharmatrace/bench"
)

// gs1Micro runs the gs1 package's Go benchmarks (the parser on a typical
// pharma DataMatrix and the other input forms) and reports ns/op and
// allocations.
func gs1Micro(ctx context.Context, e *env) ([]bench.Figure, error) {
	benchtime := "1s"
	if e.quick {
		benchtime = "300ms"
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^BenchmarkParse", "-benchmem", "-benchtime", benchtime, "./gs1/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench ./gs1/: %w\n%s", err, out)
	}
	var figs []bench.Figure
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// BenchmarkParseDataMatrix-2  2460385  487.1 ns/op  64 B/op  1 allocs/op
		if len(f) < 8 || !strings.HasPrefix(f[0], "Benchmark") || f[3] != "ns/op" {
			continue
		}
		ns, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		fig := bench.Figure{Scenario: "gs1", Metric: name, Value: ns, Unit: "ns/op", Note: f[6] + " allocs/op"}
		if name == "ParseDataMatrix" {
			fig.Target = "<= 1000"
		}
		figs = append(figs, fig)
	}
	if len(figs) == 0 {
		return nil, fmt.Errorf("no benchmark results in:\n%s", out)
	}
	return figs, nil
}
