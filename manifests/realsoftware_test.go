//go:build linux

package manifests_test

// These tests run the real software with the rendered configuration, as
// local processes on 127.0.0.1: Mosquitto, Zigbee2MQTT, Node-RED and
// PostgreSQL. Every file they get comes out of the rendered ConfigMaps and
// Secrets (what k3s would mount), and every environment variable out of the
// rendered StatefulSets; only what must differ on a dev machine (volume
// paths, ports, bind addresses) is rewritten, each time in one small
// function named dev*.
//
// Missing software fails the test with the command that installs it; only
// -short skips them. The npm packages are looked up under
// $HAKUBE_NPM_PREFIX (default $HOME/.cache/hakube/npm). Set
// HAKUBE_TEST_SHOW=1 to log every process's output, not only on failure.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

const (
	aptHint = "apt-get install -y mosquitto mosquitto-clients postgresql dash busybox"
	// zigbeeByID is the radio path the rendered config names; the tests put a
	// pty in its place.
	zigbeeByID = "/dev/serial/by-id/usb-ITEAD_SONOFF_Zigbee_3.0_USB_Dongle_Plus_V2_20231030-if00"
)

// realCase renders every component these tests start: production (MQTT,
// Node-RED, ESPHome, PostgreSQL) plus Zigbee2MQTT on a USB radio.
var realCase = renderCase{"real-software", func() config.Config {
	c := withZigbee(config.Defaults(config.ProfileProduction), zigbeeByID, "ember")
	c.ZigbeeBaudrate = 115200
	c.MQTTWebsockets = true
	return c
}, manifests.Options{}}

// stack is the rendered objects by name.
type stack struct {
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	statefulSets map[string]*appsv1.StatefulSet
}

func renderStack(t *testing.T) stack {
	t.Helper()
	return renderStackOf(t, realCase)
}

func renderStackOf(t *testing.T, rc renderCase) stack {
	t.Helper()
	st := stack{map[string]*corev1.ConfigMap{}, map[string]*corev1.Secret{}, map[string]*appsv1.StatefulSet{}}
	for _, o := range decodeAll(t, render(t, rc)) {
		switch v := o.obj.(type) {
		case *corev1.ConfigMap:
			st.configMaps[o.name] = v
		case *corev1.Secret:
			st.secrets[o.name] = v
		case *appsv1.StatefulSet:
			st.statefulSets[o.name] = v
		}
	}
	return st
}

func (s stack) configData(t *testing.T, name, key string) string {
	t.Helper()
	cm, ok := s.configMaps[name]
	require.True(t, ok, "no ConfigMap %s rendered", name)
	v, ok := cm.Data[key]
	require.True(t, ok, "ConfigMap %s has no key %s", name, key)
	return v
}

func (s stack) secretData(t *testing.T, name, key string) string {
	t.Helper()
	sec, ok := s.secrets[name]
	require.True(t, ok, "no Secret %s rendered", name)
	v, ok := sec.Data[key]
	require.True(t, ok, "Secret %s has no key %s", name, key)
	return string(v)
}

func (s stack) container(t *testing.T, set, name string) corev1.Container {
	t.Helper()
	ss, ok := s.statefulSets[set]
	require.True(t, ok, "no StatefulSet %s rendered", set)
	for _, c := range append(slices.Clone(ss.Spec.Template.Spec.InitContainers), ss.Spec.Template.Spec.Containers...) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("StatefulSet %s has no container %s", set, name)
	return corev1.Container{}
}

// env resolves a container's environment as the kubelet would: literal
// values, and keys of the rendered Secrets and ConfigMaps.
func (s stack) env(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			out[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			out[e.Name] = s.secretData(t, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			out[e.Name] = s.configData(t, e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Key)
		default:
			t.Fatalf("container %s: env %s has a source the test cannot resolve", c.Name, e.Name)
		}
	}
	return out
}

// ---- tools ----

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real servers; skipped with -short")
	}
}

func tool(t *testing.T, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if testing.Short() {
			t.Skipf("%s is not installed (-short): run `%s`", name, hint)
		}
		t.Fatalf("%s is not installed: run `%s`", name, hint)
	}
	return p
}

// pgTool finds a PostgreSQL binary: under Debian's
// /usr/lib/postgresql/<major>/bin (newest major), else on PATH.
func pgTool(t *testing.T, name string) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, name)); err == nil {
			return filepath.Join(d, name)
		}
	}
	return tool(t, name, aptHint)
}

func npmPrefix() string {
	if p := os.Getenv("HAKUBE_NPM_PREFIX"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "hakube", "npm")
}

// npmModule returns the directory of an npm package under the prefix and
// checks it has the major version of the image we pin.
func npmModule(t *testing.T, pkg, image string) string {
	t.Helper()
	tool(t, "node", "install Node.js 20 (apt-get install -y nodejs)")
	prefix := npmPrefix()
	hint := fmt.Sprintf("npm install --prefix %q zigbee2mqtt@%s node-red@%s", prefix,
		manifests.Versions()["zigbee2mqtt"].Tag, manifests.Versions()["nodered"].Tag)
	dir := filepath.Join(prefix, "node_modules", pkg)
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatalf("npm package %s is not installed under %s (set HAKUBE_NPM_PREFIX to use another prefix): run `%s`", pkg, prefix, hint)
	}
	var pj struct {
		Version string `json:"version"`
	}
	require.NoError(t, json.Unmarshal(b, &pj))
	pinned := manifests.Versions()[image].Tag
	if major(pj.Version) != major(pinned) {
		t.Fatalf("%s %s is installed, but the image we pin is %s: run `%s`", pkg, pj.Version, pinned, hint)
	}
	return dir
}

func major(v string) string { m, _, _ := strings.Cut(v, "."); return m }

// ---- processes ----

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // set before done is closed
}

// start runs cmd and kills it by PID when the test ends: SIGTERM, then
// SIGKILL after 5 s. Its output is logged if the test failed.
func start(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	require.NoError(t, cmd.Start(), "start %s", name)
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		pid := cmd.Process.Pid
		if !p.exited() {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(pid, syscall.SIGKILL)
				select {
				case <-p.done:
				case <-time.After(5 * time.Second):
					t.Errorf("%s (pid %d) survived SIGKILL", name, pid)
				}
			}
		}
		if t.Failed() || os.Getenv("HAKUBE_TEST_SHOW") != "" {
			t.Logf("---- output of %s (pid %d) ----\n%s", name, pid, p.out.String())
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitFor polls cond every 100 ms until it holds, p exits or timeout passes.
func waitFor(t *testing.T, p *proc, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if p != nil && p.exited() {
			t.Fatalf("%s exited (%v) before %s; output:\n%s", p.name, p.err, what, p.out.String())
		}
		if time.Now().After(deadline) {
			out := ""
			if p != nil {
				out = p.out.String()
			}
			t.Fatalf("timed out after %s waiting for %s; output:\n%s", timeout, what, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitExit waits up to timeout for p to exit by itself.
func waitExit(t *testing.T, p *proc, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("%s still runs after %s; output:\n%s", p.name, timeout, p.out.String())
		return nil
	}
}

func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// baseEnv is the environment every child starts from: nothing inherited
// (a developer's PG*, NODE_RED_* or ZIGBEE2MQTT_* variables must not leak
// in), a PATH, and a HOME inside the test's temp dir.
func baseEnv(home string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
	}
	return []string{"PATH=" + path, "HOME=" + home, "LANG=C.UTF-8"}
}

func envList(base []string, m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := slices.Clone(base)
	for _, k := range keys {
		out = append(out, k+"="+m[k])
	}
	return out
}

// osUser is who a server runs as. As root the test runs each server as its
// Debian system user (root cannot run PostgreSQL, and Mosquitto started as
// root drops to "mosquitto" before it reads its password file), which is
// also what the pods do: they run the servers as non-root users. As any
// other user the servers run as that user.
type osUser struct {
	uid, gid int
	attr     *syscall.SysProcAttr // nil: run as ourselves
}

func serverUser(t *testing.T, name string) osUser {
	t.Helper()
	if os.Geteuid() != 0 {
		return osUser{uid: os.Geteuid(), gid: os.Getegid()}
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("system user %s is missing (the Debian package creates it): run `%s`", name, aptHint)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return osUser{uid: uid, gid: gid, attr: &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}}
}

// dirFor makes a temp dir owned by u, reachable through its parent.
func (u osUser) dirFor(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711)) // testing makes it 0700
		require.NoError(t, os.Chown(dir, u.uid, u.gid))
	}
	require.NoError(t, os.Chmod(dir, 0o700))
	return dir
}

// writeOwned writes a file owned by u, like `install -o -g -m`.
func (u osUser) writeOwned(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
	require.NoError(t, os.Chmod(path, mode))
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(path, u.uid, u.gid))
	}
}

func (u osUser) mkdir(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(path, 0o700))
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(path, u.uid, u.gid))
	}
}

func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ---- Mosquitto ----

type broker struct {
	port, wsPort int
	proc         *proc
}

// devMosquittoConf rewrites only what differs on a dev machine: the volume
// paths (the pod mounts /mosquitto/config and /mosquitto/data) and the
// listeners, which get free ports bound to 127.0.0.1 (wsPort 0: the
// configuration must have no websockets listener).
func devMosquittoConf(t *testing.T, conf, configDir, dataDir string, port, wsPort int) string {
	t.Helper()
	rewrites := [][2]string{
		{"password_file /mosquitto/config/passwd\n", "password_file " + filepath.Join(configDir, "passwd") + "\n"},
		{"acl_file /mosquitto/config/acl\n", "acl_file " + filepath.Join(configDir, "acl") + "\n"},
		{"persistence_location /mosquitto/data/\n", "persistence_location " + dataDir + "/\n"},
		{"listener 1883\n", fmt.Sprintf("listener %d 127.0.0.1\n", port)},
	}
	if wsPort != 0 {
		rewrites = append(rewrites, [2]string{"listener 9001\n", fmt.Sprintf("listener %d 127.0.0.1\n", wsPort)})
	} else {
		require.NotContains(t, conf, "listener 9001", "a websockets listener nobody asked for")
	}
	for _, r := range rewrites {
		require.Equal(t, 1, strings.Count(conf, r[0]), "rendered mosquitto.conf no longer has %q: update the test", r[0])
		conf = strings.Replace(conf, r[0], r[1], 1)
	}
	for _, l := range strings.Split(conf, "\n") {
		if strings.HasPrefix(l, "listener ") {
			require.True(t, strings.HasSuffix(l, " 127.0.0.1"), "a listener the test did not rewrite: %q", l)
		}
	}
	return conf
}

// initScript returns an init container's `sh -c` script with rewrites
// (old, new) applied; every path the container mounts must be rewritten by
// one of them.
func initScript(t *testing.T, c corev1.Container, rewrites [][2]string) string {
	t.Helper()
	require.Len(t, c.Command, 3, "init container %s", c.Name)
	require.Equal(t, []string{"sh", "-c"}, c.Command[:2], "init container %s", c.Name)
	script, rest := c.Command[2], c.Command[2]
	for _, r := range rewrites {
		require.Contains(t, script, r[0], "init container %s no longer has %q: update the test", c.Name, r[0])
		rest = strings.ReplaceAll(rest, r[0], "")
	}
	for _, m := range c.VolumeMounts {
		require.NotContains(t, rest, m.MountPath, "init container %s: the test does not rewrite %s", c.Name, m.MountPath)
	}
	for _, r := range rewrites {
		script = strings.ReplaceAll(script, r[0], r[1])
	}
	return script
}

func runSh(t *testing.T, script string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return run(ctx, baseEnv(t.TempDir()), tool(t, "sh", "apt-get install -y dash"), "-c", script)
}

// runInit runs an init container's script on this machine (see initScript).
func runInit(t *testing.T, c corev1.Container, rewrites [][2]string) {
	t.Helper()
	script := initScript(t, c, rewrites)
	out, err := runSh(t, script)
	require.NoError(t, err, "init container %s failed:\n%s\n%s", c.Name, script, out)
}

// runShAs runs script as u, as a pod's runAsUser does.
func runShAs(t *testing.T, u osUser, script string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool(t, "sh", "apt-get install -y dash"), "-c", script)
	cmd.Env, cmd.Dir, cmd.SysProcAttr = baseEnv(u.dirFor(t)), "/", u.attr
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runInitAs runs an init container's script as u (see initScript).
func runInitAs(t *testing.T, u osUser, c corev1.Container, rewrites [][2]string) {
	t.Helper()
	script := initScript(t, c, rewrites)
	out, err := runShAs(t, u, script)
	require.NoError(t, err, "init container %s failed:\n%s\n%s", c.Name, script, out)
}

// mountVolumeFor is mountVolume as a pod with fsGroup u.gid sees it: the
// files belong to u's group with mode, and u can reach them.
func mountVolumeFor(t *testing.T, u osUser, files map[string]string, mode os.FileMode) string {
	t.Helper()
	dir := mountVolume(t, files, mode)
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711))
		require.NoError(t, os.Chmod(dir, 0o755))
		for name := range files {
			p, err := filepath.EvalSymlinks(filepath.Join(dir, name))
			require.NoError(t, err)
			require.NoError(t, os.Chown(p, 0, u.gid))
		}
	}
	return dir
}

// TestInitContainersStopOnError: an init container that could not put a
// file in place must fail, so the pod does not start without it (a
// Zigbee2MQTT without configuration.yaml serves an open onboarding page).
func TestInitContainersStopOnError(t *testing.T) {
	st := renderStack(t)
	u := osUser{uid: os.Geteuid(), gid: os.Getegid()}

	configDir := t.TempDir()
	confVol := mountVolume(t, map[string]string{"mosquitto.conf": st.configData(t, "home-assistant-mqtt", "mosquitto.conf"), "acl": st.configData(t, "home-assistant-mqtt", "acl")}, 0o644)
	script := initScript(t, st.container(t, "home-assistant-mqtt", "mqtt-config"), devMQTTInit(u, t.TempDir(), confVol, configDir)) // no passwd
	out, err := runSh(t, script)
	assert.Error(t, err, "mqtt-config without a password file must fail:\n%s", out)

	data := t.TempDir()
	secretVol := mountVolume(t, map[string]string{"secret.yaml": st.secretData(t, "home-assistant-zigbee2mqtt", "secret.yaml")}, 0o400)
	script = initScript(t, st.container(t, "home-assistant-zigbee2mqtt", "zigbee2mqtt-config"), devZigbee2MQTTInit(data, t.TempDir(), secretVol)) // no configuration.yaml
	out, err = runSh(t, script)
	assert.Error(t, err, "zigbee2mqtt-config without a configuration.yaml to seed must fail:\n%s", out)
	assert.NoFileExists(t, filepath.Join(data, "configuration.yaml"))
}

// devMQTTInit rewrites the mqtt-config init container for a dev machine:
// its mounts become temp dirs. It runs as the broker's user, as the pod's
// runAsUser 1883 does, so the files it writes are the broker's.
func devMQTTInit(_ osUser, secretVol, confVol, configDir string) [][2]string {
	return [][2]string{
		{"/secret/", secretVol + "/"},
		{"/conf/", confVol + "/"},
		{"/mosquitto/config/", configDir + "/"},
	}
}

// startMosquitto runs Mosquitto with the rendered mosquitto.conf and the
// password file from the rendered Secret, put in place by the mqtt-config
// init container's own script, as the pod's mqtt container runs it.
func startMosquitto(t *testing.T, st stack) broker {
	t.Helper()
	bin := tool(t, "mosquitto", aptHint)
	u := serverUser(t, "mosquitto")
	root := u.dirFor(t)
	configDir, dataDir := filepath.Join(root, "config"), filepath.Join(root, "data")
	u.mkdir(t, configDir)
	u.mkdir(t, dataDir)
	require.Equal(t, []string{"/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"}, st.container(t, "home-assistant-mqtt", "mqtt").Command)

	conf := st.configData(t, "home-assistant-mqtt", "mosquitto.conf")
	b := broker{port: freePort(t)}
	if strings.Contains(conf, "listener 9001\n") {
		b.wsPort = freePort(t)
	}
	conf = devMosquittoConf(t, conf, configDir, dataDir, b.port, b.wsPort)
	confVol := mountVolumeFor(t, u, map[string]string{"mosquitto.conf": conf, "acl": st.configData(t, "home-assistant-mqtt", "acl")}, 0o644)
	// The Secret's mode and group as the pod mounts it (defaultMode 0440, fsGroup 1883).
	sts := st.statefulSets["home-assistant-mqtt"]
	require.Equal(t, int32(0o440), *sts.Spec.Template.Spec.Volumes[3].Secret.DefaultMode)
	secretVol := mountVolumeFor(t, u, map[string]string{"passwd": st.secretData(t, "home-assistant-mqtt", "passwd")}, 0o440)
	runInitAs(t, u, st.container(t, "home-assistant-mqtt", "mqtt-config"), devMQTTInit(u, secretVol, confVol, configDir))
	for _, f := range []string{"passwd", "acl"} {
		fi, err := os.Stat(filepath.Join(configDir, f))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "%s must be private to the broker", f)
		require.Equal(t, uint32(u.uid), fi.Sys().(*syscall.Stat_t).Uid, "%s must belong to the broker's user", f)
	}

	cmd := exec.Command(bin, "-c", filepath.Join(configDir, "mosquitto.conf"))
	cmd.Env, cmd.Dir, cmd.SysProcAttr = baseEnv(root), root, u.attr
	b.proc = start(t, "mosquitto", cmd)
	waitFor(t, b.proc, 30*time.Second, "mosquitto listening", func() bool { return portOpen(b.port) && (b.wsPort == 0 || portOpen(b.wsPort)) })
	return b
}

func (b broker) pub(t *testing.T, user, password, topic, msg string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(b.port), "-q", "1", "-t", topic, "-m", msg}
	if user != "" {
		args = append(args, "-u", user, "-P", password)
	}
	return run(ctx, baseEnv(t.TempDir()), tool(t, "mosquitto_pub", aptHint), args...)
}

// mqttUser is an account as a client gets it: from the mqtt Secret's
// <name>-username and <name>-password keys.
func mqttUser(t *testing.T, st stack, name string) (string, string) {
	return st.secretData(t, "home-assistant-mqtt", name+"-username"), st.secretData(t, "home-assistant-mqtt", name+"-password")
}

func TestMosquittoWithRenderedConfig(t *testing.T) {
	skipShort(t)
	t.Parallel()
	st := renderStack(t)
	b := startMosquitto(t, st)

	for _, name := range []string{"homeassistant", "zigbee2mqtt", "nodered"} {
		user, pw := mqttUser(t, st, name)
		out, err := b.pub(t, user, pw, "hakube/test/"+name, "hello")
		assert.NoError(t, err, "%s must be able to publish: %s", name, out)
	}

	out, err := b.pub(t, "", "", "hakube/test", "anonymous")
	assert.Error(t, err, "anonymous publish must be refused")
	assert.Contains(t, out, "not authorised")

	user, pw := mqttUser(t, st, "homeassistant")
	out, err = b.pub(t, user, pw+"x", "hakube/test", "wrong")
	assert.Error(t, err, "a wrong password must be refused")
	assert.Contains(t, out, "not authorised")
	out, err = b.pub(t, "nobody", pw, "hakube/test", "unknown")
	assert.Error(t, err, "an unknown user must be refused: %s", out)

	t.Run("zigbee2mqtt publishes, homeassistant receives", func(t *testing.T) {
		haUser, haPw := mqttUser(t, st, "homeassistant")
		zUser, zPw := mqttUser(t, st, "zigbee2mqtt")
		sub := exec.Command(tool(t, "mosquitto_sub", aptHint), "-h", "127.0.0.1", "-p", strconv.Itoa(b.port),
			"-u", haUser, "-P", haPw, "-t", "zigbee2mqtt/bridge/state", "-C", "1", "-W", "30")
		sub.Env = baseEnv(t.TempDir())
		s := start(t, "mosquitto_sub", sub)
		// Publish until the subscriber has its message: it may not have
		// subscribed yet when the first one goes out.
		waitFor(t, nil, 30*time.Second, "the subscriber to receive", func() bool {
			if s.exited() {
				return true
			}
			out, err := b.pub(t, zUser, zPw, "zigbee2mqtt/bridge/state", `{"state":"online"}`)
			require.NoError(t, err, out)
			return false
		})
		require.NoError(t, waitExit(t, s, 5*time.Second), s.out.String())
		assert.Equal(t, `{"state":"online"}`, strings.TrimSpace(s.out.String()))
	})

	t.Run("websockets listener", func(t *testing.T) {
		haUser, haPw := mqttUser(t, st, "homeassistant")
		assert.Equal(t, byte(0), wsConnect(t, b.wsPort, haUser, haPw), "CONNACK over websockets with the homeassistant login")
		assert.NotEqual(t, byte(0), wsConnect(t, b.wsPort, "", ""), "anonymous CONNECT over websockets must be refused")
		assert.NotEqual(t, byte(0), wsConnect(t, b.wsPort, haUser, "wrong"), "a wrong password over websockets must be refused")
	})
}

// TestMosquittoACL runs the rendered ACL in the real broker: Home
// Assistant's and Node-RED's accounts cannot publish Zigbee2MQTT's
// JavaScript and settings requests (a subscriber with Zigbee2MQTT's own
// account receives none of them), but can still ask it to permit joining,
// rename a device or update firmware.
func TestMosquittoACL(t *testing.T) {
	skipShort(t)
	t.Parallel()
	st := renderStack(t)
	b := startMosquitto(t, st)
	zUser, zPw := mqttUser(t, st, "zigbee2mqtt")
	sub := exec.Command(tool(t, "mosquitto_sub", aptHint), "-h", "127.0.0.1", "-p", strconv.Itoa(b.port),
		"-u", zUser, "-P", zPw, "-q", "1", "-v", "-t", "zigbee2mqtt/bridge/request/#")
	sub.Env = baseEnv(t.TempDir())
	s := start(t, "mosquitto_sub as zigbee2mqtt", sub)
	// The subscriber may not have subscribed yet: publish until it has one.
	waitFor(t, s, 30*time.Second, "the zigbee2mqtt subscriber to receive", func() bool {
		if strings.Contains(s.out.String(), "hakube-ready") {
			return true
		}
		out, err := b.pub(t, zUser, zPw, "zigbee2mqtt/bridge/request/health_check", "hakube-ready")
		require.NoError(t, err, out)
		return false
	})

	forbidden := []string{
		"zigbee2mqtt/bridge/request/extension/save",
		"zigbee2mqtt/bridge/request/extension/remove",
		"zigbee2mqtt/bridge/request/converter/save",
		"zigbee2mqtt/bridge/request/converter/remove",
		"zigbee2mqtt/bridge/request/options",
	}
	allowed := []string{
		"zigbee2mqtt/bridge/request/permit_join",
		"zigbee2mqtt/bridge/request/device/rename",
		"zigbee2mqtt/bridge/request/device/ota_update/update",
	}
	for _, account := range []string{"homeassistant", "nodered"} {
		user, pw := mqttUser(t, st, account)
		for _, topic := range forbidden {
			_, _ = b.pub(t, user, pw, topic, "forbidden-from-"+account) // MQTT 3.1.1: a denied publish is dropped silently
		}
		for _, topic := range allowed {
			out, err := b.pub(t, user, pw, topic, "allowed-from-"+account)
			require.NoError(t, err, out)
		}
	}
	// Zigbee2MQTT's own account keeps its whole tree; its message comes last.
	out, err := b.pub(t, zUser, zPw, "zigbee2mqtt/bridge/request/options", "hakube-done")
	require.NoError(t, err, out)
	waitFor(t, s, 30*time.Second, "the last message", func() bool { return strings.Contains(s.out.String(), "hakube-done") })

	got := s.out.String()
	assert.NotContains(t, got, "forbidden-from-", "a JavaScript or settings request from another account reached Zigbee2MQTT")
	for _, account := range []string{"homeassistant", "nodered"} {
		for _, topic := range allowed {
			assert.Contains(t, got, topic+" allowed-from-"+account, "%s must be able to publish %s", account, topic)
		}
	}

	// No anonymous client gets in, to publish or to subscribe.
	out, err = b.pub(t, "", "", "zigbee2mqtt/bridge/request/permit_join", "anonymous")
	assert.Error(t, err, "anonymous publish must be refused: %s", out)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err = run(ctx, baseEnv(t.TempDir()), tool(t, "mosquitto_sub", aptHint), "-h", "127.0.0.1", "-p", strconv.Itoa(b.port), "-t", "#", "-C", "1", "-W", "5")
	assert.Error(t, err, "anonymous subscribe must be refused: %s", out)
	assert.NotContains(t, got, "anonymous")
}

// wsConnect opens a websocket to the broker and sends an MQTT 3.1.1
// CONNECT; it returns the CONNACK return code (0: accepted).
func wsConnect(t *testing.T, port int, user, password string) byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(15*time.Second)))
	fmt.Fprintf(c, "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n", port)
	r := bufio.NewReader(c)
	status, err := r.ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(status, "HTTP/1.1 101"), "websocket upgrade refused: %q", status)
	for {
		l, err := r.ReadString('\n')
		require.NoError(t, err)
		if l == "\r\n" {
			break
		}
	}
	str := func(s string) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...) }
	flags := byte(0x02) // clean session
	payload := str("hakube-ws-test")
	if user != "" {
		flags |= 0xC0
		payload = append(append(payload, str(user)...), str(password)...)
	}
	body := append(append(str("MQTT"), 4, flags, 0, 30), payload...)
	require.Less(t, len(body), 128)
	packet := append([]byte{0x10, byte(len(body))}, body...)
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x82, 0x80 | byte(len(packet)), mask[0], mask[1], mask[2], mask[3]}
	for i, x := range packet {
		frame = append(frame, x^mask[i%4])
	}
	_, err = c.Write(frame)
	require.NoError(t, err)
	head := make([]byte, 2)
	_, err = io.ReadFull(r, head)
	require.NoError(t, err)
	n := int(head[1] & 0x7f)
	require.Less(t, n, 126)
	msg := make([]byte, n)
	_, err = io.ReadFull(r, msg)
	require.NoError(t, err)
	require.Len(t, msg, 4, "CONNACK")
	require.Equal(t, byte(0x20), msg[0], "CONNACK")
	return msg[3]
}

// ---- Zigbee2MQTT ----

// openPTY makes a pseudo-terminal and returns its master and the slave's
// path; Zigbee2MQTT opens the slave as its radio.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	var unlock int32
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock)))
	require.Zero(t, errno, "unlock pty")
	var n uint32
	_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n)))
	require.Zero(t, errno, "pty number")
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// devZigbee2MQTTEnv rewrites only what differs on a dev machine: the data
// volume, the radio (a pty stands in for the by-id device), the broker
// address and the frontend and onboarding servers' addresses (127.0.0.1,
// free ports).
func devZigbee2MQTTEnv(t *testing.T, env map[string]string, dataDir, device, radio string, mqttPort int) map[string]string {
	t.Helper()
	require.Equal(t, "/app/data", env["ZIGBEE2MQTT_DATA"])
	require.Equal(t, device, env["ZIGBEE2MQTT_CONFIG_SERIAL_PORT"])
	require.Equal(t, "mqtt://home-assistant-mqtt.home-assistant.svc:1883", env["ZIGBEE2MQTT_CONFIG_MQTT_SERVER"])
	require.Equal(t, "false", env["ZIGBEE2MQTT_CONFIG_ADVANCED_ENABLE_EXTERNAL_JS"])
	env["ZIGBEE2MQTT_DATA"] = dataDir
	env["ZIGBEE2MQTT_CONFIG_SERIAL_PORT"] = radio
	env["ZIGBEE2MQTT_CONFIG_MQTT_SERVER"] = fmt.Sprintf("mqtt://127.0.0.1:%d", mqttPort)
	env["ZIGBEE2MQTT_CONFIG_FRONTEND_HOST"] = "127.0.0.1"
	env["ZIGBEE2MQTT_CONFIG_FRONTEND_PORT"] = strconv.Itoa(freePort(t))
	env["Z2M_ONBOARD_URL"] = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	// A settings error would otherwise serve a failure page and wait for a
	// browser; here it should exit so the test sees it at once.
	env["Z2M_ONBOARD_NO_FAILURE_PAGE"] = "1"
	return env
}

// devZigbee2MQTTInit rewrites the zigbee2mqtt-config init container's
// mounts to temp dirs.
func devZigbee2MQTTInit(data, seedVol, secretVol string) [][2]string {
	return [][2]string{{"/app/data/", data + "/"}, {"/seed/", seedVol + "/"}, {"/secret/", secretVol + "/"}}
}

// z2mSettings is what Zigbee2MQTT itself makes of its data directory: its
// own settings module reads configuration.yaml, resolves the secret
// references and validates.
type z2mSettings struct {
	Errors   []string `json:"errors"`
	Version  int      `json:"version"`
	Settings struct {
		MQTT struct {
			Server   string `json:"server"`
			User     string `json:"user"`
			Password string `json:"password"`
		} `json:"mqtt"`
		Serial struct {
			Port     string `json:"port"`
			Adapter  string `json:"adapter"`
			Baudrate int    `json:"baudrate"`
			RTSCTS   bool   `json:"rtscts"`
		} `json:"serial"`
		Frontend struct {
			Enabled   bool   `json:"enabled"`
			AuthToken string `json:"auth_token"`
		} `json:"frontend"`
		HomeAssistant struct {
			Enabled bool `json:"enabled"`
		} `json:"homeassistant"`
		Advanced struct {
			EnableExternalJS *bool `json:"enable_external_js"`
			NetworkKey       []int `json:"network_key"`
			PanID            int   `json:"pan_id"`
			ExtPanID         []int `json:"ext_pan_id"`
		} `json:"advanced"`
	} `json:"settings"`
}

const z2mSettingsJS = `
const s = require(process.argv[1] + "/dist/util/settings.js");
const errors = s.validate();
console.log(JSON.stringify({errors, version: s.getPersistedSettings().version, settings: s.get()}));
`

func readZ2MSettings(t *testing.T, module string, env []string) z2mSettings {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := run(ctx, env, "node", "-e", z2mSettingsJS, module)
	require.NoError(t, err, out)
	var s z2mSettings
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &s), out)
	return s
}

// z2mRadio is one kind of coordinator: a USB stick (here a pty) or a
// network one (here a TCP listener).
type z2mRadio struct {
	name    string
	rc      renderCase
	device  string   // as configured
	adapter string   // as configured
	opened  []string // log lines that say the radio's port is open
	radio   func(t *testing.T) string
}

var z2mRadios = []z2mRadio{
	{
		name: "usb-ember", rc: realCase, device: zigbeeByID, adapter: "ember",
		// ember's ASH layer, zigbee-herdsman dist/adapter/ember/uart/ash.js.
		opened: []string{"zh:ember: ======== Ember Adapter Starting ========", "zh:ember:uart:ash: Serial port opened"},
		radio: func(t *testing.T) string {
			_, pts := openPTY(t)
			radio := filepath.Join(t.TempDir(), filepath.Base(zigbeeByID))
			require.NoError(t, os.Symlink(pts, radio)) // by-id names are symlinks too
			return radio
		},
	},
	{
		name: "tcp-zstack", device: "tcp://192.0.2.10:6638", adapter: "zstack",
		rc: renderCase{"real-software-tcp", func() config.Config {
			c := withZigbee(config.Defaults(config.ProfileProduction), "tcp://192.0.2.10:6638", "zstack")
			c.HostNetwork = true
			return c
		}, manifests.Options{}},
		// zigbee-herdsman dist/adapter/z-stack/znp/znp.js.
		opened: []string{"zh:zstack:znp: Opening TCP socket with 127.0.0.1:", "zh:zstack:znp: Socket ready"},
		radio: func(t *testing.T) string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			var mu sync.Mutex
			var conns []net.Conn
			t.Cleanup(func() {
				l.Close()
				mu.Lock()
				defer mu.Unlock()
				for _, c := range conns {
					c.Close()
				}
			})
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				}
			}()
			return "tcp://" + l.Addr().String()
		},
	},
}

func TestZigbee2MQTTWithRenderedConfig(t *testing.T) {
	skipShort(t)
	t.Parallel()
	module := npmModule(t, "zigbee2mqtt", "zigbee2mqtt")
	for _, r := range z2mRadios {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			testZigbee2MQTT(t, module, r)
		})
	}
}

func testZigbee2MQTT(t *testing.T, module string, r z2mRadio) {
	st := renderStackOf(t, r.rc)
	b := startMosquitto(t, st)

	// The zigbee2mqtt-config init container's own script fills the data
	// volume: configuration.yaml once, secret.yaml on every start.
	data := t.TempDir()
	initZ2M := func() {
		seedVol := mountVolume(t, map[string]string{"configuration.yaml": st.configData(t, "home-assistant-zigbee2mqtt", "configuration.yaml")}, 0o644)
		secretVol := mountVolume(t, map[string]string{"secret.yaml": st.secretData(t, "home-assistant-zigbee2mqtt", "secret.yaml")}, 0o400)
		runInit(t, st.container(t, "home-assistant-zigbee2mqtt", "zigbee2mqtt-config"), devZigbee2MQTTInit(data, seedVol, secretVol))
		fi, err := os.Stat(filepath.Join(data, "secret.yaml"))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "secret.yaml must be private")
	}
	initZ2M()

	radio := r.radio(t)
	env := devZigbee2MQTTEnv(t, st.env(t, st.container(t, "home-assistant-zigbee2mqtt", "zigbee2mqtt")), data, r.device, radio, b.port)
	envs := envList(baseEnv(t.TempDir()), env)

	// Two starts: the first on the seeded file, the second (a pod restart)
	// on the file Zigbee2MQTT rewrote itself.
	for i, what := range []string{"first start", "restart"} {
		if i > 0 {
			initZ2M()
		}
		cmd := exec.Command("node", filepath.Join(module, "index.js"))
		cmd.Env, cmd.Dir = envs, data
		z := start(t, "zigbee2mqtt "+what, cmd)
		// Settings loaded and valid, herdsman starting, the radio's port open.
		lines := append([]string{
			"z2m: Starting Zigbee2MQTT version " + manifests.Versions()["zigbee2mqtt"].Tag,
			"z2m: Starting zigbee-herdsman (",
		}, r.opened...)
		for _, line := range lines {
			waitFor(t, z, 90*time.Second, what+": zigbee2mqtt to log "+strconv.Quote(line), func() bool { return strings.Contains(z.out.String(), line) })
		}
		waitFor(t, z, 90*time.Second, what+": zigbee2mqtt to say external JS is off", func() bool {
			// dist/controller.js logs this when advanced.enable_external_js is false.
			return strings.Contains(z.out.String(), "External JS (converters/extensions) is disabled")
		})
		out := z.out.String()
		for _, bad := range []string{"Refusing to start", "configuration is not valid", "Failure page", "Onboarding page", "unsupported version", "Error while starting zigbee-herdsman", "No such file"} {
			assert.NotContains(t, out, bad, what)
		}
		require.NoError(t, syscall.Kill(z.cmd.Process.Pid, syscall.SIGKILL))
		_ = waitExit(t, z, 10*time.Second)
	}

	// What it read: every secret reference resolved, nothing invalid.
	s := readZ2MSettings(t, module, envs)
	assert.Empty(t, s.Errors)
	sec := testSecrets()
	zUser, zPw := mqttUser(t, st, "zigbee2mqtt")
	assert.Equal(t, zUser, s.Settings.MQTT.User)
	assert.Equal(t, zPw, s.Settings.MQTT.Password, "mqtt.password must resolve from secret.yaml to the broker password")
	assert.Equal(t, sec.Zigbee2MQTTAuthToken, s.Settings.Frontend.AuthToken)
	assert.True(t, s.Settings.Frontend.Enabled)
	assert.True(t, s.Settings.HomeAssistant.Enabled)
	assert.Equal(t, r.adapter, s.Settings.Serial.Adapter)
	assert.Equal(t, r.rc.cfg().ZigbeeBaudrate, s.Settings.Serial.Baudrate)
	assert.False(t, s.Settings.Serial.RTSCTS)
	assert.Equal(t, radio, s.Settings.Serial.Port)
	var key, ext []int
	for _, x := range sec.ZigbeeNetworkKey {
		key = append(key, int(x))
	}
	for _, x := range sec.ZigbeeExtPanID {
		ext = append(ext, int(x))
	}
	assert.Equal(t, key, s.Settings.Advanced.NetworkKey)
	assert.Equal(t, int(sec.ZigbeePanID), s.Settings.Advanced.PanID)
	assert.Equal(t, ext, s.Settings.Advanced.ExtPanID)
	require.NotNil(t, s.Settings.Advanced.EnableExternalJS)
	assert.False(t, *s.Settings.Advanced.EnableExternalJS, "external JavaScript must be off")

	// Zigbee2MQTT connects to MQTT only after the radio answers, which
	// neither stand-in does: prove instead that the login it resolved is one
	// the broker, started from the rendered config, accepts.
	out, err := b.pub(t, s.Settings.MQTT.User, s.Settings.MQTT.Password, "zigbee2mqtt/bridge/state", "online")
	assert.NoError(t, err, "the broker refuses the login Zigbee2MQTT resolved: %s", out)

	// The secrets stay in secret.yaml: Zigbee2MQTT rewrote configuration.yaml
	// (with the environment's settings) but kept the references.
	conf, err := os.ReadFile(filepath.Join(data, "configuration.yaml"))
	require.NoError(t, err)
	for _, v := range []string{zPw, sec.Zigbee2MQTTAuthToken, "200, 201, 202", "200,201,202"} {
		assert.NotContains(t, string(conf), v, "a secret leaked into configuration.yaml")
	}
}

// ---- Node-RED ----

// devNodeREDEnv adds only what differs on a dev machine: a free port and
// the 127.0.0.1 bind address (the pod listens on 0.0.0.0:1880).
func devNodeREDEnv(env map[string]string, port int) map[string]string {
	env["PORT"] = strconv.Itoa(port)
	env["NODE_RED_UI_HOST"] = "127.0.0.1"
	return env
}

// startNodeRED runs Node-RED as the image does (red.js --userDir /data,
// which loads /data/settings.js) with the rendered settings.js.
func startNodeRED(t *testing.T, module, settings string, env map[string]string) *proc {
	t.Helper()
	userDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(userDir, "settings.js"), []byte(settings), 0o444)) // a read-only mount
	cmd := exec.Command("node", filepath.Join(module, "red.js"), "--userDir", userDir)
	cmd.Env, cmd.Dir = envList(baseEnv(t.TempDir()), env), userDir
	return start(t, "node-red", cmd)
}

func TestNodeREDWithRenderedSettings(t *testing.T) {
	skipShort(t)
	t.Parallel()
	module := npmModule(t, "node-red", "nodered")
	st := renderStack(t)
	settings := st.configData(t, "home-assistant-nodered", "settings.js")
	ct := st.container(t, "home-assistant-nodered", "nodered")
	mounted := false
	for _, m := range ct.VolumeMounts {
		mounted = mounted || (m.MountPath == "/data/settings.js" && m.SubPath == "settings.js")
	}
	require.True(t, mounted, "settings.js must be mounted where --userDir /data finds it")

	t.Run("admin API needs a login", func(t *testing.T) {
		t.Parallel()
		env := st.env(t, ct)
		port := freePort(t)
		p := startNodeRED(t, module, settings, devNodeREDEnv(env, port))
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		client := &http.Client{Timeout: 10 * time.Second}
		// /auth/login answers once the admin API is up.
		waitFor(t, p, 120*time.Second, "Node-RED's admin API", func() bool {
			resp, err := client.Get(base + "/auth/login")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		get := func(token string) int {
			req, err := http.NewRequest(http.MethodGet, base+"/flows", nil)
			require.NoError(t, err)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			return resp.StatusCode
		}
		login := func(user, password string) (int, string) {
			resp, err := client.PostForm(base+"/auth/token", url.Values{
				"client_id": {"node-red-admin"}, "grant_type": {"password"}, "scope": {"*"},
				"username": {user}, "password": {password},
			})
			require.NoError(t, err)
			defer resp.Body.Close()
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			body, _ := io.ReadAll(resp.Body)
			_ = json.Unmarshal(body, &tok)
			return resp.StatusCode, tok.AccessToken
		}

		assert.Equal(t, http.StatusUnauthorized, get(""), "GET /flows without a token")
		assert.Equal(t, http.StatusUnauthorized, get("not-a-token"), "GET /flows with a made-up token")
		code, _ := login(env["NODE_RED_ADMIN_USER"], env["NODE_RED_ADMIN_PASSWORD"]+"x")
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, code, "a wrong password must not log in")
		code, _ = login("root", env["NODE_RED_ADMIN_PASSWORD"])
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, code, "another user name must not log in")
		code, tok := login(env["NODE_RED_ADMIN_USER"], env["NODE_RED_ADMIN_PASSWORD"])
		require.Equal(t, http.StatusOK, code, "the admin login from the Secret")
		require.NotEmpty(t, tok)
		assert.Equal(t, http.StatusOK, get(tok), "GET /flows with the admin's token")
	})

	t.Run("refuses to start without an admin password", func(t *testing.T) {
		t.Parallel()
		env := st.env(t, ct)
		delete(env, "NODE_RED_ADMIN_PASSWORD")
		port := freePort(t)
		p := startNodeRED(t, module, settings, devNodeREDEnv(env, port))
		// Bounded: it must exit, and never open its port meanwhile.
		deadline := time.Now().Add(60 * time.Second)
		for !p.exited() {
			require.False(t, portOpen(port), "Node-RED listens without an admin password:\n%s", p.out.String())
			require.True(t, time.Now().Before(deadline), "Node-RED still runs after 60 s without an admin password:\n%s", p.out.String())
			time.Sleep(100 * time.Millisecond)
		}
		err := p.err
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "Node-RED must exit with an error, not run open:\n%s", p.out.String())
		assert.NotZero(t, exit.ExitCode())
		assert.Contains(t, p.out.String(), "NODE_RED_ADMIN_PASSWORD")
		assert.False(t, portOpen(port))
	})
}

// ---- PostgreSQL ----

// devPostgreSQLRecorderURL rewrites only the host of the recorder URL: the
// Service name becomes the local server.
func devPostgreSQLRecorderURL(t *testing.T, raw, namespace string, port int) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	require.Equal(t, "home-assistant-postgresql."+namespace+".svc:5432", u.Host, "the recorder must reach the PostgreSQL Service")
	u.Host = fmt.Sprintf("127.0.0.1:%d", port)
	return u
}

func TestPostgreSQLWithRenderedInit(t *testing.T) {
	skipShort(t)
	t.Parallel()
	st := renderStack(t)
	initdb, postgres, pgctl := pgTool(t, "initdb"), pgTool(t, "postgres"), pgTool(t, "pg_ctl")
	psql, pgIsReady := pgTool(t, "psql"), pgTool(t, "pg_isready")
	env := st.env(t, st.container(t, "home-assistant-postgresql", "postgresql"))
	dbUser, dbPassword, db := env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"]
	require.NotEmpty(t, dbUser)
	require.NotEmpty(t, dbPassword)
	require.NotEmpty(t, db)

	u := serverUser(t, "postgres")
	root := u.dirFor(t)
	data, sock := filepath.Join(root, "data"), filepath.Join(root, "run")
	u.mkdir(t, sock)
	pwfile := filepath.Join(root, "pwfile")
	u.writeOwned(t, pwfile, dbPassword+"\n", 0o600)
	home := t.TempDir()

	// As the image's entrypoint: initdb with POSTGRES_USER as the bootstrap
	// superuser and POSTGRES_PASSWORD as its password. The image trusts
	// 127.0.0.1 and asks every other address for a scram password; the
	// recorder connects from another pod, so here, where everything is
	// 127.0.0.1, all TCP connections must give the scram password.
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, initdb, "-D", data, "--username="+dbUser, "--pwfile="+pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.Env, cmd.Dir, cmd.SysProcAttr = baseEnv(home), root, u.attr
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "initdb: %s", out)

	port := freePort(t)
	cmd = exec.Command(postgres, "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+sock, "-c", "fsync=off")
	cmd.Env, cmd.Dir, cmd.SysProcAttr = baseEnv(home), root, u.attr
	pg := start(t, "postgres", cmd)
	t.Cleanup(func() { // runs before start's kill by PID
		if !pg.exited() {
			c := exec.Command(pgctl, "stop", "-D", data, "-m", "fast", "-w", "-t", "20")
			c.Env, c.Dir, c.SysProcAttr = baseEnv(home), root, u.attr
			_ = c.Run()
		}
	})
	waitFor(t, pg, 60*time.Second, "PostgreSQL accepting connections", func() bool {
		return exec.Command(pgIsReady, "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "1").Run() == nil
	})

	sqlEnv := baseEnv(home)
	psqlAs := func(user, dbname string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a := append([]string{"-v", "ON_ERROR_STOP=1", "--no-psqlrc", "--no-password", "-h", sock, "-p", strconv.Itoa(port), "--username", user, "--dbname", dbname}, args...)
		return run(ctx, sqlEnv, psql, a...)
	}
	// The entrypoint creates POSTGRES_DB, then runs /docker-entrypoint-initdb.d
	// scripts as POSTGRES_USER on POSTGRES_DB with ON_ERROR_STOP.
	out2, err := psqlAs(dbUser, "postgres", "-c", fmt.Sprintf(`CREATE DATABASE %q`, db))
	require.NoError(t, err, out2)
	initSQL := filepath.Join(home, "init.sql")
	require.NoError(t, os.WriteFile(initSQL, []byte(st.configData(t, "home-assistant-postgresql-config", "init.sql")), 0o644))
	out2, err = psqlAs(dbUser, db, "-f", initSQL)
	require.NoError(t, err, "the rendered init.sql failed: %s", out2)
	// A role init.sql gave nothing may not even connect.
	out2, err = psqlAs(dbUser, db, "-c", "CREATE ROLE intruder LOGIN PASSWORD 'intruder-password'")
	require.NoError(t, err, out2)

	// The recorder URL, as Home Assistant reads it from secrets.yaml.
	var secrets struct {
		RecorderDBURL string `json:"recorder_db_url"`
	}
	require.NoError(t, yaml.UnmarshalStrict([]byte(st.secretData(t, "home-assistant-recorder", "secrets.yaml")), &secrets))
	recorder := devPostgreSQLRecorderURL(t, secrets.RecorderDBURL, realCase.cfg().Namespace, port)
	assert.Equal(t, "postgresql", recorder.Scheme)
	assert.Equal(t, "/"+db, recorder.Path)
	assert.Equal(t, dbUser, recorder.User.Username())

	query := func(u *url.URL, sql string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return run(ctx, sqlEnv, psql, "--no-psqlrc", "--no-password", "-tA", "-d", u.String(), "-c", sql)
	}
	out2, err = query(recorder, "SELECT 1, current_user, current_database(), current_setting('TimeZone')")
	require.NoError(t, err, "the recorder URL's credentials must log in: %s", out2)
	assert.Equal(t, fmt.Sprintf("1|%s|%s|UTC", dbUser, db), strings.TrimSpace(out2))

	wrong := *recorder
	wrong.User = url.UserPassword(dbUser, "not-the-password")
	out2, err = query(&wrong, "SELECT 1")
	assert.Error(t, err, "a wrong password must be refused")
	assert.Contains(t, out2, "password authentication failed")

	intruder := *recorder
	intruder.User = url.UserPassword("intruder", "intruder-password")
	out2, err = query(&intruder, "SELECT 1")
	assert.Error(t, err, "init.sql revokes CONNECT from PUBLIC")
	assert.Contains(t, out2, "permission denied for database")
}
