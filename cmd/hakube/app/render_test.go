package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRenderUsesDetectedHardware: render writes what install would, so the
// detected coordinator, board size and arch shape its output.
func TestRenderUsesDetectedHardware(t *testing.T) {
	root := buildDetectFixture(t, "rpi4-2g-zbdongle-e")
	state := t.TempDir()
	code, out, errOut := runDetectCmd(t, "render", "--root", root, "--state-dir", state)
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, "# Source: hakube-10-zigbee2mqtt.yaml")
	assert.Contains(t, out, "/dev/serial/by-id/")
	assert.Contains(t, out, "adapter: ember")
	assert.NotContains(t, out, "placeholder-generated-at-install\n", "stdout never carries secrets")

	code, out, _ = runDetectCmd(t, "render", "--root", root, "--state-dir", state, "--components", "mqtt")
	require.Equal(t, ExitOK, code)
	assert.NotContains(t, out, "hakube-10-zigbee2mqtt.yaml", "an explicit choice beats detection")
}

func TestRenderToDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, _, errOut := runDetectCmd(t, "render", "--root", buildDetectFixture(t, "vm-no-usb"),
		"--state-dir", t.TempDir(), "--dir", dir, "--profile", "production")
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, errOut, "placeholder secrets")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		fi, err := e.Info()
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		if strings.Contains(string(b), "kind: Secret") {
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), e.Name())
		}
	}
	assert.Contains(t, names, "hakube-20-postgresql.yaml")
}

func TestRenderBadInput(t *testing.T) {
	code, _, errOut := runDetectCmd(t, "render", "--root", t.TempDir(), "--state-dir", t.TempDir(), "--node-port", "80", "--profile", "cloud")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "flag --node-port: 80 is outside the NodePort range")
	assert.Contains(t, errOut, "flag --profile: \"cloud\" is not allowed")

	code, _, errOut = runDetectCmd(t, "render", "--config", filepath.Join(t.TempDir(), "missing.yaml"), "--state-dir", t.TempDir())
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "check the path given to --config")
}

func TestRenderOutputIsOnlyTheFormat(t *testing.T) {
	root := buildDetectFixture(t, "vm-no-usb")
	cwd := t.TempDir()
	t.Chdir(cwd)
	code, out, errOut := runDetectCmd(t, "--output", "json", "render", "--root", root, "--state-dir", t.TempDir())
	require.Equal(t, ExitOK, code, errOut)
	var files []struct {
		File, Component, Content string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &files), "render -o json prints JSON")
	require.NotEmpty(t, files)
	assert.Equal(t, "hakube-00-namespace.yaml", files[0].File)
	entries, err := os.ReadDir(cwd)
	require.NoError(t, err)
	assert.Empty(t, entries, "--output json writes no directory named json")

	code, _, errOut = runDetectCmd(t, "render", "--output", filepath.Join(cwd, "out"))
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "use text or json (render writes files with --dir)")
	assert.NoDirExists(t, filepath.Join(cwd, "out"))
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	code, out, errOut := runDetectCmd(t, "bogus")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, `unknown command "bogus"`)
	assert.NotContains(t, out, "Usage:", "no help page for a typo")
	code, out, _ = runDetectCmd(t)
	assert.Equal(t, ExitOK, code)
	assert.Contains(t, out, "Available Commands:")
	code, _, errOut = runDetectCmd(t, "version", "extra")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "unknown command")
}
