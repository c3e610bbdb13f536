package installer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/hakube/hakube/manifests"
)

// ManifestsDir is k3s's auto-deploy directory under its data dir.
func ManifestsDir(dataDir string) string { return filepath.Join(dataDir, "server", "manifests") }

// Sum is the sha256 k3s records in an Addon's spec.checksum.
func Sum(content []byte) string {
	s := sha256.Sum256(content)
	return hex.EncodeToString(s[:])
}

// WriteResult says what WriteManifests changed.
type WriteResult struct {
	Written   []string // new or changed files
	Unchanged []string // identical files, not touched (k3s re-reads on mtime)
	Removed   []string // files of components that were turned off
}

// WriteManifests puts files into dir. Unchanged files are not rewritten, so
// their mtime stays and k3s does not even re-read them. All new contents
// are written to dotfile temps first; only when every temp is complete are
// they renamed into place, so a failure leaves the previous files as they
// were. Our files that are no longer rendered are removed (k3s keeps their
// objects: the caller deletes those).
func WriteManifests(dir string, files []manifests.File) (WriteResult, error) {
	var res WriteResult
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, fmt.Errorf("create manifests directory: %w", err)
	}
	// Temps of a run that was killed: k3s ignores dotfiles, we tidy them.
	if stale, err := filepath.Glob(filepath.Join(dir, "."+manifests.FilePrefix+"*.tmp")); err == nil {
		for _, s := range stale {
			os.Remove(s)
		}
	}
	type pending struct{ tmp, final string }
	var todo []pending
	cleanup := func() {
		for _, p := range todo {
			os.Remove(p.tmp)
		}
	}
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		perm := os.FileMode(0o644)
		if f.Sensitive {
			perm = 0o600
		}
		// Only a regular file counts as unchanged: a symlink planted in
		// k3s's directory is replaced even when its target matches.
		old, err := readRegular(path)
		if err == nil && bytes.Equal(old, f.Content) {
			if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != perm {
				if err := os.Chmod(path, perm); err != nil {
					cleanup()
					return WriteResult{}, fmt.Errorf("write %s: %w", path, err)
				}
			}
			res.Unchanged = append(res.Unchanged, f.Name)
			continue
		}
		tmp, err := writeTemp(dir, f.Name, f.Content, perm)
		if err != nil {
			cleanup()
			return WriteResult{}, err
		}
		todo = append(todo, pending{tmp, path})
		res.Written = append(res.Written, f.Name)
	}
	for i, p := range todo {
		if err := os.Rename(p.tmp, p.final); err != nil {
			for _, q := range todo[i:] {
				os.Remove(q.tmp)
			}
			return WriteResult{}, fmt.Errorf("write %s: %w", p.final, err)
		}
	}
	syncDir(dir)
	rendered := make([]string, len(files))
	for i, f := range files {
		rendered[i] = f.Name
	}
	for _, name := range manifests.FileNames() {
		if slices.Contains(rendered, name) {
			continue
		}
		err := os.Remove(filepath.Join(dir, name))
		switch {
		case err == nil:
			res.Removed = append(res.Removed, name)
		case !errors.Is(err, fs.ErrNotExist):
			return res, fmt.Errorf("remove %s: %w", name, err)
		}
	}
	return res, nil
}

func writeTemp(dir, name string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, name), describeWriteErr(err))
	}
	tmp := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, name), describeWriteErr(err))
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", filepath.Join(dir, name), describeWriteErr(err))
	}
	return tmp, nil
}

func describeWriteErr(err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w (run as root: k3s's manifests directory belongs to root)", err)
	case isNoSpace(err):
		return fmt.Errorf("%w (free some disk space and run again: nothing was changed)", err)
	case isReadOnly(err):
		return fmt.Errorf("%w (the file system is read-only: remount it read-write and run again)", err)
	}
	return err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: renames are already visible
		d.Close()
	}
}

// readManifestSums returns the sha256 of each of our files in dir.
func readManifestSums(dir string) map[string]string {
	out := map[string]string{}
	for _, name := range manifests.FileNames() {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			out[name] = Sum(b)
		}
	}
	return out
}
