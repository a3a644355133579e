// Command pharmabench is `make bench`: it drives load against the real
// network from `make up` and reports PharmaTrace's figures side by side
// with raw Fabric on the same machine in the same run.
//
//	pharmabench [-quick] [-out run/bench]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/pharmatrace/pharmatrace/bench"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/internal/shutdown"
)

func main() {
	ctx, stop := shutdown.Context(context.Background(), os.Stderr)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pharmabench:", err)
		os.Exit(1)
	}
}

// env is what every scenario gets.
type env struct {
	l     *netspec.Layout
	quick bool
	out   string
	log   *slog.Logger
	// baselineTPS is the raw-Fabric throughput measured first in the run.
	baselineTPS float64
	// dispenseRate is the dispense scenario's dispenses per second.
	dispenseRate float64
	// bulkBaselineRate is the raw bulk baseline's serial-equivalents per
	// second (measured before bulk commissioning).
	bulkBaselineRate float64
}

// scenario measures one part of the system and returns its figures.
type scenario struct {
	name string
	run  func(ctx context.Context, e *env) ([]bench.Figure, error)
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pharmabench", flag.ContinueOnError)
	quick := fs.Bool("quick", os.Getenv("QUICK") != "", "short run with smaller N (env QUICK)")
	out := fs.String("out", "run/bench", "output `directory` for results.md, results.json and CPU profiles")
	specPath := fs.String("spec", "fabric-network/network.yaml", "network definition")
	runDir := fs.String("run", "run", "network run directory")
	only := fs.String("only", "", "run only the named scenario")
	if err := fs.Parse(args); err != nil {
		return err
	}
	spec, err := netspec.Load(*specPath)
	if err != nil {
		return err
	}
	l, err := netspec.NewLayout(spec, *runDir)
	if err != nil {
		return err
	}
	e := &env{l: l, quick: *quick, out: *out, log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	report := &bench.Report{When: time.Now(), Quick: *quick, Machine: bench.ReadMachine(), Fabric: bench.Fabric{
		Version: "v2.5.0", BatchTimeout: spec.Ordering.BatchTimeout.String(), MaxMessageCount: spec.Ordering.MaxMessageCount,
		Orderers: len(spec.OrdererOrg.Orderers), Peers: len(spec.Orgs),
		EndorsementPolicy: endorsementDesc(spec),
		StateDatabase:     "LevelDB",
	}}
	for _, s := range scenarios {
		if *only != "" && s.name != *only {
			continue
		}
		e.log.Info("scenario", "name", s.name)
		figs, err := s.run(ctx, e)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", s.name, err)
		}
		for _, f := range figs {
			report.Figures = append(report.Figures, f.Check())
		}
	}
	if err := report.Write(*out); err != nil {
		return err
	}
	fmt.Fprintln(stdout, report.Markdown())
	fmt.Fprintf(stdout, "\nwritten to %s/results.md and results.json\n", *out)
	return nil
}

// endorsementDesc describes who endorses what: the chaincode's policy for
// public records, each manufacturer collection's for its packs.
func endorsementDesc(spec *netspec.Spec) string {
	d := spec.Chaincode.Policy + fmt.Sprintf(" (%d of %d orgs) for products and lots", len(spec.Orgs)/2+1, len(spec.Orgs))
	colls, err := spec.Collections()
	if err != nil {
		return d
	}
	for _, c := range colls {
		d += fmt.Sprintf(", %s for packs in %s", c.Endorsement.SignaturePolicy, c.Name)
	}
	return d
}
