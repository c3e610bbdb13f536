package hwdetect

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// k3s's own paths and defaults.
const (
	k3sConfig        = "/etc/rancher/k3s/config.yaml"
	k3sDefaultData   = "/var/lib/rancher/k3s"
	k3sDefaultKube   = "/etc/rancher/k3s/k3s.yaml"
	k3sDefaultPort   = 6443
	k3sInstallScript = "curl -sfL https://get.k3s.io | sh -"
)

// k3sBinaries are where the k3s install script (and distributions) put k3s.
var k3sBinaries = []string{"/usr/local/bin/k3s", "/usr/bin/k3s", "/opt/bin/k3s"}

// Disk space below which the free-disk check warns, or fails.
const (
	diskWarnBytes    = 8 * gib
	diskProblemBytes = 2 * gib
)

// cgroupFix is the exact kernel command line addition k3s needs.
const cgroupFix = "cgroup_memory=1 cgroup_enable=memory"

func (d *detector) k3s(r *Report) {
	k := &r.K3s
	k.DataDir, k.DataDirFrom = k3sDefaultData, "default"
	k.Kubeconfig = k3sDefaultKube
	port := k3sDefaultPort
	for _, p := range k3sBinaries {
		if d.fs.exists(p) {
			k.Binary = p
			break
		}
	}
	if k.Binary == "" && d.live && d.probes.LookPath != nil {
		if p, err := d.probes.LookPath("k3s"); err == nil {
			k.Binary = p
		}
	}
	files := []string{k3sConfig}
	if ents, err := d.fs.readDir(k3sConfig + ".d"); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e, ".yaml") || strings.HasSuffix(e, ".yml") {
				files = append(files, k3sConfig+".d/"+e)
			}
		}
	}
	for _, f := range files {
		b, err := d.fs.readFile(f)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				d.warnf(r, "cannot read k3s's config: %s", describeErr(err))
			}
			continue
		}
		var cfg map[string]any
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			d.warnf(r, "%s is not valid YAML (k3s will refuse it too): %v", f, err)
			continue
		}
		if v, ok := cfg["data-dir"].(string); ok && v != "" {
			k.DataDir, k.DataDirFrom = v, f
		}
		if v, ok := cfg["write-kubeconfig"].(string); ok && v != "" {
			k.Kubeconfig = v
		}
		if v, ok := cfg["https-listen-port"].(int); ok && v > 0 && v < 65536 {
			port = v
		}
	}
	k.KubeconfigExists = d.fs.exists(k.Kubeconfig)
	k.APIAddress = "127.0.0.1:" + strconv.Itoa(port)
	switch {
	case !d.live:
		k.API = string(StatusNotChecked)
	case d.probes.Dial != nil && d.probes.Dial(k.APIAddress):
		k.API = "running"
	default:
		k.API = "not-running"
	}
}

func (d *detector) disk(r *Report) {
	r.Disk.Path = r.K3s.DataDir
	if !d.live || d.probes.FreeBytes == nil {
		return
	}
	// The data dir may not exist before k3s is installed: measure the
	// file system it will be created on.
	dir := path.Clean("/" + r.K3s.DataDir)
	for dir != "/" && !d.fs.exists(dir) {
		dir = path.Dir(dir)
	}
	n, err := d.probes.FreeBytes(d.fs.real(dir))
	if err != nil {
		d.warnf(r, "cannot measure free space on %s: %v", dir, unwrapPathErr(err))
		return
	}
	r.Disk.FreeBytes, r.Disk.Checked = n, true
}

// checks judges what was found.
func (d *detector) checks(r *Report) {
	add := func(c Check) { r.Checks = append(r.Checks, c) }
	notLive := "not checked: only on the running machine (--root is not /)"
	add(d.checkArch(r))
	add(d.checkMemory(r))
	add(d.checkCgroup(r))

	k3s := Check{ID: CheckK3s, Title: "k3s"}
	if r.K3s.Binary != "" {
		k3s.Status, k3s.Detail = StatusOK, "installed at "+r.K3s.Binary+", data dir "+r.K3s.DataDir
	} else {
		k3s.Status, k3s.Detail = StatusProblem, "not installed: hakube installs onto an existing k3s"
		k3s.Fix = "install k3s: " + k3sInstallScript
	}
	add(k3s)

	api := Check{ID: CheckK3sAPI, Title: "k3s API"}
	switch {
	case !d.live:
		api.Status, api.Detail = StatusNotChecked, notLive
	case r.K3s.Binary == "":
		api.Status, api.Detail = StatusNotChecked, "k3s is not installed"
	case r.K3s.API == "running":
		api.Status, api.Detail = StatusOK, "answers on "+r.K3s.APIAddress
	default:
		api.Status, api.Detail = StatusProblem, "nothing answers on "+r.K3s.APIAddress
		api.Fix = "start k3s: sudo systemctl start k3s, then see why it stopped: journalctl -u k3s"
	}
	add(api)
	add(d.checkNodePort(r))

	root := Check{ID: CheckRoot, Title: "running as root"}
	switch {
	case !d.live || d.probes.UID == nil:
		root.Status, root.Detail = StatusNotChecked, notLive
	case d.probes.UID() == 0:
		root.Status, root.Detail = StatusOK, "yes"
	default:
		root.Status, root.Detail = StatusWarning, "no: detect works without root, but install writes into k3s's data dir"
		root.Fix = "run the install with sudo: sudo hakube install"
	}
	add(root)

	disk := Check{ID: CheckDisk, Title: "free disk"}
	switch {
	case !r.Disk.Checked && !d.live:
		disk.Status, disk.Detail = StatusNotChecked, notLive
	case !r.Disk.Checked:
		disk.Status, disk.Detail = StatusNotChecked, "could not be measured"
	case r.Disk.FreeBytes < diskProblemBytes:
		disk.Status = StatusProblem
	case r.Disk.FreeBytes < diskWarnBytes:
		disk.Status = StatusWarning
	default:
		disk.Status = StatusOK
	}
	if r.Disk.Checked {
		disk.Detail = fmt.Sprintf("%s free for %s", HumanBytes(r.Disk.FreeBytes), r.Disk.Path)
		if disk.Status != StatusOK {
			disk.Fix = fmt.Sprintf("free space or move k3s's data-dir to a bigger disk: images and volumes need about %s", HumanBytes(diskWarnBytes))
		}
	}
	add(disk)
}

func (d *detector) checkArch(r *Report) Check {
	c := Check{ID: CheckArch, Title: "CPU architecture"}
	switch r.Arch {
	case "amd64", "arm64":
		c.Status, c.Detail = StatusOK, r.Arch+" ("+r.ArchFrom+")"
	case "arm":
		if r.CPU.ARMv6 {
			c.Status, c.Detail = StatusProblem, "ARMv6 CPU (Raspberry Pi 1 or Zero): k3s and Home Assistant need ARMv7 or newer"
			c.Fix = "use a Raspberry Pi 3, 4, 5 or Zero 2 W"
			return c
		}
		c.Status, c.Detail = StatusWarning, "32-bit ARM userland ("+r.ArchFrom+"): ESPHome has no 32-bit ARM image and Home Assistant is phasing 32-bit out"
		c.Fix = "install the 64-bit OS (Raspberry Pi OS Lite 64-bit) if the board has a 64-bit CPU (Raspberry Pi 3, 4, 5, Zero 2 W)"
	case "unknown":
		c.Status, c.Detail = StatusNotChecked, r.ArchFrom
	default:
		c.Status, c.Detail = StatusProblem, r.Arch+": k3s and Home Assistant publish images for amd64, arm64 and 32-bit ARM only"
	}
	return c
}

func (d *detector) checkMemory(r *Report) Check {
	c := Check{ID: CheckMemory, Title: "memory"}
	m := r.Memory
	switch {
	case m.TotalBytes == 0:
		c.Status, c.Detail = StatusNotChecked, "no readable /proc/meminfo under the root"
	case m.BoardBytes < gib:
		c.Status, c.Detail = StatusWarning, fmt.Sprintf("%s usable: Home Assistant alone needs about 1 GiB, expect swapping", HumanBytes(m.TotalBytes))
		c.Fix = "use a board with at least 2 GiB"
	default:
		c.Status, c.Detail = StatusOK, fmt.Sprintf("%s usable (%s board)", HumanBytes(m.TotalBytes), HumanBytes(m.BoardBytes))
	}
	return c
}

// checkCgroup reports whether the kernel has the memory cgroup controller,
// which k3s needs and Raspberry Pi OS ships disabled. For an image (no
// /proc), the boot command line is read instead.
func (d *detector) checkCgroup(r *Report) Check {
	c := Check{ID: CheckMemoryCgroup, Title: "memory cgroup"}
	enabled, from, known := d.cgroupState()
	switch {
	case !known:
		c.Status, c.Detail = StatusNotChecked, "no /proc/cgroups, /sys/fs/cgroup or boot command line under the root"
		return c
	case enabled:
		c.Status, c.Detail = StatusOK, "enabled ("+from+")"
		return c
	}
	c.Status, c.Detail = StatusProblem, "disabled ("+from+"): k3s cannot limit memory and will not start"
	c.Fix = d.cgroupFix(r)
	return c
}

func (d *detector) cgroupState() (enabled bool, from string, known bool) {
	if b, err := d.fs.readFile("/proc/cgroups"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 4 && f[0] == "memory" {
				return f[3] == "1", "/proc/cgroups", true
			}
		}
	}
	if s, err := d.fs.readString("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return slices.Contains(strings.Fields(s), "memory"), "/sys/fs/cgroup/cgroup.controllers", true
	}
	if f := d.cmdlineFile(); f != "" {
		s, _ := d.fs.readString(f)
		args := strings.Fields(s)
		on := slices.Contains(args, "cgroup_enable=memory") && !slices.Contains(args, "cgroup_disable=memory")
		return on, f, true
	}
	return false, "", false
}

// cmdlineFile is the Raspberry Pi boot command line file of the root, or "".
func (d *detector) cmdlineFile() string {
	for _, f := range []string{"/boot/firmware/cmdline.txt", "/boot/cmdline.txt"} {
		if d.fs.exists(f) {
			return f
		}
	}
	return ""
}

func (d *detector) cgroupFix(r *Report) string {
	f := d.cmdlineFile()
	if r.Board.Kind == "raspberry-pi" || f != "" {
		if f == "" {
			return "append " + cgroupFix + " to the single line in /boot/firmware/cmdline.txt (older images: /boot/cmdline.txt), then reboot"
		}
		return fmt.Sprintf("append %s to the single line in %s, then reboot: sudo sed -i '1 s/$/ %s/' %s && sudo reboot",
			cgroupFix, f, cgroupFix, f)
	}
	return "add " + cgroupFix + " to the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then sudo update-grub), then reboot"
}

// checkNodePort looks for a process listening on the NodePort in the
// root's /proc/net/tcp and tcp6. kube-proxy serves NodePorts without a
// listening socket, so a Service already holding the port is left to the
// installer, which asks k3s.
func (d *detector) checkNodePort(r *Report) Check {
	c := Check{ID: CheckNodePort, Title: fmt.Sprintf("NodePort %d", d.nodePort)}
	seen := false
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := d.fs.readFile(f)
		if err != nil {
			continue
		}
		seen = true
		if addr, ok := listening(b, d.nodePort); ok {
			c.Status, c.Detail = StatusProblem, fmt.Sprintf("a process listens on %s (%s)", addr, f)
			c.Fix = fmt.Sprintf("stop that process (sudo ss -ltnp 'sport = :%d' names it), or choose another node-port between 30000 and 32767", d.nodePort)
			return c
		}
	}
	if !seen {
		c.Status, c.Detail = StatusNotChecked, "no /proc/net/tcp under the root"
		return c
	}
	c.Status, c.Detail = StatusOK, "no process listens on it"
	return c
}

// listening finds a LISTEN socket on port in a /proc/net/tcp{,6} table and
// returns its local address as the kernel shows it.
func listening(table []byte, port int) (string, bool) {
	want := fmt.Sprintf("%04X", port)
	sc := bufio.NewScanner(bytes.NewReader(table))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != "0A" {
			continue
		}
		if a, p, ok := strings.Cut(f[1], ":"); ok && strings.EqualFold(p, want) {
			return procAddr(a) + ":" + strconv.Itoa(port), true
		}
	}
	return "", false
}

// procAddr turns a /proc/net/tcp address (hex, in host byte order per
// 32-bit word) into the usual notation; anything odd is shown as is.
func procAddr(h string) string {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return h
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	ip := netip.AddrFrom4([4]byte(b[:4]))
	if len(b) == 16 {
		ip = netip.AddrFrom16([16]byte(b))
		return "[" + ip.String() + "]"
	}
	return ip.String()
}

// HumanBytes writes n in binary units, like "1.8 GiB" or "512 MiB".
func HumanBytes(n int64) string {
	switch {
	case n >= gib:
		return strings.TrimSuffix(strconv.FormatFloat(float64(n)/float64(gib), 'f', 1, 64), ".0") + " GiB"
	case n >= mib:
		return strconv.FormatInt(n/mib, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
