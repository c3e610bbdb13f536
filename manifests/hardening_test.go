package manifests_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

func renderWith(t *testing.T, c config.Config, sec manifests.Secrets, opts manifests.Options) []manifests.File {
	t.Helper()
	require.NoError(t, c.Validate())
	files, err := manifests.Render(&c, sec, opts)
	require.NoError(t, err)
	return files
}

func fileNamed(t *testing.T, files []manifests.File, name string) manifests.File {
	t.Helper()
	for _, f := range files {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no file %s rendered", name)
	return manifests.File{}
}

func claimsOf(t *testing.T, files []manifests.File) map[string]*corev1.PersistentVolumeClaim {
	t.Helper()
	out := map[string]*corev1.PersistentVolumeClaim{}
	for _, o := range decodeAll(t, files) {
		if pvc, ok := o.obj.(*corev1.PersistentVolumeClaim); ok {
			out[pvc.Namespace+"/"+pvc.Name] = pvc
		}
	}
	return out
}

// TestClaimsOnlyInVolumesFile: every claim is in the volumes file and in no
// other, and every claim a workload mounts is there.
func TestClaimsOnlyInVolumesFile(t *testing.T) {
	for _, rc := range cases {
		t.Run(rc.name, func(t *testing.T) {
			files := render(t, rc)
			for _, f := range files {
				if f.Name != manifests.VolumesFile {
					assert.NotContains(t, string(f.Content), "kind: PersistentVolumeClaim", "%s holds a claim: k3s would prune it when it leaves", f.Name)
				}
			}
			claims := claimsOf(t, files)
			for _, o := range decodeAll(t, files) {
				var spec corev1.PodSpec
				var ns string
				switch v := o.obj.(type) {
				case *appsv1.StatefulSet:
					spec, ns = v.Spec.Template.Spec, v.Namespace
				case *batchv1.CronJob:
					spec, ns = v.Spec.JobTemplate.Spec.Template.Spec, v.Namespace
				default:
					continue
				}
				for _, vol := range spec.Volumes {
					if vol.PersistentVolumeClaim != nil {
						assert.Contains(t, claims, ns+"/"+vol.PersistentVolumeClaim.ClaimName, "%s mounts a claim the volumes file lacks", o.name)
					}
				}
			}
		})
	}
}

// TestKeptClaimsNeverLeave: with the previous claims passed in, turning a
// component off, changing the namespace or the sizes never removes or
// changes a claim in the volumes file: k3s has nothing to prune.
func TestKeptClaimsNeverLeave(t *testing.T) {
	before := withZigbee(config.Defaults(config.ProfileProduction), "/dev/serial/by-id/usb-x-if00", "ember")
	before.NodeName = "pi4"
	first := renderWith(t, before, testSecrets(), manifests.Options{})
	kept, err := manifests.ParseClaims(fileNamed(t, first, manifests.VolumesFile).Content)
	require.NoError(t, err)
	require.Len(t, kept, 10, "production with a USB radio has ten claims (the radio namespace has its backups claim)")

	after := config.Defaults(config.ProfileEdge) // no PostgreSQL, no Zigbee2MQTT
	after.Namespace = "ha3"
	after.Volumes.Config = "50Gi"
	second := renderWith(t, after, testSecrets(), manifests.Options{KeepClaims: kept})
	got := claimsOf(t, second)
	for key, old := range claimsOf(t, first) {
		now, ok := got[key]
		if assert.True(t, ok, "claim %s left the volumes file: k3s would delete it", key) {
			assert.Equal(t, old.Spec, now.Spec, "claim %s changed", key)
			assert.Equal(t, "false", now.Labels[manifests.LabelNoPrune])
		}
	}
	assert.Contains(t, got, "ha3/home-assistant-config-0", "the new namespace gets its own claims")
	assert.Equal(t, "50Gi", got["ha3/home-assistant-config-0"].Spec.Resources.Requests.Storage().String())
	// The old namespaces stay in the namespace file: pruning one would
	// delete its claims with it.
	var nss []string
	for _, o := range decodeAll(t, []manifests.File{fileNamed(t, second, "hakube-00-namespace.yaml")}) {
		nss = append(nss, o.name)
	}
	assert.ElementsMatch(t, []string{"ha3", "home-assistant", "home-assistant-radio"}, nss)

	// Rendering again with the claims of the second render changes nothing.
	kept2, err := manifests.ParseClaims(fileNamed(t, second, manifests.VolumesFile).Content)
	require.NoError(t, err)
	third := renderWith(t, after, testSecrets(), manifests.Options{KeepClaims: kept2})
	assert.Equal(t, string(fileNamed(t, second, manifests.VolumesFile).Content), string(fileNamed(t, third, manifests.VolumesFile).Content))

	_, err = manifests.Render(&after, testSecrets(), manifests.Options{KeepClaims: []manifests.Claim{{Namespace: "ha3", Name: "x"}}})
	assert.ErrorContains(t, err, "kept claim ha3/x lacks")
}

// TestParseClaimsOfOlderLayout: the claims of the one-pod layout (each in
// its component's file) are found, so the first upgrade keeps them all.
func TestParseClaimsOfOlderLayout(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", "older-layout-edge-zigbee-usb.yaml"))
	require.NoError(t, err)
	kept, err := manifests.ParseClaims(old)
	require.NoError(t, err)
	var names []string
	for _, c := range kept {
		names = append(names, c.Namespace+"/"+c.Name+"="+c.Size+"@"+c.StorageClass)
	}
	sort.Strings(names)
	assert.Equal(t, []string{
		"home-assistant/home-assistant-backups-0=10Gi@local-path",
		"home-assistant/home-assistant-config-0=10Gi@local-path",
		"home-assistant/home-assistant-esphome-data-0=5Gi@local-path",
		"home-assistant/home-assistant-media-0=20Gi@local-path",
		"home-assistant/home-assistant-mqtt-data-0=1Gi@local-path",
		"home-assistant/home-assistant-nodered-data-0=1Gi@local-path",
		"home-assistant/home-assistant-share-0=5Gi@local-path",
		"home-assistant/home-assistant-zigbee2mqtt-data-0=1Gi@local-path",
	}, names)
	c := cases[4].cfg() // edge-zigbee-usb, saved with local-path
	c.StorageClass = "local-path"
	got := claimsOf(t, renderWith(t, c, testSecrets(), manifests.Options{KeepClaims: kept}))
	for _, k := range kept {
		pvc, ok := got[k.Namespace+"/"+k.Name]
		require.True(t, ok, "%s/%s left the volumes file", k.Namespace, k.Name)
		assert.Equal(t, "local-path", *pvc.Spec.StorageClassName, "an existing install keeps local-path")
	}
	assert.Contains(t, got, "home-assistant-radio/home-assistant-zigbee2mqtt-data-0", "the radio workload's claim in its namespace")
}

// TestInstallMarker: with an install id every file starts with the marker
// line and every object carries the label; without one there is neither.
func TestInstallMarker(t *testing.T) {
	c := cases[4].cfg()
	for _, f := range renderWith(t, c, testSecrets(), manifests.Options{InstallID: "a1b2c3d4"}) {
		m, ok := manifests.ReadMarker(f.Content)
		require.True(t, ok, "%s has no marker", f.Name)
		assert.Equal(t, manifests.Marker{InstallID: "a1b2c3d4", Namespace: "home-assistant"}, m)
		for _, d := range docs(f.Content) {
			var o struct {
				Metadata struct {
					Labels map[string]string `json:"labels"`
				} `json:"metadata"`
			}
			require.NoError(t, yaml.Unmarshal(d, &o))
			assert.Equal(t, "a1b2c3d4", o.Metadata.Labels[manifests.LabelInstallID], "%s: an object without the install id", f.Name)
		}
	}
	for _, f := range renderWith(t, c, testSecrets(), manifests.Options{}) {
		_, ok := manifests.ReadMarker(f.Content)
		assert.False(t, ok)
		assert.NotContains(t, string(f.Content), manifests.LabelInstallID)
	}
	_, err := manifests.Render(&c, testSecrets(), manifests.Options{InstallID: "Not Valid"})
	assert.ErrorContains(t, err, "install id")
}

// TestRetainStorageClass: hakube's class keeps data when a claim goes, and
// is what new installs use.
func TestRetainStorageClass(t *testing.T) {
	files := render(t, cases[0])
	var sc *storagev1.StorageClass
	for _, o := range decodeAll(t, []manifests.File{fileNamed(t, files, manifests.VolumesFile)}) {
		if v, ok := o.obj.(*storagev1.StorageClass); ok {
			sc = v
		}
	}
	require.NotNil(t, sc)
	assert.Equal(t, manifests.RetainStorageClass, sc.Name)
	assert.Equal(t, "rancher.io/local-path", sc.Provisioner)
	assert.Equal(t, corev1.PersistentVolumeReclaimRetain, *sc.ReclaimPolicy)
	assert.Equal(t, storagev1.VolumeBindingWaitForFirstConsumer, *sc.VolumeBindingMode)
	assert.Equal(t, "false", sc.Labels[manifests.LabelNoPrune])
	for _, pvc := range claimsOf(t, files) {
		assert.Equal(t, manifests.RetainStorageClass, *pvc.Spec.StorageClassName)
	}
}

// TestIngressHostWildcard: a wildcard host is quoted (unquoted, "*.x" is a
// YAML alias and the Ingress is broken or refused).
func TestIngressHostWildcard(t *testing.T) {
	c := config.Defaults(config.ProfileProduction)
	c.IngressHost, c.IngressTLS = "*.example.com", true
	for _, o := range decodeAll(t, renderWith(t, c, testSecrets(), manifests.Options{})) {
		if ing, ok := o.obj.(*networkingv1.Ingress); ok {
			assert.Equal(t, "*.example.com", ing.Spec.Rules[0].Host)
			assert.Equal(t, []string{"*.example.com"}, ing.Spec.TLS[0].Hosts)
			return
		}
	}
	t.Fatal("no Ingress rendered")
}

// TestRenderParsesEveryDocument: what k3s could not parse never leaves Render.
func TestRenderParsesEveryDocument(t *testing.T) {
	bad := []byte("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: x\nspec:\n  rules:\n    - host: *.example.com\n")
	assert.Error(t, manifests.CheckDocuments(bad))
	assert.Error(t, manifests.CheckDocuments([]byte("just: a map\n")), "no kind")
	assert.NoError(t, manifests.CheckDocuments([]byte("# comment only\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n")))
}

func checksumsOf(t *testing.T, files []manifests.File) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, o := range decodeAll(t, files) {
		if ss, ok := o.obj.(*appsv1.StatefulSet); ok {
			if v, ok := ss.Spec.Template.Annotations["hakube.io/config-checksum"]; ok {
				out[ss.Name] = v
			}
		}
	}
	return out
}

// TestChecksumIsKeyed: the config-checksum annotations are keyed hashes:
// another key gives other checksums for the very same configuration and
// secrets, so nobody without the key can test a guess of the recorder URL
// or a password against them.
func TestChecksumIsKeyed(t *testing.T) {
	c := config.Defaults(config.ProfileExternalDB)
	c.DatabaseURLFile = "/etc/hakube/database-url"
	c.Components = append(c.Components, config.Zigbee2MQTT)
	c.ZigbeeDevice, c.ZigbeeAdapter = "tcp://192.0.2.10:6638", "zstack"
	c.Database = config.DatabaseExternal
	a, b := testSecrets(), testSecrets()
	a.ChecksumKey, b.ChecksumKey = "key-one-0123456789abcdef", "key-two-0123456789abcdef"
	ca := checksumsOf(t, renderWith(t, c, a, manifests.Options{}))
	cb := checksumsOf(t, renderWith(t, c, b, manifests.Options{}))
	for _, name := range []string{"home-assistant", "home-assistant-mqtt", "home-assistant-nodered", "home-assistant-esphome", "home-assistant-zigbee2mqtt"} {
		require.Contains(t, ca, name, "%s has no config checksum: a change of its settings or secrets would not roll it", name)
	}
	for name := range ca {
		assert.NotEqual(t, ca[name], cb[name], "%s: the checksum does not depend on the key", name)
	}
	// It still changes with what it covers.
	other := testSecrets()
	other.ChecksumKey = a.ChecksumKey
	other.DatabaseURL = "mysql://ha:another@db.lan/homeassistant"
	assert.NotEqual(t, ca["home-assistant"], checksumsOf(t, renderWith(t, c, other, manifests.Options{}))["home-assistant"])
	other = testSecrets()
	other.ChecksumKey, other.NodeREDPassword = a.ChecksumKey, "another-nodered-admin"
	assert.NotEqual(t, ca["home-assistant-nodered"], checksumsOf(t, renderWith(t, c, other, manifests.Options{}))["home-assistant-nodered"],
		"a new Node-RED password must roll Node-RED's pod")
	// Without a key of its own, one derived from the other secrets is used.
	d := checksumsOf(t, renderWith(t, c, testSecrets(), manifests.Options{}))
	assert.NotEqual(t, ca["home-assistant"], d["home-assistant"])
}

// TestMQTTWebsocketsOnlyWhenAsked: no 9001 listener unless mqtt-websockets.
func TestMQTTWebsocketsOnlyWhenAsked(t *testing.T) {
	for _, ws := range []bool{false, true} {
		c := config.Defaults(config.ProfileEdge)
		c.MQTTWebsockets = ws
		st := stack{map[string]*corev1.ConfigMap{}, map[string]*corev1.Secret{}, map[string]*appsv1.StatefulSet{}}
		var svc *corev1.Service
		for _, o := range decodeAll(t, renderWith(t, c, testSecrets(), manifests.Options{})) {
			switch v := o.obj.(type) {
			case *corev1.ConfigMap:
				st.configMaps[o.name] = v
			case *appsv1.StatefulSet:
				st.statefulSets[o.name] = v
			case *corev1.Service:
				if v.Name == "home-assistant-mqtt" {
					svc = v
				}
			}
		}
		conf := st.configData(t, "home-assistant-mqtt", "mosquitto.conf")
		require.NotNil(t, svc)
		var ports []int32
		for _, p := range svc.Spec.Ports {
			ports = append(ports, p.Port)
		}
		for _, p := range st.container(t, "home-assistant-mqtt", "mqtt").Ports {
			ports = append(ports, p.ContainerPort)
		}
		assert.Equal(t, ws, strings.Contains(conf, "listener 9001"), "websockets %t", ws)
		assert.Equal(t, ws, slices.Contains(ports, 9001), "websockets %t", ws)
		assert.Contains(t, conf, "acl_file /mosquitto/config/acl")
		assert.Contains(t, conf, "allow_anonymous false")
	}
}

func haService(t *testing.T, files []manifests.File) *corev1.Service {
	t.Helper()
	for _, o := range decodeAll(t, files) {
		if s, ok := o.obj.(*corev1.Service); ok && s.Name == "home-assistant" {
			return s
		}
	}
	t.Fatal("no home-assistant Service")
	return nil
}

// TestClientAddressesKept: NodePort and LoadBalancer keep client addresses,
// a TLS Ingress gets a ClusterIP Service, and Home Assistant trusts only the
// pod CIDR, and only when an Ingress proxies.
func TestClientAddressesKept(t *testing.T) {
	for _, st := range []config.ServiceType{config.NodePort, config.LoadBalancer} {
		c := config.Defaults(config.ProfileEdge)
		c.ServiceType = st
		s := haService(t, renderWith(t, c, testSecrets(), manifests.Options{}))
		assert.Equal(t, corev1.ServiceExternalTrafficPolicyLocal, s.Spec.ExternalTrafficPolicy, "%s", st)
		pkg := configMapData(t, renderWith(t, c, testSecrets(), manifests.Options{}), "home-assistant-config", "hakube.yaml")
		assert.NotContains(t, pkg, "trusted_proxies", "nothing proxies without an Ingress")
		assert.NotContains(t, pkg, "use_x_forwarded_for: true")
	}
	c := config.Defaults(config.ProfileProduction)
	c.IngressHost, c.IngressTLS = "home.example.com", true // service-type stays LoadBalancer
	files := renderWith(t, c, testSecrets(), manifests.Options{})
	s := haService(t, files)
	assert.Equal(t, corev1.ServiceTypeClusterIP, s.Spec.Type, "no plain-HTTP LoadBalancer next to a TLS Ingress")
	assert.Empty(t, s.Spec.ExternalTrafficPolicy)
	pkg := configMapData(t, files, "home-assistant-config", "hakube.yaml")
	assert.Contains(t, pkg, "trusted_proxies:\n    - 10.42.0.0/16\n")
	assert.NotContains(t, pkg, "127.0.0.1")
}

func configMapData(t *testing.T, files []manifests.File, name, key string) string {
	t.Helper()
	for _, o := range decodeAll(t, files) {
		if cm, ok := o.obj.(*corev1.ConfigMap); ok && cm.Name == name {
			return cm.Data[key]
		}
	}
	t.Fatalf("no ConfigMap %s", name)
	return ""
}

// TestRadioWorkload: a USB radio's Zigbee2MQTT runs alone in a privileged
// namespace of its own, pinned to the radio's node; Home Assistant's pod
// holds Home Assistant only, and its namespace enforces baseline.
func TestRadioWorkload(t *testing.T) {
	for _, rc := range cases {
		t.Run(rc.name, func(t *testing.T) {
			c := rc.cfg()
			nsLevel := map[string]string{}
			sets := map[string]*appsv1.StatefulSet{}
			for _, o := range decodeAll(t, render(t, rc)) {
				switch v := o.obj.(type) {
				case *corev1.Namespace:
					nsLevel[v.Name] = v.Labels["pod-security.kubernetes.io/enforce"]
				case *appsv1.StatefulSet:
					sets[v.Name] = v
				}
			}
			if c.HostNetwork || c.BackupCopyDir != "" {
				// Baseline forbids host namespaces and host directories: the
				// host network and a backup copy on a host disk are
				// privileges the user asked for (README).
				assert.Equal(t, "privileged", nsLevel[c.Namespace], "Home Assistant's namespace with host-network or backup-copy-dir")
			} else {
				assert.Equal(t, "baseline", nsLevel[c.Namespace], "Home Assistant's namespace")
			}
			ha := sets["home-assistant"]
			require.NotNil(t, ha)
			require.Len(t, ha.Spec.Template.Spec.Containers, 1, "Home Assistant shares its pod with nothing")
			assert.Equal(t, "home-assistant", ha.Spec.Template.Spec.Containers[0].Name)
			for name, s := range sets {
				assert.Equal(t, int32(1), *s.Spec.Replicas, name)
			}
			z, ok := sets["home-assistant-zigbee2mqtt"]
			if !c.Has(config.Zigbee2MQTT) {
				assert.False(t, ok)
				assert.Len(t, nsLevel, 1)
				return
			}
			require.True(t, ok)
			usb := strings.HasPrefix(c.ZigbeeDevice, "/dev/")
			if usb {
				assert.Equal(t, c.Namespace+"-radio", z.Namespace)
				assert.Equal(t, "privileged", nsLevel[z.Namespace])
			} else {
				assert.Equal(t, c.Namespace, z.Namespace, "a network coordinator needs no privilege")
				assert.Len(t, nsLevel, 1)
			}
			if c.NodeName != "" {
				assert.Equal(t, map[string]string{"kubernetes.io/hostname": c.NodeName}, z.Spec.Template.Spec.NodeSelector, "pinned to the radio's node")
			}
			env := map[string]string{}
			for _, e := range z.Spec.Template.Spec.Containers[0].Env {
				env[e.Name] = e.Value
			}
			assert.Equal(t, "mqtt://home-assistant-mqtt."+c.Namespace+".svc:1883", env["ZIGBEE2MQTT_CONFIG_MQTT_SERVER"], "the broker through its Service")
		})
	}
}

// podLevel is the strictest Pod Security level spec passes.
func podLevel(t *testing.T, meta corev1.Pod, spec corev1.PodSpec) psaapi.Level {
	t.Helper()
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	for _, l := range []psaapi.Level{psaapi.LevelRestricted, psaapi.LevelBaseline} {
		if policy.AggregateCheckResults(ev.EvaluatePod(psaapi.LevelVersion{Level: l, Version: psaapi.LatestVersion()}, &meta.ObjectMeta, &spec)).Allowed {
			return l
		}
	}
	return psaapi.LevelPrivileged
}

type podOf struct {
	workload, namespace string
	meta                corev1.Pod
	spec                corev1.PodSpec
}

func podsOf(t *testing.T, files []manifests.File) ([]podOf, map[string]psaapi.Level) {
	t.Helper()
	var pods []podOf
	enforce := map[string]psaapi.Level{}
	for _, o := range decodeAll(t, files) {
		switch v := o.obj.(type) {
		case *corev1.Namespace:
			l, err := psaapi.ParseLevel(v.Labels["pod-security.kubernetes.io/enforce"])
			require.NoError(t, err, v.Name)
			enforce[v.Name] = l
		case *appsv1.StatefulSet:
			pods = append(pods, podOf{v.Name, v.Namespace, corev1.Pod{ObjectMeta: v.Spec.Template.ObjectMeta}, v.Spec.Template.Spec})
		case *batchv1.CronJob:
			pods = append(pods, podOf{v.Name, v.Namespace, corev1.Pod{ObjectMeta: v.Spec.JobTemplate.Spec.Template.ObjectMeta}, v.Spec.JobTemplate.Spec.Template.Spec})
		}
	}
	return pods, enforce
}

// containerLevels is, for each container of a pod, the strictest level it
// passes in its pod (pod-level settings such as the host network count).
func containerLevels(t *testing.T, p podOf) map[string]psaapi.Level {
	t.Helper()
	out := map[string]psaapi.Level{}
	for i, ct := range p.spec.InitContainers {
		s := *p.spec.DeepCopy()
		s.InitContainers, s.Containers = []corev1.Container{p.spec.InitContainers[i]}, nil
		out["init:"+ct.Name] = podLevel(t, p.meta, s)
	}
	for i, ct := range p.spec.Containers {
		s := *p.spec.DeepCopy()
		s.InitContainers, s.Containers = nil, []corev1.Container{p.spec.Containers[i]}
		out[ct.Name] = podLevel(t, p.meta, s)
	}
	return out
}

var levelRank = map[psaapi.Level]int{psaapi.LevelRestricted: 0, psaapi.LevelBaseline: 1, psaapi.LevelPrivileged: 2}

// TestPodSecurityLevels: every rendered pod passes its namespace's enforce
// level (the pod-security-admission library's own checks); every container
// but the ones listed runs restricted.
func TestPodSecurityLevels(t *testing.T) {
	// Root images or root setup steps: baseline is the best they do.
	baselineOnly := []string{"home-assistant/init:seed-config", "home-assistant/home-assistant", "home-assistant-esphome/esphome",
		"home-assistant-zigbee2mqtt/init:zigbee2mqtt-config", "home-assistant-zigbee2mqtt/zigbee2mqtt", "home-assistant-backup/backup", "home-assistant-zigbee2mqtt-backup/backup"}
	for _, rc := range cases {
		t.Run(rc.name, func(t *testing.T) {
			pods, enforce := podsOf(t, render(t, rc))
			for _, p := range pods {
				lvl, ok := enforce[p.namespace]
				require.True(t, ok, "%s runs in %s, which is not ours", p.workload, p.namespace)
				got := podLevel(t, p.meta, p.spec)
				assert.LessOrEqual(t, levelRank[got], levelRank[lvl], "%s (%s) is refused by its namespace's enforce=%s", p.workload, got, lvl)
				for ct, l := range containerLevels(t, p) {
					if l == psaapi.LevelRestricted {
						continue
					}
					if p.workload == "home-assistant-zigbee2mqtt" && l == psaapi.LevelPrivileged {
						assert.Contains(t, p.namespace, "-radio", "privileged only in the radio's namespace")
						continue
					}
					if p.workload == "home-assistant" && rc.cfg().HostNetwork && l == psaapi.LevelPrivileged {
						continue // the host network, asked for: nothing else in the pod
					}
					assert.Contains(t, baselineOnly, p.workload+"/"+ct, "%s/%s could run restricted", p.workload, ct)
				}
			}
		})
	}
}

// TestPodSecurityFigures prints each container's Pod Security level for the
// golden files in HAKUBE_GOLDEN_DIR (default testdata/golden), the figures
// of the hardening report.
func TestPodSecurityFigures(t *testing.T) {
	dir := os.Getenv("HAKUBE_GOLDEN_DIR")
	if dir == "" {
		dir = filepath.Join("testdata", "golden")
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		pods, enforce := podsOf(t, []manifests.File{{Name: filepath.Base(path), Content: data}})
		var rows []string
		for _, p := range pods {
			for ct, l := range containerLevels(t, p) {
				rows = append(rows, fmt.Sprintf("%-28s %-26s %-36s %-10s (namespace enforces %s)", filepath.Base(path), p.namespace, p.workload+"/"+ct, l, enforce[p.namespace]))
			}
		}
		sort.Strings(rows)
		t.Log("\n" + strings.Join(rows, "\n"))
	}
}

// TestNetworkPolicies: each of our namespaces denies ingress by default and
// every port a Service offers is opened by a policy to named sources only,
// except Home Assistant's own port when it is a NodePort or LoadBalancer.
func TestNetworkPolicies(t *testing.T) {
	for _, rc := range cases {
		t.Run(rc.name, func(t *testing.T) {
			var pols []*networkingv1.NetworkPolicy
			var svcs []*corev1.Service
			haExposed := false
			c := rc.cfg()
			nss := map[string]bool{}
			for _, o := range decodeAll(t, render(t, rc)) {
				switch v := o.obj.(type) {
				case *networkingv1.NetworkPolicy:
					pols = append(pols, v)
				case *corev1.Service:
					svcs = append(svcs, v)
					if v.Name == "home-assistant" {
						haExposed = v.Spec.Type != corev1.ServiceTypeClusterIP
					}
				case *corev1.Namespace:
					nss[v.Name] = true
				}
			}
			for ns := range nss {
				found := false
				for _, p := range pols {
					if p.Namespace == ns && len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.Ingress) == 0 {
						found = true
					}
				}
				assert.True(t, found, "namespace %s has no default deny", ns)
			}
			for _, s := range svcs {
				for _, port := range s.Spec.Ports {
					var rule *networkingv1.NetworkPolicyIngressRule
					for _, p := range pols {
						if p.Namespace != s.Namespace || p.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] != s.Spec.Selector["app.kubernetes.io/name"] {
							continue
						}
						for i, r := range p.Spec.Ingress {
							if r.Ports[0].Port.IntValue() == int(port.Port) {
								rule = &p.Spec.Ingress[i]
							}
						}
					}
					if !assert.NotNil(t, rule, "%s/%s port %d is open to nobody (or not covered)", s.Namespace, s.Name, port.Port) {
						continue
					}
					app := s.Spec.Selector["app.kubernetes.io/name"]
					exposed := app == "home-assistant" && haExposed || app == "mosquitto" && c.MQTTExposed() && (port.Port == 1883 || port.Port == 8883)
					for _, d := range manifests.Dashboards() {
						if app == d.App && int(port.Port) == d.Port && c.DashboardPort(d.Component) != 0 {
							exposed = true
						}
					}
					assert.Equal(t, exposed, len(rule.From) == 0, "%s port %d: open to every source only when it is Home Assistant's NodePort/LoadBalancer or the broker's LAN ports", s.Name, port.Port)
				}
			}
		})
	}
}

// exposedPorts lists what a node opens to its network for files: the node
// ports of NodePort and LoadBalancer Services, the port k3s's ServiceLB
// (klipper) binds on the node for a LoadBalancer, and every container port
// of a pod on the host network. Ports of k3s's own ingress controller are
// not counted (they exist with or without hakube).
func exposedPorts(t *testing.T, files []manifests.File) []string {
	t.Helper()
	var out []string
	for _, o := range decodeAll(t, files) {
		switch v := o.obj.(type) {
		case *corev1.Service:
			for _, p := range v.Spec.Ports {
				switch v.Spec.Type {
				case corev1.ServiceTypeNodePort:
					out = append(out, fmt.Sprintf("%d (NodePort of %s)", p.NodePort, v.Name))
				case corev1.ServiceTypeLoadBalancer:
					out = append(out, fmt.Sprintf("%d (ServiceLB of %s)", p.Port, v.Name), fmt.Sprintf("a node port of %s (allocated)", v.Name))
				}
			}
		case *appsv1.StatefulSet:
			if v.Spec.Template.Spec.HostNetwork {
				for _, c := range v.Spec.Template.Spec.Containers {
					for _, p := range c.Ports {
						out = append(out, fmt.Sprintf("%d (host network: %s/%s)", p.ContainerPort, v.Name, c.Name))
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestExposureFigures prints the ports each golden file opens on the node
// (HAKUBE_GOLDEN_DIR, default testdata/golden), and checks that only Home
// Assistant's port is opened, and the broker's LAN Service with mqtt-expose.
func TestExposureFigures(t *testing.T) {
	dir := os.Getenv("HAKUBE_GOLDEN_DIR")
	if dir == "" {
		dir = filepath.Join("testdata", "golden")
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		ports := exposedPorts(t, []manifests.File{{Name: filepath.Base(path), Content: data}})
		t.Logf("%-36s %d: %s", filepath.Base(path), len(ports), strings.Join(ports, ", "))
	}
	for _, rc := range cases {
		c := rc.cfg()
		lan := 0
		dashboards := map[string]bool{}
		for _, p := range exposedPorts(t, render(t, rc)) {
			if strings.HasSuffix(p, "of home-assistant-mqtt-lan)") || strings.HasSuffix(p, "of home-assistant-mqtt-lan (allocated)") {
				lan++
				continue
			}
			if d := dashboardOf(p); d != "" {
				dashboards[d] = true
				continue
			}
			assert.Regexp(t, `home-assistant(/home-assistant)?\)$`, p, "%s: only Home Assistant and the broker's LAN Service are reachable from outside the node", rc.name)
		}
		switch c.MQTTExpose {
		case config.MQTTExposeNodePort:
			assert.Equal(t, 2, lan, "%s: the broker's two node ports", rc.name)
		case config.MQTTExposeLoadBalancer:
			assert.Equal(t, 4, lan, "%s: ServiceLB on 1883 and 8883 and their node ports", rc.name)
		default:
			assert.Zero(t, lan, "%s: the broker is not exposed", rc.name)
		}
		for _, d := range manifests.Dashboards() {
			want := c.DashboardPort(d.Component) != 0
			assert.Equal(t, want, dashboards[string(d.Component)], "%s: %s's dashboard on the LAN exactly when its node port is set", rc.name, d.Component)
		}
	}
}

// dashboardOf is the component whose dashboard an exposed port is, or "".
func dashboardOf(p string) string {
	for _, d := range manifests.Dashboards() {
		if strings.HasSuffix(p, "(NodePort of "+manifests.DashboardService(d.Component)+")") {
			return string(d.Component)
		}
	}
	return ""
}

// TestWorkloadsMatchRender: Workloads names every StatefulSet rendered.
func TestWorkloadsMatchRender(t *testing.T) {
	for _, rc := range cases {
		c := rc.cfg()
		var got []manifests.Workload
		for _, o := range decodeAll(t, render(t, rc)) {
			if ss, ok := o.obj.(*appsv1.StatefulSet); ok {
				got = append(got, manifests.Workload{Namespace: ss.Namespace, Name: ss.Name, Component: ss.Labels["app.kubernetes.io/component"]})
			}
		}
		want := manifests.Workloads(&c)
		for i := range want {
			if want[i].Component == "home-assistant" {
				want[i].Component = "server" // Home Assistant's label
			}
		}
		assert.ElementsMatch(t, want, got, rc.name)
		assert.Equal(t, "home-assistant", manifests.Workloads(&c)[0].Name)
	}
}

// TestDashboardsIngress: with dashboards-ingress each dashboard is a
// sub-host of ingress-host behind the same TLS Secret; a USB radio's
// Zigbee2MQTT gets an Ingress in its own namespace (an Ingress reaches only
// its namespace's Services); without the setting no dashboard is behind it.
func TestDashboardsIngress(t *testing.T) {
	ingresses := func(c config.Config) map[string]*networkingv1.Ingress {
		out := map[string]*networkingv1.Ingress{}
		for _, o := range decodeAll(t, render(t, renderCase{"ingress", func() config.Config { return c }, manifests.Options{}})) {
			if ing, ok := o.obj.(*networkingv1.Ingress); ok {
				out[ing.Namespace+"/"+ing.Name] = ing
			}
		}
		return out
	}
	hosts := func(ing *networkingv1.Ingress) map[string]string {
		out := map[string]string{}
		for _, r := range ing.Spec.Rules {
			out[r.Host] = r.HTTP.Paths[0].Backend.Service.Name
		}
		return out
	}
	c := withZigbee(config.Defaults(config.ProfileProduction), "/dev/ttyUSB0", "ember")
	c.IngressHost, c.IngressTLS = "*.example.com", true
	got := ingresses(c)
	require.Len(t, got, 1)
	assert.Equal(t, map[string]string{"*.example.com": "home-assistant"}, hosts(got["home-assistant/home-assistant"]))

	c.DashboardsIngress = true
	got = ingresses(c)
	require.Len(t, got, 2)
	main := got["home-assistant/home-assistant"]
	assert.Equal(t, map[string]string{"*.example.com": "home-assistant", "nodered.example.com": "home-assistant-nodered",
		"esphome.example.com": "home-assistant-esphome"}, hosts(main))
	assert.ElementsMatch(t, []string{"*.example.com", "nodered.example.com", "esphome.example.com"}, main.Spec.TLS[0].Hosts)
	radio := got["home-assistant-radio/home-assistant-zigbee2mqtt"]
	require.NotNil(t, radio, "the radio's Ingress")
	assert.Equal(t, map[string]string{"zigbee2mqtt.example.com": "home-assistant-zigbee2mqtt"}, hosts(radio))
	assert.Equal(t, "homeassistant-tls", radio.Spec.TLS[0].SecretName)
}
