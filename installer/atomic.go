// Package installer puts the rendered stack into k3s: preflight checks,
// secrets kept forever, atomic writes into the auto-deploy directory, and
// following k3s until Home Assistant is Ready.
package installer

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path so that a reader (k3s polls the
// manifests directory) sees either the old or the new file, never a part:
// a dotfile temp in the same directory (k3s ignores dotfiles), fsync, rename,
// fsync of the directory.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := writeTemp(dir, name, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, describeWriteErr(err))
	}
	syncDir(dir)
	return nil
}

// writeIfChanged is WriteFileAtomic unless path already is a regular file
// with exactly data and perm: a re-run that changes nothing touches nothing.
func writeIfChanged(path string, data []byte, perm os.FileMode) error {
	if old, err := readRegular(path); err == nil && string(old) == string(data) {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() == perm {
			return nil
		}
	}
	return WriteFileAtomic(path, data, perm)
}
