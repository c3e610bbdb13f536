package installer

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/manifests"
)

// DoctorInput is what doctor looks at. Host files are read under Root (the
// running machine is "/"); the cluster only when Clients is set.
type DoctorInput struct {
	Root string
	// DataDir is k3s's data directory, as a path inside Root.
	DataDir string
	Config  *config.Config
	Clients *Clients
	Now     time.Time
}

// DoctorReport is every check with its verdict and, when it is not ok, the
// fix.
type DoctorReport struct {
	Checks []hwdetect.Check `json:"checks"`
	// Problems counts the checks with status problem; Warnings those with
	// status warning.
	Problems int `json:"problems"`
	Warnings int `json:"warnings"`
}

// Thresholds doctor judges by.
const (
	minFreeBytes      = 2 << 30
	minFreeFraction   = 0.10
	minFreeInodes     = 0.05
	certWarnBefore    = 30 * 24 * time.Hour
	backupMaxAge      = 48 * time.Hour
	metricsSecretName = "home-assistant-metrics"
)

// Doctor runs every check. It never changes anything.
func Doctor(ctx context.Context, in DoctorInput) *DoctorReport {
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	if in.Root == "" {
		in.Root = "/"
	}
	r := &DoctorReport{Checks: []hwdetect.Check{}}
	add := func(c hwdetect.Check) {
		switch c.Status {
		case hwdetect.StatusProblem:
			r.Problems++
		case hwdetect.StatusWarning:
			r.Warnings++
		}
		r.Checks = append(r.Checks, c)
	}
	if rep, err := hwdetect.Detect(in.Root); err == nil {
		for _, c := range rep.Checks {
			if c.ID == "memory-cgroup" {
				add(c)
			}
		}
	}
	add(checkDisk(in))
	add(checkMedium(in))
	add(checkRadio(in))
	add(checkClock(in))
	add(checkCert(in))
	for _, c := range checkBackups(in) {
		add(c)
	}
	if in.Clients != nil {
		for _, c := range checkCluster(ctx, in) {
			add(c)
		}
	} else {
		add(hwdetect.Check{ID: "cluster", Title: "k3s objects", Status: hwdetect.StatusNotChecked,
			Detail: "k3s's API is not reachable", Fix: "start k3s ('systemctl start k3s') and run doctor again"})
	}
	return r
}

func (in *DoctorInput) host(p string) string {
	return filepath.Join(in.Root, filepath.FromSlash(path.Clean("/"+p)))
}

// nearestDir is p or its nearest existing parent, inside the root.
func (in *DoctorInput) nearestDir(p string) string {
	p = path.Clean("/" + p)
	for p != "/" {
		if fi, err := os.Stat(in.host(p)); err == nil && fi.IsDir() {
			return p
		}
		p = path.Dir(p)
	}
	return p
}

func checkDisk(in DoctorInput) hwdetect.Check {
	c := hwdetect.Check{ID: "disk", Title: "free disk and inodes"}
	dir := in.nearestDir(in.DataDir)
	var st syscall.Statfs_t
	if err := syscall.Statfs(in.host(dir), &st); err != nil {
		c.Status, c.Detail = hwdetect.StatusNotChecked, fmt.Sprintf("cannot measure %s: %v", dir, err)
		return c
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	total := int64(st.Blocks) * int64(st.Bsize)
	c.Status = hwdetect.StatusOK
	c.Detail = fmt.Sprintf("%s: %.1f GiB free of %.1f GiB", dir, float64(free)/(1<<30), float64(total)/(1<<30))
	if st.Files > 0 {
		c.Detail += fmt.Sprintf(", %d%% of inodes free", st.Ffree*100/st.Files)
	}
	switch {
	case free < minFreeBytes || (total > 0 && float64(free)/float64(total) < minFreeFraction):
		c.Status = hwdetect.StatusWarning
		c.Fix = "free space: old backups ('hakube backup list'), container images ('k3s crictl rmi --prune'), or move k3s's data to a bigger disk"
	case st.Files > 0 && float64(st.Ffree)/float64(st.Files) < minFreeInodes:
		c.Status = hwdetect.StatusWarning
		c.Fix = "almost no inodes left: remove caches of many small files (ESPHome's .esphome/build, 'k3s crictl rmi --prune')"
	}
	return c
}

func checkMedium(in DoctorInput) hwdetect.Check {
	c := hwdetect.Check{ID: "storage-medium", Title: "storage under k3s's data"}
	s, err := hwdetect.StorageOf(in.Root, in.DataDir)
	if err != nil || s.Medium == hwdetect.MediumUnknown {
		c.Status, c.Detail = hwdetect.StatusNotChecked, "the disk under "+in.DataDir+" was not found in /sys/block and /proc/self/mounts"
		return c
	}
	c.Detail = fmt.Sprintf("%s is on %s (%s, mounted at %s)", in.DataDir, s.Partition, s.Medium, s.MountPoint)
	c.Status = hwdetect.StatusOK
	if s.WearsOut() {
		c.Status = hwdetect.StatusWarning
		c.Detail += ": a database's constant small writes wear an SD card out, and a dead card loses the data and the backups on it together"
		c.Fix = "move k3s's data to an SSD (USB 3 or NVMe; boot from it on a Pi 4/5), and until then set backup-copy-dir to another disk and pull backups off the node ('hakube backup pull')"
	}
	return c
}

func checkRadio(in DoctorInput) hwdetect.Check {
	c := hwdetect.Check{ID: "radio", Title: "Zigbee radio"}
	cfg := in.Config
	switch {
	case cfg == nil || !cfg.Has(config.Zigbee2MQTT):
		c.Status, c.Detail = hwdetect.StatusOK, "no Zigbee2MQTT configured"
		return c
	case !strings.HasPrefix(cfg.ZigbeeDevice, "/dev/"):
		c.Status, c.Detail = hwdetect.StatusOK, "network coordinator "+cfg.ZigbeeDevice+" (not checked from the host)"
		return c
	}
	if _, err := os.Stat(in.host(cfg.ZigbeeDevice)); err != nil {
		c.Status = hwdetect.StatusProblem
		c.Detail = cfg.ZigbeeDevice + " is gone: Zigbee2MQTT cannot start"
		c.Fix = "plug the coordinator back in (the same port is not needed: the by-id path follows it); if it is another stick, run 'hakube detect' and set zigbee-device to its path"
		return c
	}
	c.Status, c.Detail = hwdetect.StatusOK, cfg.ZigbeeDevice+" is present"
	return c
}

func checkClock(in DoctorInput) hwdetect.Check {
	c := hwdetect.Check{ID: "clock", Title: "clock synchronisation"}
	clk := hwdetect.ClockOf(in.Root)
	switch {
	case clk.Synchronized:
		c.Status, c.Detail = hwdetect.StatusOK, "synchronised ("+clk.From+")"
	case clk.Service == "":
		c.Status, c.Detail = hwdetect.StatusWarning, "no time service is enabled: a Pi has no battery clock, so after a power cut the time is wrong, certificates fail and backups get wrong dates"
		c.Fix = "enable one: 'timedatectl set-ntp true' (systemd-timesyncd), or 'apt install chrony'"
	default:
		c.Status, c.Detail = hwdetect.StatusWarning, clk.Service+" is enabled but the clock is not synchronised"
		c.Fix = "check the network reaches a time server: 'timedatectl timesync-status' (or 'chronyc sources'); behind a firewall allow UDP 123"
	}
	return c
}

func checkCert(in DoctorInput) hwdetect.Check {
	c := hwdetect.Check{ID: "k3s-certificate", Title: "k3s certificates"}
	p := path.Join(in.DataDir, "server", "tls", "serving-kube-apiserver.crt")
	data, err := os.ReadFile(in.host(p))
	if err != nil {
		c.Status, c.Detail = hwdetect.StatusNotChecked, p+" cannot be read (is this the k3s server, and --data-dir right?)"
		return c
	}
	block, _ := pem.Decode(data)
	if block == nil {
		c.Status, c.Detail = hwdetect.StatusProblem, p+" is not a PEM certificate"
		c.Fix = "restart k3s to regenerate it: 'systemctl restart k3s'"
		return c
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		c.Status, c.Detail = hwdetect.StatusProblem, p+": "+err.Error()
		c.Fix = "restart k3s to regenerate it: 'systemctl restart k3s'"
		return c
	}
	left := cert.NotAfter.Sub(in.Now)
	c.Detail = fmt.Sprintf("the API server's certificate expires %s (in %d days)", cert.NotAfter.UTC().Format("2006-01-02"), int(left.Hours()/24))
	switch {
	case left <= 0:
		c.Status = hwdetect.StatusProblem
		c.Detail = fmt.Sprintf("the API server's certificate expired %s", cert.NotAfter.UTC().Format("2006-01-02"))
		c.Fix = "run 'k3s certificate rotate' and restart k3s ('systemctl restart k3s')"
	case left < certWarnBefore:
		c.Status = hwdetect.StatusWarning
		c.Fix = "restart k3s ('systemctl restart k3s'): it renews certificates that expire within 90 days when it starts"
	default:
		c.Status = hwdetect.StatusOK
	}
	return c
}

func checkBackups(in DoctorInput) []hwdetect.Check {
	age := hwdetect.Check{ID: "backup-age", Title: "newest backup"}
	off := hwdetect.Check{ID: "backup-off-node", Title: "backup copy off the SD card or node"}
	ns, copyDir := "home-assistant", ""
	if in.Config != nil {
		ns, copyDir = in.Config.Namespace, in.Config.BackupCopyDir
	}
	locs := BackupLocations(in.host(in.DataDir), ns, "")
	if copyDir != "" {
		locs = append(locs, BackupLocation{Where: "backup-copy-dir", Dir: in.host(copyDir)})
	}
	list, err := ListBackups(locs)
	if err != nil {
		age.Status, age.Detail = hwdetect.StatusNotChecked, err.Error()
		return []hwdetect.Check{age}
	}
	var newest, newestCopy *BackupArchive
	for i := range list {
		a := &list[i]
		if !a.Good {
			continue
		}
		if newest == nil {
			newest = a
		}
		if a.Where == "backup-copy-dir" && newestCopy == nil {
			newestCopy = a
		}
	}
	switch {
	case newest == nil:
		age.Status, age.Detail = hwdetect.StatusWarning, "no good backup found"
		age.Fix = "run 'sudo hakube backup now'; if the nightly job fails, see 'kubectl -n " + ns + " get jobs'"
	case in.Now.Sub(newest.Time) > backupMaxAge:
		age.Status = hwdetect.StatusWarning
		age.Detail = fmt.Sprintf("the newest good backup, %s, is %d hours old", newest.Name, int(in.Now.Sub(newest.Time).Hours()))
		age.Fix = "the nightly job is not running or failing: 'kubectl -n " + ns + " get cronjob,jobs', then 'sudo hakube backup now'"
	default:
		age.Status, age.Detail = hwdetect.StatusOK, fmt.Sprintf("%s (%s)", newest.Name, newest.Where)
	}
	switch {
	case copyDir == "":
		off.Status, off.Detail = hwdetect.StatusWarning, "backup-copy-dir is not set: every backup is on the same disk as the data"
		off.Fix = "set backup-copy-dir to a USB disk or NFS mount ('hakube upgrade --backup-copy-dir /mnt/usb/hakube'), or copy archives off with 'hakube backup pull'"
	case sameDevice(in.host(copyDir), in.host(in.nearestDir(in.DataDir))):
		off.Status, off.Detail = hwdetect.StatusWarning, copyDir+" is on the same disk as k3s's data (is the USB disk mounted?)"
		off.Fix = "mount the backup disk at " + copyDir + " (add it to /etc/fstab with nofail)"
	case newestCopy == nil:
		off.Status, off.Detail = hwdetect.StatusWarning, "no good backup in "+copyDir+" yet"
		off.Fix = "run 'sudo hakube backup now' and check the job's log"
	default:
		off.Status, off.Detail = hwdetect.StatusOK, newestCopy.Name+" in "+copyDir
	}
	return []hwdetect.Check{age, off}
}

func sameDevice(a, b string) bool {
	var sa, sb syscall.Stat_t
	if syscall.Stat(a, &sa) != nil || syscall.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev
}

// checkCluster reports Addons k3s could not apply, pods not Ready and why,
// and the metrics token.
func checkCluster(ctx context.Context, in DoctorInput) []hwdetect.Check {
	c := in.Clients
	ns := "home-assistant"
	if in.Config != nil {
		ns = in.Config.Namespace
	}
	var out []hwdetect.Check
	addons := hwdetect.Check{ID: "addons", Title: "k3s applied hakube's manifests", Status: hwdetect.StatusOK}
	evs, err := c.Kube.Events.List(ctx, "kube-system", metav1.ListOptions{FieldSelector: "involvedObject.kind=Addon"})
	if err != nil {
		addons.Status, addons.Detail = hwdetect.StatusNotChecked, "cannot list k3s's events: "+err.Error()
	} else {
		latest := map[string]corev1.Event{}
		for _, e := range evs.Items {
			if !strings.HasPrefix(e.InvolvedObject.Name, manifests.FilePrefix) {
				continue
			}
			if old, ok := latest[e.InvolvedObject.Name]; !ok || eventTime(&e).After(eventTime(&old).Time) {
				latest[e.InvolvedObject.Name] = e
			}
		}
		var bad []string
		for name, e := range latest {
			if e.Type == corev1.EventTypeWarning {
				bad = append(bad, name+": "+e.Message)
			}
		}
		sort.Strings(bad)
		if len(bad) > 0 {
			addons.Status, addons.Detail = hwdetect.StatusProblem, strings.Join(bad, "; ")
			addons.Fix = "k3s's message names the object and field: fix the setting, then run 'sudo hakube upgrade' (or install) again"
		} else {
			addons.Detail = "no errors from k3s's deploy controller"
		}
	}
	out = append(out, addons)

	pods := hwdetect.Check{ID: "pods", Title: "pods Ready", Status: hwdetect.StatusOK}
	list, err := c.Kube.Pods.List(ctx, ns, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=hakube"})
	if err != nil {
		pods.Status, pods.Detail = hwdetect.StatusNotChecked, "cannot list pods: "+err.Error()
	} else {
		var advice []string
		var fixes []string
		w := &waiter{c: c, ns: ns, advice: map[string]string{}, logs: c.lastLogLines, events: c.podWarnings,
			rep: func(e Event) {
				advice = append(advice, e.Object+": "+e.Message)
				if e.Advice != "" {
					fixes = append(fixes, e.Advice)
				}
			}}
		notReady := 0
		for i := range list.Items {
			p := &list.Items[i]
			if p.Status.Phase == corev1.PodSucceeded || podReady(p) {
				continue
			}
			notReady++
			before := len(advice)
			w.adviseOn(p)
			if len(advice) == before {
				advice = append(advice, fmt.Sprintf("%s: %s, not Ready", p.Name, p.Status.Phase))
			}
		}
		if notReady > 0 {
			pods.Status, pods.Detail = hwdetect.StatusProblem, strings.Join(advice, "; ")
			pods.Fix = strings.Join(fixes, "; ")
			if pods.Fix == "" {
				pods.Fix = "see 'kubectl -n " + ns + " describe pods' and 'hakube status'"
			}
		} else {
			pods.Detail = fmt.Sprintf("%d pods Ready", len(list.Items))
		}
	}
	out = append(out, pods)

	if in.Config != nil && in.Config.HostNetwork {
		out = append(out, checkHostPorts(ctx, c, ns, in.Root))
	}
	if in.Config != nil && in.Config.Monitoring != config.MonitoringOff && c.HasServiceMonitorCRD() {
		m := hwdetect.Check{ID: "metrics-token", Title: "Prometheus metrics token"}
		sec, err := c.Kube.Secrets.Get(ctx, ns, metricsSecretName)
		switch {
		case err != nil:
			m.Status, m.Detail = hwdetect.StatusWarning, "Secret "+metricsSecretName+" is missing: Prometheus gets 401 from /api/prometheus"
			m.Fix = "in Home Assistant, Profile → Security → create a long-lived access token, then: kubectl -n " + ns + " create secret generic " + metricsSecretName + " --from-literal=token=<the token>"
		case len(sec.Data["token"]) == 0:
			m.Status, m.Detail = hwdetect.StatusWarning, "Secret "+metricsSecretName+" has no key token"
			m.Fix = "recreate it with the key token: kubectl -n " + ns + " create secret generic " + metricsSecretName + " --from-literal=token=<the token> --dry-run=client -o yaml | kubectl apply -f -"
		default:
			m.Status, m.Detail = hwdetect.StatusOK, "Secret "+metricsSecretName+" holds a token"
		}
		out = append(out, m)
	}
	return out
}

// checkHostPorts: in host-network mode the pod binds its ports on the host.
// While it is not running, something else holding one of them keeps it from
// starting; once it runs, the ports are its own.
func checkHostPorts(ctx context.Context, c *Clients, ns, root string) hwdetect.Check {
	ch := hwdetect.Check{ID: "host-ports", Title: "host ports (host-network)"}
	if root != "/" {
		ch.Status, ch.Detail = hwdetect.StatusNotChecked, "only on the running machine (--root is not /)"
		return ch
	}
	ss, err := c.Kube.StatefulSets.Get(ctx, ns, "home-assistant")
	if err != nil {
		ch.Status, ch.Detail = hwdetect.StatusNotChecked, "cannot read the home-assistant StatefulSet: "+shortErr(err)
		return ch
	}
	if ss.Status.ReadyReplicas > 0 {
		ch.Status, ch.Detail = hwdetect.StatusOK, "Home Assistant's pod runs and holds its ports"
		return ch
	}
	var ports []int32
	for _, ctr := range ss.Spec.Template.Spec.Containers {
		for _, p := range ctr.Ports {
			ports = append(ports, p.ContainerPort)
		}
	}
	taken := takenPorts(ports)
	if len(taken) == 0 {
		ch.Status, ch.Detail = hwdetect.StatusOK, fmt.Sprintf("%d ports free on the host", len(ports))
		return ch
	}
	ch.Status = hwdetect.StatusProblem
	ch.Detail = fmt.Sprintf("taken on the host while Home Assistant's pod is not running: %v", taken)
	ch.Fix = "stop what listens there ('ss -ltnp' shows it), or set host-network: false"
	return ch
}

// takenPorts lists the TCP ports something on this machine already listens on.
func takenPorts(ports []int32) []int32 {
	var taken []int32
	for _, p := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			taken = append(taken, p)
			continue
		}
		l.Close()
	}
	return taken
}
