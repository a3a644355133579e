package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/pharmatrace/pharmatrace/gs1"
	"github.com/pharmatrace/pharmatrace/scanner-agent/station"
)

const decodeUsage = `usage: scanner-agent decode [-gs-substitute C] [-now YYYY-MM-DD]

Reads scanner frames from stdin, one per line (LF; a CR before it is dropped;
FNC1 as the raw GS byte 0x1D), and writes one JSON object per frame to stdout:

  {"gtin":"…","serial":"…","lot":"…","expiry":"YYYY-MM-DD","expiryDayUnset":true,
   "nhrn":{"714":"…"},"ais":[{"ai":"01","value":"…"}],"warnings":["…"]}

or {"error":"…"} for a frame that is not valid GS1 data. Absent fields are
omitted. "expiry" is AI 17; when the code gives day 00 (no particular day) it
is the last day of the month and "expiryDayUnset" is true. An empty line yields
an error object too, so output line N always answers input line N.

The exit status is 0 once all input has been read, even if frames were
invalid; it is non-zero only when reading or writing fails.

Flags:
`

// maxFrame bounds one input line; longer lines are answered with an error.
const maxFrame = 64 << 10

func runDecode(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), decodeUsage)
		fs.PrintDefaults()
	}
	gsSub := fs.String("gs-substitute", "", "a character that a keyboard-wedge scanner sends instead of GS (0x1D):\n"+
		"a single ASCII character such as ~ or |, caret notation such as ^] (0x1D) or ^\\ (0x1C),\n"+
		"or a hex escape \\xHH or 0xHH")
	now := fs.String("now", "", "date `YYYY-MM-DD` used as today for the century of two-digit years (default: the current date)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "decode: unexpected arguments %q\n", fs.Args())
		return errUsage
	}
	var p gs1.Parser
	if *gsSub != "" {
		c, err := station.ParseGSSubstitute(*gsSub)
		if err != nil {
			fmt.Fprintf(stderr, "decode: -gs-substitute: %v\n", err)
			return errUsage
		}
		p.GSSubstitute = c
	}
	if *now != "" {
		t, err := time.Parse(time.DateOnly, *now)
		if err != nil {
			fmt.Fprintf(stderr, "decode: -now: %v\n", err)
			return errUsage
		}
		p.Now = func() time.Time { return t }
	}
	return decodeStream(ctx, &p, stdin, stdout)
}

type aiJSON struct {
	AI    string `json:"ai"`
	Value string `json:"value"`
}

// decodeResult is the JSON shape of one decoded frame.
type decodeResult struct {
	GTIN           string            `json:"gtin,omitempty"`
	Serial         string            `json:"serial,omitempty"`
	Lot            string            `json:"lot,omitempty"`
	Expiry         string            `json:"expiry,omitempty"`
	ExpiryDayUnset bool              `json:"expiryDayUnset,omitempty"`
	NHRN           map[string]string `json:"nhrn,omitempty"`
	AIs            []aiJSON          `json:"ais,omitempty"`
	Warnings       []string          `json:"warnings,omitempty"`
	Error          string            `json:"error,omitempty"`
}

func newDecodeResult(sc *gs1.Scan, err error) decodeResult {
	if err != nil {
		return decodeResult{Error: err.Error()}
	}
	r := decodeResult{GTIN: sc.GTIN, Serial: sc.Serial, Lot: sc.Lot, NHRN: sc.NHRN()}
	if !sc.Expiry.IsZero() {
		r.Expiry = sc.Expiry.Format(time.DateOnly)
		r.ExpiryDayUnset = sc.ExpiryDayUnset
	}
	for i := 0; i < sc.Len(); i++ {
		e := sc.At(i)
		r.AIs = append(r.AIs, aiJSON{AI: e.AI, Value: e.Value})
	}
	for _, w := range sc.Warnings {
		r.Warnings = append(r.Warnings, w.String())
	}
	return r
}

type frame struct {
	data    []byte
	tooLong bool
	err     error
}

// decodeStream decodes frames from r until EOF, writing one JSON line per
// frame and flushing after each so that an interactive pipe sees results at
// once. It returns nil at EOF, the context's error when cancelled, and an
// I/O error otherwise.
func decodeStream(ctx context.Context, p *gs1.Parser, r io.Reader, w io.Writer) error {
	frames := make(chan frame)
	done := make(chan struct{})
	defer close(done)
	go readFrames(r, frames, done)

	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for {
		var f frame
		var ok bool
		select {
		case <-ctx.Done():
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("writing output: %w", err)
			}
			return ctx.Err()
		case f, ok = <-frames:
		}
		if !ok {
			return nil // every result has been flushed already
		}
		if f.err != nil {
			return fmt.Errorf("reading input: %w", f.err)
		}
		var res decodeResult
		if f.tooLong {
			res = decodeResult{Error: "frame too long (more than " + strconv.Itoa(maxFrame) + " bytes)"}
		} else {
			sc, err := p.Parse(f.data)
			res = newDecodeResult(&sc, err)
		}
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
}

// readFrames sends each line of r (without LF and a CR before it) on out,
// then closes out. A line longer than maxFrame is skipped and reported as
// too long, so memory stays bounded whatever the input. A read error is sent
// as the last frame.
func readFrames(r io.Reader, out chan<- frame, done <-chan struct{}) {
	defer close(out)
	send := func(f frame) bool {
		select {
		case out <- f:
			return true
		case <-done:
			return false
		}
	}
	br := bufio.NewReaderSize(r, maxFrame+2) // room for the frame, CR and LF
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if !send(frame{tooLong: true}) {
				return
			}
			if err == nil {
				continue
			}
			line = nil
		}
		if err == nil || len(line) > 0 {
			data := trimEOL(line)
			if err == nil || len(data) > 0 {
				if !send(frame{data: bytes.Clone(data)}) {
					return
				}
			}
		}
		if err != nil {
			if err != io.EOF {
				send(frame{err: err})
			}
			return
		}
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}
