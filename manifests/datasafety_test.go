package manifests_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	k3sclient "github.com/k3s-io/api/pkg/generated/clientset/versioned"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hakube/hakube/internal/testcluster"
	"github.com/hakube/hakube/manifests"
)

var sourceRE = regexp.MustCompile(`(?m)^# Source: (\S+) \(sensitive: (?:true|false)\)\n`)

// splitGolden turns a golden file back into the files it joins.
func splitGolden(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	locs := sourceRE.FindAllSubmatchIndex(data, -1)
	require.NotEmpty(t, locs)
	for i, l := range locs {
		end := len(data)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		name := string(data[l[2]:l[3]])
		out[name] = []byte(strings.TrimSuffix(string(data[l[1]:end]), "---\n"))
	}
	return out
}

// writeManifests writes files into dir the way k3s must see them (a
// dotfile first, then a rename) and removes our files no longer in files.
func writeManifests(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o700))
	for name, content := range files {
		tmp := filepath.Join(dir, "."+name+".tmp")
		require.NoError(t, os.WriteFile(tmp, content, 0o600))
		require.NoError(t, os.Rename(tmp, filepath.Join(dir, name)))
	}
	old, err := filepath.Glob(filepath.Join(dir, manifests.FilePrefix+"*.yaml"))
	require.NoError(t, err)
	for _, p := range old {
		if _, ok := files[filepath.Base(p)]; !ok {
			require.NoError(t, os.Remove(p))
		}
	}
}

func filesMap(files []manifests.File) map[string][]byte {
	out := map[string][]byte{}
	for _, f := range files {
		out[f.Name] = f.Content
	}
	return out
}

// waitApplied waits until the deploy controller has applied every file:
// each Addon's checksum is its file's sha256.
func waitApplied(t *testing.T, k3s k3sclient.Interface, files map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	for name, content := range files {
		stem, _, _ := strings.Cut(name, ".")
		sum := sha256.Sum256(content)
		want := hex.EncodeToString(sum[:])
		for {
			a, err := k3s.K3sV1().Addons("kube-system").Get(ctx, stem, metav1.GetOptions{})
			if err == nil && a.Spec.Checksum == want {
				break
			}
			require.True(t, time.Now().Before(deadline), "addon %s was not applied (checksum)", stem)
			time.Sleep(300 * time.Millisecond)
		}
	}
}

// claimUIDs are the claims of the cluster that are not being deleted.
func claimUIDs(t *testing.T, api apiClients) map[string]types.UID {
	t.Helper()
	list, err := api.kube.CoreV1().PersistentVolumeClaims("").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	out := map[string]types.UID{}
	for _, c := range list.Items {
		if c.DeletionTimestamp == nil {
			out[c.Namespace+"/"+c.Name] = c.UID
		}
	}
	return out
}

func assertClaimsKept(t *testing.T, api apiClients, before map[string]types.UID, step string) {
	t.Helper()
	// A pruned claim disappears (or starts terminating) within a pass or
	// two of the deploy controller; give it time to do harm.
	time.Sleep(3 * time.Second)
	now := claimUIDs(t, api)
	for k, uid := range before {
		assert.Equal(t, uid, now[k], "%s: claim %s was deleted or replaced", step, k)
	}
}

// TestControlPlaneClaimsSurvive drives the deploy stand-in (k3s's pruning
// contract: an object that leaves its file is deleted) through an upgrade
// from the one-pod layout that moves every claim into the volumes file, a
// namespace change and a second install into the same directory, each as
// the installer must do it: KeepClaims from the files on disk. Every claim
// of the first install survives, with the same UID. The stand-in does not
// implement wrangler's no-prune label: these claims survive by the layout
// alone.
func TestControlPlaneClaimsSurvive(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{PollInterval: time.Second})
	api := newAPIClients(t, cl)
	k3s, err := k3sclient.NewForConfig(cl.RestConfig())
	require.NoError(t, err)

	// 1. An install of the one-pod layout, its claims bound.
	oldData, err := os.ReadFile(filepath.Join("testdata", "older-layout-edge-zigbee-usb.yaml"))
	require.NoError(t, err)
	old := splitGolden(t, oldData)
	require.Contains(t, old, "hakube-30-home-assistant.yaml")
	var kept []manifests.Claim
	sizes := map[string]string{}
	for _, content := range old {
		cs, err := manifests.ParseClaims(content)
		require.NoError(t, err)
		kept = append(kept, cs...)
		for _, c := range cs {
			sizes[c.Name] = c.Size
		}
	}
	cl.CreatePVs("home-assistant", sizes)
	writeManifests(t, cl.ManifestsDir, old)
	waitApplied(t, k3s, old)
	first := claimUIDs(t, api)
	require.Len(t, first, 8)

	// 2. Upgrade to this layout: every claim moves into the volumes file
	// (and Zigbee2MQTT into its own namespace).
	c := cases[4].cfg() // edge-zigbee-usb, as the old file was rendered
	c.StorageClass = "local-path"
	files := filesMap(renderWith(t, c, testSecrets(), manifests.Options{KeepClaims: kept, InstallID: "first"}))
	writeManifests(t, cl.ManifestsDir, files)
	waitApplied(t, k3s, files)
	assertClaimsKept(t, api, first, "upgrade")

	// 3. A namespace change. (With the same node port the new Service is
	// refused, "provided port is already allocated": the apply creates the
	// new namespace's objects before it prunes the old ones.)
	kept, err = manifests.ParseClaims(files[manifests.VolumesFile])
	require.NoError(t, err)
	c.Namespace, c.NodePort = "ha3", 30124
	c.NodeREDNodePort, c.ESPHomeNodePort, c.Zigbee2MQTTNodePort = 31881, 31053, 31081 // the dashboards' too
	files = filesMap(renderWith(t, c, testSecrets(), manifests.Options{KeepClaims: kept, InstallID: "first"}))
	writeManifests(t, cl.ManifestsDir, files)
	waitApplied(t, k3s, files)
	assertClaimsKept(t, api, first, "namespace change")
	ns, err := api.kube.CoreV1().Namespaces().Get(context.Background(), "home-assistant", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Nil(t, ns.DeletionTimestamp, "the old namespace must stay")

	// 4. A second install into the same directory: the files carry the
	// first install's marker, which the installer checks; if it goes on
	// anyway (an explicit takeover) it keeps the claims on disk.
	m, ok := manifests.ReadMarker(files[manifests.VolumesFile])
	require.True(t, ok)
	assert.Equal(t, manifests.Marker{InstallID: "first", Namespace: "ha3"}, m)
	kept, err = manifests.ParseClaims(files[manifests.VolumesFile])
	require.NoError(t, err)
	second := cases[0].cfg()
	second.Namespace, second.StorageClass, second.NodePort = "second", "local-path", 30125
	files = filesMap(renderWith(t, second, testSecrets(), manifests.Options{KeepClaims: kept, InstallID: "second"}))
	writeManifests(t, cl.ManifestsDir, files)
	waitApplied(t, k3s, files)
	assertClaimsKept(t, api, first, "second install")
}
