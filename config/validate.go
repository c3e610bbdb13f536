package config

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones are checked the same way on every board

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Validate reports every problem of c at once, or nil.
func (c *Config) Validate() error {
	if p := validate(c, &Settings{}); len(p) > 0 {
		return &Error{Problems: p}
	}
	return nil
}

// validate checks c; set (may be nil) names where each key came from.
func validate(c *Config, set *Settings) []Problem {
	var out []Problem
	// add reports a problem with key; when the user did not set key itself,
	// the first related key they did set gives the file and line.
	addRel := func(key string, related []string, format string, args ...any) {
		src := Source{}
		for _, k := range append([]string{key}, related...) {
			if s, ok := set.get(k); ok {
				src = s.src
				break
			}
		}
		out = append(out, Problem{Source: src, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	add := func(key, format string, args ...any) { addRel(key, nil, format, args...) }
	isSet := func(key string) bool { return set.IsSet(key) }
	oneOf := func(key, v string) {
		f := fieldByKey(key)
		if !slices.Contains(f.allowed, v) {
			add(key, "%q is not allowed: use one of %s", v, strings.Join(f.allowed, ", "))
		}
	}

	oneOf("profile", string(c.Profile))
	if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
		add("namespace", "%q is not a valid namespace name: %s", c.Namespace, strings.Join(errs, "; "))
	} else if len(c.Namespace) > maxNamespaceLen {
		add("namespace", "%q is too long: give at most %d characters (a USB radio runs in %q)", c.Namespace, maxNamespaceLen, c.Namespace+"-radio")
	}

	seen := map[Component]bool{}
	for _, comp := range c.Components {
		if !slices.Contains(components, comp) {
			add("components", "%q is not a component: use any of %s (Home Assistant is always installed)",
				comp, strings.Join(strs(components), ", "))
			continue
		}
		if seen[comp] {
			add("components", "%q is listed twice", comp)
		}
		seen[comp] = true
	}

	// Database.
	oneOf("database", string(c.Database))
	switch {
	case c.Profile == ProfileExternalDB && c.Database != DatabaseExternal:
		add("database", "profile external-db needs database: external, not %q: remove database or choose another profile", c.Database)
	case c.Database == DatabaseExternal && c.DatabaseURLFile == "":
		addRel("database-url-file", []string{"database", "profile"}, "database: external needs database-url-file: the path of a root-only file holding the recorder URL (postgresql://… or mysql://…)")
	case c.Database != DatabaseExternal && c.DatabaseURLFile != "":
		add("database-url-file", "only used with database: external (now %q): remove it or set database: external", c.Database)
	}

	// Service and ingress.
	oneOf("service-type", string(c.ServiceType))
	if c.NodePort < 30000 || c.NodePort > 32767 {
		add("node-port", "%d is outside the NodePort range 30000-32767: choose a port in that range", c.NodePort)
	}
	if isSet("node-port") && c.ServiceType == ClusterIP {
		add("node-port", "a ClusterIP service has no node port: remove node-port or set service-type: NodePort")
	}
	if c.IngressHost != "" {
		if errs := validation.IsDNS1123Subdomain(strings.TrimPrefix(c.IngressHost, "*.")); len(errs) > 0 {
			add("ingress-host", "%q is not a valid host name: use lower-case letters, digits, '-' and '.', like home.example.com", c.IngressHost)
		}
	}
	if c.IngressTLS && c.IngressHost == "" {
		add("ingress-tls", "TLS needs ingress-host: set the host name the certificate is for, or remove ingress-tls")
	}
	if c.ClusterIssuer != "" {
		if !c.IngressTLS {
			add("cluster-issuer", "a certificate issuer needs ingress-tls: true and ingress-host")
		}
		if errs := validation.IsDNS1123Subdomain(c.ClusterIssuer); len(errs) > 0 {
			add("cluster-issuer", "%q is not a valid issuer name: %s", c.ClusterIssuer, strings.Join(errs, "; "))
		}
	}

	// MQTT for LAN devices.
	oneOf("mqtt-expose", string(c.MQTTExpose))
	if c.MQTTExpose != MQTTExposeOff && !c.Has(MQTT) {
		addRel("mqtt-expose", []string{"components"}, "there is no broker to expose: add mqtt to components or set mqtt-expose: off")
	}
	for _, k := range []struct {
		key  string
		port int
	}{{"mqtt-node-port", c.MQTTNodePort}, {"mqtt-tls-node-port", c.MQTTTLSNodePort}} {
		switch {
		case k.port < 30000 || k.port > 32767:
			add(k.key, "%d is outside the NodePort range 30000-32767: choose a port in that range", k.port)
		case c.MQTTExpose == MQTTExposeNodePort && c.ServiceType == NodePort && k.port == c.NodePort:
			add(k.key, "%d is Home Assistant's node-port too: choose another port", k.port)
		case isSet(k.key) && c.MQTTExpose != MQTTExposeNodePort:
			addRel(k.key, []string{"mqtt-expose"}, "only used with mqtt-expose: NodePort (now %q): remove it or set mqtt-expose: NodePort", c.MQTTExpose)
		}
	}
	if c.MQTTExpose == MQTTExposeNodePort && c.MQTTNodePort == c.MQTTTLSNodePort {
		add("mqtt-tls-node-port", "%d is mqtt-node-port too: give TLS its own port", c.MQTTTLSNodePort)
	}
	// Dashboards on the LAN: every node port in range and used once.
	used := map[int]string{}
	if c.ServiceType == NodePort {
		used[c.NodePort] = "node-port"
	}
	if c.MQTTExposed() && c.MQTTExpose == MQTTExposeNodePort {
		used[c.MQTTNodePort], used[c.MQTTTLSNodePort] = "mqtt-node-port", "mqtt-tls-node-port"
	}
	for _, d := range []struct {
		key  string
		port int
	}{{"nodered-node-port", c.NodeREDNodePort}, {"esphome-node-port", c.ESPHomeNodePort}, {"zigbee2mqtt-node-port", c.Zigbee2MQTTNodePort}} {
		if d.port == 0 {
			continue
		}
		if d.port < 30000 || d.port > 32767 {
			add(d.key, "%d is outside the NodePort range 30000-32767: choose a port in that range, or 0 to keep the dashboard off the LAN", d.port)
			continue
		}
		if other, ok := used[d.port]; ok {
			add(d.key, "%d is %s too: choose another port", d.port, other)
		}
		used[d.port] = d.key
	}
	if c.DashboardsIngress && c.IngressHost == "" {
		add("dashboards-ingress", "the dashboards' sub-hosts need ingress-host: set it, or use the dashboards' node ports")
	}
	for _, h := range c.MQTTTLSHosts {
		if net.ParseIP(h) != nil {
			continue
		}
		if errs := validation.IsDNS1123Subdomain(h); len(errs) > 0 {
			add("mqtt-tls-hosts", "%q is neither an IP address nor a host name: write it like 192.168.1.10 or pi.lan", h)
		}
	}

	// Storage.
	if errs := validation.IsDNS1123Subdomain(c.StorageClass); len(errs) > 0 {
		add("storage-class", "%q is not a valid StorageClass name: %s", c.StorageClass, strings.Join(errs, "; "))
	}
	for _, f := range fields {
		if !f.volume {
			continue
		}
		val := f.get(c).(string)
		q, err := resource.ParseQuantity(val)
		if err != nil {
			add(f.key, "%q is not a size: write it like 10Gi or 500Mi", val)
			continue
		}
		if q.Cmp(resource.MustParse("64Mi")) < 0 {
			add(f.key, "%s is too small: give at least 64Mi", val)
		}
	}

	// Zigbee.
	hasZ2M := c.Has(Zigbee2MQTT)
	switch {
	case hasZ2M && c.ZigbeeDevice == "":
		addRel("zigbee-device", []string{"components"}, "zigbee2mqtt needs zigbee-device: the coordinator's /dev/serial/by-id/… path or tcp://host:port (run 'hakube detect' to find it)")
	case !hasZ2M && c.ZigbeeDevice != "":
		add("zigbee-device", "set, but zigbee2mqtt is not in components: add it to components or remove zigbee-device")
	}
	if c.ZigbeeDevice != "" {
		if msg := checkZigbeeDevice(c.ZigbeeDevice); msg != "" {
			add("zigbee-device", "%s", msg)
		} else if strings.HasPrefix(c.ZigbeeDevice, "mdns://") && !c.HostNetwork {
			addRel("zigbee-device", []string{"host-network"}, "%s is found by mDNS, which reaches a pod only on the host network: set host-network: true, or give the coordinator as tcp://host:6638", c.ZigbeeDevice)
		}
	}
	if c.ZigbeeAdapter != "" {
		if c.ZigbeeDevice == "" {
			add("zigbee-adapter", "set without zigbee-device: give the coordinator's device too, or remove zigbee-adapter")
		}
		oneOf("zigbee-adapter", c.ZigbeeAdapter)
	} else if hasZ2M && c.ZigbeeDevice != "" {
		addRel("zigbee-adapter", []string{"zigbee-device"}, "Zigbee2MQTT 2.x needs the adapter type (auto was removed): one of %s (run 'hakube detect' to find it)",
			strings.Join(zigbeeAdapters, ", "))
	}
	if c.ZigbeeBaudrate != 0 && !slices.Contains([]int{9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600}, c.ZigbeeBaudrate) {
		add("zigbee-baudrate", "%d is not a serial speed: use 38400, 57600, 115200, 230400 or 460800, or 0 for the adapter's default", c.ZigbeeBaudrate)
	}
	if hasZ2M && !c.Has(MQTT) && isSet("components") {
		add("components", "zigbee2mqtt needs mqtt (the broker it publishes to): add mqtt to components")
	}

	// Node, time, network, backups, monitoring, size.
	if c.NodeName != "" {
		if errs := validation.IsDNS1123Subdomain(c.NodeName); len(errs) > 0 {
			add("node-name", "%q is not a valid node name: %s", c.NodeName, strings.Join(errs, "; "))
		}
	}
	if c.Timezone == "" || c.Timezone == "Local" {
		add("timezone", "give an IANA time zone such as Europe/Berlin or UTC")
	} else if _, err := time.LoadLocation(c.Timezone); err != nil {
		add("timezone", "%q is not a known IANA time zone: use a name such as Europe/Berlin, America/New_York or UTC", c.Timezone)
	}
	if _, n, err := net.ParseCIDR(c.PodCIDR); err != nil {
		add("pod-cidr", "%q is not a CIDR: k3s's default is 10.42.0.0/16", c.PodCIDR)
	} else if n.String() != c.PodCIDR {
		add("pod-cidr", "%q has host bits set: did you mean %s?", c.PodCIDR, n)
	} else if msg := checkPodCIDR(n); msg != "" {
		add("pod-cidr", "%q %s", c.PodCIDR, msg)
	}
	if msg := checkCron(c.BackupSchedule); msg != "" {
		add("backup-schedule", "%q %s", c.BackupSchedule, msg)
	}
	if c.BackupRetentionDays < 1 || c.BackupRetentionDays > 3650 {
		add("backup-retention-days", "%d is out of range: keep backups between 1 and 3650 days", c.BackupRetentionDays)
	}
	// Day two: backups and monitoring.
	if c.BackupCopyDir != "" {
		if msg := checkCopyDir(c.BackupCopyDir); msg != "" {
			add("backup-copy-dir", "%q %s", c.BackupCopyDir, msg)
		}
	}
	for _, l := range c.MonitoringLabels {
		if msg := checkLabel(l); msg != "" {
			add("monitoring-labels", "%q %s", l, msg)
		}
	}
	oneOf("monitoring", string(c.Monitoring))
	oneOf("resource-size", string(c.ResourceSize))
	oneOf("arch", string(c.Arch))
	if c.Arch == ArchARM && c.Has(ESPHome) && isSet("components") {
		addRel("components", nil, "esphome publishes no image for 32-bit ARM (arch arm): remove esphome, or install a 64-bit OS")
	}
	return out
}

// checkCopyDir validates the second backup destination: an absolute, clean
// host path that is none of the system's own directories.
func checkCopyDir(dir string) string {
	switch {
	case !strings.HasPrefix(dir, "/"):
		return "is not an absolute path: give the mount point of a USB disk or NFS share, like /mnt/backup"
	case path.Clean(dir) != dir:
		return fmt.Sprintf("is not a clean path: write it as %s", path.Clean(dir))
	case strings.ContainsAny(dir, "\n\r\x00"):
		return "contains a line break or NUL"
	}
	for _, sys := range []string{"/", "/etc", "/usr", "/bin", "/sbin", "/lib", "/boot", "/proc", "/sys", "/dev", "/run", "/var/lib/rancher"} {
		if dir == sys || (sys != "/" && strings.HasPrefix(dir, sys+"/")) {
			return fmt.Sprintf("is inside %s: give a directory of its own on another disk, like /mnt/backup", sys)
		}
	}
	return ""
}

// checkLabel validates one key=value Kubernetes label.
func checkLabel(l string) string {
	k, v, ok := strings.Cut(l, "=")
	if !ok {
		return "is not key=value: write it like release=kube-prometheus-stack"
	}
	if errs := validation.IsQualifiedName(k); len(errs) > 0 {
		return "has an invalid label key: " + strings.Join(errs, "; ")
	}
	if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
		return "has an invalid label value: " + strings.Join(errs, "; ")
	}
	return ""
}

// maxNamespaceLen leaves room for the radio namespace, <namespace>-radio.
const maxNamespaceLen = 63 - len("-radio")

// checkPodCIDR refuses a pod CIDR Home Assistant could not safely trust as
// its ingress controller's network: the whole address space, or addresses
// that are never pods (loopback, link-local, multicast).
func checkPodCIDR(n *net.IPNet) string {
	ones, bits := n.Mask.Size()
	minOnes := 8
	if bits == 128 {
		minOnes = 32
	}
	switch {
	case ones < minOnes:
		return fmt.Sprintf("is far too wide (/%d would trust a huge part of the internet): give the cluster's pod CIDR, k3s's default is 10.42.0.0/16", ones)
	case n.IP.IsUnspecified() || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() || n.IP.IsMulticast():
		return "is not a network pods can have: give the cluster's pod CIDR, k3s's default is 10.42.0.0/16"
	}
	return ""
}

var devPathRE = regexp.MustCompile(`^/dev/[A-Za-z0-9._:/+-]+$`)

func checkZigbeeDevice(dev string) string {
	switch {
	case strings.HasPrefix(dev, "tcp://"):
		u, err := url.Parse(dev)
		if err != nil || u.Hostname() == "" || u.Port() == "" {
			return fmt.Sprintf("%q is not tcp://host:port (network coordinators listen on 6638 by default)", dev)
		}
		if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
			return fmt.Sprintf("%q has an invalid port", dev)
		}
		return ""
	case strings.HasPrefix(dev, "mdns://"):
		if strings.TrimPrefix(dev, "mdns://") == "" {
			return "mdns:// needs the coordinator's name, like mdns://slzb-06"
		}
		return ""
	case devPathRE.MatchString(dev) && !strings.Contains(dev, ".."):
		return ""
	}
	return fmt.Sprintf("%q is not a device: give /dev/serial/by-id/…, /dev/ttyACM0-style paths, or tcp://host:port", dev)
}

var cronFieldRE = regexp.MustCompile(`^(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?$`)

// checkCron validates a five-field cron schedule as a CronJob takes it.
func checkCron(s string) string {
	switch s {
	case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
		return ""
	}
	parts := strings.Fields(s)
	if len(parts) != 5 {
		return "is not a cron schedule: give five fields (minute hour day-of-month month day-of-week), like \"30 3 * * *\", or @daily"
	}
	limits := []struct {
		name     string
		min, max int
	}{{"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7}}
	for i, p := range parts {
		for _, item := range strings.Split(p, ",") {
			m := cronFieldRE.FindStringSubmatch(item)
			if m == nil {
				return fmt.Sprintf("has an invalid %s field %q: use numbers, *, ranges a-b, lists a,b and steps /n", limits[i].name, p)
			}
			if step, _ := strconv.Atoi(strings.TrimPrefix(m[3], "/")); m[3] != "" && step == 0 {
				return fmt.Sprintf("has a step of 0 in its %s field %q: a step must be 1 or more", limits[i].name, p)
			}
			if m[1] == "*" {
				continue
			}
			lo, hi, _ := strings.Cut(m[1], "-")
			if hi != "" {
				a, _ := strconv.Atoi(lo)
				b, _ := strconv.Atoi(hi)
				if a > b {
					return fmt.Sprintf("has a backwards range %s in its %s field: write the smaller number first, like %s-%s", m[1], limits[i].name, hi, lo)
				}
			}
			for _, n := range []string{lo, hi} {
				if n == "" {
					continue
				}
				v, _ := strconv.Atoi(n)
				if v < limits[i].min || v > limits[i].max {
					return fmt.Sprintf("has %s %d outside %d-%d", limits[i].name, v, limits[i].min, limits[i].max)
				}
			}
		}
	}
	return ""
}
