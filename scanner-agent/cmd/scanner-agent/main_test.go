package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pharmatrace/pharmatrace/scanner-agent/station"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestDecodeGolden runs "decode" on the frames in testdata/*.input and
// compares stdout with testdata/*.golden. Refresh with: go test -update.
func TestDecodeGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"decode", []string{"decode", "-now", "2025-06-01"}},
		{"decode-substitute", []string{"decode", "-now", "2025-06-01", "-gs-substitute", "~"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", tt.name+".input"))
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), tt.args, bytes.NewReader(in), &stdout, &stderr); err != nil {
				t.Fatalf("run: %v (stderr %q)", err, stderr.String())
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr: %q", stderr.String())
			}
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, stdout.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(stdout.Bytes(), want) {
				t.Errorf("output differs from %s (run go test -update to refresh):\n%s", golden, diffLines(string(want), stdout.String()))
			}
			// One JSON object per input line, each valid JSON.
			inLines := strings.Count(string(in), "\n")
			if !bytes.HasSuffix(in, []byte("\n")) {
				inLines++
			}
			outLines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			if len(outLines) != inLines {
				t.Errorf("%d output lines for %d input lines", len(outLines), inLines)
			}
			for _, l := range outLines {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Errorf("invalid JSON %q: %v", l, err)
				}
			}
		})
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want " + wl + "\n  got  " + gl + "\n")
		}
	}
	return b.String()
}

func TestDecodeShape(t *testing.T) {
	in := "]d2" + "0109506000134352" + "17260400" + "10ABC" + "\x1d" + "714AB1\x1d" + "21S<&>1\n"
	var out bytes.Buffer
	if err := run(context.Background(), []string{"decode", "-now", "2025-06-01"}, strings.NewReader(in), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	want := `{"gtin":"09506000134352","serial":"S<&>1","lot":"ABC","expiry":"2026-04-30","expiryDayUnset":true,"nhrn":{"714":"AB1"},` +
		`"ais":[{"ai":"01","value":"09506000134352"},{"ai":"17","value":"260400"},{"ai":"10","value":"ABC"},{"ai":"714","value":"AB1"},{"ai":"21","value":"S<&>1"}]}` + "\n"
	if out.String() != want {
		t.Errorf("got  %s\nwant %s", out.String(), want)
	}
}

func TestDecodeErrorsAndUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr error
		stderr  string
	}{
		{"no command", nil, errUsage, "usage: scanner-agent"},
		{"unknown command", []string{"frobnicate"}, errUsage, `unknown command "frobnicate"`},
		{"bad flag", []string{"decode", "-nope"}, errUsage, "flag provided but not defined"},
		{"bad now", []string{"decode", "-now", "01.06.2025"}, errUsage, "-now"},
		{"bad substitute", []string{"decode", "-gs-substitute", "ab"}, errUsage, "-gs-substitute"},
		{"extra args", []string{"decode", "x"}, errUsage, "unexpected arguments"},
		{"help", []string{"decode", "-h"}, flag.ErrHelp, "-gs-substitute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), tt.args, strings.NewReader(""), io.Discard, &stderr)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.stderr)
			}
		})
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, nil, &out, io.Discard); err != nil || !strings.Contains(out.String(), "decode") {
		t.Errorf("help: %v %q", err, out.String())
	}
}

func TestParseSubstitute(t *testing.T) {
	for in, want := range map[string]byte{"~": '~', "|": '|', "^]": 0x1d, "^\\": 0x1c, `\x7e`: '~', "0x1E": 0x1e} {
		if got, err := station.ParseGSSubstitute(in); err != nil || got != want {
			t.Errorf("ParseGSSubstitute(%q) = %#x, %v; want %#x", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ab", "^a", `\xZZ`, "0x1", "~~~~"} {
		if _, err := station.ParseGSSubstitute(in); err == nil {
			t.Errorf("ParseGSSubstitute(%q) succeeded", in)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestDecodeIOErrors(t *testing.T) {
	// Invalid frames are not I/O errors: exit status 0.
	if err := run(context.Background(), []string{"decode"}, strings.NewReader("garbage\n\n"), io.Discard, io.Discard); err != nil {
		t.Errorf("invalid frames: %v", err)
	}
	err := run(context.Background(), []string{"decode"}, iotest.ErrReader(errors.New("broken pipe")), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "reading input: broken pipe") {
		t.Errorf("read error: %v", err)
	}
	// Frames before a read error are still written.
	var out bytes.Buffer
	r := io.MultiReader(strings.NewReader("0109506000134352\n"), iotest.ErrReader(errors.New("boom")))
	if err := run(context.Background(), []string{"decode"}, r, &out, io.Discard); err == nil || !strings.Contains(out.String(), "09506000134352") {
		t.Errorf("partial: %v %q", err, out.String())
	}
	err = run(context.Background(), []string{"decode"}, strings.NewReader("0109506000134352\n"), failWriter{}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("write error: %v", err)
	}
	// A frame longer than maxFrame is answered with an error object.
	out.Reset()
	in := strings.Repeat("1", 3*maxFrame) + "\n" + "0109506000134352\r\n" + strings.Repeat("2", maxFrame+5)
	if err := run(context.Background(), []string{"decode"}, strings.NewReader(in), &out, io.Discard); err != nil ||
		out.String() != `{"error":"frame too long (more than 65536 bytes)"}`+"\n"+
			`{"gtin":"09506000134352","ais":[{"ai":"01","value":"09506000134352"}]}`+"\n"+
			`{"error":"frame too long (more than 65536 bytes)"}`+"\n" {
		t.Errorf("long frames: %v %q", err, out.String())
	}
	// The longest accepted frame, with CR LF.
	out.Reset()
	in = strings.Repeat("3", maxFrame) + "\r\n"
	if err := run(context.Background(), []string{"decode"}, strings.NewReader(in), &out, io.Discard); err != nil || strings.Contains(out.String(), "too long") {
		t.Errorf("max frame: %v %.100q", err, out.String())
	}
}

func TestDecodeInteractive(t *testing.T) {
	// Each result is flushed as soon as its line is read, and cancelling
	// the context stops a decode that waits for input.
	pr, pw := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"decode"}, pr, outW, io.Discard) }()
	go pw.Write([]byte("0109506000134352\n"))
	buf := make([]byte, 4096)
	n, err := outR.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), `"gtin":"09506000134352"`) {
		t.Fatalf("first result: %q %v", buf[:n], err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("decode did not stop on cancellation")
	}
	pw.Close()
}
