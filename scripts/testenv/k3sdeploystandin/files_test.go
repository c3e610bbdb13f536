package k3sdeploystandin

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestDiscover(t *testing.T) {
	root := t.TempDir()
	write := func(rel string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, rel := range []string{
		"a.yaml",
		"b.YML",
		"c.Json",
		"d.txt",             // wrong suffix
		"e.yaml.bak",        // wrong suffix
		".hidden.yaml",      // dotfile
		".f.yaml.tmp",       // writer's temp file
		"g.yaml",            // skipped by sub/g.yaml.skip, anywhere in the tree
		"sub/g.yaml.skip",   // the skip marker itself is not a manifest
		"sub/deeper/h.yaml", // recursive
		"sub/.dir/i.yaml",   // a dot directory is still walked, as in k3s
		"sub/j.yaml.skip",   // marker without a file: harmless
		"sub/k.yaml",        // not skipped: marker names k.yml
		"sub/k.yml.skip",
	} {
		write(rel)
	}
	files, err := Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		rel, _ := filepath.Rel(root, f.Path)
		got = append(got, rel)
		if f.ModTime.IsZero() {
			t.Errorf("%s: zero mtime", rel)
		}
	}
	want := []string{"a.yaml", "b.YML", "c.Json", "sub/.dir/i.yaml", "sub/deeper/h.yaml", "sub/k.yaml"}
	if !slices.Equal(got, want) {
		t.Errorf("Discover = %q, want %q", got, want)
	}
}

func TestDiscoverMissingRoot(t *testing.T) {
	if _, err := Discover(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("Discover of a missing directory succeeded, want an error")
	}
}

func TestShouldSkip(t *testing.T) {
	skips := map[string]bool{"off.yaml": true}
	for name, want := range map[string]bool{
		"on.yaml":      false,
		"ON.YAML":      false,
		"on.yml":       false,
		"on.json":      false,
		"off.yaml":     true,
		"off.yml":      false,
		".on.yaml":     true,
		"on.yaml.skip": true,
		"on.yaml~":     true,
		"yaml":         true,
	} {
		if got := ShouldSkip(name, skips); got != want {
			t.Errorf("ShouldSkip(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestAddonName(t *testing.T) {
	for path, want := range map[string]string{
		"/m/hakube.yaml":                "hakube",
		"/m/home-assistant.v2.yaml":     "home-assistant",
		"/m/sub/dir.with.dots/x.y.json": "x",
		"relative.yml":                  "relative",
		"/m/noext":                      "noext",
	} {
		if got := AddonName(path); got != want {
			t.Errorf("AddonName(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestDiscoverReportsModTime(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "a.yaml")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(p, when, when); err != nil {
		t.Fatal(err)
	}
	files, err := Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || !files[0].ModTime.Equal(when) {
		t.Fatalf("Discover = %+v, want one file with mtime %v", files, when)
	}
}
