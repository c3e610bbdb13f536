package hwdetect

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakube/hakube/hwdetect/fixture"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// fixtureRoot is what the golden files show as the root.
const fixtureRoot = "FIXTURE"

// fixtureNames lists the archives under testdata/fixtures.
func fixtureNames(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "fixtures", "*.txtar"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures under testdata/fixtures: %v", err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".txtar"))
	}
	return names
}

// buildFixture builds the named fixture tree in a temporary directory.
func buildFixture(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := fixture.BuildFile(dir, filepath.Join("testdata", "fixtures", name+".txtar")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// detectFixture runs Detect on a fixture, as 'hakube detect --root' does,
// and names the root FIXTURE so that reports compare across runs.
func detectFixture(t testing.TB, name string, opts ...Option) *Report {
	t.Helper()
	root := buildFixture(t, name)
	r, err := Detect(root, opts...)
	if err != nil {
		t.Fatalf("Detect(%s): %v", name, err)
	}
	r.Root = fixtureRoot
	return r
}

// golden compares got with testdata/golden/file, or rewrites it with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", file)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./hwdetect -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test ./hwdetect -update and review the diff):\n--- got\n%s", p, got)
	}
}

func TestGolden(t *testing.T) {
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			r := detectFixture(t, name)
			var js, txt bytes.Buffer
			if err := r.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteText(&txt); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".json", js.Bytes())
			golden(t, name+".txt", txt.Bytes())
		})
	}
}
