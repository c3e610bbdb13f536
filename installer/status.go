package installer

import (
	"context"
	"fmt"
	"sort"
	"strings"

	k3sv1 "github.com/k3s-io/api/k3s.cattle.io/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// Status is what 'hakube status' shows.
type Status struct {
	Namespace  string            `json:"namespace"`
	Healthy    bool              `json:"healthy"`
	URL        string            `json:"url,omitempty"`
	Addons     []AddonStatus     `json:"addons"`
	Components []ComponentStatus `json:"components"`
	Pods       []PodStatus       `json:"pods"`
	Events     []EventStatus     `json:"events"`
	Access     []string          `json:"access,omitempty"`
	// URLs are the addresses the LAN reaches besides Home Assistant's.
	URLs []AccessURL `json:"urls,omitempty"`
}

// AddonStatus is one manifest file as k3s sees it.
type AddonStatus struct {
	Name    string `json:"name"`
	Applied bool   `json:"applied"`
	// UpToDate is true when k3s applied exactly the file on disk.
	UpToDate bool   `json:"up_to_date"`
	Kinds    string `json:"kinds,omitempty"`
}

// ComponentStatus is one container of the stack with its image.
type ComponentStatus struct {
	Name    string `json:"name"`
	Image   string `json:"image"`
	Version string `json:"version"`
	Ready   bool   `json:"ready"`
}

// PodStatus is one pod.
type PodStatus struct {
	Name     string `json:"name"`
	Phase    string `json:"phase"`
	Ready    bool   `json:"ready"`
	Restarts int32  `json:"restarts"`
	Waiting  string `json:"waiting,omitempty"`
	// Namespace is set for a pod outside the install's namespace (the radio's).
	Namespace string `json:"namespace,omitempty"`
	// Problem is why a pod that is not Ready cannot start, in the
	// scheduler's or kubelet's words; Advice says what to do.
	Problem string `json:"problem,omitempty"`
	Advice  string `json:"advice,omitempty"`
}

// EventStatus is one of k3s's recent events about our files.
type EventStatus struct {
	Addon   string `json:"addon"`
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Age     string `json:"last_seen"`
}

// Status reads the state of the installed stack.
func (in *Installer) Status(ctx context.Context, cfg config.Config) (*Status, error) {
	c := in.Clients
	st := &Status{Namespace: cfg.Namespace, Healthy: true}
	addons, err := c.Kube.Addons.List(ctx, "kube-system", metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list addons: %w (is k3s running? 'systemctl status k3s')", err)
	}
	byName := map[string]k3sv1.Addon{}
	for _, a := range addons.Items {
		byName[a.Name] = a
	}
	disk := readManifestSums(ManifestsDir(in.DataDir))
	for _, f := range manifests.FileNames() {
		name := AddonName(f)
		a, ok := byName[name]
		sum, onDisk := disk[f]
		if !ok && !onDisk {
			continue
		}
		as := AddonStatus{Name: name, Applied: ok && a.Spec.Checksum != ""}
		as.UpToDate = as.Applied && onDisk && a.Spec.Checksum == sum
		if ok {
			as.Kinds = a.Annotations["addon.k3s.cattle.io/gvks"]
		}
		if !as.UpToDate {
			st.Healthy = false
		}
		st.Addons = append(st.Addons, as)
	}
	pods, err := c.Kube.Pods.List(ctx, cfg.Namespace, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=hakube"})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	if radio := manifests.RadioNamespace(&cfg); radio != "" {
		rp, err := c.Kube.Pods.List(ctx, radio, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=hakube"})
		if err != nil {
			return nil, fmt.Errorf("list pods: %w", err)
		}
		pods.Items = append(pods.Items, rp.Items...)
	}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodSucceeded {
			continue // finished backup jobs
		}
		ps := PodStatus{Name: p.Name, Phase: string(p.Status.Phase), Ready: podReady(&p)}
		for _, cs := range p.Status.ContainerStatuses {
			ps.Restarts += cs.RestartCount
			if cs.State.Waiting != nil && ps.Waiting == "" {
				ps.Waiting = cs.Name + ": " + cs.State.Waiting.Reason
			}
			tag := cs.Image[strings.LastIndex(cs.Image, ":")+1:]
			st.Components = append(st.Components, ComponentStatus{Name: cs.Name, Image: cs.Image, Version: tag, Ready: cs.Ready})
		}
		if p.Namespace != cfg.Namespace {
			ps.Namespace = p.Namespace
		}
		if !ps.Ready {
			st.Healthy = false
			ps.Problem, ps.Advice = podProblem(&p, c.podWarnings(&p))
		}
		st.Pods = append(st.Pods, ps)
	}
	if len(st.Pods) == 0 {
		st.Healthy = false
	}
	sort.Slice(st.Components, func(i, j int) bool { return st.Components[i].Name < st.Components[j].Name })
	evs, err := c.Kube.Events.List(ctx, "kube-system", metav1.ListOptions{FieldSelector: "involvedObject.kind=Addon"})
	if err == nil {
		items := evs.Items
		sort.Slice(items, func(i, j int) bool { return eventTime(&items[i]).Time.Before(eventTime(&items[j]).Time) })
		for _, e := range items {
			if !strings.HasPrefix(e.InvolvedObject.Name, manifests.FilePrefix) {
				continue
			}
			st.Events = append(st.Events, EventStatus{Addon: e.InvolvedObject.Name, Type: e.Type, Reason: e.Reason,
				Message: e.Message, Age: eventTime(&e).UTC().Format("2006-01-02T15:04:05Z")})
		}
		if len(st.Events) > 10 {
			st.Events = st.Events[len(st.Events)-10:]
		}
	}
	st.URL = in.url(ctx, &cfg)
	names := map[config.Component]string{config.NodeRED: "Node-RED", config.ESPHome: "ESPHome", config.Zigbee2MQTT: "Zigbee2MQTT"}
	for _, d := range manifests.Dashboards() {
		if !cfg.Has(d.Component) {
			continue
		}
		if host := cfg.DashboardHost(d.Component); host != "" {
			st.URLs = append(st.URLs, AccessURL{Name: names[d.Component] + " (Ingress)", URL: ingressScheme(&cfg) + "://" + host,
				Login: DashboardLogin(d.Component)})
		}
		if port := cfg.DashboardPort(d.Component); port != 0 {
			st.URLs = append(st.URLs, AccessURL{Name: names[d.Component], URL: fmt.Sprintf("http://%s:%d", nodeIP(ctx, in.Clients), port),
				Login: DashboardLogin(d.Component)})
			continue
		}
		if cfg.DashboardHost(d.Component) != "" {
			continue
		}
		ns := cfg.Namespace
		if d.Component == config.Zigbee2MQTT {
			if r := manifests.RadioNamespace(&cfg); r != "" {
				ns = r
			}
		}
		st.Access = append(st.Access, fmt.Sprintf("%s: not on the LAN (%s-node-port: 0): kubectl -n %s port-forward svc/home-assistant-%s %d:%d, then http://localhost:%d (%s)",
			names[d.Component], d.Component, ns, d.Component, d.Port, d.Port, d.Port, DashboardLogin(d.Component)))
	}
	if cfg.Has(config.MQTT) {
		st.Access = append(st.Access, "MQTT for Home Assistant: Settings → Devices & services → Add MQTT, with what 'sudo hakube credentials mqtt' shows")
	}
	if cfg.MQTTExposed() {
		host := in.mqttLANHost(ctx, &cfg)
		plain, tls := 1883, 8883
		if cfg.MQTTExpose == config.MQTTExposeNodePort {
			plain, tls = cfg.MQTTNodePort, cfg.MQTTTLSNodePort
		}
		ca := "the CA from 'sudo hakube mqtt ca'"
		if cfg.ClusterIssuer != "" {
			ca = "signed by " + cfg.ClusterIssuer
		}
		st.URLs = append(st.URLs,
			AccessURL{Name: "MQTT for LAN devices", URL: fmt.Sprintf("mqtt://%s:%d", host, plain), Login: "a device account: 'sudo hakube mqtt user add NAME'"},
			AccessURL{Name: "MQTT over TLS for LAN devices", URL: fmt.Sprintf("mqtts://%s:%d", host, tls), Login: "a device account; " + ca})
	}
	for _, u := range st.URLs {
		st.Access = append(st.Access, fmt.Sprintf("%s: %s (%s)", u.Name, u.URL, u.Login))
	}
	return st, nil
}

// AccessURL is one address the LAN reaches, and which login it takes.
type AccessURL struct {
	Name  string `json:"name"`
	URL   string `json:"url"`
	Login string `json:"login"`
}

// mqttLANHost is the address LAN devices use for the broker: the
// LoadBalancer's (ServiceLB: a node's), else the node's.
func (in *Installer) mqttLANHost(ctx context.Context, cfg *config.Config) string {
	if cfg.MQTTExpose == config.MQTTExposeLoadBalancer {
		if svc, err := in.Clients.Kube.Services.Get(ctx, cfg.Namespace, "home-assistant-mqtt-lan"); err == nil {
			for _, ing := range svc.Status.LoadBalancer.Ingress {
				if ing.IP != "" {
					return ing.IP
				}
			}
		}
	}
	return nodeIP(ctx, in.Clients)
}

func eventTime(e *corev1.Event) metav1.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp
	}
	if !e.EventTime.IsZero() {
		return metav1.NewTime(e.EventTime.Time)
	}
	return e.CreationTimestamp
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func ingressScheme(cfg *config.Config) string {
	if cfg.IngressTLS {
		return "https"
	}
	return "http"
}
