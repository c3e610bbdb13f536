package installer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/manifests"
)

// The backup job's real programs (backup.py, pg-dump.sh) run here against
// directories laid out like each volume, a SQLite database written to
// during the backup (Debian sqlite3) and a real PostgreSQL server.

const pgBin = "/usr/lib/postgresql/15/bin"

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed for this test: install it (apt-get install python3 sqlite3 postgresql)", tool)
		}
	}
}

// writeScript puts the job's program in a file and returns its path.
func writeScript(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// backupEnv is the job's environment with the mount points moved.
func backupEnv(out, work, copyDir string, days int, sources ...string) []string {
	env := append(os.Environ(), "BACKUP_DIR="+out, "WORK_DIR="+work, "RETENTION_DAYS="+strconv.Itoa(days),
		"SOURCES="+strings.Join(sources, " "), "HAKUBE_VERSION=test", "COMPONENT_VERSIONS=home-assistant=2026.9.4 zigbee2mqtt=2.14.1")
	if copyDir != "" {
		env = append(env, "COPY_DIR="+copyDir)
	}
	return env
}

func runBackup(t *testing.T, env []string) string {
	t.Helper()
	cmd := exec.Command("python3", writeScript(t, "backup.py", manifests.BackupScript()))
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

func writeFile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), mode))
	require.NoError(t, os.Chmod(p, mode))
}

// layoutVolumes fills dir with one directory per volume, laid out as each
// component keeps it; it returns the SOURCES entries.
func layoutVolumes(t *testing.T, dir string) []string {
	t.Helper()
	files := map[string]string{
		"hakube/config.yaml":                               "namespace: home-assistant\n",
		"hakube/secrets.json":                              `{"ZigbeePanID": 6754}` + "\n",
		"home-assistant/configuration.yaml":                "default_config:\n",
		"home-assistant/automations.yaml":                  "[]\n",
		"home-assistant/.storage/core.config_entries":      `{"data":{"entries":[]}}`,
		"home-assistant/tts/cached.mp3":                    "cache",
		"home-assistant/backups/old.tar":                   "not ours",
		"zigbee2mqtt/configuration.yaml":                   "homeassistant:\n  enabled: true\n",
		"zigbee2mqtt/database.db":                          `{"id":1,"type":"Coordinator","ieeeAddr":"0x00124b0029"}` + "\n",
		"zigbee2mqtt/coordinator_backup.json":              `{"metadata":{"format":"zigpy/open-coordinator-backup"},"pan_id":"1a62","network_key":{"key":"01030507090b0d0f00020406080a0c0d"}}`,
		"zigbee2mqtt/state.json":                           `{"0x00158d0001":{"state":"ON"}}`,
		"zigbee2mqtt/log/2026-11-29.log":                   "log line\n",
		"nodered/flows.json":                               `[{"id":"a","type":"tab"}]`,
		"nodered/flows_cred.json":                          `{"$":"encrypted"}`,
		"nodered/package.json":                             `{"name":"node-red-project"}`,
		"nodered/node_modules/node-red-contrib-x/index.js": "module.exports = 1\n",
		"nodered/.npm/_cacache/index":                      "cache",
		"esphome/living-room.yaml":                         "esphome:\n  name: living-room\n",
		"esphome/secrets.yaml":                             "wifi_password: x\n",
		"esphome/.esphome/build/living-room/firmware.bin":  "build output",
	}
	for p, c := range files {
		mode := os.FileMode(0o644)
		if strings.Contains(p, ".storage") || strings.HasPrefix(p, "hakube/") || strings.HasSuffix(p, "_cred.json") {
			mode = 0o600
		}
		writeFile(t, filepath.Join(dir, filepath.FromSlash(p)), c, mode)
	}
	// Node-RED runs as 1000: its files keep that owner.
	if os.Geteuid() == 0 {
		require.NoError(t, filepath.Walk(filepath.Join(dir, "nodered"), func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, 1000, 1000)
		}))
	}
	require.NoError(t, os.Symlink("living-room.yaml", filepath.Join(dir, "esphome", "current.yaml")))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "esphome", "packages"), 0o755))
	require.NoError(t, os.Symlink("packages", filepath.Join(dir, "esphome", "common")))
	var sources []string
	for _, c := range []string{"hakube", "home-assistant", "zigbee2mqtt", "nodered", "esphome"} {
		sources = append(sources, c+":"+filepath.Join(dir, c))
	}
	return sources
}

// sqliteWriter keeps a WAL-mode database open and inserts rows until
// stopped, as Home Assistant's recorder does.
type sqliteWriter struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	stop  chan struct{}
	done  chan struct{}
}

func startSQLiteWriter(t *testing.T, db string, initialRows int) *sqliteWriter {
	t.Helper()
	cmd := exec.Command("sqlite3", "-batch", db)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	w := &sqliteWriter{cmd: cmd, stdin: stdin, stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { w.Stop() })
	fmt.Fprintf(stdin, "PRAGMA journal_mode=WAL;\nPRAGMA wal_autocheckpoint=0;\nCREATE TABLE states (id INTEGER PRIMARY KEY, v TEXT);\n")
	fmt.Fprintf(stdin, "CREATE TABLE events (id INTEGER PRIMARY KEY, v TEXT);\nBEGIN;\n")
	for i := 0; i < initialRows; i++ {
		fmt.Fprintf(stdin, "INSERT INTO states (v) VALUES ('%s');\n", strings.Repeat("x", 100))
	}
	fmt.Fprintf(stdin, "INSERT INTO events (v) VALUES ('started');\nCOMMIT;\nSELECT 'ready';\n")
	rd := bufio.NewReader(stdout)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			close(w.done)
			require.NoError(t, err)
		}
		if line == "ready\n" {
			break
		}
	}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			if _, err := fmt.Fprintf(stdin, "BEGIN; INSERT INTO states (v) VALUES ('live'); INSERT INTO events (v) VALUES ('live'); COMMIT;\n"); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return w
}

func (w *sqliteWriter) Stop() {
	select {
	case <-w.stop:
		return
	default:
	}
	close(w.stop)
	<-w.done
	w.stdin.Close()
	_ = w.cmd.Wait()
}

func sqliteCount(t *testing.T, db, table string) int64 {
	t.Helper()
	out, err := exec.Command("sqlite3", db, "SELECT COUNT(*) FROM "+table).CombinedOutput()
	require.NoError(t, err, "%s", out)
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	require.NoError(t, err)
	return n
}

// postgres is a real PostgreSQL server for one test, on 127.0.0.1.
type postgres struct {
	cmd  *exec.Cmd
	port int
	env  []string
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPostgres runs initdb and postgres from Debian's PostgreSQL 15 in a
// temp dir, as user nobody when the test runs as root (postgres refuses
// root), and stops the server by its PID when the test ends.
func startPostgres(t *testing.T) *postgres {
	t.Helper()
	for _, b := range []string{"initdb", "postgres", "pg_dump", "pg_restore", "psql", "pg_isready"} {
		if _, err := os.Stat(filepath.Join(pgBin, b)); err != nil {
			t.Fatalf("%s/%s is needed for this test: apt-get install postgresql", pgBin, b)
		}
	}
	dir, err := os.MkdirTemp("", "hakube-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	asUser := func(name string, args ...string) *exec.Cmd {
		if os.Geteuid() != 0 {
			return exec.Command(name, args...)
		}
		return exec.Command("setpriv", append([]string{"--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", name}, args...)...)
	}
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(dir, 65534, 65534))
	}
	data := filepath.Join(dir, "data")
	out, err := asUser(filepath.Join(pgBin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync").CombinedOutput()
	require.NoError(t, err, "initdb: %s", out)
	port := freePort(t)
	srv := asUser(filepath.Join(pgBin, "postgres"), "-D", data, "-k", dir, "-c", "listen_addresses=127.0.0.1",
		"-p", strconv.Itoa(port), "-c", "fsync=off")
	srv.Stdout, srv.Stderr = io.Discard, io.Discard
	require.NoError(t, srv.Start())
	pg := &postgres{cmd: srv, port: port}
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = srv.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if exec.Command(filepath.Join(pgBin, "pg_isready"), "-h", "127.0.0.1", "-p", strconv.Itoa(port)).Run() == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "postgres did not start")
		time.Sleep(100 * time.Millisecond)
	}
	pg.env = append(os.Environ(), "PATH="+pgBin+":"+os.Getenv("PATH"), "PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(port),
		"PGUSER=homeassistant", "PGDATABASE=homeassistant")
	pg.psqlAs(t, "postgres", "postgres", "CREATE ROLE homeassistant LOGIN")
	pg.psqlAs(t, "postgres", "postgres", "CREATE DATABASE homeassistant OWNER homeassistant")
	return pg
}

func (pg *postgres) psqlAs(t *testing.T, user, db, sql string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(pgBin, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
		"-p", strconv.Itoa(pg.port), "-U", user, "-d", db, "-c", sql)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "psql %s: %s", sql, out)
	return strings.TrimSpace(string(out))
}

func (pg *postgres) psql(t *testing.T, sql string) string {
	t.Helper()
	return pg.psqlAs(t, "homeassistant", "homeassistant", sql)
}

func (pg *postgres) run(t *testing.T, script string, env ...string) string {
	t.Helper()
	cmd := exec.Command("sh", writeScript(t, "script.sh", script))
	cmd.Env = append(append([]string{}, pg.env...), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

// readTree returns every regular file and link under dir: path → content
// (links as "-> target").
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "-> " + l
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	}))
	return out
}

// TestBackupRestoreRoundTrip: backup of every volume and a live PostgreSQL
// → wipe → restore → every row and file is back and the manifest matches.
func TestBackupRestoreRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	needTools(t, "python3", "sqlite3", "setpriv")
	vol := t.TempDir()
	sources := layoutVolumes(t, vol)
	haDB := filepath.Join(vol, "home-assistant", "home-assistant_v2.db")
	writer := startSQLiteWriter(t, haDB, 2000)
	before := sqliteCount(t, haDB, "states")

	pg := startPostgres(t)
	pg.psql(t, `CREATE TABLE states (state_id bigserial PRIMARY KEY, entity_id text, state text);
		CREATE TABLE statistics (id bigserial PRIMARY KEY, mean double precision);
		CREATE TABLE "Odd Name" (id int);
		INSERT INTO states (entity_id, state) SELECT 'sensor.t' || g, g::text FROM generate_series(1, 5000) g;
		INSERT INTO statistics (mean) SELECT random() FROM generate_series(1, 777);`)

	work, out, copyDir := t.TempDir(), t.TempDir(), t.TempDir()
	pg.run(t, manifests.BackupPGDumpScript(), "WORK_DIR="+work)
	logs := runBackup(t, backupEnv(out, work, copyDir, 14, sources...))
	writer.Stop()

	archives, _ := filepath.Glob(filepath.Join(out, "hakube-*.tar.gz"))
	require.Len(t, archives, 1, logs)
	fi, err := os.Stat(archives[0])
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "archives are written with umask 077")
	copied, err := os.ReadFile(filepath.Join(copyDir, filepath.Base(archives[0])))
	require.NoError(t, err, "every run copies to the second destination")
	orig, _ := os.ReadFile(archives[0])
	assert.Equal(t, orig, copied)

	man, err := VerifyArchive(archives[0])
	require.NoError(t, err)
	assert.Equal(t, []string{"hakube", "home-assistant", "zigbee2mqtt", "nodered", "esphome", "postgresql"}, man.Contents)
	assert.Equal(t, "test", man.HakubeVersion)
	assert.Equal(t, "2.14.1", man.ComponentVersions["zigbee2mqtt"])
	paths := map[string]bool{}
	for _, f := range man.Files {
		paths[f.Path] = true
	}
	for _, want := range []string{"hakube/secrets.json", "home-assistant/home-assistant_v2.db", "home-assistant/.storage/core.config_entries",
		"zigbee2mqtt/database.db", "zigbee2mqtt/coordinator_backup.json", "zigbee2mqtt/state.json", "nodered/flows.json",
		"nodered/flows_cred.json", "nodered/node_modules/node-red-contrib-x/index.js", "esphome/living-room.yaml",
		"esphome/current.yaml", "esphome/common", "postgresql/homeassistant.dump"} {
		assert.True(t, paths[want], "%s is archived", want)
	}
	for p := range paths {
		for _, never := range []string{"-wal", "-shm", "/tts/", "/backups/", "/log/", "/.npm/", "/.esphome/build/", ".log"} {
			assert.NotContains(t, p, never, "%s is not archived", p)
		}
	}
	haRows := man.Databases["home-assistant/home-assistant_v2.db"].Rows
	assert.GreaterOrEqual(t, haRows["states"], before, "every row committed before the backup is in it")
	assert.Equal(t, map[string]int64{"public.states": 5000, "public.statistics": 777, `public."Odd Name"`: 0},
		man.Databases["postgresql/homeassistant.dump"].Rows)

	// Wipe everything: the volumes and the database.
	want := map[string]map[string]string{}
	for _, s := range sources {
		name, dir, _ := strings.Cut(s, ":")
		want[name] = readTree(t, dir)
		require.NoError(t, os.RemoveAll(dir))
		require.NoError(t, os.Mkdir(dir, 0o755))
	}
	pg.psql(t, "DROP TABLE states, statistics, \"Odd Name\";")

	targets := map[string]string{"postgresql": t.TempDir()}
	for _, s := range sources {
		name, dir, _ := strings.Cut(s, ":")
		targets[name] = dir
	}
	res, err := ExtractBackup(archives[0], targets, "20261129T000000Z")
	require.NoError(t, err)
	assert.Empty(t, res.MovedAside, "the wiped directories were empty")
	require.NoError(t, CheckRestored(man, res.Restored))

	rows := filepath.Join(t.TempDir(), "rows.txt")
	require.NoError(t, os.WriteFile(rows, []byte(PGRowsFile(man)), 0o600))
	pg.run(t, PGRestoreScript, "DUMP="+filepath.Join(targets["postgresql"], "homeassistant.dump"), "ROWS="+rows)
	assert.Equal(t, "5000", pg.psql(t, "SELECT count(*) FROM states"))
	assert.Equal(t, "777", pg.psql(t, "SELECT count(*) FROM statistics"))
	assert.Equal(t, "12502500", pg.psql(t, "SELECT sum(state::int) FROM states"))

	for _, s := range sources {
		name, dir, _ := strings.Cut(s, ":")
		got := readTree(t, dir)
		for p, content := range want[name] {
			full := name + "/" + filepath.ToSlash(p)
			if !paths[full] {
				continue // excluded caches, logs, WAL files
			}
			if p == "home-assistant_v2.db" {
				continue // a consistent copy, not the same bytes: rows checked below
			}
			assert.Equal(t, content, got[p], "%s is back", full)
		}
	}
	for _, c := range []string{"states", "events"} {
		assert.Equal(t, haRows[c], sqliteCount(t, haDB, c), "%s has the rows of the backup", c)
	}
	if os.Geteuid() == 0 {
		st, err := os.Stat(filepath.Join(vol, "nodered", "flows.json"))
		require.NoError(t, err)
		assert.Equal(t, uint32(1000), st.Sys().(*syscall.Stat_t).Uid, "owners come back")
	}
	st, err := os.Stat(filepath.Join(vol, "home-assistant", ".storage", "core.config_entries"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "modes come back")
}

// TestRestoreMovesCurrentContentAside: nothing a restore replaces is lost.
func TestRestoreMovesCurrentContentAside(t *testing.T) {
	needTools(t, "python3")
	vol := t.TempDir()
	writeFile(t, filepath.Join(vol, "esphome", "a.yaml"), "backed up\n", 0o644)
	out := t.TempDir()
	runBackup(t, backupEnv(out, t.TempDir(), "", 14, "esphome:"+filepath.Join(vol, "esphome")))
	archives, _ := filepath.Glob(filepath.Join(out, "hakube-*.tar.gz"))
	require.Len(t, archives, 1)
	writeFile(t, filepath.Join(vol, "esphome", "a.yaml"), "changed since\n", 0o644)
	writeFile(t, filepath.Join(vol, "esphome", "new.yaml"), "new since\n", 0o644)

	res, err := ExtractBackup(archives[0], map[string]string{"esphome": filepath.Join(vol, "esphome")}, "STAMP")
	require.NoError(t, err)
	aside := filepath.Join(vol, "esphome.pre-restore-STAMP")
	assert.Equal(t, aside, res.MovedAside[filepath.Join(vol, "esphome")])
	assert.Equal(t, map[string]string{"a.yaml": "changed since\n", "new.yaml": "new since\n"}, readTree(t, aside))
	assert.Equal(t, map[string]string{"a.yaml": "backed up\n"}, readTree(t, filepath.Join(vol, "esphome")))
}

// TestRetentionDeletesExactlyPastTheLimit: with 14 days, an archive 13 days
// old stays, one 14 days and a minute old goes, in both destinations; the
// leftovers of a killed run go too, but not the temp file of a run still
// writing (a manual run next to the nightly one).
func TestRetentionDeletesExactlyPastTheLimit(t *testing.T) {
	needTools(t, "python3")
	vol := t.TempDir()
	writeFile(t, filepath.Join(vol, "esphome", "a.yaml"), "x\n", 0o644)
	out, copyDir := t.TempDir(), t.TempDir()
	now := time.Now().UTC()
	name := func(age time.Duration) string {
		return "hakube-" + now.Add(-age).Format("20060102T150405Z") + ".tar.gz"
	}
	day := 24 * time.Hour
	keep := []string{name(13 * day), name(14*day - 10*time.Minute), "unrelated.txt", "hakube-notastamp.tar.gz"}
	drop := []string{name(14*day + time.Minute), name(15 * day), name(400 * day), ".hakube-20200101T000000Z.tar.gz.partial",
		"hakube-postgresql-20200101T000000Z.dump"}
	running := ".hakube-" + now.Add(-time.Minute).Format("20060102T150405Z") + ".tar.gz.partial" // another run, still writing
	keep = append(keep, running)
	for _, d := range []string{out, copyDir} {
		for _, n := range append(append([]string{}, keep...), drop...) {
			writeFile(t, filepath.Join(d, n), "old", 0o600)
			if n != running {
				old := now.Add(-2 * time.Hour)
				require.NoError(t, os.Chtimes(filepath.Join(d, n), old, old))
			}
		}
	}
	runBackup(t, backupEnv(out, t.TempDir(), copyDir, 14, "esphome:"+filepath.Join(vol, "esphome")))
	for _, d := range []string{out, copyDir} {
		for _, n := range keep {
			assert.FileExists(t, filepath.Join(d, n), "kept: %s", n)
		}
		for _, n := range drop {
			assert.NoFileExists(t, filepath.Join(d, n), "deleted: %s", n)
		}
		fresh, _ := filepath.Glob(filepath.Join(d, "hakube-*.tar.gz"))
		assert.Len(t, fresh, len(keep)-2+1, "the kept archives and today's")
	}
}

// TestBackupKilledMidWriteLeavesNoGoodArchive: SIGKILL while the archive is
// being written leaves only a .partial dotfile, which list ignores and the
// next run removes.
func TestBackupKilledMidWriteLeavesNoGoodArchive(t *testing.T) {
	needTools(t, "python3")
	vol := t.TempDir()
	big := make([]byte, 64<<20)
	for i := range big {
		big[i] = byte(i*7 + i/3)
	}
	for i := 0; i < 4; i++ {
		require.NoError(t, os.MkdirAll(filepath.Join(vol, "esphome"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(vol, "esphome", fmt.Sprintf("big%d.bin", i)), big, 0o644))
	}
	out := t.TempDir()
	cmd := exec.Command("python3", writeScript(t, "backup.py", manifests.BackupScript()))
	cmd.Env = backupEnv(out, t.TempDir(), "", 14, "esphome:"+filepath.Join(vol, "esphome"))
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(60 * time.Second)
	for {
		partial, _ := filepath.Glob(filepath.Join(out, ".hakube-*.partial"))
		if len(partial) == 1 {
			if fi, err := os.Stat(partial[0]); err == nil && fi.Size() > 0 {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "the backup never started writing")
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	list, err := ListBackups([]BackupLocation{{Where: "backups volume", Dir: out}})
	require.NoError(t, err)
	for _, a := range list {
		assert.False(t, a.Good, "%s is not shown as good", a.Name)
	}
	assert.Empty(t, list, "a killed run leaves no archive under a final name")

	// A damaged archive under a final name is listed, not as good.
	partial, _ := filepath.Glob(filepath.Join(out, ".hakube-*.partial"))
	require.Len(t, partial, 1)
	require.NoError(t, os.Rename(partial[0], filepath.Join(out, "hakube-20261129T030000Z.tar.gz")))
	list, err = ListBackups([]BackupLocation{{Where: "backups volume", Dir: out}})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.False(t, list[0].Good)
	assert.Contains(t, list[0].Problem, "damaged or incomplete")
	_, err = ExtractBackup(list[0].Path, map[string]string{"esphome": t.TempDir()}, "X")
	assert.ErrorIs(t, err, ErrBadArchive, "restore refuses it")
}

// TestVerifyRefusesTamperedArchive: one changed byte fails the checksums.
func TestVerifyRefusesTamperedArchive(t *testing.T) {
	needTools(t, "python3", "tar", "gzip")
	vol := t.TempDir()
	writeFile(t, filepath.Join(vol, "esphome", "a.yaml"), "original\n", 0o644)
	out := t.TempDir()
	runBackup(t, backupEnv(out, t.TempDir(), "", 14, "esphome:"+filepath.Join(vol, "esphome")))
	archives, _ := filepath.Glob(filepath.Join(out, "hakube-*.tar.gz"))
	require.Len(t, archives, 1)
	_, err := VerifyArchive(archives[0])
	require.NoError(t, err)
	// Re-pack with a changed file and the old manifest.
	x := t.TempDir()
	require.NoError(t, exec.Command("tar", "-C", x, "-xzf", archives[0]).Run())
	writeFile(t, filepath.Join(x, "esphome", "a.yaml"), "tampered\n", 0o644)
	bad := filepath.Join(out, "hakube-20261129T040000Z.tar.gz")
	tarOut, err := exec.Command("tar", "-C", x, "-czf", bad, "esphome", "MANIFEST.json").CombinedOutput()
	require.NoError(t, err, "%s", tarOut)
	_, err = VerifyArchive(bad)
	require.ErrorIs(t, err, ErrBadArchive)
	assert.Contains(t, err.Error(), "esphome/a.yaml")
}

// TestKeepBackupsMovesArchivesOutOfTheVolume: what 'uninstall --purge'
// does before the backups volume goes.
func TestKeepBackupsMovesArchivesOutOfTheVolume(t *testing.T) {
	data := t.TempDir()
	vol := filepath.Join(data, "storage", "pvc-1_home-assistant_home-assistant-backups-0")
	writeFile(t, filepath.Join(vol, "hakube-20261129T033000Z.tar.gz"), "a", 0o600)
	writeFile(t, filepath.Join(vol, "other.txt"), "b", 0o600)
	dir, err := BackupsVolumeDir(data, "home-assistant")
	require.NoError(t, err)
	require.Equal(t, vol, dir)
	moved, err := KeepBackups(dir, data)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(data, "hakube-backups", "hakube-20261129T033000Z.tar.gz")}, moved)
	assert.FileExists(t, moved[0])
	assert.FileExists(t, filepath.Join(vol, "other.txt"), "only archives move")
	locs := BackupLocations(data, "home-assistant", "/mnt/usb")
	assert.Equal(t, []string{"backups volume", "backup-copy-dir", "kept after uninstall --purge"},
		[]string{locs[0].Where, locs[1].Where, locs[2].Where})
}

// TestRestoreRefusesWritingThroughALink: an archive whose link member
// points outside and whose next member goes "through" it is refused, and
// nothing lands outside the target.
func TestRestoreRefusesWritingThroughALink(t *testing.T) {
	needTools(t, "python3")
	outside := t.TempDir()
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "esphome"), 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(src, "esphome", "evil")))
	out := t.TempDir()
	runBackup(t, backupEnv(out, t.TempDir(), "", 14, "esphome:"+filepath.Join(src, "esphome")))
	archives, _ := filepath.Glob(filepath.Join(out, "hakube-*.tar.gz"))
	require.Len(t, archives, 1)
	// Add a file under the link, with a manifest that matches it, as a
	// crafted archive would.
	x := t.TempDir()
	require.NoError(t, exec.Command("tar", "-C", x, "-xzf", archives[0]).Run())
	var man BackupManifest
	data, err := os.ReadFile(filepath.Join(x, "MANIFEST.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &man))
	man.Files = append(man.Files, BackupFile{Path: "esphome/evil/planted", Size: 1, SHA256: "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"})
	data, err = json.Marshal(man)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(x, "MANIFEST.json"), data, 0o600))
	crafted := filepath.Join(t.TempDir(), "hakube-20261129T050000Z.tar.gz")
	// The link first, then a file through it, then the manifest.
	stage := t.TempDir()
	writeFile(t, filepath.Join(stage, "esphome", "evil", "planted"), "x", 0o644)
	tarOut, err := exec.Command("sh", "-c", `set -e
tar -C "$1" -cf "$3.tar" esphome/evil
tar -C "$2" -rf "$3.tar" esphome/evil/planted
tar -C "$1" -rf "$3.tar" MANIFEST.json
gzip -c "$3.tar" >"$3"`, "sh", x, stage, crafted).CombinedOutput()
	require.NoError(t, err, "%s", tarOut)
	target := t.TempDir()
	_, err = ExtractBackup(crafted, map[string]string{"esphome": target}, "X")
	require.ErrorIs(t, err, ErrBadArchive)
	assert.Contains(t, err.Error(), "through the link")
	assert.NoFileExists(t, filepath.Join(outside, "planted"), "nothing written outside the volume")
}

// TestBackupPartsPairIntoOneBackup: the main job and the radio namespace's
// job of one run (their Jobs named for the same scheduled minute) write an
// archive and its part with the same stamp; list shows them as one good
// backup, pull copies both, a missing part makes the backup bad, and
// retention in the part's volume removes exactly the old parts.
func TestBackupPartsPairIntoOneBackup(t *testing.T) {
	needTools(t, "python3")
	vol := t.TempDir()
	writeFile(t, filepath.Join(vol, "esphome", "a.yaml"), "x\n", 0o644)
	writeFile(t, filepath.Join(vol, "zigbee2mqtt", "coordinator_backup.json"), `{"pan_id":"1a62"}`, 0o600)
	mainDir, radioDir := t.TempDir(), t.TempDir()
	const minutes = 29400000 // a CronJob names its Job <cronjob>-<minutes since the epoch>
	run := time.Unix(minutes*60, 0).UTC()
	stamp := run.Format("20060102T150405Z")
	day := 24 * time.Hour
	oldPart := "hakube-" + run.Add(-15*day).Format("20060102T150405Z") + ".zigbee2mqtt.tar.gz"
	recentPart := "hakube-" + run.Add(-13*day).Format("20060102T150405Z") + ".zigbee2mqtt.tar.gz"
	for _, n := range []string{oldPart, recentPart} {
		writeFile(t, filepath.Join(radioDir, n), "old", 0o600)
	}

	runBackup(t, append(backupEnv(mainDir, t.TempDir(), "", 14, "esphome:"+filepath.Join(vol, "esphome")),
		"RUN_ID=home-assistant-backup-"+strconv.Itoa(minutes), "PARTS=zigbee2mqtt"))
	runBackup(t, append(backupEnv(radioDir, t.TempDir(), "", 14, "zigbee2mqtt:"+filepath.Join(vol, "zigbee2mqtt")),
		"RUN_ID=home-assistant-zigbee2mqtt-backup-"+strconv.Itoa(minutes), "PART=zigbee2mqtt"))
	archive := filepath.Join(mainDir, "hakube-"+stamp+".tar.gz")
	part := filepath.Join(radioDir, "hakube-"+stamp+".zigbee2mqtt.tar.gz")
	require.FileExists(t, archive, "named for the scheduled minute")
	require.FileExists(t, part, "the same stamp as the main archive")
	assert.NoFileExists(t, filepath.Join(radioDir, oldPart), "a part past the limit is deleted")
	assert.FileExists(t, filepath.Join(radioDir, recentPart), "a part within the limit is kept")

	locs := []BackupLocation{{Where: "backups volume", Dir: mainDir}, {Where: "radio backups volume", Dir: radioDir}}
	list, err := ListBackups(locs)
	require.NoError(t, err)
	require.Len(t, list, 1, "the part is not a backup of its own")
	require.True(t, list[0].Good, list[0].Problem)
	assert.Equal(t, []string{"esphome", "zigbee2mqtt"}, list[0].Contents)
	assert.Equal(t, []string{part}, list[0].Parts)

	dest := filepath.Join(t.TempDir(), "copy.tar.gz")
	written, err := PullBackup(archive, dest, []string{mainDir, radioDir})
	require.NoError(t, err)
	assert.Equal(t, []string{dest, PartFile(dest, "zigbee2mqtt")}, written)
	set, err := VerifyBackupSet(dest, nil)
	require.NoError(t, err, "the pulled pair stands on its own")
	assert.Equal(t, PartFile(dest, "zigbee2mqtt"), set.Parts["zigbee2mqtt"].Path)
	_, err = VerifyBackupSet(part, nil)
	require.ErrorIs(t, err, ErrBadArchive, "a part alone is not a backup")

	require.NoError(t, os.Remove(part))
	list, err = ListBackups(locs)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.False(t, list[0].Good, "without its part the backup is not whole")
	assert.Contains(t, list[0].Problem, "zigbee2mqtt")

	// hakube's own Jobs ('backup now') are named -m<seconds>.
	manual := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	runBackup(t, append(backupEnv(radioDir, t.TempDir(), "", 14, "zigbee2mqtt:"+filepath.Join(vol, "zigbee2mqtt")),
		"RUN_ID=home-assistant-zigbee2mqtt-backup-m"+strconv.FormatInt(manual.Unix(), 10), "PART=zigbee2mqtt"))
	assert.FileExists(t, filepath.Join(radioDir, "hakube-"+manual.Format("20060102T150405Z")+".zigbee2mqtt.tar.gz"))
}
