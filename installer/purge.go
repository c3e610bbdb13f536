package installer

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// retained is a volume a purge must erase itself: its class keeps the data
// (reclaimPolicy Retain), so deleting the claim leaves it on the node.
type retained struct {
	PV   string
	Path string
}

// retainedVolumes lists the local-path volumes with reclaim policy Retain
// bound to our claims in ns.
func retainedVolumes(ctx context.Context, c *Clients, ns string) ([]retained, error) {
	pvcs, err := c.Kube.Claims.List(ctx, ns, metav1.ListOptions{LabelSelector: OurLabels})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list claims: %w", err)
	}
	var out []retained
	for _, pvc := range pvcs.Items {
		if pvc.Spec.VolumeName == "" {
			continue
		}
		pv, err := c.volumes().Get(ctx, "", pvc.Spec.VolumeName)
		if err != nil {
			continue
		}
		if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain ||
			pv.Annotations["pv.kubernetes.io/provisioned-by"] != "rancher.io/local-path" {
			continue
		}
		r := retained{PV: pv.Name}
		switch {
		case pv.Spec.HostPath != nil:
			r.Path = pv.Spec.HostPath.Path
		case pv.Spec.Local != nil:
			r.Path = pv.Spec.Local.Path
		}
		out = append(out, r)
	}
	return out, nil
}

// eraseRetained deletes the volumes a purge left behind and their data
// on this host; a directory on another node is named in the result.
func eraseRetained(ctx context.Context, c *Clients, vols []retained) (erased, elsewhere []string, err error) {
	for _, v := range vols {
		if err := c.volumes().Delete(ctx, "", v.PV, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return erased, elsewhere, fmt.Errorf("delete volume %s: %w", v.PV, err)
		}
		if v.Path == "" {
			continue
		}
		if _, err := os.Stat(v.Path); err != nil {
			elsewhere = append(elsewhere, v.Path)
			continue
		}
		if err := os.RemoveAll(v.Path); err != nil {
			return erased, elsewhere, fmt.Errorf("erase %s: %w", v.Path, err)
		}
		erased = append(erased, v.Path)
	}
	return erased, elsewhere, nil
}
