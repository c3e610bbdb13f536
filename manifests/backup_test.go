package manifests_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// The backup job's programs run for real in the installer package's tests
// (backup → wipe → restore against PostgreSQL and a live SQLite database).
// Here: what the job mounts and runs as.

func backupObjects(t *testing.T, c config.Config) (*batchv1.CronJob, *corev1.ConfigMap) {
	t.Helper()
	return backupObjectsIn(t, c, c.Namespace)
}

// backupObjectsIn returns the backup CronJob and its script's ConfigMap in ns.
func backupObjectsIn(t *testing.T, c config.Config, ns string) (*batchv1.CronJob, *corev1.ConfigMap) {
	t.Helper()
	require.NoError(t, c.Validate())
	files, err := manifests.Render(&c, testSecrets(), manifests.Options{})
	require.NoError(t, err)
	var cj *batchv1.CronJob
	var cm *corev1.ConfigMap
	for _, o := range decodeAll(t, files) {
		switch v := o.obj.(type) {
		case *batchv1.CronJob:
			if v.Namespace == ns {
				require.Nil(t, cj, "one backup CronJob per namespace")
				cj = v
			}
		case *corev1.ConfigMap:
			if v.Name == "home-assistant-backup" && v.Namespace == ns {
				cm = v
			}
		}
	}
	require.NotNil(t, cj)
	require.NotNil(t, cm)
	return cj, cm
}

func TestBackupJobMountsEveryVolume(t *testing.T) {
	c := config.Defaults(config.ProfileProduction)
	c.Components = []config.Component{config.MQTT, config.NodeRED, config.ESPHome, config.Zigbee2MQTT}
	c.ZigbeeDevice, c.ZigbeeAdapter = "/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_abc-if00-port0", "zstack"
	c.BackupCopyDir = "/mnt/usb/hakube"
	cj, cm := backupObjects(t, c)
	spec := cj.Spec.JobTemplate.Spec.Template.Spec

	claims := map[string]string{}
	hostPaths := map[string]string{}
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
			require.NotNil(t, v.HostPath.Type)
			assert.Equal(t, corev1.HostPathDirectory, *v.HostPath.Type, "never created on the root disk when the USB disk is missing")
		}
	}
	assert.Equal(t, map[string]string{
		"config": "home-assistant-config-0", "backups": "home-assistant-backups-0",
		"nodered-data": "home-assistant-nodered-data-0", "esphome-data": "home-assistant-esphome-data-0",
	}, claims, "the USB radio's claim is in its own namespace: not mountable here")
	assert.Equal(t, map[string]string{"copy": "/mnt/usb/hakube"}, hostPaths)

	require.Len(t, spec.Containers, 1)
	main := spec.Containers[0]
	env := map[string]string{}
	for _, e := range main.Env {
		env[e.Name] = e.Value
	}
	assert.Equal(t, "hakube:/data/hakube home-assistant:/data/home-assistant nodered:/data/nodered esphome:/data/esphome", env["SOURCES"])
	assert.Equal(t, "zigbee2mqtt", env["PARTS"], "the run's part from the radio namespace is named in the manifest")
	assert.Equal(t, "/copy", env["COPY_DIR"])
	assert.Contains(t, env["COMPONENT_VERSIONS"], "zigbee2mqtt=2.14.1")
	mounts := map[string]string{}
	for _, m := range main.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	for _, src := range strings.Fields(env["SOURCES"]) {
		_, p, _ := strings.Cut(src, ":")
		assert.NotEmpty(t, mounts[p], "%s is mounted", p)
	}
	assert.Equal(t, cm.Data["backup.py"], manifests.BackupScript())
	sc := main.SecurityContext
	require.NotNil(t, sc)
	assert.False(t, *sc.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	assert.Equal(t, []corev1.Capability{"DAC_OVERRIDE"}, sc.Capabilities.Add, "reads root-owned 0600 files, nothing more")

	require.Len(t, spec.InitContainers, 1, "the PostgreSQL dump runs first, into the same archive")
	pg := spec.InitContainers[0]
	assert.True(t, *pg.SecurityContext.RunAsNonRoot)
	assert.Equal(t, []corev1.Capability{"ALL"}, pg.SecurityContext.Capabilities.Drop)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, spec.SecurityContext.SeccompProfile.Type)
}

func TestBackupScriptsPassLinters(t *testing.T) {
	for _, tool := range []string{"python3", "shellcheck"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed for this test: apt-get install python3 shellcheck", tool)
		}
	}
	dir := t.TempDir()
	py := filepath.Join(dir, "backup.py")
	require.NoError(t, os.WriteFile(py, []byte(manifests.BackupScript()), 0o600))
	out, err := exec.Command("python3", "-m", "py_compile", py).CombinedOutput()
	require.NoError(t, err, "%s", out)
	sh := filepath.Join(dir, "pg-dump.sh")
	require.NoError(t, os.WriteFile(sh, []byte(manifests.BackupPGDumpScript()), 0o600))
	out, err = exec.Command("shellcheck", "-s", "sh", sh).CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// TestRadioBackupJob: with a USB radio, Zigbee2MQTT's claim lives in the
// radio namespace, and a second CronJob there (same schedule) writes the
// run's part from it; both read the run's time from their Job's name.
func TestRadioBackupJob(t *testing.T) {
	c := config.Defaults(config.ProfileProduction)
	c.Components = []config.Component{config.MQTT, config.Zigbee2MQTT}
	c.ZigbeeDevice, c.ZigbeeAdapter = "/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_abc-if00-port0", "zstack"
	radioNS := manifests.RadioNamespace(&c)
	require.NotEmpty(t, radioNS)
	main, _ := backupObjects(t, c)
	cj, cm := backupObjectsIn(t, c, radioNS)
	assert.Equal(t, manifests.RadioBackupCronJob, cj.Name)
	assert.Equal(t, main.Spec.Schedule, cj.Spec.Schedule, "the same schedule: one run, two parts")
	assert.Equal(t, main.Spec.TimeZone, cj.Spec.TimeZone)
	assert.Equal(t, cm.Data["backup.py"], manifests.BackupScript())
	spec := cj.Spec.JobTemplate.Spec.Template.Spec
	claims := map[string]string{}
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	assert.Equal(t, map[string]string{"backups": "home-assistant-backups-0", "zigbee2mqtt-data": "home-assistant-zigbee2mqtt-data-0"}, claims)
	for _, ct := range []corev1.Container{main.Spec.JobTemplate.Spec.Template.Spec.Containers[0], spec.Containers[0]} {
		var runID *corev1.EnvVar
		for i := range ct.Env {
			if ct.Env[i].Name == "RUN_ID" {
				runID = &ct.Env[i]
			}
		}
		require.NotNil(t, runID, "RUN_ID dates the run")
		require.NotNil(t, runID.ValueFrom)
		assert.Equal(t, "metadata.labels['job-name']", runID.ValueFrom.FieldRef.FieldPath)
	}
	env := map[string]string{}
	for _, e := range spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	assert.Equal(t, "zigbee2mqtt", env["PART"])
	assert.Equal(t, "zigbee2mqtt:/data/zigbee2mqtt", env["SOURCES"])
	assert.Equal(t, []string{"zigbee2mqtt"}, manifests.BackupParts(&c))

	// A networked coordinator: Zigbee2MQTT stays in the main namespace, in
	// the main archive; no second job.
	c.ZigbeeDevice, c.ZigbeeAdapter = "tcp://192.168.1.20:6638", "zstack"
	main, _ = backupObjects(t, c)
	env = map[string]string{}
	for _, e := range main.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	assert.Contains(t, env["SOURCES"], "zigbee2mqtt:/data/zigbee2mqtt")
	assert.Empty(t, env["PARTS"])
	assert.Empty(t, manifests.BackupParts(&c))
}
