package k3sdeploystandin

import (
	"strings"
	"testing"

	k3sv1 "github.com/k3s-io/api/k3s.cattle.io/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestChecksum(t *testing.T) {
	// sha256("") is well known.
	if got, want := Checksum(nil), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("Checksum(nil) = %s, want %s", got, want)
	}
}

func TestParse(t *testing.T) {
	content := `# leading comment
---
apiVersion: v1
kind: ConfigMap
metadata: {name: one, namespace: ns}
---
# only a comment
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: two}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: three}
---
`
	objs, err := Parse([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	if want := "ConfigMap/one Secret/two Deployment/three"; strings.Join(got, " ") != want {
		t.Errorf("Parse = %q, want %s", got, want)
	}
	gvks := GVKs(objs)
	if len(gvks) != 3 || gvks[2] != (schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}) {
		t.Errorf("GVKs = %v", gvks)
	}
}

func TestParseJSON(t *testing.T) {
	objs, err := Parse([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"}}`))
	if err != nil || len(objs) != 1 || objs[0].GetName() != "j" {
		t.Fatalf("Parse(json) = %v, %v", objs, err)
	}
}

func TestParseErrors(t *testing.T) {
	for name, content := range map[string]string{
		"not yaml":   "a: [unclosed\n",
		"no kind":    "apiVersion: v1\nmetadata: {name: x}\n",
		"scalar doc": "just a string\n",
	} {
		if _, err := Parse([]byte(content)); err == nil {
			t.Errorf("%s: Parse succeeded, want an error", name)
		}
	}
}

func TestParseEmpty(t *testing.T) {
	objs, err := Parse([]byte("# nothing\n---\n\n---\n"))
	if err != nil || len(objs) != 0 {
		t.Fatalf("Parse(empty) = %v, %v; want no objects", objs, err)
	}
}

func TestValidate(t *testing.T) {
	objs, err := Parse([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(objs); err == nil || !strings.Contains(err.Error(), "no metadata.name") {
		t.Errorf("Validate = %v, want a missing-name error", err)
	}
}

func TestGVKAnnotationRoundTrip(t *testing.T) {
	gvks := []schema.GroupVersionKind{
		{Version: "v1", Kind: "ConfigMap"},
		{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	}
	s := FormatGVKs(gvks)
	if want := "/v1, Kind=ConfigMap;apps/v1, Kind=StatefulSet"; s != want {
		t.Errorf("FormatGVKs = %q, want %q", s, want)
	}
	back := ParseGVKs(s + ";garbage;")
	if len(back) != 2 || back[0] != gvks[0] || back[1] != gvks[1] {
		t.Errorf("ParseGVKs(%q) = %v, want %v", s, back, gvks)
	}
}

func TestOwnerMetadata(t *testing.T) {
	addon := &k3sv1.Addon{ObjectMeta: metav1.ObjectMeta{Name: "hakube", Namespace: "kube-system"}}
	labels, ann := OwnerMetadata(addon)
	if ann[AnnotationOwnerGVK] != "k3s.cattle.io/v1, Kind=Addon" || ann[AnnotationOwnerName] != "hakube" ||
		ann[AnnotationOwnerNamespace] != "kube-system" {
		t.Errorf("annotations = %v", ann)
	}
	if v, ok := ann[AnnotationID]; !ok || v != "" {
		t.Errorf("id annotation = %q, %v; want present and empty", v, ok)
	}
	h := labels[LabelHash]
	if len(h) != 40 {
		t.Errorf("hash label %q is not a hex sha1", h)
	}
	other, _ := OwnerMetadata(&k3sv1.Addon{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "kube-system"}})
	if other[LabelHash] == h {
		t.Error("two Addons share a hash label")
	}
}

func TestApplyOrder(t *testing.T) {
	objs, err := Parse([]byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: b}
---
apiVersion: v1
kind: Namespace
metadata: {name: c}
---
apiVersion: v1
kind: Secret
metadata: {name: d}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range applyOrder(objs) {
		got = append(got, o.GetName())
	}
	if strings.Join(got, "") != "cbad" {
		t.Errorf("applyOrder = %v, want c b a d", got)
	}
}
