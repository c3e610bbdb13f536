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
	for _, comp := range []struct {
		c    config.Component
		port int
		what string
	}{{config.NodeRED, 1880, "Node-RED"}, {config.ESPHome, 6052, "ESPHome"}, {config.Zigbee2MQTT, 8080, "Zigbee2MQTT"}} {
		if cfg.Has(comp.c) {
			st.Access = append(st.Access, fmt.Sprintf("%s: kubectl -n %s port-forward svc/home-assistant-headless %d:%d, then http://localhost:%d (its login: 'sudo hakube credentials %s')",
				comp.what, cfg.Namespace, comp.port, comp.port, comp.port, comp.c))
		}
	}
	if cfg.Has(config.MQTT) {
		st.Access = append(st.Access, "MQTT for Home Assistant: Settings → Devices & services → Add MQTT, with what 'sudo hakube credentials mqtt' shows")
	}
	return st, nil
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
