package manifests

import (
	"fmt"
	"strings"

	"github.com/hakube/hakube/config"
)

// Resources are one container's requests and memory limit. CPU is requested
// but never limited: throttling a home automation hub helps nobody.
type Resources struct {
	CPU, Memory, MemoryLimit string
}

func resourcesFor(size config.ResourceSize) map[string]Resources {
	switch size {
	case config.SizeSmall:
		return map[string]Resources{
			"home-assistant": {"200m", "384Mi", "1Gi"},
			"mosquitto":      {"10m", "16Mi", "64Mi"},
			"nodered":        {"25m", "96Mi", "256Mi"},
			"esphome":        {"50m", "128Mi", "768Mi"},
			"zigbee2mqtt":    {"25m", "96Mi", "256Mi"},
			"postgresql":     {"50m", "128Mi", "384Mi"},
			"helper":         {"10m", "16Mi", "128Mi"},
		}
	case config.SizeLarge:
		return map[string]Resources{
			"home-assistant": {"1", "1Gi", "4Gi"},
			"mosquitto":      {"50m", "32Mi", "256Mi"},
			"nodered":        {"100m", "192Mi", "1Gi"},
			"esphome":        {"250m", "512Mi", "2Gi"},
			"zigbee2mqtt":    {"100m", "192Mi", "512Mi"},
			"postgresql":     {"250m", "512Mi", "2Gi"},
			"helper":         {"10m", "32Mi", "256Mi"},
		}
	}
	return map[string]Resources{
		"home-assistant": {"500m", "512Mi", "2Gi"},
		"mosquitto":      {"25m", "24Mi", "128Mi"},
		"nodered":        {"50m", "128Mi", "512Mi"},
		"esphome":        {"100m", "256Mi", "1536Mi"},
		"zigbee2mqtt":    {"50m", "128Mi", "384Mi"},
		"postgresql":     {"100m", "256Mi", "1Gi"},
		"helper":         {"10m", "16Mi", "128Mi"},
	}
}

// mosquittoConf is Mosquitto 2's configuration: no anonymous clients on any
// listener, one password file, one ACL file, persistence on the data volume.
// The websockets listener is there only when asked for (mqtt-websockets);
// the TLS listener (8883) only when the broker is open to the LAN.
func mosquittoConf(websockets, tls bool) string {
	conf := `# hakube: managed file, rewritten on every install.
per_listener_settings false
allow_anonymous false
password_file /mosquitto/config/passwd
acl_file /mosquitto/config/acl
persistence true
persistence_location /mosquitto/data/
log_dest stdout
log_type error
log_type warning
log_type notice
log_type information
listener 1883
protocol mqtt
`
	if websockets {
		conf += "listener 9001\nprotocol websockets\n"
	}
	if tls {
		conf += "listener 8883\nprotocol mqtt\ncertfile /mosquitto/tls/tls.crt\nkeyfile /mosquitto/tls/tls.key\ntls_version tlsv1.2\n"
	}
	return conf
}

// z2mDangerous are Zigbee2MQTT's bridge requests that save JavaScript it
// then runs (extension, converter) or change its settings (options, which
// could turn external JavaScript back on). Only its own account may publish
// them; Mosquitto handles "deny" lines before any grant.
var z2mDangerous = []string{
	"zigbee2mqtt/bridge/request/extension/#",
	"zigbee2mqtt/bridge/request/converter/#",
	"zigbee2mqtt/bridge/request/options",
	"zigbee2mqtt/bridge/request/options/#",
}

// mosquittoACL is the broker's acl_file: one rule set per account, nothing
// for anonymous clients (there are none: allow_anonymous false).
//
//   - Zigbee2MQTT: its own tree and Home Assistant discovery, nothing else.
//   - Home Assistant: every topic (it is the hub: devices and Node-RED talk
//     to it through the broker), but never Zigbee2MQTT's JavaScript and
//     settings requests. permit_join, renames and OTA requests stay open.
//   - Node-RED: the same as Home Assistant (flows bridge devices and Home
//     Assistant), under its own account, so it can be narrowed on its own.
func mosquittoACL(s *Secrets) string {
	var b strings.Builder
	b.WriteString("# hakube: managed file, rewritten on every install. One rule set per account;\n")
	b.WriteString("# \"deny\" lines are handled before any grant.\n")
	fmt.Fprintf(&b, "\nuser %s\n", s.MQTTZigbee2MQTT.Username)
	b.WriteString("topic readwrite zigbee2mqtt/#\ntopic readwrite homeassistant/#\n")
	fmt.Fprintf(&b, "\nuser %s\n", s.MQTTHomeAssistant.Username)
	for _, t := range z2mDangerous {
		fmt.Fprintf(&b, "topic deny %s\n", t)
	}
	b.WriteString("topic readwrite #\n")
	fmt.Fprintf(&b, "\nuser %s\n", s.MQTTNodeRED.Username)
	for _, t := range z2mDangerous {
		fmt.Fprintf(&b, "topic deny %s\n", t)
	}
	b.WriteString("topic readwrite #\n")
	for _, d := range s.MQTTDevices {
		b.WriteString(deviceACL(d.Username))
	}
	return b.String()
}

// ReservedDeviceNames are the names a device account may not take: the
// stack's own accounts and the topic trees devices share.
var ReservedDeviceNames = []string{"homeassistant", "zigbee2mqtt", "nodered", "tasmota", "shellies", "cmnd", "stat", "tele", "admin", "hakube"}

// deviceACL is a LAN device's rule set: its own tree (NAME/#, which is
// also a Shelly Gen2's and an ESPHome MQTT client's prefix when the device
// is named NAME), Tasmota's cmnd/stat/tele trees for the topic NAME, a
// Shelly Gen1's shellies/NAME tree, Home Assistant discovery for its own
// node id (homeassistant/COMPONENT/NAME/...), Tasmota's discovery, and
// Home Assistant's birth message. Never Zigbee2MQTT's tree, never another
// device's topics, never what Home Assistant publishes to its own.
func deviceACL(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nuser %s\n", name)
	b.WriteString("topic deny zigbee2mqtt/#\n")
	for _, t := range []string{"%s/#", "cmnd/%s/#", "stat/%s/#", "tele/%s/#", "shellies/%s/#"} {
		fmt.Fprintf(&b, "topic readwrite "+t+"\n", name)
	}
	fmt.Fprintf(&b, "topic write homeassistant/+/%s/#\n", name)
	b.WriteString("topic write tasmota/discovery/#\n")
	b.WriteString("topic read homeassistant/status\n")
	return b.String()
}

// zigbee2mqttConfig is the initial configuration.yaml for Zigbee2MQTT 2.x.
// Zigbee2MQTT rewrites this file itself, so the pod copies it only when none
// exists; the settings hakube owns are forced by ZIGBEE2MQTT_CONFIG_*
// variables on every start. Secrets live in secret.yaml.
func zigbee2mqttConfig(c *config.Config, s *Secrets, mqttURL string) string {
	var b strings.Builder
	b.WriteString("# hakube: initial Zigbee2MQTT configuration, written once; Zigbee2MQTT keeps it up to date.\n")
	b.WriteString("version: 5\n")
	b.WriteString("homeassistant:\n  enabled: true\n")
	b.WriteString("mqtt:\n  base_topic: zigbee2mqtt\n")
	fmt.Fprintf(&b, "  server: %s\n  user: %s\n  password: '!secret.yaml mqtt_password'\n", mqttURL, yamlString(s.MQTTZigbee2MQTT.Username))
	fmt.Fprintf(&b, "serial:\n  port: %s\n  adapter: %s\n", yamlString(c.ZigbeeDevice), c.ZigbeeAdapter)
	if c.ZigbeeBaudrate != 0 {
		fmt.Fprintf(&b, "  baudrate: %d\n", c.ZigbeeBaudrate)
	}
	fmt.Fprintf(&b, "  rtscts: %t\n", c.ZigbeeRTSCTS)
	b.WriteString("frontend:\n  enabled: true\n  port: 8080\n  auth_token: '!secret.yaml auth_token'\n")
	b.WriteString("advanced:\n  network_key: '!secret.yaml network_key'\n")
	fmt.Fprintf(&b, "  pan_id: %d\n  ext_pan_id: %s\n", s.ZigbeePanID, byteList(s.ZigbeeExtPanID[:]))
	b.WriteString("  log_output:\n    - console\n")
	// Zigbee2MQTT 2.14.1 runs user JavaScript (extensions, converters) unless
	// this is false: an absent key takes the default true
	// (dist/util/settings.js: defaults.advanced.enable_external_js: true;
	// dist/controller.js loads ExternalConverters and ExternalExtensions
	// when it is true). The pod's environment forces it too.
	b.WriteString("  enable_external_js: false\n")
	return b.String()
}

func zigbee2mqttSecret(s *Secrets) string {
	var b strings.Builder
	b.WriteString("# hakube: managed file, rewritten on every start.\n")
	fmt.Fprintf(&b, "mqtt_password: %s\n", yamlString(s.MQTTZigbee2MQTT.Password))
	fmt.Fprintf(&b, "auth_token: %s\n", yamlString(s.Zigbee2MQTTAuthToken))
	fmt.Fprintf(&b, "network_key: %s\n", byteList(s.ZigbeeNetworkKey[:]))
	return b.String()
}

// byteList writes bytes as a YAML flow list of numbers, as Zigbee2MQTT wants.
func byteList(bs []byte) string {
	parts := make([]string, len(bs))
	for i, x := range bs {
		parts[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// haPackage is the Home Assistant package hakube owns: rewritten on every
// start, included from configuration.yaml, never merged into the user's file.
func haPackage(c *config.Config, monitoring bool) string {
	var b strings.Builder
	b.WriteString("# hakube: managed file, rewritten on every start of Home Assistant.\n")
	b.WriteString("# Put your own settings in configuration.yaml, not here.\n")
	if c.IngressHost != "" {
		// Only the ingress controller proxies, and it runs in the pod CIDR.
		// Without an Ingress nothing proxies: NodePort and LoadBalancer
		// traffic keeps the client's address (externalTrafficPolicy: Local),
		// so no address is trusted to speak for another.
		b.WriteString("http:\n  use_x_forwarded_for: true\n  trusted_proxies:\n")
		fmt.Fprintf(&b, "    - %s\n", c.PodCIDR)
	} else {
		b.WriteString("http:\n  use_x_forwarded_for: false\n")
	}
	if c.Database != config.DatabaseSQLite {
		b.WriteString("recorder:\n  db_url: !secret recorder_db_url\n  db_max_retries: 30\n  db_retry_wait: 10\n")
	}
	if monitoring {
		b.WriteString("prometheus:\n  namespace: hass\n")
	}
	return b.String()
}

// postgresInitSQL runs once, when PostgreSQL initialises an empty volume, as
// the homeassistant owner the image creates from POSTGRES_USER.
const postgresInitSQL = `-- hakube: runs once, when the data volume is first initialised.
-- The homeassistant role and database are created by the image from
-- POSTGRES_USER/POSTGRES_DB; its password comes from a Secret, never from here.
REVOKE ALL ON DATABASE homeassistant FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE homeassistant TO homeassistant;
ALTER DATABASE homeassistant SET timezone TO 'UTC';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT ALL ON SCHEMA public TO homeassistant;
`

// nodeREDSettings turns on the admin login. The user name and password come
// from the environment (a Secret), compared in constant time; Node-RED
// refuses to start without them rather than run open.
const nodeREDSettings = `// hakube: managed file, rewritten on every install.
const crypto = require("crypto");

const adminUser = process.env.NODE_RED_ADMIN_USER || "admin";
const adminPassword = process.env.NODE_RED_ADMIN_PASSWORD || "";
if (adminPassword.length < 12) {
    throw new Error("NODE_RED_ADMIN_PASSWORD is missing or too short: refusing to start without an admin login");
}

function same(a, b) {
    const x = crypto.createHash("sha256").update(String(a)).digest();
    const y = crypto.createHash("sha256").update(String(b)).digest();
    return crypto.timingSafeEqual(x, y);
}

module.exports = {
    uiPort: process.env.PORT || 1880,
    uiHost: process.env.NODE_RED_UI_HOST || "0.0.0.0",
    flowFile: "flows.json",
    credentialSecret: process.env.NODE_RED_CREDENTIAL_SECRET,
    adminAuth: {
        type: "credentials",
        users: function (username) {
            return Promise.resolve(same(username, adminUser) ? { username: adminUser, permissions: "*" } : null);
        },
        authenticate: function (username, password) {
            const ok = same(username, adminUser) & same(password, adminPassword);
            return Promise.resolve(ok ? { username: adminUser, permissions: "*" } : null);
        },
    },
    diagnostics: { enabled: false, ui: false },
    telemetry: { enabled: false },
    externalModules: { autoInstall: false },
    editorTheme: { projects: { enabled: false } },
    logging: { console: { level: "info", metrics: false, audit: false } },
};
`
