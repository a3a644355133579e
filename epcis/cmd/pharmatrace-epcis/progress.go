package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows how far a long job (an import, an export) is: a bar on
// stderr when stderr is a terminal, nothing otherwise, so that logs piped
// to a file stay lines of text. It never writes to stdout, which carries
// the JSON report or the exported document.
type progress struct {
	bar   *progressbar.ProgressBar
	known bool // the size is known: a bar, not a spinner
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// sizeOf is the size of a regular file, -1 for anything else (a pipe,
// standard input, a response of unknown length).
func sizeOf(r io.Reader) int64 {
	f, ok := r.(*os.File)
	if !ok {
		return -1
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return -1
	}
	return st.Size()
}

// newProgress returns the progress of a job of size bytes (-1 when
// unknown: a spinner with the bytes so far), drawn on stderr if it is a
// terminal.
func newProgress(stderr io.Writer, size int64, desc string) *progress {
	if !isTerminal(stderr) {
		return &progress{}
	}
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }),
	)
	return &progress{bar: bar, known: size >= 0}
}

// on reports whether a bar is drawn.
func (p *progress) on() bool { return p.bar != nil }

// reader counts what is read from r.
func (p *progress) reader(r io.Reader) io.Reader {
	if p.bar == nil {
		return r
	}
	pr := progressbar.NewReader(r, p.bar)
	return &pr
}

// describe sets the text before the bar.
func (p *progress) describe(s string) {
	if p.bar != nil {
		p.bar.Describe(s)
	}
}

// done completes the bar (and ends its line), so that what is written to
// stderr afterwards starts on a line of its own.
func (p *progress) done() {
	switch {
	case p.bar == nil:
	case p.known:
		p.bar.Finish()
	default:
		p.bar.Exit()
	}
}
