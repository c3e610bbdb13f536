package app_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/cmd/hakube/app"
	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/internal/testcluster"
	"github.com/hakube/hakube/manifests"
)

// runCLI runs hakube's commands in-process, as the binary would.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := []string{"PATH=" + os.Getenv("PATH")}
	code = app.Main(args, app.Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb}, env)
	return code, out.String(), errb.String()
}

// TestE2ECLI drives install, status, upgrade and uninstall through the
// command line against the test control plane (k3s deploy STAND-IN), and
// checks that no secret ever reaches stdout, stderr or the JSON output.
func TestE2ECLI(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	cl := testcluster.Start(t, testcluster.Options{PollInterval: 2 * time.Second})
	createPVs(cl, claimsFor(t, cfg))
	state := filepath.Join(t.TempDir(), "state")
	global := []string{"--data-dir", cl.DataDir, "--kubeconfig", cl.Kubeconfig, "--state-dir", state}
	args := func(a ...string) []string { return append(append([]string{}, a...), global...) }

	code, _, stderr := runCLI(t, "", args("install")...)
	assert.Equal(t, app.ExitUsage, code)
	assert.Contains(t, stderr, "pass --yes")
	assert.NoFileExists(t, filepath.Join(state, installer.SecretsFile), "a refused install changes nothing")

	code, stdout, stderr := runCLI(t, "", args("install", "--yes", "--output", "json", "--timeout", "3m")...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.NotEmpty(t, lines)
	for _, l := range lines {
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &v), "every stdout line is JSON: %q", l)
	}
	var last struct {
		Level  string           `json:"level"`
		Result installer.Result `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last))
	assert.Equal(t, "result", last.Level)
	assert.True(t, last.Result.Waited)
	assert.Contains(t, last.Result.URL, ":30123")

	sec, err := installer.StateDir{Path: state}.Secrets()
	require.NoError(t, err)
	all := stdout + stderr
	code, st, stErr := runCLI(t, "", args("status", "--output", "json")...)
	require.Equal(t, 0, code, "%s\n%s", st, stErr)
	var status installer.Status
	require.NoError(t, json.Unmarshal([]byte(st), &status))
	assert.True(t, status.Healthy)
	all += st + stErr
	code, st, stErr = runCLI(t, "", args("status")...)
	require.Equal(t, 0, code)
	assert.Contains(t, st, "all applied and Ready")
	all += st + stErr

	code, up, upErr := runCLI(t, "", args("upgrade", "--dry-run")...)
	require.Equal(t, 0, code, "%s\n%s", up, upErr)
	assert.Contains(t, up, "Nothing changes")
	all += up + upErr

	for _, v := range []string{sec.MQTTHomeAssistant.Password, sec.MQTTZigbee2MQTT.Password, sec.MQTTNodeRED.Password,
		sec.NodeREDPassword, sec.NodeREDCredentialSecret, sec.ESPHomePassword, sec.Zigbee2MQTTAuthToken} {
		assert.NotContains(t, all, v, "a secret reached the output")
	}

	code, _, stderr = runCLI(t, "", args("uninstall", "--purge")...)
	assert.Equal(t, app.ExitUsage, code)
	assert.Contains(t, stderr, "--yes")

	code, stdout, stderr = runCLI(t, "", args("uninstall")...)
	require.Equal(t, 0, code, "%s\n%s", stdout, stderr)
	assert.Contains(t, stdout, "Kept")
	assert.FileExists(t, filepath.Join(state, installer.SecretsFile), "credentials are kept without --purge")

	code, stdout, stderr = runCLI(t, "", args("uninstall", "--purge", "--yes")...)
	require.Equal(t, 0, code, "%s\n%s", stdout, stderr)
	assert.NoFileExists(t, filepath.Join(state, installer.SecretsFile))
}

func TestCLIInstallWithoutK3s(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, "", "install", "--yes", "--data-dir", filepath.Join(dir, "k3s"),
		"--kubeconfig", filepath.Join(dir, "missing.yaml"), "--state-dir", filepath.Join(dir, "state"), "--root", emptyRoot(t))
	assert.Equal(t, app.ExitPreflight, code, stderr)
	assert.Contains(t, stderr, "--install-k3s")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is written when preflight fails")
}

func TestCLIUpgradeWithoutInstall(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, "", "upgrade", "--state-dir", dir)
	assert.Equal(t, app.ExitUsage, code)
	assert.Contains(t, stderr, "run 'hakube install' first")
}

// emptyRoot is a root with no k3s, no radios: hardware detection finds
// nothing, and preflight must say k3s is missing.
func emptyRoot(t *testing.T) string {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "proc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "proc", "meminfo"), []byte("MemTotal:        4000000 kB\n"), 0o644))
	return root
}

// claimsFor lists the claims cfg renders by namespace (testcluster.ClaimsOf).
func claimsFor(t *testing.T, cfg config.Config) map[string]map[string]string {
	t.Helper()
	files, err := manifests.Render(&cfg, installer.PlaceholderSecrets(), manifests.Options{})
	require.NoError(t, err)
	claims, err := testcluster.ClaimsOf(files)
	require.NoError(t, err)
	require.NotEmpty(t, claims)
	return claims
}

// createPVs pre-binds a PV to every claim of claims.
func createPVs(cl *testcluster.Cluster, claims map[string]map[string]string) {
	cl.CreateClaimPVs(claims)
}
