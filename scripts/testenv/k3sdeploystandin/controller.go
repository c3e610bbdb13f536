package k3sdeploystandin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	k3sv1 "github.com/k3s-io/api/k3s.cattle.io/v1"
	k3sclient "github.com/k3s-io/api/pkg/generated/clientset/versioned"
	k3sv1client "github.com/k3s-io/api/pkg/generated/clientset/versioned/typed/k3s.cattle.io/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
)

// ControllerName is the event source component, as in k3s.
const ControllerName = "deploy"

// DefaultPollInterval is k3s's hard-coded polling period.
const DefaultPollInterval = 15 * time.Second

// Event reasons, as in k3s.
const (
	ReasonApplying       = "ApplyingManifest"
	ReasonApplied        = "AppliedManifest"
	ReasonReadFailed     = "ReadManifestFailed"
	ReasonParseFailed    = "ParseManifestFailed"
	ReasonValidateFailed = "ValidateManifestFailed"
	ReasonApplyFailed    = "ApplyManifestFailed"
)

// epoch is the mtime some immutable filesystems give every file; such files
// are always compared by checksum, as in k3s.
var epoch = time.Unix(0, 0)

// Options configures a Controller.
type Options struct {
	// ManifestsDir is <data-dir>/server/manifests.
	ManifestsDir string
	// PollInterval is the time between passes; DefaultPollInterval if zero.
	PollInterval time.Duration
	// NodeName is the event source host.
	NodeName string
	// Logger receives progress; slog.Default() if nil.
	Logger *slog.Logger
}

// Controller polls the manifests directory and applies its files.
type Controller struct {
	opts        Options
	log         *slog.Logger
	addons      k3sv1client.AddonInterface
	applier     *applier
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	modTimes    map[string]time.Time
}

// New returns a Controller talking to the API server at cfg.
func New(cfg *rest.Config, opts Options) (*Controller, error) {
	if opts.ManifestsDir == "" {
		return nil, errors.New("no manifests directory given")
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create kubernetes client: %w", err)
	}
	k3s, err := k3sclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create k3s client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create dynamic client: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := k3sv1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("register addon type: %w", err)
	}
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events(metav1.NamespaceSystem)})
	return &Controller{
		opts:        opts,
		log:         opts.Logger,
		addons:      k3s.K3sV1().Addons(metav1.NamespaceSystem),
		applier:     newApplier(dyn, kube.Discovery()),
		broadcaster: broadcaster,
		recorder:    broadcaster.NewRecorder(scheme, corev1.EventSource{Component: ControllerName, Host: opts.NodeName}),
		modTimes:    map[string]time.Time{},
	}, nil
}

// Run polls until ctx is done. The first pass applies every file; a pass
// that fails makes the next one apply every file again.
func (c *Controller) Run(ctx context.Context) error {
	defer c.broadcaster.Shutdown()
	c.log.Info("watching manifests", "dir", c.opts.ManifestsDir, "interval", c.opts.PollInterval)
	force := true
	for {
		if err := c.Pass(ctx, force); err != nil {
			c.log.Error("pass failed; next pass applies every file", "err", err)
			force = true
		} else {
			force = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(c.opts.PollInterval):
		}
	}
}

// Pass walks the manifests directory once. With force, every file is
// applied; otherwise only files whose mtime changed are read, and applied
// only if their checksum differs from their Addon's.
func (c *Controller) Pass(ctx context.Context, force bool) error {
	if _, err := os.Stat(c.opts.ManifestsDir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	files, err := Discover(c.opts.ManifestsDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		if !force && !f.ModTime.Equal(epoch) && f.ModTime.Equal(c.modTimes[f.Path]) {
			continue
		}
		if err := c.deploy(ctx, f.Path, !force); err != nil {
			c.log.Error("manifest failed", "path", f.Path, "err", err)
			errs = append(errs, fmt.Errorf("process %s: %w", f.Path, err))
			continue
		}
		c.modTimes[f.Path] = f.ModTime
	}
	return errors.Join(errs...)
}

// deploy applies the file at path under its Addon.
func (c *Controller) deploy(ctx context.Context, path string, compareChecksum bool) error {
	addon, err := c.getOrCreateAddon(ctx, AddonName(path), path)
	if err != nil {
		return err
	}
	content, err := os.ReadFile(path)
	if err != nil {
		c.event(addon, corev1.EventTypeWarning, ReasonReadFailed, "Read manifest at %q failed: %v", path, err)
		return fmt.Errorf("read manifest: %w", err)
	}
	sum := Checksum(content)
	if compareChecksum && sum == addon.Spec.Checksum {
		c.log.Debug("unchanged", "path", path)
		return nil
	}
	objs, err := Parse(content)
	if err != nil {
		c.event(addon, corev1.EventTypeWarning, ReasonParseFailed, "Parse manifest at %q failed: %v", path, err)
		return fmt.Errorf("parse manifest: %w", err)
	}
	gvks := GVKs(objs)
	// Prune by the kinds in the file and those applied last time, dropping
	// kinds the server no longer serves.
	known := append(slices.Clip(gvks), ParseGVKs(addon.Annotations[GVKAnnotation])...)
	pruneGVKs, err := c.applier.serverGVKs(known)
	if err == nil {
		err = Validate(objs)
	}
	if err != nil {
		c.event(addon, corev1.EventTypeWarning, ReasonValidateFailed, "Validate manifest at %q failed: %v", path, err)
		return fmt.Errorf("validate manifest: %w", err)
	}
	c.event(addon, corev1.EventTypeNormal, ReasonApplying, "Applying manifest at %q", path)
	if err := c.applier.apply(ctx, addon, objs, pruneGVKs); err != nil {
		c.event(addon, corev1.EventTypeWarning, ReasonApplyFailed, "Applying manifest at %q failed: %v", path, err)
		return fmt.Errorf("apply manifest: %w", err)
	}
	c.event(addon, corev1.EventTypeNormal, ReasonApplied, "Applied manifest at %q", path)
	c.log.Info("applied", "path", path, "addon", addon.Name, "objects", len(objs))
	return c.recordApplied(ctx, addon.Name, path, sum, FormatGVKs(gvks))
}

// getOrCreateAddon returns the Addon called name, creating it with
// spec.source=path (and no checksum) if it does not exist.
func (c *Controller) getOrCreateAddon(ctx context.Context, name, path string) (*k3sv1.Addon, error) {
	addon, err := c.addons.Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		addon.Spec.Source = path
		return addon, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get addon %s: %w", name, err)
	}
	addon = k3sv1.NewAddon(metav1.NamespaceSystem, name, k3sv1.Addon{Spec: k3sv1.AddonSpec{Source: path}})
	created, err := c.addons.Create(ctx, addon, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create addon %s: %w", name, err)
	}
	return created, nil
}

// recordApplied stores the checksum, source and kinds of a successful apply
// on the Addon.
func (c *Controller) recordApplied(ctx context.Context, name, path, sum, gvks string) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		addon, err := c.addons.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if addon.Annotations == nil {
			addon.Annotations = map[string]string{}
		}
		addon.Spec.Source = path
		addon.Spec.Checksum = sum
		addon.Annotations[GVKAnnotation] = gvks
		_, err = c.addons.Update(ctx, addon, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("update addon %s: %w", name, err)
	}
	return nil
}

func (c *Controller) event(addon *k3sv1.Addon, eventType, reason, format string, args ...any) {
	c.recorder.Eventf(addon, eventType, reason, format, args...)
}
