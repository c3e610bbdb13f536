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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/internal/testcluster"
)

// TestE2ENoSettingDeletesAClaim: on the test control plane (k3s deploy
// STAND-IN, which prunes like k3s), a change of namespace and a second
// install with another state directory are refused before anything is
// written, and every claim of the first install stays.
func TestE2ENoSettingDeletesAClaim(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	e := startEnv(t, testcluster.Options{PollInterval: time.Second}, &cfg)
	ctx := context.Background()
	_, err := e.installer(3*time.Minute).Install(ctx, cfg)
	require.NoError(t, err, "events:\n%s", e.events)
	claims := func() []string {
		list, err := e.kube.CoreV1().PersistentVolumeClaims(cfg.Namespace).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		var out []string
		for _, c := range list.Items {
			if c.DeletionTimestamp == nil {
				out = append(out, c.Name)
			}
		}
		return out
	}
	before := claims()
	require.NotEmpty(t, before)
	files := snapshot(t, e.cl.ManifestsDir)

	moved := cfg
	moved.Namespace = "ha3"
	_, err = e.installer(time.Minute).Install(ctx, moved)
	require.ErrorIs(t, err, installer.ErrPreflight)
	assert.Contains(t, err.Error(), `namespace was "home-assistant" at install and cannot change`)
	assert.Equal(t, files, snapshot(t, e.cl.ManifestsDir), "refused before writing")

	second := &installer.Installer{DataDir: e.cl.DataDir, State: installer.StateDir{Path: filepath.Join(t.TempDir(), "other")},
		Clients: e.clients, Timeout: time.Minute}
	_, err = second.Install(ctx, cfg)
	require.ErrorIs(t, err, installer.ErrPreflight)
	assert.Contains(t, err.Error(), "belong to another install")
	assert.NoDirExists(t, second.State.Path, "the refused install wrote no state")
	assert.Equal(t, files, snapshot(t, e.cl.ManifestsDir), "refused before writing")

	// Give the stand-in several passes: nothing of the first install goes.
	time.Sleep(3 * time.Second)
	assert.ElementsMatch(t, before, claims(), "every claim of the first install survives")
}

// TestE2EFailedPreflightLeavesNothing: a NodePort taken by another Service
// is found before anything is written: no state directory, no files.
func TestE2EFailedPreflightLeavesNothing(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	e := startEnv(t, testcluster.Options{PollInterval: time.Second}, &cfg)
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "squatter", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, NodePort: int32(cfg.NodePort)}}}}
	_, err := e.kube.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = e.installer(time.Minute).Install(ctx, cfg)
	require.ErrorIs(t, err, installer.ErrPreflight)
	assert.Contains(t, err.Error(), "is taken by service default/squatter")
	assert.NoDirExists(t, e.stateDir, "no state directory, no secrets.json")
	entries, _ := os.ReadDir(e.cl.ManifestsDir)
	assert.Empty(t, entries, "no manifest written")
}

// TestE2ELostCredentialsAreRecoveredNeverRotated: secrets.json removed with
// an install present is recovered from the cluster's copy, identical; with
// no copy either the install is refused, writing nothing; only the explicit
// option makes new credentials.
func TestE2ELostCredentialsAreRecoveredNeverRotated(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	e := startEnv(t, testcluster.Options{PollInterval: time.Second}, &cfg)
	ctx := context.Background()
	_, err := e.installer(3*time.Minute).Install(ctx, cfg)
	require.NoError(t, err, "events:\n%s", e.events)
	state := installer.StateDir{Path: e.stateDir}
	original, err := state.Secrets()
	require.NoError(t, err)

	require.NoError(t, os.Remove(state.SecretsPath()))
	res, err := e.installer(3*time.Minute).Install(ctx, cfg)
	require.NoError(t, err, "events:\n%s", e.events)
	assert.Equal(t, installer.CredentialsRecovered, res.Credentials)
	recovered, err := state.Secrets()
	require.NoError(t, err)
	assert.Equal(t, original, recovered, "the same Zigbee network key, PAN IDs and passwords")
	assert.Empty(t, res.Files.Written, "nothing changes in the manifests")

	require.NoError(t, os.Remove(state.SecretsPath()))
	require.NoError(t, e.kube.CoreV1().Secrets(cfg.Namespace).Delete(ctx, installer.StateSecret, metav1.DeleteOptions{}))
	files := snapshot(t, e.cl.ManifestsDir)
	_, err = e.installer(time.Minute).Install(ctx, cfg)
	require.ErrorIs(t, err, installer.ErrCredentialsMissing)
	assert.Contains(t, err.Error(), "--regenerate-credentials")
	assert.NoFileExists(t, state.SecretsPath(), "refused: nothing written")
	assert.Equal(t, files, snapshot(t, e.cl.ManifestsDir))

	in := e.installer(3 * time.Minute)
	p, err := in.Plan(ctx, cfg, installer.PlanOptions{RegenerateCredentials: true})
	require.NoError(t, err)
	assert.Equal(t, installer.CredentialsNew, p.Credentials)
	_, err = in.Apply(ctx, p)
	require.NoError(t, err, "events:\n%s", e.events)
	fresh, err := state.Secrets()
	require.NoError(t, err)
	assert.NotEqual(t, original.ZigbeeNetworkKey, fresh.ZigbeeNetworkKey)
}

// TestE2EPurgeErasesRetainedData: hakube's StorageClass retains a volume's
// data when its claim goes, so a purge erases local-path volumes itself;
// volumes of other provisioners are left alone.
func TestE2EPurgeErasesRetainedData(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	e := startEnv(t, testcluster.Options{PollInterval: time.Second}, &cfg)
	ctx := context.Background()
	_, err := e.installer(3*time.Minute).Install(ctx, cfg)
	require.NoError(t, err, "events:\n%s", e.events)
	pvc, err := e.kube.CoreV1().PersistentVolumeClaims(cfg.Namespace).Get(ctx, "home-assistant-config-0", metav1.GetOptions{})
	require.NoError(t, err)
	pv, err := e.kube.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, corev1.PersistentVolumeReclaimRetain, pv.Spec.PersistentVolumeReclaimPolicy)
	// Make it look like a volume local-path provisioned, as on k3s.
	if pv.Annotations == nil {
		pv.Annotations = map[string]string{}
	}
	pv.Annotations["pv.kubernetes.io/provisioned-by"] = "rancher.io/local-path"
	_, err = e.kube.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{})
	require.NoError(t, err)
	dir := pv.Spec.HostPath.Path
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "home-assistant_v2.db"), []byte("history"), 0o600))
	other, err := e.kube.CoreV1().PersistentVolumeClaims(cfg.Namespace).Get(ctx, "home-assistant-media-0", metav1.GetOptions{})
	require.NoError(t, err)

	res, err := e.installer(3*time.Minute).Uninstall(ctx, cfg.Namespace, true)
	require.NoError(t, err, "events:\n%s", e.events)
	assert.Equal(t, []string{dir}, res.DataErased)
	assert.NoDirExists(t, dir, "purge erases the retained data")
	_, err = e.kube.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the released volume is deleted: %v", err)
	_, err = e.kube.CoreV1().PersistentVolumes().Get(ctx, other.Spec.VolumeName, metav1.GetOptions{})
	assert.NoError(t, err, "a volume no local-path provisioner made is left alone")
}
