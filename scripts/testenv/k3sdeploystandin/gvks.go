package k3sdeploystandin

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GVKAnnotation lists, on an Addon, the kinds its last successful apply
// created, so that objects of a kind later removed from the file are pruned.
const GVKAnnotation = "addon.k3s.cattle.io/gvks"

const gvkSeparator = ";"

// FormatGVKs renders gvks the way k3s stores them in GVKAnnotation:
// "apps/v1, Kind=Deployment;/v1, Kind=ConfigMap".
func FormatGVKs(gvks []schema.GroupVersionKind) string {
	parts := make([]string, len(gvks))
	for i, gvk := range gvks {
		parts[i] = gvk.String()
	}
	return strings.Join(parts, gvkSeparator)
}

// ParseGVKs reads a GVKAnnotation value, ignoring malformed entries.
func ParseGVKs(s string) []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	for part := range strings.SplitSeq(s, gvkSeparator) {
		gv, kind, ok := strings.Cut(part, ", Kind=")
		if !ok || kind == "" {
			continue
		}
		group, version, ok := strings.Cut(gv, "/")
		if !ok {
			group, version = "", gv
		}
		out = append(out, schema.GroupVersionKind{Group: group, Version: version, Kind: kind})
	}
	return out
}
