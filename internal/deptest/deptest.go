// Package deptest checks a package's dependency closure with `go list -deps`,
// for tests that prove which code a binary may pull in.
package deptest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// Package is one package of a dependency closure.
type Package struct {
	ImportPath string
	Standard   bool
	Module     string // module path; empty for the standard library
}

// Deps returns the dependency closure (the packages themselves included) of
// the given package patterns, as `go list -deps` reports it for the current
// build (tests excluded).
func Deps(tb testing.TB, patterns ...string) []Package {
	tb.Helper()
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{with .Module}}{{.Path}}{{end}}"}, patterns...)
	cmd := exec.Command("go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var pkgs []Package
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		p := Package{ImportPath: f[0], Standard: f[1] == "true"}
		if len(f) > 2 {
			p.Module = f[2]
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// HasPrefix reports whether path is prefix or lies below it.
func HasPrefix(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, strings.TrimSuffix(prefix, "/")+"/")
}

// Forbid fails for every package of pkgs whose import path is (or is under)
// one of forbidden.
func Forbid(tb testing.TB, pkgs []Package, forbidden ...string) {
	tb.Helper()
	for _, p := range pkgs {
		for _, f := range forbidden {
			if HasPrefix(p.ImportPath, f) {
				tb.Errorf("forbidden dependency %s (matches %s)", p.ImportPath, f)
			}
		}
	}
}

// OnlyStandard fails for every non-standard package of pkgs other than the
// allowed ones (import paths or prefixes).
func OnlyStandard(tb testing.TB, pkgs []Package, allowed ...string) {
	tb.Helper()
	AllowModules(tb, pkgs, allowed...)
}

// AllowModules fails for every non-standard package whose import path is not
// under one of allowed.
func AllowModules(tb testing.TB, pkgs []Package, allowed ...string) {
	tb.Helper()
outer:
	for _, p := range pkgs {
		if p.Standard {
			continue
		}
		for _, a := range allowed {
			if HasPrefix(p.ImportPath, a) {
				continue outer
			}
		}
		tb.Errorf("dependency %s (module %s) is not allowed", p.ImportPath, p.Module)
	}
}
