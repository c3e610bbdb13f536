package installer_test

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/manifests"
)

func parseTestCert(t *testing.T, p string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(p))
	require.NotNil(t, b)
	c, err := x509.ParseCertificate(b.Bytes)
	require.NoError(t, err)
	return c
}

// TestMQTTTLSCAIsMadeOnce: the CA never changes once made; the server
// certificate is made again only for new names or near its end, always by
// that CA.
func TestMQTTTLSCAIsMadeOnce(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var tls manifests.MQTTTLS
	changed, err := installer.EnsureMQTTTLS(&tls, []string{"pi.lan", "192.168.1.10"}, now, rand.Reader)
	require.NoError(t, err)
	assert.True(t, changed)
	ca, first := tls.CACert, tls.ServerCert
	caCert := parseTestCert(t, ca)
	assert.True(t, caCert.IsCA)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	_, err = parseTestCert(t, first).Verify(x509.VerifyOptions{DNSName: "pi.lan", Roots: pool, CurrentTime: now})
	assert.NoError(t, err)
	_, err = parseTestCert(t, first).Verify(x509.VerifyOptions{DNSName: "192.168.1.10", Roots: pool, CurrentTime: now})
	assert.NoError(t, err)

	changed, err = installer.EnsureMQTTTLS(&tls, []string{"pi.lan", "192.168.1.10"}, now.Add(24*time.Hour), rand.Reader)
	require.NoError(t, err)
	assert.False(t, changed, "nothing to change")
	assert.Equal(t, first, tls.ServerCert)

	changed, err = installer.EnsureMQTTTLS(&tls, []string{"pi.lan", "192.168.1.11"}, now.Add(24*time.Hour), rand.Reader)
	require.NoError(t, err)
	assert.True(t, changed, "a new address needs a new server certificate")
	assert.Equal(t, ca, tls.CACert, "the CA is never rotated")
	second := tls.ServerCert
	_, err = parseTestCert(t, second).Verify(x509.VerifyOptions{DNSName: "192.168.1.11", Roots: pool, CurrentTime: now.Add(24 * time.Hour)})
	assert.NoError(t, err)

	changed, err = installer.EnsureMQTTTLS(&tls, []string{"pi.lan", "192.168.1.11"}, now.Add(800*24*time.Hour), rand.Reader)
	require.NoError(t, err)
	assert.True(t, changed, "a server certificate near its end is made again")
	assert.Equal(t, ca, tls.CACert)
	assert.NotEqual(t, second, tls.ServerCert)

	lost := manifests.MQTTTLS{CACert: tls.CACert, ServerCert: tls.ServerCert, ServerKey: tls.ServerKey}
	_, err = installer.EnsureMQTTTLS(&lost, []string{"pi.lan"}, now, rand.Reader)
	assert.ErrorContains(t, err, "will not make another", "a lost CA key is never replaced silently")
}

func TestMQTTDeviceNames(t *testing.T) {
	var sec manifests.Secrets
	for _, bad := range []string{"", "a/b", "a+", "#", "Kitchen", "homeassistant", "zigbee2mqtt", "tasmota", "-x", "averyveryveryveryveryverylongname1"} {
		_, err := installer.AddMQTTDevice(&sec, bad, rand.Reader)
		assert.ErrorIs(t, err, installer.ErrBadInput, "%q", bad)
	}
	for _, n := range []string{"plug-2", "plug_1", "a"} {
		_, err := installer.AddMQTTDevice(&sec, n, rand.Reader)
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"a", "plug-2", "plug_1"}, installer.MQTTDeviceNames(sec))
	assert.ErrorIs(t, installer.RemoveMQTTDevice(&sec, "nope"), installer.ErrNoSuchDevice)
	require.NoError(t, installer.RemoveMQTTDevice(&sec, "plug-2"))
	assert.Equal(t, []string{"a", "plug_1"}, installer.MQTTDeviceNames(sec))
}
