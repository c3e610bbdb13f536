package installer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/internal/testcluster"
)

// TestE2EDoctorAndBackupNow: on the test control plane, doctor's cluster
// checks pass after an install, then report the missing metrics token with
// its fix and turn ok once the Secret exists; 'backup now' starts a Job
// from the CronJob's own template and follows it to completion (kwok runs
// no container and completes the pod: what the archive would hold is
// tested with the real program in TestBackupRestoreRoundTrip); uninstall
// --purge moves the archives out of the backups volume before deleting it.
func TestE2EDoctorAndBackupNow(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	cfg.Monitoring = config.MonitoringOn
	e := startEnv(t, testcluster.Options{PollInterval: time.Second, PrometheusCRDs: true}, &cfg)
	ctx := context.Background()
	_, err := e.installer(3*time.Minute).Install(ctx, cfg)
	require.NoError(t, err, "events:\n%s", e.events)

	doctor := func() map[string]hwdetect.Check {
		r := installer.Doctor(ctx, installer.DoctorInput{Root: t.TempDir(), DataDir: e.cl.DataDir, Config: &cfg, Clients: e.clients})
		out := map[string]hwdetect.Check{}
		for _, c := range r.Checks {
			out[string(c.ID)] = c
		}
		return out
	}
	c := doctor()
	assert.Equal(t, hwdetect.StatusOK, c["addons"].Status, c["addons"].Detail)
	assert.Equal(t, hwdetect.StatusOK, c["pods"].Status, c["pods"].Detail)
	assert.Equal(t, hwdetect.StatusWarning, c["metrics-token"].Status)
	assert.Contains(t, c["metrics-token"].Fix, "create secret generic home-assistant-metrics")
	_, err = e.kube.CoreV1().Secrets(cfg.Namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "home-assistant-metrics"}, Data: map[string][]byte{"token": []byte("t")}}, metav1.CreateOptions{})
	require.NoError(t, err)
	assert.Equal(t, hwdetect.StatusOK, doctor()["metrics-token"].Status)

	res, err := installer.BackupNow(ctx, e.clients, installer.LineReporter(e.events, true), cfg.Namespace, time.Minute)
	require.NoError(t, err, "kwok completes the Job's pod; events:\n%s", e.events)
	assert.Empty(t, res.Archive, "no container ran, so no archive was named")
	job, err := e.kube.BatchV1().Jobs(cfg.Namespace).Get(ctx, res.Job, metav1.GetOptions{})
	require.NoError(t, err)
	cj, err := e.kube.BatchV1().CronJobs(cfg.Namespace).Get(ctx, installer.BackupCronJob, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Command, job.Spec.Template.Spec.Containers[0].Command)
	assert.Equal(t, "manual", job.Annotations["cronjob.kubernetes.io/instantiate"])
	require.Len(t, job.OwnerReferences, 1)
	assert.Equal(t, cj.UID, job.OwnerReferences[0].UID, "owned by the CronJob: removed with it")

	// uninstall --purge deletes the backups volume, not the backups.
	backups, err := installer.VolumeDir(ctx, e.clients, e.cl.DataDir, cfg.Namespace, "home-assistant-backups-0")
	require.NoError(t, err)
	name := "hakube-20261129T033000Z.tar.gz"
	require.NoError(t, os.WriteFile(filepath.Join(backups, name), []byte("archive"), 0o600))
	ures, err := e.installer(0).Uninstall(ctx, cfg.Namespace, true)
	require.NoError(t, err)
	kept := filepath.Join(installer.KeptBackupsDir(e.cl.DataDir), name)
	assert.Equal(t, []string{kept}, ures.BackupsKept)
	got, err := os.ReadFile(kept)
	require.NoError(t, err)
	assert.Equal(t, "archive", string(got))
}
