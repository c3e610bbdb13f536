package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hakube/hakube/cmd/hakube/app"
	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/internal/testcluster"
	"github.com/hakube/hakube/manifests"
)

// TestE2EUpgradeBacksUpFirstAndRefusesStrandedData, on the test control
// plane (k3s deploy STAND-IN): upgrade runs the backup jobs before changing
// anything; without a backup CronJob it refuses unless --no-backup; an
// install of the older layout (a USB radio's Zigbee2MQTT claim in the main
// namespace) is refused until --move-data-by-restore, which still backs up
// first and then names the restore that moves the data.
func TestE2EUpgradeBacksUpFirstAndRefusesStrandedData(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	cfg.Components = append(cfg.Components, config.Zigbee2MQTT)
	cfg.ZigbeeDevice = "/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_4c0b-if00-port0"
	cfg.ZigbeeAdapter = "zstack"
	require.NoError(t, cfg.Validate())
	radioNS := manifests.RadioNamespace(&cfg)
	cl := testcluster.Start(t, testcluster.Options{PollInterval: time.Second})
	createPVs(cl, claimsFor(t, cfg))
	state := filepath.Join(t.TempDir(), "state")
	c, err := installer.NewClients(cl.Kubeconfig)
	require.NoError(t, err)
	var events bytes.Buffer
	in := &installer.Installer{DataDir: cl.DataDir, State: installer.StateDir{Path: state}, Clients: c,
		Report: installer.LineReporter(&events, true), Timeout: 3 * time.Minute}
	ctx := context.Background()
	_, err = in.Install(ctx, cfg)
	require.NoError(t, err, "events:\n%s", events.String())
	global := []string{"--data-dir", cl.DataDir, "--kubeconfig", cl.Kubeconfig, "--state-dir", state}
	args := func(a ...string) []string { return append(append([]string{}, a...), global...) }
	manifestsDir := installer.ManifestsDir(cl.DataDir)
	snapshot := func() map[string]string {
		out := map[string]string{}
		entries, err := os.ReadDir(manifestsDir)
		require.NoError(t, err)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(manifestsDir, e.Name()))
			require.NoError(t, err)
			out[e.Name()] = string(b)
		}
		return out
	}
	jobs := func(ns string) []string {
		list, err := c.Kube.Jobs.List(ctx, ns, metav1.ListOptions{})
		require.NoError(t, err)
		var out []string
		for _, j := range list.Items {
			out = append(out, j.Name)
		}
		return out
	}

	same := func(a, b map[string]string) bool {
		if len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if b[k] != v {
				return false
			}
		}
		return true
	}

	// 1. The backup runs first: both jobs of the run (kwok completes a
	// Job's pods), named for the same second so their archives pair; then
	// the change is applied.
	files := snapshot()
	code, stdout, stderr := runCLI(t, "", args("upgrade", "--yes", "--backup-retention-days", "7", "--timeout", "3m")...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	backupAt, applyAt := strings.Index(stdout, "backup complete"), strings.Index(stdout, "[write]")
	require.True(t, backupAt >= 0 && applyAt > backupAt, "backed up before writing anything:\n%s", stdout)
	mainJobs, radioJobs := jobs(cfg.Namespace), jobs(radioNS)
	require.Len(t, mainJobs, 1, "the main backup job ran")
	require.Len(t, radioJobs, 1, "the radio namespace's backup job ran too")
	assert.Equal(t, strings.TrimPrefix(mainJobs[0], installer.BackupCronJob), strings.TrimPrefix(radioJobs[0], manifests.RadioBackupCronJob),
		"named for the same second: their archives pair")
	assert.False(t, same(files, snapshot()), "upgraded")

	// 2. No backup CronJob (a release before backups): refused, unless
	// --no-backup.
	require.NoError(t, c.Kube.CronJobs.Delete(ctx, cfg.Namespace, installer.BackupCronJob, metav1.DeleteOptions{}))
	files = snapshot()
	code, stdout, stderr = runCLI(t, "", args("upgrade", "--yes", "--backup-retention-days", "5")...)
	assert.Equal(t, app.ExitPreflight, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stderr, "no backup job yet")
	assert.Contains(t, stderr, "--no-backup")
	assert.True(t, same(files, snapshot()), "a refused upgrade writes nothing")
	code, stdout, stderr = runCLI(t, "", args("upgrade", "--yes", "--no-backup", "--backup-retention-days", "5", "--timeout", "3m")...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.NotContains(t, stdout, "[backup]")
	assert.False(t, same(files, snapshot()), "upgraded without a backup")

	// 3. The older layout: Zigbee2MQTT's claim in the main namespace.
	volumes := filepath.Join(manifestsDir, manifests.VolumesFile)
	b, err := os.ReadFile(volumes)
	require.NoError(t, err)
	old := strings.Replace(string(b), "name: home-assistant-zigbee2mqtt-data-0\n  namespace: "+radioNS+"\n",
		"name: home-assistant-zigbee2mqtt-data-0\n  namespace: "+cfg.Namespace+"\n", 1)
	require.NotEqual(t, string(b), old, "the claim moved back to the main namespace")
	require.NoError(t, os.WriteFile(volumes, []byte(old), 0o600))
	files = snapshot()
	code, stdout, stderr = runCLI(t, "", args("upgrade", "--dry-run")...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "Refused without --move-data-by-restore")
	code, stdout, stderr = runCLI(t, "", args("upgrade", "--yes")...)
	assert.Equal(t, app.ExitPreflight, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stderr, "zigbee2mqtt's data is in claim "+cfg.Namespace+"/home-assistant-zigbee2mqtt-data-0")
	assert.Contains(t, stderr, "hakube restore ARCHIVE")
	code, _, stderr = runCLI(t, "", args("upgrade", "--yes", "--move-data-by-restore", "--no-backup")...)
	assert.Equal(t, app.ExitUsage, code, stderr)
	code, _, stderr = runCLI(t, "", args("install", "--yes", "--timeout", "1m")...)
	assert.Equal(t, app.ExitPreflight, code, "install over the older layout is refused too: %s", stderr)
	assert.Contains(t, stderr, "--move-data-by-restore")
	assert.True(t, same(files, snapshot()), "nothing written by a refused upgrade or install")

	// With the flag: backed up first (the CronJob is back since step 2),
	// the old claim kept, the new one added, and the restore named.
	code, stdout, stderr = runCLI(t, "", args("upgrade", "--yes", "--move-data-by-restore", "--timeout", "3m")...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "backup complete")
	assert.Contains(t, stdout, "sudo hakube restore ")
	b, err = os.ReadFile(volumes)
	require.NoError(t, err)
	claims, err := manifests.ParseClaims(b)
	require.NoError(t, err)
	var where []string
	for _, cl := range claims {
		if cl.Name == "home-assistant-zigbee2mqtt-data-0" {
			where = append(where, cl.Namespace)
		}
	}
	assert.ElementsMatch(t, []string{cfg.Namespace, radioNS}, where, "the old claim stays, the new one is added")
}
