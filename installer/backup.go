package installer

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// BackupManifest is MANIFEST.json, the last member of every archive the
// backup job writes.
type BackupManifest struct {
	Format            int                       `json:"format"`
	Created           string                    `json:"created"`
	CreatedUnix       int64                     `json:"created_unix"`
	HakubeVersion     string                    `json:"hakube_version"`
	ComponentVersions map[string]string         `json:"component_versions"`
	Contents          []string                  `json:"contents"`
	Files             []BackupFile              `json:"files"`
	Databases         map[string]BackupDatabase `json:"databases"`
	// Part is set in a part archive: its name ("zigbee2mqtt").
	Part string `json:"part,omitempty"`
	// Parts are the part archives that belong to this run (written by the
	// backup job of another namespace): a backup is complete only with them.
	Parts []string `json:"parts,omitempty"`
}

// BackupFile is one archived file (or symbolic link, when Link is set).
type BackupFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Mode   uint32 `json:"mode"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Link   string `json:"link,omitempty"`
}

// BackupDatabase is a database copied through its own backup interface,
// with the rows of each table as the copy holds them.
type BackupDatabase struct {
	Engine string           `json:"engine"`
	Rows   map[string]int64 `json:"rows"`
}

const manifestName = "MANIFEST.json"

// archiveNameRE matches the names of complete archives; a run that was
// killed leaves only a dotfile ending in .partial.
var archiveNameRE = regexp.MustCompile(`^hakube-(\d{8}T\d{6}Z)\.tar\.gz$`)

// partNameRE matches part archives: hakube-<stamp>.<part>.tar.gz.
var partNameRE = regexp.MustCompile(`^hakube-(\d{8}T\d{6}Z)\.([a-z0-9-]+)\.tar\.gz$`)

// partName is what a part's name may be.
var partName = regexp.MustCompile(`^[a-z0-9-]+$`)

// PartFile is the name of an archive's part: next to archive, or next to a
// copy of it, hakube-<stamp>.<part>.tar.gz for hakube-<stamp>.tar.gz.
func PartFile(archive, part string) string {
	return strings.TrimSuffix(archive, ".tar.gz") + "." + part + ".tar.gz"
}

// BackupSet is one run's backup: the main archive and its parts (written
// by the backup jobs of other namespaces), all verified.
type BackupSet struct {
	Archive  string
	Manifest *BackupManifest
	// Parts maps each part's name to its file and manifest.
	Parts map[string]BackupPart
}

// BackupPart is one verified part archive.
type BackupPart struct {
	Path     string
	Manifest *BackupManifest
}

// Contents are the prefixes of the main archive and of every part.
func (s *BackupSet) Contents() []string {
	out := append([]string(nil), s.Manifest.Contents...)
	for _, name := range s.Manifest.Parts {
		for _, c := range s.Parts[name].Manifest.Contents {
			if !contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// VerifyBackupSet verifies archive and every part its manifest names. A
// part is looked for next to archive (where 'backup pull' puts it), then
// under the same name in each of dirs (the backups volumes on the node).
// A missing or bad part makes the whole backup bad (ErrBadArchive).
func VerifyBackupSet(archive string, dirs []string) (*BackupSet, error) {
	man, err := VerifyArchive(archive)
	if err != nil {
		return nil, err
	}
	if man.Part != "" {
		return nil, fmt.Errorf("%w: %s is the part %q of a backup, not a backup: give the archive without the part's name", ErrBadArchive, archive, man.Part)
	}
	set := &BackupSet{Archive: archive, Manifest: man, Parts: map[string]BackupPart{}}
	for _, name := range man.Parts {
		if !partName.MatchString(name) {
			return nil, fmt.Errorf("%w: %s names a part %q", ErrBadArchive, archive, name)
		}
		want := PartFile(archive, name)
		cands := []string{want}
		for _, d := range dirs {
			cands = append(cands, filepath.Join(d, filepath.Base(want)))
		}
		var found string
		for _, c := range cands {
			if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
				found = c
				break
			}
		}
		if found == "" {
			return nil, fmt.Errorf("%w: %s lacks its part %s (written by the backup job of another namespace): looked in %s", ErrBadArchive, archive, filepath.Base(want), strings.Join(cands, ", "))
		}
		pm, err := VerifyArchive(found)
		if err != nil {
			return nil, err
		}
		if pm.Part != name || pm.Created != man.Created {
			return nil, fmt.Errorf("%w: %s is not the part %q of %s", ErrBadArchive, found, name, archive)
		}
		set.Parts[name] = BackupPart{Path: found, Manifest: pm}
	}
	return set, nil
}

// ErrBadArchive wraps every reason an archive is refused; it is bad input.
var ErrBadArchive = fmt.Errorf("%w: the archive is damaged or incomplete", ErrBadInput)

// VerifyArchive reads the whole archive and checks every member against the
// manifest: same set of files, same sizes, same sha256. It returns the
// manifest of a good archive; any problem wraps ErrBadArchive.
func VerifyArchive(file string) (*BackupManifest, error) {
	return walkArchive(file, nil)
}

// walkArchive verifies file and, when each is set, hands every member
// (after its own checks) to it. Data is only handed over verified: each
// member's content is hashed while each reads it, and a mismatch fails.
func walkArchive(file string, each func(h *tar.Header, r io.Reader) error) (*BackupManifest, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadArchive, file, fmt.Sprintf(format, a...))
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("open backup: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, bad("not a gzip file (%v)", err)
	}
	tr := tar.NewReader(gz)
	type seen struct {
		size int64
		sum  string
		link string
	}
	got := map[string]seen{}
	var man *BackupManifest
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bad("cut short (%v)", err)
		}
		if man != nil {
			return nil, bad("%s follows the manifest", h.Name)
		}
		if err := checkMemberName(h.Name); err != nil {
			return nil, bad("%v", err)
		}
		if h.Name == manifestName {
			data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
			if err != nil {
				return nil, bad("manifest cut short (%v)", err)
			}
			man = &BackupManifest{}
			if err := json.Unmarshal(data, man); err != nil {
				return nil, bad("manifest is not valid JSON (%v)", err)
			}
			continue
		}
		switch h.Typeflag {
		case tar.TypeReg:
			hs := sha256.New()
			r := io.TeeReader(tr, hs)
			if each != nil {
				if err := each(h, r); err != nil {
					return nil, err
				}
			}
			n, err := io.Copy(io.Discard, r) // whatever each left unread
			if err != nil {
				return nil, bad("%s cut short (%v)", h.Name, err)
			}
			_ = n
			got[h.Name] = seen{size: h.Size, sum: hex.EncodeToString(hs.Sum(nil))}
		case tar.TypeSymlink:
			got[h.Name] = seen{link: h.Linkname}
			if each != nil {
				if err := each(h, nil); err != nil {
					return nil, err
				}
			}
		case tar.TypeDir:
			if each != nil {
				if err := each(h, nil); err != nil {
					return nil, err
				}
			}
		default:
			return nil, bad("%s has an unsupported type %q", h.Name, h.Typeflag)
		}
	}
	// The gzip trailer (length and CRC) is only checked at the very end.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return nil, bad("cut short (%v)", err)
	}
	if man == nil {
		return nil, bad("no %s: the backup did not finish", manifestName)
	}
	for _, mf := range man.Files {
		g, ok := got[mf.Path]
		switch {
		case !ok:
			return nil, bad("%s is in the manifest but not in the archive", mf.Path)
		case mf.Link != "" && g.link != mf.Link:
			return nil, bad("%s: link target differs from the manifest", mf.Path)
		case mf.Link == "" && (g.size != mf.Size || g.sum != mf.SHA256):
			return nil, bad("%s: size or sha256 differs from the manifest", mf.Path)
		}
		delete(got, mf.Path)
	}
	for name := range got {
		return nil, bad("%s is not in the manifest", name)
	}
	return man, nil
}

// checkMemberName refuses absolute names and names that climb out.
func checkMemberName(name string) error {
	clean := path.Clean(name)
	if name == "" || path.IsAbs(name) || clean == ".." || strings.HasPrefix(clean, "../") || clean != strings.TrimSuffix(name, "/") {
		return fmt.Errorf("member %q has an unsafe name", name)
	}
	return nil
}

// BackupLocation is one directory archives are kept in.
type BackupLocation struct {
	// Where says what it is: "backups volume" or "copy".
	Where string `json:"where"`
	Dir   string `json:"dir"`
}

// BackupArchive is one archive found by ListBackups.
type BackupArchive struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	Where    string    `json:"where"`
	Time     time.Time `json:"time"`
	Size     int64     `json:"size"`
	Good     bool      `json:"good"`
	Problem  string    `json:"problem,omitempty"`
	Contents []string  `json:"contents,omitempty"`
	Version  string    `json:"hakube_version,omitempty"`
	// Parts are the part archives that belong to it (Size counts them).
	Parts []string `json:"parts,omitempty"`
}

// BackupsVolumeDir finds the backups volume on the host: k3s's local-path
// provisioner keeps each volume in <data-dir>/storage/<pv>_<namespace>_<claim>.
func BackupsVolumeDir(dataDir, namespace string) (string, error) {
	return LocalVolumeDir(dataDir, namespace, "home-assistant-backups-0")
}

// LocalVolumeDir finds a local-path volume's directory on the host.
func LocalVolumeDir(dataDir, namespace, claim string) (string, error) {
	storage := filepath.Join(dataDir, "storage")
	matches, err := filepath.Glob(filepath.Join(storage, "*_"+namespace+"_"+claim))
	if err != nil {
		return "", err
	}
	var dirs []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			dirs = append(dirs, m)
		}
	}
	switch len(dirs) {
	case 0:
		return "", fmt.Errorf("no volume for claim %s/%s under %s: is k3s's local-path storage in use, and --data-dir right?", namespace, claim, storage)
	case 1:
		return dirs[0], nil
	}
	return "", fmt.Errorf("%d volumes for claim %s/%s under %s (%s): remove the stale one after checking its content", len(dirs), namespace, claim, storage, strings.Join(dirs, ", "))
}

// ListBackups lists the backups in every location, newest first, one entry
// per run: a run's part archives (found in any location) are listed with
// it, not on their own. Every archive is read in full and checked against
// its manifest: Good is true only for one that restore would accept, parts
// included. A location that does not exist is skipped.
func ListBackups(locs []BackupLocation) ([]BackupArchive, error) {
	var out []BackupArchive
	var dirs []string
	for _, loc := range locs {
		dirs = append(dirs, loc.Dir)
	}
	for _, loc := range locs {
		entries, err := os.ReadDir(loc.Dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list backups in %s: %w", loc.Dir, err)
		}
		for _, e := range entries {
			m := archiveNameRE.FindStringSubmatch(e.Name())
			if m == nil || !e.Type().IsRegular() {
				continue
			}
			a := BackupArchive{Name: e.Name(), Path: filepath.Join(loc.Dir, e.Name()), Where: loc.Where}
			a.Time, _ = time.Parse("20060102T150405Z", m[1])
			if fi, err := e.Info(); err == nil {
				a.Size = fi.Size()
			}
			set, err := VerifyBackupSet(a.Path, dirs)
			if err != nil {
				a.Problem = err.Error()
			} else {
				a.Good, a.Contents, a.Version = true, set.Contents(), set.Manifest.HakubeVersion
				for _, p := range set.Parts {
					a.Parts = append(a.Parts, p.Path)
					if fi, err := os.Stat(p.Path); err == nil {
						a.Size += fi.Size()
					}
				}
				sort.Strings(a.Parts)
			}
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

// PullBackup copies archive to dest (a file, written 0600, complete or
// absent) after checking it, and each of its parts (looked for as
// VerifyBackupSet does, in dirs) next to dest as PartFile(dest, part); it
// never overwrites an existing file. It returns the files written.
func PullBackup(archive, dest string, dirs []string) ([]string, error) {
	set, err := VerifyBackupSet(archive, dirs)
	if err != nil {
		return nil, err
	}
	copies := [][2]string{{archive, dest}}
	for _, name := range set.Manifest.Parts {
		copies = append(copies, [2]string{set.Parts[name].Path, PartFile(dest, name)})
	}
	for _, c := range copies {
		if _, err := os.Lstat(c[1]); err == nil {
			return nil, fmt.Errorf("pull backup: %s exists: give another --to, or remove it first", c[1])
		}
	}
	var done []string
	for _, c := range copies {
		if err := copyArchive(c[0], c[1]); err != nil {
			for _, d := range done {
				os.Remove(d)
			}
			return nil, err
		}
		done = append(done, c[1])
	}
	return done, nil
}

// copyArchive copies src to dest, 0600, complete or absent, never over an
// existing file.
func copyArchive(archive, dest string) error {
	src, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("pull backup: %w", err)
	}
	defer src.Close()
	dir := filepath.Dir(dest)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".*.partial")
	if err != nil {
		return fmt.Errorf("pull backup: %w", describeWriteErr(err))
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("pull backup: %w", err)
	}
	if _, err := io.Copy(tmp, src); err != nil {
		return fmt.Errorf("pull backup: %w", describeWriteErr(err))
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("pull backup: %w", describeWriteErr(err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pull backup: %w", err)
	}
	if err := os.Link(tmp.Name(), dest); err != nil { // never replaces dest
		return fmt.Errorf("pull backup: %w", describeWriteErr(err))
	}
	os.Remove(tmp.Name())
	syncDir(dir)
	ok = true
	return nil
}

// KeptBackupsDir is where 'uninstall --purge' moves the archives before the
// backups volume is deleted: <data-dir>/hakube-backups, outside k3s's
// storage directory, on the same file system (a rename, not a copy).
func KeptBackupsDir(dataDir string) string { return filepath.Join(dataDir, "hakube-backups") }

// BackupLocations are every place archives may be: the backups volume, the
// second destination (copyDir, may be ""), and the archives kept after a
// purge.
func BackupLocations(dataDir, namespace, copyDir string) []BackupLocation {
	var out []BackupLocation
	if dir, err := BackupsVolumeDir(dataDir, namespace); err == nil {
		out = append(out, BackupLocation{Where: "backups volume", Dir: dir})
	}
	// The radio namespace's job writes its parts into a backups volume there.
	if dir, err := BackupsVolumeDir(dataDir, namespace+"-radio"); err == nil {
		out = append(out, BackupLocation{Where: "radio backups volume", Dir: dir})
	}
	if copyDir != "" {
		out = append(out, BackupLocation{Where: "backup-copy-dir", Dir: copyDir})
	}
	return append(out, BackupLocation{Where: "kept after uninstall --purge", Dir: KeptBackupsDir(dataDir)})
}

// KeepBackups moves every archive out of the backups volume directory into
// KeptBackupsDir, so that deleting the volume keeps them. It returns the
// archives moved.
func KeepBackups(volumeDir, dataDir string) ([]string, error) {
	entries, err := os.ReadDir(volumeDir)
	if err != nil {
		return nil, fmt.Errorf("keep backups: %w", err)
	}
	dest := KeptBackupsDir(dataDir)
	var moved []string
	for _, e := range entries {
		if !archiveNameRE.MatchString(e.Name()) && !partNameRE.MatchString(e.Name()) {
			continue
		}
		if err := os.MkdirAll(dest, 0o700); err != nil {
			return moved, fmt.Errorf("keep backups: %w", describeWriteErr(err))
		}
		if err := os.Rename(filepath.Join(volumeDir, e.Name()), filepath.Join(dest, e.Name())); err != nil {
			return moved, fmt.Errorf("keep backups: move %s: %w", e.Name(), err)
		}
		moved = append(moved, filepath.Join(dest, e.Name()))
	}
	if len(moved) > 0 {
		syncDir(dest)
	}
	return moved, nil
}
