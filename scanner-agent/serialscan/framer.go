package serialscan

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// GS is the ASCII group separator, FNC1 in a GS1 DataMatrix element string.
const GS = 0x1D

// End says what ended an accepted frame.
type End int

// Frame ends.
const (
	EndSuffix  End = iota // the configured suffix arrived
	EndTimeout            // the line went silent (no suffix configured)
)

func (e End) String() string {
	if e == EndTimeout {
		return "timeout"
	}
	return "suffix"
}

// Reason classifies a rejected frame; it is the "reason" label of the
// rejected-frames counter.
type Reason string

// Rejection reasons.
const (
	// ReasonOverlong: more than MaxFrame bytes before the suffix; the rest
	// up to the next suffix (or silence) was drained.
	ReasonOverlong Reason = "overlong"
	// ReasonControl: a control byte other than GS or the GS substitute
	// (line noise, a wrongly configured suffix, a keyboard wedge sending
	// escape sequences).
	ReasonControl Reason = "control_byte"
	// ReasonInvalidUTF8: bytes that are not UTF-8 (line noise, wrong baud
	// rate or parity).
	ReasonInvalidUTF8 Reason = "invalid_utf8"
	// ReasonTruncated: the frame never got its suffix — the line went
	// silent mid-frame or the port was lost mid-frame.
	ReasonTruncated Reason = "truncated"
)

// Reasons lists every Reason, for pre-initialising counters.
var Reasons = []Reason{ReasonOverlong, ReasonControl, ReasonInvalidUTF8, ReasonTruncated}

// Rejection describes a rejected frame. It is an error.
type Rejection struct {
	Reason Reason
	// Detail says where, e.g. "byte 0x07 at offset 12".
	Detail string
	// Len is the length of the rejected frame in bytes.
	Len int
	// Sample is the start of the frame, quoted, for logs.
	Sample string
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("frame rejected (%s): %s; %d bytes: %s", r.Reason, r.Detail, r.Len, r.Sample)
}

// Result is one framing outcome: an accepted frame or a rejection.
type Result struct {
	// Frame is the accepted frame, suffix removed, GS substitutes replaced
	// by GS. It is a fresh slice the caller owns. Nil when Reject is set.
	Frame []byte
	// End says what ended the frame.
	End End
	// Reject is set for a rejected frame.
	Reject *Rejection
}

// FramerConfig configures a Framer.
type FramerConfig struct {
	// Suffix ends a frame (CR, LF, CRLF or TAB); empty: frames end only on
	// Timeout.
	Suffix []byte
	// MaxFrame is the longest accepted frame, suffix excluded; default 512.
	MaxFrame int
	// GSSubstitute, when not 0, is a byte the scanner sends for GS; it is
	// replaced by GS in accepted frames.
	GSSubstitute byte
}

// Framer reassembles frames from a byte stream. It is not safe for
// concurrent use; one Framer serves one port.
//
// Rules:
//   - A frame ends when the suffix arrives (CRLF may be split across
//     reads). CR and LF bytes at the start of a frame are skipped (so a
//     scanner sending CRLF on a CR-configured line works), as is TAB when
//     TAB is the suffix; empty frames are ignored.
//   - Timeout (the line went silent) ends a frame when no suffix is
//     configured — trailing CR/LF are trimmed — and otherwise rejects the
//     partial frame as truncated.
//   - More than MaxFrame bytes: the frame is rejected as overlong once
//     its end (suffix or silence) is reached; the bytes in between are
//     dropped without being stored.
//   - A control byte (< 0x20 or 0x7F) other than GS or the GS substitute,
//     or invalid UTF-8, rejects the frame.
type Framer struct {
	suffix  []byte
	max     int
	gsSub   byte
	buf     []byte
	over    int  // >0: draining an overlong frame of this many bytes
	pendCR  bool // CRLF suffix: a CR arrived, waiting for LF
	crlf    bool
	single  byte // one-byte suffix, valid when len(suffix) == 1
	skipTab bool
}

// NewFramer returns a Framer. A suffix other than CR, LF, CRLF or TAB
// works as long as it is one or two bytes with the two-byte form being
// CR LF; anything else is treated as its first byte.
func NewFramer(cfg FramerConfig) *Framer {
	f := &Framer{max: cfg.MaxFrame, gsSub: cfg.GSSubstitute}
	if f.max <= 0 {
		f.max = 512
	}
	f.suffix = append([]byte(nil), cfg.Suffix...)
	switch {
	case len(f.suffix) >= 2 && f.suffix[0] == '\r' && f.suffix[1] == '\n':
		f.crlf = true
	case len(f.suffix) >= 1:
		f.suffix = f.suffix[:1]
		f.single = f.suffix[0]
		f.skipTab = f.single == '\t'
	}
	f.buf = make([]byte, 0, min(f.max, 1024))
	return f
}

// Pending reports whether a partial frame is buffered.
func (f *Framer) Pending() bool { return len(f.buf) > 0 || f.over > 0 || f.pendCR }

// Feed consumes bytes and appends the outcomes of every frame they end to
// out, which it returns.
func (f *Framer) Feed(p []byte, out []Result) []Result {
	for _, b := range p {
		if f.crlf && f.pendCR {
			f.pendCR = false
			if b == '\n' {
				out = f.finish(out, EndSuffix)
				continue
			}
			f.add('\r') // a lone CR is data (and will be rejected as a control byte)
		}
		switch {
		case f.crlf && b == '\r':
			f.pendCR = true
			continue
		case len(f.suffix) == 1 && b == f.single:
			out = f.finish(out, EndSuffix)
			continue
		case len(f.buf) == 0 && f.over == 0 && (b == '\r' || b == '\n' || (f.skipTab && b == '\t')):
			continue // leading line-end bytes
		}
		f.add(b)
	}
	return out
}

func (f *Framer) add(b byte) {
	if f.over > 0 {
		f.over++
		return
	}
	if len(f.buf) == 0 && (b == '\r' || b == '\n') {
		return
	}
	if len(f.buf) >= f.max {
		f.over = len(f.buf) + 1
		return // keep buf for the sample; it is reset in finish
	}
	f.buf = append(f.buf, b)
}

// Timeout tells the framer the line has been silent for the inter-character
// timeout, and appends the outcome, if any, to out.
func (f *Framer) Timeout(out []Result) []Result {
	if !f.Pending() {
		return out
	}
	if f.over == 0 && len(f.suffix) == 0 {
		for len(f.buf) > 0 && (f.buf[len(f.buf)-1] == '\r' || f.buf[len(f.buf)-1] == '\n') {
			f.buf = f.buf[:len(f.buf)-1]
		}
		return f.finish(out, EndTimeout)
	}
	if f.over > 0 {
		return f.finish(out, EndTimeout)
	}
	return f.truncate(out, "no suffix before the line went silent")
}

// Abort drops a partial frame, e.g. when the port is lost, and appends a
// truncated rejection for it, if any, to out.
func (f *Framer) Abort(out []Result) []Result {
	if !f.Pending() {
		return out
	}
	if f.over > 0 {
		return f.finish(out, EndTimeout)
	}
	return f.truncate(out, "port lost mid-frame")
}

func (f *Framer) truncate(out []Result, why string) []Result {
	if f.pendCR {
		f.buf = append(f.buf, '\r')
	}
	r := &Rejection{Reason: ReasonTruncated, Detail: why, Len: len(f.buf), Sample: sample(f.buf)}
	f.reset()
	if r.Len == 0 {
		return out
	}
	return append(out, Result{Reject: r})
}

func (f *Framer) reset() {
	f.buf = f.buf[:0]
	f.over = 0
	f.pendCR = false
}

func (f *Framer) finish(out []Result, end End) []Result {
	defer f.reset()
	if f.over > 0 {
		return append(out, Result{Reject: &Rejection{
			Reason: ReasonOverlong,
			Detail: fmt.Sprintf("longer than %d bytes", f.max),
			Len:    f.over,
			Sample: sample(f.buf),
		}})
	}
	if len(f.buf) == 0 {
		return out
	}
	frame := make([]byte, len(f.buf))
	copy(frame, f.buf)
	for i, b := range frame {
		if f.gsSub != 0 && b == f.gsSub {
			frame[i] = GS
			continue
		}
		if (b < 0x20 && b != GS) || b == 0x7F {
			return append(out, Result{Reject: &Rejection{
				Reason: ReasonControl,
				Detail: fmt.Sprintf("byte %#02x at offset %d", b, i),
				Len:    len(frame),
				Sample: sample(f.buf),
			}})
		}
	}
	if !utf8.Valid(frame) {
		off := 0
		for off < len(frame) {
			r, n := utf8.DecodeRune(frame[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return append(out, Result{Reject: &Rejection{
			Reason: ReasonInvalidUTF8,
			Detail: fmt.Sprintf("invalid UTF-8 at offset %d", off),
			Len:    len(frame),
			Sample: sample(f.buf),
		}})
	}
	return append(out, Result{Frame: frame, End: end})
}

// sample quotes the start of a frame for logs.
func sample(b []byte) string {
	const n = 48
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "…"
	}
	return strconv.Quote(string(b))
}
