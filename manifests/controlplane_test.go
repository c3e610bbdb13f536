package manifests_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/hakube/hakube/internal/testcluster"
	"github.com/hakube/hakube/manifests"
)

// These tests send the rendered objects to a real kube-apiserver (the test
// control plane of internal/testcluster): its validation, its Pod Security
// admission with the namespace labels hakube renders, and its scheduler.

type apiClients struct {
	kube   kubernetes.Interface
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newAPIClients(t *testing.T, cl *testcluster.Cluster) apiClients {
	t.Helper()
	rc := cl.RestConfig()
	rc.WarningHandler = rest.NoWarnings{} // Pod Security warn/audit levels are expected to warn
	kube, err := kubernetes.NewForConfig(rc)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(rc)
	require.NoError(t, err)
	return apiClients{kube, dyn, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kube.Discovery()))}
}

func (c apiClients) resource(t *testing.T, obj *unstructured.Unstructured) dynamic.ResourceInterface {
	t.Helper()
	gvk := obj.GroupVersionKind()
	m, err := c.mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
	require.NoError(t, err, "%s", gvk)
	if obj.GetNamespace() != "" {
		return c.dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	return c.dyn.Resource(m.Resource)
}

func objectsOf(t *testing.T, files []manifests.File) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, f := range files {
		for _, d := range docs(f.Content) {
			obj := &unstructured.Unstructured{}
			require.NoError(t, yaml.Unmarshal(d, &obj.Object), f.Name)
			if obj.Object == nil {
				continue
			}
			out = append(out, obj)
		}
	}
	return out
}

// podFromTemplate is the Pod a workload's controller would create.
func podFromTemplate(t *testing.T, obj *unstructured.Unstructured) *corev1.Pod {
	t.Helper()
	path := []string{"spec", "template"}
	if obj.GetKind() == "CronJob" {
		path = []string{"spec", "jobTemplate", "spec", "template"}
	}
	tmpl, found, err := unstructured.NestedMap(obj.Object, path...)
	require.NoError(t, err)
	require.True(t, found, "%s %s has no pod template", obj.GetKind(), obj.GetName())
	var pt corev1.PodTemplateSpec
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(tmpl, &pt))
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: obj.GetName() + "-0", Namespace: obj.GetNamespace(), Labels: pt.Labels, Annotations: pt.Annotations},
		Spec:       pt.Spec,
	}
}

// TestControlPlaneAdmitsRenderedStack: for each case, the Namespaces are
// created for real (their Pod Security labels are what is under test) and
// every other object, and a Pod from each workload's template, is sent with
// server-side dry-run: the API server validates it strictly, and Pod
// Security admission enforces the rendered namespace level on the Pods.
func TestControlPlaneAdmitsRenderedStack(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{PollInterval: time.Hour, PrometheusCRDs: true})
	api := newAPIClients(t, cl)
	ctx := context.Background()
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}
	for i, rc := range cases {
		// Each case in namespaces of its own, so labels never mix.
		c := rc.cfg()
		c.Namespace = fmt.Sprintf("hakube-%d", i)
		opts := rc.opts
		opts.ServiceMonitorCRD = true
		files := renderWith(t, c, testSecrets(), opts)
		var objs, pods int
		for _, obj := range objectsOf(t, files) {
			if obj.GetKind() == "Certificate" {
				// cert-manager's kind: the test control plane has no
				// cert-manager (the installer refuses it where the kind is
				// missing); TestRenderDecodesStrictly checks its fields.
				t.Logf("%s: Certificate %s not sent: no cert-manager here", rc.name, obj.GetName())
				continue
			}
			ri := api.resource(t, obj)
			if obj.GetKind() == "Namespace" {
				_, err := ri.Create(ctx, obj, metav1.CreateOptions{FieldValidation: "Strict"})
				require.NoError(t, err, "%s: namespace %s", rc.name, obj.GetName())
				continue
			}
			if obj.GetKind() == "StorageClass" {
				_, err := ri.Create(ctx, obj, metav1.CreateOptions{FieldValidation: "Strict"})
				if !apierrors.IsAlreadyExists(err) {
					require.NoError(t, err, "%s: StorageClass", rc.name)
				}
				continue
			}
			_, err := ri.Create(ctx, obj, dry)
			require.NoError(t, err, "%s: %s %s/%s refused", rc.name, obj.GetKind(), obj.GetNamespace(), obj.GetName())
			objs++
			if obj.GetKind() == "StatefulSet" || obj.GetKind() == "CronJob" {
				pod := podFromTemplate(t, obj)
				_, err := api.kube.CoreV1().Pods(pod.Namespace).Create(ctx, pod, dry)
				require.NoError(t, err, "%s: a pod of %s refused in namespace %s", rc.name, obj.GetName(), pod.Namespace)
				pods++
			}
		}
		t.Logf("%s: %d objects and %d pods admitted", rc.name, objs, pods)
		assert.Greater(t, pods, 1)
	}
}

// TestControlPlaneRefusesPrivilegeOutsideRadioNamespace: the namespace
// labels really enforce: the radio's privileged pod is refused in Home
// Assistant's namespace, and a pod on the host network too (without
// host-network).
func TestControlPlaneRefusesPrivilegeOutsideRadioNamespace(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{PollInterval: time.Hour})
	api := newAPIClients(t, cl)
	ctx := context.Background()
	c := cases[4].cfg() // edge-zigbee-usb
	c.Namespace = "hakube-psa"
	files := renderWith(t, c, testSecrets(), manifests.Options{})
	var radio *corev1.Pod
	for _, obj := range objectsOf(t, files) {
		if obj.GetKind() == "Namespace" {
			_, err := api.resource(t, obj).Create(ctx, obj, metav1.CreateOptions{})
			require.NoError(t, err)
		}
		if obj.GetKind() == "StatefulSet" && obj.GetName() == "home-assistant-zigbee2mqtt" {
			radio = podFromTemplate(t, obj)
		}
	}
	require.NotNil(t, radio)
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	_, err := api.kube.CoreV1().Pods("hakube-psa-radio").Create(ctx, radio.DeepCopy(), dry)
	require.NoError(t, err, "the radio pod in its own namespace")
	moved := radio.DeepCopy()
	moved.Namespace = "hakube-psa"
	_, err = api.kube.CoreV1().Pods("hakube-psa").Create(ctx, moved, dry)
	require.Error(t, err, "a privileged pod must be refused in Home Assistant's namespace")
	assert.True(t, apierrors.IsForbidden(err), "%v", err)
	assert.Contains(t, err.Error(), "violates PodSecurity")
}

// TestControlPlaneRadioPinnedToItsNode: the radio workload's pod is
// scheduled on the node named node-name and on no other.
func TestControlPlaneRadioPinnedToItsNode(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{PollInterval: time.Hour})
	api := newAPIClients(t, cl)
	ctx := context.Background()
	for _, tc := range []struct {
		node      string
		scheduled bool
	}{{testcluster.NodeName, true}, {"another-node", false}} {
		c := cases[4].cfg() // edge-zigbee-usb
		c.Namespace = "pin-" + strings.ReplaceAll(tc.node, "hakube-", "")
		c.NodeName = tc.node
		c.StorageClass = "local-path" // the test control plane's PVs
		c.Zigbee2MQTTNodePort = 0     // two renders in one cluster: one node port each is not the point here
		files := renderWith(t, c, testSecrets(), manifests.Options{})
		radioNS := manifests.RadioNamespace(&c)
		for _, obj := range objectsOf(t, files) {
			keep := obj.GetKind() == "Namespace" ||
				(obj.GetNamespace() == radioNS && obj.GetKind() != "NetworkPolicy")
			if !keep {
				continue
			}
			_, err := api.resource(t, obj).Create(ctx, obj, metav1.CreateOptions{})
			require.NoError(t, err, "%s %s", obj.GetKind(), obj.GetName())
		}
		cl.CreatePVs(radioNS, map[string]string{"home-assistant-zigbee2mqtt-data-0": c.Volumes.Zigbee2MQTT})
		var pod *corev1.Pod
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			p, err := api.kube.CoreV1().Pods(radioNS).Get(ctx, "home-assistant-zigbee2mqtt-0", metav1.GetOptions{})
			if err == nil {
				pod = p
				if p.Spec.NodeName != "" || !tc.scheduled && unschedulable(p) {
					break
				}
			}
			time.Sleep(500 * time.Millisecond)
		}
		require.NotNil(t, pod, "the StatefulSet made no pod")
		if tc.scheduled {
			assert.Equal(t, testcluster.NodeName, pod.Spec.NodeName, "the radio pod runs on the radio's node")
		} else {
			assert.Empty(t, pod.Spec.NodeName, "the radio pod must not run on a node without the radio")
			assert.True(t, unschedulable(pod), "the scheduler must say why it waits")
		}
	}
}

func unschedulable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}
