package installer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/hwdetect/fixture"
)

const dataDir = "/var/lib/rancher/k3s"

func doctorRoot(t *testing.T, name string) string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, fixture.BuildFile(root, filepath.Join("..", "hwdetect", "testdata", "daytwo", name+".txtar")))
	return root
}

// writeServingCert puts a k3s API server certificate expiring at notAfter
// under root.
func writeServingCert(t *testing.T, root string, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "k3s"},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	p := filepath.Join(root, "var/lib/rancher/k3s/server/tls/serving-kube-apiserver.crt")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
}

func byID(r *DoctorReport) map[string]hwdetect.Check {
	out := map[string]hwdetect.Check{}
	for _, c := range r.Checks {
		out[string(c.ID)] = c
	}
	return out
}

func zigbeeConfig() *config.Config {
	c := config.Defaults(config.ProfileEdge)
	c.Components = append(c.Components, config.Zigbee2MQTT)
	c.ZigbeeDevice = "/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_4c0b-if00-port0"
	c.ZigbeeAdapter = "zstack"
	return &c
}

// TestDoctorOnSDCardRootWithRadioGoneAndClockOff: the Pi fixture boots from
// an SD card, its radio is unplugged and its clock never synchronised; each
// is reported with its fix.
func TestDoctorOnSDCardRootWithRadioGoneAndClockOff(t *testing.T) {
	root := doctorRoot(t, "pi-sdcard")
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	writeServingCert(t, root, now.Add(10*24*time.Hour))
	r := Doctor(context.Background(), DoctorInput{Root: root, DataDir: dataDir, Config: zigbeeConfig(), Now: now})
	c := byID(r)

	assert.Equal(t, hwdetect.StatusWarning, c["storage-medium"].Status)
	assert.Contains(t, c["storage-medium"].Detail, "mmcblk0p2 (sd-card")
	assert.Contains(t, c["storage-medium"].Fix, "SSD")

	assert.Equal(t, hwdetect.StatusProblem, c["radio"].Status)
	assert.Contains(t, c["radio"].Detail, "is gone")
	assert.Contains(t, c["radio"].Fix, "plug the coordinator back in")

	assert.Equal(t, hwdetect.StatusWarning, c["clock"].Status)
	assert.Contains(t, c["clock"].Detail, "systemd-timesyncd is enabled but the clock is not synchronised")
	assert.Contains(t, c["clock"].Fix, "timedatectl")

	assert.Equal(t, hwdetect.StatusWarning, c["k3s-certificate"].Status, "10 days left")
	assert.Contains(t, c["k3s-certificate"].Fix, "systemctl restart k3s")

	assert.Equal(t, hwdetect.StatusOK, c["memory-cgroup"].Status)
	assert.Equal(t, hwdetect.StatusWarning, c["backup-age"].Status, "no backups at all")
	assert.Equal(t, hwdetect.StatusWarning, c["backup-off-node"].Status)
	assert.Contains(t, c["backup-off-node"].Fix, "backup-copy-dir")
	assert.Equal(t, hwdetect.StatusNotChecked, c["cluster"].Status)
	assert.Equal(t, 1, r.Problems)
	for _, ch := range r.Checks {
		if ch.Status == hwdetect.StatusWarning || ch.Status == hwdetect.StatusProblem {
			assert.NotEmpty(t, ch.Fix, "%s has a fix", ch.ID)
		}
	}
}

// TestDoctorOnHealthyNUC: NVMe, radio present, clock synchronised, a fresh
// backup in the volume and on the USB disk: nothing to fix.
func TestDoctorOnHealthyNUC(t *testing.T) {
	needTools(t, "python3")
	root := doctorRoot(t, "nuc-nvme-synced")
	now := time.Now().UTC()
	writeServingCert(t, root, now.Add(300*24*time.Hour))
	vol := filepath.Join(root, dataDir, "storage", "pvc-9_home-assistant_home-assistant-backups-0")
	require.NoError(t, os.MkdirAll(vol, 0o700))
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "esphome", "a.yaml"), "x\n", 0o644)
	copyDir := filepath.Join(root, "mnt", "usb", "hakube")
	require.NoError(t, os.MkdirAll(copyDir, 0o700))
	runBackup(t, backupEnv(vol, t.TempDir(), copyDir, 14, "esphome:"+filepath.Join(src, "esphome")))
	cfg := zigbeeConfig()
	cfg.BackupCopyDir = "/mnt/usb/hakube"

	r := Doctor(context.Background(), DoctorInput{Root: root, DataDir: dataDir, Config: cfg, Now: now})
	c := byID(r)
	for _, id := range []string{"storage-medium", "radio", "clock", "k3s-certificate", "backup-age"} {
		assert.Equal(t, hwdetect.StatusOK, c[id].Status, "%s: %s", id, c[id].Detail)
	}
	// The fixture's /mnt/usb is a directory on the same (test) file system:
	// doctor says the disk is not mounted rather than trusting the path.
	assert.Equal(t, hwdetect.StatusWarning, c["backup-off-node"].Status)
	assert.Contains(t, c["backup-off-node"].Detail, "same disk")
	assert.Contains(t, c["storage-medium"].Detail, "nvme")
}

// TestDoctorExpiredCertificateAndNoTimeService: an expired certificate is a
// problem; no time service at all says how to enable one.
func TestDoctorExpiredCertificateAndNoTimeService(t *testing.T) {
	root := doctorRoot(t, "vm-no-clock-service")
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	writeServingCert(t, root, now.Add(-time.Hour))
	r := Doctor(context.Background(), DoctorInput{Root: root, DataDir: dataDir, Now: now})
	c := byID(r)
	assert.Equal(t, hwdetect.StatusProblem, c["k3s-certificate"].Status)
	assert.Contains(t, c["k3s-certificate"].Fix, "k3s certificate rotate")
	assert.Equal(t, hwdetect.StatusWarning, c["clock"].Status)
	assert.Contains(t, c["clock"].Fix, "timedatectl set-ntp true")
	assert.Equal(t, hwdetect.StatusOK, c["radio"].Status, "no Zigbee configured")
}

// TestTakenPorts: a port something listens on is reported, a free one not.
func TestTakenPorts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	busy := int32(l.Addr().(*net.TCPAddr).Port)
	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	freePort := int32(free.Addr().(*net.TCPAddr).Port)
	free.Close()
	assert.Equal(t, []int32{busy}, takenPorts([]int32{busy, freePort}))
}
