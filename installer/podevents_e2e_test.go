package installer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/internal/testcluster"
)

// TestE2EPendingPodShowsTheSchedulersWords: on the test control plane, a
// pod that no node can take (node-name names no node, as when the radio's
// node is gone) shows the scheduler's own message, turned into advice, in
// install's progress while it waits, and in status.
func TestE2EPendingPodShowsTheSchedulersWords(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	cfg.NodeName = "node-with-the-radio"
	require.NoError(t, cfg.Validate())
	e := startEnv(t, testcluster.Options{PollInterval: time.Second}, &cfg)
	ctx := context.Background()
	_, err := e.installer(40*time.Second).Install(ctx, cfg)
	require.ErrorIs(t, err, installer.ErrTimeout, "nothing can be scheduled")
	progress := e.events.String()
	assert.Contains(t, progress, "cannot be scheduled: 0/1 nodes are available", "the scheduler's words:\n%s", progress)
	assert.Contains(t, progress, "node-name must be the node the radio is plugged into", "turned into advice")

	st, err := e.installer(0).Status(ctx, cfg)
	require.NoError(t, err)
	assert.False(t, st.Healthy)
	var withProblem int
	for _, p := range st.Pods {
		require.False(t, p.Ready)
		if strings.Contains(p.Problem, "cannot be scheduled") && strings.Contains(p.Advice, "node-name") {
			withProblem++
		}
	}
	assert.Equal(t, len(st.Pods), withProblem, "every pod says why: %+v", st.Pods)
	assert.NotZero(t, withProblem)

	// The kubelet's complaints change nothing on the pod: only its Events
	// say them. kwok runs no kubelet, so the test records one as the
	// kubelet would (a STAND-IN for it): status and a new wait show it.
	pod, err := e.kube.CoreV1().Pods(cfg.Namespace).Get(ctx, "home-assistant-0", metav1.GetOptions{})
	require.NoError(t, err)
	now := metav1.NewTime(time.Now())
	msg := "Unable to attach or mount volumes: unmounted volumes=[config], unattached volumes=[]: timed out waiting for the condition"
	_, err = e.kube.CoreV1().Events(cfg.Namespace).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "home-assistant-0.", Namespace: cfg.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: cfg.Namespace, Name: pod.Name, UID: pod.UID},
		Type:           corev1.EventTypeWarning, Reason: "FailedMount", Message: msg,
		Source: corev1.EventSource{Component: "kubelet"}, FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	st, err = e.installer(0).Status(ctx, cfg)
	require.NoError(t, err)
	var ha *installer.PodStatus
	for i := range st.Pods {
		if st.Pods[i].Name == "home-assistant-0" {
			ha = &st.Pods[i]
		}
	}
	require.NotNil(t, ha)
	assert.Equal(t, "cannot mount a volume: "+msg, ha.Problem)
	assert.Contains(t, ha.Advice, "kubectl describe pod -n "+cfg.Namespace+" home-assistant-0")
	e.events.Reset()
	_, err = e.installer(10*time.Second).Install(ctx, cfg)
	require.ErrorIs(t, err, installer.ErrTimeout)
	assert.Contains(t, e.events.String(), "cannot mount a volume: "+msg, "the wait reads the pod's events")
}
