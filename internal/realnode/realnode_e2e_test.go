package realnode_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
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
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hakube/hakube/internal/testcluster"
)

// hakubeBin is the hakube binary built once for the whole suite.
var hakubeBin string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if testing.Short() {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "hakube-realnode-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		hakubeBin = filepath.Join(dir, "hakube")
		build := exec.Command("go", "build", "-o", hakubeBin, "./cmd/hakube")
		build.Dir = moduleRoot()
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build hakube: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func moduleRoot() string {
	dir, _ := os.Getwd()
	for dir != filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	return "."
}

// world is one real-node cluster shared by the suite's scenarios; each
// installs into its own namespace with its own NodePort and state dir.
type world struct {
	cl   *testcluster.Cluster
	kube kubernetes.Interface
}

func startWorld(t *testing.T) *world {
	t.Helper()
	cl := testcluster.Start(t, testcluster.Options{RealNode: true, PollInterval: time.Second})
	kube, err := kubernetes.NewForConfig(cl.RestConfig())
	require.NoError(t, err)
	return &world{cl: cl, kube: kube}
}

// stack is one hakube installation on the world.
type stack struct {
	w        *world
	ns       string
	nodePort int
	state    string
}

func (w *world) stack(t *testing.T, ns string, nodePort int) *stack {
	s := &stack{w: w, ns: ns, nodePort: nodePort, state: filepath.Join(t.TempDir(), "state")}
	// A scenario that fails half-way leaves nothing for the next one: the
	// node has only two CPUs.
	t.Cleanup(func() {
		if t.Failed() {
			if r := s.hakube(t, 3*time.Minute, "uninstall", "--purge", "--yes"); r.code != 0 {
				t.Logf("cleanup: uninstall --purge of %s:\n%s", ns, r)
			}
		}
	})
	return s
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// hakube runs the built binary against the world with the stack's state dir.
func (s *stack) hakube(t testing.TB, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args = append(args, "--data-dir", s.w.cl.DataDir, "--kubeconfig", s.w.cl.Kubeconfig, "--state-dir", s.state)
	cmd := exec.CommandContext(ctx, hakubeBin, args...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HAKUBE_") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run hakube %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func (s *stack) install(t testing.TB, timeout time.Duration, extra ...string) result {
	args := append([]string{"install", "--yes", "--timeout", timeout.String(),
		"--namespace", s.ns, "--node-port", strconv.Itoa(s.nodePort)}, extra...)
	return s.hakube(t, timeout+time.Minute, args...)
}

// secrets reads the generated credentials from the state dir's secrets.json.
type secrets struct {
	MQTTHomeAssistant  struct{ Username, Password string }
	PostgreSQLPassword string
}

func (s *stack) secrets(t *testing.T) secrets {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.state, "secrets.json"))
	require.NoError(t, err)
	var sec secrets
	require.NoError(t, json.Unmarshal(b, &sec))
	require.NotEmpty(t, sec.MQTTHomeAssistant.Password)
	return sec
}

func (s *stack) pod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	p, err := s.w.kube.CoreV1().Pods(s.ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return p
}

// volumeDir returns the host directory the local-path provisioner made
// for a claim.
func (s *stack) volumeDir(t *testing.T, claim string) string {
	t.Helper()
	ctx := context.Background()
	pvc, err := s.w.kube.CoreV1().PersistentVolumeClaims(s.ns).Get(ctx, claim, metav1.GetOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, pvc.Spec.VolumeName, "claim %s is bound", claim)
	pv, err := s.w.kube.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	require.NoError(t, err)
	var path string
	switch {
	case pv.Spec.HostPath != nil:
		path = pv.Spec.HostPath.Path
	case pv.Spec.Local != nil:
		path = pv.Spec.Local.Path
	}
	require.True(t, strings.HasPrefix(path, s.w.cl.LocalPathDir+"/"), "volume %s of %s is under %s", path, claim, s.w.cl.LocalPathDir)
	return path
}

func owner(t *testing.T, path string) (uid, gid uint32, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid, fi.Mode().Perm()
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last: %s)", timeout, what, last)
}

func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed: apt-get install -y %s", name, pkg)
	}
	return p
}

// TestRealNode installs, checks and removes the stack on a real node: the
// default profile (SQLite, MQTT, Node-RED, ESPHome), then PostgreSQL, then
// Zigbee2MQTT with a network coordinator, then a pod whose image is missing.
func TestRealNode(t *testing.T) {
	w := startWorld(t)
	t.Run("Default", func(t *testing.T) { defaultProfile(t, w.stack(t, "hakube-default", 30123)) })
	t.Run("PostgreSQL", func(t *testing.T) { postgreSQLProfile(t, w.stack(t, "hakube-pg", 30124)) })
	t.Run("Zigbee2MQTTNetworked", func(t *testing.T) { zigbee2mqttNetworked(t, w.stack(t, "hakube-z2m", 30126)) })
	t.Run("MissingImage", func(t *testing.T) { missingImage(t, w.stack(t, "hakube-noimage", 30125)) })
	require.NoError(t, w.cl.Down())
	left, err := w.cl.Leftovers()
	require.NoError(t, err)
	assert.Empty(t, left, "testenv down left this on the machine")
}

func defaultProfile(t *testing.T, s *stack) {
	start := time.Now()
	r := s.install(t, 5*time.Minute)
	require.Equal(t, 0, r.code, "install:\n%s", r)
	t.Logf("install until every pod Ready on the real node: %s", time.Since(start).Round(100*time.Millisecond))

	pods, err := s.w.kube.CoreV1().Pods(s.ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items)
	for _, p := range pods.Items {
		for _, c := range p.Status.ContainerStatuses {
			assert.True(t, c.Ready, "container %s/%s passed its probes", p.Name, c.Name)
		}
		for _, c := range p.Status.InitContainerStatuses {
			require.NotNil(t, c.State.Terminated, "init container %s/%s ran", p.Name, c.Name)
			assert.Equal(t, int32(0), c.State.Terminated.ExitCode, "init container %s/%s succeeded", p.Name, c.Name)
		}
	}

	// seed-config wrote Home Assistant's files on the volume, as root.
	config := s.volumeDir(t, "home-assistant-config-0")
	for _, f := range []string{"packages/hakube/hakube.yaml", "configuration.yaml", "automations.yaml"} {
		uid, _, _ := owner(t, filepath.Join(config, f))
		assert.Equal(t, uint32(0), uid, "%s is root's", f)
	}
	seeded, err := os.ReadFile(filepath.Join(config, "configuration.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(seeded), "packages: !include_dir_named packages")

	// mqtt-config gave Mosquitto its own password file.
	mqtt := s.pod(t, "home-assistant-mqtt-0")
	passwd := filepath.Join(s.w.cl.Dir, "node", "kubelet", "pods", string(mqtt.UID), "volumes", "kubernetes.io~empty-dir", "mqtt-config", "passwd")
	uid, gid, mode := owner(t, passwd)
	assert.Equal(t, []uint32{1883, 1883}, []uint32{uid, gid}, "the password file is Mosquitto's")
	assert.Equal(t, os.FileMode(0o600), mode)

	// Home Assistant's NodePort answers on 127.0.0.1 (through kube-proxy).
	url := fmt.Sprintf("http://127.0.0.1:%d/", s.nodePort)
	resp, err := http.Get(url)
	require.NoError(t, err, "GET %s", url)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "STAND-IN for home-assistant")

	// The real Mosquitto takes the generated credentials and refuses anonymous clients.
	sec := s.secrets(t)
	pub := needTool(t, "mosquitto_pub", "mosquitto-clients")
	sub := needTool(t, "mosquitto_sub", "mosquitto-clients")
	ip := mqtt.Status.PodIP
	require.NotEmpty(t, ip)
	login := []string{"-h", ip, "-p", "1883", "-u", sec.MQTTHomeAssistant.Username, "-P", sec.MQTTHomeAssistant.Password}
	out, err := exec.Command(pub, append(login, "-t", "hakube/realnode", "-m", "hello", "-r", "-q", "1")...).CombinedOutput()
	require.NoError(t, err, "publish with the generated credentials: %s", out)
	out, err = exec.Command(sub, append(login, "-t", "hakube/realnode", "-C", "1", "-W", "10")...).CombinedOutput()
	require.NoError(t, err, "subscribe with the generated credentials: %s", out)
	assert.Equal(t, "hello", strings.TrimSpace(string(out)), "the retained message came back from the broker")
	out, err = exec.Command(pub, "-h", ip, "-p", "1883", "-t", "hakube/realnode", "-m", "anonymous").CombinedOutput()
	assert.Error(t, err, "an anonymous client is refused")
	assert.Contains(t, strings.ToLower(string(out)), "not authori", "Mosquitto's reason")

	// The real Node-RED answers on its port.
	resp, err = http.Get("http://" + s.pod(t, "home-assistant-nodered-0").Status.PodIP + ":1880/")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "Node-RED")

	// The backup job, started by hand, copies the database with SQLite's
	// online backup and writes an archive.
	db := filepath.Join(config, "home-assistant_v2.db")
	sqlite := needTool(t, "sqlite3", "sqlite3")
	out, err = exec.Command(sqlite, db, "CREATE TABLE states(v TEXT); INSERT INTO states VALUES('kept by the backup');").CombinedOutput()
	require.NoError(t, err, "%s", out)
	archive := s.runBackup(t)
	restored := filepath.Join(t.TempDir(), "restored.db")
	require.NotEmpty(t, archive["home-assistant/home-assistant_v2.db"], "the database is in the archive")
	require.NoError(t, os.WriteFile(restored, archive["home-assistant/home-assistant_v2.db"], 0o600))
	out, err = exec.Command(sqlite, restored, "SELECT v FROM states").CombinedOutput()
	require.NoError(t, err, "sqlite3 opens the backed-up database: %s", out)
	assert.Equal(t, "kept by the backup", strings.TrimSpace(string(out)))
	assert.NotEmpty(t, archive["home-assistant/configuration.yaml"], "the configuration is in the archive")
	assert.NotEmpty(t, archive["MANIFEST.json"], "the archive has its manifest")

	s.uninstallKeepsThenPurges(t, []string{"home-assistant-config-0", "home-assistant-mqtt-data-0", "home-assistant-nodered-data-0"})
}

// runBackup starts a Job from the backup CronJob, waits for it, and returns
// the files of the newest hakube-*.tar.gz in the backups volume.
func (s *stack) runBackup(t *testing.T) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	k := s.w.kube
	cj, err := k.BatchV1().CronJobs(s.ns).Get(ctx, "home-assistant-backup", metav1.GetOptions{})
	require.NoError(t, err)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "backup-by-hand", Namespace: s.ns,
			Annotations: map[string]string{"cronjob.kubernetes.io/instantiate": "manual"}},
		Spec: cj.Spec.JobTemplate.Spec,
	}
	_, err = k.BatchV1().Jobs(s.ns).Create(ctx, job, metav1.CreateOptions{})
	require.NoError(t, err)
	eventually(t, 3*time.Minute, "the backup job to finish", func() (bool, string) {
		j, err := k.BatchV1().Jobs(s.ns).Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if j.Status.Failed > 0 {
			t.Fatalf("backup job failed:\n%s", s.jobLogs(t, job.Name))
		}
		return j.Status.Succeeded > 0, fmt.Sprintf("%+v", j.Status)
	})
	t.Logf("backup job output:\n%s", s.jobLogs(t, job.Name))
	backups := s.volumeDir(t, "home-assistant-backups-0")
	matches, err := filepath.Glob(filepath.Join(backups, "hakube-2*.tar.gz"))
	require.NoError(t, err)
	require.NotEmpty(t, matches, "an archive in the backups volume")
	f, err := os.Open(matches[len(matches)-1])
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[h.Name] = b
	}
	return files
}

func (s *stack) jobLogs(t *testing.T, job string) string {
	ctx := context.Background()
	pods, err := s.w.kube.CoreV1().Pods(s.ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		for _, c := range p.Spec.Containers {
			raw, err := s.w.kube.CoreV1().Pods(s.ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name}).DoRaw(ctx)
			fmt.Fprintf(&b, "--- %s/%s (%v):\n%s\n", p.Name, c.Name, err, raw)
		}
	}
	return b.String()
}

// uninstallKeepsThenPurges: uninstall keeps every claim's data on disk;
// uninstall --purge deletes the claims, their volumes and their data on the
// node (hakube's StorageClass keeps data with reclaim policy Retain, so the
// purge erases it itself).
func (s *stack) uninstallKeepsThenPurges(t *testing.T, claims []string) {
	t.Helper()
	dirs := map[string]string{}
	for _, c := range claims {
		dirs[c] = s.volumeDir(t, c)
	}
	r := s.hakube(t, 3*time.Minute, "uninstall", "--yes")
	require.Equal(t, 0, r.code, "uninstall:\n%s", r)
	ctx := context.Background()
	eventually(t, 2*time.Minute, "the pods to stop", func() (bool, string) {
		pods, err := s.w.kube.CoreV1().Pods(s.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(pods.Items) == 0, fmt.Sprintf("%d pods left", len(pods.Items))
	})
	for c, d := range dirs {
		entries, err := os.ReadDir(d)
		assert.NoError(t, err, "claim %s's data is kept on disk after uninstall", c)
		assert.NotEmpty(t, entries, "claim %s's directory still holds its files", c)
	}
	pvs := map[string]string{}
	for c := range dirs {
		pvc, err := s.w.kube.CoreV1().PersistentVolumeClaims(s.ns).Get(ctx, c, metav1.GetOptions{})
		require.NoError(t, err)
		pvs[c] = pvc.Spec.VolumeName
	}
	r = s.hakube(t, 3*time.Minute, "uninstall", "--purge", "--yes")
	require.Equal(t, 0, r.code, "uninstall --purge:\n%s", r)
	eventually(t, 2*time.Minute, "the purged claims, their volumes and their data to be gone", func() (bool, string) {
		for c, pvName := range pvs {
			if _, err := s.w.kube.CoreV1().PersistentVolumeClaims(s.ns).Get(ctx, c, metav1.GetOptions{}); err == nil {
				return false, "claim " + c + " still exists"
			}
			if _, err := s.w.kube.CoreV1().PersistentVolumes().Get(ctx, pvName, metav1.GetOptions{}); err == nil {
				return false, "volume " + pvName + " of " + c + " still exists"
			}
			if _, err := os.Stat(dirs[c]); err == nil {
				return false, c + "'s data still at " + dirs[c]
			}
		}
		return true, ""
	})
}

func postgreSQLProfile(t *testing.T, s *stack) {
	start := time.Now()
	r := s.install(t, 5*time.Minute, "--database", "postgresql", "--components", "mqtt")
	require.Equal(t, 0, r.code, "install:\n%s", r)
	t.Logf("install with PostgreSQL until every pod Ready: %s", time.Since(start).Round(100*time.Millisecond))

	pg := s.pod(t, "home-assistant-postgresql-0")
	require.NotEmpty(t, pg.Status.ContainerStatuses)
	pgStarted := pg.Status.ContainerStatuses[0].State.Running
	require.NotNil(t, pgStarted, "PostgreSQL runs")
	ha := s.pod(t, "home-assistant-0")
	var waited *corev1.ContainerStateTerminated
	for _, c := range ha.Status.InitContainerStatuses {
		if c.Name == "wait-for-postgresql" {
			waited = c.State.Terminated
		}
	}
	require.NotNil(t, waited, "the wait-for-postgresql init container ran")
	assert.Equal(t, int32(0), waited.ExitCode)
	assert.False(t, waited.FinishedAt.Time.Before(pgStarted.StartedAt.Time.Truncate(time.Second)),
		"Home Assistant's wait ended (%s) only after PostgreSQL started (%s)", waited.FinishedAt, pgStarted.StartedAt)
	logs, err := s.w.kube.CoreV1().Pods(s.ns).GetLogs(ha.Name, &corev1.PodLogOptions{Container: "wait-for-postgresql"}).DoRaw(context.Background())
	require.NoError(t, err)
	t.Logf("wait-for-postgresql said:\n%s", logs)
	assert.Contains(t, string(logs), "accepting connections", "pg_isready saw the real server")

	// The real server takes the generated password (over the pod network).
	sec := s.secrets(t)
	psql := "/usr/lib/postgresql/15/bin/psql"
	if _, err := os.Stat(psql); err != nil {
		psql = needTool(t, "psql", "postgresql-client")
	}
	cmd := exec.Command(psql, "-h", pg.Status.PodIP, "-U", "homeassistant", "-d", "homeassistant", "-tAc", "SELECT current_user")
	cmd.Env = append(os.Environ(), "PGPASSWORD="+sec.PostgreSQLPassword, "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "psql with the generated password: %s", out)
	assert.Equal(t, "homeassistant", strings.TrimSpace(string(out)))
	cmd = exec.Command(psql, "-h", pg.Status.PodIP, "-U", "homeassistant", "-d", "homeassistant", "-tAc", "SELECT 1")
	cmd.Env = append(os.Environ(), "PGPASSWORD=wrong-password", "PGCONNECT_TIMEOUT=10")
	out, err = cmd.CombinedOutput()
	assert.Error(t, err, "a wrong password is refused")
	assert.Contains(t, string(out), "password authentication failed")

	// The backup job also dumps PostgreSQL (pg_dump from the real server).
	archive := s.runBackup(t)
	dump := archive["postgresql/homeassistant.dump"]
	require.NotEmpty(t, dump, "pg_dump's dump is in the archive")
	assert.Equal(t, "PGDMP", string(dump[:min(5, len(dump))]), "a custom-format dump")

	s.uninstallKeepsThenPurges(t, []string{"postgresql-data-0", "home-assistant-config-0"})
}

// missingImage: a pod whose image the node does not have (and cannot pull:
// nothing outside the machine is reachable) makes install fail with the
// kubelet's own reason.
func missingImage(t *testing.T, s *stack) {
	const image = "docker.io/library/eclipse-mosquitto:2.0.22"
	ctr := needTool(t, "ctr", "containerd")
	ctrArgs := []string{"--address", s.w.cl.ContainerdSocket, "--namespace", "k8s.io"}
	out, err := exec.Command(ctr, append(ctrArgs, "images", "rm", image)...).CombinedOutput()
	require.NoError(t, err, "remove %s from the node: %s", image, out)
	t.Cleanup(func() {
		archive := filepath.Join(s.w.cl.Env("HAKUBE_TESTENV_IMAGES"), "mosquitto.tar")
		if out, err := exec.Command(ctr, append(ctrArgs, "images", "import", archive)...).CombinedOutput(); err != nil {
			t.Errorf("import %s again: %v\n%s", archive, err, out)
		}
	})
	r := s.install(t, 40*time.Second, "--components", "mqtt")
	require.NotEqual(t, 0, r.code, "install cannot succeed:\n%s", r)
	all := r.stdout + r.stderr
	t.Logf("install said:\n%s", all)
	assert.Contains(t, all, "cannot pull "+image, "install names the image")
	assert.Regexp(t, `failed to pull|failed to resolve|ErrImagePull|ImagePullBackOff|Back-off pulling`, all, "the kubelet's reason is shown")
	r = s.hakube(t, 3*time.Minute, "uninstall", "--purge", "--yes")
	require.Equal(t, 0, r.code, "uninstall --purge:\n%s", r)
}

// zigbee2mqttNetworked: the zigbee2mqtt-config init container seeds the
// configuration once and writes the secrets file 0600 on the volume; the
// Zigbee2MQTT STAND-IN answers its probes (no coordinator is reachable here).
func zigbee2mqttNetworked(t *testing.T, s *stack) {
	r := s.install(t, 5*time.Minute, "--components", "mqtt,zigbee2mqtt",
		"--zigbee-device", "tcp://192.0.2.10:6638", "--zigbee-adapter", "ember")
	require.Equal(t, 0, r.code, "install:\n%s", r)
	data := s.volumeDir(t, "home-assistant-zigbee2mqtt-data-0")
	conf, err := os.ReadFile(filepath.Join(data, "configuration.yaml"))
	require.NoError(t, err, "the seeded configuration is on the volume")
	assert.Contains(t, string(conf), "secret.yaml", "the configuration takes its secrets from secret.yaml")
	uid, _, mode := owner(t, filepath.Join(data, "secret.yaml"))
	assert.Equal(t, uint32(0), uid)
	assert.Equal(t, os.FileMode(0o600), mode, "the secrets file is 0600 whatever the Secret's mode")
	z2m := s.pod(t, "home-assistant-zigbee2mqtt-0")
	resp, err := http.Get("http://" + z2m.Status.PodIP + ":8080/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), "STAND-IN for zigbee2mqtt")
	r = s.hakube(t, 3*time.Minute, "uninstall", "--purge", "--yes")
	require.Equal(t, 0, r.code, "uninstall --purge:\n%s", r)
}
