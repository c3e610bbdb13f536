package manifests

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MQTTUser is one broker account with the salt of its password hash.
type MQTTUser struct {
	Username string
	Password string
	Salt     []byte // 12 random bytes, kept with the password so the file is stable
}

// Secrets are every generated credential. They come in from the installer
// (generated once with crypto/rand and kept forever); Render never makes any.
// They appear only in Secret objects.
type Secrets struct {
	// MQTT accounts: Home Assistant, Zigbee2MQTT and Node-RED each have one.
	MQTTHomeAssistant MQTTUser
	MQTTZigbee2MQTT   MQTTUser
	MQTTNodeRED       MQTTUser
	// MQTTDevices are the accounts of LAN devices ('hakube mqtt user add'),
	// sorted by name. Each may use only its own topics (see mosquittoACL).
	MQTTDevices []MQTTUser `json:",omitempty"`
	// MQTTTLS is the broker's certificate when no cluster issuer signs it.
	MQTTTLS MQTTTLS

	PostgreSQLPassword string

	NodeREDPassword         string // admin login, user "admin"
	NodeREDCredentialSecret string // encrypts flow credentials

	ESPHomePassword string // dashboard login, user "admin"

	Zigbee2MQTTAuthToken string   // frontend login
	ZigbeeNetworkKey     [16]byte // never changes after the network is formed
	ZigbeePanID          uint16
	ZigbeeExtPanID       [8]byte

	// DatabaseURL is the recorder URL for database: external, read from
	// database-url-file.
	DatabaseURL string

	// ChecksumKey keys the config-checksum annotations (HMAC-SHA256), so a
	// checksum reveals nothing about the secrets it covers. Generated once
	// like every other secret; when empty (credentials kept from before it
	// existed) a key is derived from all the other secrets.
	ChecksumKey string
}

// MQTTTLS is the broker's own certificate authority, made once and never
// rotated (devices trust it), and the server certificate it signed for the
// node's names and addresses, all PEM.
type MQTTTLS struct {
	CACert, CAKey         string `json:",omitempty"`
	ServerCert, ServerKey string `json:",omitempty"`
}

// checksumKey is ChecksumKey, or one derived from every other secret.
func (s *Secrets) checksumKey() []byte {
	if s.ChecksumKey != "" {
		return []byte(s.ChecksumKey)
	}
	h := sha256.New()
	io.WriteString(h, "hakube config-checksum key\x00")
	for _, v := range []string{
		s.MQTTHomeAssistant.Password, s.MQTTZigbee2MQTT.Password, s.MQTTNodeRED.Password,
		s.PostgreSQLPassword, s.NodeREDPassword, s.NodeREDCredentialSecret, s.ESPHomePassword,
		s.Zigbee2MQTTAuthToken, string(s.ZigbeeNetworkKey[:]), s.DatabaseURL,
	} {
		io.WriteString(h, v)
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// check reports missing secrets that cfg needs, without revealing values.
func (s *Secrets) check(needMQTT, needMQTTTLS, needPG, needNodeRED, needESPHome, needZ2M, needExternal bool) error {
	var missing []string
	chk := func(ok bool, name string) {
		if !ok {
			missing = append(missing, name)
		}
	}
	if needMQTT {
		for _, u := range []MQTTUser{s.MQTTHomeAssistant, s.MQTTZigbee2MQTT, s.MQTTNodeRED} {
			chk(u.Username != "" && u.Password != "" && len(u.Salt) >= 8, "mqtt user "+u.Username)
		}
		for _, u := range s.MQTTDevices {
			chk(u.Username != "" && u.Password != "" && len(u.Salt) >= 8, "mqtt device "+u.Username)
		}
	}
	if needMQTTTLS {
		t := s.MQTTTLS
		chk(t.CACert != "" && t.ServerCert != "" && t.ServerKey != "", "mqtt tls certificate")
	}
	if needPG {
		chk(s.PostgreSQLPassword != "", "postgresql password")
	}
	if needNodeRED {
		chk(s.NodeREDPassword != "" && s.NodeREDCredentialSecret != "", "node-red password")
	}
	if needESPHome {
		chk(s.ESPHomePassword != "", "esphome password")
	}
	if needZ2M {
		chk(s.Zigbee2MQTTAuthToken != "", "zigbee2mqtt frontend token")
		chk(s.ZigbeeNetworkKey != [16]byte{}, "zigbee network key")
		chk(s.ZigbeePanID != 0, "zigbee pan id")
	}
	if needExternal {
		chk(s.DatabaseURL != "", "external database url")
	}
	if len(missing) > 0 {
		return errors.New("missing secrets: " + strings.Join(missing, ", "))
	}
	return nil
}

// mosquittoIterations and the key length match mosquitto_passwd's $7$ format.
const mosquittoIterations = 101

// MosquittoHash returns one password-file line for u in Mosquitto 2's $7$
// format: PBKDF2-HMAC-SHA512, 101 iterations, 64-byte key, base64 salt and key.
func MosquittoHash(u MQTTUser) (string, error) {
	key, err := pbkdf2.Key(sha512.New, u.Password, u.Salt, mosquittoIterations, 64)
	if err != nil {
		return "", fmt.Errorf("hash mqtt password: %w", err)
	}
	return fmt.Sprintf("%s:$7$%d$%s$%s", u.Username, mosquittoIterations,
		base64.StdEncoding.EncodeToString(u.Salt), base64.StdEncoding.EncodeToString(key)), nil
}
