package installer_test

import (
	"context"
	"crypto/rand"
	"strings"
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

// lanRules are the ports of the broker's NetworkPolicy open to every
// source (a rule without "from").
func lanRules(t *testing.T, e *env, ns string) []int {
	t.Helper()
	pol, err := e.kube.NetworkingV1().NetworkPolicies(ns).Get(context.Background(), "home-assistant-mqtt", metav1.GetOptions{})
	require.NoError(t, err)
	var open []int
	for _, r := range pol.Spec.Ingress {
		if len(r.From) == 0 {
			for _, p := range r.Ports {
				open = append(open, p.Port.IntValue())
			}
		}
	}
	return open
}

// TestE2EMQTTForLANDevices: each mqtt-expose setting on the test control
// plane (with k3s's deploy controller stood in for): the Service, its node
// ports, the NetworkPolicy, status's URLs; and a device account added
// after install changes the broker's pod template, never Home Assistant's.
func TestE2EMQTTForLANDevices(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	cfg.MQTTExpose, cfg.MQTTNodePort, cfg.MQTTTLSNodePort = config.MQTTExposeNodePort, 31000, 31001
	cfg.MQTTTLSHosts = []string{"mqtt.home.lan"}
	e := startEnv(t, testcluster.Options{PollInterval: 2 * time.Second}, &cfg)
	ctx := context.Background()
	ns := cfg.Namespace

	_, err := e.installer(3*time.Minute).Install(ctx, cfg)
	require.NoError(t, err, "events:\n%s", e.events)

	svc, err := e.kube.CoreV1().Services(ns).Get(ctx, "home-assistant-mqtt-lan", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, corev1.ServiceTypeNodePort, svc.Spec.Type)
	ports := map[int32]int32{}
	for _, p := range svc.Spec.Ports {
		ports[p.Port] = p.NodePort
	}
	assert.Equal(t, map[int32]int32{1883: 31000, 8883: 31001}, ports)
	assert.ElementsMatch(t, []int{1883, 8883}, lanRules(t, e, ns))
	tlsSecret, err := e.kube.CoreV1().Secrets(ns).Get(ctx, "home-assistant-mqtt-tls", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, corev1.SecretTypeTLS, tlsSecret.Type)
	sec, err := installer.StateDir{Path: e.stateDir}.Secrets()
	require.NoError(t, err)
	assert.Equal(t, sec.MQTTTLS.CACert, string(tlsSecret.Data["ca.crt"]), "the CA 'hakube mqtt ca' prints")

	for name, port := range map[string]int32{"home-assistant-nodered-lan": 31880, "home-assistant-esphome-lan": 31052} {
		svc, err := e.kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, corev1.ServiceTypeNodePort, svc.Spec.Type, name)
		require.Len(t, svc.Spec.Ports, 1)
		assert.Equal(t, port, svc.Spec.Ports[0].NodePort, name)
	}

	st, err := e.installer(0).Status(ctx, cfg)
	require.NoError(t, err)
	urls := statusURLs(st)
	assert.Len(t, urls, 4, "status: %+v", st.URLs)
	assert.Regexp(t, `^mqtt://[0-9.]+:31000$`, urls["MQTT for LAN devices"])
	assert.Regexp(t, `^mqtts://[0-9.]+:31001$`, urls["MQTT over TLS for LAN devices"])
	assert.Regexp(t, `^http://[0-9.]+:31880$`, urls["Node-RED"])
	assert.Regexp(t, `^http://[0-9.]+:31052$`, urls["ESPHome"])
	for _, u := range urls {
		assert.Contains(t, strings.Join(st.Access, "\n"), u)
	}

	// A device account added after install, by the command's path.
	haBefore, err := e.kube.AppsV1().StatefulSets(ns).Get(ctx, "home-assistant", metav1.GetOptions{})
	require.NoError(t, err)
	mqttBefore, err := e.kube.AppsV1().StatefulSets(ns).Get(ctx, "home-assistant-mqtt", metav1.GetOptions{})
	require.NoError(t, err)
	dev, err := installer.AddMQTTDevice(&sec, "kitchen-plug", rand.Reader)
	require.NoError(t, err)
	in := e.installer(3 * time.Minute)
	plan, err := in.Plan(ctx, cfg, installer.PlanOptions{Secrets: &sec})
	require.NoError(t, err)
	var changed []string
	for _, f := range plan.Changes() {
		changed = append(changed, f.File)
	}
	assert.Equal(t, []string{"hakube-10-mqtt.yaml"}, changed, "only the broker's file changes")
	_, err = in.Apply(ctx, plan)
	require.NoError(t, err, "events:\n%s", e.events)
	haAfter, err := e.kube.AppsV1().StatefulSets(ns).Get(ctx, "home-assistant", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, haBefore.ResourceVersion, haAfter.ResourceVersion, "Home Assistant's StatefulSet is not touched")
	assert.Equal(t, haBefore.Generation, haAfter.Generation)
	mqttAfter, err := e.kube.AppsV1().StatefulSets(ns).Get(ctx, "home-assistant-mqtt", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Greater(t, mqttAfter.Generation, mqttBefore.Generation, "the broker's pod template changes")
	assert.NotEqual(t, mqttBefore.Spec.Template.Annotations["hakube.io/config-checksum"], mqttAfter.Spec.Template.Annotations["hakube.io/config-checksum"])
	passwd, err := e.kube.CoreV1().Secrets(ns).Get(ctx, "home-assistant-mqtt", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, string(passwd.Data["passwd"]), "\nkitchen-plug:$7$", "the broker's password file has the account")
	kept, err := installer.StateDir{Path: e.stateDir}.Secrets()
	require.NoError(t, err)
	assert.Equal(t, []string{"kitchen-plug"}, installer.MQTTDeviceNames(kept), "Apply kept the account")
	for _, l := range installer.Logins(&cfg, kept) {
		if l.Username == "kitchen-plug" {
			assert.Equal(t, dev.Password, l.Password)
			assert.Contains(t, l.Where, ":31000")
		}
	}
	assert.NotContains(t, e.events.String(), dev.Password, "the password is never in the progress")

	// LoadBalancer (k3s's ServiceLB binds 1883 and 8883 on the node), with
	// an Ingress in front of Home Assistant: the broker is not behind it.
	lb := cfg
	lb.MQTTExpose, lb.MQTTNodePort, lb.MQTTTLSNodePort = config.MQTTExposeLoadBalancer, 31883, 31884
	lb.IngressHost = "home.lan"
	lb.NodeREDNodePort = 0      // Node-RED's editor off the node port…
	lb.DashboardsIngress = true // …and on a sub-host of the Ingress
	_, err = e.installer(3*time.Minute).Install(ctx, lb)
	require.NoError(t, err, "events:\n%s", e.events)
	svc, err = e.kube.CoreV1().Services(ns).Get(ctx, "home-assistant-mqtt-lan", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, corev1.ServiceTypeLoadBalancer, svc.Spec.Type)
	assert.Equal(t, corev1.ServiceExternalTrafficPolicyLocal, svc.Spec.ExternalTrafficPolicy)
	var lbPorts []int32
	for _, p := range svc.Spec.Ports {
		lbPorts = append(lbPorts, p.Port)
	}
	assert.Equal(t, []int32{1883, 8883}, lbPorts)
	assert.ElementsMatch(t, []int{1883, 8883}, lanRules(t, e, ns))
	ing, err := e.kube.NetworkingV1().Ingresses(ns).Get(ctx, "home-assistant", metav1.GetOptions{})
	require.NoError(t, err, "the Ingress is rendered")
	backends := map[string]string{}
	for _, r := range ing.Spec.Rules {
		backends[r.Host] = r.HTTP.Paths[0].Backend.Service.Name
	}
	assert.Equal(t, map[string]string{"home.lan": "home-assistant", "nodered.home.lan": "home-assistant-nodered", "esphome.home.lan": "home-assistant-esphome"}, backends)
	require.Eventually(t, func() bool {
		_, err := e.kube.CoreV1().Services(ns).Get(ctx, "home-assistant-nodered-lan", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, time.Minute, time.Second, "Node-RED's LAN Service is pruned")
	st, err = e.installer(0).Status(ctx, lb)
	require.NoError(t, err)
	urls = statusURLs(st)
	assert.Len(t, urls, 5, "status: %+v", st.URLs)
	assert.Regexp(t, `:1883$`, urls["MQTT for LAN devices"])
	assert.Regexp(t, `:8883$`, urls["MQTT over TLS for LAN devices"])
	assert.Regexp(t, `:31052$`, urls["ESPHome"])
	assert.Equal(t, "http://esphome.home.lan", urls["ESPHome (Ingress)"])
	assert.Equal(t, "http://nodered.home.lan", urls["Node-RED (Ingress)"])
	assert.NotContains(t, urls, "Node-RED", "Node-RED's node port is off")

	// Off: the LAN Service goes, the policy opens the broker to our pods only.
	off := lb
	off.MQTTExpose = config.MQTTExposeOff
	_, err = e.installer(3*time.Minute).Install(ctx, off)
	require.NoError(t, err, "events:\n%s", e.events)
	require.Eventually(t, func() bool {
		_, err := e.kube.CoreV1().Services(ns).Get(ctx, "home-assistant-mqtt-lan", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, time.Minute, time.Second, "the LAN Service is pruned")
	assert.Empty(t, lanRules(t, e, ns), "nothing opens the broker to every source")
	st, err = e.installer(0).Status(ctx, off)
	require.NoError(t, err)
	assert.NotContains(t, statusURLs(st), "MQTT for LAN devices")
	_, err = e.kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "home-assistant-mqtt-data-0", metav1.GetOptions{})
	assert.NoError(t, err, "the broker's volume stays")
}

func statusURLs(st *installer.Status) map[string]string {
	out := map[string]string{}
	for _, u := range st.URLs {
		out[u.Name] = u.URL
	}
	return out
}
