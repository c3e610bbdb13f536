package k3sdeploystandin

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1" //nolint:gosec // wrangler's objectset hash, not a security boundary
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	k3sv1 "github.com/k3s-io/api/k3s.cattle.io/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// Keys wrangler's objectset apply writes on every object it applies for an
// owner. The hash label selects an owner's objects when pruning.
const (
	AnnotationApplied        = "objectset.rio.cattle.io/applied"
	AnnotationID             = "objectset.rio.cattle.io/id"
	AnnotationOwnerGVK       = "objectset.rio.cattle.io/owner-gvk"
	AnnotationOwnerName      = "objectset.rio.cattle.io/owner-name"
	AnnotationOwnerNamespace = "objectset.rio.cattle.io/owner-namespace"
	LabelHash                = "objectset.rio.cattle.io/hash"
)

// FieldManager is the server-side apply field manager of every applied object.
const FieldManager = "deploy"

// addonGVK is the owner kind written into AnnotationOwnerGVK.
var addonGVK = k3sv1.SchemeGroupVersion.WithKind("Addon")

// OwnerMetadata returns the label and annotations that mark an object as
// applied for addon, computed as wrangler does for an owner with an empty
// set ID: the hash is the hex sha1 of id, owner GVK, name and namespace.
func OwnerMetadata(addon *k3sv1.Addon) (labels, annotations map[string]string) {
	annotations = map[string]string{
		AnnotationID:             "",
		AnnotationOwnerGVK:       addonGVK.String(),
		AnnotationOwnerName:      addon.Name,
		AnnotationOwnerNamespace: addon.Namespace,
	}
	h := sha1.New() //nolint:gosec // see import
	for _, k := range []string{AnnotationID, AnnotationOwnerGVK, AnnotationOwnerName, AnnotationOwnerNamespace} {
		h.Write([]byte(annotations[k]))
	}
	return map[string]string{LabelHash: hex.EncodeToString(h.Sum(nil))}, annotations
}

// applier applies an Addon's objects with server-side apply and prunes the
// objects it applied before that are no longer wanted.
type applier struct {
	dynamic   dynamic.Interface
	discovery discovery.DiscoveryInterface
	mapper    meta.ResettableRESTMapper

	mu       sync.Mutex
	gvkCache map[schema.GroupVersionKind]bool
}

func newApplier(dyn dynamic.Interface, disc discovery.DiscoveryInterface) *applier {
	return &applier{
		dynamic:   dyn,
		discovery: disc,
		mapper:    restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
		gvkCache:  map[schema.GroupVersionKind]bool{},
	}
}

type objectKey struct {
	gvk       schema.GroupVersionKind
	namespace string
	name      string
}

// apply applies objs for addon, then, if every object applied, deletes the
// objects of kinds pruneGVKs that carry addon's hash label but are not in
// objs. It keeps going after a failed object and returns every error.
func (a *applier) apply(ctx context.Context, addon *k3sv1.Addon, objs []*unstructured.Unstructured, pruneGVKs []schema.GroupVersionKind) error {
	labels, annotations := OwnerMetadata(addon)
	desired := map[objectKey]bool{}
	var errs []error
	for _, obj := range applyOrder(objs) {
		key, err := a.applyOne(ctx, obj, labels, annotations)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		desired[key] = true
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, gvk := range pruneGVKs {
		if err := a.prune(ctx, gvk, labels[LabelHash], annotations, desired); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (a *applier) applyOne(ctx context.Context, in *unstructured.Unstructured, labels, annotations map[string]string) (objectKey, error) {
	obj := in.DeepCopy()
	gvk := obj.GroupVersionKind()
	what := fmt.Sprintf("%s %q", gvk.Kind, obj.GetName())
	mapping, err := a.mapping(gvk)
	if err != nil {
		return objectKey{}, fmt.Errorf("apply %s: %w", what, err)
	}
	res := a.dynamic.Resource(mapping.Resource)
	var ri dynamic.ResourceInterface = res
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(metav1.NamespaceDefault)
		}
		ri = res.Namespace(obj.GetNamespace())
		what = fmt.Sprintf("%s %s/%s", gvk.Kind, obj.GetNamespace(), obj.GetName())
	} else {
		obj.SetNamespace("")
	}
	setOwnerMetadata(obj, labels, annotations)
	if _, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return objectKey{}, fmt.Errorf("apply %s: %w", what, err)
	}
	return objectKey{gvk: gvk, namespace: obj.GetNamespace(), name: obj.GetName()}, nil
}

// setOwnerMetadata adds the owner label and annotations to obj, and the
// applied annotation: the gzipped, base64-encoded JSON of obj as applied.
func setOwnerMetadata(obj *unstructured.Unstructured, labels, annotations map[string]string) {
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	for k, v := range labels {
		l[k] = v
	}
	obj.SetLabels(l)
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	delete(ann, AnnotationApplied)
	for k, v := range annotations {
		ann[k] = v
	}
	obj.SetAnnotations(ann)
	if applied, err := encodeApplied(obj); err == nil {
		ann[AnnotationApplied] = applied
		obj.SetAnnotations(ann)
	}
}

func encodeApplied(obj *unstructured.Unstructured) (string, error) {
	js, err := json.Marshal(obj.Object)
	if err != nil {
		return "", fmt.Errorf("marshal applied object: %w", err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(js); err != nil {
		return "", fmt.Errorf("compress applied object: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("compress applied object: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// prune deletes the objects of kind gvk labelled with hash whose owner
// annotations match and that are not desired.
func (a *applier) prune(ctx context.Context, gvk schema.GroupVersionKind, hash string, owner map[string]string, desired map[objectKey]bool) error {
	mapping, err := a.mapping(gvk)
	if err != nil {
		return fmt.Errorf("prune %s: %w", gvk.Kind, err)
	}
	res := a.dynamic.Resource(mapping.Resource)
	list, err := res.List(ctx, metav1.ListOptions{LabelSelector: LabelHash + "=" + hash})
	if err != nil {
		return fmt.Errorf("list %s to prune: %w", gvk.Kind, err)
	}
	var errs []error
	for _, item := range list.Items {
		key := objectKey{gvk: gvk, namespace: item.GetNamespace(), name: item.GetName()}
		if desired[key] || !ownedBy(&item, owner) || !prunable(&item) {
			continue
		}
		var ri dynamic.ResourceInterface = res
		if item.GetNamespace() != "" {
			ri = res.Namespace(item.GetNamespace())
		}
		policy := metav1.DeletePropagationBackground
		err := ri.Delete(ctx, item.GetName(), metav1.DeleteOptions{PropagationPolicy: &policy})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("prune %s %s/%s: %w", gvk.Kind, item.GetNamespace(), item.GetName(), err))
		}
	}
	return errors.Join(errs...)
}

// LabelNoPrune set to "false" keeps an object from ever being pruned, as
// wrangler's apply (pkg/apply/desiredset_process.go, shouldPrune) does.
const LabelNoPrune = "objectset.rio.cattle.io/prune"

func prunable(obj *unstructured.Unstructured) bool {
	return obj.GetLabels()[LabelNoPrune] != "false"
}

func ownedBy(obj *unstructured.Unstructured, owner map[string]string) bool {
	ann := obj.GetAnnotations()
	for k, v := range owner {
		if ann[k] != v {
			return false
		}
	}
	return true
}

// mapping resolves gvk to a resource, refreshing discovery once when the kind
// is unknown (a CRD may have been established since the last lookup).
func (a *applier) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		a.mapper.Reset()
		m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("map kind %s: %w", gvk, err)
	}
	return m, nil
}

// serverGVKs returns the gvks the API server serves, dropping the others, as
// k3s does before pruning; it keeps a positive cache of the kinds seen.
func (a *applier) serverGVKs(gvks []schema.GroupVersionKind) ([]schema.GroupVersionKind, error) {
	var out []schema.GroupVersionKind
	seen := map[schema.GroupVersionKind]bool{}
	for _, gvk := range gvks {
		if seen[gvk] {
			continue
		}
		seen[gvk] = true
		ok, err := a.serverHasGVK(gvk)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, gvk)
		}
	}
	return out, nil
}

func (a *applier) serverHasGVK(gvk schema.GroupVersionKind) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gvkCache[gvk] {
		return true, nil
	}
	list, err := a.discovery.ServerResourcesForGroupVersion(gvk.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discover %s: %w", gvk.GroupVersion(), err)
	}
	for _, r := range list.APIResources {
		if r.Group == "" && r.Version == "" {
			a.gvkCache[gvk.GroupVersion().WithKind(r.Kind)] = true
		}
	}
	return a.gvkCache[gvk], nil
}

// applyOrder returns objs with Namespaces and CustomResourceDefinitions first,
// keeping file order otherwise, so that what others depend on exists first.
func applyOrder(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := append([]*unstructured.Unstructured(nil), objs...)
	rank := func(o *unstructured.Unstructured) int {
		switch o.GroupVersionKind().GroupKind() {
		case schema.GroupKind{Kind: "Namespace"}:
			return 0
		case schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:
			return 1
		default:
			return 2
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}
