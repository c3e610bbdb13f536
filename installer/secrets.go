package installer

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/hakube/hakube/manifests"
)

const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// randomString returns n characters from an unambiguous alphabet, drawn
// without modulo bias.
func randomString(r io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 1)
	limit := 256 - 256%len(alphabet)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		if int(buf[0]) >= limit {
			continue
		}
		out = append(out, alphabet[int(buf[0])%len(alphabet)])
	}
	return string(out), nil
}

// GenerateSecrets makes every credential the stack can need, from r
// (crypto/rand.Reader in production).
func GenerateSecrets(r io.Reader) (manifests.Secrets, error) {
	var s manifests.Secrets
	var err error
	str := func(n int) string {
		if err != nil {
			return ""
		}
		var v string
		v, err = randomString(r, n)
		return v
	}
	user := func(name string) manifests.MQTTUser {
		u := manifests.MQTTUser{Username: name, Password: str(32), Salt: make([]byte, 12)}
		if err == nil {
			_, err = io.ReadFull(r, u.Salt)
		}
		return u
	}
	s.MQTTHomeAssistant = user("homeassistant")
	s.MQTTZigbee2MQTT = user("zigbee2mqtt")
	s.MQTTNodeRED = user("nodered")
	s.PostgreSQLPassword = str(32)
	s.NodeREDPassword = str(20)
	s.NodeREDCredentialSecret = str(40)
	s.ESPHomePassword = str(20)
	s.Zigbee2MQTTAuthToken = str(32)
	s.ChecksumKey = str(40)
	if err == nil {
		_, err = io.ReadFull(r, s.ZigbeeNetworkKey[:])
	}
	if err == nil {
		_, err = io.ReadFull(r, s.ZigbeeExtPanID[:])
	}
	if err == nil {
		var b [2]byte
		_, err = io.ReadFull(r, b[:])
		// Valid PAN IDs are 0x0001-0x3FFE; 0x0000 and 0xFFFF are reserved.
		s.ZigbeePanID = 1 + binary.BigEndian.Uint16(b[:])%0x3FFE
	}
	if err != nil {
		return manifests.Secrets{}, fmt.Errorf("generate secrets: %w", err)
	}
	return s, nil
}
