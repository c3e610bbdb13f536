package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
)

// installOffline makes an install's state (no cluster: files only).
func installOffline(t *testing.T, cfg config.Config) (state, dataDir string) {
	t.Helper()
	state, dataDir = filepath.Join(t.TempDir(), "state"), t.TempDir()
	in := &installer.Installer{DataDir: dataDir, State: installer.StateDir{Path: state}, NoWait: true}
	_, err := in.Install(context.Background(), cfg)
	require.NoError(t, err)
	return state, dataDir
}

func TestCredentialsShowsEachLoginAndWhereItIsUsed(t *testing.T) {
	cfg := config.Defaults(config.ProfileProduction)
	cfg.Components = append(cfg.Components, config.Zigbee2MQTT)
	cfg.ZigbeeDevice, cfg.ZigbeeAdapter = "tcp://192.0.2.10:6638", "zstack"
	state, _ := installOffline(t, cfg)
	sec, err := installer.StateDir{Path: state}.Secrets()
	require.NoError(t, err)

	code, out, errOut := runDetectCmd(t, "credentials", "--state-dir", state)
	require.Equal(t, ExitOK, code, errOut)
	for _, want := range []string{
		"Home Assistant's MQTT integration", "home-assistant-mqtt.home-assistant.svc:1883",
		"username: homeassistant", "password: " + sec.MQTTHomeAssistant.Password,
		"password: " + sec.NodeREDPassword, "password: " + sec.ESPHomePassword,
		"token:    " + sec.Zigbee2MQTTAuthToken, "password: " + sec.PostgreSQLPassword,
		"Node-RED's editor: its login page\n  where:    http://NODE-ADDRESS:31880",
		"ESPHome's dashboard: its login page\n  where:    http://NODE-ADDRESS:31052",
		"token, not a user)\n  where:    http://NODE-ADDRESS:31080",
	} {
		assert.Contains(t, out, want)
	}

	code, out, _ = runDetectCmd(t, "credentials", "mqtt", "--state-dir", state, "-o", "json")
	require.Equal(t, ExitOK, code)
	var logins []installer.Login
	require.NoError(t, json.Unmarshal([]byte(out), &logins))
	require.Len(t, logins, 3, "one account each for Home Assistant, Node-RED and Zigbee2MQTT")
	for _, l := range logins {
		assert.Equal(t, "mqtt", l.Component)
		assert.NotEmpty(t, l.Password)
	}
	assert.NotContains(t, out, sec.NodeREDPassword, "only the component asked for")

	code, _, errOut = runDetectCmd(t, "credentials", "frontend", "--state-dir", state)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "is not a component with logins")

	code, _, errOut = runDetectCmd(t, "credentials", "--state-dir", filepath.Join(t.TempDir(), "none"))
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "made by 'hakube install'")
}

// Nothing but 'credentials' prints a secret: the offline commands, with an
// install present, are checked here; the cluster commands in TestE2ECLI.
func TestNoOtherCommandPrintsASecret(t *testing.T) {
	cfg := config.Defaults(config.ProfileProduction)
	state, dataDir := installOffline(t, cfg)
	sec, err := installer.StateDir{Path: state}.Secrets()
	require.NoError(t, err)
	var all strings.Builder
	for _, args := range [][]string{
		{"render"}, {"render", "-o", "json"}, {"render", "--dir", t.TempDir()}, {"detect"}, {"version"},
		{"status"}, {"upgrade", "--dry-run"}, {"install", "--yes", "--no-wait"},
		{"mqtt", "user", "list"}, {"mqtt", "user", "list", "-o", "json"}, {"mqtt", "ca"},
		{"mqtt", "user", "remove", "nobody"}, {"mqtt", "user", "add", "homeassistant"},
	} {
		args = append(args, "--state-dir", state, "--data-dir", dataDir, "--kubeconfig", filepath.Join(t.TempDir(), "none"))
		_, out, errOut := runDetectCmd(t, args...)
		all.WriteString(out + errOut)
	}
	for _, v := range []string{sec.MQTTHomeAssistant.Password, sec.MQTTNodeRED.Password, sec.MQTTZigbee2MQTT.Password,
		sec.NodeREDPassword, sec.NodeREDCredentialSecret, sec.ESPHomePassword, sec.Zigbee2MQTTAuthToken, sec.PostgreSQLPassword} {
		assert.NotContains(t, all.String(), v, "a secret reached the output of a command other than credentials")
	}
	assert.NotEmpty(t, all.String())
}

func TestInstallK3sIsAFlagsFileKey(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "site.yaml")
	require.NoError(t, os.WriteFile(file, []byte("install-k3s: true\n"), 0o600))
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "proc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "proc", "meminfo"), []byte("MemTotal: 4000000 kB\n"), 0o644))
	code, _, errOut := runDetectCmd(t, "install", "--yes", "--config", file, "--root", root,
		"--k3s-install-url", "http://127.0.0.1:9/k3s.sh", "--data-dir", filepath.Join(dir, "k3s"),
		"--kubeconfig", filepath.Join(dir, "none.yaml"), "--state-dir", filepath.Join(dir, "state"))
	assert.Equal(t, ExitPreflight, code)
	assert.Contains(t, errOut, "only https:// URLs are allowed", "the key reached the k3s install, which refuses plain http")
	assert.NoDirExists(t, filepath.Join(dir, "state"))
}

// TestMQTTDeviceAccountsOffline: 'mqtt user add' prints the password once,
// keeps it for 'credentials', changes only the broker's file (never Home
// Assistant's), and 'remove' takes it out again; list and ca print no
// secret.
func TestMQTTDeviceAccountsOffline(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	cfg.MQTTExpose = config.MQTTExposeNodePort
	state, dataDir := installOffline(t, cfg)
	common := []string{"--state-dir", state, "--data-dir", dataDir, "--kubeconfig", filepath.Join(t.TempDir(), "none")}
	mdir := installer.ManifestsDir(dataDir)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(mdir, name))
		require.NoError(t, err)
		return string(b)
	}
	haBefore, mqttBefore := read("hakube-30-home-assistant.yaml"), read("hakube-10-mqtt.yaml")

	code, out, errOut := runDetectCmd(t, append([]string{"mqtt", "user", "add", "kitchen-plug"}, common...)...)
	require.Equal(t, ExitOK, code, errOut)
	sec, err := installer.StateDir{Path: state}.Secrets()
	require.NoError(t, err)
	require.Len(t, sec.MQTTDevices, 1)
	dev := sec.MQTTDevices[0]
	assert.Equal(t, "kitchen-plug", dev.Username)
	assert.Len(t, dev.Password, 24)
	assert.Equal(t, 1, strings.Count(out, dev.Password), "the password is shown once")
	assert.Contains(t, out, "NODE-ADDRESS:31883")
	assert.Equal(t, haBefore, read("hakube-30-home-assistant.yaml"), "Home Assistant's file must not change")
	assert.NotEqual(t, mqttBefore, read("hakube-10-mqtt.yaml"), "the broker's file carries the account")

	code, out, errOut = runDetectCmd(t, append([]string{"credentials", "mqtt"}, common...)...)
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, "device kitchen-plug")
	assert.Contains(t, out, "password: "+dev.Password)

	var quiet strings.Builder
	for _, args := range [][]string{{"mqtt", "user", "list"}, {"mqtt", "user", "list", "-o", "json"}, {"mqtt", "ca"}} {
		code, out, errOut = runDetectCmd(t, append(args, common...)...)
		require.Equal(t, ExitOK, code, errOut)
		quiet.WriteString(out + errOut)
	}
	assert.Contains(t, quiet.String(), "kitchen-plug")
	assert.Contains(t, quiet.String(), "-----BEGIN CERTIFICATE-----")
	for _, v := range []string{dev.Password, sec.MQTTTLS.CAKey, sec.MQTTTLS.ServerKey, "PRIVATE KEY", sec.MQTTHomeAssistant.Password} {
		assert.NotContains(t, quiet.String(), v, "list and ca print no secret")
	}

	code, _, errOut = runDetectCmd(t, append([]string{"mqtt", "user", "add", "kitchen-plug"}, common...)...)
	assert.Equal(t, ExitUsage, code, "a second account of the same name is bad input")
	assert.Contains(t, errOut, "exists")
	code, _, errOut = runDetectCmd(t, append([]string{"mqtt", "user", "add", "zigbee2mqtt"}, common...)...)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "taken")
	code, _, errOut = runDetectCmd(t, append([]string{"mqtt", "user", "add", "a/#"}, common...)...)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "topic prefix")

	code, out, errOut = runDetectCmd(t, append([]string{"mqtt", "user", "remove", "kitchen-plug"}, common...)...)
	require.Equal(t, ExitOK, code, errOut)
	assert.NotContains(t, out, dev.Password)
	sec, err = installer.StateDir{Path: state}.Secrets()
	require.NoError(t, err)
	assert.Empty(t, sec.MQTTDevices)
	assert.Equal(t, haBefore, read("hakube-30-home-assistant.yaml"))
	assert.Equal(t, mqttBefore, read("hakube-10-mqtt.yaml"), "removing the only account gives the file it had before")
	code, _, _ = runDetectCmd(t, append([]string{"mqtt", "user", "remove", "kitchen-plug"}, common...)...)
	assert.Equal(t, ExitUsage, code)
}
