package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine identifies where figures were measured.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpuModel"`
	MemoryGiB int    `json:"memoryGiB"`
	OS        string `json:"os"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
}

// Fabric records the network settings the figures depend on.
type Fabric struct {
	Version           string `json:"version"`
	BatchTimeout      string `json:"batchTimeout"`
	MaxMessageCount   int    `json:"maxMessageCount"`
	Orderers          int    `json:"orderers"`
	Peers             int    `json:"peers"`
	EndorsementPolicy string `json:"endorsementPolicy"`
	StateDatabase     string `json:"stateDatabase"`
}

// Report is the output of one `make bench` run.
type Report struct {
	When    time.Time `json:"when"`
	Quick   bool      `json:"quick"`
	Machine Machine   `json:"machine"`
	Fabric  Fabric    `json:"fabric"`
	Figures []Figure  `json:"figures"`
}

// ReadMachine fills Machine from /proc and the runtime.
func ReadMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = (kb + 512*1024) / (1024 * 1024)
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// Markdown renders the report as the table the README quotes.
func (r *Report) Markdown() string {
	var b strings.Builder
	m, f := r.Machine, r.Fabric
	fmt.Fprintf(&b, "Measured %s on %d CPUs (%s), %d GiB, %s, %s.  \n", r.When.UTC().Format("2006-01-02 15:04 MST"),
		m.CPUs, m.CPUModel, m.MemoryGiB, m.OS, m.Go)
	fmt.Fprintf(&b, "Fabric %s: %d orderers (etcdraft), BatchTimeout %s, MaxMessageCount %d, %d peers, endorsement %s, %s.",
		f.Version, f.Orderers, f.BatchTimeout, f.MaxMessageCount, f.Peers, f.EndorsementPolicy, f.StateDatabase)
	if r.Quick {
		b.WriteString(" QUICK run (smaller N).")
	}
	b.WriteString("\n\n| scenario | metric | value | target | met |\n|---|---|---:|---|---|\n")
	for _, fig := range r.Figures {
		met := ""
		if fig.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*fig.Met]
		}
		v := fmt.Sprintf("%.1f %s", fig.Value, fig.Unit)
		if fig.Value < 10 {
			v = fmt.Sprintf("%.2f %s", fig.Value, fig.Unit)
		}
		if fig.Value >= 100 {
			v = fmt.Sprintf("%.0f %s", fig.Value, fig.Unit)
		}
		note := ""
		if fig.Note != "" {
			note = " (" + fig.Note + ")"
		}
		fmt.Fprintf(&b, "| %s | %s%s | %s | %s | %s |\n", fig.Scenario, fig.Metric, note, v, fig.Target, met)
	}
	return b.String()
}

// Write saves the report as results.md and results.json in dir.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(dir+"/results.json", js, 0o644); err != nil {
		return err
	}
	return os.WriteFile(dir+"/results.md", []byte(r.Markdown()), 0o644)
}
