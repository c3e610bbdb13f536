package installer

import (
	"context"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podEventReasons are the Warning reasons the scheduler and the kubelet
// record on a pod that cannot start, with what they are about.
var podEventReasons = map[string]string{
	"FailedScheduling":       "cannot be scheduled",
	"FailedMount":            "cannot mount a volume",
	"FailedAttachVolume":     "cannot attach a volume",
	"FailedMapVolume":        "cannot map a volume",
	"FailedCreatePodSandBox": "the container runtime cannot create the pod",
	"FailedKillPod":          "cannot be stopped",
	"FailedPreStopHook":      "its stop hook failed",
	"NetworkNotReady":        "the node's network is not ready",
}

// podWarnings reads the Warning events of one pod, oldest first, that say
// why it cannot start.
func (c *Clients) podWarnings(p *corev1.Pod) []corev1.Event {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sel := "involvedObject.kind=Pod,involvedObject.name=" + p.Name + ",type=Warning"
	if p.UID != "" {
		sel += ",involvedObject.uid=" + string(p.UID)
	}
	list, err := c.Kube.Events.List(ctx, p.Namespace, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if _, ok := podEventReasons[e.Reason]; ok {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return eventTime(&out[i]).Time.Before(eventTime(&out[j]).Time) })
	return out
}

// eventAdvice turns one of the scheduler's or kubelet's messages about p
// into what to do.
func eventAdvice(p *corev1.Pod, reason, msg string) string {
	describe := "'kubectl describe pod -n " + p.Namespace + " " + p.Name + "'"
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(msg, "hostPath type check failed"):
		return "the Zigbee radio is missing: plug the coordinator in, or fix zigbee-device (run 'hakube detect')"
	case strings.Contains(lower, "persistentvolumeclaim") || strings.Contains(lower, "unbound") || strings.Contains(lower, "volume node affinity"):
		return "a volume cannot be bound: is the StorageClass right (storage-class) and the local-path provisioner running? See 'kubectl get pvc -n " + p.Namespace + "' and its events"
	case strings.Contains(lower, "insufficient memory"):
		return "the node has not enough free memory for the pod's requests: stop something, add memory, or use a smaller profile (profile: edge)"
	case strings.Contains(lower, "insufficient cpu"):
		return "the node has not enough free CPU for the pod's requests: stop something, or use a smaller profile (profile: edge)"
	case strings.Contains(lower, "node affinity") || strings.Contains(lower, "node selector") || strings.Contains(lower, "didn't match pod's node"):
		return "no node matches: node-name must be the node the radio is plugged into ('kubectl get nodes')"
	case strings.Contains(lower, "untolerated taint"):
		return "the node is tainted (not ready, or cordoned): 'kubectl describe node'; 'kubectl uncordon NODE' if you drained it"
	case reason == "FailedMount" || reason == "FailedAttachVolume" || reason == "FailedMapVolume":
		return "a volume, Secret or ConfigMap cannot be mounted: see " + describe + "; a missing Secret or ConfigMap comes back with install"
	case reason == "FailedCreatePodSandBox" || reason == "NetworkNotReady":
		return "k3s's container runtime or network is not working: 'journalctl -u k3s -n 50'"
	}
	return "see " + describe
}

// podProblem is the newest reason p cannot start, from its conditions and
// the scheduler's and kubelet's events, with advice; "" when there is none.
func podProblem(p *corev1.Pod, events []corev1.Event) (problem, advice string) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			problem, advice = "cannot be scheduled: "+c.Message, eventAdvice(p, "FailedScheduling", c.Message)
		}
	}
	events = currentEvents(p, events)
	if n := len(events); n > 0 {
		e := events[n-1]
		if !(e.Reason == "FailedScheduling" && problem != "") {
			problem, advice = podEventReasons[e.Reason]+": "+e.Message, eventAdvice(p, e.Reason, e.Message)
		}
	}
	return problem, advice
}

// currentEvents drops what no longer applies: the scheduler's complaints
// about a pod that has been scheduled since.
func currentEvents(p *corev1.Pod, events []corev1.Event) []corev1.Event {
	scheduled := p.Spec.NodeName != ""
	var out []corev1.Event
	for _, e := range events {
		if e.Reason == "FailedScheduling" && scheduled {
			continue
		}
		out = append(out, e)
	}
	return out
}
