package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	k3sclient "github.com/k3s-io/api/pkg/generated/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// DefaultKubeconfig is where k3s writes its admin kubeconfig.
const DefaultKubeconfig = "/etc/rancher/k3s/k3s.yaml"

// Clients talk to the cluster k3s runs.
type Clients struct {
	Config *rest.Config
	Kube   kubernetes.Interface
	K3s    k3sclient.Interface
}

// ResolveKubeconfig picks the kubeconfig: the flag, then k3s's own file,
// then $KUBECONFIG.
func ResolveKubeconfig(flag string, environ func(string) string) string {
	if flag != "" {
		return flag
	}
	if _, err := os.Stat(DefaultKubeconfig); err == nil {
		return DefaultKubeconfig
	}
	if env := environ("KUBECONFIG"); env != "" {
		return env
	}
	return DefaultKubeconfig
}

// NewClients builds clients from a kubeconfig file.
func NewClients(kubeconfig string) (*Clients, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.Timeout = 30 * time.Second
	cfg.UserAgent = "hakube"
	// A local API server: the default 5 QPS would make the wait lag.
	cfg.QPS, cfg.Burst = 50, 100
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	k3s, err := k3sclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("k3s client: %w", err)
	}
	return &Clients{Config: cfg, Kube: kube, K3s: k3s}, nil
}

// Reachable reports whether the API server answers within a few seconds.
func (c *Clients) Reachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := c.Kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			return nil // it answered, if only to refuse /readyz
		}
		return err
	}
	return nil
}

// HasServiceMonitorCRD reports whether the Prometheus operator's
// ServiceMonitor kind is served.
func (c *Clients) HasServiceMonitorCRD() bool {
	res, err := c.Kube.Discovery().ServerResourcesForGroupVersion("monitoring.coreos.com/v1")
	if err != nil {
		return false
	}
	for _, r := range res.APIResources {
		if r.Kind == "ServiceMonitor" {
			return true
		}
	}
	return false
}
