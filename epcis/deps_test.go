package epcis

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDependencies proves that package epcis depends on the standard
// library and PharmaTrace's trace and gs1 packages only.
func TestDependencies(t *testing.T) {
	checkDeps(t, ".", []string{
		"github.com/pharmatrace/pharmatrace/trace",
		"github.com/pharmatrace/pharmatrace/gs1",
	})
}

// checkDeps fails t if a package matched by pattern depends (directly or
// not) on a package outside the standard library whose import path is not
// one of allowed (copied from gs1/deps_test.go, exact paths here).
func checkDeps(t *testing.T, pattern string, allowed []string) {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Skip("go command not found")
		}
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", pattern).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pattern, err, out)
	}
	self, err := exec.Command(goTool, "list", pattern).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	own := map[string]bool{}
	for _, p := range strings.Fields(string(self)) {
		own[p] = true
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, std, _ := strings.Cut(line, " ")
		n++
		if own[path] {
			continue
		}
		first, _, _ := strings.Cut(path, "/")
		if std == "true" && !strings.Contains(first, ".") {
			continue
		}
		ok := false
		for _, a := range allowed {
			if path == a {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("%s depends on %s, which is not in the standard library, trace or gs1", pattern, path)
		}
	}
	if n < 2 {
		t.Fatalf("go list -deps listed only %d packages", n)
	}
}
