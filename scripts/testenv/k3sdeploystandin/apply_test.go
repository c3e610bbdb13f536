package k3sdeploystandin

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"testing"

	k3sv1 "github.com/k3s-io/api/k3s.cattle.io/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestSetOwnerMetadata(t *testing.T) {
	objs, err := Parse([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {keep: me}\n  annotations: {objectset.rio.cattle.io/applied: stale}\n"))
	if err != nil {
		t.Fatal(err)
	}
	labels, ann := OwnerMetadata(&k3sv1.Addon{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "kube-system"}})
	a, b := objs[0].DeepCopy(), objs[0].DeepCopy()
	setOwnerMetadata(a, labels, ann)
	setOwnerMetadata(b, labels, ann)
	if a.GetLabels()["keep"] != "me" || a.GetLabels()[LabelHash] != labels[LabelHash] {
		t.Errorf("labels = %v", a.GetLabels())
	}
	applied := a.GetAnnotations()[AnnotationApplied]
	// Server-side apply only leaves an object alone if what we send is
	// byte-for-byte stable; the applied annotation must be deterministic.
	if applied != b.GetAnnotations()[AnnotationApplied] {
		t.Fatal("applied annotation differs between two identical applies")
	}
	raw, err := base64.StdEncoding.DecodeString(applied)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	js, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var decoded map[string]any
	if err := json.Unmarshal(js, &decoded); err != nil {
		t.Fatal(err)
	}
	md := decoded["metadata"].(map[string]any)
	if md["name"] != "a" {
		t.Errorf("applied annotation holds %v", decoded)
	}
	if _, stale := md["annotations"].(map[string]any)[AnnotationApplied]; stale {
		t.Error("applied annotation nests the previous applied annotation")
	}
}

func TestNoPruneLabelKeepsAnObject(t *testing.T) {
	obj := &unstructured.Unstructured{}
	obj.SetLabels(map[string]string{"a": "b"})
	if !prunable(obj) {
		t.Error("an object without the label is prunable")
	}
	obj.SetLabels(map[string]string{LabelNoPrune: "false"})
	if prunable(obj) {
		t.Error(`an object labelled prune: "false" must never be pruned`)
	}
}
