package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/pharmatrace/pharmatrace/scanner-agent/serialscan"
)

const portsUsage = `usage: scanner-agent ports [-json]

Lists the serial ports of this machine with their USB vendor and product
IDs, serial number, manufacturer and product name, and the stable
/dev/serial/by-id links to them — the values to put in a scanner's
"device" or "usb" setting. Pseudo-terminals (the simulate command's) are
not serial ports and are not listed.

Flags:
`

// listPorts is serialscan.ListPorts; tests replace it.
var listPorts = serialscan.ListPorts

func runPorts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ports", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), portsUsage)
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ports: unexpected arguments %q\n", fs.Args())
		return errUsage
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ports, err := listPorts()
	if err != nil {
		return err
	}
	if *asJSON {
		if ports == nil {
			ports = []serialscan.PortInfo{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ports)
	}
	if len(ports) == 0 {
		fmt.Fprintln(stderr, "no serial ports found")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tVID\tPID\tSERIAL\tPRODUCT\tLINKS")
	for _, p := range ports {
		vid, pid := p.VID, p.PID
		if !p.IsUSB {
			vid, pid = "-", "-"
		}
		product := strings.TrimSpace(p.Manufacturer + " " + p.Product)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, vid, pid, dash(p.SerialNumber), dash(product), dash(strings.Join(p.Links, " ")))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
