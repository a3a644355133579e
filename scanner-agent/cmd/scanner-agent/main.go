// Command scanner-agent is PharmaTrace's station agent. It runs at a
// pharmacy counter or a warehouse dock, reads USB/serial barcode scanners,
// keeps every scan in a durable local queue and records it on the ledger
// exactly once, telling the person at the station what happened.
//
// Usage:
//
//	scanner-agent <command> [flags]
//
// Commands:
//
//	run       the station daemon (run.go)
//	decode    read scanner frames from stdin, one per line, and write one JSON
//	          object per frame to stdout (decode.go)
//	ports     list serial ports with USB VID, PID, serial number and product (ports.go)
//	simulate  a virtual scanner on a pseudo-terminal (simulate.go)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pharmatrace/pharmatrace/internal/shutdown"
)

func main() {
	ctx, stop := shutdown.Context(context.Background(), os.Stderr)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case errors.Is(err, context.Canceled):
		os.Exit(130)
	default:
		fmt.Fprintln(os.Stderr, "scanner-agent:", err)
		os.Exit(1)
	}
}

// errUsage marks command-line errors; the message has been printed already.
var errUsage = errors.New("usage error")

const usage = `usage: scanner-agent <command> [flags]

commands:
  run       the station daemon: scanners → durable queue → ledger
  decode    decode scanner frames from stdin to JSON lines on stdout
  ports     list serial ports (USB VID, PID, serial number, product)
  simulate  a virtual scanner on a pseudo-terminal

Run 'scanner-agent <command> -h' for the flags of a command.
`

// run executes one command; it is main without the process globals.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "run":
		return runRun(ctx, args[1:], stdout, stderr)
	case "decode":
		return runDecode(ctx, args[1:], stdin, stdout, stderr)
	case "ports":
		return runPorts(ctx, args[1:], stdout, stderr)
	case "simulate":
		return runSimulate(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "scanner-agent: unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
}
