package installer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/internal/testcluster"
)

// manifestsSnapshot is every file's content in dir.
func manifestsSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = string(b)
	}
	return out
}

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
	files := manifestsSnapshot(t, e.cl.ManifestsDir)

	moved := cfg
	moved.Namespace = "ha3"
	_, err = e.installer(time.Minute).Install(ctx, moved)
	require.ErrorIs(t, err, installer.ErrPreflight)
	assert.Contains(t, err.Error(), `namespace was "home-assistant" at install and cannot change`)
	assert.Equal(t, files, manifestsSnapshot(t, e.cl.ManifestsDir), "refused before writing")

	second := &installer.Installer{DataDir: e.cl.DataDir, State: installer.StateDir{Path: filepath.Join(t.TempDir(), "other")},
		Clients: e.clients, Timeout: time.Minute}
	_, err = second.Install(ctx, cfg)
	require.ErrorIs(t, err, installer.ErrPreflight)
	assert.Contains(t, err.Error(), "belong to another install")
	assert.NoDirExists(t, second.State.Path, "the refused install wrote no state")
	assert.Equal(t, files, manifestsSnapshot(t, e.cl.ManifestsDir), "refused before writing")

	// Give the stand-in several passes: nothing of the first install goes.
	time.Sleep(3 * time.Second)
	assert.ElementsMatch(t, before, claims(), "every claim of the first install survives")
}
