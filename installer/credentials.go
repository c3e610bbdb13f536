package installer

import (
	"fmt"
	"strings"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// Login is one credential and where it is used. It holds secrets: only
// 'hakube credentials' shows it.
type Login struct {
	Component string `json:"component"`
	// Purpose says what the login is for, in the user's words.
	Purpose  string `json:"purpose"`
	Where    string `json:"where,omitempty"` // URL or host:port to type it into
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
	Note     string `json:"note,omitempty"`
}

// Logins lists the credentials of cfg's components, for 'hakube
// credentials'. A component that is not installed has none.
func Logins(cfg *config.Config, sec manifests.Secrets) []Login {
	var out []Login
	broker := fmt.Sprintf("home-assistant-mqtt.%s.svc", cfg.Namespace)
	if cfg.Has(config.MQTT) {
		out = append(out,
			Login{Component: "mqtt", Purpose: "Home Assistant's MQTT integration (Settings → Devices & services → Add integration → MQTT)",
				Where: broker + ":1883", Username: sec.MQTTHomeAssistant.Username, Password: sec.MQTTHomeAssistant.Password,
				Note: "type the broker, port, username and password exactly as shown"},
			Login{Component: "mqtt", Purpose: "Node-RED's MQTT broker node (already set in Node-RED's environment as MQTT_USERNAME/MQTT_PASSWORD)",
				Where: broker + ":1883", Username: sec.MQTTNodeRED.Username, Password: sec.MQTTNodeRED.Password},
			Login{Component: "mqtt", Purpose: "Zigbee2MQTT's broker account (configured by hakube; nothing to type)",
				Where: broker + ":1883", Username: sec.MQTTZigbee2MQTT.Username, Password: sec.MQTTZigbee2MQTT.Password})
		for _, d := range sec.MQTTDevices {
			l := Login{Component: "mqtt", Purpose: "device " + d.Username + ": its MQTT settings (Tasmota: Configuration → MQTT; Shelly: Settings → MQTT)",
				Username: d.Username, Password: d.Password,
				Note: fmt.Sprintf("its topics: %s/#, Tasmota topic %s, shellies/%s/#, discovery homeassistant/+/%s/#", d.Username, d.Username, d.Username, d.Username)}
			if where := MQTTLANAddress(cfg); where != "" {
				l.Where = where
			} else {
				l.Where = broker + ":1883 (in the cluster only: set mqtt-expose to reach it from the LAN)"
			}
			out = append(out, l)
		}
	}
	if cfg.Has(config.NodeRED) {
		out = append(out, Login{Component: "nodered", Purpose: "Node-RED's editor: its login page", Where: dashboardWhere(cfg, config.NodeRED),
			Username: "admin", Password: sec.NodeREDPassword})
	}
	if cfg.Has(config.ESPHome) {
		out = append(out, Login{Component: "esphome", Purpose: "ESPHome's dashboard: its login page", Where: dashboardWhere(cfg, config.ESPHome),
			Username: "admin", Password: sec.ESPHomePassword})
	}
	if cfg.Has(config.Zigbee2MQTT) {
		out = append(out, Login{Component: "zigbee2mqtt", Purpose: "Zigbee2MQTT's frontend (it asks for a token, not a user)",
			Where: dashboardWhere(cfg, config.Zigbee2MQTT), Token: sec.Zigbee2MQTTAuthToken})
	}
	if cfg.UsesPostgreSQL() {
		out = append(out, Login{Component: "postgresql", Purpose: "the recorder database (Home Assistant uses it already)",
			Where:    fmt.Sprintf("home-assistant-postgresql.%s.svc:5432, database homeassistant", cfg.Namespace),
			Username: "homeassistant", Password: sec.PostgreSQLPassword})
	}
	return out
}

// MQTTLANAddress is where LAN devices reach the broker, "" when it is not
// exposed.
func MQTTLANAddress(cfg *config.Config) string {
	if !cfg.MQTTExposed() {
		return ""
	}
	tls := "TLS: the CA from 'hakube mqtt ca'"
	if cfg.ClusterIssuer != "" {
		tls = "TLS: signed by " + cfg.ClusterIssuer
	}
	if cfg.MQTTExpose == config.MQTTExposeNodePort {
		return fmt.Sprintf("NODE-ADDRESS:%d, or NODE-ADDRESS:%d over TLS (%s)", cfg.MQTTNodePort, cfg.MQTTTLSNodePort, tls)
	}
	return fmt.Sprintf("NODE-ADDRESS:1883, or NODE-ADDRESS:8883 over TLS (%s)", tls)
}

// DashboardLogin says which login a dashboard asks for.
func DashboardLogin(comp config.Component) string {
	if comp == config.Zigbee2MQTT {
		return "it asks for the token 'sudo hakube credentials zigbee2mqtt' shows"
	}
	return "its login page takes what 'sudo hakube credentials " + string(comp) + "' shows"
}

// dashboardWhere is where a dashboard's login is typed.
func dashboardWhere(cfg *config.Config, comp config.Component) string {
	for _, d := range manifests.Dashboards() {
		if d.Component != comp {
			continue
		}
		var at []string
		if host := cfg.DashboardHost(comp); host != "" {
			at = append(at, ingressScheme(cfg)+"://"+host)
		}
		if port := cfg.DashboardPort(comp); port != 0 {
			at = append(at, fmt.Sprintf("http://NODE-ADDRESS:%d ('hakube status' shows the address)", port))
		}
		if len(at) > 0 {
			return strings.Join(at, ", or ")
		}
		return fmt.Sprintf("port %d, through 'kubectl port-forward' (not on the LAN: %s-node-port is 0)", d.Port, comp)
	}
	return ""
}
