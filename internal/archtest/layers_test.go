// Package archtest holds tests of the module's shape: which package may
// import which.
package archtest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// layers are the module's top-level packages, lowest first: a package may
// import only packages of its own layer or below (internal/ is for tests;
// scripts/ stands apart).
var layers = []string{"hwdetect", "config", "manifests", "installer", "tui", "cmd"}

func rank(module, pkg string) int {
	rest, ok := strings.CutPrefix(pkg, module+"/")
	if !ok {
		return -1
	}
	top, _, _ := strings.Cut(rest, "/")
	for i, l := range layers {
		if l == top {
			return i
		}
	}
	return -1
}

type pkgInfo struct {
	ImportPath   string
	Module       struct{ Path string }
	Imports      []string
	TestImports  []string
	XTestImports []string
}

func listPackages(t *testing.T) []pkgInfo {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "github.com/hakube/hakube/...")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkgInfo
	dec := json.NewDecoder(&out)
	for dec.More() {
		var p pkgInfo
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// violations lists "a imports b" for every import that runs up the layers,
// or from non-test code into internal/.
func violations(module string, pkgs []pkgInfo) []string {
	var out []string
	for _, p := range pkgs {
		me := rank(module, p.ImportPath)
		check := func(imports []string, test bool) {
			for _, imp := range imports {
				if r := rank(module, imp); me >= 0 && r > me {
					out = append(out, p.ImportPath+" imports "+imp)
				}
				if !test && me >= 0 && strings.HasPrefix(imp, module+"/internal/") {
					out = append(out, p.ImportPath+" imports test helper "+imp)
				}
			}
		}
		check(p.Imports, false)
		check(p.TestImports, true)
		check(p.XTestImports, true)
	}
	return out
}

func TestNothingImportsUpward(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 6 {
		t.Fatalf("go list found %d packages: the module is not where this test expects it", len(pkgs))
	}
	for _, v := range violations("github.com/hakube/hakube", pkgs) {
		t.Errorf("layering: %s (lowest first: %s)", v, strings.Join(layers, " → "))
	}
}

// The checker itself must catch an upward import.
func TestViolationsAreFound(t *testing.T) {
	m := "example.com/m"
	pkgs := []pkgInfo{
		{ImportPath: m + "/config", Imports: []string{m + "/hwdetect", "fmt"}},
		{ImportPath: m + "/manifests", Imports: []string{m + "/installer/x"}},
		{ImportPath: m + "/hwdetect", XTestImports: []string{m + "/cmd/hakube/app"}},
		{ImportPath: m + "/installer", Imports: []string{m + "/internal/testcluster"}},
		{ImportPath: m + "/installer", TestImports: []string{m + "/internal/testcluster"}},
	}
	got := violations(m, pkgs)
	want := []string{
		m + "/manifests imports " + m + "/installer/x",
		m + "/hwdetect imports " + m + "/cmd/hakube/app",
		m + "/installer imports test helper " + m + "/internal/testcluster",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
