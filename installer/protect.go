package installer

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// NoPruneLabel makes k3s's apply library (wrangler) never prune an object,
// whatever happens to the file it came from.
const NoPruneLabel = "objectset.rio.cattle.io/prune"

// protectClaims labels every claim the plan keeps, and its namespace, so
// k3s never prunes them; objects already labelled are left alone.
func (in *Installer) protectClaims(ctx context.Context, p *Plan) error {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{NoPruneLabel: "false"}}})
	seenNS := map[string]bool{}
	for _, c := range p.keptClaims {
		pvc, err := in.Clients.Kube.Claims.Get(ctx, c.Namespace, c.Name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read claim %s/%s: %w", c.Namespace, c.Name, err)
		}
		if pvc.Labels[NoPruneLabel] != "false" {
			if err := in.Clients.Kube.Claims.Patch(ctx, c.Namespace, c.Name, types.MergePatchType, patch); err != nil {
				return fmt.Errorf("protect claim %s/%s from pruning: %w", c.Namespace, c.Name, err)
			}
		}
		if seenNS[c.Namespace] {
			continue
		}
		seenNS[c.Namespace] = true
		ns, err := in.Clients.Kube.Namespaces.Get(ctx, "", c.Namespace)
		if err == nil && ns.Labels[NoPruneLabel] != "false" {
			if err := in.Clients.Kube.Namespaces.Patch(ctx, "", c.Namespace, types.MergePatchType, patch); err != nil {
				return fmt.Errorf("protect namespace %s from pruning: %w", c.Namespace, err)
			}
		}
	}
	return nil
}
