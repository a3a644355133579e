// Package shutdown gives a command's main the context of its life: the
// first SIGINT or SIGTERM cancels it (the command drains gracefully), a
// second one ends the process at once with status 130. Every PharmaTrace
// binary uses it, so that Ctrl-C during a long drain is never swallowed.
package shutdown

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Context returns a context cancelled by the first SIGINT/SIGTERM; a
// second signal writes a line to w and exits with status 130. stop
// releases the signal handling (call it when main returns).
func Context(parent context.Context, w io.Writer) (ctx context.Context, stop func()) {
	return withSignals(parent, w, func() { os.Exit(130) })
}

func withSignals(parent context.Context, w io.Writer, exit func()) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-ch:
			fmt.Fprintf(w, "%s again: stopping now\n", s)
			exit()
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}
