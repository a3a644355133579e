package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/pharmatrace/pharmatrace/scanner-agent/serialscan"
)

func TestPorts(t *testing.T) {
	saved := listPorts
	defer func() { listPorts = saved }()
	listPorts = func() ([]serialscan.PortInfo, error) {
		return []serialscan.PortInfo{
			{Name: "/dev/ttyACM0", IsUSB: true, VID: "0c2e", PID: "0b61", SerialNumber: "19001B0F61",
				Manufacturer: "Honeywell", Product: "1950g", Links: []string{"/dev/serial/by-id/usb-Honeywell_1950g-if00"}},
			{Name: "/dev/ttyS0"},
		}, nil
	}
	var out bytes.Buffer
	if err := runPorts(context.Background(), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "PORT") ||
		!strings.Contains(lines[1], "0c2e") || !strings.Contains(lines[1], "Honeywell 1950g") ||
		!strings.Contains(lines[2], "/dev/ttyS0") {
		t.Errorf("table:\n%s", out.String())
	}
	out.Reset()
	if err := runPorts(context.Background(), []string{"-json"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got) != 2 || got[0]["vid"] != "0c2e" || got[0]["product"] != "1950g" || got[0]["serial"] != "19001B0F61" {
		t.Errorf("json %s: %v", out.String(), err)
	}

	listPorts = func() ([]serialscan.PortInfo, error) { return nil, nil }
	out.Reset()
	if err := runPorts(context.Background(), []string{"-json"}, &out, io.Discard); err != nil || strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("empty json = %q, %v", out.String(), err)
	}
	if err := runPorts(context.Background(), []string{"x"}, io.Discard, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("extra argument: %v", err)
	}
}

// TestPortsOnThisMachine runs the real enumerator; it must not fail even
// where there are no serial ports (CI, containers).
func TestPortsOnThisMachine(t *testing.T) {
	var out bytes.Buffer
	if err := runPorts(context.Background(), []string{"-json"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var got []serialscan.PortInfo
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	t.Logf("%d serial ports here", len(got))
}
