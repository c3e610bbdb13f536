package installer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAdviceFromWaitingReasons feeds pod states (as the API server reports
// them) to the advice logic: each reason gets its own advice, said once.
func TestAdviceFromWaitingReasons(t *testing.T) {
	var events []Event
	w := &waiter{rep: func(e Event) { events = append(events, e) }, advice: map[string]string{},
		logs: func(ns, pod, c string) string { return "Traceback (most recent call last)\nValueError: bad config" }}
	waiting := func(name, reason, msg string, restarts int32) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, Image: "img:1", RestartCount: restarts,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "home-assistant-0", Namespace: "home-assistant"},
		Status: corev1.PodStatus{
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
				Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims"}},
			InitContainerStatuses: []corev1.ContainerStatus{waiting("seed-config", "CreateContainerConfigError", "secret \"home-assistant-recorder\" not found", 0)},
			ContainerStatuses: []corev1.ContainerStatus{
				waiting("home-assistant", "CrashLoopBackOff", "back-off", 4),
				waiting("mqtt", "ImagePullBackOff", "Back-off pulling image", 0),
				waiting("zigbee2mqtt", "CreateContainerError", "hostPath type check failed: /dev/serial/by-id/x is not a character device", 0),
			},
		}}
	w.adviseOn(pod)
	w.adviseOn(pod) // the same state again says nothing new
	text := ""
	for _, e := range events {
		text += e.Object + ": " + e.Message + " → " + e.Advice + "\n"
	}
	assert.Len(t, events, 5, text)
	for _, want := range []string{
		"volume cannot be bound",
		"ValueError: bad config",
		"kubectl logs -n home-assistant home-assistant-0 -c home-assistant --previous",
		"cannot pull img:1",
		"a Secret or ConfigMap is missing",
		"zigbee2mqtt: the Zigbee radio is missing",
	} {
		assert.True(t, strings.Contains(text, want), "missing %q in:\n%s", want, text)
	}
}

// The kubelet words a failing pull two ways in turn: the advice is said once.
func TestPullFailureSaidOncePerImage(t *testing.T) {
	var events []Event
	w := &waiter{rep: func(e Event) { events = append(events, e) }, advice: map[string]string{}}
	pod := func(reason, msg string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-0", Namespace: "ns"}, Status: corev1.PodStatus{
			ContainerStatuses: []corev1.ContainerStatus{{Name: "mqtt", Image: "img:1",
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}}}}
	}
	for i := 0; i < 3; i++ {
		w.adviseOn(pod("ErrImagePull", "failed to pull and unpack image"))
		w.adviseOn(pod("ImagePullBackOff", "Back-off pulling image \"img:1\": ErrImagePull"))
	}
	assert.Len(t, events, 1, "one piece of advice for one image that cannot be pulled")
	w.adviseOn(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-0", Namespace: "ns"}, Status: corev1.PodStatus{
		ContainerStatuses: []corev1.ContainerStatus{{Name: "mqtt", Image: "img:2",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "x"}}}}}})
	assert.Len(t, events, 2, "another image is news")
}

func TestRolledOut(t *testing.T) {
	one := int32(1)
	mk := func(gen, obs int64, updated, ready int32, cur, upd string) *appsv1.StatefulSet {
		return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Generation: gen}, Spec: appsv1.StatefulSetSpec{Replicas: &one},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: obs, UpdatedReplicas: updated, ReadyReplicas: ready,
				CurrentRevision: cur, UpdateRevision: upd}}
	}
	ok, _ := rolledOut(mk(2, 2, 1, 1, "r2", "r2"))
	assert.True(t, ok)
	for _, ss := range []*appsv1.StatefulSet{mk(2, 1, 1, 1, "r2", "r2"), mk(2, 2, 0, 1, "r1", "r2"),
		mk(2, 2, 1, 0, "r2", "r2"), mk(2, 2, 1, 1, "r1", "r2")} {
		ok, state := rolledOut(ss)
		assert.False(t, ok, state)
		assert.NotEmpty(t, state)
	}
}
