package manifests_test

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
)

// TestBackupScriptTakesConsistentCopy runs the rendered backup job's script
// (paths moved into temp dirs) against a live SQLite database in WAL mode:
// the archive holds a database that opens and has every committed row, the
// live files are not tarred, and old backups past retention are removed.
func TestBackupScriptTakesConsistentCopy(t *testing.T) {
	for _, tool := range []string{"python3", "tar", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed for this test: install it (apt-get install python3 tar)", tool)
		}
	}
	var script string
	for _, o := range decodeAll(t, render(t, cases[0])) {
		if cj, ok := o.obj.(*batchv1.CronJob); ok {
			c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
			require.Equal(t, []string{"sh", "-c"}, c.Command[:2])
			script = c.Command[2]
		}
	}
	require.NotEmpty(t, script)
	dir := t.TempDir()
	cfgDir, backups := filepath.Join(dir, "config"), filepath.Join(dir, "backups")
	require.NoError(t, os.MkdirAll(cfgDir, 0o755))
	require.NoError(t, os.MkdirAll(backups, 0o755))
	// Move the volumes' mount points, and nothing else (./backups and
	// $work/config.tar.gz stay as they are).
	script = regexp.MustCompile(`(^|[\s="]|file:)/config\b`).ReplaceAllString(script, "${1}"+cfgDir)
	script = regexp.MustCompile(`(^|[\s="])/backups\b`).ReplaceAllString(script, "${1}"+backups)

	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "configuration.yaml"), []byte("default_config:\n"), 0o644))
	// A writer keeps the database open in WAL mode with uncheckpointed rows,
	// as Home Assistant does.
	writer := exec.Command("python3", "-c", `
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA wal_autocheckpoint=0")
db.execute("CREATE TABLE states (id INTEGER PRIMARY KEY, v TEXT)")
for i in range(500):
    db.execute("INSERT INTO states (v) VALUES (?)", ("x" * 100,))
db.commit()
print("ready", flush=True)
time.sleep(30)
`, filepath.Join(cfgDir, "home-assistant_v2.db"))
	out, err := writer.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, writer.Start())
	t.Cleanup(func() { _ = writer.Process.Kill(); _ = writer.Wait() })
	buf := make([]byte, 6)
	_, err = io.ReadFull(out, buf)
	require.NoError(t, err)
	require.Equal(t, "ready\n", string(buf))
	require.FileExists(t, filepath.Join(cfgDir, "home-assistant_v2.db-wal"), "rows are still in the WAL")

	old := filepath.Join(backups, "hakube-20200101T000000Z.tar.gz")
	require.NoError(t, os.WriteFile(old, []byte("old"), 0o644))
	longAgo := time.Now().Add(-100 * 24 * time.Hour)
	require.NoError(t, os.Chtimes(old, longAgo, longAgo))

	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "RETENTION_DAYS=14")
	logs, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", logs)
	assert.NoFileExists(t, old, "a backup past retention is removed")

	archives, _ := filepath.Glob(filepath.Join(backups, "hakube-*.tar.gz"))
	require.Len(t, archives, 1, "%s", logs)
	extract := t.TempDir()
	names := untar(t, archives[0], extract)
	assert.Contains(t, names, "./home-assistant_v2.db")
	assert.Contains(t, names, "./config.tar.gz")
	inner := untar(t, filepath.Join(extract, "config.tar.gz"), t.TempDir())
	assert.Contains(t, inner, "./configuration.yaml")
	for _, n := range inner {
		assert.NotContains(t, n, "home-assistant_v2.db", "the live database is never tarred")
	}
	count, err := exec.Command("python3", "-c", `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
print(db.execute("SELECT COUNT(*) FROM states").fetchone()[0])
`, filepath.Join(extract, "home-assistant_v2.db")).CombinedOutput()
	require.NoError(t, err, "%s", count)
	assert.Equal(t, "500", strings.TrimSpace(string(count)), "every committed row is in the copy")
}

func untar(t *testing.T, path, dest string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		names = append(names, h.Name)
		if h.Typeflag == tar.TypeReg {
			w, err := os.Create(filepath.Join(dest, filepath.Base(h.Name)))
			require.NoError(t, err)
			_, err = io.Copy(w, tr)
			require.NoError(t, err)
			w.Close()
		}
	}
	return names
}
