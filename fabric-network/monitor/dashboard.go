package monitor

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// Panel is a Grafana dashboard panel with its Prometheus queries.
type Panel struct {
	Title string
	Type  string
	Exprs []string
}

type grafanaPanel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	// Panels of a collapsed row.
	Panels []grafanaPanel `json:"panels"`
}

// DashboardPanels reads a Grafana dashboard (JSON model) and returns every
// panel that is not a row, those inside collapsed rows included, with
// their queries.
func DashboardPanels(path string) ([]Panel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d struct {
		Panels []grafanaPanel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Panel
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			pn := Panel{Title: p.Title, Type: p.Type}
			for _, t := range p.Targets {
				pn.Exprs = append(pn.Exprs, t.Expr)
			}
			out = append(out, pn)
		}
	}
	walk(d.Panels)
	return out, nil
}

// ExpandQuery replaces the Grafana variables the dashboard's queries use
// ($__rate_interval) so that the query runs on Prometheus as it is.
// rateInterval should be at least four scrape intervals, as Grafana's is.
func ExpandQuery(expr string, rateInterval time.Duration) string {
	return strings.ReplaceAll(expr, "$__rate_interval", promDuration(rateInterval))
}
