package k3sdeploystandin

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// Checksum returns the hex-encoded sha256 of content, the value k3s keeps in
// an Addon's spec.checksum.
func Checksum(content []byte) string {
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:])
}

// Parse decodes the YAML or JSON documents in content into objects. Documents
// holding only comments, blank lines or separators are ignored; a List is
// flattened into its items. Any document that is not a Kubernetes object
// (no apiVersion or kind) fails the whole file, as in k3s.
func Parse(content []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	reader := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(content)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read document: %w", err)
		}
		if isEmptyDocument(doc) {
			continue
		}
		js, err := yaml.ToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("convert document to JSON: %w", err)
		}
		obj, _, err := unstructured.UnstructuredJSONScheme.Decode(js, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decode object: %w", err)
		}
		switch o := obj.(type) {
		case *unstructured.UnstructuredList:
			for i := range o.Items {
				objs = append(objs, &o.Items[i])
			}
		case *unstructured.Unstructured:
			objs = append(objs, o)
		default:
			return nil, fmt.Errorf("decode object: unexpected type %T", obj)
		}
	}
}

// isEmptyDocument reports whether doc holds nothing but blank lines, comments
// and document separators.
func isEmptyDocument(doc []byte) bool {
	for line := range bytes.SplitSeq(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) != 0 && !bytes.Equal(line, []byte("---")) && !bytes.HasPrefix(line, []byte("#")) {
			return false
		}
	}
	return true
}

// Validate checks what server-side apply needs before asking the API server:
// every object has a name.
func Validate(objs []*unstructured.Unstructured) error {
	var errs []error
	for i, o := range objs {
		if o.GetName() == "" {
			errs = append(errs, fmt.Errorf("object %d (%s) has no metadata.name", i+1, o.GroupVersionKind().Kind))
		}
	}
	return errors.Join(errs...)
}

// GVKs returns the distinct kinds of objs, in order of first appearance.
func GVKs(objs []*unstructured.Unstructured) []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	seen := map[schema.GroupVersionKind]bool{}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		if !seen[gvk] {
			seen[gvk] = true
			out = append(out, gvk)
		}
	}
	return out
}
