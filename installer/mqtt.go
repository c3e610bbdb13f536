package installer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// ErrNoSuchDevice says a device account does not exist.
var ErrNoSuchDevice = errors.New("no such mqtt device account")

var deviceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// CheckDeviceName refuses a name that cannot be a device account: it is
// also the device's topic prefix, so it has no MQTT wildcards or slashes.
func CheckDeviceName(name string) error {
	if !deviceNameRE.MatchString(name) {
		return fmt.Errorf("%w: device name %q: use 1-32 characters a-z, 0-9, '-' and '_', starting with a letter or digit (it is also the device's topic prefix)", ErrBadInput, name)
	}
	if slices.Contains(manifests.ReservedDeviceNames, name) {
		return fmt.Errorf("%w: device name %q is taken by the stack or a shared topic tree: choose another, like the device's own name (kitchen-plug)", ErrBadInput, name)
	}
	return nil
}

// AddMQTTDevice adds a device account with a password drawn from r
// (crypto/rand.Reader in production) and returns it: the password is shown
// once, by 'hakube mqtt user add'.
func AddMQTTDevice(sec *manifests.Secrets, name string, r io.Reader) (manifests.MQTTUser, error) {
	if err := CheckDeviceName(name); err != nil {
		return manifests.MQTTUser{}, err
	}
	if slices.ContainsFunc(sec.MQTTDevices, func(u manifests.MQTTUser) bool { return u.Username == name }) {
		return manifests.MQTTUser{}, fmt.Errorf("%w: device account %q exists: remove it first ('hakube mqtt user remove %s') to give it a new password", ErrBadInput, name, name)
	}
	pw, err := randomString(r, 24)
	if err != nil {
		return manifests.MQTTUser{}, fmt.Errorf("generate a password: %w", err)
	}
	u := manifests.MQTTUser{Username: name, Password: pw, Salt: make([]byte, 12)}
	if _, err := io.ReadFull(r, u.Salt); err != nil {
		return manifests.MQTTUser{}, fmt.Errorf("generate a salt: %w", err)
	}
	sec.MQTTDevices = append(sec.MQTTDevices, u)
	sort.Slice(sec.MQTTDevices, func(i, j int) bool { return sec.MQTTDevices[i].Username < sec.MQTTDevices[j].Username })
	return u, nil
}

// RemoveMQTTDevice removes a device account; the broker refuses it once
// the mqtt file is applied.
func RemoveMQTTDevice(sec *manifests.Secrets, name string) error {
	n := len(sec.MQTTDevices)
	sec.MQTTDevices = slices.DeleteFunc(sec.MQTTDevices, func(u manifests.MQTTUser) bool { return u.Username == name })
	if len(sec.MQTTDevices) == n {
		return fmt.Errorf("%w %q: 'hakube mqtt user list' shows the accounts", ErrNoSuchDevice, name)
	}
	if len(sec.MQTTDevices) == 0 {
		sec.MQTTDevices = nil
	}
	return nil
}

// MQTTDeviceNames lists the device accounts.
func MQTTDeviceNames(sec manifests.Secrets) []string {
	out := []string{}
	for _, u := range sec.MQTTDevices {
		out = append(out, u.Username)
	}
	return out
}

// How long hakube's own certificates are valid. The CA is made once and
// never rotated (every device trusts it); the server certificate is made
// again, by the same CA, whenever the node's names change or it nears its
// end.
const (
	caValidity      = 30 * 365 * 24 * time.Hour
	serverValidity  = 825 * 24 * time.Hour
	serverRenewedAt = 60 * 24 * time.Hour
)

// MQTTTLSHosts are the names and addresses the broker's certificate is for:
// mqtt-tls-hosts, the node's host name (and .local), its addresses, and the
// broker's Services inside the cluster.
func MQTTTLSHosts(cfg *config.Config) []string {
	hosts := slices.Clone(cfg.MQTTTLSHosts)
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
		if !strings.Contains(h, ".") {
			hosts = append(hosts, h+".local")
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				hosts = append(hosts, n.IP.String())
			}
		}
	}
	hosts = append(hosts, "home-assistant-mqtt."+cfg.Namespace+".svc", "home-assistant-mqtt-lan."+cfg.Namespace+".svc")
	sort.Strings(hosts)
	return slices.Compact(hosts)
}

// EnsureMQTTTLS makes hakube's CA when there is none, and a server
// certificate signed by it when there is none, when the one there lacks one
// of hosts, or when it ends within 60 days. It reports whether t changed
// (and must be saved).
func EnsureMQTTTLS(t *manifests.MQTTTLS, hosts []string, now time.Time, r io.Reader) (bool, error) {
	changed := false
	if t.CACert == "" || t.CAKey == "" {
		if t.CACert != "" || t.ServerCert != "" {
			return false, fmt.Errorf("the MQTT CA's key is missing from %s: devices trust that CA, so hakube will not make another; restore the file from a backup", SecretsFile)
		}
		cert, key, err := newCA(now, r)
		if err != nil {
			return false, err
		}
		t.CACert, t.CAKey, changed = cert, key, true
	}
	ca, caKey, err := parsePair(t.CACert, t.CAKey)
	if err != nil {
		return false, fmt.Errorf("the MQTT CA in %s: %w", SecretsFile, err)
	}
	if serverCovers(t.ServerCert, ca, hosts, now) {
		return changed, nil
	}
	cert, key, err := newServerCert(ca, caKey, hosts, now, r)
	if err != nil {
		return false, err
	}
	t.ServerCert, t.ServerKey = cert, key
	return true, nil
}

func serialNumber(r io.Reader) (*big.Int, error) {
	n, err := rand.Int(r, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate a serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func newCA(now time.Time, r io.Reader) (string, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), r)
	if err != nil {
		return "", "", fmt.Errorf("generate the MQTT CA key: %w", err)
	}
	sn, err := serialNumber(r)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "hakube MQTT CA " + sn.Text(16)[:8], Organization: []string{"hakube"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(r, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", fmt.Errorf("make the MQTT CA: %w", err)
	}
	return encodePair(der, key)
}

func newServerCert(ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, now time.Time, r io.Reader) (string, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), r)
	if err != nil {
		return "", "", fmt.Errorf("generate the broker's key: %w", err)
	}
	sn, err := serialNumber(r)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: "hakube MQTT broker", Organization: []string{"hakube"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(serverValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(r, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", fmt.Errorf("make the broker's certificate: %w", err)
	}
	return encodePair(der, key)
}

func encodePair(der []byte, key *ecdsa.PrivateKey) (string, string, error) {
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("encode key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})), nil
}

func parseCert(p string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

func parsePair(certPEM, keyPEM string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, nil, err
	}
	b, _ := pem.Decode([]byte(keyPEM))
	if b == nil {
		return nil, nil, errors.New("the key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("the key: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || !ek.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("the key does not match the certificate")
	}
	return cert, ek, nil
}

// serverCovers reports whether certPEM is signed by ca, valid for 60 more
// days, and names every host.
func serverCovers(certPEM string, ca *x509.Certificate, hosts []string, now time.Time) bool {
	if certPEM == "" {
		return false
	}
	cert, err := parseCert(certPEM)
	if err != nil || cert.CheckSignatureFrom(ca) != nil || now.Add(serverRenewedAt).After(cert.NotAfter) {
		return false
	}
	for _, h := range hosts {
		if cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// MQTTCA returns hakube's MQTT CA certificate (PEM), what devices are given
// to verify the broker; "" when the broker's certificate comes from
// cert-manager or TLS was never set up.
func MQTTCA(cfg *config.Config, sec manifests.Secrets) string {
	if cfg.ClusterIssuer != "" {
		return ""
	}
	return sec.MQTTTLS.CACert
}
