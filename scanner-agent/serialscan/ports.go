package serialscan

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.bug.st/serial/enumerator"
)

// PortInfo describes one serial port on this machine.
type PortInfo struct {
	// Name is the device path, e.g. /dev/ttyACM0.
	Name string `json:"name"`
	// IsUSB is true for USB serial ports; the fields below are set only
	// for them.
	IsUSB        bool   `json:"usb"`
	VID          string `json:"vid,omitempty"`
	PID          string `json:"pid,omitempty"`
	SerialNumber string `json:"serial,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	// Links are the stable udev symlinks to the port (/dev/serial/by-id/…,
	// /dev/serial/by-path/…), the best value for a scanner's device.
	Links []string `json:"links,omitempty"`
}

// ListPorts lists the serial ports with their USB identity. It uses
// go.bug.st/serial/enumerator and, on Linux, completes the product and
// manufacturer names (which the enumerator leaves empty there) from sysfs
// and adds the /dev/serial symlinks.
func ListPorts() ([]PortInfo, error) {
	details, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, fmt.Errorf("list serial ports: %w", err)
	}
	links := serialLinks("/dev/serial/by-id", "/dev/serial/by-path")
	out := make([]PortInfo, 0, len(details))
	for _, d := range details {
		if d == nil {
			continue
		}
		p := PortInfo{Name: d.Name, IsUSB: d.IsUSB, VID: d.VID, PID: d.PID, SerialNumber: d.SerialNumber, Product: d.Product}
		if p.IsUSB && (p.Product == "" || p.Manufacturer == "") {
			man, prod := sysfsUSBNames(filepath.Base(d.Name))
			if p.Product == "" {
				p.Product = prod
			}
			p.Manufacturer = man
		}
		p.Links = links[d.Name]
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// serialLinks maps device paths to the symlinks pointing at them.
func serialLinks(dirs ...string) map[string][]string {
	m := map[string][]string{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			link := filepath.Join(dir, e.Name())
			target, err := filepath.EvalSymlinks(link)
			if err != nil {
				continue
			}
			m[target] = append(m[target], link)
		}
	}
	return m
}

// sysfsUSBNames reads the manufacturer and product strings of the USB
// device behind tty name (e.g. ttyACM0) from sysfs. It walks up from the
// tty's device directory to the first directory with an idVendor file,
// which is the USB device for both CDC-ACM (ttyACM) and usb-serial (ttyUSB)
// drivers.
func sysfsUSBNames(tty string) (manufacturer, product string) {
	dev, err := filepath.EvalSymlinks(filepath.Join("/sys/class/tty", tty, "device"))
	if err != nil {
		return "", ""
	}
	for d := dev; d != "/" && strings.HasPrefix(d, "/sys/"); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "idVendor")); err == nil {
			return firstLine(filepath.Join(d, "manufacturer")), firstLine(filepath.Join(d, "product"))
		}
	}
	return "", ""
}

func firstLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if s.Scan() {
		return strings.TrimSpace(s.Text())
	}
	return ""
}
