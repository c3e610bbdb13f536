package manifests_test

import (
	"testing"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// BenchmarkRender renders the whole edge stack with a radio.
func BenchmarkRender(b *testing.B) {
	cfg := config.Defaults(config.ProfileEdge)
	cfg.Components = append(cfg.Components, config.Zigbee2MQTT)
	cfg.ZigbeeDevice, cfg.ZigbeeAdapter = "/dev/serial/by-id/usb-ITEAD_SONOFF_Zigbee_3.0_USB_Dongle_Plus_V2_1-if00-port0", "ember"
	sec := benchSecrets()
	for b.Loop() {
		if _, err := manifests.Render(&cfg, sec, manifests.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSecrets() manifests.Secrets {
	u := func(n string) manifests.MQTTUser {
		return manifests.MQTTUser{Username: n, Password: "p-" + n + "-0123456789abcdef0123456789", Salt: []byte("0123456789ab")}
	}
	s := manifests.Secrets{MQTTHomeAssistant: u("homeassistant"), MQTTZigbee2MQTT: u("zigbee2mqtt"), MQTTNodeRED: u("nodered"),
		PostgreSQLPassword: "pg", NodeREDPassword: "nr", NodeREDCredentialSecret: "nrc", ESPHomePassword: "es",
		Zigbee2MQTTAuthToken: "tok", ZigbeePanID: 0x1a62}
	s.ZigbeeNetworkKey[0], s.ZigbeeExtPanID[0] = 1, 1
	return s
}
