package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"
)

func TestSimulateTypesIntoPTY(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "frames.txt")
	os.WriteFile(file, []byte("# two packs\n]d2010950600013435217271231103AB<GS>21S1\n]d2010950600013435217271231103AB\\x1d21S2\n"), 0o600)
	link := filepath.Join(dir, "scanner")
	pr, pw := io.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runSimulate(ctx, []string{"-file", file, "-rate", "0", "-suffix", "crlf", "-gs-substitute", "~", "-link", link}, pw, &stderr)
		pw.Close()
	}()
	path, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	path = strings.TrimSpace(path)
	if !strings.HasPrefix(path, "/dev/pts/") {
		t.Fatalf("first line %q is not a pty path", path)
	}
	if target, _ := os.Readlink(link); target != path {
		t.Errorf("link -> %q, want %q", target, path)
	}
	go io.Copy(io.Discard, pr)
	// Open it exactly as the agent does.
	p, err := serial.Open(link, &serial.Mode{BaudRate: 9600})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetReadTimeout(100 * time.Millisecond)
	var got []byte
	buf := make([]byte, 256)
	want := "]d2010950600013435217271231103AB~21S1\r\n]d2010950600013435217271231103AB~21S2\r\n"
	for deadline := time.Now().Add(10 * time.Second); len(got) < len(want) && time.Now().Before(deadline); {
		n, err := p.Read(buf)
		if err != nil {
			break
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != want {
		t.Errorf("read %q\nwant %q", got, want)
	}
	if err := <-done; err != nil {
		t.Fatalf("runSimulate: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "frames=2") {
		t.Errorf("summary missing: %s", stderr.String())
	}
}

func TestSimulateFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-generate", "3", "-file", "x"},
		{"-generate", "3", "-suffix", "ETX"},
		{"-generate", "3", "-gs-substitute", "ab"},
		{"-generate", "3", "-gtin", "123"},
		{"-generate", "3", "-noise", "2"},
		{"-generate", "3", "-layout-kind", "dvorak"},
		{"-generate", "3", "extra"},
		{"-bogus"},
	} {
		var stderr bytes.Buffer
		err := runSimulate(context.Background(), args, io.Discard, &stderr)
		if !errors.Is(err, errUsage) {
			t.Errorf("runSimulate(%q) = %v, want usage error", args, err)
		}
	}
	if err := runSimulate(context.Background(), []string{"-file", "/nonexistent"}, io.Discard, io.Discard); err == nil || errors.Is(err, errUsage) {
		t.Errorf("missing file: %v", err)
	}
}
