package app_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/cmd/hakube/app"
	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect/fixture"
	"github.com/hakube/hakube/internal/testcluster"
)

func fixtureRoot(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, fixture.BuildFile(dir, filepath.Join("..", "..", "..", "hwdetect", "testdata", "fixtures", name+".txtar")))
	return dir
}

// runPiped runs hakube in-process with stdin a real pipe holding answers.
func runPiped(t *testing.T, answers string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	_, err = w.WriteString(answers)
	require.NoError(t, err)
	w.Close()
	var out, errb bytes.Buffer
	code = app.Main(args, app.Streams{In: r, Out: &out, Err: &errb}, append([]string{"PATH=" + os.Getenv("PATH")}, env...))
	return code, out.String(), errb.String()
}

func TestWizardNeedsATerminal(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, "", "install", "--data-dir", filepath.Join(dir, "k3s"), "--state-dir", filepath.Join(dir, "state"),
		"--kubeconfig", filepath.Join(dir, "none.yaml"))
	assert.Equal(t, app.ExitUsage, code)
	for _, want := range []string{"no terminal", "--yes", "--config", "--accessible"} {
		assert.Contains(t, stderr, want)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "a refused wizard writes nothing")
}

// The accessible wizard reads its answers from a pipe; saving them writes
// only the flags file, and the file then drives an unattended render of
// the same settings.
func TestWizardAccessibleSavesAnswers(t *testing.T) {
	dir := t.TempDir()
	root := fixtureRoot(t, "rpi5-8g-skyconnect") // k3s installed, not running; one Zigbee stick
	answers := filepath.Join(dir, "site.yaml")
	global := []string{"--data-dir", filepath.Join(dir, "k3s"), "--state-dir", filepath.Join(dir, "state"),
		"--kubeconfig", filepath.Join(dir, "none.yaml"), "--root", root}
	in := strings.Join([]string{"", "", "1,2,4", "", "", "30300", "", "", "Europe/Paris", "3", answers}, "\n") + "\n"
	code, stdout, stderr := runPiped(t, in, nil, append([]string{"install", "--accessible"}, global...)...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "== Review ==")
	assert.Contains(t, stdout, "sudo hakube install --config "+answers+" --yes")
	for _, d := range []string{"k3s", "state"} {
		assert.NoDirExists(t, filepath.Join(dir, d), "saving the answers wrote nothing else")
	}
	data, err := os.ReadFile(answers)
	require.NoError(t, err)
	assert.Contains(t, string(data), "node-port: 30300")
	assert.Contains(t, string(data), "components: [mqtt, nodered, zigbee2mqtt]")

	// The file again: refused, never overwritten.
	code, stdout, _ = runPiped(t, in+answers+"\n", nil, append([]string{"install", "--accessible"}, global...)...)
	assert.Contains(t, stdout, "exists: give another name")
	assert.NotEqual(t, 0, code)
	after, err := os.ReadFile(answers)
	require.NoError(t, err)
	assert.Equal(t, data, after)

	// TERM=dumb is the accessible wizard too; the input ends early: nothing
	// written, exit 1.
	code, stdout, stderr = runPiped(t, "\n", []string{"TERM=dumb"}, append([]string{"install"}, global...)...)
	assert.Equal(t, app.ExitError, code, stdout+stderr)
	assert.Contains(t, stdout, "nothing was written")
	for _, d := range []string{"k3s", "state"} {
		assert.NoDirExists(t, filepath.Join(dir, d))
	}
}

// TestE2EWizardAccessible installs through the accessible wizard against
// the test control plane (k3s deploy STAND-IN), then saves the same
// answers and renders them unattended: the files are byte-identical to
// the ones the wizard installed.
func TestE2EWizardAccessible(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{PollInterval: 2 * time.Second})
	root := fixtureRoot(t, "vm-no-usb")
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	global := []string{"--data-dir", cl.DataDir, "--kubeconfig", cl.Kubeconfig, "--state-dir", state, "--root", root}
	// Components: Mosquitto and Node-RED; NodePort 30400; the rest default.
	steps := []string{"", "", "1,2", "", "30400", "", "", "UTC"}
	cfg := config.Defaults(config.ProfileEdge)
	cfg.Components = []config.Component{config.MQTT, config.NodeRED}
	createPVs(cl, claimsFor(t, cfg))

	in := strings.Join(append(steps, "1"), "\n") + "\n"
	code, stdout, stderr := runPiped(t, in, nil, append([]string{"install", "--accessible", "--timeout", "3m"}, global...)...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "[done] Home Assistant is ready")
	assert.Contains(t, stdout, ":30400")
	assert.Contains(t, stdout, "sudo hakube credentials")

	answers := filepath.Join(dir, "answers.yaml")
	in = strings.Join(append(steps, "3", answers), "\n") + "\n"
	code, stdout, stderr = runPiped(t, in, nil, append([]string{"install", "--accessible"}, global...)...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)

	out := filepath.Join(dir, "rendered")
	code, stdout, stderr = runCLI(t, "", "render", "--config", answers, "--dir", out, "--state-dir", state, "--root", root)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	installed, err := os.ReadDir(filepath.Join(cl.DataDir, "server", "manifests"))
	require.NoError(t, err)
	n := 0
	for _, e := range installed {
		if !strings.HasPrefix(e.Name(), "hakube-") {
			continue
		}
		n++
		want, err := os.ReadFile(filepath.Join(cl.DataDir, "server", "manifests", e.Name()))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(out, e.Name()))
		require.NoError(t, err, "the saved answers do not render %s", e.Name())
		assert.True(t, bytes.Equal(want, got), "%s: the saved answers render it differently", e.Name())
	}
	assert.Equal(t, 6, n, "namespace, volumes, mqtt, nodered, home-assistant, backup")
}
