package installer

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// RestoreResult says what a restore wrote and where the content it
// replaced went: nothing is deleted, it is moved aside.
type RestoreResult struct {
	// Restored maps each archive prefix to the directory it went to.
	Restored map[string]string `json:"restored"`
	// MovedAside maps each directory to where its old content now is.
	MovedAside map[string]string `json:"moved_aside,omitempty"`
	Files      int               `json:"files"`
}

// ExtractBackup restores the archive's prefixes named in targets (prefix →
// directory, e.g. "home-assistant" → the /config volume's directory on the
// host). The archive is verified in full first and refused if anything
// fails its checksum. Each target's current content is moved into a
// sibling directory <dir>.pre-restore-<stamp> (the same file system, so
// nothing is copied or lost), then the archive's files are written with
// their modes, owners (when run as root) and times. Workloads using the
// directories must be stopped.
func ExtractBackup(archive string, targets map[string]string, stamp string) (*RestoreResult, error) {
	man, err := VerifyArchive(archive)
	if err != nil {
		return nil, err
	}
	res := &RestoreResult{Restored: map[string]string{}, MovedAside: map[string]string{}}
	for _, comp := range man.Contents {
		dir, ok := targets[comp]
		if !ok {
			continue
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return res, fmt.Errorf("restore %s: %w", comp, describeWriteErr(err))
		}
		aside, err := moveAside(dir, stamp)
		if err != nil {
			return res, fmt.Errorf("restore %s: %w", comp, err)
		}
		if aside != "" {
			res.MovedAside[dir] = aside
		}
		res.Restored[comp] = dir
	}
	type dirMeta struct {
		path string
		h    tar.Header
	}
	var dirs []dirMeta
	root := os.Geteuid() == 0
	_, err = walkArchive(archive, func(h *tar.Header, r io.Reader) error {
		comp, rel, _ := strings.Cut(h.Name, "/")
		dir, ok := res.Restored[comp]
		if !ok || rel == "" {
			return nil
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := noLinkOnTheWay(dir, filepath.Dir(p)); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadArchive, h.Name, err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("restore %s: %w", h.Name, describeWriteErr(err))
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				return fmt.Errorf("restore %s: %w", h.Name, describeWriteErr(err))
			}
			dirs = append(dirs, dirMeta{p, *h})
			return nil
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, p); err != nil {
				return fmt.Errorf("restore %s: %w", h.Name, describeWriteErr(err))
			}
			if root {
				_ = os.Lchown(p, h.Uid, h.Gid)
			}
			return nil
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("restore %s: %w", h.Name, describeWriteErr(err))
		}
		_, err = io.Copy(f, r)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("restore %s: %w", h.Name, describeWriteErr(err))
		}
		res.Files++
		return setMeta(p, h, root)
	})
	if err != nil {
		return res, err
	}
	// Directories last, deepest first: writing into them changed their times.
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i].path) > len(dirs[j].path) })
	for _, d := range dirs {
		if err := setMeta(d.path, &d.h, root); err != nil {
			return res, err
		}
	}
	for _, dir := range res.Restored {
		syncDir(dir)
	}
	return res, nil
}

// noLinkOnTheWay refuses to write under a symbolic link the archive itself
// made: a link member followed by a file "through" it would write outside
// the volume.
func noLinkOnTheWay(dir, parent string) error {
	rel, err := filepath.Rel(dir, parent)
	if err != nil || rel == "." {
		return nil
	}
	cur := dir
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			return nil // not there yet: created as a directory
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("it would be written through the link %s", cur)
		}
	}
	return nil
}

func setMeta(p string, h *tar.Header, root bool) error {
	if root {
		if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
			return fmt.Errorf("restore %s: set owner: %w", p, err)
		}
	}
	if err := os.Chmod(p, fs.FileMode(h.Mode)&fs.ModePerm|modeBits(h.Mode)); err != nil {
		return fmt.Errorf("restore %s: set mode: %w", p, err)
	}
	if err := os.Chtimes(p, h.ModTime, h.ModTime); err != nil {
		return fmt.Errorf("restore %s: set time: %w", p, err)
	}
	return nil
}

func modeBits(m int64) fs.FileMode {
	var out fs.FileMode
	if m&0o4000 != 0 {
		out |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= fs.ModeSticky
	}
	return out
}

// moveAside moves everything in dir into <dir>.pre-restore-<stamp> and
// returns that path, or "" when dir was empty.
func moveAside(dir, stamp string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(entries) == 0 {
		return "", nil
	}
	aside := dir + ".pre-restore-" + stamp
	if err := os.Mkdir(aside, 0o700); err != nil {
		return "", fmt.Errorf("move the current content aside: %w", describeWriteErr(err))
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(aside, e.Name())); err != nil {
			return aside, fmt.Errorf("move %s aside: %w", e.Name(), err)
		}
	}
	syncDir(aside)
	syncDir(dir)
	return aside, nil
}

// CheckRestored compares the restored files on disk with the manifest:
// every file of a restored prefix is there with its size and sha256.
func CheckRestored(man *BackupManifest, restored map[string]string) error {
	var problems []string
	for _, f := range man.Files {
		comp, rel, _ := strings.Cut(f.Path, "/")
		dir, ok := restored[comp]
		if !ok {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if f.Link != "" {
			if l, err := os.Readlink(p); err != nil || l != f.Link {
				problems = append(problems, f.Path+": link missing or different")
			}
			continue
		}
		sum, size, err := hashFile(p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", f.Path, err))
		} else if size != f.Size || sum != f.SHA256 {
			problems = append(problems, f.Path+": content differs from the backup")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("restored files do not match the backup: %s", strings.Join(problems, "; "))
	}
	return nil
}

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// InstallState puts hakube's saved configuration and secrets from a
// restored "hakube" directory into the state directory, first moving files it would
// replace to <name>.pre-restore-<stamp>. It returns the files moved aside.
func InstallState(from string, state StateDir, stamp string) ([]string, error) {
	if err := state.ensure(); err != nil {
		return nil, err
	}
	stateDir := state.Path
	var moved []string
	for _, name := range []string{ConfigFile, SecretsFile} {
		data, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			return moved, fmt.Errorf("the backup holds no %s: it cannot bring back hakube's settings (%w)", name, err)
		}
		dst := filepath.Join(stateDir, name)
		if old, err := os.ReadFile(dst); err == nil && string(old) != string(data) {
			aside := dst + ".pre-restore-" + stamp
			if err := os.Rename(dst, aside); err != nil {
				return moved, fmt.Errorf("move %s aside: %w", dst, err)
			}
			moved = append(moved, aside)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return moved, fmt.Errorf("read %s: %w", dst, err)
		}
		if err := WriteFileAtomic(dst, data, 0o600); err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// RestoreStamp names what a restore moves aside.
func RestoreStamp(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// PGRestoreScript restores the PostgreSQL dump $DUMP into the database the
// PG* variables name, in one transaction, then checks the rows of every
// table against $ROWS ("schema.table count" lines, from the manifest). It
// runs in the PostgreSQL image as a Job; tests run it against a real server.
const PGRestoreScript = `set -eu
pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error -d "$PGDATABASE" "$DUMP"
bad=0
while IFS= read -r line; do
  table=${line% *}
  want=${line##* }
  got=$(psql -X -A -t -v ON_ERROR_STOP=1 -c "SELECT count(*) FROM $table")
  if [ "$got" != "$want" ]; then
    echo "restore: $table has $got rows, the backup has $want" >&2
    bad=1
  fi
done <"$ROWS"
[ "$bad" = 0 ] && echo "restore: every table has the rows of the backup"
exit "$bad"
`

// PGRowsFile is the $ROWS content for PGRestoreScript from a manifest.
func PGRowsFile(man *BackupManifest) string {
	db, ok := man.Databases["postgresql/homeassistant.dump"]
	if !ok {
		return ""
	}
	var lines []string
	for t, n := range db.Rows {
		lines = append(lines, fmt.Sprintf("%s %d\n", t, n))
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}
