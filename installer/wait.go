package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/hakube/hakube/manifests"
	k3sv1 "github.com/k3s-io/api/k3s.cattle.io/v1"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// addonFailures are the Warning reasons k3s's deploy controller records on
// an Addon when a manifest cannot be applied.
var addonFailures = map[string]bool{
	"ReadManifestFailed": true, "ParseManifestFailed": true,
	"ValidateManifestFailed": true, "ApplyManifestFailed": true,
}

// waiter follows k3s with watches: Addon checksums, Addon Warning events,
// then StatefulSet rollouts and pod readiness.
type waiter struct {
	c            *Clients
	rep          Reporter
	ns           string
	timeout      time.Duration
	addons       map[string]string // Addon name → sha256 of our file
	statefulsets []workload        // every StatefulSet of the files, in any namespace

	applied bool
	advice  map[string]string // last advice per pod/container, to say it once
	pulling map[string]bool   // pod/container|image whose pull failure was said
	// components maps an Addon to the component its file installs; state
	// is where each component stands, reported on every change.
	components map[string]string
	state      map[string]State
	lastState  string
	// logs returns the last lines a crashed container printed ("" if none).
	logs func(ns, pod, container string) string
	// events returns the scheduler's and kubelet's Warning events about a
	// pod (nil: not read).
	events func(p *corev1.Pod) []corev1.Event
}

// lastLogLines reads the tail of a container's previous run.
func (c *Clients) lastLogLines(ns, pod, container string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	raw, err := c.Kube.Raw().Get().AbsPath("/api/v1/namespaces", ns, "pods", pod, "log").
		Param("container", container).Param("previous", "true").Param("tailLines", "5").DoRaw(ctx)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(raw))
}

// run returns nil when everything is Ready, ErrRejected when k3s refused a
// file, ErrTimeout when the timeout passed. Progress comes from watches that
// live for the whole wait (re-established if the API server goes away);
// every change re-reads the state.
func (w *waiter) run(ctx context.Context) error {
	if w.timeout <= 0 {
		w.timeout = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	w.advice = map[string]string{}
	w.pulling = map[string]bool{}
	w.rep.emit(LevelWait, PhaseApply, "", fmt.Sprintf("waiting for k3s to apply %d files (it looks every 15 s)", len(w.addons)), "")

	kick := make(chan struct{}, 1)
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	rejected := make(chan error, 1)
	// Events that exist already belong to earlier runs: watch from now.
	go w.follow(ctx, "events", func(rv string) (watch.Interface, error) {
		return w.c.Kube.Events.Watch(ctx, "kube-system", metav1.ListOptions{
			FieldSelector: "involvedObject.kind=Addon", ResourceVersion: rv})
	}, func() (string, error) {
		l, err := w.c.Kube.Events.List(ctx, "kube-system", metav1.ListOptions{FieldSelector: "involvedObject.kind=Addon", Limit: 1})
		if err != nil {
			return "", err
		}
		return l.ResourceVersion, nil
	}, func(e watch.Event) {
		if err := w.onEvent(e); err != nil {
			select {
			case rejected <- err:
			default:
			}
		}
		poke()
	})
	go w.follow(ctx, "addons", func(string) (watch.Interface, error) {
		return w.c.Kube.Addons.Watch(ctx, "kube-system", metav1.ListOptions{})
	}, nil, func(watch.Event) { poke() })
	go w.follow(ctx, "statefulsets", func(string) (watch.Interface, error) {
		return w.c.Kube.StatefulSets.Watch(ctx, "", metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=hakube"})
	}, nil, func(watch.Event) { poke() })
	go w.follow(ctx, "pods", func(string) (watch.Interface, error) {
		return w.c.Kube.Pods.Watch(ctx, "", metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=hakube"})
	}, nil, func(watch.Event) { poke() })

	// The kubelet's complaints (FailedMount…) change nothing on the pod
	// and wake no watch above: looking again every few seconds shows them
	// (a cluster-wide watch of Warning events costs the API server more).
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	var lastErr error
	for {
		done, err := w.evaluate(ctx)
		switch {
		case err == nil && done:
			return nil
		case err != nil && ctx.Err() == nil:
			if lastErr == nil {
				w.rep.emit(LevelWarning, PhaseWait, "", "cannot reach the API server: "+shortErr(err)+"; retrying", "check k3s with 'systemctl status k3s'")
			}
			lastErr = err
		case err == nil:
			lastErr = nil
		}
		var retry <-chan time.Time
		if lastErr != nil {
			retry = time.After(time.Second) // the API is down: no watch can tell us it is back
		}
		select {
		case <-ctx.Done():
			select {
			case err := <-rejected:
				return err
			default:
			}
			if errors.Is(ctx.Err(), context.Canceled) {
				return fmt.Errorf("stopped waiting: %w", ctx.Err()) // interrupted, not timed out
			}
			if lastErr != nil {
				return w.apiErr(lastErr)
			}
			return w.timeoutErr()
		case err := <-rejected:
			return err
		case <-kick:
		case <-retry:
		case <-tick.C:
		}
	}
}

// follow keeps one watch open until ctx ends, re-establishing it when it
// closes or fails. list, when set, gives the resourceVersion to start from
// (so that only new objects count) and is called again after a gap.
func (w *waiter) follow(ctx context.Context, what string, open func(rv string) (watch.Interface, error), list func() (string, error), handle func(watch.Event)) {
	rv := ""
	for ctx.Err() == nil {
		if list != nil && rv == "" {
			var err error
			if rv, err = list(); err != nil {
				sleepCtx(ctx, time.Second)
				continue
			}
		}
		wi, err := open(rv)
		if err != nil {
			if list != nil {
				rv = ""
			}
			sleepCtx(ctx, time.Second)
			continue
		}
		for e := range wi.ResultChan() {
			if e.Type == watch.Error {
				rv = "" // too old or broken: start again from now
				break
			}
			if m, ok := e.Object.(metav1.Object); ok && list != nil {
				rv = m.GetResourceVersion()
			}
			handle(e)
		}
		wi.Stop()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func shortErr(err error) string {
	if err == nil {
		return "no answer"
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func (w *waiter) apiErr(err error) error {
	return fmt.Errorf("%w: the API server stopped answering (%s); the manifests are written: run the same command again once k3s is up to continue", ErrTimeout, shortErr(err))
}

func (w *waiter) timeoutErr() error {
	var b strings.Builder
	for _, a := range sortedValues(w.advice) {
		b.WriteString("\n  " + a)
	}
	return fmt.Errorf("%w after %s: %s%s\nthe manifests stay in place: 'hakube status' shows progress, and running install again continues",
		ErrTimeout, w.timeout, w.lastState, b.String())
}

func sortedValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// onEvent fails on a Warning from k3s about one of our Addons.
func (w *waiter) onEvent(e watch.Event) error {
	event, ok := e.Object.(*corev1.Event)
	if !ok || e.Type == watch.Deleted {
		return nil
	}
	if _, ours := w.addons[event.InvolvedObject.Name]; !ours {
		return nil
	}
	if event.Type == corev1.EventTypeWarning && addonFailures[event.Reason] {
		return fmt.Errorf("%w: %s: %s: %s\nfix the cause and run install again; the previous objects are still running",
			ErrRejected, event.InvolvedObject.Name+".yaml", event.Reason, event.Message)
	}
	return nil
}

// evaluate reads the current state and says whether everything is done.
func (w *waiter) evaluate(ctx context.Context) (bool, error) {
	if !w.applied {
		list, err := w.c.Kube.Addons.List(ctx, "kube-system", metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		byName := map[string]k3sv1.Addon{}
		for _, a := range list.Items {
			byName[a.Name] = a
		}
		var pending []string
		for name, sum := range w.addons {
			if a, ok := byName[name]; !ok || a.Spec.Checksum != sum {
				pending = append(pending, name)
			} else if comp := w.components[name]; comp != "" && w.state[comp] == StateWritten {
				w.setState(comp, StateApplied, "applied by k3s")
			}
		}
		if len(pending) > 0 {
			sort.Strings(pending)
			w.lastState = "k3s has not applied " + strings.Join(pending, ", ") + " yet"
			return false, nil
		}
		w.applied = true
		w.rep.emit(LevelDone, PhaseApply, "", fmt.Sprintf("k3s applied all %d files", len(w.addons)), "")
		w.rep.emit(LevelWait, PhaseRollout, "", "waiting for the pods to become Ready", "")
	}
	ready := true
	var states []string
	for _, wl := range w.statefulsets {
		ss, err := w.c.Kube.StatefulSets.Get(ctx, wl.Namespace, wl.Name)
		if err != nil {
			return false, err
		}
		if ok, state := rolledOut(ss); !ok {
			ready = false
			states = append(states, wl.Name+": "+state)
		}
	}
	pods, err := w.c.Kube.Pods.List(ctx, "", metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=hakube"})
	if err != nil {
		return false, err
	}
	for i := range pods.Items {
		w.adviseOn(&pods.Items[i])
		w.trackContainers(&pods.Items[i])
	}
	if !ready {
		w.lastState = strings.Join(states, "; ")
		return false, nil
	}
	return true, nil
}

// setState reports a component's new state once.
func (w *waiter) setState(comp string, st State, msg string) {
	if w.state == nil || w.state[comp] == st {
		return
	}
	w.state[comp] = st
	w.rep.state(PhaseRollout, comp, st, msg)
}

// trackContainers moves each component whose container runs in p (the
// container is named after the component) to pulling, starting, ready or
// failed.
func (w *waiter) trackContainers(p *corev1.Pod) {
	for _, cs := range p.Status.ContainerStatuses {
		if _, ours := w.state[cs.Name]; !ours {
			continue
		}
		st, msg := StateStarting, "starting"
		switch {
		case cs.Ready:
			st, msg = StateReady, "ready"
		case cs.State.Waiting != nil:
			switch cs.State.Waiting.Reason {
			case "ErrImagePull", "ImagePullBackOff":
				st, msg = StatePulling, "pulling "+cs.Image+" (retrying)"
			case "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "InvalidImageName":
				st, msg = StateFailed, cs.State.Waiting.Reason
			case "ContainerCreating":
				if cs.ImageID == "" {
					st, msg = StatePulling, "pulling "+cs.Image
				}
			}
		}
		w.setState(cs.Name, st, msg)
	}
}

// workload is one StatefulSet the wait follows.
type workload struct{ Namespace, Name string }

// statefulSetsOf lists the StatefulSets in the rendered files.
func statefulSetsOf(files []manifests.File) ([]workload, error) {
	var out []workload
	for _, f := range files {
		dec := yaml.NewDecoder(bytes.NewReader(f.Content))
		for {
			var o struct {
				Kind     string `yaml:"kind"`
				Metadata struct {
					Name      string `yaml:"name"`
					Namespace string `yaml:"namespace"`
				} `yaml:"metadata"`
			}
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("read rendered %s: %w", f.Name, err)
			}
			if o.Kind == "StatefulSet" {
				out = append(out, workload{o.Metadata.Namespace, o.Metadata.Name})
			}
		}
	}
	return out, nil
}

// rolledOut is kubectl rollout status for a StatefulSet.
func rolledOut(ss *appsv1.StatefulSet) (bool, string) {
	want := int32(1)
	if ss.Spec.Replicas != nil {
		want = *ss.Spec.Replicas
	}
	st := ss.Status
	switch {
	case st.ObservedGeneration < ss.Generation:
		return false, "update not yet seen by the controller"
	case st.UpdatedReplicas < want:
		return false, fmt.Sprintf("%d of %d pods updated", st.UpdatedReplicas, want)
	case st.ReadyReplicas < want:
		return false, fmt.Sprintf("%d of %d pods ready", st.ReadyReplicas, want)
	case st.UpdateRevision != "" && st.CurrentRevision != st.UpdateRevision:
		return false, "rolling out the new revision"
	}
	return true, "ready"
}

// adviseOn turns a pod's waiting reasons into advice, said once each.
func (w *waiter) adviseOn(p *corev1.Pod) {
	say := func(key, msg, advice string) {
		if w.advice[key] == msg {
			return
		}
		w.advice[key] = msg
		w.rep.emit(LevelWarning, PhaseRollout, key, msg, advice)
	}
	unschedulable := false
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			unschedulable = true
			say(p.Name, "cannot be scheduled: "+c.Message, eventAdvice(p, "FailedScheduling", c.Message))
		}
	}
	// The scheduler's and kubelet's own words (a volume that cannot be
	// mounted shows nowhere else), for a pod that is not running yet.
	if w.events != nil && !podReady(p) && p.Status.Phase != corev1.PodSucceeded {
		for _, e := range currentEvents(p, w.events(p)) {
			if e.Reason == "FailedScheduling" && unschedulable {
				continue // said above, from the pod's condition
			}
			say(p.Name+"/"+e.Reason, podEventReasons[e.Reason]+": "+e.Message, eventAdvice(p, e.Reason, e.Message))
		}
	}
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		key := p.Name + "/" + cs.Name
		if cs.State.Waiting == nil {
			continue
		}
		wt := cs.State.Waiting
		if strings.Contains(wt.Message, "hostPath type check failed") {
			say(key, "the Zigbee radio is missing: "+wt.Message, "plug the coordinator in, or fix zigbee-device (run 'hakube detect')")
			continue
		}
		switch wt.Reason {
		case "ImagePullBackOff", "ErrImagePull":
			// The kubelet words the same failure two ways in turn: say it
			// once per image.
			if w.pulling == nil {
				w.pulling = map[string]bool{}
			}
			if !w.pulling[key+"|"+cs.Image] {
				w.pulling[key+"|"+cs.Image] = true
				say(key, "cannot pull "+cs.Image+": "+wt.Message, "check the node's internet access and DNS; on a slow link this resolves itself")
			}
		case "CrashLoopBackOff":
			msg := fmt.Sprintf("keeps crashing (%d restarts)", cs.RestartCount)
			if w.logs != nil {
				if tail := w.logs(p.Namespace, p.Name, cs.Name); tail != "" {
					msg += "; its last lines:\n      " + strings.ReplaceAll(tail, "\n", "\n      ")
				}
			}
			say(key, msg, "see more: 'kubectl logs -n "+p.Namespace+" "+p.Name+" -c "+cs.Name+" --previous'")
		case "CreateContainerConfigError", "CreateContainerError":
			say(key, "cannot start: "+wt.Message, "a Secret or ConfigMap is missing or wrong: run install again")
		}
	}
}
