package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/scanner-agent/simscan"
)

// fakeAPI answers the import and export routes like the PharmaTrace API.
func fakeAPI(t *testing.T, doc string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/epcis/import":
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, `{"applied":2,"skipped":0,"rejected":0,"events":{"applied":[{"eventIndex":0,"eventId":"e0","requestIds":["r0"]},{"eventIndex":1,"eventId":"e1","requestIds":["r1"]}],"skipped":[],"rejected":[]}}`)
		case "/api/v1/epcis/events":
			io.WriteString(w, doc)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// document writes a large enough EPCIS document to a file.
func document(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "doc.jsonld")
	if _, _, err := runCmd(t, nil, "", "generate", "-n", "2000", "-gtin", "09506000134352", "-lot", "L1", "-expiry", "281231", "-gln", "9506000000015", "-o", path); err != nil {
		t.Fatal(err)
	}
	return path
}

// runWith runs the command with stderr going to errw (a file or a terminal).
func runWith(t *testing.T, env map[string]string, errw io.Writer, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, errw)
	return out.String(), err
}

// When stderr is not a terminal (a file, a pipe), import and export draw
// no progress: stderr holds only the summary lines, and stdout only the
// JSON report or the document.
func TestNoProgressWhenStderrIsNotATerminal(t *testing.T) {
	doc := document(t)
	srv := fakeAPI(t, `{"type":"EPCISDocument"}`)
	env := map[string]string{"PHARMATRACE_API_TOKEN": "tok"}
	errf, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()

	out, err := runWith(t, env, errf, "import", "-api", srv.URL, doc)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil || rep.Applied != 2 || dec.More() {
		t.Fatalf("stdout is not just the JSON report (%v):\n%s", err, out)
	}
	path := filepath.Join(t.TempDir(), "out.jsonld")
	env["PHARMATRACE_API_URL"] = srv.URL
	if out, err := runWith(t, env, errf, "export", "-gtin", "09506000134352", "-lot", "L1", "-o", path); err != nil || out != "" {
		t.Fatalf("export: %v, stdout %q", err, out)
	}
	b, err := os.ReadFile(errf.Name())
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(b), "\r\x1b") || strings.Contains(string(b), "%") {
		t.Errorf("stderr (not a terminal) holds progress output:\n%q", b)
	}
	if got := strings.TrimSpace(string(b)); !strings.HasPrefix(got, "import: 2 applied, 0 skipped, 0 rejected in ") || strings.Count(got, "\n") != 0 {
		t.Errorf("stderr = %q, want the import summary line only", got)
	}
}

// On a terminal (a real pseudo-terminal) import shows a progress bar on
// stderr, and stdout still carries the JSON report alone.
func TestProgressBarOnATerminal(t *testing.T) {
	doc := document(t)
	srv := fakeAPI(t, `{"type":"EPCISDocument"}`)
	pty, err := simscan.OpenPTY()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer pty.Close()
	tty, err := os.OpenFile(pty.Path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := pty.Master.Read(buf)
			screen.Write(buf[:n])
			if err != nil || bytes.Contains(screen.Bytes(), []byte("import: 2 applied")) {
				return
			}
		}
	}()
	out, err := runWith(t, map[string]string{"PHARMATRACE_API_TOKEN": "tok"}, tty, "import", "-api", srv.URL, doc)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		pty.Master.Close()
		<-read
	}
	if !json.Valid([]byte(out)) {
		t.Fatalf("stdout is not the JSON report:\n%s", out)
	}
	got := screen.String()
	if !strings.Contains(got, "import: upload") || !strings.Contains(got, "100%") || !strings.Contains(got, "\r") {
		t.Errorf("terminal shows no progress bar:\n%q", got)
	}
	if i, j := strings.LastIndex(got, "100%"), strings.Index(got, "import: 2 applied"); j < i {
		t.Errorf("the summary is not on a line after the bar:\n%q", got)
	}
}
