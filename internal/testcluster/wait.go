package testcluster

import (
	"context"
	"fmt"

	k3sv1 "github.com/k3s-io/api/k3s.cattle.io/v1"
	k3sclient "github.com/k3s-io/api/pkg/generated/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// AddonNamespace is where k3s (and the stand-in) keep Addons.
const AddonNamespace = metav1.NamespaceSystem

// WaitForAddonChecksum watches Addon kube-system/name until its
// spec.checksum is want (the sha256 of the file last applied) and returns it.
func (c *Cluster) WaitForAddonChecksum(ctx context.Context, name, want string) (*k3sv1.Addon, error) {
	client, err := k3sclient.NewForConfig(c.RestConfig())
	if err != nil {
		return nil, fmt.Errorf("create k3s client: %w", err)
	}
	addons := client.K3sV1().Addons(AddonNamespace)
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return addons.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return addons.Watch(ctx, o)
		},
	}
	var last string
	ev, err := watchtools.UntilWithSync(ctx, lw, &k3sv1.Addon{}, nil, func(e watch.Event) (bool, error) {
		a, ok := e.Object.(*k3sv1.Addon)
		if !ok {
			return false, nil
		}
		last = a.Spec.Checksum
		return e.Type != watch.Deleted && a.Spec.Checksum == want, nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for addon %s checksum %s (last seen %q): %w", name, want, last, err)
	}
	return ev.Object.(*k3sv1.Addon), nil
}

// WaitForAddonEvent watches the events of Addon kube-system/name until one
// with the given reason appears, and returns it.
func (c *Cluster) WaitForAddonEvent(ctx context.Context, name, reason string) (*corev1.Event, error) {
	return c.WaitForEvent(ctx, AddonNamespace, "Addon", name, func(e *corev1.Event) bool { return e.Reason == reason })
}

// WaitForEvent watches the events in namespace ns about the object kind/name
// until match accepts one, and returns it.
func (c *Cluster) WaitForEvent(ctx context.Context, ns, kind, name string, match func(*corev1.Event) bool) (*corev1.Event, error) {
	kube, err := kubernetes.NewForConfig(c.RestConfig())
	if err != nil {
		return nil, fmt.Errorf("create kubernetes client: %w", err)
	}
	events := kube.CoreV1().Events(ns)
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name}.AsSelector().String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return events.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return events.Watch(ctx, o)
		},
	}
	ev, err := watchtools.UntilWithSync(ctx, lw, &corev1.Event{}, nil, func(e watch.Event) (bool, error) {
		ev, ok := e.Object.(*corev1.Event)
		return ok && e.Type != watch.Deleted && match(ev), nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for an event on %s %s/%s: %w", kind, ns, name, err)
	}
	return ev.Object.(*corev1.Event), nil
}
