package installer

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hakube/hakube/config"
)

// ownerFile in k3s's manifests directory names the install whose files
// these are (k3s ignores dotfiles). Two installs writing the same file names
// would each make k3s prune the other's objects, volumes included.
const ownerFile = ".hakube-owner.json"

// idFile in the state directory holds the install's identity.
const idFile = "install-id"

// owner is the content of ownerFile.
type owner struct {
	InstallID string `json:"install_id"`
	StateDir  string `json:"state_dir"`
	Namespace string `json:"namespace"`
}

// ID returns the install's identity, "" when none was made yet.
func (s StateDir) ID() string {
	b, err := config.ReadSmallFile(filepath.Join(s.Path, idFile), 256)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// idOrNew is the install's identity, or a new one (not yet written).
func (s StateDir) idOrNew() (string, error) {
	if id := s.ID(); id != "" {
		return id, nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// keepID writes the install's identity when it is not there yet.
func (s StateDir) keepID(id string) error {
	if s.ID() == id {
		return nil
	}
	if err := s.ensure(); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(s.Path, idFile), []byte(id+"\n"), 0o600)
}

func readOwner(manifestsDir string) (owner, bool) {
	b, err := config.ReadSmallFile(filepath.Join(manifestsDir, ownerFile), 4<<10)
	if err != nil {
		return owner{}, false
	}
	var o owner
	if json.Unmarshal(b, &o) != nil || o.InstallID == "" {
		return owner{}, false
	}
	return o, true
}

// checkOwner refuses to take over the manifests of another install, and a
// change of namespace of this one.
func (in *Installer) checkOwner(cfg *config.Config) error {
	dir := ManifestsDir(in.DataDir)
	o, ok := readOwner(dir)
	if !ok {
		// Files of an install made before the marker existed: the saved
		// configuration names their namespace.
		saved, err := in.State.SavedConfig()
		if err != nil || !hasOurFiles(dir) {
			return nil
		}
		o = owner{InstallID: in.State.ID(), Namespace: saved.Namespace}
	}
	abs, _ := filepath.Abs(in.State.Path)
	id := in.State.ID()
	mine := o.InstallID == id || (id == "" && o.StateDir == abs)
	if !mine {
		return fmt.Errorf("%w: the hakube files in %s belong to another install (state directory %s, namespace %s); writing them would make k3s delete that install's objects, its volumes and their data included.\n"+
			"  Use that install's state directory (--state-dir %s), or remove it first with 'hakube uninstall --state-dir %s' (its volumes are kept)",
			ErrPreflight, dir, o.StateDir, o.Namespace, o.StateDir, o.StateDir)
	}
	if o.Namespace != "" && o.Namespace != cfg.Namespace {
		return fmt.Errorf("%w: namespace was %q at install and cannot change: k3s would delete every object of %q, its volumes and their data included.\n"+
			"  Keep namespace %q; to move, back up, 'hakube uninstall' (volumes are kept), then install into the new namespace and restore",
			ErrPreflight, o.Namespace, o.Namespace, o.Namespace)
	}
	return nil
}

func hasOurFiles(dir string) bool {
	matches, _ := filepath.Glob(filepath.Join(dir, "hakube-*.yaml"))
	return len(matches) > 0
}

// claimOwnership records this install (id) as the owner of the manifests.
func (in *Installer) claimOwnership(cfg *config.Config, id string) error {
	if err := in.State.keepID(id); err != nil {
		return fmt.Errorf("keep the install's identity: %w", err)
	}
	abs, err := filepath.Abs(in.State.Path)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(owner{InstallID: id, StateDir: abs, Namespace: cfg.Namespace}, "", "  ")
	if err != nil {
		return err
	}
	dir := ManifestsDir(in.DataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create manifests directory: %w", describeWriteErr(err))
	}
	return writeIfChanged(filepath.Join(dir, ownerFile), append(b, '\n'), 0o600)
}

// releaseOwnership removes the marker (uninstall).
func releaseOwnership(manifestsDir string) error {
	err := os.Remove(filepath.Join(manifestsDir, ownerFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
