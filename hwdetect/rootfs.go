package hwdetect

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// maxLinks bounds symlink expansion while resolving one path, as the
// kernel's own limit does.
const maxLinks = 40

// errLoop is returned when resolving a path follows too many symlinks.
var errLoop = errors.New("too many levels of symbolic links")

// rootFS reads a Linux file tree as if root were "/": every path given to it
// is a slash-separated absolute path inside the tree, and symlinks are
// followed inside the tree, absolute targets included. ".." never climbs
// above the root, so nothing outside it is ever read.
type rootFS struct {
	root string
}

// real maps a path inside the tree to a path on this machine.
func (r rootFS) real(p string) string {
	return filepath.Join(r.root, filepath.FromSlash(path.Clean("/"+p)))
}

// resolve returns p with every symlink expanded inside the tree. Every
// component must exist; the error then names the path inside the tree.
func (r rootFS) resolve(p string) (string, error) {
	cur := "/"
	rest := strings.Split(path.Clean("/"+p), "/")
	links := 0
	for len(rest) > 0 {
		comp := rest[0]
		rest = rest[1:]
		switch comp {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, comp)
		fi, err := os.Lstat(r.real(next))
		if err != nil {
			return "", &fs.PathError{Op: "resolve", Path: next, Err: unwrapPathErr(err)}
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return "", &fs.PathError{Op: "resolve", Path: p, Err: errLoop}
		}
		target, err := os.Readlink(r.real(next))
		if err != nil {
			return "", &fs.PathError{Op: "resolve", Path: next, Err: unwrapPathErr(err)}
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return cur, nil
}

// unwrapPathErr drops the machine path from an *fs.PathError so that
// messages only name paths inside the tree.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readFile reads the file at p inside the tree.
func (r rootFS) readFile(p string) ([]byte, error) {
	rp, err := r.resolve(p)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(r.real(rp))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: p, Err: unwrapPathErr(err)}
	}
	return b, nil
}

// readString reads a small attribute file (sysfs, device tree) and trims
// white space and NUL bytes around it.
func (r rootFS) readString(p string) (string, error) {
	b, err := r.readFile(p)
	if err != nil {
		return "", err
	}
	return string(bytes.Trim(b, " \t\r\n\x00")), nil
}

// exists reports whether p resolves to something inside the tree.
func (r rootFS) exists(p string) bool {
	_, err := r.resolve(p)
	return err == nil
}

// isDir reports whether p resolves to a directory inside the tree.
func (r rootFS) isDir(p string) bool {
	rp, err := r.resolve(p)
	if err != nil {
		return false
	}
	fi, err := os.Stat(r.real(rp))
	return err == nil && fi.IsDir()
}

// readDir lists the names in directory p, sorted. Missing directories give
// no names and no error.
func (r rootFS) readDir(p string) ([]string, error) {
	rp, err := r.resolve(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(r.real(rp))
	if err != nil {
		return nil, &fs.PathError{Op: "list", Path: p, Err: unwrapPathErr(err)}
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

// linkBase returns the last element of the target of symlink p (its parent
// directories resolved inside the tree), such as a driver's name.
func (r rootFS) linkBase(p string) (string, error) {
	dir, err := r.resolve(path.Dir(p))
	if err != nil {
		return "", err
	}
	target, err := os.Readlink(r.real(path.Join(dir, path.Base(p))))
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: p, Err: unwrapPathErr(err)}
	}
	return path.Base(target), nil
}

// describeErr words a read error for a report: the path inside the tree and
// the reason, the same on every machine.
func describeErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		reason := pe.Err.Error()
		switch {
		case errors.Is(pe.Err, fs.ErrNotExist):
			reason = "does not exist"
		case errors.Is(pe.Err, fs.ErrPermission):
			reason = "permission denied"
		}
		return fmt.Sprintf("%s: %s", pe.Path, reason)
	}
	return err.Error()
}
