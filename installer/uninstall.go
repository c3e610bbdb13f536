package installer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// OurLabels select every object hakube installs.
const OurLabels = "app.kubernetes.io/part-of=hakube,app.kubernetes.io/managed-by=hakube"

// UninstallResult counts what was removed.
type UninstallResult struct {
	FilesRemoved   []string `json:"files_removed"`
	AddonsRemoved  []string `json:"addons_removed"`
	ObjectsDeleted []string `json:"objects_deleted"`
	VolumesKept    []string `json:"volumes_kept,omitempty"`
	// BackupsKept are the archives a purge moved out of the backups volume
	// (to KeptBackupsDir) before deleting it: backups outlive a purge.
	BackupsKept []string `json:"backups_kept,omitempty"`
	// DataErased are the volume directories a purge deleted; DataElsewhere
	// those it could not reach (on another node).
	DataErased    []string `json:"data_erased,omitempty"`
	DataElsewhere []string `json:"data_elsewhere,omitempty"`
}

// Uninstall removes our manifest files first (so k3s cannot re-create
// anything), then our Addons and every object with our labels. k3s does not
// delete resources when a file disappears, so this is the only way they go.
// Volumes (PVCs) and the namespace are kept unless purge.
func (in *Installer) Uninstall(ctx context.Context, namespace string, purge bool) (*UninstallResult, error) {
	res := &UninstallResult{}
	dir := ManifestsDir(in.DataDir)
	for _, name := range manifests.FileNames() {
		err := os.Remove(filepath.Join(dir, name))
		switch {
		case err == nil:
			res.FilesRemoved = append(res.FilesRemoved, name)
		case !errors.Is(err, fs.ErrNotExist):
			return res, fmt.Errorf("remove %s: %w", name, describeWriteErr(err))
		}
	}
	if err := releaseOwnership(dir); err != nil {
		return res, fmt.Errorf("remove %s: %w", ownerFile, err)
	}
	in.Report.emit(LevelInfo, PhaseUninstall, "", fmt.Sprintf("removed %d manifest files from %s", len(res.FilesRemoved), dir), "")
	if in.Clients == nil {
		return res, fmt.Errorf("%w: the files are removed, but k3s is not running, so the objects stay: start k3s and run uninstall again", ErrPreflight)
	}
	c := in.Clients
	addons, err := c.Kube.Addons.List(ctx, "kube-system", metav1.ListOptions{})
	if err != nil {
		return res, fmt.Errorf("list addons: %w", err)
	}
	for _, a := range addons.Items {
		if !strings.HasPrefix(a.Name, manifests.FilePrefix) {
			continue
		}
		if err := c.Kube.Addons.Delete(ctx, "kube-system", a.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return res, fmt.Errorf("delete addon %s: %w", a.Name, err)
		}
		res.AddonsRemoved = append(res.AddonsRemoved, a.Name)
	}
	if purge {
		// The radio namespace's backups volume holds the parts of each run:
		// kept next to the main archives, where list and restore find them.
		for _, ns := range []string{namespace, namespace + "-radio"} {
			dir, err := VolumeDir(ctx, c, in.DataDir, ns, "home-assistant-backups-0")
			if err != nil {
				continue
			}
			kept, err := KeepBackups(dir, in.DataDir)
			res.BackupsKept = append(res.BackupsKept, kept...)
			if err != nil {
				return res, fmt.Errorf("%w: nothing was deleted", err)
			}
		}
		if len(res.BackupsKept) > 0 {
			in.Report.emit(LevelInfo, "uninstall", "", fmt.Sprintf("kept %d backup archives in %s (delete that directory yourself to remove them)", len(res.BackupsKept), KeptBackupsDir(in.DataDir)), "")
		}
	}
	// The radio's workload lives in a namespace of its own.
	for _, ns := range []string{namespace, namespace + "-radio"} {
		// A purge erases the data too: hakube's class retains it when a
		// claim goes, so note the volumes before their claims disappear.
		var vols []retained
		if purge {
			if vols, err = retainedVolumes(ctx, c, ns); err != nil {
				return res, err
			}
		}
		deleted, err := deleteOurObjects(ctx, c, ns, "", purge)
		res.ObjectsDeleted = append(res.ObjectsDeleted, deleted...)
		if err != nil {
			return res, err
		}
		if !purge {
			pvcs, err := c.Kube.Claims.List(ctx, ns, metav1.ListOptions{LabelSelector: OurLabels})
			if err == nil {
				for _, p := range pvcs.Items {
					res.VolumesKept = append(res.VolumesKept, p.Name)
				}
			}
		}
		if err := waitGone(ctx, c, ns, purge); err != nil {
			return res, err
		}
		erased, elsewhere, err := eraseRetained(ctx, c, vols)
		res.DataErased = append(res.DataErased, erased...)
		res.DataElsewhere = append(res.DataElsewhere, elsewhere...)
		if err != nil {
			return res, err
		}
	}
	in.Report.emit(LevelDone, PhaseUninstall, "", fmt.Sprintf("deleted %d objects; kept %d volumes", len(res.ObjectsDeleted), len(res.VolumesKept)), "")
	return res, nil
}

// deleteOurObjects deletes objects with our labels in namespace; component,
// when set, narrows to one component (a component turned off). PVCs and the
// namespace go only with purge.
func deleteOurObjects(ctx context.Context, c *Clients, namespace, component string, purge bool) ([]string, error) {
	sel := OurLabels
	if component != "" {
		sel += ",app.kubernetes.io/component=" + component
	}
	lo := metav1.ListOptions{LabelSelector: sel}
	bg := metav1.DeletePropagationBackground
	do := metav1.DeleteOptions{PropagationPolicy: &bg}
	var deleted []string
	k := c.Kube
	steps := []func() ([]string, error){
		func() ([]string, error) { return deleteListed(ctx, k.StatefulSets, "statefulset", namespace, lo, do) },
		func() ([]string, error) { return deleteListed(ctx, k.CronJobs, "cronjob", namespace, lo, do) },
		func() ([]string, error) { return deleteListed(ctx, k.Jobs, "job", namespace, lo, do) },
		func() ([]string, error) { return deleteListed(ctx, k.Ingresses, "ingress", namespace, lo, do) },
		func() ([]string, error) { return deleteListed(ctx, k.Services, "service", namespace, lo, do) },
		func() ([]string, error) { return deleteListed(ctx, k.ConfigMaps, "configmap", namespace, lo, do) },
		func() ([]string, error) { return deleteListed(ctx, k.Secrets, "secret", namespace, lo, do) },
	}
	if purge {
		steps = append(steps, func() ([]string, error) {
			return deleteListed(ctx, k.Claims, "persistentvolumeclaim", namespace, lo, do)
		})
	}
	for _, step := range steps {
		names, err := step()
		deleted = append(deleted, names...)
		if err != nil {
			return deleted, err
		}
	}
	// The ServiceMonitor, when the Prometheus operator serves the kind.
	if c.HasServiceMonitorCRD() {
		path := fmt.Sprintf("/apis/monitoring.coreos.com/v1/namespaces/%s/servicemonitors/home-assistant", namespace)
		if component == "" || component == "monitoring" {
			err := c.Kube.Raw().Delete().AbsPath(path).Do(ctx).Error()
			if err == nil {
				deleted = append(deleted, "servicemonitor/home-assistant")
			} else if !apierrors.IsNotFound(err) {
				return deleted, fmt.Errorf("delete servicemonitor: %w", err)
			}
		}
	}
	if purge && component == "" {
		ns, err := k.Namespaces.Get(ctx, "", namespace)
		if err == nil && ns.Labels["app.kubernetes.io/part-of"] == "hakube" {
			if err := k.Namespaces.Delete(ctx, "", namespace, do); err != nil && !apierrors.IsNotFound(err) {
				return deleted, fmt.Errorf("delete namespace: %w", err)
			}
			deleted = append(deleted, "namespace/"+namespace)
		}
	}
	return deleted, nil
}

// deleteListed deletes every object of one kind that lo selects.
func deleteListed[T runtime.Object, L runtime.Object](ctx context.Context, r Resource[T, L], kind, ns string, lo metav1.ListOptions, do metav1.DeleteOptions) ([]string, error) {
	list, err := r.List(ctx, ns, lo)
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", kind, err)
	}
	items, err := apimeta.ExtractList(list)
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", kind, err)
	}
	var deleted []string
	for _, it := range items {
		m, err := apimeta.Accessor(it)
		if err != nil {
			return deleted, err
		}
		if err := r.Delete(ctx, ns, m.GetName(), do); err != nil && !apierrors.IsNotFound(err) {
			return deleted, fmt.Errorf("delete %s %s: %w", kind, m.GetName(), err)
		}
		deleted = append(deleted, kind+"/"+m.GetName())
	}
	return deleted, nil
}

// waitGone waits (bounded) until our pods are gone, and with purge our
// volumes, so that "uninstalled" means it.
func waitGone(ctx context.Context, c *Clients, namespace string, purge bool) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		pods, err := c.Kube.Pods.List(ctx, namespace, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=hakube"})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("list pods: %w", err)
		}
		left := 0
		if pods != nil {
			left = len(pods.Items)
		}
		if purge {
			pvcs, err := c.Kube.Claims.List(ctx, namespace, metav1.ListOptions{LabelSelector: OurLabels})
			if err == nil {
				left += len(pvcs.Items)
			}
		}
		if left == 0 {
			return nil
		}
		w, err := c.Kube.Pods.Watch(ctx, namespace, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=hakube", ResourceVersion: pods.ResourceVersion})
		if err == nil {
			select {
			case <-w.ResultChan():
			case <-time.After(2 * time.Second): // PVC finalizers are not pod events
			case <-ctx.Done():
			}
			w.Stop()
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %d objects are still terminating; they go by themselves, check with 'kubectl get all -n %s'", ErrTimeout, left, namespace)
		}
	}
}

// deleteRemoved deletes the objects of components whose files were
// removed (k3s leaves them), keeping their volumes.
func (in *Installer) deleteRemoved(ctx context.Context, cfg *config.Config, removed []string) error {
	for _, f := range removed {
		if err := in.Clients.Kube.Addons.Delete(ctx, "kube-system", AddonName(f), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete addon %s: %w", AddonName(f), err)
		}
		c := manifests.ComponentOf(f)
		var deleted []string
		for _, ns := range []string{cfg.Namespace, cfg.Namespace + "-radio"} {
			d, err := deleteOurObjects(ctx, in.Clients, ns, c, false)
			deleted = append(deleted, d...)
			if err != nil {
				return err
			}
		}
		in.Report.emit(LevelInfo, PhaseWrite, c, fmt.Sprintf("turned off: deleted %d objects, kept its volume", len(deleted)), "")
	}
	return nil
}
