// Package serialscan reads barcode scanners on serial lines (USB CDC-ACM or
// real RS-232) and turns their byte stream into frames, one per scan.
//
// The pieces, from the wire up:
//
//   - Port is the consumer-side view of a serial port: the four methods of
//     go.bug.st/serial's Port that the reader uses. TimeoutPort wraps one and
//     turns go.bug.st/serial's (0, nil) read timeout into ErrReadTimeout.
//   - Framer is a pure state machine that reassembles frames across reads.
//     A frame ends on the configured suffix (CR, LF, CRLF, TAB) or, for
//     scanners that send no suffix, on the inter-character timeout. Overlong
//     frames (drained up to the next suffix), control bytes other than GS
//     (0x1D) or the configured GS substitute, invalid UTF-8 and frames cut
//     short are rejected with a typed Reason; nothing panics.
//   - Opener opens a port by device path (symlinks such as
//     /dev/serial/by-id/… are re-resolved on every open, so a replugged
//     scanner that comes back under another name is found) or by USB
//     VID/PID (+ serial number) through go.bug.st/serial/enumerator.
//   - Reader supervises one scanner: it opens the port, reads, frames,
//     sends accepted frames to a channel, and on a read error (unplug)
//     closes and reopens with a backoff capped at MaxBackoff (1s by
//     default). It reports the port state on a gauge and logs with slog.
//     Feedback writes bytes back to the scanner (beep, red light).
//
// Metrics are created by NewMetrics on a caller-supplied
// prometheus.Registerer; there are no package-level collectors.
//
// # Unplug as the reader sees it
//
// When a USB scanner is pulled, a read on its tty returns 0 bytes (hang-up),
// which go.bug.st/serial reports as a PortError with code PortClosed; the
// device node then disappears. On a pseudo-terminal, which the tests and
// the simulate command use, closing the master hangs up the slave: pending
// unread input is discarded and read(2) on the slave returns 0 (EOF) —
// again PortClosed — and the /dev/pts/N node goes away once the last slave
// descriptor is closed. (EIO is what the master sees when the slave side
// closes, not the other way round, on Linux 5.x/6.x.) Either way the Reader
// treats any read error as "device gone", abandons a partial frame as
// truncated, and reopens.
package serialscan
