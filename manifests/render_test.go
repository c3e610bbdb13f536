package manifests_test

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// testSecrets are distinctive, so a leak into any non-Secret object shows.
func testSecrets() manifests.Secrets {
	user := func(name string) manifests.MQTTUser {
		return manifests.MQTTUser{Username: name, Password: "S3cret-mqtt-" + name, Salt: []byte("saltsaltsalt")}
	}
	s := manifests.Secrets{
		MQTTHomeAssistant:       user("homeassistant"),
		MQTTZigbee2MQTT:         user("zigbee2mqtt"),
		MQTTNodeRED:             user("nodered"),
		PostgreSQLPassword:      "S3cret-postgresql",
		NodeREDPassword:         "S3cret-nodered-admin",
		NodeREDCredentialSecret: "S3cret-nodered-credentials",
		ESPHomePassword:         "S3cret-esphome",
		Zigbee2MQTTAuthToken:    "S3cret-z2m-token",
		ZigbeePanID:             4242,
		DatabaseURL:             "mysql://ha:S3cret-external-db@db.lan/homeassistant?charset=utf8mb4",
		MQTTTLS: manifests.MQTTTLS{CACert: "test-ca-certificate", CAKey: "S3cret-mqtt-ca-key",
			ServerCert: "test-server-certificate", ServerKey: "S3cret-mqtt-server-key"},
	}
	for i := range s.ZigbeeNetworkKey {
		s.ZigbeeNetworkKey[i] = byte(200 + i)
	}
	for i := range s.ZigbeeExtPanID {
		s.ZigbeeExtPanID[i] = byte(10 + i)
	}
	return s
}

func secretValues(s manifests.Secrets) []string {
	return []string{
		s.MQTTHomeAssistant.Password, s.MQTTZigbee2MQTT.Password, s.MQTTNodeRED.Password,
		s.PostgreSQLPassword, s.NodeREDPassword, s.NodeREDCredentialSecret, s.ESPHomePassword,
		s.Zigbee2MQTTAuthToken, s.DatabaseURL, "S3cret-external-db",
		"200, 201, 202", // the Zigbee network key as rendered
		s.MQTTTLS.ServerKey, s.MQTTTLS.CAKey,
	}
}

type renderCase struct {
	name string
	cfg  func() config.Config
	opts manifests.Options
}

func withZigbee(c config.Config, dev, adapter string) config.Config {
	c.Components = append(c.Components, config.Zigbee2MQTT)
	c.ZigbeeDevice, c.ZigbeeAdapter = dev, adapter
	return c
}

var cases = []renderCase{
	{"edge", func() config.Config { return config.Defaults(config.ProfileEdge) }, manifests.Options{}},
	{"basic", func() config.Config { return config.Defaults(config.ProfileBasic) }, manifests.Options{}},
	{"production", func() config.Config {
		c := config.Defaults(config.ProfileProduction)
		c.IngressHost, c.IngressTLS, c.ClusterIssuer = "home.example.com", true, "letsencrypt"
		return c
	}, manifests.Options{}},
	{"external-db", func() config.Config {
		c := config.Defaults(config.ProfileExternalDB)
		c.DatabaseURLFile = "/etc/hakube/database-url"
		return c
	}, manifests.Options{}},
	{"edge-zigbee-usb", func() config.Config {
		c := withZigbee(config.Defaults(config.ProfileEdge), "/dev/serial/by-id/usb-ITEAD_SONOFF_Zigbee_3.0_USB_Dongle_Plus_V2_20231030-if00", "ember")
		c.ZigbeeBaudrate, c.Timezone, c.NodeName = 115200, "Europe/Berlin", "pi4"
		return c
	}, manifests.Options{}},
	{"edge-zigbee-tcp-hostnetwork", func() config.Config {
		c := withZigbee(config.Defaults(config.ProfileEdge), "tcp://192.0.2.10:6638", "zstack")
		c.HostNetwork = true
		return c
	}, manifests.Options{}},
	{"edge-backup-copy", func() config.Config {
		c := config.Defaults(config.ProfileEdge)
		c.BackupCopyDir = "/mnt/usb/hakube"
		return c
	}, manifests.Options{}},
	{"small-arm-monitoring", func() config.Config {
		c := config.Defaults(config.ProfileEdge)
		c.Arch, c.ResourceSize = config.ArchARM, config.SizeSmall
		c.Components = []config.Component{config.MQTT, config.NodeRED}
		c.Monitoring = config.MonitoringAuto
		return c
	}, manifests.Options{ServiceMonitorCRD: true}},
	{"production-ingress-websockets-marked", func() config.Config {
		c := withZigbee(config.Defaults(config.ProfileProduction), "/dev/ttyACM0", "zstack")
		c.IngressHost, c.IngressTLS, c.ClusterIssuer = "*.example.com", true, "letsencrypt"
		c.MQTTWebsockets, c.NodeName = true, "nuc"
		return c
	}, manifests.Options{InstallID: "0123abcd"}},
	{"edge-mqtt-nodeport", func() config.Config {
		c := config.Defaults(config.ProfileEdge)
		c.MQTTExpose, c.MQTTNodePort, c.MQTTTLSNodePort = config.MQTTExposeNodePort, 31000, 31001
		return c
	}, manifests.Options{}},
	{"production-dashboards-ingress", func() config.Config {
		c := withZigbee(config.Defaults(config.ProfileProduction), "tcp://192.0.2.10:6638", "zstack")
		c.IngressHost, c.IngressTLS, c.ClusterIssuer = "home.example.com", true, "letsencrypt"
		c.DashboardsIngress = true
		c.NodeREDNodePort, c.ESPHomeNodePort, c.Zigbee2MQTTNodePort = 0, 0, 0
		return c
	}, manifests.Options{}},
	{"production-mqtt-loadbalancer-issuer", func() config.Config {
		c := config.Defaults(config.ProfileProduction)
		c.IngressHost, c.IngressTLS, c.ClusterIssuer = "home.example.com", true, "letsencrypt"
		c.MQTTExpose, c.MQTTTLSHosts = config.MQTTExposeLoadBalancer, []string{"mqtt.example.com", "192.0.2.20"}
		return c
	}, manifests.Options{}},
}

func render(t *testing.T, rc renderCase) []manifests.File {
	t.Helper()
	c := rc.cfg()
	require.NoError(t, c.Validate(), "test config must be valid")
	files, err := manifests.Render(&c, testSecrets(), rc.opts)
	require.NoError(t, err)
	return files
}

func joined(files []manifests.File) []byte {
	var b bytes.Buffer
	for _, f := range files {
		fmt.Fprintf(&b, "# Source: %s (sensitive: %t)\n", f.Name, f.Sensitive)
		b.Write(f.Content)
		b.WriteString("---\n")
	}
	return b.Bytes()
}

func TestRenderGolden(t *testing.T) {
	for _, rc := range cases {
		t.Run(rc.name, func(t *testing.T) {
			got := joined(render(t, rc))
			path := filepath.Join("testdata", "golden", rc.name+".yaml")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "missing golden file: run go test ./manifests -update")
			assert.Equal(t, string(want), string(got), "rendered output changed: review, then go test ./manifests -update")
		})
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	for _, rc := range cases {
		a, b := joined(render(t, rc)), joined(render(t, rc))
		assert.Equal(t, a, b, rc.name)
	}
}

// docs splits a file into its YAML documents.
func docs(content []byte) [][]byte {
	var out [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\n`).Split(string(content), -1) {
		if strings.TrimSpace(d) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

// serviceMonitor mirrors the fields of monitoring.coreos.com/v1 we render,
// so unknown or misspelled fields fail the strict decode.
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
			Authorization struct {
				Type        string `json:"type"`
				Credentials struct {
					Name     string `json:"name"`
					Key      string `json:"key"`
					Optional bool   `json:"optional"`
				} `json:"credentials"`
			} `json:"authorization"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type object struct {
	kind string
	name string
	doc  []byte
	obj  any
}

func decodeAll(t *testing.T, files []manifests.File) []object {
	t.Helper()
	var out []object
	for _, f := range files {
		for _, d := range docs(f.Content) {
			var head struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			require.NoError(t, yaml.Unmarshal(d, &head), f.Name)
			var obj any
			switch head.Kind {
			case "Namespace":
				obj = &corev1.Namespace{}
			case "ConfigMap":
				obj = &corev1.ConfigMap{}
			case "Secret":
				obj = &corev1.Secret{}
			case "PersistentVolumeClaim":
				obj = &corev1.PersistentVolumeClaim{}
			case "Service":
				obj = &corev1.Service{}
			case "StatefulSet":
				obj = &appsv1.StatefulSet{}
			case "Ingress":
				obj = &networkingv1.Ingress{}
			case "CronJob":
				obj = &batchv1.CronJob{}
			case "ServiceMonitor":
				obj = &serviceMonitor{}
			case "StorageClass":
				obj = &storagev1.StorageClass{}
			case "NetworkPolicy":
				obj = &networkingv1.NetworkPolicy{}
			case "Certificate":
				obj = &certificate{}
			default:
				t.Fatalf("%s: unexpected kind %q", f.Name, head.Kind)
			}
			require.NoError(t, yaml.UnmarshalStrict(d, obj), "%s: %s %s does not decode strictly", f.Name, head.Kind, head.Metadata.Name)
			out = append(out, object{kind: head.Kind, name: head.Metadata.Name, doc: d, obj: obj})
		}
	}
	return out
}

// certificate is the part of cert-manager's Certificate (cert-manager.io/v1)
// that hakube renders; strict decoding refuses any other field.
type certificate struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		SecretName string `json:"secretName"`
		IssuerRef  struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"issuerRef"`
		DNSNames    []string `json:"dnsNames"`
		IPAddresses []string `json:"ipAddresses,omitempty"`
	} `json:"spec"`
}

func TestRenderDecodesStrictly(t *testing.T) {
	for _, rc := range cases {
		t.Run(rc.name, func(t *testing.T) {
			c := rc.cfg()
			objs := decodeAll(t, render(t, rc))
			for _, o := range objs {
				labels := map[string]string{}
				switch v := o.obj.(type) {
				case *corev1.Namespace:
					labels = v.Labels
					assert.Equal(t, "false", v.Labels[manifests.LabelNoPrune], "namespace %s can be pruned by k3s", v.Name)
				case *corev1.ConfigMap:
					labels = v.Labels
				case *corev1.Secret:
					labels = v.Labels
				case *corev1.PersistentVolumeClaim:
					labels = v.Labels
					assert.Equal(t, c.StorageClass, *v.Spec.StorageClassName)
					assert.Equal(t, "false", v.Labels[manifests.LabelNoPrune], "claim %s can be pruned by k3s", v.Name)
				case *storagev1.StorageClass:
					labels = v.Labels
				case *networkingv1.NetworkPolicy:
					labels = v.Labels
				case *corev1.Service:
					labels = v.Labels
				case *appsv1.StatefulSet:
					labels = v.Labels
					checkPod(t, &c, v.Spec.Template.Spec, o.name)
				case *networkingv1.Ingress:
					labels = v.Labels
				case *batchv1.CronJob:
					labels = v.Labels
					checkPod(t, &c, v.Spec.JobTemplate.Spec.Template.Spec, o.name)
				case *serviceMonitor:
					labels = v.Metadata.Labels
				case *certificate:
					labels = v.Metadata.Labels
					assert.Equal(t, c.ClusterIssuer, v.Spec.IssuerRef.Name)
				}
				for _, k := range []string{"name", "instance", "component", "part-of", "managed-by"} {
					assert.NotEmpty(t, labels["app.kubernetes.io/"+k], "%s %s lacks label %s", o.kind, o.name, k)
				}
				assert.Equal(t, "hakube", labels["app.kubernetes.io/part-of"])
				assert.Equal(t, "hakube", labels["app.kubernetes.io/managed-by"])
			}
		})
	}
}

// checkPod asserts the security and image rules every pod follows.
func checkPod(t *testing.T, c *config.Config, spec corev1.PodSpec, name string) {
	t.Helper()
	require.NotNil(t, spec.AutomountServiceAccountToken, name)
	assert.False(t, *spec.AutomountServiceAccountToken, "%s mounts a service account token", name)
	all := append(slices.Clone(spec.InitContainers), spec.Containers...)
	for _, ct := range all {
		assert.Regexp(t, `:[0-9][0-9A-Za-z.\-]*$`, ct.Image, "%s/%s image must be pinned to a release", name, ct.Name)
		assert.NotContains(t, ct.Image, ":latest")
		require.NotNil(t, ct.SecurityContext, "%s/%s has no securityContext", name, ct.Name)
		priv := ct.SecurityContext.Privileged != nil && *ct.SecurityContext.Privileged
		if priv {
			assert.Equal(t, "zigbee2mqtt", ct.Name, "only zigbee2mqtt may be privileged")
			assert.Equal(t, "home-assistant-zigbee2mqtt", name, "the privileged radio container runs in a workload of its own")
		} else {
			require.NotNil(t, ct.SecurityContext.AllowPrivilegeEscalation, "%s/%s", name, ct.Name)
			assert.False(t, *ct.SecurityContext.AllowPrivilegeEscalation, "%s/%s", name, ct.Name)
		}
		assert.NotNil(t, ct.Resources.Requests.Memory(), "%s/%s", name, ct.Name)
		assert.False(t, ct.Resources.Limits.Memory().IsZero(), "%s/%s has no memory limit", name, ct.Name)
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil && v.HostPath.Path != c.BackupCopyDir {
			assert.Equal(t, c.ZigbeeDevice, v.HostPath.Path, "the only hostPaths are the Zigbee radio and backup-copy-dir")
			require.NotNil(t, v.HostPath.Type)
			assert.Equal(t, corev1.HostPathCharDev, *v.HostPath.Type)
		}
	}
	if c.HostNetwork && name == "home-assistant" {
		assert.True(t, spec.HostNetwork)
		assert.Equal(t, corev1.DNSClusterFirstWithHostNet, spec.DNSPolicy)
	} else {
		assert.False(t, spec.HostNetwork, "%s: only Home Assistant may use the host network", name)
	}
}

func TestSecretsOnlyInSecretObjects(t *testing.T) {
	sec := testSecrets()
	for _, rc := range cases {
		t.Run(rc.name, func(t *testing.T) {
			files := render(t, rc)
			secretsSeen := 0
			for _, o := range decodeAll(t, files) {
				if o.kind == "Secret" {
					secretsSeen++
					continue
				}
				for _, v := range secretValues(sec) {
					assert.NotContains(t, string(o.doc), v, "%s %s holds a secret", o.kind, o.name)
					assert.NotContains(t, string(o.doc), base64.StdEncoding.EncodeToString([]byte(v)), "%s %s holds a base64 secret", o.kind, o.name)
				}
				assert.NotContains(t, string(o.doc), "$7$", "%s %s holds a password hash", o.kind, o.name)
			}
			assert.Positive(t, secretsSeen, "no Secret rendered at all")
			for _, f := range files {
				assert.Equal(t, bytes.Contains(f.Content, []byte("kind: Secret")), f.Sensitive, f.Name)
			}
		})
	}
}

func TestSecretsAreInSecrets(t *testing.T) {
	rc := cases[2] // production: PostgreSQL, MQTT, Node-RED, ESPHome
	var found []string
	for _, o := range decodeAll(t, render(t, rc)) {
		if s, ok := o.obj.(*corev1.Secret); ok {
			for _, v := range s.Data {
				found = append(found, string(v))
			}
		}
	}
	all := strings.Join(found, "\n")
	sec := testSecrets()
	for _, v := range []string{sec.PostgreSQLPassword, sec.NodeREDPassword, sec.ESPHomePassword, sec.MQTTHomeAssistant.Password} {
		assert.Contains(t, all, v)
	}
	assert.Contains(t, all, "postgresql://homeassistant:S3cret-postgresql@home-assistant-postgresql.home-assistant.svc:5432/homeassistant")
}

// k3sAddons are the Addon names k3s itself uses; ours must never collide.
var k3sAddons = []string{"ccm", "coredns", "local-storage", "metrics-server", "rolebindings", "runtimes", "traefik", "aggregated-metrics-reader", "auth-delegator", "auth-reader", "metrics-apiservice", "metrics-server-deployment", "metrics-server-service", "resource-reader"}

func TestFileNamesAreAddonNames(t *testing.T) {
	seen := map[string]string{}
	for _, name := range manifests.FileNames() {
		stem, _, _ := strings.Cut(name, ".")
		assert.Empty(t, validation.IsDNS1123Subdomain(stem), name)
		assert.True(t, strings.HasPrefix(stem, manifests.FilePrefix), name)
		assert.NotContains(t, k3sAddons, stem)
		assert.Equal(t, ".yaml", filepath.Ext(name))
		if prev, dup := seen[stem]; dup {
			t.Errorf("%s and %s give the same Addon %s", prev, name, stem)
		}
		seen[stem] = name
	}
	for _, rc := range cases {
		for _, f := range render(t, rc) {
			assert.Contains(t, manifests.FileNames(), f.Name)
			assert.NotEmpty(t, f.Content)
		}
	}
}

func TestNamespaceComesFirst(t *testing.T) {
	files := render(t, cases[0])
	assert.Equal(t, "namespace", files[0].Component, "k3s applies files in name order: the namespace must come first")
}

func TestConfigChangeRollsPod(t *testing.T) {
	checksumOf := func(c config.Config) string {
		files, err := manifests.Render(&c, testSecrets(), manifests.Options{})
		require.NoError(t, err)
		for _, o := range decodeAll(t, files) {
			if ss, ok := o.obj.(*appsv1.StatefulSet); ok && ss.Name == "home-assistant" {
				return ss.Spec.Template.Annotations["hakube.io/config-checksum"]
			}
		}
		t.Fatal("no home-assistant StatefulSet")
		return ""
	}
	a := config.Defaults(config.ProfileEdge)
	a.IngressHost = "home.example.com"
	b := a
	b.PodCIDR = "10.52.0.0/16"
	assert.NotEqual(t, checksumOf(a), checksumOf(b), "a changed package must change the pod template")
	assert.Equal(t, checksumOf(a), checksumOf(a))
}

func TestRenderRejectsMissingSecrets(t *testing.T) {
	c := config.Defaults(config.ProfileProduction)
	s := testSecrets()
	s.PostgreSQLPassword = ""
	_, err := manifests.Render(&c, s, manifests.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "postgresql password")
}

func TestRenderRejectsImageMissingForArch(t *testing.T) {
	c := config.Defaults(config.ProfileEdge)
	c.Arch = config.ArchARM // esphome has no 32-bit ARM image
	_, err := manifests.Render(&c, testSecrets(), manifests.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "esphome")
}

func TestMosquittoHashFormat(t *testing.T) {
	line, err := manifests.MosquittoHash(manifests.MQTTUser{Username: "u", Password: "p", Salt: []byte("abcdefghijkl")})
	require.NoError(t, err)
	assert.Regexp(t, `^u:\$7\$101\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}$`, line)
	other, err := manifests.MosquittoHash(manifests.MQTTUser{Username: "u", Password: "q", Salt: []byte("abcdefghijkl")})
	require.NoError(t, err)
	assert.NotEqual(t, line, other)
}

// TestComponentLabelsMatchFiles: every object in a component's file carries
// that component's label, so turning a component off can find its objects.
func TestComponentLabelsMatchFiles(t *testing.T) {
	for _, rc := range cases {
		for _, f := range render(t, rc) {
			if f.Component == "home-assistant" || f.Component == "namespace" || f.Component == "backup" || f.Component == "volumes" {
				continue // never turned off
			}
			assert.Equal(t, f.Component, manifests.ComponentOf(f.Name))
			for _, d := range docs(f.Content) {
				var o struct {
					Metadata struct {
						Labels map[string]string `json:"labels"`
					} `json:"metadata"`
				}
				require.NoError(t, yaml.Unmarshal(d, &o))
				assert.Equal(t, f.Component, o.Metadata.Labels["app.kubernetes.io/component"], "%s: %s", rc.name, f.Name)
			}
		}
	}
}
