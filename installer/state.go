package installer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// The files of the state directory.
const (
	ConfigFile  = "config.yaml"  // the saved effective configuration
	SecretsFile = "secrets.json" // the generated credentials, 0600
	lockFile    = ".lock"
)

// ErrBusy says another hakube is changing this installation.
var ErrBusy = errors.New("another hakube is running")

// maxStateFileBytes caps what is read from the state directory.
const maxStateFileBytes = 1 << 20

// StateDir is hakube's state directory (/etc/hakube by default): the
// configuration saved by the last install, the credentials generated once,
// and the lock that keeps two runs from writing at once. It is root-only:
// created 0700, its files 0600.
type StateDir struct{ Path string }

// ConfigPath is the saved configuration's path.
func (s StateDir) ConfigPath() string { return filepath.Join(s.Path, ConfigFile) }

// SecretsPath is the credentials' path.
func (s StateDir) SecretsPath() string { return filepath.Join(s.Path, SecretsFile) }

// SavedConfig reads the effective configuration of an earlier install; when
// there is none the error wraps fs.ErrNotExist.
func (s StateDir) SavedConfig() (config.Config, error) {
	path := s.ConfigPath()
	data, err := config.ReadSmallFile(path, maxStateFileBytes)
	if err != nil {
		return config.Config{}, fmt.Errorf("read saved configuration: %w", err)
	}
	c, err := config.Unmarshal(path, data)
	if err != nil {
		return c, fmt.Errorf("%w (fix or remove it, or pass --config)", err)
	}
	return c, nil
}

// SavedOrDefault is the saved configuration, or the edge defaults (and
// false) when nothing was installed with this state directory.
func (s StateDir) SavedOrDefault() (config.Config, bool, error) {
	c, err := s.SavedConfig()
	switch {
	case err == nil:
		return c, true, nil
	case errors.Is(err, fs.ErrNotExist):
		return config.Defaults(config.ProfileEdge), false, nil
	}
	return c, false, err
}

// Secrets reads the kept credentials; a missing file wraps fs.ErrNotExist.
// A file that is not valid JSON, or lacks what every install has, is
// damaged: never regenerated silently.
func (s StateDir) Secrets() (manifests.Secrets, error) {
	path := s.SecretsPath()
	data, err := config.ReadSmallFile(path, maxStateFileBytes)
	if err != nil {
		return manifests.Secrets{}, fmt.Errorf("read secrets: %w", err)
	}
	var sec *manifests.Secrets
	damaged := func(why string) error {
		// Never echo the content: it is all secrets.
		return fmt.Errorf("read secrets: %s is damaged (%s); restore it from a backup: deleting it would rotate every password and break the Zigbee network", path, why)
	}
	if err := json.Unmarshal(data, &sec); err != nil {
		return manifests.Secrets{}, damaged("not valid JSON")
	}
	if sec == nil || sec.MQTTHomeAssistant.Password == "" || sec.ZigbeeNetworkKey == [16]byte{} || sec.ZigbeePanID == 0 {
		return manifests.Secrets{}, damaged("credentials are missing from it")
	}
	return *sec, nil
}

// SaveConfig writes the effective configuration, 0600.
func (s StateDir) SaveConfig(c *config.Config) error {
	if err := s.ensure(); err != nil {
		return err
	}
	return writeIfChanged(s.ConfigPath(), c.Marshal(), 0o600)
}

// SaveSecrets writes the credentials, 0600.
func (s StateDir) SaveSecrets(sec manifests.Secrets) error {
	data, err := json.MarshalIndent(sec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode secrets: %w", err)
	}
	if err := s.ensure(); err != nil {
		return err
	}
	return WriteFileAtomic(s.SecretsPath(), append(data, '\n'), 0o600)
}

// Check refuses a state directory that belongs to another user or is not a
// real directory: it holds every password. A missing directory is fine (it
// is created on first write); one open to other users is tightened when it
// is written to.
func (s StateDir) Check() error {
	fi, err := os.Lstat(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state directory %s: %w", s.Path, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state directory %s is not a directory (a symlink or a file): pass --state-dir with a real directory", s.Path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("state directory %s belongs to uid %d, not to this user (uid %d): it holds every password, so hakube will not use it; run as its owner or 'chown -R %d %s'",
			s.Path, st.Uid, os.Geteuid(), os.Geteuid(), s.Path)
	}
	return nil
}

// ensure creates the directory, checks it, and takes away any access of
// other users to it and to its files.
func (s StateDir) ensure() error {
	if err := os.MkdirAll(s.Path, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w (run as root, or pass --state-dir)", err)
	}
	if err := s.Check(); err != nil {
		return err
	}
	for _, p := range []string{s.Path, s.ConfigPath(), s.SecretsPath()} {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
			return fmt.Errorf("make %s root-only: %w", p, err)
		}
	}
	return nil
}

// Lock takes the state directory's lock so that two runs never write the
// manifests or the secrets at once. Release it with the returned function.
// It creates the directory (0700) when missing.
func (s StateDir) Lock() (func(), error) {
	if err := s.ensure(); err != nil {
		return nil, err
	}
	path := filepath.Join(s.Path, lockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w on %s: wait for it to finish, then run again", ErrBusy, s.Path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Purge removes the saved configuration and the credentials.
func (s StateDir) Purge() error {
	for _, p := range []string{s.ConfigPath(), s.SecretsPath()} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("purge %s: %w", p, err)
		}
	}
	return nil
}
