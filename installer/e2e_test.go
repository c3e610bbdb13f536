package installer_test

// Integration tests against a real control plane (kube-apiserver, etcd,
// controller-manager, scheduler, kwok) with OUR STAND-IN for k3s's deploy
// controller (scripts/testenv): they prove hakube's side of the auto-deploy
// contract, not k3s itself.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	k3sclient "github.com/k3s-io/api/pkg/generated/clientset/versioned"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/internal/testcluster"
	"github.com/hakube/hakube/manifests"
)

// claimsFor lists the claims cfg renders by namespace (testcluster.ClaimsOf).
func claimsFor(t *testing.T, cfg *config.Config) map[string]map[string]string {
	t.Helper()
	files, err := manifests.Render(cfg, installer.PlaceholderSecrets(), manifests.Options{})
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

// claimCount is the number of claims in claims.
func claimCount(claims map[string]map[string]string) int {
	n := 0
	for _, c := range claims {
		n += len(c)
	}
	return n
}

type env struct {
	cl       *testcluster.Cluster
	clients  *installer.Clients
	kube     kubernetes.Interface // the full clientsets, for the tests' own checks
	k3s      k3sclient.Interface
	stateDir string
	events   *bytes.Buffer
}

func startEnv(t *testing.T, opts testcluster.Options, cfg *config.Config) *env {
	t.Helper()
	cl := testcluster.Start(t, opts)
	c, err := installer.NewClients(cl.Kubeconfig)
	require.NoError(t, err)
	createPVs(cl, claimsFor(t, cfg))
	kube, err := kubernetes.NewForConfig(c.Config)
	require.NoError(t, err)
	k3s, err := k3sclient.NewForConfig(c.Config)
	require.NoError(t, err)
	return &env{cl: cl, clients: c, kube: kube, k3s: k3s, stateDir: filepath.Join(t.TempDir(), "state"), events: &bytes.Buffer{}}
}

func (e *env) installer(timeout time.Duration) *installer.Installer {
	return &installer.Installer{DataDir: e.cl.DataDir, State: installer.StateDir{Path: e.stateDir}, Clients: e.clients,
		Report: installer.LineReporter(e.events, true), Timeout: timeout}
}

// ourVersions maps kind/name to resourceVersion for every object from our
// manifests (pods excluded: kwok updates their status).
func ourVersions(t *testing.T, e *env, ns string) map[string]string {
	t.Helper()
	ctx := context.Background()
	k := e.kube
	lo := metav1.ListOptions{LabelSelector: installer.OurLabels}
	out := map[string]string{}
	add := func(prefix string, list runtime.Object, err error) {
		require.NoError(t, err)
		items, err := apimeta.ExtractList(list)
		require.NoError(t, err)
		for _, it := range items {
			m, err := apimeta.Accessor(it)
			require.NoError(t, err)
			if prefix == "addon/" && !strings.HasPrefix(m.GetName(), manifests.FilePrefix) {
				continue
			}
			out[prefix+m.GetName()] = m.GetResourceVersion()
		}
	}
	ss, err := k.AppsV1().StatefulSets(ns).List(ctx, lo)
	add("sts/", ss, err)
	svc, err := k.CoreV1().Services(ns).List(ctx, lo)
	add("svc/", svc, err)
	cm, err := k.CoreV1().ConfigMaps(ns).List(ctx, lo)
	add("cm/", cm, err)
	sec, err := k.CoreV1().Secrets(ns).List(ctx, lo)
	add("secret/", sec, err)
	pvc, err := k.CoreV1().PersistentVolumeClaims(ns).List(ctx, lo)
	add("pvc/", pvc, err)
	cj, err := k.BatchV1().CronJobs(ns).List(ctx, lo)
	add("cronjob/", cj, err)
	addons, err := e.k3s.K3sV1().Addons("kube-system").List(ctx, metav1.ListOptions{})
	add("addon/", addons, err)
	return out
}

func TestE2EInstallLifecycle(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	e := startEnv(t, testcluster.Options{PollInterval: 2 * time.Second}, &cfg)
	ctx := context.Background()

	start := time.Now()
	res, err := e.installer(3*time.Minute).Install(ctx, cfg)
	require.NoError(t, err, "events:\n%s", e.events)
	returned := time.Now()
	t.Logf("install with a 2 s poll interval took %s", returned.Sub(start))
	if last, ok := lastApplied(e.cl.LogTail(testcluster.StandIn, 400)); ok {
		t.Logf("install returned %s after the stand-in applied the last file (pods Ready by kwok in between)", returned.Sub(last))
	}
	assert.True(t, res.Waited)
	assert.Contains(t, res.URL, ":30123")

	st, err := e.installer(0).Status(ctx, cfg)
	require.NoError(t, err)
	assert.True(t, st.Healthy, "status after install: %+v", st)
	names := map[string]bool{}
	for _, c := range st.Components {
		names[c.Name] = c.Ready
	}
	for _, want := range []string{"home-assistant", "mqtt", "nodered", "esphome"} {
		assert.True(t, names[want], "component %s ready", want)
	}

	// A re-run changes nothing: no file rewritten, no object written.
	before := ourVersions(t, e, cfg.Namespace)
	start = time.Now()
	res, err = e.installer(time.Minute).Install(ctx, cfg)
	require.NoError(t, err)
	t.Logf("no-op re-run took %s", time.Since(start))
	assert.Empty(t, res.Files.Written, "re-run rewrote files")
	assert.Equal(t, installer.CredentialsKept, res.Credentials)
	assert.Equal(t, before, ourVersions(t, e, cfg.Namespace), "re-run changed objects")

	// Upgrade with a changed image: the pod rolls out.
	pinned := manifests.Versions()
	newer := pinned["mosquitto"]
	newer.Tag = "2.0.99-test"
	pinned["mosquitto"] = newer
	upgraded := e.installer(3 * time.Minute)
	upgraded.Images = pinned
	res, err = upgraded.Install(ctx, cfg)
	require.NoError(t, err, "events:\n%s", e.events)
	assert.Contains(t, res.Files.Written, "hakube-10-mqtt.yaml")
	assert.NotContains(t, res.Files.Written, "hakube-30-home-assistant.yaml", "Mosquitto's upgrade leaves Home Assistant's pod alone")
	ss, err := e.kube.AppsV1().StatefulSets(cfg.Namespace).Get(ctx, "home-assistant-mqtt", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, ss.Status.UpdateRevision, ss.Status.CurrentRevision)
	var images []string
	for _, c := range ss.Spec.Template.Spec.Containers {
		images = append(images, c.Image)
	}
	assert.Contains(t, images, "docker.io/library/eclipse-mosquitto:2.0.99-test")

	// Turning a component off deletes its objects (k3s would leave them)
	// and keeps its volume.
	off := cfg
	off.Components = []config.Component{config.MQTT, config.NodeRED}
	res, err = e.installer(3*time.Minute).Install(ctx, off)
	require.NoError(t, err, "events:\n%s", e.events)
	assert.Equal(t, []string{"hakube-10-esphome.yaml"}, res.Files.Removed)
	_, err = e.kube.CoreV1().Secrets(cfg.Namespace).Get(ctx, "home-assistant-esphome", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the esphome Secret is deleted: %v", err)
	_, err = e.kube.CoreV1().PersistentVolumeClaims(cfg.Namespace).Get(ctx, "home-assistant-esphome-data-0", metav1.GetOptions{})
	assert.NoError(t, err, "the esphome volume is kept")
	_, err = e.k3s.K3sV1().Addons("kube-system").Get(ctx, "hakube-10-esphome", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "its Addon is gone")
	_, err = e.kube.CoreV1().Secrets(cfg.Namespace).Get(ctx, "home-assistant-mqtt", metav1.GetOptions{})
	assert.NoError(t, err, "other components are untouched")

	// Secrets never appear in what we printed.
	sec, err := installer.StateDir{Path: e.stateDir}.Secrets()
	require.NoError(t, err)
	resJSON, _ := json.Marshal(res)
	for _, v := range []string{sec.MQTTHomeAssistant.Password, sec.NodeREDPassword, sec.ESPHomePassword, sec.NodeREDCredentialSecret} {
		assert.NotContains(t, e.events.String(), v)
		assert.NotContains(t, string(resJSON), v)
	}

	// Uninstall keeps the volumes and nothing else.
	ures, err := e.installer(0).Uninstall(ctx, cfg.Namespace, false)
	require.NoError(t, err)
	assert.NotEmpty(t, ures.VolumesKept)
	left := ourVersions(t, e, cfg.Namespace)
	for k := range left {
		assert.True(t, strings.HasPrefix(k, "pvc/"), "left after uninstall: %s", k)
	}
	assert.Len(t, left, claimCount(claimsFor(t, &cfg)))
	entries, _ := os.ReadDir(e.cl.ManifestsDir)
	for _, en := range entries {
		assert.False(t, strings.HasPrefix(en.Name(), manifests.FilePrefix), "file left: %s", en.Name())
	}

	_, err = e.installer(0).Uninstall(ctx, cfg.Namespace, true)
	require.NoError(t, err)
	assert.Empty(t, ourVersions(t, e, cfg.Namespace), "purge leaves nothing")
}

func TestE2EBrokenManifestShowsK3sMessage(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	e := startEnv(t, testcluster.Options{PollInterval: time.Second}, &cfg)
	brokenManifestBody(t, e, &cfg, 2*time.Minute)
}

func brokenManifestBody(t *testing.T, e *env, cfgp *config.Config, timeout time.Duration) {
	cfg := *cfgp
	sec, err := installer.GenerateSecrets(rand.Reader)
	require.NoError(t, err)
	files, err := manifests.Render(&cfg, sec, manifests.Options{})
	require.NoError(t, err)
	for i, f := range files {
		if f.Name == "hakube-05-volumes.yaml" {
			files[i].Content = bytes.Replace(f.Content, []byte("storage: 1Gi"), []byte("storage: 1Gee"), 1)
			require.NotEqual(t, f.Content, files[i].Content)
		}
	}
	_, err = installer.WriteManifests(e.cl.ManifestsDir, files)
	require.NoError(t, err)
	err = installer.Wait(context.Background(), e.clients, installer.LineReporter(e.events, false), &cfg, files, timeout)
	require.Error(t, err)
	assert.ErrorIs(t, err, installer.ErrRejected)
	assert.Contains(t, err.Error(), "hakube-05-volumes.yaml")
	assert.Contains(t, err.Error(), "quantity", "k3s's own message says what is wrong")
}

func TestE2EAPIServerDownDuringWait(t *testing.T) {
	cfg := config.Defaults(config.ProfileBasic)
	e := startEnv(t, testcluster.Options{PollInterval: 5 * time.Second}, &cfg)
	ctx := context.Background()
	in := e.installer(10 * time.Second)
	var once sync.Once
	var stopErr error
	in.Report = func(ev installer.Event) {
		// The files are written and the wait begins: take the API server away.
		if ev.Phase == installer.PhaseApply && ev.Level == installer.LevelWait {
			once.Do(func() { stopErr = e.cl.StopAPIServer() })
		}
	}
	_, err := in.Install(ctx, cfg)
	require.NoError(t, stopErr)
	require.Error(t, err)
	assert.ErrorIs(t, err, installer.ErrTimeout)
	assert.Contains(t, err.Error(), "API server stopped answering")
	assert.Contains(t, err.Error(), "run the same command again")
	require.NoError(t, e.cl.StartAPIServer())
	res, err := e.installer(3*time.Minute).Install(ctx, cfg)
	require.NoError(t, err, "a re-run converges once the API server is back; events:\n%s", e.events)
	assert.True(t, res.Waited)
	assert.Empty(t, res.Files.Written, "the first run's files were complete")
}

// TestE2EServerSideDryRun sends every profile's objects to the API server
// with dryRun=All, with and without the Prometheus operator's CRD.
func TestE2EServerSideDryRun(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	e := startEnv(t, testcluster.Options{PollInterval: time.Hour, PrometheusCRDs: true}, &cfg)
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(e.clients.Config)
	require.NoError(t, err)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(e.kube.Discovery()))
	_, err = e.kube.CoreV1().Namespaces().Create(ctx, &corev1Namespace, metav1.CreateOptions{})
	require.NoError(t, err)
	sec := installer.PlaceholderSecrets()
	profiles := map[string]config.Config{}
	for _, p := range config.Profiles() {
		c := config.Defaults(p)
		if p == config.ProfileExternalDB {
			c.DatabaseURLFile = "/etc/hakube/database-url"
		}
		if p == config.ProfileProduction {
			c.IngressHost, c.IngressTLS, c.ClusterIssuer = "home.example.com", true, "letsencrypt"
			c.Monitoring = config.MonitoringOn
		}
		profiles[string(p)] = c
	}
	z := config.Defaults(config.ProfileEdge)
	z.Components = append(z.Components, config.Zigbee2MQTT)
	z.ZigbeeDevice, z.ZigbeeAdapter, z.HostNetwork = "/dev/serial/by-id/usb-ITEAD_x-if00", "ember", true
	profiles["edge-zigbee"] = z
	keys := make([]string, 0, len(profiles))
	for k := range profiles {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	count := 0
	for _, name := range keys {
		c := profiles[name]
		files, err := manifests.Render(&c, sec, manifests.Options{ServiceMonitorCRD: true})
		require.NoError(t, err, name)
		// Namespaces for real first: a dry-run create of one does not let
		// the objects inside it be checked.
		for _, f := range files {
			for _, d := range strings.Split(string(f.Content), "\n---\n") {
				obj := &unstructured.Unstructured{}
				require.NoError(t, yaml.Unmarshal([]byte(d), &obj.Object))
				if obj.GetKind() != "Namespace" {
					continue
				}
				_, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, obj, metav1.CreateOptions{})
				if !apierrors.IsAlreadyExists(err) {
					require.NoError(t, err, "%s: namespace %s", name, obj.GetName())
				}
			}
		}
		for _, f := range files {
			for _, d := range strings.Split(string(f.Content), "\n---\n") {
				obj := &unstructured.Unstructured{}
				require.NoError(t, yaml.Unmarshal([]byte(d), &obj.Object), "%s %s", name, f.Name)
				gvk := obj.GroupVersionKind()
				m, err := mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
				require.NoError(t, err, "%s: %s", name, gvk)
				var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
				if obj.GetNamespace() != "" {
					ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
				}
				_, err = ri.Create(ctx, obj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
				if gvk.Kind == "Namespace" && apierrors.IsAlreadyExists(err) {
					continue
				}
				require.NoError(t, err, "%s: %s %s rejected by the API server", name, gvk.Kind, obj.GetName())
				count++
			}
		}
	}
	t.Logf("%d objects accepted by server-side dry-run", count)
	assert.Greater(t, count, 40)
}

func TestE2EMonitoringTrueWithoutCRDFailsClearly(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	cfg.Monitoring = config.MonitoringOn
	e := startEnv(t, testcluster.Options{PollInterval: time.Hour}, &cfg)
	_, err := e.installer(time.Minute).Install(context.Background(), cfg)
	require.Error(t, err)
	assert.ErrorIs(t, err, installer.ErrPreflight)
	assert.Contains(t, err.Error(), "monitoring: auto")
	entries, _ := os.ReadDir(e.cl.ManifestsDir)
	assert.Empty(t, entries, "nothing written on a preflight failure")
}

func TestE2ENodePortTaken(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	e := startEnv(t, testcluster.Options{PollInterval: time.Hour}, &cfg)
	ctx := context.Background()
	other := []byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"grafana","namespace":"default"},
"spec":{"type":"NodePort","selector":{"app":"grafana"},"ports":[{"port":3000,"nodePort":30123}]}}`)
	err := e.kube.CoreV1().RESTClient().Post().AbsPath("/api/v1/namespaces/default/services").Body(other).
		SetHeader("Content-Type", "application/json").Do(ctx).Error()
	require.NoError(t, err)
	_, err = e.installer(time.Minute).Install(ctx, cfg)
	require.Error(t, err)
	assert.True(t, errors.Is(err, installer.ErrPreflight))
	assert.Contains(t, err.Error(), "default/grafana")
	assert.Contains(t, err.Error(), "--node-port")
}

// lastApplied finds when the stand-in last applied a file, from its log.
func lastApplied(log string) (time.Time, bool) {
	var last time.Time
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "msg=applied") {
			continue
		}
		ts, _, _ := strings.Cut(strings.TrimPrefix(l, "time="), " ")
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			last = t
		}
	}
	return last, !last.IsZero()
}

var corev1Namespace = corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "home-assistant"}}
