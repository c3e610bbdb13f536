package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// DefaultKubeconfig is where k3s writes its admin kubeconfig.
const DefaultKubeconfig = "/etc/rancher/k3s/k3s.yaml"

// Clients talk to the cluster k3s runs.
type Clients struct {
	Config *rest.Config
	Kube   *Kube
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
	kube, err := newKube(cfg)
	if err != nil {
		return nil, err
	}
	return &Clients{Config: cfg, Kube: kube}, nil
}

// Reachable reports whether the API server answers within a few seconds.
func (c *Clients) Reachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := c.Kube.Raw().Get().AbsPath("/readyz").DoRaw(ctx)
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
	return c.hasKind("/apis/monitoring.coreos.com/v1", "ServiceMonitor")
}

// HasCertificateCRD says cert-manager's Certificate kind is served.
func (c *Clients) HasCertificateCRD() bool {
	return c.hasKind("/apis/cert-manager.io/v1", "Certificate")
}

func (c *Clients) hasKind(groupVersion, kind string) bool {
	raw, err := c.Kube.Raw().Get().AbsPath(groupVersion).DoRaw(context.Background())
	if err != nil {
		return false
	}
	var res metav1.APIResourceList
	if err := json.Unmarshal(raw, &res); err != nil {
		return false
	}
	for _, r := range res.APIResources {
		if r.Kind == kind {
			return true
		}
	}
	return false
}
