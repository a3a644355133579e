package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pharmatrace/pharmatrace/scanner-agent/simscan"
	"github.com/pharmatrace/pharmatrace/scanner-agent/station"
)

const simulateUsage = `usage: scanner-agent simulate (-file F | -generate N) [flags]

A virtual scanner on a pseudo-terminal. Prints the slave device path (e.g.
/dev/pts/7) on stdout — and again after every replug — then types frames
into it at -rate scans/s. Point the agent's scanner device at the path, or
better at -link, a symlink kept pointing at the current device (the path
changes on every replug, as a USB device's may).

Frames come from -file (one per line; \x1d, \G or <GS> for GS; # comments)
or -generate N (pharmaceutical DataMatrix element strings:
]d2 01 GTIN 17 expiry 10 lot GS 21 serial, unique serials).

Faults, each a probability per frame: -drop-gs (GS left out), -caps (CAPS
LOCK), -layout (keyboard layout swapped, see -layout-kind), -noise (a
garbage frame first). -split types frames in small chunks with short
pauses; -unplug-every N unplugs and replugs after every N frames (the
agent's reads then fail: a pty hang-up, read returns EOF).

Bytes the agent writes back (feedback) are logged on stderr. When all
frames are typed, simulate waits until the agent has read them, then exits
(or, with -hold, keeps the device until interrupted).

Flags:
`

func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), simulateUsage)
		fs.PrintDefaults()
	}
	file := fs.String("file", "", "read frames from `path`, one per line")
	generate := fs.Int("generate", 0, "generate `N` frames")
	gtin := fs.String("gtin", simscan.DefaultGTIN, "GTIN of generated frames: 14 digits, or 13 without check digit")
	seed := fs.Uint64("seed", 0, "random seed for generated serials, faults and noise (0: random)")
	rate := fs.Float64("rate", 2, "scans per `second`; 0 types as fast as the device takes them")
	suffix := fs.String("suffix", "CR", "frame suffix: CR, LF, CRLF, TAB or none")
	gsSub := fs.String("gs-substitute", "", "type this character instead of GS: one character, ^X or \\xHH")
	gap := fs.Duration("gap", 0, "pause after every frame (default 200ms with -suffix none, else 0)")
	dropGS := fs.Float64("drop-gs", 0, "probability `P` of leaving out the GS characters of a frame")
	caps := fs.Float64("caps", 0, "probability `P` of CAPS LOCK (letter case inverted)")
	layout := fs.Float64("layout", 0, "probability `P` of a keyboard layout swap")
	layoutKind := fs.String("layout-kind", "qwertz", "layout swap: qwertz (Y/Z swapped) or azerty (digit row unshifted)")
	noise := fs.Float64("noise", 0, "probability `P` of a garbage frame before a frame")
	split := fs.Bool("split", false, "type frames in random small chunks with short pauses")
	splitChunk := fs.Int("split-chunk", 8, "largest chunk with -split, in bytes")
	splitPause := fs.Duration("split-pause", 2*time.Millisecond, "longest pause between chunks with -split")
	unplugEvery := fs.Int("unplug-every", 0, "unplug and replug after every `N` frames")
	unplugPause := fs.Duration("unplug-pause", 500*time.Millisecond, "how long the scanner stays unplugged")
	link := fs.String("link", "", "keep a symlink at `path` pointing at the current device")
	delay := fs.Duration("delay", 0, "wait this long after printing the device path before typing")
	hold := fs.Bool("hold", false, "keep the device open after the last frame until interrupted")
	verbose := fs.Bool("v", false, "log every frame typed")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "simulate: "+format+"\n", a...)
		return errUsage
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected arguments %q", fs.Args())
	}
	if (*file == "") == (*generate == 0) {
		return usageErr("give exactly one of -file and -generate")
	}
	if *generate < 0 {
		return usageErr("-generate %d: must be positive", *generate)
	}

	suffixName, suffixBytes, err := station.ParseSuffix(*suffix)
	if err != nil {
		return usageErr("-suffix: %v", err)
	}
	o := simscan.Options{
		Suffix: suffixBytes, NoSuffix: suffixName == "none",
		Rate: *rate, Gap: *gap,
		DropGS: *dropGS, Caps: *caps, Layout: *layout, Noise: *noise,
		LayoutKind: simscan.Layout(strings.ToLower(*layoutKind)),
		Split:      *split, SplitMaxChunk: *splitChunk, SplitMaxPause: *splitPause,
		UnplugEvery: *unplugEvery, UnplugPause: *unplugPause,
		Link: *link, Seed: *seed,
	}
	if o.NoSuffix && o.Gap == 0 {
		o.Gap = 200 * time.Millisecond
	}
	if *gsSub != "" {
		b, err := station.ParseGSSubstitute(*gsSub)
		if err != nil {
			return usageErr("-gs-substitute: %v", err)
		}
		o.GSSubstitute = b
	}

	var frames iter.Seq[[]byte]
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		list, err := simscan.ParseFrames(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *file, err)
		}
		frames = slices.Values(list)
	} else {
		seq, err := simscan.Generate(*generate, *gtin, *seed)
		if err != nil {
			return usageErr("%v", err)
		}
		frames = seq
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	o.Logger = log
	o.OnPlug = func(path string) { fmt.Fprintln(stdout, path) }
	o.OnFeedback = func(b []byte) { log.Info("feedback from the agent", "bytes", fmt.Sprintf("%q", b)) }
	sim, err := simscan.New(o)
	if err != nil {
		return usageErr("%v", err)
	}
	defer sim.Close()

	if *delay > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(*delay):
		}
	}
	st, err := sim.Run(ctx, frames, func(t simscan.Typed) {
		if *verbose {
			log.Debug("typed", "index", t.Index, "frame", fmt.Sprintf("%q", t.Sent), "faults", strings.Join(t.Faults, ","))
		}
	})
	log.Info("simulation finished", "frames", st.Frames, "noise", st.Noise, "faulty", st.Faulty,
		"unplugs", st.Unplugs, "bytes", st.Bytes, "elapsed", st.Elapsed.Round(time.Millisecond))
	if err != nil {
		return err
	}
	if *hold {
		log.Info("holding the device open; interrupt to stop", "port", sim.Path())
		<-ctx.Done()
		return nil
	}
	return nil
}
