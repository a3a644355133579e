package simscan

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseFrames(t *testing.T) {
	in := "# comment\n]d2010950600013435210ABC\\x1d21X1\r\n\n0109506000134352<GS>21Y\n10A\\G21B\\\\\n"
	got, err := ParseFrames(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"]d2010950600013435210ABC\x1d21X1", "0109506000134352\x1d21Y", "10A\x1d21B\\"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("frame %d = %q, want %q", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"a\\", "a\\q", "a\\x1", "a\\xzz"} {
		if _, err := ParseFrames(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseFrames(%q) accepted", bad)
		}
	}
}

func TestGenerate(t *testing.T) {
	seq, err := Generate(2000, "", 42)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	n := 0
	for f := range seq {
		s := string(f)
		if !strings.HasPrefix(s, "]d201"+DefaultGTIN+"17") {
			t.Fatalf("frame %q", s)
		}
		lot, serial, ok := strings.Cut(s[len("]d201")+14+8:], "\x1d21")
		if !ok || !strings.HasPrefix(lot, "10") || len(serial) == 0 || len(serial) > 20 {
			t.Fatalf("frame %q", s)
		}
		mm, dd := s[23:25], s[25:27]
		if mm < "01" || mm > "12" || dd < "01" || dd > "28" {
			t.Fatalf("bad expiry in %q", s)
		}
		if seen[serial] {
			t.Fatalf("serial %s repeated", serial)
		}
		seen[serial] = true
		n++
	}
	if n != 2000 {
		t.Fatalf("%d frames", n)
	}
	again, _ := Generate(3, "", 42)
	other, _ := Generate(3, "", 43)
	if slices.EqualFunc(slices.Collect(again), slices.Collect(other), bytes.Equal) {
		t.Error("different seeds gave the same frames")
	}
	if _, err := Generate(1, "09506000134353", 1); err == nil {
		t.Error("bad check digit accepted")
	}
	if g, err := NormalizeGTIN("950600013435"); err != nil || g != "09506000134352" {
		t.Errorf("NormalizeGTIN(12 digits) = %s, %v", g, err)
	}
}

func TestFaults(t *testing.T) {
	f := []byte("]d2010950600013435210AbYz\x1d21Zy9")
	if got := string(dropGS(f)); strings.Contains(got, "\x1d") {
		t.Errorf("dropGS = %q", got)
	}
	if got := string(invertCase(f)); got != "]D2010950600013435210aByZ\x1d21zY9" {
		t.Errorf("invertCase = %q", got)
	}
	if got := string(swapLayout(f, LayoutQWERTZ)); got != "]d2010950600013435210AbZy\x1d21Yz9" {
		t.Errorf("qwertz = %q", got)
	}
	if got := string(swapLayout([]byte("]d201"), LayoutAZERTY)); got != "]déà&" {
		t.Errorf("azerty = %q", got)
	}
}

// TestSimulatorRaw types through a real pty and reads the slave with plain
// read(2): frames, GS substitution and noise arrive as typed.
func TestSimulatorRaw(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	link := filepath.Join(t.TempDir(), "scanner")
	var plugged []string
	s, err := New(Options{Suffix: []byte("\r\n"), GSSubstitute: '~', Noise: 1, Seed: 3, Link: link,
		OnPlug: func(p string) { plugged = append(plugged, p) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if target, _ := os.Readlink(link); target != s.Path() || len(plugged) != 1 {
		t.Fatalf("link -> %q, path %q, plugged %v", target, s.Path(), plugged)
	}
	fd, err := unix.Open(link, unix.O_RDONLY|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var want bytes.Buffer
	done := make(chan struct{})
	var got bytes.Buffer
	go func() {
		defer close(done)
		buf := make([]byte, 1024)
		for {
			n, err := unix.Read(fd, buf)
			if n <= 0 || err != nil {
				return
			}
			got.Write(buf[:n])
		}
	}()
	frames := [][]byte{[]byte("A\x1dB"), []byte("C")}
	st, err := s.Run(ctx, slices.Values(frames), func(ty Typed) {
		want.Write(ty.Sent)
		want.WriteString("\r\n")
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != 2 || st.Noise == 0 {
		t.Errorf("stats %+v", st)
	}
	s.Close() // hang-up: the reader sees EOF
	<-done
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("read %q\nwant %q", got.Bytes(), want.Bytes())
	}
	if !bytes.Contains(got.Bytes(), []byte("\r\nA~B\r\n")) || !bytes.HasSuffix(got.Bytes(), []byte("\r\nC\r\n")) {
		t.Errorf("GS not substituted: %q", got.Bytes())
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("link left behind: %v", err)
	}
}
