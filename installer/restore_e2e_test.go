package installer_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/internal/testcluster"
	"github.com/hakube/hakube/manifests"
)

// TestE2EDisasterRestore: install with a radio, back up, lose everything
// (state directory, manifests, namespace, the volumes' content: a new SD
// card), restore the archive → the same Zigbee network key and PAN IDs, the
// same passwords, the volumes' files back, Ready.
//
// What the test control plane cannot do, and how it is covered instead: kwok
// runs no containers, so the backup Job cannot run; the real backup program
// (backup.py) runs here on the host against the volumes' directories and the
// hakube-state Secret read from the cluster, exactly as the Job mounts them.
// Readiness is kwok's; the PostgreSQL restore Job is not exercised here (the
// restore script itself runs against a real server in
// TestBackupRestoreRoundTrip).
func TestE2EDisasterRestore(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed for this test: apt-get install python3")
	}
	cfg := config.Defaults(config.ProfileEdge)
	cfg.Components = append(cfg.Components, config.Zigbee2MQTT)
	cfg.ZigbeeDevice = "/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_4c0b-if00-port0"
	cfg.ZigbeeAdapter = "zstack"
	require.NoError(t, cfg.Validate())
	e := startEnv(t, testcluster.Options{PollInterval: time.Second}, &cfg)
	ctx := context.Background()
	_, err := e.installer(3*time.Minute).Install(ctx, cfg)
	require.NoError(t, err, "events:\n%s", e.events)
	before, err := installer.StateDir{Path: e.stateDir}.Secrets()
	require.NoError(t, err)

	// What the components wrote into their volumes. The radio's
	// Zigbee2MQTT and its claim are in a namespace of their own.
	radioNS := manifests.RadioNamespace(&cfg)
	require.NotEmpty(t, radioNS, "a USB radio runs in its own namespace")
	dirIn := func(ns, claim string) string {
		d, err := installer.VolumeDir(ctx, e.clients, e.cl.DataDir, ns, claim)
		require.NoError(t, err)
		return d
	}
	dirOf := func(claim string) string { return dirIn(cfg.Namespace, claim) }
	z2mDir := dirIn(radioNS, "home-assistant-zigbee2mqtt-data-0")
	data := map[string]string{
		filepath.Join(z2mDir, "coordinator_backup.json"):                    `{"pan_id":"` + strconv.FormatUint(uint64(before.ZigbeePanID), 16) + `"}`,
		filepath.Join(z2mDir, "database.db"):                                `{"id":1,"type":"Coordinator"}` + "\n",
		filepath.Join(dirOf("home-assistant-config-0"), "automations.yaml"): "- alias: lights\n",
		filepath.Join(dirOf("home-assistant-nodered-data-0"), "flows.json"): `[{"id":"a"}]`,
	}
	for p, c := range data {
		require.NoError(t, os.WriteFile(p, []byte(c), 0o644))
	}

	// Back up, as the two Jobs of one run would: the main one with the
	// state Secret from the cluster and the volumes of its namespace, the
	// radio namespace's one with Zigbee2MQTT's volume; both read the run's
	// time from their Job's name (a CronJob's: minutes since the epoch).
	state, err := e.clients.Kube.Secrets.Get(ctx, cfg.Namespace, "hakube-state")
	require.NoError(t, err)
	stateDir := t.TempDir()
	for k, v := range state.Data {
		require.NoError(t, os.WriteFile(filepath.Join(stateDir, k), v, 0o400))
	}
	sources := map[string][]string{"": {"hakube:" + stateDir}}
	for _, v := range manifests.BackupVolumes(&cfg) {
		if v.Claim != "" {
			sources[v.Part] = append(sources[v.Part], v.Name+":"+dirIn(v.Namespace, v.Claim))
		}
	}
	require.Equal(t, []string{"zigbee2mqtt:" + z2mDir}, sources["zigbee2mqtt"], "the radio's data goes in the part")
	script := filepath.Join(t.TempDir(), "backup.py")
	require.NoError(t, os.WriteFile(script, []byte(manifests.BackupScript()), 0o600))
	minutes := strconv.FormatInt(time.Now().Unix()/60, 10)
	radioBackups := dirIn(radioNS, "home-assistant-backups-0")
	for _, run := range []struct{ dir, part string }{{dirOf("home-assistant-backups-0"), ""}, {radioBackups, "zigbee2mqtt"}} {
		job := exec.Command("python3", script)
		job.Env = append(os.Environ(), "BACKUP_DIR="+run.dir, "WORK_DIR="+t.TempDir(),
			"RETENTION_DAYS=14", "SOURCES="+strings.Join(sources[run.part], " "), "RUN_ID=home-assistant-backup-"+minutes)
		if run.part != "" {
			job.Env = append(job.Env, "PART="+run.part)
		} else {
			job.Env = append(job.Env, "PARTS="+strings.Join(manifests.BackupParts(&cfg), " "))
		}
		out, err := job.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	locs := installer.BackupLocations(e.cl.DataDir, cfg.Namespace, "")
	if _, err := installer.BackupsVolumeDir(e.cl.DataDir, cfg.Namespace); err != nil {
		// The test cluster's volumes are not under <data-dir>/storage.
		locs = []installer.BackupLocation{{Where: "backups volume", Dir: dirOf("home-assistant-backups-0")}, {Where: "radio backups volume", Dir: radioBackups}}
	}
	list, err := installer.ListBackups(locs)
	require.NoError(t, err)
	require.Len(t, list, 1, "the archive and its part are one backup")
	require.True(t, list[0].Good, list[0].Problem)
	assert.Contains(t, list[0].Contents, "zigbee2mqtt")
	require.Len(t, list[0].Parts, 1)
	pulled := filepath.Join(t.TempDir(), "pulled.tar.gz")
	var dirs []string
	for _, l := range locs {
		dirs = append(dirs, l.Dir)
	}
	written, err := installer.PullBackup(list[0].Path, pulled, dirs)
	require.NoError(t, err, "the archive leaves the node")
	require.Equal(t, []string{pulled, installer.PartFile(pulled, "zigbee2mqtt")}, written, "with its part")

	// Disaster: the state directory, the manifests, the namespace and the
	// volumes' content are gone.
	require.NoError(t, os.RemoveAll(e.stateDir))
	entries, _ := os.ReadDir(e.cl.ManifestsDir)
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), manifests.FilePrefix) {
			require.NoError(t, os.Remove(filepath.Join(e.cl.ManifestsDir, en.Name())))
		}
	}
	addons, err := e.clients.Kube.Addons.List(ctx, "kube-system", metav1.ListOptions{})
	require.NoError(t, err)
	for _, a := range addons.Items {
		if strings.HasPrefix(a.Name, manifests.FilePrefix) {
			require.NoError(t, e.clients.Kube.Addons.Delete(ctx, "kube-system", a.Name, metav1.DeleteOptions{}))
		}
	}
	for _, ns := range []string{cfg.Namespace, radioNS} {
		require.NoError(t, e.clients.Kube.Namespaces.Delete(ctx, "", ns, metav1.DeleteOptions{}))
	}
	require.Eventually(t, func() bool {
		_, err := e.clients.Kube.Namespaces.Get(ctx, "", cfg.Namespace)
		_, rerr := e.clients.Kube.Namespaces.Get(ctx, "", radioNS)
		return apierrors.IsNotFound(err) && apierrors.IsNotFound(rerr)
	}, 2*time.Minute, time.Second, "the namespaces are gone")
	claims := claimsFor(t, &cfg)
	for ns, names := range claims {
		for claim := range names {
			require.NoError(t, e.kube.CoreV1().PersistentVolumes().Delete(ctx, "testenv-"+ns+"-"+claim, metav1.DeleteOptions{}))
		}
	}
	require.Eventually(t, func() bool {
		pvs, err := e.kube.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
		return err == nil && len(pvs.Items) == 0
	}, time.Minute, time.Second)
	for ns := range claims {
		require.NoError(t, os.RemoveAll(filepath.Join(e.cl.StorageDir, ns)), "a new SD card")
	}
	createPVs(e.cl, claims)

	// Restore from the pulled copy, with no state directory.
	alone := filepath.Join(t.TempDir(), "alone.tar.gz")
	raw, err := os.ReadFile(pulled)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(alone, raw, 0o600))
	_, _, err = installer.PlanRestore(alone, e.stateDir, nil)
	require.ErrorIs(t, err, installer.ErrBadArchive, "an archive without its part is not a whole backup")
	plan, planned, err := installer.PlanRestore(pulled, e.stateDir, nil)
	require.NoError(t, err)
	assert.Equal(t, cfg, planned, "the archive carries the settings")
	assert.Contains(t, plan.Volumes, "zigbee2mqtt (claim "+radioNS+"/home-assistant-zigbee2mqtt-data-0)")
	in := e.installer(3 * time.Minute)
	res, err := in.Restore(ctx, plan, func(ctx context.Context, c config.Config) error {
		_, err := in.Install(ctx, c)
		return err
	})
	require.NoError(t, err, "events:\n%s", e.events)
	assert.Positive(t, res.Files)

	after, err := installer.StateDir{Path: e.stateDir}.Secrets()
	require.NoError(t, err)
	assert.Equal(t, before.ZigbeeNetworkKey, after.ZigbeeNetworkKey, "the same Zigbee network key")
	assert.Equal(t, before.ZigbeePanID, after.ZigbeePanID, "the same PAN ID")
	assert.Equal(t, before.ZigbeeExtPanID, after.ZigbeeExtPanID, "the same extended PAN ID")
	assert.Equal(t, before.MQTTHomeAssistant, after.MQTTHomeAssistant, "the same MQTT password")
	assert.Equal(t, before.NodeREDPassword, after.NodeREDPassword)
	assert.Equal(t, before.Zigbee2MQTTAuthToken, after.Zigbee2MQTTAuthToken)
	z2m, err := e.clients.Kube.Secrets.Get(ctx, radioNS, "home-assistant-zigbee2mqtt")
	require.NoError(t, err)
	assert.Contains(t, string(z2m.Data["secret.yaml"]), "network_key", "the cluster got the restored key")
	for p, c := range data {
		got, err := os.ReadFile(p)
		require.NoError(t, err, "restored: %s", p)
		assert.Equal(t, c, string(got))
	}
	st, err := e.installer(0).Status(ctx, cfg)
	require.NoError(t, err)
	assert.True(t, st.Healthy, "Ready after the restore: %+v", st)
}
