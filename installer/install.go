package installer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// Errors a caller branches on (the CLI maps them to exit codes).
var (
	ErrPreflight = errors.New("the host is not ready")
	ErrRejected  = errors.New("k3s rejected a manifest")
	ErrTimeout   = errors.New("timed out")
	// ErrBadInput marks a problem with a file or value the user gave
	// (database-url-file, a hardware root).
	ErrBadInput = errors.New("bad input")
)

// Installer writes the stack into k3s and follows it until Ready.
type Installer struct {
	// DataDir is k3s's data directory.
	DataDir string
	// State keeps the saved configuration and the secrets (root-only).
	State StateDir
	// Clients talk to the cluster; nil when the API is not reachable (k3s
	// installed but not running): files are written and apply later.
	Clients *Clients
	// Report receives progress events.
	Report Reporter
	// Timeout bounds the wait for Ready; NoWait skips it.
	Timeout time.Duration
	NoWait  bool
	// Images replaces manifests' pinned image table (nil: the pinned one).
	Images map[string]manifests.Image
}

// Result is what an install did.
type Result struct {
	Files         WriteResult      `json:"files"`
	Credentials   CredentialStatus `json:"credentials"`
	SecretsPath   string           `json:"secrets_path"`
	ConfigPath    string           `json:"config_path"`
	ManifestsDir  string           `json:"manifests_dir"`
	Waited        bool             `json:"waited"`
	Applied       bool             `json:"applied"`
	URL           string           `json:"url,omitempty"`
	Notes         []string         `json:"notes,omitempty"`
	MQTTUsername  string           `json:"mqtt_username,omitempty"`
	DurationMilli int64            `json:"duration_ms"`
}

// Install plans cfg and applies the plan.
func (in *Installer) Install(ctx context.Context, cfg config.Config) (*Result, error) {
	p, err := in.Plan(ctx, cfg, PlanOptions{})
	if err != nil {
		return nil, err
	}
	return in.Apply(ctx, p)
}

// Apply carries out a plan: it keeps the credentials, writes the manifests
// and the saved configuration, deletes what turned-off components left in
// the cluster and, unless NoWait, waits until every Addon is applied and
// every pod Ready. The caller holds the state directory's lock.
func (in *Installer) Apply(ctx context.Context, p *Plan) (*Result, error) {
	start := time.Now()
	cfg := p.Config
	res := &Result{ManifestsDir: p.ManifestsDir, SecretsPath: in.State.SecretsPath(),
		ConfigPath: in.State.ConfigPath(), Credentials: p.Credentials}
	rep := in.Report

	switch p.Credentials {
	case CredentialsNew:
		if err := in.State.SaveSecrets(p.secrets); err != nil {
			return nil, err
		}
		rep.emit(LevelInfo, PhaseSecrets, "", "generated new credentials in "+res.SecretsPath+" (0600, kept for every later run)", "")
	case CredentialsRecovered:
		if err := in.State.SaveSecrets(p.secrets); err != nil {
			return nil, err
		}
		rep.emit(LevelWarning, PhaseSecrets, "", "recovered the credentials from the cluster's copy (Secret "+cfg.Namespace+"/"+StateSecret+") into "+res.SecretsPath, "")
	default:
		if p.secretsChanged {
			if err := in.State.SaveSecrets(p.secrets); err != nil {
				return nil, err
			}
			rep.emit(LevelInfo, PhaseSecrets, "", "updated the credentials kept in "+res.SecretsPath+" (MQTT device accounts or the broker's certificate)", "")
			break
		}
		rep.emit(LevelInfo, PhaseSecrets, "", "reusing the credentials kept in "+res.SecretsPath, "")
	}

	if err := in.claimOwnership(&cfg, p.installID); err != nil {
		return nil, err
	}
	if in.Clients != nil {
		// Claims and namespaces made by an older hakube lack the label
		// that stops k3s from ever pruning them: add it before any file
		// changes.
		if err := in.protectClaims(ctx, p); err != nil {
			return nil, err
		}
	}
	wr, err := WriteManifests(res.ManifestsDir, p.rendered)
	if err != nil {
		return nil, err
	}
	res.Files = wr
	rep.emit(LevelInfo, PhaseWrite, "", fmt.Sprintf("%d files written, %d unchanged, %d removed in %s",
		len(wr.Written), len(wr.Unchanged), len(wr.Removed), res.ManifestsDir), "")
	for _, f := range p.rendered {
		rep.state(PhaseWrite, f.Component, StateWritten, "written")
	}
	if err := in.State.SaveConfig(&cfg); err != nil {
		return nil, err
	}

	if in.Clients == nil {
		res.Notes = append(res.Notes, "k3s is not running: the manifests apply when it starts (systemctl start k3s), then run 'hakube status'")
		rep.emit(LevelWarning, PhaseApply, "", "k3s is not running: the manifests apply as soon as it starts", "start it with 'systemctl start k3s', then run 'hakube status'")
		res.DurationMilli = time.Since(start).Milliseconds()
		return res, nil
	}
	if len(wr.Removed) > 0 {
		if err := in.deleteRemoved(ctx, &cfg, wr.Removed); err != nil {
			return nil, err
		}
	}
	if in.NoWait {
		rep.emit(LevelInfo, PhaseApply, "", "not waiting (--no-wait): k3s applies the files within 15 seconds; follow with 'hakube status'", "")
		res.DurationMilli = time.Since(start).Milliseconds()
		return res, nil
	}
	if err := Wait(ctx, in.Clients, in.Report, &cfg, p.rendered, in.Timeout); err != nil {
		return nil, err
	}
	// The namespace exists now: keep the cluster's copy of the state.
	if err := in.saveState(ctx, &cfg, p.secrets); err != nil {
		rep.emit(LevelWarning, PhaseDone, "", err.Error(), "run install again to retry; nothing else depends on it")
	}
	res.Waited, res.Applied = true, true
	res.URL = in.url(ctx, &cfg)
	res.MQTTUsername = p.secrets.MQTTHomeAssistant.Username
	res.DurationMilli = time.Since(start).Milliseconds()
	rep.emit(LevelDone, PhaseDone, "", "Home Assistant is ready at "+res.URL, "")
	return res, nil
}

// Wait follows k3s until every file's Addon carries the file's checksum and
// every StatefulSet of cfg is rolled out and Ready. A Warning event from k3s
// on one of the files fails with ErrRejected and k3s's message.
func Wait(ctx context.Context, c *Clients, rep Reporter, cfg *config.Config, files []manifests.File, timeout time.Duration) error {
	w := &waiter{c: c, rep: rep, ns: cfg.Namespace, timeout: timeout, addons: map[string]string{}, logs: c.lastLogLines, events: c.podWarnings,
		components: map[string]string{}, state: map[string]State{}}
	for _, f := range files {
		w.addons[AddonName(f.Name)] = Sum(f.Content)
		w.components[AddonName(f.Name)] = f.Component
		w.state[f.Component] = StateWritten
	}
	var err error
	if w.statefulsets, err = statefulSetsOf(files); err != nil {
		return err
	}
	return w.run(ctx)
}

// volumesUnchanged refuses changes a claim cannot take after install:
// Kubernetes cannot shrink a claim, local-path cannot grow one, and no claim
// changes its StorageClass.
func volumesUnchanged(saved, cfg *config.Config) error {
	if saved.Namespace != cfg.Namespace {
		return nil // another namespace has its own claims; checkOwner refuses a move while files exist
	}
	if saved.StorageClass != cfg.StorageClass {
		return fmt.Errorf("%w: storage-class was %q at install and cannot change (the volumes hold your data): keep %q",
			ErrPreflight, saved.StorageClass, saved.StorageClass)
	}
	if saved.Volumes != cfg.Volumes {
		return fmt.Errorf("%w: volume sizes are fixed at install (%s): keep the sizes of %s",
			ErrPreflight, "a claim cannot change afterwards", ConfigFile)
	}
	return nil
}

// AddonName is the Addon k3s creates for a manifest file.
func AddonName(file string) string {
	stem, _, _ := strings.Cut(file, ".")
	return stem
}

// checkNodePort fails when another Service already holds one of our
// NodePorts (Home Assistant's, the broker's with mqtt-expose: NodePort, the
// dashboards').
func (in *Installer) checkNodePort(ctx context.Context, cfg *config.Config) error {
	type want struct {
		port int
		key  string
	}
	var wants []want
	if cfg.ServiceType == config.NodePort {
		wants = append(wants, want{cfg.NodePort, "--node-port"})
	}
	if cfg.MQTTExposed() && cfg.MQTTExpose == config.MQTTExposeNodePort {
		wants = append(wants, want{cfg.MQTTNodePort, "--mqtt-node-port"}, want{cfg.MQTTTLSNodePort, "--mqtt-tls-node-port"})
	}
	ours := map[string]bool{cfg.Namespace + "/home-assistant": true, cfg.Namespace + "/home-assistant-mqtt-lan": true}
	for _, d := range manifests.Dashboards() {
		if port := cfg.DashboardPort(d.Component); port != 0 {
			wants = append(wants, want{port, "--" + string(d.Component) + "-node-port (0 keeps the dashboard off the LAN)"})
			ours[cfg.Namespace+"/"+manifests.DashboardService(d.Component)] = true
			if r := manifests.RadioNamespace(cfg); r != "" {
				ours[r+"/"+manifests.DashboardService(d.Component)] = true
			}
		}
	}
	if len(wants) == 0 {
		return nil
	}
	svcs, err := in.Clients.Kube.Services.List(ctx, "", metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	for _, s := range svcs.Items {
		if ours[s.Namespace+"/"+s.Name] {
			continue
		}
		for _, p := range s.Spec.Ports {
			for _, w := range wants {
				if int(p.NodePort) == w.port {
					return fmt.Errorf("%w: NodePort %d is taken by service %s/%s: choose another with %s (30000-32767)",
						ErrPreflight, w.port, s.Namespace, s.Name, w.key)
				}
			}
		}
	}
	return nil
}

// url is where the user opens Home Assistant.
func (in *Installer) url(ctx context.Context, cfg *config.Config) string {
	if cfg.IngressHost != "" {
		scheme := "http"
		if cfg.IngressTLS {
			scheme = "https"
		}
		return scheme + "://" + cfg.IngressHost
	}
	switch cfg.ServiceType {
	case config.NodePort:
		return fmt.Sprintf("http://%s:%d", nodeIP(ctx, in.Clients), cfg.NodePort)
	case config.LoadBalancer:
		svc, err := in.Clients.Kube.Services.Get(ctx, cfg.Namespace, "home-assistant")
		if err == nil {
			for _, ing := range svc.Status.LoadBalancer.Ingress {
				if ing.IP != "" {
					return "http://" + ing.IP + ":8123"
				}
			}
		}
		return "http://<load-balancer-ip>:8123"
	}
	return fmt.Sprintf("kubectl -n %s port-forward svc/home-assistant 8123:8123, then http://localhost:8123", cfg.Namespace)
}

func nodeIP(ctx context.Context, c *Clients) string {
	nodes, err := c.Kube.Nodes.List(ctx, "", metav1.ListOptions{})
	if err == nil {
		for _, n := range nodes.Items {
			for _, a := range n.Status.Addresses {
				if a.Type == corev1.NodeInternalIP {
					return a.Address
				}
			}
		}
	}
	return "<node-ip>"
}
