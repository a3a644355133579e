//go:build tools

// Package tools pins the Prometheus commands built into bin/ by the Makefile.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
