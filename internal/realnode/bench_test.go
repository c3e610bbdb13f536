package realnode_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/hakube/hakube/internal/testcluster"
)

// Figures for the test world, not assertions (tests never assert wall
// times). Run, with the caches warm (one fresh cluster per run; the median
// of the five s/install figures is the one to quote):
//
//	go test -run '^$' -bench Install -benchtime 1x -count 5 -timeout 60m ./internal/realnode/
//
// BenchmarkInstallRealNode: `hakube install` (default profile) until every
// pod is Ready on the real node, followed (untimed) by `uninstall --purge`;
// also reports the node's memory (RSS of containerd, kubelet, kube-proxy,
// the provisioner, the DNS stand-in, the shims and every container process)
// with the stack running. BenchmarkInstallKwok: the same on kwok's
// simulated node.
func BenchmarkInstallRealNode(b *testing.B) {
	w := &world{cl: testcluster.Start(b, testcluster.Options{RealNode: true, PollInterval: time.Second})}
	benchInstall(b, w, nil)
}

func BenchmarkInstallKwok(b *testing.B) {
	w := &world{cl: testcluster.Start(b, testcluster.Options{PollInterval: time.Second})}
	benchInstall(b, w, func(s *stack) { w.cl.CreatePVs(s.ns, renderedClaims(b, s)) })
}

func benchInstall(b *testing.B, w *world, prepare func(*stack)) {
	var times []time.Duration
	var rss []float64
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		s := &stack{w: w, ns: fmt.Sprintf("bench-%d", i), nodePort: 30123, state: filepath.Join(b.TempDir(), "state")}
		if prepare != nil {
			prepare(s)
		}
		b.StartTimer()
		start := time.Now()
		r := s.install(b, 5*time.Minute)
		d := time.Since(start)
		b.StopTimer()
		if r.code != 0 {
			b.Fatalf("install:\n%s", r)
		}
		times = append(times, d)
		if w.cl.RealNode {
			rss = append(rss, nodeRSS(b, w.cl))
		}
		if r := s.hakube(b, 5*time.Minute, "uninstall", "--purge", "--yes"); r.code != 0 {
			b.Fatalf("uninstall --purge:\n%s", r)
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(times[len(times)/2].Seconds(), "s/install")
	b.Logf("install to all-Ready: %v (median %v)", times, times[len(times)/2])
	if len(rss) > 0 {
		slices.Sort(rss)
		b.ReportMetric(rss[len(rss)/2], "MiB-node-RSS")
	}
}

// renderedClaims lists the claims `hakube render` writes for the stack's
// settings, so kwok's cluster can pre-bind PVs (it has no provisioner).
func renderedClaims(b *testing.B, s *stack) map[string]string {
	dir := b.TempDir()
	r := s.hakube(b, time.Minute, "render", "--dir", dir, "--namespace", s.ns, "--node-port", strconv.Itoa(s.nodePort))
	if r.code != 0 {
		b.Fatalf("render:\n%s", r)
	}
	claims := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		for _, doc := range strings.Split(string(raw), "\n---\n") {
			var o struct {
				Kind     string
				Metadata struct{ Name string }
				Spec     struct {
					StorageClassName string
					Resources        struct{ Requests map[string]string }
				}
			}
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				b.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "PersistentVolumeClaim" {
				claims[o.Metadata.Name] = o.Spec.Resources.Requests["storage"] + "@" + o.Spec.StorageClassName
			}
		}
	}
	if len(claims) == 0 {
		b.Fatalf("no claims in the rendered files in %s", dir)
	}
	return claims
}

// nodeRSS sums, in MiB, the resident memory of the real node's processes and
// of everything its containerd shims started.
func nodeRSS(b *testing.B, cl *testcluster.Cluster) float64 {
	b.Helper()
	pids := map[int]bool{}
	f, err := os.Open(filepath.Join(cl.Dir, "pids"))
	if err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && slices.Contains([]string{testcluster.Containerd, testcluster.Kubelet, testcluster.KubeProxy,
			testcluster.LocalPath, testcluster.ClusterDNS}, fields[1]) {
			if p, err := strconv.Atoi(fields[0]); err == nil {
				pids[p] = true
			}
		}
	}
	f.Close()
	// Shims are re-parented to init; find them by their containerd address,
	// then every descendant.
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); err == nil &&
			strings.Contains(string(cmd), "containerd-shim") && strings.Contains(string(cmd), cl.ContainerdSocket) {
			pids[p] = true
		}
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p)); err == nil {
			s := string(stat)
			if i := strings.LastIndexByte(s, ')'); i > 0 {
				if fs := strings.Fields(s[i+1:]); len(fs) > 1 {
					parent[p], _ = strconv.Atoi(fs[1])
				}
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for p, pp := range parent {
			if pids[pp] && !pids[p] {
				pids[p], changed = true, true
			}
		}
	}
	var kib int
	for p := range pids {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				kib += n
			}
		}
	}
	return float64(kib) / 1024
}
