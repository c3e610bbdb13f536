package hwdetect

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/hwdetect/fixture"
)

func buildDayTwo(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, fixture.BuildFile(dir, filepath.Join("testdata", "daytwo", name+".txtar")))
	return dir
}

func TestStorageOfOnFixtures(t *testing.T) {
	for _, tc := range []struct {
		fixture, dir string
		want         Storage
		wears        bool
	}{
		{"pi-sdcard", "/var/lib/rancher/k3s", Storage{Path: "/var/lib/rancher/k3s", MountPoint: "/", Partition: "mmcblk0p2", Disk: "mmcblk0", Medium: MediumSDCard}, true},
		{"pi-sdcard", "/boot/firmware/config.txt", Storage{Path: "/boot/firmware/config.txt", MountPoint: "/boot/firmware", Partition: "mmcblk0p1", Disk: "mmcblk0", Medium: MediumSDCard}, true},
		{"nuc-nvme-synced", "/var/lib/rancher/k3s", Storage{Path: "/var/lib/rancher/k3s", MountPoint: "/", Partition: "nvme0n1p2", Disk: "nvme0n1", Medium: MediumNVMe}, false},
		{"nuc-nvme-synced", "/mnt/usb/hakube", Storage{Path: "/mnt/usb/hakube", MountPoint: "/mnt/usb", Partition: "sda1", Disk: "sda", Medium: MediumUSB}, false},
		{"nuc-nvme-synced", "/mnt/usbother", Storage{Path: "/mnt/usbother", MountPoint: "/", Partition: "nvme0n1p2", Disk: "nvme0n1", Medium: MediumNVMe}, false},
		{"vm-no-clock-service", "/var/lib/rancher/k3s", Storage{Path: "/var/lib/rancher/k3s", MountPoint: "/", Partition: "vda1", Disk: "vda", Medium: MediumVirtual}, false},
	} {
		t.Run(tc.fixture+tc.dir, func(t *testing.T) {
			got, err := StorageOf(buildDayTwo(t, tc.fixture), tc.dir)
			require.NoError(t, err)
			assert.Equal(t, tc.want, *got)
			assert.Equal(t, tc.wears, got.WearsOut())
		})
	}
}

func TestStorageOfEmptyRoot(t *testing.T) {
	got, err := StorageOf(t.TempDir(), "/var/lib/rancher/k3s")
	require.NoError(t, err)
	assert.Equal(t, MediumUnknown, got.Medium, "nothing under the root: unknown, not a guess")
}

func TestClockOfOnFixtures(t *testing.T) {
	assert.Equal(t, Clock{Service: "systemd-timesyncd"}, ClockOf(buildDayTwo(t, "pi-sdcard")), "enabled, never synchronised")
	assert.Equal(t, Clock{Synchronized: true, Service: "systemd-timesyncd", From: "/run/systemd/timesync/synchronized"},
		ClockOf(buildDayTwo(t, "nuc-nvme-synced")))
	assert.Equal(t, Clock{}, ClockOf(buildDayTwo(t, "vm-no-clock-service")), "no time service at all")
}

func TestTimezoneOfOnFixtures(t *testing.T) {
	for _, tc := range []struct{ fixture, zone, from string }{
		{"pi-sdcard", "Europe/Berlin", "/etc/localtime"},
		{"nuc-nvme-synced", "America/New_York", "/etc/timezone"},
		{"vm-no-clock-service", "", ""},
	} {
		zone, from := TimezoneOf(buildDayTwo(t, tc.fixture))
		assert.Equal(t, tc.zone, zone, tc.fixture)
		assert.Equal(t, tc.from, from, tc.fixture)
	}
}

// TestDetectReportsTimezone: Detect carries the zone into its report and
// its text.
func TestDetectReportsTimezone(t *testing.T) {
	r, err := Detect(buildDayTwo(t, "pi-sdcard"))
	require.NoError(t, err)
	assert.Equal(t, "Europe/Berlin", r.Timezone)
	var b strings.Builder
	require.NoError(t, r.WriteText(&b))
	assert.Contains(t, b.String(), "time zone: Europe/Berlin (/etc/localtime)")
}
