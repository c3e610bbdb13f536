package installer_test

// Device accounts in the REAL broker: Debian's mosquitto runs the files the
// add and remove paths write (mosquitto.conf, passwd, acl and the TLS
// certificate from the mqtt file), on 127.0.0.1 and free ports.

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/manifests"
)

const mosquittoHint = "apt-get install -y mosquitto mosquitto-clients"

// deviceSetup is an offline install with the broker exposed, and the
// real broker running what it wrote.
type deviceSetup struct {
	cfg      config.Config
	in       *installer.Installer
	dir      string // the broker's files
	port     int    // MQTT
	tlsPort  int    // MQTT over TLS
	cmd      *exec.Cmd
	owner    *syscall.Credential
	caFile   string // what 'hakube mqtt ca' prints
	clientTm time.Duration
}

func findTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if p, err = exec.LookPath("/usr/sbin/" + name); err != nil {
			t.Fatalf("%s is missing: run `%s`", name, mosquittoHint)
		}
	}
	return p
}

func freeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newDeviceSetup(t testing.TB) *deviceSetup {
	t.Helper()
	findTool(t, "mosquitto")
	cfg := config.Defaults(config.ProfileEdge)
	cfg.MQTTExpose, cfg.MQTTTLSHosts = config.MQTTExposeNodePort, []string{"127.0.0.1"}
	require.NoError(t, cfg.Validate())
	s := &deviceSetup{cfg: cfg, dir: t.TempDir(), port: freeTCPPort(t), tlsPort: freeTCPPort(t), clientTm: 10 * time.Second}
	s.in = &installer.Installer{DataDir: t.TempDir(), State: installer.StateDir{Path: filepath.Join(t.TempDir(), "state")}, NoWait: true}
	_, err := s.in.Install(context.Background(), cfg)
	require.NoError(t, err)
	if os.Geteuid() == 0 {
		// The pod runs the broker as a non-root user: so does the test.
		u, err := user.Lookup("mosquitto")
		require.NoError(t, err, "the mosquitto user is missing: run `%s`", mosquittoHint)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.owner = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		require.NoError(t, os.Chmod(filepath.Dir(s.dir), 0o711))
		require.NoError(t, os.Chown(s.dir, uid, gid))
	}
	sec, err := s.in.State.Secrets()
	require.NoError(t, err)
	ca := installer.MQTTCA(&cfg, sec)
	require.Contains(t, ca, "-----BEGIN CERTIFICATE-----")
	s.caFile = filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(s.caFile, []byte(ca), 0o644))
	s.writeFiles(t)
	return s
}

// change adds or removes device accounts through the command's path: the
// kept credentials change, the saved configuration is planned and applied
// again (offline: the files are written).
func (s *deviceSetup) change(t testing.TB, f func(sec *manifests.Secrets)) {
	t.Helper()
	sec, err := s.in.State.Secrets()
	require.NoError(t, err)
	f(&sec)
	p, err := s.in.Plan(context.Background(), s.cfg, installer.PlanOptions{Secrets: &sec})
	require.NoError(t, err)
	_, err = s.in.Apply(context.Background(), p)
	require.NoError(t, err)
}

func (s *deviceSetup) add(t testing.TB, name string) manifests.MQTTUser {
	t.Helper()
	var u manifests.MQTTUser
	s.change(t, func(sec *manifests.Secrets) {
		var err error
		u, err = installer.AddMQTTDevice(sec, name, rand.Reader)
		require.NoError(t, err)
	})
	return u
}

// writeFiles puts the broker's files from the mqtt manifest on disk, as
// the pod's init container and Secret mounts do, with the listeners on
// 127.0.0.1's free ports and the paths in the temp dir.
func (s *deviceSetup) writeFiles(t testing.TB) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(installer.ManifestsDir(s.in.DataDir), "hakube-10-mqtt.yaml"))
	require.NoError(t, err)
	files := map[string]string{}
	for _, d := range strings.Split(string(data), "\n---\n") {
		var head struct {
			Kind     string
			Metadata struct{ Name string }
		}
		require.NoError(t, yaml.Unmarshal([]byte(d), &head))
		switch {
		case head.Kind == "ConfigMap" && head.Metadata.Name == "home-assistant-mqtt":
			var cm corev1.ConfigMap
			require.NoError(t, yaml.Unmarshal([]byte(d), &cm))
			files["mosquitto.conf"], files["acl"] = cm.Data["mosquitto.conf"], cm.Data["acl"]
		case head.Kind == "Secret" && head.Metadata.Name == "home-assistant-mqtt":
			var sec corev1.Secret
			require.NoError(t, yaml.Unmarshal([]byte(d), &sec))
			files["passwd"] = string(sec.Data["passwd"])
		case head.Kind == "Secret" && head.Metadata.Name == "home-assistant-mqtt-tls":
			var sec corev1.Secret
			require.NoError(t, yaml.Unmarshal([]byte(d), &sec))
			files["tls.crt"], files["tls.key"] = string(sec.Data["tls.crt"]), string(sec.Data["tls.key"])
		}
	}
	conf := files["mosquitto.conf"]
	for _, r := range [][2]string{
		{"password_file /mosquitto/config/passwd\n", "password_file " + filepath.Join(s.dir, "passwd") + "\n"},
		{"acl_file /mosquitto/config/acl\n", "acl_file " + filepath.Join(s.dir, "acl") + "\n"},
		{"persistence_location /mosquitto/data/\n", "persistence_location " + s.dir + "/\n"},
		{"listener 1883\n", fmt.Sprintf("listener %d 127.0.0.1\n", s.port)},
		{"listener 8883\n", fmt.Sprintf("listener %d 127.0.0.1\n", s.tlsPort)},
		{"certfile /mosquitto/tls/tls.crt\n", "certfile " + filepath.Join(s.dir, "tls.crt") + "\n"},
		{"keyfile /mosquitto/tls/tls.key\n", "keyfile " + filepath.Join(s.dir, "tls.key") + "\n"},
	} {
		require.Equal(t, 1, strings.Count(conf, r[0]), "rendered mosquitto.conf no longer has %q: update the test", r[0])
		conf = strings.Replace(conf, r[0], r[1], 1)
	}
	files["mosquitto.conf"] = conf
	for name, content := range files {
		require.NotEmpty(t, content, name)
		p := filepath.Join(s.dir, name)
		tmp := p + ".new"
		require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
		if s.owner != nil {
			require.NoError(t, os.Chown(tmp, int(s.owner.Uid), int(s.owner.Gid)))
		}
		require.NoError(t, os.Rename(tmp, p))
	}
}

func (s *deviceSetup) start(t testing.TB) {
	t.Helper()
	s.cmd = exec.Command(findTool(t, "mosquitto"), "-c", filepath.Join(s.dir, "mosquitto.conf"))
	s.cmd.Dir = s.dir
	var out strings.Builder
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if s.owner != nil {
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.owner}
	}
	require.NoError(t, s.cmd.Start())
	pid := s.cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for !(dialable(s.port) && dialable(s.tlsPort)) {
		require.True(t, time.Now().Before(deadline), "mosquitto did not listen: %s", out.String())
		time.Sleep(20 * time.Millisecond)
	}
}

// reload makes the running broker read its password and ACL files again.
func (s *deviceSetup) reload(t testing.TB) {
	t.Helper()
	s.writeFiles(t)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGHUP))
}

func dialable(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// client runs mosquitto_pub or mosquitto_sub against the broker; tls uses
// the TLS port and verifies the server with caFile.
func (s *deviceSetup) client(t testing.TB, tool string, tls bool, caFile string, u manifests.MQTTUser, args ...string) (string, error) {
	t.Helper()
	port := s.port
	base := []string{"-h", "127.0.0.1", "-u", u.Username, "-P", u.Password, "-q", "1"}
	if tls {
		port = s.tlsPort
		base = append(base, "--cafile", caFile)
	}
	base = append(base, "-p", strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(context.Background(), s.clientTm)
	defer cancel()
	cmd := exec.CommandContext(ctx, findTool(t, tool), append(base, args...)...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestMosquittoDeviceAccounts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real mosquitto")
	}
	s := newDeviceSetup(t)
	dev := s.add(t, "kitchen-plug")
	s.writeFiles(t)
	s.start(t)
	sec, err := s.in.State.Secrets()
	require.NoError(t, err)
	ha, z2m := sec.MQTTHomeAssistant, sec.MQTTZigbee2MQTT

	// Retained messages of Home Assistant and Zigbee2MQTT, and one on the
	// device's own tree (the positive control: the device does read that).
	for _, m := range []struct {
		u            manifests.MQTTUser
		topic, value string
	}{
		{z2m, "zigbee2mqtt/bridge/state", "z2m-secret-state"},
		{z2m, "zigbee2mqtt/living-room-lamp", "z2m-device-state"},
		{z2m, "homeassistant/light/0x00158d/light/config", "z2m-discovery"},
		{ha, "homeassistant/sensor/ha/config", "ha-discovery"},
		{ha, "cmnd/other-plug/POWER", "ha-other-device"},
		{ha, "kitchen-plug/set", "for-the-device"},
	} {
		out, err := s.client(t, "mosquitto_pub", false, "", m.u, "-r", "-t", m.topic, "-m", m.value)
		require.NoError(t, err, out)
	}

	t.Run("connects and publishes over TCP and TLS", func(t *testing.T) {
		for _, tls := range []bool{false, true} {
			for _, topic := range []string{"kitchen-plug/state", "tele/kitchen-plug/STATE", "stat/kitchen-plug/POWER", "shellies/kitchen-plug/relay/0", "homeassistant/switch/kitchen-plug/relay/config"} {
				msg := fmt.Sprintf("tls=%t", tls)
				out, err := s.client(t, "mosquitto_pub", tls, s.caFile, dev, "-r", "-t", topic, "-m", msg)
				require.NoError(t, err, "publish to %s over tls=%t: %s", topic, tls, out)
				// Home Assistant reads it back (retained): it reached the broker.
				got, err := s.client(t, "mosquitto_sub", false, "", ha, "-t", topic, "-C", "1", "-W", "5")
				require.NoError(t, err, got)
				assert.Equal(t, msg, strings.TrimSpace(got), "%s over tls=%t", topic, tls)
			}
		}
	})

	t.Run("the CA verifies the server", func(t *testing.T) {
		other := &manifests.MQTTTLS{}
		_, err := installer.EnsureMQTTTLS(other, []string{"127.0.0.1"}, time.Now(), rand.Reader)
		require.NoError(t, err)
		wrongCA := filepath.Join(t.TempDir(), "other-ca.pem")
		require.NoError(t, os.WriteFile(wrongCA, []byte(other.CACert), 0o644))
		out, err := s.client(t, "mosquitto_pub", true, wrongCA, dev, "-t", "kitchen-plug/state", "-m", "x")
		assert.Error(t, err, "another CA must not verify the broker: %s", out)
	})

	t.Run("reads none of Home Assistant's or Zigbee2MQTT's topics", func(t *testing.T) {
		for _, tls := range []bool{false, true} {
			out, _ := s.client(t, "mosquitto_sub", tls, s.caFile, dev, "-v", "-t", "#", "-t", "zigbee2mqtt/#", "-t", "homeassistant/#", "-t", "cmnd/#", "-W", "3")
			assert.Contains(t, out, "kitchen-plug/set for-the-device", "the device reads its own tree")
			for _, v := range []string{"z2m-secret-state", "z2m-device-state", "z2m-discovery", "ha-discovery", "ha-other-device"} {
				assert.NotContains(t, out, v, "the device read another account's topic (tls=%t)", tls)
			}
		}
	})

	t.Run("cannot reach Zigbee2MQTT's requests", func(t *testing.T) {
		for _, topic := range []string{"zigbee2mqtt/bridge/request/permit_join", "zigbee2mqtt/bridge/request/extension/save", "zigbee2mqtt/living-room-lamp/set"} {
			_, _ = s.client(t, "mosquitto_pub", false, "", dev, "-r", "-t", topic, "-m", "from-device") // a denied publish is dropped silently
		}
		out, _ := s.client(t, "mosquitto_sub", false, "", z2m, "-v", "-t", "zigbee2mqtt/#", "-W", "3")
		assert.Contains(t, out, "z2m-secret-state", "the subscriber sees the retained messages")
		assert.NotContains(t, out, "from-device", "a device published into Zigbee2MQTT's tree")
	})

	t.Run("after remove it cannot connect", func(t *testing.T) {
		s.change(t, func(sec *manifests.Secrets) { require.NoError(t, installer.RemoveMQTTDevice(sec, "kitchen-plug")) })
		s.reload(t)
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, err := s.client(t, "mosquitto_pub", false, "", dev, "-t", "kitchen-plug/state", "-m", "after-remove")
			if err != nil {
				break
			}
			require.True(t, time.Now().Before(deadline), "the removed account still connects")
			time.Sleep(50 * time.Millisecond)
		}
		for _, tls := range []bool{false, true} {
			out, err := s.client(t, "mosquitto_pub", tls, s.caFile, dev, "-t", "kitchen-plug/state", "-m", "after-remove")
			assert.Error(t, err, "tls=%t: %s", tls, out)
			assert.Contains(t, out, "not authorised")
		}
		out, err := s.client(t, "mosquitto_pub", false, "", ha, "-t", "kitchen-plug/state", "-m", "ha-still-in")
		assert.NoError(t, err, "Home Assistant's account is untouched: %s", out)
	})
}

// BenchmarkMQTTUserAddToFirstConnect is the time from 'mqtt user add' (the
// add path: credentials, plan, apply, the broker's files) to the device's
// first accepted connection, with the running broker reloading its files on
// SIGHUP (in a cluster the pod restarts instead: add the rollout).
//
//	go test ./installer -run '^$' -bench MQTTUserAddToFirstConnect -benchtime 10x
func BenchmarkMQTTUserAddToFirstConnect(b *testing.B) {
	s := newDeviceSetup(b)
	s.start(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := s.add(b, fmt.Sprintf("bench-%d", i))
		s.reload(b)
		for {
			if _, err := s.client(b, "mosquitto_pub", false, "", u, "-t", u.Username+"/state", "-m", "hello"); err == nil {
				break
			}
		}
	}
}
