package config

import (
	"fmt"
	"slices"
	"strings"
)

// kind is the type a key's value must have.
type kind int

const (
	kindString kind = iota
	kindInt
	kindBool
	kindList
	kindAutoBool // "auto", true or false
)

func (k kind) String() string {
	switch k {
	case kindInt:
		return "a whole number"
	case kindBool:
		return "true or false"
	case kindList:
		return "a list of names"
	case kindAutoBool:
		return "auto, true or false"
	}
	return "a string"
}

// field is one key of the flags file, one HAKUBE_* variable and one flag.
type field struct {
	key     string
	kind    kind
	usage   string
	allowed []string
	get     func(c *Config) any
	set     func(c *Config, v any)
	// volume marks the size of a persistent volume claim.
	volume bool
}

func (f *field) envName() string {
	return "HAKUBE_" + strings.ToUpper(strings.ReplaceAll(f.key, "-", "_"))
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func stringField(key, usage string, allowed []string, p func(c *Config) *string) *field {
	return &field{key: key, kind: kindString, usage: usage, allowed: allowed,
		get: func(c *Config) any { return *p(c) },
		set: func(c *Config, v any) { *p(c) = v.(string) }}
}

func typedField[T ~string](key, usage string, allowed []T, p func(c *Config) *T) *field {
	return &field{key: key, kind: kindString, usage: usage, allowed: strs(allowed),
		get: func(c *Config) any { return string(*p(c)) },
		set: func(c *Config, v any) { *p(c) = T(v.(string)) }}
}

func intField(key, usage string, p func(c *Config) *int) *field {
	return &field{key: key, kind: kindInt, usage: usage,
		get: func(c *Config) any { return *p(c) },
		set: func(c *Config, v any) { *p(c) = v.(int) }}
}

// sizeField is the size of one volume.
func sizeField(key, usage string, p func(c *Config) *string) *field {
	f := stringField(key, usage, nil, p)
	f.volume = true
	return f
}

func boolField(key, usage string, p func(c *Config) *bool) *field {
	return &field{key: key, kind: kindBool, usage: usage,
		get: func(c *Config) any { return *p(c) },
		set: func(c *Config, v any) { *p(c) = v.(bool) }}
}

// fields is every setting, in the order help and saved files list them.
var fields = []*field{
	typedField("profile", "deployment profile: its defaults apply first", profiles,
		func(c *Config) *Profile { return &c.Profile }),
	stringField("namespace", "namespace for every object", nil,
		func(c *Config) *string { return &c.Namespace }),
	{key: "components", kind: kindList, allowed: strs(components),
		usage: "sidecars next to Home Assistant (Home Assistant is always installed)",
		get:   func(c *Config) any { return strs(c.Components) },
		set: func(c *Config, v any) {
			c.Components = nil
			for _, s := range v.([]string) {
				c.Components = append(c.Components, Component(s))
			}
		}},
	typedField("database", "recorder database", []Database{DatabaseSQLite, DatabasePostgreSQL, DatabaseExternal},
		func(c *Config) *Database { return &c.Database }),
	stringField("database-url-file", "file holding the external database URL (never pass the URL itself)", nil,
		func(c *Config) *string { return &c.DatabaseURLFile }),
	typedField("service-type", "how Home Assistant is exposed (ClusterIP behind a TLS Ingress)", []ServiceType{NodePort, LoadBalancer, ClusterIP},
		func(c *Config) *ServiceType { return &c.ServiceType }),
	intField("node-port", "NodePort for Home Assistant (30000-32767)",
		func(c *Config) *int { return &c.NodePort }),
	stringField("ingress-host", "host name for an Ingress in front of Home Assistant", nil,
		func(c *Config) *string { return &c.IngressHost }),
	boolField("ingress-tls", "serve the Ingress over TLS (secret homeassistant-tls)",
		func(c *Config) *bool { return &c.IngressTLS }),
	stringField("cluster-issuer", "cert-manager ClusterIssuer that signs the Ingress certificate", nil,
		func(c *Config) *string { return &c.ClusterIssuer }),
	stringField("storage-class", "StorageClass for every volume ("+RetainStorageClass+": local-path that keeps data when a claim goes)", nil,
		func(c *Config) *string { return &c.StorageClass }),
	sizeField("config-size", "size of the /config volume",
		func(c *Config) *string { return &c.Volumes.Config }),
	sizeField("media-size", "size of the /media volume",
		func(c *Config) *string { return &c.Volumes.Media }),
	sizeField("share-size", "size of the /share volume",
		func(c *Config) *string { return &c.Volumes.Share }),
	sizeField("backups-size", "size of the /backups volume",
		func(c *Config) *string { return &c.Volumes.Backups }),
	sizeField("mqtt-data-size", "size of Mosquitto's data volume",
		func(c *Config) *string { return &c.Volumes.MQTTData }),
	sizeField("nodered-data-size", "size of Node-RED's data volume",
		func(c *Config) *string { return &c.Volumes.NodeRED }),
	sizeField("esphome-data-size", "size of ESPHome's volume (firmware builds need room)",
		func(c *Config) *string { return &c.Volumes.ESPHome }),
	sizeField("zigbee2mqtt-data-size", "size of Zigbee2MQTT's data volume",
		func(c *Config) *string { return &c.Volumes.Zigbee2MQTT }),
	sizeField("postgresql-data-size", "size of PostgreSQL's data volume",
		func(c *Config) *string { return &c.Volumes.PostgreSQL }),
	stringField("zigbee-device", "Zigbee coordinator: /dev/serial/by-id/… path, or tcp://host:port", nil,
		func(c *Config) *string { return &c.ZigbeeDevice }),
	stringField("zigbee-adapter", "Zigbee2MQTT adapter type of the coordinator", zigbeeAdapters,
		func(c *Config) *string { return &c.ZigbeeAdapter }),
	intField("zigbee-baudrate", "serial speed of the coordinator (0: the adapter's default)",
		func(c *Config) *int { return &c.ZigbeeBaudrate }),
	boolField("zigbee-rtscts", "hardware flow control on the coordinator's serial port",
		func(c *Config) *bool { return &c.ZigbeeRTSCTS }),
	boolField("host-network", "run Home Assistant on the host network (mDNS/SSDP discovery)",
		func(c *Config) *bool { return &c.HostNetwork }),
	boolField("mqtt-websockets", "open Mosquitto's websockets listener (9001) to the cluster",
		func(c *Config) *bool { return &c.MQTTWebsockets }),
	typedField("mqtt-expose", "open the broker to LAN devices on 1883 and TLS 8883", []MQTTExpose{MQTTExposeOff, MQTTExposeNodePort, MQTTExposeLoadBalancer},
		func(c *Config) *MQTTExpose { return &c.MQTTExpose }),
	intField("mqtt-node-port", "NodePort for MQTT with mqtt-expose: NodePort (30000-32767)",
		func(c *Config) *int { return &c.MQTTNodePort }),
	intField("mqtt-tls-node-port", "NodePort for MQTT over TLS with mqtt-expose: NodePort (30000-32767)",
		func(c *Config) *int { return &c.MQTTTLSNodePort }),
	{key: "mqtt-tls-hosts", kind: kindList,
		usage: "extra host names and addresses in the broker's TLS certificate (the node's own are added)",
		get:   func(c *Config) any { return slices.Clone(c.MQTTTLSHosts) },
		set: func(c *Config, v any) {
			c.MQTTTLSHosts = nil
			if l := v.([]string); len(l) > 0 {
				c.MQTTTLSHosts = slices.Clone(l)
			}
		}},
	intField("nodered-node-port", "NodePort of Node-RED's editor on the LAN, behind its admin login (0: not on the LAN)",
		func(c *Config) *int { return &c.NodeREDNodePort }),
	intField("esphome-node-port", "NodePort of ESPHome's dashboard on the LAN, behind its login (0: not on the LAN)",
		func(c *Config) *int { return &c.ESPHomeNodePort }),
	intField("zigbee2mqtt-node-port", "NodePort of Zigbee2MQTT's frontend on the LAN, behind its token (0: not on the LAN)",
		func(c *Config) *int { return &c.Zigbee2MQTTNodePort }),
	boolField("dashboards-ingress", "publish the dashboards on sub-hosts of ingress-host (nodered.HOST, esphome.HOST, zigbee2mqtt.HOST), behind the same TLS",
		func(c *Config) *bool { return &c.DashboardsIngress }),
	stringField("node-name", "pin the pods to this node (the one with the radio)", nil,
		func(c *Config) *string { return &c.NodeName }),
	stringField("timezone", "IANA time zone, e.g. Europe/Berlin", nil,
		func(c *Config) *string { return &c.Timezone }),
	stringField("pod-cidr", "cluster pod CIDR, trusted as proxy by Home Assistant", nil,
		func(c *Config) *string { return &c.PodCIDR }),
	stringField("backup-schedule", "cron schedule of the backup job", nil,
		func(c *Config) *string { return &c.BackupSchedule }),
	intField("backup-retention-days", "days a backup is kept (1-3650)",
		func(c *Config) *int { return &c.BackupRetentionDays }),
	{key: "monitoring", kind: kindAutoBool, allowed: strs([]Monitoring{MonitoringAuto, MonitoringOn, MonitoringOff}),
		usage: "render a Prometheus ServiceMonitor (auto: when the CRD exists)",
		get:   func(c *Config) any { return string(c.Monitoring) },
		set:   func(c *Config, v any) { c.Monitoring = Monitoring(v.(string)) }},
	typedField("resource-size", "requests and limits for the board", []ResourceSize{SizeSmall, SizeMedium, SizeLarge},
		func(c *Config) *ResourceSize { return &c.ResourceSize }),
	boolField("install-k3s", "install k3s (the pinned release, over https) when it is missing",
		func(c *Config) *bool { return &c.InstallK3s }),
	typedField("arch", "CPU architecture of the node: picks images that run on it (detected)", []Arch{ArchAMD64, ArchARM64, ArchARM},
		func(c *Config) *Arch { return &c.Arch }),

	// Day two: backups and monitoring.
	stringField("backup-copy-dir", "host directory (a USB disk or NFS mount) every backup is also copied to", nil,
		func(c *Config) *string { return &c.BackupCopyDir }),
	{key: "monitoring-labels", kind: kindList,
		usage: "labels (key=value) on the ServiceMonitor, so a Prometheus operator's selector picks it up",
		get:   func(c *Config) any { return slices.Clone(c.MonitoringLabels) },
		set: func(c *Config, v any) {
			c.MonitoringLabels = nil // an empty list is the default: no labels
			if l := v.([]string); len(l) > 0 {
				c.MonitoringLabels = slices.Clone(l)
			}
		}},
}

// zigbeeAdapters are the Zigbee2MQTT 2.x adapter types ("auto" is gone in 2.x).
var zigbeeAdapters = []string{"zstack", "ember", "deconz", "zigate", "zboss", "ezsp"}

func fieldByKey(key string) *field {
	for _, f := range fields {
		if f.key == key {
			return f
		}
	}
	return nil
}

// Keys returns every flags-file key in order.
func Keys() []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.key
	}
	return out
}

func (f *field) describe() string {
	if len(f.allowed) > 0 {
		return fmt.Sprintf("%s (%s)", f.usage, strings.Join(f.allowed, ", "))
	}
	return f.usage
}

// ZigbeeAdapters lists the Zigbee2MQTT 2.x adapter types.
func ZigbeeAdapters() []string { return slices.Clone(zigbeeAdapters) }
