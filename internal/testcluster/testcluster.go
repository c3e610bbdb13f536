// Package testcluster gives integration tests a real Kubernetes control plane
// on 127.0.0.1, started by scripts/testenv: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler v1.37.2, kwok (one fake node
// named NodeName, fake pod lifecycle) and k3s-deploy-standin, our STAND-IN for
// k3s's deploy controller watching ManifestsDir. A test passing here proves
// hakube's side of the auto-deploy contract, not k3s's behaviour.
//
// Start builds the binaries on first use (a cold build takes ~13 minutes and
// ~3 GB of RAM; run `scripts/testenv/testenv build` or `make e2e` first, or
// give `go test` a -timeout above 20m) and brings the cluster up in about
// ten seconds from a warm cache.
//
// With Options.RealNode the simulated node is left out: one real node runs
// instead (containerd, runc, CNI bridge, kubelet, kube-proxy; see
// docs/reference/real-node.md), with the local-path provisioner and images
// built locally under the names hakube renders (real Mosquitto, PostgreSQL,
// Node-RED; STAND-INS for Home Assistant, ESPHome and Zigbee2MQTT). It needs
// root; one real node runs on a machine at a time, so Start waits for
// another test's real node to stop first.
//
// If the environment cannot be built or started, Start FAILS the test. It
// skips only under `go test -short`, the explicit way to run without a
// control plane. HAKUBE_TESTENV_SKIP=1 declares the environment unavailable
// (for machines that cannot build it): tests then fail, unless -short.
package testcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hakube/hakube/manifests"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Component names accepted by Stop and Start.
const (
	Etcd              = "etcd"
	APIServer         = "kube-apiserver"
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
	Kwok              = "kwok"
	StandIn           = "k3s-deploy-standin"
	// The real node's processes (Options.RealNode).
	Containerd = "containerd"
	Kubelet    = "kubelet"
	KubeProxy  = "kube-proxy"
	LocalPath  = "local-path-provisioner"
	ClusterDNS = "cluster-dns-standin"
)

// NodeName is the fake node's name; pre-created PVs are pinned to it.
const NodeName = "hakube-node-0"

// RealNodeName is the real node's name (Options.RealNode).
const RealNodeName = "hakube-real-node"

// realNodeLock serializes real nodes across test processes: their iptables
// rules, bridge and NodePorts are the machine's.
const realNodeLock = "/run/hakube-testenv-real-node.lock"

// DefaultPollInterval is the stand-in's polling period in tests (k3s: 15s).
const DefaultPollInterval = time.Second

// startTimeout bounds `testenv up`, which builds the binaries if needed.
const startTimeout = 30 * time.Minute

// Options configures Start.
type Options struct {
	// PollInterval of the deploy stand-in; DefaultPollInterval if zero.
	PollInterval time.Duration
	// PrometheusCRDs installs servicemonitors.monitoring.coreos.com, as if
	// the Prometheus operator were present.
	PrometheusCRDs bool
	// RealNode runs a real node instead of kwok's simulated one: pods
	// really run, claims get real directories from the local-path
	// provisioner (no CreatePVs needed), NodePorts answer on 127.0.0.1.
	RealNode bool
}

// Cluster is a running test environment.
type Cluster struct {
	// Dir holds everything of this cluster: logs/, pids, pki/, storage/.
	Dir string
	// Kubeconfig is the admin kubeconfig (group system:masters).
	Kubeconfig string
	// DataDir plays k3s's --data-dir.
	DataDir string
	// ManifestsDir is DataDir/server/manifests, watched by the stand-in.
	ManifestsDir string
	// StorageDir holds the hostPath directories of pre-created PVs.
	StorageDir string
	// Node is the name of the node pods run on: NodeName, or RealNodeName
	// with Options.RealNode.
	Node string
	// RealNode is true when pods really run (Options.RealNode).
	RealNode bool
	// LocalPathDir holds the volumes the local-path provisioner creates
	// (real node only), one directory per claim: pvc-<uid>_<namespace>_<claim>.
	LocalPathDir string
	// ContainerdSocket is the real node's containerd address.
	ContainerdSocket string

	t        testing.TB
	script   string
	downOnce sync.Once
	downErr  error
}

// Start brings a cluster up in a temporary directory and registers its
// shutdown with t.Cleanup. It must be called from the test goroutine.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the scripts/testenv control plane, skipped with -short")
	}
	if os.Getenv("HAKUBE_TESTENV_SKIP") == "1" {
		t.Fatal("HAKUBE_TESTENV_SKIP=1: the control plane is declared unavailable; " +
			"integration tests fail rather than pass silently; run `go test -short` to leave them out")
	}
	script, err := findScript()
	if err != nil {
		t.Fatalf("find the test environment: %v", err)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	dir := t.TempDir()
	c := &Cluster{
		Dir:          dir,
		Kubeconfig:   filepath.Join(dir, "kubeconfig"),
		DataDir:      filepath.Join(dir, "data-dir"),
		ManifestsDir: filepath.Join(dir, "data-dir", "server", "manifests"),
		StorageDir:   filepath.Join(dir, "storage"),
		Node:         NodeName,
		t:            t,
		script:       script,
	}
	args := []string{"up", dir, "--poll-interval", opts.PollInterval.String()}
	if opts.PrometheusCRDs {
		args = append(args, "--with-prometheus-crds")
	}
	if opts.RealNode {
		args = append(args, "--real-node")
		c.RealNode, c.Node = true, RealNodeName
		c.LocalPathDir = filepath.Join(dir, "local-path")
		c.ContainerdSocket = filepath.Join(dir, "node", "containerd.sock")
		unlock, err := lockRealNode(t)
		if err != nil {
			t.Fatalf("wait for the machine's real node: %v", err)
		}
		// Cleanups run last-in first-out: the lock is released after Down.
		t.Cleanup(unlock)
	}
	// Registered before up runs: a half-started cluster is stopped too.
	t.Cleanup(func() {
		if t.Failed() {
			c.logTails()
		}
		if err := c.Down(); err != nil {
			t.Errorf("stop test cluster: %v", err)
		}
	})
	start := time.Now()
	out, err := c.run(startTimeout, []string{"HAKUBE_TESTENV_WATCH_PID=" + strconv.Itoa(os.Getpid())}, args...)
	if err != nil {
		t.Fatalf("start test cluster (%s %s): %v\n%s", script, strings.Join(args, " "), err, out)
	}
	t.Logf("test cluster up in %s (%s); the deploy controller is the k3s STAND-IN", time.Since(start).Round(time.Millisecond), dir)
	return c
}

// RestConfig returns a client configuration for the admin user.
func (c *Cluster) RestConfig() *rest.Config {
	c.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		c.t.Fatalf("load %s: %v", c.Kubeconfig, err)
	}
	return cfg
}

// CreatePVs pre-creates one hostPath PersistentVolume (class local-path,
// under StorageDir, pinned to NodeName) bound to each claim of namespace ns;
// claims maps claim names to sizes such as "1Gi". A StatefulSet's claim
// template T of StatefulSet S gives claims "T-S-0", "T-S-1", ...
// It must be called from the test goroutine.
// Claims map a claim's name to its size, or to SIZE@CLASS when its
// StorageClass is not local-path.
func (c *Cluster) CreatePVs(ns string, claims map[string]string) {
	c.t.Helper()
	args := []string{"pv", c.Dir, ns}
	for _, name := range slices.Sorted(maps.Keys(claims)) {
		args = append(args, name+"="+claims[name])
	}
	if out, err := c.run(time.Minute, nil, args...); err != nil {
		c.t.Fatalf("create PVs for %s: %v\n%s", ns, err, out)
	}
}

// Stop stops one component (see the constants) by its PID; the others keep
// running. Safe to call from any goroutine.
func (c *Cluster) Stop(component string) error {
	if out, err := c.run(time.Minute, nil, "stop", c.Dir, component); err != nil {
		return fmt.Errorf("stop %s: %w\n%s", component, err, out)
	}
	return nil
}

// Start starts a component stopped by Stop again, with the same flags; for
// the API server it returns once /readyz answers.
func (c *Cluster) Start(component string) error {
	if out, err := c.run(2*time.Minute, nil, "start", c.Dir, component); err != nil {
		return fmt.Errorf("start %s: %w\n%s", component, err, out)
	}
	return nil
}

// StopAPIServer stops kube-apiserver; etcd keeps the data.
func (c *Cluster) StopAPIServer() error { return c.Stop(APIServer) }

// StartAPIServer starts kube-apiserver again and waits until it is ready.
func (c *Cluster) StartAPIServer() error { return c.Start(APIServer) }

// StopStandIn stops the deploy stand-in: files in ManifestsDir are no longer
// applied.
func (c *Cluster) StopStandIn() error { return c.Stop(StandIn) }

// StartStandIn starts the deploy stand-in again; like k3s after a restart,
// its first pass applies every file.
func (c *Cluster) StartStandIn() error { return c.Start(StandIn) }

// Down stops every process of the cluster. It is idempotent, and called by
// the cleanup Start registers.
func (c *Cluster) Down() error {
	c.downOnce.Do(func() {
		if out, err := c.run(2*time.Minute, nil, "down", c.Dir); err != nil {
			c.downErr = fmt.Errorf("%w\n%s", err, out)
		}
	})
	return c.downErr
}

// LogTail returns the last n lines of a component's log.
func (c *Cluster) LogTail(component string, n int) string {
	b, err := os.ReadFile(filepath.Join(c.Dir, "logs", component+".log"))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (c *Cluster) logTails() {
	names := []string{StandIn, APIServer, Kwok, ControllerManager, Scheduler, Etcd}
	if c.RealNode {
		names = []string{StandIn, APIServer, Kubelet, Containerd, KubeProxy, LocalPath, ClusterDNS, ControllerManager, Scheduler, Etcd}
	}
	for _, name := range names {
		c.t.Logf("last lines of %s's log:\n%s", name, c.LogTail(name, 20))
	}
}

// Env returns a variable of the environment file `testenv up` wrote
// (DIR/env: KUBECONFIG, HAKUBE_TESTENV_BIN, HAKUBE_TESTENV_IMAGES, ...), or "".
func (c *Cluster) Env(name string) string {
	b, err := os.ReadFile(filepath.Join(c.Dir, "env"))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && k == name {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return strings.Trim(v, "'")
		}
	}
	return ""
}

// Leftovers lists what the cluster's processes left on this machine:
// processes, and for a real node iptables rules, its bridge, network
// namespaces and mounts. Empty after Down when everything was cleaned up.
func (c *Cluster) Leftovers() (string, error) {
	out, err := c.run(time.Minute, nil, "leftovers", c.Dir)
	if err != nil {
		return "", fmt.Errorf("list leftovers: %w\n%s", err, out)
	}
	return string(out), nil
}

// lockRealNode takes the machine-wide real-node lock, waiting for another
// holder (a test in another package) to finish.
func lockRealNode(t testing.TB) (func(), error) {
	f, err := os.OpenFile(realNodeLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w (a real node needs root)", realNodeLock, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Logf("another test's real node runs on this machine; waiting for it to stop")
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", realNodeLock, err)
		}
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// run runs the testenv script with args, returning its combined output.
func (c *Cluster) run(timeout time.Duration, env []string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.script, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// The script's background processes write to their own logs, not to
	// out, so Wait returns when the script does.
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w after %s", ctx.Err(), timeout)
	}
	return out.Bytes(), err
}

// findScript locates scripts/testenv/testenv: $HAKUBE_TESTENV_SCRIPT, or the
// first parent of the working directory (a package directory under go test)
// that holds it.
func findScript() (string, error) {
	if s := os.Getenv("HAKUBE_TESTENV_SCRIPT"); s != "" {
		return s, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for {
		p := filepath.Join(dir, "scripts", "testenv", "testenv")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no scripts/testenv/testenv above the working directory; set HAKUBE_TESTENV_SCRIPT")
		}
		dir = parent
	}
}

// ClaimsOf lists the claims of rendered files by namespace, each claim's
// value SIZE@CLASS, as CreateClaimPVs takes them.
func ClaimsOf(files []manifests.File) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, f := range files {
		claims, err := manifests.ParseClaims(f.Content)
		if err != nil {
			return nil, fmt.Errorf("claims of %s: %w", f.Name, err)
		}
		for _, cl := range claims {
			if out[cl.Namespace] == nil {
				out[cl.Namespace] = map[string]string{}
			}
			out[cl.Namespace][cl.Name] = cl.Size + "@" + cl.StorageClass
		}
	}
	return out, nil
}

// CreateClaimPVs pre-binds a PV to every claim of claims (ClaimsOf).
func (c *Cluster) CreateClaimPVs(claims map[string]map[string]string) {
	for ns, names := range claims {
		c.CreatePVs(ns, names)
	}
}
