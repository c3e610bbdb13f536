package k3sdeploystandin

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// skipSuffix marks a file name to ignore: "foo.yaml.skip" hides "foo.yaml".
const skipSuffix = ".skip"

// manifestSuffixes are the extensions k3s reads, compared case-insensitively.
var manifestSuffixes = []string{".yaml", ".yml", ".json"}

// File is one manifest found under the manifests directory.
type File struct {
	Path    string
	ModTime time.Time
}

// Discover walks root recursively and returns, sorted by path, the manifest
// files k3s would consider: regular files with a manifest suffix whose name
// neither starts with '.' nor is hidden by a "<name>.skip" file anywhere in
// the tree.
func Discover(root string) ([]File, error) {
	type entry struct {
		path string
		info fs.FileInfo
	}
	var entries []entry
	skips := map[string]bool{}
	err := filepath.Walk(root, func(path string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		if name, ok := strings.CutSuffix(info.Name(), skipSuffix); ok {
			skips[name] = true
		}
		entries = append(entries, entry{path: path, info: info})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", root, err)
	}
	var files []File
	for _, e := range entries {
		if ShouldSkip(e.info.Name(), skips) {
			continue
		}
		files = append(files, File{Path: e.path, ModTime: e.info.ModTime()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// ShouldSkip reports whether a file called name is ignored: a dotfile, a name
// listed in skips, or a name without a .yaml, .yml or .json suffix.
func ShouldSkip(name string, skips map[string]bool) bool {
	switch {
	case strings.HasPrefix(name, "."):
		return true
	case skips[name]:
		return true
	default:
		return !HasManifestSuffix(name)
	}
}

// HasManifestSuffix reports whether name ends in .yaml, .yml or .json, in
// any case.
func HasManifestSuffix(name string) bool {
	lower := strings.ToLower(name)
	for _, s := range manifestSuffixes {
		if strings.HasSuffix(lower, s) {
			return true
		}
	}
	return false
}

// AddonName returns the name of the Addon tracking the file at path: its
// base name up to the first '.'.
func AddonName(path string) string {
	name, _, _ := strings.Cut(filepath.Base(path), ".")
	return name
}
