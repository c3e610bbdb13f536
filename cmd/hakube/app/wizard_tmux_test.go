package app_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/internal/testcluster"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// hakubeBinary builds the real binary once per test run.
func hakubeBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hakube-wizard-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "hakube")
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(goBin, "build", "-trimpath", "-o", binPath, "./cmd/hakube")
		cmd.Dir = filepath.Join("..", "..", "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// tmuxTerm is one tmux server on its own socket, with one 80×24 session.
type tmuxTerm struct {
	t      testing.TB // the (sub)test driving it now
	owner  testing.TB // the test that stops it
	socket string
	pid    int    // the tmux server's
	path   string // its socket
	name   string
	n      int
}

func newTmux(t testing.TB) *tmuxTerm {
	t.Helper()
	if testing.Short() {
		t.Skip("drives the real binary in tmux (not with -short)")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed to drive the wizard in a real terminal (Debian package tmux)")
	}
	return &tmuxTerm{t: t, owner: t, socket: fmt.Sprintf("hakube-wizard-%d-%d", os.Getpid(), time.Now().UnixNano())}
}

func (x *tmuxTerm) tmux(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", x.socket}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// start runs shell command cmd in a fresh 80×24 session. A session that
// only sleeps keeps the server up between them.
func (x *tmuxTerm) start(cmd string) {
	x.t.Helper()
	if x.pid == 0 {
		x.tmux("new-session", "-d", "-s", "keep", "sleep 3600")
		info := strings.Fields(x.tmux("display-message", "-p", "-t", "keep", "#{pid} #{socket_path}"))
		require.Len(x.t, info, 2)
		pid, err := strconv.Atoi(info[0])
		require.NoError(x.t, err)
		x.pid, x.path = pid, info[1]
		x.owner.Cleanup(x.stop)
	}
	x.n++
	x.name = fmt.Sprintf("w%d", x.n)
	x.tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", x.name, cmd)
}

// end closes the current session, if its command has not ended it.
func (x *tmuxTerm) end() {
	_ = exec.Command("tmux", "-L", x.socket, "kill-session", "-t", x.name).Run()
}

func (x *tmuxTerm) stop() {
	if x.pid != 0 {
		_ = syscall.Kill(x.pid, syscall.SIGTERM)
		x.pid = 0
		for range 50 { // the server removes its socket as it exits
			if _, err := os.Stat(x.path); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = os.Remove(x.path)
	}
}

func (x *tmuxTerm) screen() string {
	out, _ := exec.Command("tmux", "-L", x.socket, "capture-pane", "-p", "-t", x.name).CombinedOutput()
	return string(out)
}

func (x *tmuxTerm) keys(keys ...string) {
	x.t.Helper()
	x.tmux(append([]string{"send-keys", "-t", x.name}, keys...)...)
}

// waitFor waits until the screen shows want.
func (x *tmuxTerm) waitFor(want string, timeout time.Duration) string {
	x.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := x.screen()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("the screen never showed %q; it shows:\n%s", want, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exitCode waits for the shell to write the command's exit code.
func exitCode(t testing.TB, file string, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(file); err == nil && strings.HasSuffix(string(b), "\n") {
			n, err := strconv.Atoi(strings.TrimSpace(string(b)))
			require.NoError(t, err)
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no exit code in %s", file)
	return -1
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// envLine sets the directories through hakube's own variables.
func envLine(data, kubeconfig, state string) string {
	return fmt.Sprintf("HAKUBE_DATA_DIR=%s HAKUBE_KUBECONFIG=%s HAKUBE_STATE_DIR=%s TERM=xterm-256color TZ=UTC",
		shellQuote(data), shellQuote(kubeconfig), shellQuote(state))
}

// TestE2EWizardInTmux drives the real binary in a real terminal: a full
// install against the test control plane (k3s deploy STAND-IN) started
// plainly, then Ctrl+C at every step (nothing written), then during the
// progress (k3s carries on), then the same install through
// 'curl … install.sh | sh' served by a local file server.
func TestE2EWizardInTmux(t *testing.T) {
	x := newTmux(t)
	parent := t
	bin := hakubeBinary(t)
	cl := testcluster.Start(t, testcluster.Options{PollInterval: 2 * time.Second})
	root := fixtureRoot(t, "vm-no-usb")
	cfg := config.Defaults(config.ProfileEdge)
	createPVs(cl, claimsFor(t, cfg))
	dir := t.TempDir()

	t.Run("ctrl+c at each step writes nothing", func(t *testing.T) {
		x.t = t
		defer func() { x.t = parent }()
		steps := []string{"This machine", "Profile", "Components", "Reaching it", "Review"}
		for n, step := range steps {
			data, state := filepath.Join(dir, "c-data"), filepath.Join(dir, "c-state")
			exit := filepath.Join(dir, fmt.Sprintf("exit-ctrlc-%d", n))
			x.start(fmt.Sprintf("%s %s install --root %s; echo $? > %s; sleep 600",
				envLine(data, cl.Kubeconfig, state), shellQuote(bin), shellQuote(root), shellQuote(exit)))
			x.waitFor("This machine", 30*time.Second)
			// One step at a time: each Enter once the step it answers is
			// drawn (a loaded machine may take a moment per step).
			for i := range n {
				x.keys("Enter")
				x.waitFor(steps[i+1], 30*time.Second)
			}
			if step == "Review" {
				x.waitFor("[ Install ]", 10*time.Second)
			}
			x.keys("C-c")
			assert.Equal(t, 1, exitCode(t, exit, 10*time.Second), "ctrl+c at %s", step)
			s := x.waitFor("nothing was written", 5*time.Second)
			assert.Contains(t, s, "ERROR: cancelled: nothing was written", "at %s", step)
			assert.NoDirExists(t, data, "ctrl+c at %s", step)
			assert.NoDirExists(t, state, "ctrl+c at %s", step)
			x.end()
		}
	})

	t.Run("stdin a pipe: the keys come from /dev/tty", func(t *testing.T) {
		x.t = t
		defer func() { x.t = parent }()
		data, state := filepath.Join(dir, "t-data"), filepath.Join(dir, "t-state")
		exit := filepath.Join(dir, "exit-pipe")
		x.start(fmt.Sprintf("echo not-an-answer | %s %s install --root %s; echo $? > %s; sleep 600",
			envLine(data, cl.Kubeconfig, state), shellQuote(bin), shellQuote(root), shellQuote(exit)))
		x.waitFor("This machine", 30*time.Second)
		x.keys("Enter")
		x.waitFor("Profile", 10*time.Second)
		x.keys("C-c")
		assert.Equal(t, 1, exitCode(t, exit, 10*time.Second))
		assert.NoDirExists(t, data)
		assert.NoDirExists(t, state)
		x.end()
	})

	t.Run("a resize redraws", func(t *testing.T) {
		x.t = t
		defer func() { x.t = parent }()
		exit := filepath.Join(dir, "exit-resize")
		x.start(fmt.Sprintf("%s %s install --root %s; echo $? > %s; sleep 600",
			envLine(filepath.Join(dir, "r-data"), cl.Kubeconfig, filepath.Join(dir, "r-state")), shellQuote(bin), shellQuote(root), shellQuote(exit)))
		x.waitFor("This machine", 30*time.Second)
		x.keys("Enter")
		x.waitFor("edge", 30*time.Second)
		x.tmux("resize-window", "-t", x.name, "-x", "60", "-y", "20")
		s := x.waitFor(strings.Repeat("─", 60)+"\n", 5*time.Second)
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		assert.LessOrEqual(t, len(lines), 20)
		assert.Contains(t, lines[len(lines)-1], "enter next", "the footer stays on screen")
		for _, l := range lines {
			assert.LessOrEqual(t, len([]rune(l)), 60, "%q", l)
		}
		x.keys("C-c")
		assert.Equal(t, 1, exitCode(t, exit, 10*time.Second))
		x.end()
	})

	t.Run("ctrl+c while following the install", func(t *testing.T) {
		x.t = t
		defer func() { x.t = parent }()
		// A data dir no deploy controller watches: the wait never ends.
		data, state := filepath.Join(dir, "p-data"), filepath.Join(dir, "p-state")
		exit := filepath.Join(dir, "exit-progress")
		x.start(fmt.Sprintf("%s %s install --root %s; echo $? > %s; sleep 600",
			envLine(data, cl.Kubeconfig, state), shellQuote(bin), shellQuote(root), shellQuote(exit)))
		x.waitFor("This machine", 30*time.Second)
		for _, step := range []string{"Profile", "Components", "Reaching it", "[ Install ]"} {
			x.keys("Enter")
			x.waitFor(step, 30*time.Second)
		}
		x.keys("Enter")
		x.waitFor("waiting for k3s to apply", 20*time.Second)
		x.keys("C-c")
		assert.Equal(t, 1, exitCode(t, exit, 20*time.Second))
		s := x.waitFor("k3s carries on", 5*time.Second)
		assert.Contains(t, strings.ReplaceAll(s, "\n", ""), "Written to "+filepath.Join(data, "server", "manifests")) // the pane wraps at 80
		assert.FileExists(t, filepath.Join(data, "server", "manifests", "hakube-30-home-assistant.yaml"), "what was written stays")
		x.end()
	})

	state := filepath.Join(dir, "state")
	t.Run("full install started plainly", func(t *testing.T) {
		x.t = t
		defer func() { x.t = parent }()
		exit, pid := filepath.Join(dir, "exit-plain"), filepath.Join(dir, "pid-plain")
		run := filepath.Join(dir, "run-plain.sh") // records its PID, then becomes hakube
		require.NoError(t, os.WriteFile(run, fmt.Appendf(nil, "echo $$ > %s\nexec env %s %s install --root %s\n",
			shellQuote(pid), envLine(cl.DataDir, cl.Kubeconfig, state), shellQuote(bin), shellQuote(root)), 0o644))
		x.start(fmt.Sprintf("sh %s; echo $? > %s; sleep 600", shellQuote(run), shellQuote(exit)))
		x.waitFor("This machine", 30*time.Second)
		wizardInstall(t, x, exit, state, 30123)
		t.Logf("figure: the wizard's peak memory over a full install: %s", peakRSS)
	})

	t.Run("full install through curl | sh", func(t *testing.T) {
		x.t = t
		defer func() { x.t = parent }()
		www := t.TempDir()
		dl := filepath.Join(www, "download", "v0.0.0-test")
		require.NoError(t, os.MkdirAll(dl, 0o755))
		binData, err := os.ReadFile(bin)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dl, "hakube-linux-amd64"), binData, 0o755))
		sum := sha256.Sum256(binData)
		require.NoError(t, os.WriteFile(filepath.Join(dl, "sha256sums.txt"), []byte(hex.EncodeToString(sum[:])+"  hakube-linux-amd64\n"), 0o644))
		script, err := os.ReadFile(filepath.Join("..", "..", "..", "scripts", "install.sh"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(www, "install.sh"), script, 0o644))
		srv := httptest.NewServer(http.FileServer(http.Dir(www)))
		defer srv.Close()
		if runtime.GOARCH != "amd64" {
			t.Skip("serves the amd64 binary only")
		}

		binDir := t.TempDir()
		exit := filepath.Join(dir, "exit-curl")
		// A fresh machine: its own cluster and state; a port set by a
		// HAKUBE_ variable, which the wizard shows and keeps.
		cl2 := testcluster.Start(t, testcluster.Options{PollInterval: 2 * time.Second})
		createPVs(cl2, claimsFor(t, cfg))
		state2 := filepath.Join(dir, "state-2")
		x.start(fmt.Sprintf("curl -sfL %s/install.sh | %s HAKUBE_NODE_PORT=30124 HAKUBE_DOWNLOAD_URL=%s HAKUBE_VERSION=v0.0.0-test HAKUBE_BIN_DIR=%s sh -s - --root %s; echo $? > %s; sleep 600",
			srv.URL, envLine(cl2.DataDir, cl2.Kubeconfig, state2), srv.URL, shellQuote(binDir), shellQuote(root), shellQuote(exit)))
		wizardInstall(t, x, exit, state2, 30124)
		assert.FileExists(t, filepath.Join(binDir, "hakube"), "install.sh installed the binary")
	})
}

// peakRSS is the last full install's peak memory (VmHWM), when known.
var peakRSS string

// wizardInstall walks the wizard with Enter to the end of an install.
func wizardInstall(t *testing.T, x *tmuxTerm, exit, state string, port int) {
	t.Helper()
	x.waitFor("This machine", 60*time.Second)
	for _, step := range []string{"Profile", "Components", "Reaching it", "[ Install ]"} {
		x.keys("Enter")
		x.waitFor(step, 15*time.Second)
	}
	x.keys("Enter")
	x.waitFor("Installing", 15*time.Second)
	s := x.waitFor("Home Assistant is ready", 3*time.Minute)
	assert.Contains(t, s, "sudo hakube credentials")
	peakRSS = ""
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(exit), "pid-plain")); err == nil {
		status, _ := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/status")
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				peakRSS = strings.TrimSpace(v)
			}
		}
	}
	x.keys("Enter")
	require.Equal(t, 0, exitCode(t, exit, 15*time.Second), x.screen())
	after := x.waitFor("hakube credentials", 5*time.Second)
	assert.Contains(t, after, fmt.Sprintf(":%d", port))
	sec, err := installer.StateDir{Path: state}.Secrets()
	require.NoError(t, err)
	for _, s := range []string{sec.MQTTHomeAssistant.Password, sec.NodeREDPassword, sec.ESPHomePassword} {
		assert.False(t, strings.Contains(after, s), "a secret is on the terminal")
	}
	x.end()
}

// BenchmarkE2EWizardFirstFrame measures, in a real terminal, the time from
// starting the binary to the wizard's first frame, and the wizard's peak
// memory (VmHWM) at the review step.
func BenchmarkE2EWizardFirstFrame(b *testing.B) {
	x := newTmux(b)
	bin := hakubeBinary(b)
	root := fixtureRoot(b, "rpi5-8g-skyconnect") // k3s installed, not running: no offer to install it
	dir := b.TempDir()
	var times []time.Duration
	var peak []int
	for i := 0; b.Loop(); i++ {
		pidFile := filepath.Join(dir, fmt.Sprintf("pid-%d", i))
		start := time.Now()
		x.start(fmt.Sprintf("echo $$ > %s; exec env %s %s install --root %s", shellQuote(pidFile),
			envLine(filepath.Join(dir, "d"), filepath.Join(dir, "none.yaml"), filepath.Join(dir, "s")), shellQuote(bin), shellQuote(root)))
		x.waitFor("This machine", 30*time.Second)
		times = append(times, time.Since(start))
		for _, step := range []string{"Profile", "Components", "Radio", "Reaching it", "Review"} {
			x.keys("Enter")
			x.waitFor(step, 30*time.Second)
		}
		x.waitFor("[ Install ]", 10*time.Second)
		if pid, err := os.ReadFile(pidFile); err == nil {
			status, _ := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/status")
			for _, l := range strings.Split(string(status), "\n") {
				if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
					kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
					peak = append(peak, kb)
				}
			}
		}
		x.keys("C-c")
		time.Sleep(100 * time.Millisecond)
		x.end()
	}
	slices.Sort(times)
	slices.Sort(peak)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(times[0]), "first-frame-min-ms")
	b.ReportMetric(ms(times[len(times)/2]), "first-frame-median-ms")
	b.ReportMetric(ms(times[len(times)-1]), "first-frame-max-ms")
	if len(peak) > 0 {
		b.ReportMetric(float64(peak[len(peak)-1])/1024, "peak-rss-MiB")
	}
}

// TestE2EWizardInstallsK3sInTmux: on a machine without k3s the wizard
// offers to install it, runs the installer fetched over https from a local
// server (a STAND-IN script that starts nothing but points the kubeconfig
// at the test control plane), shows its lines, and goes on once the API
// answers, to a full install.
func TestE2EWizardInstallsK3sInTmux(t *testing.T) {
	x := newTmux(t)
	bin := hakubeBinary(t)
	cl := testcluster.Start(t, testcluster.Options{PollInterval: 2 * time.Second})
	cfg := config.Defaults(config.ProfileEdge)
	createPVs(cl, claimsFor(t, cfg))
	root := fixtureRoot(t, "two-identical-sticks") // no k3s under it; Zigbee2MQTT off until a stick is chosen
	dir := t.TempDir()

	script, err := os.ReadFile(filepath.Join("testdata", "k3s-install-standin.sh"))
	require.NoError(t, err)
	var fetched sync.Map
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Store(r.URL.Path, true)
		_, _ = w.Write(script)
	}))
	defer srv.Close()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, pemCert(srv.Certificate().Raw), 0o644))

	kubeconfig := filepath.Join(dir, "k3s", "k3s.yaml") // written by the stand-in
	state := filepath.Join(dir, "state")
	exit := filepath.Join(dir, "exit")
	x.start(fmt.Sprintf("%s SSL_CERT_FILE=%s K3S_STANDIN_KUBECONFIG=%s K3S_KUBECONFIG_OUTPUT=%s %s install --root %s --k3s-install-url %s/install.sh; echo $? > %s; sleep 600",
		envLine(cl.DataDir, kubeconfig, state), shellQuote(ca), shellQuote(cl.Kubeconfig), shellQuote(kubeconfig),
		shellQuote(bin), shellQuote(root), srv.URL, shellQuote(exit)))
	x.waitFor("Install k3s "+installer.K3sVersion+" now", 10*time.Second)
	x.keys("Enter")
	s := x.waitFor("Using "+installer.K3sVersion+" as release", 15*time.Second)
	assert.Contains(t, s, "STAND-IN")
	s = x.waitFor("running (API at", 30*time.Second)
	assert.NotContains(t, s, "Install k3s")
	_, ok := fetched.Load("/install.sh")
	assert.True(t, ok, "the installer was fetched from the local https server")
	wizardInstall(t, x, exit, state, 30123)
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// With no terminal at all (no controlling tty, stdin a pipe) install
// refuses at once, pointing at --yes, --config and --accessible.
func TestWizardWithoutAnyTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary (not with -short)")
	}
	setsid, err := exec.LookPath("setsid")
	if err != nil {
		t.Fatal("setsid (util-linux) is needed to run without a controlling terminal")
	}
	bin := hakubeBinary(t)
	dir := t.TempDir()
	cmd := exec.Command(setsid, "--wait", bin, "install", "--state-dir", filepath.Join(dir, "state"), "--data-dir", filepath.Join(dir, "k3s"))
	cmd.Stdin = strings.NewReader("\n")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", out)
	assert.Equal(t, 2, ee.ExitCode(), "%s", out)
	assert.Contains(t, string(out), "no terminal to ask on: pass --yes")
	assert.Contains(t, string(out), "--config FILE")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}
