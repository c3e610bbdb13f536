package installer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAdviceFromPodEvents feeds the scheduler's and kubelet's Warning
// events (as the API server returns them) to the wait's advice: each gets
// its own advice, once; the scheduler's complaints about a pod scheduled
// since are dropped.
func TestAdviceFromPodEvents(t *testing.T) {
	ev := func(reason, msg string) corev1.Event {
		return corev1.Event{Type: corev1.EventTypeWarning, Reason: reason, Message: msg}
	}
	cases := []struct {
		name      string
		scheduled bool
		events    []corev1.Event
		want      string // in the advice
	}{
		{"memory", false, []corev1.Event{ev("FailedScheduling", "0/1 nodes are available: 1 Insufficient memory.")}, "not enough free memory"},
		{"claim", false, []corev1.Event{ev("FailedScheduling", "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.")}, "a volume cannot be bound"},
		{"radio node", false, []corev1.Event{ev("FailedScheduling", "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.")}, "node-name"},
		{"radio unplugged", true, []corev1.Event{ev("FailedMount", `MountVolume.SetUp failed for volume "zigbee-radio" : hostPath type check failed: /dev/serial/by-id/x is not a character device`)}, "plug the coordinator in"},
		{"secret", true, []corev1.Event{ev("FailedMount", `MountVolume.SetUp failed for volume "secret" : secret "home-assistant-mqtt" not found`)}, "comes back with install"},
		{"runtime", true, []corev1.Event{ev("FailedCreatePodSandBox", "failed to setup network for sandbox")}, "journalctl -u k3s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []Event
			w := &waiter{rep: func(e Event) { got = append(got, e) }, advice: map[string]string{},
				events: func(*corev1.Pod) []corev1.Event { return tc.events }}
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-0", Namespace: "ns"}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
			if tc.scheduled {
				pod.Spec.NodeName = "pi4"
			}
			w.adviseOn(pod)
			w.adviseOn(pod) // said once
			if assert.Len(t, got, 1) {
				assert.Contains(t, got[0].Message, tc.events[0].Message, "the scheduler's or kubelet's own words")
				assert.Contains(t, got[0].Advice, tc.want)
			}
			problem, advice := podProblem(pod, tc.events)
			assert.Contains(t, problem, tc.events[0].Message)
			assert.Contains(t, advice, tc.want)
		})
	}

	// Scheduled since: the old FailedScheduling no longer applies.
	var got []Event
	w := &waiter{rep: func(e Event) { got = append(got, e) }, advice: map[string]string{},
		events: func(*corev1.Pod) []corev1.Event {
			return []corev1.Event{ev("FailedScheduling", "0/1 nodes are available: 1 Insufficient memory.")}
		}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-0", Namespace: "ns"}, Spec: corev1.PodSpec{NodeName: "pi4"}}
	w.adviseOn(pod)
	assert.Empty(t, got)
	problem, _ := podProblem(pod, w.events(pod))
	assert.Empty(t, problem)
}
