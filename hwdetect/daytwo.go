package hwdetect

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/jaypipes/ghw/pkg/block"
	"github.com/jaypipes/ghw/pkg/option"
)

// Day-two facts: the medium k3s's data lives on, clock synchronisation and
// the time zone. Like the rest of hwdetect, everything is read under a root.

// Storage media.
const (
	MediumSDCard  = "sd-card"
	MediumEMMC    = "emmc"
	MediumUSB     = "usb"
	MediumNVMe    = "nvme"
	MediumSSD     = "ssd"
	MediumHDD     = "hdd"
	MediumVirtual = "virtual"
	MediumUnknown = "unknown"
)

// Storage is the block device a directory lives on.
type Storage struct {
	// Path is the directory asked about (inside the root).
	Path string `json:"path"`
	// MountPoint is the mount that holds Path.
	MountPoint string `json:"mount_point,omitempty"`
	// Partition and Disk are kernel names, such as mmcblk0p2 and mmcblk0.
	Partition string `json:"partition,omitempty"`
	Disk      string `json:"disk,omitempty"`
	// Medium is sd-card, emmc, usb, nvme, ssd, hdd, virtual or unknown.
	Medium    string `json:"medium"`
	Removable bool   `json:"removable"`
	Model     string `json:"model,omitempty"`
}

// WearsOut is true for flash media without wear levelling worth the name:
// SD cards (and eMMC) die from a database's constant small writes.
func (s *Storage) WearsOut() bool { return s.Medium == MediumSDCard || s.Medium == MediumEMMC }

// StorageOf finds the disk holding dir (a path inside root, such as k3s's
// data directory) with ghw's block-device view of /sys/block and
// /proc/self/mounts under root: the partition with the longest mount point
// that is a prefix of dir.
func StorageOf(root, dir string) (*Storage, error) {
	dir = path.Clean("/" + dir)
	info, err := block.New(option.WithChroot(root), option.WithNullAlerter(), option.WithDisableTools())
	if err != nil {
		return nil, fmt.Errorf("read block devices under %s: %w", root, err)
	}
	s := &Storage{Path: dir, Medium: MediumUnknown}
	var best *block.Partition
	for _, d := range info.Disks {
		for _, p := range d.Partitions {
			if p.MountPoint == "" || !under(dir, p.MountPoint) {
				continue
			}
			if best == nil || len(p.MountPoint) > len(best.MountPoint) {
				best = p
			}
		}
	}
	if best == nil {
		return s, nil
	}
	d := best.Disk
	s.MountPoint, s.Partition, s.Disk, s.Removable = best.MountPoint, best.Name, d.Name, d.IsRemovable
	if d.Model != "unknown" { // ghw's word for "no udev data"
		s.Model = d.Model
	}
	fsys := rootFS{root: root}
	switch {
	case d.StorageController == block.StorageControllerMMC:
		s.Medium = MediumSDCard
		// The MMC core says what the card is: SD, MMC (eMMC) or SDIO.
		if t, err := fsys.readString("/sys/block/" + d.Name + "/device/type"); err == nil && t == "MMC" {
			s.Medium = MediumEMMC
		}
	case d.StorageController == block.StorageControllerNVMe:
		s.Medium = MediumNVMe
	case d.StorageController == block.StorageControllerVirtIO:
		s.Medium = MediumVirtual
	case d.StorageController == block.StorageControllerSCSI:
		if dev, err := fsys.resolve("/sys/block/" + d.Name); err == nil && strings.Contains(dev, "/usb") {
			s.Medium = MediumUSB
		} else if d.DriveType == block.DriveTypeSSD {
			s.Medium = MediumSSD
		} else {
			s.Medium = MediumHDD
		}
	}
	return s, nil
}

func under(p, mount string) bool {
	return mount == "/" || p == mount || strings.HasPrefix(p, strings.TrimSuffix(mount, "/")+"/")
}

// Clock is what the root says about time synchronisation.
type Clock struct {
	// Synchronized is true when a time service reports the clock in sync.
	Synchronized bool `json:"synchronized"`
	// Service is the time service found (systemd-timesyncd, chrony, ntp), or "".
	Service string `json:"service,omitempty"`
	// From is the file the verdict was read from.
	From string `json:"from,omitempty"`
}

// timeServices are the units that keep a clock in sync, and the files that
// say they are enabled.
var timeServices = []struct{ name, unit string }{
	{"systemd-timesyncd", "systemd-timesyncd.service"},
	{"chrony", "chrony.service"},
	{"chrony", "chronyd.service"},
	{"ntp", "ntp.service"},
	{"ntp", "ntpd.service"},
	{"ntpsec", "ntpsec.service"},
}

// ClockOf reads clock synchronisation under root: systemd-timesyncd's
// /run/systemd/timesync/synchronized flag (present once the clock is
// synced), chrony's and ntpd's enabled units. On the running machine the
// kernel's own flag (adjtimex) is the authority when no flag file exists.
func ClockOf(root string) Clock {
	fsys := rootFS{root: root}
	var c Clock
	for _, s := range timeServices {
		for _, wants := range []string{"/etc/systemd/system/sysinit.target.wants/", "/etc/systemd/system/multi-user.target.wants/"} {
			if c.Service == "" && fsys.exists(wants+s.unit) {
				c.Service = s.name
			}
		}
	}
	const flag = "/run/systemd/timesync/synchronized"
	if fsys.exists(flag) {
		return Clock{Synchronized: true, Service: "systemd-timesyncd", From: flag}
	}
	if isSlash(root) {
		if synced, ok := kernelClockSynced(); ok {
			c.Synchronized, c.From = synced, "adjtimex"
		}
	}
	return c
}

// Time-zone names as /usr/share/zoneinfo holds them.
var zoneRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`)

// TimezoneOf returns the IANA time zone root is set to, and the file it was
// read from: /etc/localtime's link target (…/zoneinfo/Europe/Berlin), else
// /etc/timezone. Both missing (or a copied /etc/localtime) gives "".
func TimezoneOf(root string) (zone, from string) {
	dir := root
	if target, err := os.Readlink(rootFS{root: dir}.real("/etc/localtime")); err == nil {
		if i := strings.Index(target, "zoneinfo/"); i >= 0 {
			z := target[i+len("zoneinfo/"):]
			for _, p := range []string{"posix/", "right/"} {
				z = strings.TrimPrefix(z, p)
			}
			if zoneRE.MatchString(z) {
				return z, "/etc/localtime"
			}
		}
	}
	if s, err := (rootFS{root: dir}).readString("/etc/timezone"); err == nil {
		z := strings.TrimSpace(strings.SplitN(s, "\n", 2)[0])
		if zoneRE.MatchString(z) {
			return z, "/etc/timezone"
		}
	}
	return "", ""
}
