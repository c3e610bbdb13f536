package installer_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/manifests"
)

func renderFiles(t testing.TB, mutate func(*config.Config)) []manifests.File {
	t.Helper()
	c := config.Defaults(config.ProfileEdge)
	if mutate != nil {
		mutate(&c)
	}
	sec, err := installer.GenerateSecrets(bytes.NewReader(bytes.Repeat([]byte{7, 99, 201, 13}, 1000)))
	require.NoError(t, err)
	files, err := manifests.Render(&c, sec, manifests.Options{})
	require.NoError(t, err)
	return files
}

func TestWriteManifestsSkipsUnchangedFiles(t *testing.T) {
	dir := t.TempDir()
	files := renderFiles(t, nil)
	res, err := installer.WriteManifests(dir, files)
	require.NoError(t, err)
	assert.Len(t, res.Written, len(files))
	old := time.Now().Add(-time.Hour)
	for _, f := range files {
		require.NoError(t, os.Chtimes(filepath.Join(dir, f.Name), old, old))
	}
	res, err = installer.WriteManifests(dir, files)
	require.NoError(t, err)
	assert.Empty(t, res.Written, "a re-run rewrites nothing")
	assert.Len(t, res.Unchanged, len(files))
	for _, f := range files {
		fi, err := os.Stat(filepath.Join(dir, f.Name))
		require.NoError(t, err)
		assert.True(t, fi.ModTime().Equal(old), "%s: mtime changed, k3s would re-read it", f.Name)
		want := os.FileMode(0o644)
		if f.Sensitive {
			want = 0o600
		}
		assert.Equal(t, want, fi.Mode().Perm(), f.Name)
	}
}

func TestWriteManifestsRemovesTurnedOffComponents(t *testing.T) {
	dir := t.TempDir()
	_, err := installer.WriteManifests(dir, renderFiles(t, nil))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "hakube-10-esphome.yaml"))
	res, err := installer.WriteManifests(dir, renderFiles(t, func(c *config.Config) {
		c.Components = []config.Component{config.MQTT}
	}))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"hakube-10-esphome.yaml", "hakube-10-nodered.yaml"}, res.Removed)
	assert.NoFileExists(t, filepath.Join(dir, "hakube-10-esphome.yaml"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "someone-elses.yaml"), []byte("x"), 0o644))
	_, err = installer.WriteManifests(dir, renderFiles(t, nil))
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(dir, "someone-elses.yaml"), "files that are not ours are left alone")
}

// mountTmpfs mounts a tmpfs for a fault test and unmounts it at the end.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		t.Fatalf("mount a tmpfs for the fault test: %v (these tests need root, as CI has)", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = string(b)
	}
	return out
}

func TestWriteManifestsFullDiskChangesNothing(t *testing.T) {
	dir := mountTmpfs(t, "size=96k")
	first := renderFiles(t, nil)
	_, err := installer.WriteManifests(dir, first)
	require.NoError(t, err)
	before := snapshot(t, dir)
	// Fill the disk, then try an update that must not fit.
	filler, err := os.Create(filepath.Join(dir, ".filler"))
	require.NoError(t, err)
	_, _ = filler.Write(make([]byte, 1<<20)) // stops at ENOSPC
	filler.Close()
	delete(before, ".filler")
	next := renderFiles(t, func(c *config.Config) { c.Timezone = "Europe/Berlin"; c.NodePort = 30200 })
	_, err = installer.WriteManifests(dir, next)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "free some disk space")
	after := snapshot(t, dir)
	delete(after, ".filler")
	assert.Equal(t, before, after, "a failed write leaves the previous files as they were, and no temps")
}

func TestWriteManifestsReadOnlyDir(t *testing.T) {
	dir := mountTmpfs(t, "size=1m")
	_, err := installer.WriteManifests(dir, renderFiles(t, nil))
	require.NoError(t, err)
	before := snapshot(t, dir)
	require.NoError(t, syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""))
	_, err = installer.WriteManifests(dir, renderFiles(t, func(c *config.Config) { c.NodePort = 30200 }))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read-only")
	assert.Equal(t, before, snapshot(t, dir))
}

// TestWriterKilledAtRandom kills a writing process at random points: every
// manifest file is always whole, the old or the new version.
func TestWriterKilledAtRandom(t *testing.T) {
	if os.Getenv("HAKUBE_TEST_WRITER") != "" {
		return
	}
	dir := t.TempDir()
	a := renderFiles(t, nil)
	b := renderFiles(t, func(c *config.Config) { c.Timezone = "Europe/Berlin"; c.BackupRetentionDays = 30 })
	valid := map[string]map[string]bool{}
	for _, set := range [][]manifests.File{a, b} {
		for _, f := range set {
			if valid[f.Name] == nil {
				valid[f.Name] = map[string]bool{}
			}
			valid[f.Name][string(f.Content)] = true
		}
	}
	// Kill until enough kills landed mid-write (between a temp file's first
	// byte and its rename), within a bounded number of tries.
	want := 20
	if testing.Short() {
		want = 5
	}
	midWrite, kills := 0, 0
	for i := 0; midWrite < want && i < want*10; i++ {
		kills++
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
		cmd.Env = append(os.Environ(), "HAKUBE_TEST_WRITER="+dir)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		// Kill only once the writer says it is writing, so that every kill
		// lands while files are being written.
		line, err := bufio.NewReader(stdout).ReadString('\n')
		require.NoError(t, err, "the writer never started")
		require.Equal(t, "writing\n", line)
		n, _ := rand.Int(rand.Reader, big.NewInt(20))
		time.Sleep(time.Duration(n.Int64()+1) * time.Millisecond)
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
		temps := 0
		for name, content := range snapshot(t, dir) {
			if strings.HasPrefix(name, ".") {
				temps++
				continue // temps: k3s ignores dotfiles
			}
			require.True(t, valid[name][content], "kill %d: %s is neither the old nor the new version (%d bytes)", i, name, len(content))
		}
		if temps > 0 {
			midWrite++ // killed between a temp's first byte and its rename
		}
	}
	t.Logf("%d of %d kills landed mid-write (temps left behind)", midWrite, kills)
	require.GreaterOrEqual(t, midWrite, want, "too few kills landed while a file was half-written: the test proved little")
}

// TestHelperWriter is the process TestWriterKilledAtRandom kills: it writes
// two versions of the stack in turns, forever.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv("HAKUBE_TEST_WRITER")
	if dir == "" {
		return
	}
	a := renderFiles(t, nil)
	b := renderFiles(t, func(c *config.Config) { c.Timezone = "Europe/Berlin"; c.BackupRetentionDays = 30 })
	fmt.Println("writing")
	for i := 0; ; i++ {
		set := a
		if i%2 == 1 {
			set = b
		}
		if _, err := installer.WriteManifests(dir, set); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

func TestSecretsGeneratedOnceAndKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	in := &installer.Installer{DataDir: t.TempDir(), State: installer.StateDir{Path: dir}}
	cfg := config.Defaults(config.ProfileEdge)
	p, err := in.Plan(context.Background(), cfg, installer.PlanOptions{})
	require.NoError(t, err)
	assert.Equal(t, installer.CredentialsNew, p.Credentials)
	assert.NoDirExists(t, dir, "planning writes nothing")
	in.NoWait = true
	_, err = in.Apply(context.Background(), p)
	require.NoError(t, err)
	fi, err := os.Stat(filepath.Join(dir, installer.SecretsFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	di, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), di.Mode().Perm())
	s1, err := in.State.Secrets()
	require.NoError(t, err)
	p2, err := in.Plan(context.Background(), cfg, installer.PlanOptions{})
	require.NoError(t, err)
	assert.Equal(t, installer.CredentialsKept, p2.Credentials, "a re-run never rotates a secret")
	s2, err := in.State.Secrets()
	require.NoError(t, err)
	assert.Equal(t, s1, s2)
	assert.Len(t, s1.MQTTHomeAssistant.Password, 32)
	assert.NotEqual(t, s1.MQTTHomeAssistant.Password, s1.MQTTNodeRED.Password)
	assert.NotEqual(t, [16]byte{}, s1.ZigbeeNetworkKey)
	assert.True(t, s1.ZigbeePanID >= 1 && s1.ZigbeePanID <= 0x3FFE)

	for _, damaged := range []string{"{broken hunter2", "{}", "null", `{"MQTTHomeAssistant":{"Password":"hunter2"}}`} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, installer.SecretsFile), []byte(damaged), 0o600))
		_, err = in.Plan(context.Background(), cfg, installer.PlanOptions{})
		require.Error(t, err, "a damaged secrets file (%q) is never silently replaced", damaged)
		assert.Contains(t, err.Error(), "is damaged")
		assert.NotContains(t, err.Error(), "hunter2")
	}
}

func TestMissingSecretsWithAnInstallPresentIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	in := &installer.Installer{DataDir: t.TempDir(), State: installer.StateDir{Path: dir}, NoWait: true}
	cfg := config.Defaults(config.ProfileEdge)
	_, err := in.Install(context.Background(), cfg)
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(dir, installer.SecretsFile)))
	_, err = in.Plan(context.Background(), cfg, installer.PlanOptions{})
	require.ErrorIs(t, err, installer.ErrCredentialsMissing)
	assert.Contains(t, err.Error(), "saved configuration")
	assert.Contains(t, err.Error(), "manifest files")
	assert.Contains(t, err.Error(), "--regenerate-credentials")
	assert.NoFileExists(t, filepath.Join(dir, installer.SecretsFile), "refused: nothing written")
	p, err := in.Plan(context.Background(), cfg, installer.PlanOptions{RegenerateCredentials: true})
	require.NoError(t, err)
	assert.Equal(t, installer.CredentialsNew, p.Credentials)
}

func TestStateDirIsMadeRootOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, installer.ConfigFile), []byte("x"), 0o644))
	unlock, err := installer.StateDir{Path: dir}.Lock()
	require.NoError(t, err)
	unlock()
	for _, p := range []string{dir, filepath.Join(dir, installer.ConfigFile)} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Zero(t, fi.Mode().Perm()&0o077, "%s is tightened to owner-only", p)
	}
	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Symlink(dir, link))
	_, err = installer.StateDir{Path: link}.Lock()
	require.Error(t, err, "a symlink as state directory is refused")
	assert.Contains(t, err.Error(), "not a directory")
}

func TestInstallRefusesVolumeChanges(t *testing.T) {
	state := t.TempDir()
	saved := config.Defaults(config.ProfileEdge)
	require.NoError(t, installer.WriteFileAtomic(filepath.Join(state, installer.ConfigFile), saved.Marshal(), 0o600))
	in := &installer.Installer{DataDir: t.TempDir(), State: installer.StateDir{Path: state}}
	for _, mutate := range []func(*config.Config){
		func(c *config.Config) { c.Volumes.Config = "50Gi" },
		func(c *config.Config) { c.StorageClass = "longhorn" },
	} {
		c := saved
		mutate(&c)
		_, err := in.Install(context.Background(), c)
		require.ErrorIs(t, err, installer.ErrPreflight)
		assert.Contains(t, err.Error(), "cannot change")
		assert.NoFileExists(t, filepath.Join(state, installer.SecretsFile), "refused before anything is generated")
	}
}
