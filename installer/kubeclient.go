package installer

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	k3sv1 "github.com/k3s-io/api/k3s.cattle.io/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// The generated clientsets link every API group Kubernetes has (and the
// OpenAPI models): tens of megabytes on a Raspberry Pi's SD card. hakube
// talks to a handful of resources, so it uses one REST client with a scheme
// of just those types.

var clientScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme,
		batchv1.AddToScheme, networkingv1.AddToScheme, k3sv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(fmt.Sprintf("build client scheme: %v", err)) // static types: cannot fail
		}
	}
	return s
}()

var clientCodecs = serializer.NewCodecFactory(clientScheme)

// Kube is the small set of resources hakube reads, watches and deletes.
type Kube struct {
	rest *rest.RESTClient

	Events       Resource[*corev1.Event, *corev1.EventList]
	Addons       Resource[*k3sv1.Addon, *k3sv1.AddonList]
	StatefulSets Resource[*appsv1.StatefulSet, *appsv1.StatefulSetList]
	Pods         Resource[*corev1.Pod, *corev1.PodList]
	Services     Resource[*corev1.Service, *corev1.ServiceList]
	Nodes        Resource[*corev1.Node, *corev1.NodeList]
	ConfigMaps   Resource[*corev1.ConfigMap, *corev1.ConfigMapList]
	Secrets      Resource[*corev1.Secret, *corev1.SecretList]
	Claims       Resource[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList]
	CronJobs     Resource[*batchv1.CronJob, *batchv1.CronJobList]
	Jobs         Resource[*batchv1.Job, *batchv1.JobList]
	Ingresses    Resource[*networkingv1.Ingress, *networkingv1.IngressList]
	Namespaces   Resource[*corev1.Namespace, *corev1.NamespaceList]
}

func newKube(cfg *rest.Config) (*Kube, error) {
	c := rest.CopyConfig(cfg)
	c.APIPath = "/api"
	c.GroupVersion = &corev1.SchemeGroupVersion
	c.NegotiatedSerializer = clientCodecs.WithoutConversion()
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	k := &Kube{rest: rc}
	res := func(prefix, plural string) base { return base{rc: rc, prefix: prefix, plural: plural} }
	k.Events = newResource[*corev1.Event, *corev1.EventList](res("/api/v1", "events"))
	k.Addons = newResource[*k3sv1.Addon, *k3sv1.AddonList](res("/apis/k3s.cattle.io/v1", "addons"))
	k.StatefulSets = newResource[*appsv1.StatefulSet, *appsv1.StatefulSetList](res("/apis/apps/v1", "statefulsets"))
	k.Pods = newResource[*corev1.Pod, *corev1.PodList](res("/api/v1", "pods"))
	k.Services = newResource[*corev1.Service, *corev1.ServiceList](res("/api/v1", "services"))
	k.Nodes = newResource[*corev1.Node, *corev1.NodeList](res("/api/v1", "nodes"))
	k.ConfigMaps = newResource[*corev1.ConfigMap, *corev1.ConfigMapList](res("/api/v1", "configmaps"))
	k.Secrets = newResource[*corev1.Secret, *corev1.SecretList](res("/api/v1", "secrets"))
	k.Claims = newResource[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList](res("/api/v1", "persistentvolumeclaims"))
	k.CronJobs = newResource[*batchv1.CronJob, *batchv1.CronJobList](res("/apis/batch/v1", "cronjobs"))
	k.Jobs = newResource[*batchv1.Job, *batchv1.JobList](res("/apis/batch/v1", "jobs"))
	k.Ingresses = newResource[*networkingv1.Ingress, *networkingv1.IngressList](res("/apis/networking.k8s.io/v1", "ingresses"))
	k.Namespaces = newResource[*corev1.Namespace, *corev1.NamespaceList](res("/api/v1", "namespaces"))
	return k, nil
}

// Raw returns a request builder for paths outside the typed resources.
func (k *Kube) Raw() *rest.RESTClient { return k.rest }

type base struct {
	rc     *rest.RESTClient
	prefix string
	plural string
}

func (b base) path(ns, name string) string {
	p := b.prefix
	if ns != "" {
		p += "/namespaces/" + ns
	}
	p += "/" + b.plural
	if name != "" {
		p += "/" + name
	}
	return p
}

// Resource is one kind of object: T the object, L its list.
type Resource[T runtime.Object, L runtime.Object] struct {
	base
	newT func() T
	newL func() L
}

func newResource[T runtime.Object, L runtime.Object](b base) Resource[T, L] {
	return Resource[T, L]{base: b,
		newT: func() T { return newOf[T]() },
		newL: func() L { return newOf[L]() }}
}

// newOf allocates the struct a pointer type T points to.
func newOf[T runtime.Object]() T {
	return reflect.New(reflect.TypeFor[T]().Elem()).Interface().(T)
}

// List lists objects in ns ("" for all namespaces or cluster scope).
func (r Resource[T, L]) List(ctx context.Context, ns string, opts metav1.ListOptions) (L, error) {
	out := r.newL()
	err := r.rc.Get().AbsPath(r.path(ns, "")).VersionedParams(&opts, metav1.ParameterCodec).Do(ctx).Into(out)
	return out, err
}

// Get reads one object.
func (r Resource[T, L]) Get(ctx context.Context, ns, name string) (T, error) {
	out := r.newT()
	err := r.rc.Get().AbsPath(r.path(ns, name)).Do(ctx).Into(out)
	return out, err
}

// Watch watches objects in ns.
func (r Resource[T, L]) Watch(ctx context.Context, ns string, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return r.rc.Get().AbsPath(r.path(ns, "")).VersionedParams(&opts, metav1.ParameterCodec).Watch(ctx)
}

// Delete deletes one object.
func (r Resource[T, L]) Delete(ctx context.Context, ns, name string, opts metav1.DeleteOptions) error {
	body, err := json.Marshal(opts)
	if err != nil {
		return err
	}
	return r.rc.Delete().AbsPath(r.path(ns, name)).SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error()
}

// Apply creates or updates obj (which must carry its apiVersion and kind)
// with server-side apply as fieldManager "hakube".
func (r Resource[T, L]) Apply(ctx context.Context, ns, name string, obj T) error {
	body, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return r.rc.Patch(types.ApplyPatchType).AbsPath(r.path(ns, name)).
		Param("fieldManager", "hakube").Param("force", "true").Body(body).Do(ctx).Error()
}

// Patch patches one object.
func (r Resource[T, L]) Patch(ctx context.Context, ns, name string, pt types.PatchType, body []byte) error {
	return r.rc.Patch(pt).AbsPath(r.path(ns, name)).Body(body).Do(ctx).Error()
}
