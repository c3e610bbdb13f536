// Package config holds hakube's one typed configuration: everything a user can
// choose, loaded as defaults < flags file < HAKUBE_* environment < command-line
// flags, and validated with every problem reported at once.
//
// The flags file is YAML whose keys are the long flag names, as k3s's own
// config.yaml. Decoding is strict: an unknown key, a wrong type, a bad value or
// an impossible combination is an error that names the file, the line and the
// key, and says what is allowed.
package config

import (
	"slices"
	"strings"
)

// Profile is one of the four deployment options of the architecture.
type Profile string

// The deployment profiles.
const (
	ProfileBasic      Profile = "basic"
	ProfileProduction Profile = "production"
	ProfileEdge       Profile = "edge"
	ProfileExternalDB Profile = "external-db"
)

// profiles lists every profile, default first.
var profiles = []Profile{ProfileEdge, ProfileBasic, ProfileProduction, ProfileExternalDB}

// Component is an optional sidecar next to Home Assistant.
type Component string

// The optional components. Home Assistant itself is always installed.
const (
	MQTT        Component = "mqtt"
	NodeRED     Component = "nodered"
	ESPHome     Component = "esphome"
	Zigbee2MQTT Component = "zigbee2mqtt"
)

// components lists every optional component in rendering order.
var components = []Component{MQTT, NodeRED, ESPHome, Zigbee2MQTT}

// Database is where Home Assistant's recorder keeps history.
type Database string

// The recorder databases.
const (
	DatabaseSQLite     Database = "sqlite"
	DatabasePostgreSQL Database = "postgresql"
	DatabaseExternal   Database = "external"
)

// ServiceType is how Home Assistant is reached from outside the pod network.
type ServiceType string

// The Service types for Home Assistant.
const (
	NodePort     ServiceType = "NodePort"
	LoadBalancer ServiceType = "LoadBalancer"
	ClusterIP    ServiceType = "ClusterIP"
)

// MQTTExpose is how LAN devices reach the broker.
type MQTTExpose string

// The broker's exposures: off (cluster only), a NodePort, or k3s's
// ServiceLB on the node's own 1883 and 8883.
const (
	MQTTExposeOff          MQTTExpose = "off"
	MQTTExposeNodePort     MQTTExpose = "NodePort"
	MQTTExposeLoadBalancer MQTTExpose = "LoadBalancer"
)

// MQTTExposed reports whether the broker is reachable from the LAN.
func (c *Config) MQTTExposed() bool {
	return c.Has(MQTT) && c.MQTTExpose != "" && c.MQTTExpose != MQTTExposeOff
}

// DashboardPort is the node port of a component's dashboard, 0 when it is
// not on the LAN (or the component is not installed).
func (c *Config) DashboardPort(comp Component) int {
	if !c.Has(comp) {
		return 0
	}
	switch comp {
	case NodeRED:
		return c.NodeREDNodePort
	case ESPHome:
		return c.ESPHomeNodePort
	case Zigbee2MQTT:
		return c.Zigbee2MQTTNodePort
	}
	return 0
}

// DashboardHost is the Ingress host of a component's dashboard, "" when it
// is not behind the Ingress. A wildcard ingress-host (*.example.com) gives
// nodered.example.com; any other gives nodered.<ingress-host>.
func (c *Config) DashboardHost(comp Component) string {
	if !c.DashboardsIngress || c.IngressHost == "" || !c.Has(comp) {
		return ""
	}
	switch comp {
	case NodeRED, ESPHome, Zigbee2MQTT:
		return string(comp) + "." + strings.TrimPrefix(c.IngressHost, "*.")
	}
	return ""
}

// Monitoring says whether a ServiceMonitor is rendered.
type Monitoring string

// The monitoring choices: auto renders a ServiceMonitor only where the
// Prometheus operator's CRD exists.
const (
	MonitoringAuto Monitoring = "auto"
	MonitoringOn   Monitoring = "true"
	MonitoringOff  Monitoring = "false"
)

// ResourceSize scales requests and limits to the board.
type ResourceSize string

// The resource sizes: small for boards under 2 GiB, medium for 2–8 GiB,
// large above.
const (
	SizeSmall  ResourceSize = "small"
	SizeMedium ResourceSize = "medium"
	SizeLarge  ResourceSize = "large"
)

// Volumes holds the requested size of every persistent volume claim.
// Sizes are fixed at install time: a claim never changes afterwards.
type Volumes struct {
	Config      string `json:"config-size"`
	Media       string `json:"media-size"`
	Share       string `json:"share-size"`
	Backups     string `json:"backups-size"`
	MQTTData    string `json:"mqtt-data-size"`
	NodeRED     string `json:"nodered-data-size"`
	ESPHome     string `json:"esphome-data-size"`
	Zigbee2MQTT string `json:"zigbee2mqtt-data-size"`
	PostgreSQL  string `json:"postgresql-data-size"`
}

// Config is everything a user can choose. The zero value is not valid: start
// from Defaults or Load.
type Config struct {
	Profile         Profile     `json:"profile"`
	Namespace       string      `json:"namespace"`
	Components      []Component `json:"components"`
	Database        Database    `json:"database"`
	DatabaseURLFile string      `json:"database-url-file,omitempty"`
	ServiceType     ServiceType `json:"service-type"`
	NodePort        int         `json:"node-port"`
	IngressHost     string      `json:"ingress-host,omitempty"`
	IngressTLS      bool        `json:"ingress-tls"`
	ClusterIssuer   string      `json:"cluster-issuer,omitempty"`
	StorageClass    string      `json:"storage-class"`
	Volumes         Volumes     `json:",inline"`
	ZigbeeDevice    string      `json:"zigbee-device,omitempty"`
	ZigbeeAdapter   string      `json:"zigbee-adapter,omitempty"`
	ZigbeeBaudrate  int         `json:"zigbee-baudrate,omitempty"`
	ZigbeeRTSCTS    bool        `json:"zigbee-rtscts"`
	HostNetwork     bool        `json:"host-network"`
	MQTTWebsockets  bool        `json:"mqtt-websockets"`
	// MQTTExpose opens the broker to LAN devices (1883, and TLS on 8883).
	MQTTExpose MQTTExpose `json:"mqtt-expose"`
	// MQTTNodePort and MQTTTLSNodePort are the node ports with
	// mqtt-expose: NodePort.
	MQTTNodePort    int `json:"mqtt-node-port"`
	MQTTTLSNodePort int `json:"mqtt-tls-node-port"`
	// MQTTTLSHosts are extra names and addresses the broker's TLS
	// certificate is valid for (the node's own are found at install).
	MQTTTLSHosts []string `json:"mqtt-tls-hosts,omitempty"`
	// Dashboard node ports: Node-RED's editor, ESPHome's and Zigbee2MQTT's
	// dashboards on the LAN, each behind its own login; 0 keeps one off
	// the LAN.
	NodeREDNodePort     int `json:"nodered-node-port"`
	ESPHomeNodePort     int `json:"esphome-node-port"`
	Zigbee2MQTTNodePort int `json:"zigbee2mqtt-node-port"`
	// DashboardsIngress publishes the dashboards on sub-hosts of
	// ingress-host (nodered.HOST, esphome.HOST, zigbee2mqtt.HOST).
	DashboardsIngress   bool         `json:"dashboards-ingress"`
	NodeName            string       `json:"node-name,omitempty"`
	Timezone            string       `json:"timezone"`
	PodCIDR             string       `json:"pod-cidr"`
	BackupSchedule      string       `json:"backup-schedule"`
	BackupRetentionDays int          `json:"backup-retention-days"`
	Monitoring          Monitoring   `json:"monitoring"`
	ResourceSize        ResourceSize `json:"resource-size"`
	Arch                Arch         `json:"arch"`
	// InstallK3s installs k3s first when it is missing (not a setting of
	// the stack: it changes nothing that is rendered).
	InstallK3s bool `json:"install-k3s"`

	// Day two: backups and monitoring.
	BackupCopyDir    string   `json:"backup-copy-dir,omitempty"`
	MonitoringLabels []string `json:"monitoring-labels,omitempty"`
}

// RetainStorageClass is hakube's own StorageClass, rendered with the
// volumes: k3s's local-path provisioner with reclaimPolicy Retain, so a
// volume's data outlives its claim. New installs use it; an install saved
// with local-path keeps local-path (a claim never changes its class).
const RetainStorageClass = "hakube-local-retain"

// Arch is the node's CPU architecture, as container images name it.
type Arch string

// The supported architectures: arm is 32-bit ARMv7 (Raspberry Pi OS 32-bit).
const (
	ArchAMD64 Arch = "amd64"
	ArchARM64 Arch = "arm64"
	ArchARM   Arch = "arm"
)

// Has reports whether the optional component c is enabled.
func (c *Config) Has(comp Component) bool { return slices.Contains(c.Components, comp) }

// UsesPostgreSQL reports whether a bundled PostgreSQL StatefulSet is rendered.
func (c *Config) UsesPostgreSQL() bool { return c.Database == DatabasePostgreSQL }

// Defaults returns the defaults of a profile, before any user setting.
// An unknown profile gets the edge defaults; Validate reports the profile.
func Defaults(p Profile) Config {
	c := Config{
		Profile:             p,
		Namespace:           "home-assistant",
		Components:          []Component{MQTT, NodeRED, ESPHome},
		Database:            DatabaseSQLite,
		ServiceType:         NodePort,
		NodePort:            30123,
		MQTTExpose:          MQTTExposeOff,
		MQTTNodePort:        31883,
		MQTTTLSNodePort:     31884,
		NodeREDNodePort:     31880,
		ESPHomeNodePort:     31052,
		Zigbee2MQTTNodePort: 31080,
		StorageClass:        RetainStorageClass,
		Timezone:            "UTC",
		PodCIDR:             "10.42.0.0/16",
		BackupSchedule:      "30 3 * * *",
		BackupRetentionDays: 14,
		Monitoring:          MonitoringAuto,
		ResourceSize:        SizeMedium,
		Arch:                ArchAMD64,
		Volumes: Volumes{
			Config:      "10Gi",
			Media:       "20Gi",
			Share:       "5Gi",
			Backups:     "10Gi",
			MQTTData:    "1Gi",
			NodeRED:     "1Gi",
			ESPHome:     "5Gi",
			Zigbee2MQTT: "1Gi",
			PostgreSQL:  "5Gi",
		},
	}
	switch p {
	case ProfileBasic:
		// Nothing on the node's network: no dashboards either.
		c.ServiceType = ClusterIP
		c.NodeREDNodePort, c.ESPHomeNodePort, c.Zigbee2MQTTNodePort = 0, 0, 0
	case ProfileProduction:
		c.Database = DatabasePostgreSQL
		c.ServiceType = LoadBalancer
		c.ResourceSize = SizeLarge
	case ProfileExternalDB:
		c.Database = DatabaseExternal
	}
	return c
}

// Profiles lists every profile, default first.
func Profiles() []Profile { return slices.Clone(profiles) }

// Components lists every optional component in rendering order.
func Components() []Component { return slices.Clone(components) }
