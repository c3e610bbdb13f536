package testcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	k3sclient "github.com/k3s-io/api/pkg/generated/clientset/versioned"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// writeManifest writes content to dir/name the way hakube must: a dotfile
// first (ignored by k3s), then a rename. It returns the content's sha256.
func writeManifest(t *testing.T, dir, name, content string) string {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

const configMaps = `apiVersion: v1
kind: ConfigMap
metadata:
  name: first
  namespace: default
data:
  hello: world
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: second
  namespace: default
data:
  n: "1"
`

// TestIntegrationStandIn drives the deploy stand-in through the contract of
// docs/reference/k3s.md against a real API server.
func TestIntegrationStandIn(t *testing.T) {
	c := Start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(c.RestConfig())
	k3s := k3sclient.NewForConfigOrDie(c.RestConfig())
	cms := kube.CoreV1().ConfigMaps("default")

	// A file becomes an Addon named after its stem; once applied, the
	// Addon's checksum is the file's sha256 and the objects exist, marked
	// as owned by the Addon.
	sum := writeManifest(t, c.ManifestsDir, "hakube-test.yaml", configMaps)
	addon, err := c.WaitForAddonChecksum(ctx, "hakube-test", sum)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(c.ManifestsDir, "hakube-test.yaml"); addon.Spec.Source != want {
		t.Errorf("addon source = %q, want %q", addon.Spec.Source, want)
	}
	if got := addon.Annotations["addon.k3s.cattle.io/gvks"]; got != "/v1, Kind=ConfigMap" {
		t.Errorf("addon gvks annotation = %q", got)
	}
	first, err := cms.Get(ctx, "first", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get applied ConfigMap: %v", err)
	}
	if first.Data["hello"] != "world" {
		t.Errorf("ConfigMap data = %v", first.Data)
	}
	for k, want := range map[string]string{
		"objectset.rio.cattle.io/owner-name":      "hakube-test",
		"objectset.rio.cattle.io/owner-namespace": "kube-system",
		"objectset.rio.cattle.io/owner-gvk":       "k3s.cattle.io/v1, Kind=Addon",
	} {
		if got := first.Annotations[k]; got != want {
			t.Errorf("annotation %s = %q, want %q", k, got, want)
		}
	}
	if first.Labels["objectset.rio.cattle.io/hash"] == "" || first.Annotations["objectset.rio.cattle.io/applied"] == "" {
		t.Errorf("objectset hash label or applied annotation missing: %v %v", first.Labels, first.Annotations)
	}
	applied, err := c.WaitForAddonEvent(ctx, "hakube-test", "AppliedManifest")
	if err != nil {
		t.Fatal(err)
	}

	// Re-applying unchanged objects must not write them: restart the
	// stand-in (its first pass applies every file) and compare.
	if err := c.StopStandIn(); err != nil {
		t.Fatal(err)
	}
	if err := c.StartStandIn(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitForEvent(ctx, AddonNamespace, "Addon", "hakube-test", func(e *corev1.Event) bool {
		// A new process records a new Event; the old one would count up.
		return e.Reason == "AppliedManifest" && (e.Name != applied.Name || e.Count > applied.Count)
	}); err != nil {
		t.Fatalf("no second apply after the stand-in restarted: %v", err)
	}
	again, err := cms.Get(ctx, "first", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ResourceVersion != first.ResourceVersion {
		t.Errorf("re-applying an unchanged object changed its resourceVersion: %s -> %s", first.ResourceVersion, again.ResourceVersion)
	}

	// An object removed from the file is pruned on the next apply.
	sum = writeManifest(t, c.ManifestsDir, "hakube-test.yaml", configMaps[strings.Index(configMaps, "---\n")+4:])
	if _, err := c.WaitForAddonChecksum(ctx, "hakube-test", sum); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "first", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap first was removed from the file but not pruned (get: %v)", err)
	}

	// A file the API server rejects: the Addon exists without a checksum and
	// a Warning event carries the server's message.
	writeManifest(t, c.ManifestsDir, "bad-quantity.yaml", `apiVersion: v1
kind: ResourceQuota
metadata: {name: bad, namespace: default}
spec:
  hard: {cpu: "lots"}
`)
	ev, err := c.WaitForEvent(ctx, AddonNamespace, "Addon", "bad-quantity", func(e *corev1.Event) bool {
		return e.Type == corev1.EventTypeWarning && (e.Reason == "ApplyManifestFailed" || e.Reason == "ValidateManifestFailed")
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ev.Message, "quantities must match the regular expression") || ev.Source.Component != "deploy" {
		t.Errorf("event %s from %q: %q; want the API server's quantity error from component deploy", ev.Reason, ev.Source.Component, ev.Message)
	}
	bad, err := k3s.K3sV1().Addons(AddonNamespace).Get(ctx, "bad-quantity", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("no Addon for a failing file: %v", err)
	}
	if bad.Spec.Checksum != "" {
		t.Errorf("failing file's Addon has checksum %q, want none", bad.Spec.Checksum)
	}

	// A file that is not YAML: ParseManifestFailed.
	writeManifest(t, c.ManifestsDir, "unparsable.yaml", "kind: [unclosed\n")
	if _, err := c.WaitForAddonEvent(ctx, "unparsable", "ParseManifestFailed"); err != nil {
		t.Fatal(err)
	}

	// Deleting a file deletes nothing; foo.yaml.skip hides foo.yaml. A later
	// file's apply proves the stand-in has passed over both.
	if err := os.Remove(filepath.Join(c.ManifestsDir, "hakube-test.yaml")); err != nil {
		t.Fatal(err)
	}
	writeManifest(t, c.ManifestsDir, "skipped.yaml.skip", "")
	writeManifest(t, c.ManifestsDir, "skipped.yaml", strings.ReplaceAll(configMaps, "first", "skipped"))
	sum = writeManifest(t, c.ManifestsDir, "zz-barrier.yaml", strings.ReplaceAll(configMaps, "first", "barrier"))
	if _, err := c.WaitForAddonChecksum(ctx, "zz-barrier", sum); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "second", metav1.GetOptions{}); err != nil {
		t.Errorf("deleting hakube-test.yaml deleted its ConfigMap: %v", err)
	}
	if _, err := k3s.K3sV1().Addons(AddonNamespace).Get(ctx, "hakube-test", metav1.GetOptions{}); err != nil {
		t.Errorf("deleting hakube-test.yaml deleted its Addon: %v", err)
	}
	if _, err := k3s.K3sV1().Addons(AddonNamespace).Get(ctx, "skipped", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("skipped.yaml has an Addon despite skipped.yaml.skip (get: %v)", err)
	}
}

// TestIntegrationStorageAndRestart checks the pieces installer tests lean on:
// the optional Prometheus CRD, pre-bound PVs consumed by a StatefulSet whose
// pod kwok runs, and stopping and starting the API server.
func TestIntegrationStorageAndRestart(t *testing.T) {
	c := Start(t, Options{PrometheusCRDs: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(c.RestConfig())

	if _, err := kube.Discovery().ServerResourcesForGroupVersion("monitoring.coreos.com/v1"); err != nil {
		t.Errorf("ServiceMonitor API missing with PrometheusCRDs: %v", err)
	}

	const ns = "hakube"
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.CreatePVs(ns, map[string]string{"config-home-assistant-0": "1Gi"})
	labels := map[string]string{"app": "home-assistant"}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "home-assistant", Namespace: ns},
		Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "home-assistant", Image: "ghcr.io/home-assistant/home-assistant:stable",
					VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/config"}},
				}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "config"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: new("local-path"),
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceStorage: resource.MustParse("1Gi"),
					}},
				},
			}},
		},
	}
	if _, err := kube.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The scheduler may retry (a PV update races its binding); wait for
	// success and report the last failure if it never comes.
	var lastFailure string
	schedCtx, cancelSched := context.WithTimeout(ctx, time.Minute)
	defer cancelSched()
	_, err := c.WaitForEvent(schedCtx, ns, "Pod", "home-assistant-0", func(e *corev1.Event) bool {
		if e.Reason == "FailedScheduling" {
			lastFailure = e.Message
		}
		return e.Reason == "Scheduled"
	})
	if err != nil {
		t.Fatalf("pod home-assistant-0 not scheduled (last failure: %q): %v", lastFailure, err)
	}
	t.Log("pod home-assistant-0 scheduled")
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		s, err := kube.AppsV1().StatefulSets(ns).Get(ctx, sts.Name, metav1.GetOptions{})
		return err == nil && s.Status.ReadyReplicas == 1, nil
	})
	if err != nil {
		t.Fatalf("StatefulSet never got a ready replica: %v", err)
	}
	t.Log("StatefulSet ready")
	pvc, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "config-home-assistant-0", metav1.GetOptions{})
	if err != nil || pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName != "testenv-hakube-config-home-assistant-0" {
		t.Fatalf("claim not bound to the pre-created PV: %v %+v", err, pvc)
	}

	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.Discovery().ServerVersion(); err == nil {
		t.Error("API server still answers after StopAPIServer")
	}
	t.Log("API server stopped")
	if err := c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Log("API server started again")
	if _, err := kube.AppsV1().StatefulSets(ns).Get(ctx, sts.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("StatefulSet lost across an API server restart: %v", err)
	}
}
