package installer

import "github.com/hakube/hakube/manifests"

// Placeholder is the password used by PlaceholderSecrets: rendering without
// real secrets shows where they go without revealing any.
const Placeholder = "placeholder-generated-at-install"

// PlaceholderSecrets are obviously fake secrets for rendering to a terminal
// or for review: install generates real ones and keeps them.
func PlaceholderSecrets() manifests.Secrets {
	user := func(name string) manifests.MQTTUser {
		return manifests.MQTTUser{Username: name, Password: Placeholder, Salt: []byte("placeholder!")}
	}
	s := manifests.Secrets{
		MQTTHomeAssistant:       user("homeassistant"),
		MQTTZigbee2MQTT:         user("zigbee2mqtt"),
		MQTTNodeRED:             user("nodered"),
		PostgreSQLPassword:      Placeholder,
		NodeREDPassword:         Placeholder,
		NodeREDCredentialSecret: Placeholder,
		ESPHomePassword:         Placeholder,
		Zigbee2MQTTAuthToken:    Placeholder,
		ZigbeePanID:             0x1a62,
		DatabaseURL:             "postgresql://homeassistant:" + Placeholder + "@database.example:5432/homeassistant",
		MQTTTLS: manifests.MQTTTLS{CACert: Placeholder, CAKey: Placeholder,
			ServerCert: Placeholder, ServerKey: Placeholder},
	}
	for i := range s.ZigbeeNetworkKey {
		s.ZigbeeNetworkKey[i] = byte(i + 1)
	}
	for i := range s.ZigbeeExtPanID {
		s.ZigbeeExtPanID[i] = 0xdd
	}
	return s
}
