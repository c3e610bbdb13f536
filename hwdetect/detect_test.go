package hwdetect

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type radioWant struct {
	device  string
	kind    Kind
	name    string // exact, or "" for unknown radios
	adapter string
	baud    int
	rtscts  string // "true", "false" or "" (absent)
	path    string // exact; "by-path" only checks the prefix
	reason  string // substring of Reason
}

type fixtureWant struct {
	boardKind  string
	model      string
	arch       string
	cpus       int
	totalBytes int64
	boardBytes int64
	dataDir    string
	radios     []radioWant
	checks     map[string]Status
	fixes      map[string]string // check id → substring of its fix
	warnings   []string          // substrings, all present; nil: no warnings at all
}

const byPath = "/dev/serial/by-path/"

var fixtureWants = map[string]fixtureWant{
	"rpi4-2g-zbdongle-e": {
		boardKind: "raspberry-pi", model: "Raspberry Pi 4 Model B Rev 1.4", arch: "arm64", cpus: 4,
		totalBytes: 1891540 * 1024, boardBytes: 2 * gib, dataDir: "/var/lib/rancher/k3s",
		radios: []radioWant{{device: "/dev/ttyACM0", kind: KindZigbee, name: "Sonoff ZBDongle-E (EFR32MG21, CH9102)",
			adapter: "ember", baud: 115200, rtscts: "false",
			path: "/dev/serial/by-id/usb-ITEAD_SONOFF_Zigbee_3.0_USB_Dongle_Plus_V2_20231118125346-if00"}},
		checks: map[string]Status{"arch": StatusOK, "memory": StatusOK, "memory-cgroup": StatusOK, "k3s": StatusProblem,
			"k3s-api": StatusNotChecked, "node-port": StatusOK, "root": StatusNotChecked, "disk": StatusNotChecked},
		fixes: map[string]string{"k3s": "get.k3s.io"},
	},
	"rpi5-8g-skyconnect": {
		boardKind: "raspberry-pi", model: "Raspberry Pi 5 Model B Rev 1.0", arch: "arm64", cpus: 4,
		totalBytes: 8245728 * 1024, boardBytes: 8 * gib, dataDir: "/srv/k3s",
		radios: []radioWant{{device: "/dev/ttyUSB0", kind: KindZigbee, name: "Home Assistant SkyConnect / Connect ZBT-1",
			adapter: "ember", baud: 115200, rtscts: "true",
			path: "/dev/serial/by-id/usb-Nabu_Casa_SkyConnect_v1.0_9e2adbd75b8beb119fe564a0f320645d-if00-port0"}},
		checks: map[string]Status{"arch": StatusOK, "memory-cgroup": StatusOK, "k3s": StatusOK, "node-port": StatusOK},
	},
	"nuc-conbee2-zstick7": {
		boardKind: "pc", model: "NUC8i5BEH", arch: "amd64", cpus: 8,
		totalBytes: 16215396 * 1024, boardBytes: 16 * gib, dataDir: "/var/lib/rancher/k3s",
		radios: []radioWant{
			{device: "/dev/ttyACM0", kind: KindZigbee, name: "ConBee II", adapter: "deconz", baud: 38400, rtscts: "false",
				path: "/dev/serial/by-id/usb-dresden_elektronik_ingenieurtechnik_GmbH_ConBee_II_DE2197685-if00"},
			{device: "/dev/ttyACM1", kind: KindZWave, name: "Aeotec Z-Stick Gen5 / 7, UZB",
				path: "/dev/serial/by-id/usb-0658_0200-if00"},
		},
		checks: map[string]Status{"memory-cgroup": StatusOK, "node-port": StatusProblem, "k3s": StatusProblem},
		fixes:  map[string]string{"node-port": "30000 and 32767"},
	},
	"rpi4-4g-32bit": {
		boardKind: "raspberry-pi", model: "Raspberry Pi 4 Model B Rev 1.5", arch: "arm", cpus: 4,
		totalBytes: 3931252 * 1024, boardBytes: 4 * gib, dataDir: "/var/lib/rancher/k3s",
		checks: map[string]Status{"arch": StatusWarning, "memory": StatusOK, "memory-cgroup": StatusOK},
		fixes:  map[string]string{"arch": "64-bit"},
	},
	"vm-no-usb": {
		boardKind: "virtual-machine", model: "Standard PC (Q35 + ICH9, 2009)", arch: "amd64", cpus: 2,
		totalBytes: 4028360 * 1024, boardBytes: 4 * gib, dataDir: "/var/lib/rancher/k3s",
		checks: map[string]Status{"memory-cgroup": StatusOK, "k3s": StatusOK, "node-port": StatusOK},
	},
	"rpi3-cgroup-off": {
		boardKind: "raspberry-pi", model: "Raspberry Pi 3 Model B Plus Rev 1.3", arch: "arm64", cpus: 4,
		totalBytes: 944268 * 1024, boardBytes: gib, dataDir: "/var/lib/rancher/k3s",
		checks: map[string]Status{"memory-cgroup": StatusProblem, "memory": StatusOK},
		fixes: map[string]string{"memory-cgroup": "append cgroup_memory=1 cgroup_enable=memory to the single line in /boot/cmdline.txt, then reboot: " +
			"sudo sed -i '1 s/$/ cgroup_memory=1 cgroup_enable=memory/' /boot/cmdline.txt && sudo reboot"},
	},
	"two-identical-sticks": {
		boardKind: "pc", model: "OptiPlex 3050", arch: "amd64", cpus: 4,
		totalBytes: 8038012 * 1024, boardBytes: 8 * gib, dataDir: "/var/lib/rancher/k3s",
		radios: []radioWant{
			{device: "/dev/ttyACM0", kind: KindZigbee, name: "TI CC2531 / CC2538", adapter: "zstack", baud: 115200, rtscts: "false",
				path: byPath + "pci-0000:00:14.0-usb-0:1:1.0"},
			{device: "/dev/ttyACM1", kind: KindZigbee, name: "TI CC2531 / CC2538", adapter: "zstack", baud: 115200, rtscts: "false",
				path: byPath + "pci-0000:00:14.0-usb-0:2:1.0"},
		},
	},
	"nuc-mixed": {
		boardKind: "pc", model: "NUC11TNHi5", arch: "amd64", cpus: 8,
		totalBytes: 32628432 * 1024, boardBytes: 32 * gib, dataDir: "/var/lib/rancher/k3s",
		radios: []radioWant{
			{device: "/dev/ttyACM0", kind: KindZigbee, name: "TI LaunchPad CC1352P-2 / CC26X2R1", adapter: "zstack", baud: 115200, rtscts: "false",
				path: "/dev/serial/by-id/usb-Texas_Instruments_XDS110__03.00.00.13__Embed_with_CMSIS-DAP_L1100ABC-if00"},
			{device: "/dev/ttyACM1", kind: KindUnknown, reason: "the radio is the port on interface 00",
				path: "/dev/serial/by-id/usb-Texas_Instruments_XDS110__03.00.00.13__Embed_with_CMSIS-DAP_L1100ABC-if03"},
			{device: "/dev/ttyACM2", kind: KindZWave, name: "Nabu Casa ZWA-2", path: "/dev/serial/by-id/usb-Nabu_Casa_ZWA-2_D83BDA6E1F2C-if00"},
			{device: "/dev/ttyUSB0", kind: KindZWave, name: "Nortek HUSBZB-1 (Z-Wave side)",
				path: "/dev/serial/by-id/usb-Silicon_Labs_HubZ_Smart_Home_Controller_C0F003D5-if00-port0"},
			{device: "/dev/ttyUSB1", kind: KindZigbee, name: "Nortek HUSBZB-1 (Zigbee side)", adapter: "ember", baud: 57600, rtscts: "false",
				path: "/dev/serial/by-id/usb-Silicon_Labs_HubZ_Smart_Home_Controller_C0F003D5-if01-port0"},
			{device: "/dev/ttyUSB2", kind: KindUnknown, reason: "id 10c4:ea60 (Silicon Labs CP210x USB-serial bridge) is shared",
				path: "/dev/serial/by-id/usb-Silicon_Labs_CP2102_USB_to_UART_Bridge_Controller_0001-if00-port0"},
			{device: "/dev/ttyUSB3", kind: KindZigbee, name: "Sonoff ZBDongle-P (CC2652P)", adapter: "zstack", baud: 115200, rtscts: "false",
				path: "/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0_USB_Dongle_Plus_c6e2a1b3c4d5ec11a4b5c6d7e8f90a1b-if00-port0"},
		},
		checks: map[string]Status{"k3s": StatusOK, "node-port": StatusOK},
	},
	"malformed": {
		boardKind: "unknown", arch: "unknown", dataDir: "/var/lib/rancher/k3s",
		radios: []radioWant{
			{device: "/dev/ttyACM0", kind: KindUnknown, reason: `idVendor "zz!!" is not a 4-digit hex USB id`, path: byPath + "pci-0000:00:14.0-usb-0:1:1.0"},
			{device: "/dev/ttyACM1", kind: KindUnknown, reason: "cannot read idVendor: /sys/devices/pci0000:00/0000:00:14.0/usb1/1-2/idVendor: is a directory", path: "/dev/ttyACM1"},
			{device: "/dev/ttyACM2", kind: KindUnknown, reason: "cannot follow /sys/class/tty/ttyACM2/device", path: "/dev/ttyACM2"},
			{device: "/dev/ttyACM3", kind: KindUnknown, reason: "too many levels of symbolic links", path: "/dev/ttyACM3"},
			{device: "/dev/ttyUSB0", kind: KindUnknown, reason: "no sysfs entry /sys/class/tty/ttyUSB0", path: "/dev/ttyUSB0"},
			{device: "/dev/ttyUSB1", kind: KindUnknown, reason: "shared by many products", path: "/dev/ttyUSB1"},
		},
		checks: map[string]Status{"arch": StatusNotChecked, "memory": StatusNotChecked, "memory-cgroup": StatusNotChecked, "node-port": StatusOK},
		warnings: []string{
			"cannot read the board model: /proc/device-tree/model: is a directory",
			`"zero-three" is not a CPU list`,
			`MemTotal "lots kB" is not a size`,
			"/bin/sh: not an ELF program",
			"/etc/rancher/k3s/config.yaml is not valid YAML",
			"/dev/serial/by-id/usb-Gone_Stick_0001-if00 is a dangling link",
			"/dev/serial/by-id/usb-Loop-if00 is a dangling link (/dev/serial/by-id/usb-Loop-if00: too many levels",
		},
	},
}

func TestFixtures(t *testing.T) {
	names := fixtureNames(t)
	for _, name := range names {
		if _, ok := fixtureWants[name]; !ok {
			t.Errorf("fixture %s has no expectations in fixtureWants", name)
		}
	}
	for name, want := range fixtureWants {
		t.Run(name, func(t *testing.T) {
			r := detectFixture(t, name)
			if r.Live {
				t.Error("a --root other than / must not be live")
			}
			if r.Board.Kind != want.boardKind || r.Board.Model != want.model {
				t.Errorf("board = %s %q, want %s %q", r.Board.Kind, r.Board.Model, want.boardKind, want.model)
			}
			if r.Arch != want.arch {
				t.Errorf("arch = %s (%s), want %s", r.Arch, r.ArchFrom, want.arch)
			}
			if r.CPU.Count != want.cpus {
				t.Errorf("cpus = %d, want %d", r.CPU.Count, want.cpus)
			}
			if r.Memory.TotalBytes != want.totalBytes || r.Memory.BoardBytes != want.boardBytes {
				t.Errorf("memory = %d (board %d), want %d (board %d)", r.Memory.TotalBytes, r.Memory.BoardBytes, want.totalBytes, want.boardBytes)
			}
			if r.K3s.DataDir != want.dataDir || r.Disk.Path != want.dataDir {
				t.Errorf("data dir = %s (disk %s), want %s", r.K3s.DataDir, r.Disk.Path, want.dataDir)
			}
			if len(r.Radios) != len(want.radios) {
				t.Fatalf("%d radios, want %d: %+v", len(r.Radios), len(want.radios), r.Radios)
			}
			for i, w := range want.radios {
				checkRadio(t, r.Radios[i], w)
			}
			for id, st := range want.checks {
				c, ok := r.Check(CheckID(id))
				if !ok || c.Status != st {
					t.Errorf("check %s = %s (%s), want %s", id, c.Status, c.Detail, st)
				}
			}
			for id, fix := range want.fixes {
				if c, _ := r.Check(CheckID(id)); !strings.Contains(c.Fix, fix) {
					t.Errorf("check %s fix = %q, want it to contain %q", id, c.Fix, fix)
				}
			}
			if want.warnings == nil && len(r.Warnings) > 0 {
				t.Errorf("unexpected warnings: %q", r.Warnings)
			}
			for _, w := range want.warnings {
				if !containsSub(r.Warnings, w) {
					t.Errorf("no warning containing %q in %q", w, r.Warnings)
				}
			}
		})
	}
}

func checkRadio(t *testing.T, got Radio, w radioWant) {
	t.Helper()
	if got.Device != w.device || got.Kind != w.kind || got.Name != w.name {
		t.Errorf("radio = %s %s %q, want %s %s %q (reason %q)", got.Device, got.Kind, got.Name, w.device, w.kind, w.name, got.Reason)
	}
	if got.Adapter != w.adapter || got.Baudrate != w.baud {
		t.Errorf("%s: adapter %q baud %d, want %q %d", got.Device, got.Adapter, got.Baudrate, w.adapter, w.baud)
	}
	rts := ""
	if got.RTSCTS != nil {
		rts = map[bool]string{true: "true", false: "false"}[*got.RTSCTS]
	}
	if rts != w.rtscts {
		t.Errorf("%s: rtscts %q, want %q", got.Device, rts, w.rtscts)
	}
	if got.Path != w.path {
		t.Errorf("%s: path %q, want %q", got.Device, got.Path, w.path)
	}
	if w.kind == KindUnknown && (got.Reason == "" || !strings.Contains(got.Reason, w.reason)) {
		t.Errorf("%s: reason %q, want it to contain %q", got.Device, got.Reason, w.reason)
	}
}

func containsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// The 4 GiB board on 32-bit Pi OS: MemTotal does not fit an int32, which
// is what ghw overflows on.
func TestMemoryAbove32Bits(t *testing.T) {
	r := detectFixture(t, "rpi4-4g-32bit")
	if r.Memory.TotalBytes <= math.MaxInt32 {
		t.Fatalf("fixture MemTotal %d no longer exercises the overflow", r.Memory.TotalBytes)
	}
	if r.Memory.BoardBytes != 4*gib {
		t.Errorf("board = %s, want 4 GiB", HumanBytes(r.Memory.BoardBytes))
	}
}

func TestTwoIdenticalSticks(t *testing.T) {
	r := detectFixture(t, "two-identical-sticks")
	a, b := r.Radios[0], r.Radios[1]
	if !a.ByIDAmbiguous || !b.ByIDAmbiguous {
		t.Error("both sticks must be flagged by_id_ambiguous")
	}
	if a.Path == b.Path {
		t.Errorf("both sticks got path %s", a.Path)
	}
	if b.ByID == "" {
		t.Error("the one by-id link should still be reported on the stick it points to")
	}
	if len(r.ZigbeeCoordinators()) != 2 {
		t.Errorf("ZigbeeCoordinators = %d, want 2", len(r.ZigbeeCoordinators()))
	}
}

// fakeProbes answer like a Pi with k3s running, as a normal user.
func fakeProbes(apiUp bool, free int64, seen *string) Probes {
	return Probes{
		LookPath: func(string) (string, error) { return "", errors.New("not found") },
		Dial:     func(addr string) bool { return apiUp && addr == "127.0.0.1:6443" },
		UID:      func() int { return 1000 },
		FreeBytes: func(p string) (int64, error) {
			*seen = p
			return free, nil
		},
		GOARCH: "riscv64",
	}
}

func TestLiveProbes(t *testing.T) {
	var seen string
	r := detectFixture(t, "rpi5-8g-skyconnect", WithLive(true), WithProbes(fakeProbes(true, 5*gib, &seen)))
	if !r.Live || r.K3s.API != "running" {
		t.Errorf("live %v, api %s; want live and running", r.Live, r.K3s.API)
	}
	for id, st := range map[string]Status{"k3s-api": StatusOK, "root": StatusWarning, "disk": StatusWarning} {
		if c, _ := r.Check(CheckID(id)); c.Status != st {
			t.Errorf("check %s = %s (%s), want %s", id, c.Status, c.Detail, st)
		}
	}
	if !strings.HasSuffix(seen, filepath.FromSlash("/srv/k3s")) || !r.Disk.Checked || r.Disk.FreeBytes != 5*gib {
		t.Errorf("free space measured on %q (%+v), want the data dir /srv/k3s inside the root", seen, r.Disk)
	}

	r = detectFixture(t, "rpi5-8g-skyconnect", WithLive(true), WithProbes(fakeProbes(false, 1*gib, &seen)))
	if c, _ := r.Check("k3s-api"); c.Status != StatusProblem || !strings.Contains(c.Fix, "systemctl start k3s") {
		t.Errorf("k3s-api = %+v, want a problem with a fix", c)
	}
	if c, _ := r.Check("disk"); c.Status != StatusProblem {
		t.Errorf("disk = %+v, want a problem under 2 GiB", c)
	}

	// No k3s in the tree: the live PATH lookup finds it. The data dir does
	// not exist: free space is measured on its nearest parent.
	p := fakeProbes(false, 50*gib, &seen)
	p.LookPath = func(string) (string, error) { return "/opt/k3s/bin/k3s", nil }
	root := buildFixture(t, "rpi4-2g-zbdongle-e")
	r, err := Detect(root, WithLive(true), WithProbes(p))
	if err != nil {
		t.Fatal(err)
	}
	if r.K3s.Binary != "/opt/k3s/bin/k3s" {
		t.Errorf("k3s binary = %q, want the PATH lookup", r.K3s.Binary)
	}
	if seen != root {
		t.Errorf("free space measured on %q, want the nearest existing parent of /var/lib/rancher/k3s: the root %s", seen, root)
	}

	// Without a readable /bin/sh, a live machine falls back to the binary's arch.
	r = detectFixture(t, "malformed", WithLive(true), WithProbes(fakeProbes(false, 0, &seen)))
	if r.Arch != "riscv64" || r.ArchFrom != "running binary" {
		t.Errorf("arch = %s (%s), want riscv64 from the running binary", r.Arch, r.ArchFrom)
	}
	if c, _ := r.Check("arch"); c.Status != StatusProblem {
		t.Errorf("arch check = %+v, want a problem for riscv64", c)
	}
}

func TestNodePortOption(t *testing.T) {
	r := detectFixture(t, "rpi4-2g-zbdongle-e", WithNodePort(22))
	c, _ := r.Check("node-port")
	if c.Status != StatusProblem || c.Title != "NodePort 22" || !strings.Contains(c.Detail, "0.0.0.0:22") {
		t.Errorf("node-port = %+v, want a problem naming 0.0.0.0:22", c)
	}
	r = detectFixture(t, "nuc-conbee2-zstick7")
	if c, _ := r.Check("node-port"); !strings.Contains(c.Detail, "[::]:30123") {
		t.Errorf("node-port detail %q, want the IPv6 listener [::]:30123", c.Detail)
	}
}

func TestNetworkCoordinators(t *testing.T) {
	r := detectFixture(t, "vm-no-usb", WithNetworkCoordinators("tcp://192.168.1.40:6638", "mdns://slzb-06"))
	zs := r.ZigbeeCoordinators()
	if len(zs) != 2 || zs[0].Path != "tcp://192.168.1.40:6638" || !zs[0].Network || zs[0].Kind != KindZigbee {
		t.Fatalf("coordinators = %+v", zs)
	}
	for _, bad := range []string{"tcp://host", "tcp://:6638", "tcp://h:99999", "udp://h:1", "mdns://", "/dev/ttyACM0"} {
		if _, err := NetworkRadio(bad); err == nil {
			t.Errorf("NetworkRadio(%q) accepted", bad)
		}
		if _, err := Detect(t.TempDir(), WithNetworkCoordinators(bad)); err == nil {
			t.Errorf("Detect with coordinator %q did not fail", bad)
		}
	}
}

func TestDetectRootErrors(t *testing.T) {
	if _, err := Detect(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing root: %v", err)
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Detect(f); !errors.Is(err, ErrRoot) {
		t.Errorf("file as root: %v, want ErrRoot", err)
	}
}

// An empty tree is a valid root: everything is simply unknown.
func TestEmptyRoot(t *testing.T) {
	r, err := Detect(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if r.Arch != "unknown" || len(r.Radios) != 0 || r.Board.Kind != "unknown" || len(r.Warnings) != 0 {
		t.Errorf("empty root: %+v", r)
	}
}

func TestParsers(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "0-3": 4, "0-3,6": 5, "0,2,4-5\n": 4} {
		if n, err := parseCPUList(in); err != nil || n != want {
			t.Errorf("parseCPUList(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, bad := range []string{"x", "3-1", "-1", "0-"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("parseCPUList(%q) accepted", bad)
		}
	}
	if n, err := parseMemTotal([]byte("MemFree: 1 kB\nMemTotal:  8245728 kB\n")); err != nil || n != 8245728*1024 {
		t.Errorf("parseMemTotal = %d, %v", n, err)
	}
	for _, bad := range []string{"", "MemTotal:\n", "MemTotal: 12 MB\n", "MemTotal: -5 kB\n"} {
		if _, err := parseMemTotal([]byte(bad)); err == nil {
			t.Errorf("parseMemTotal(%q) accepted", bad)
		}
	}
	for total, want := range map[int64]int64{944268 * kib: gib, 1891540 * kib: 2 * gib, 3931252 * kib: 4 * gib,
		8245728 * kib: 8 * gib, 16215396 * kib: 16 * gib, 430 * mib: 512 * mib, 6*gib - 300*mib: 6 * gib} {
		if got := boardSize(total); got != want {
			t.Errorf("boardSize(%s) = %s, want %s", HumanBytes(total), HumanBytes(got), HumanBytes(want))
		}
	}
	for _, tc := range []struct {
		hdr  string
		want string
	}{
		{"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\xb7\x00", "arm64"},
		{"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x28\x00", "arm"},
		{"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x3e\x00", "amd64"},
		{"\x7fELF\x02\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x16", "s390x"},
	} {
		if got, err := elfArch([]byte(tc.hdr)); err != nil || got != tc.want {
			t.Errorf("elfArch = %s, %v; want %s", got, err, tc.want)
		}
	}
	if _, err := elfArch([]byte("#!/bin/sh\n")); err == nil {
		t.Error("elfArch accepted a script")
	}
	table := []byte(tcpHeader +
		"   0: 0100007F:75AB 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1\n" +
		"   1: 00000000:0016 00000000:0000 01 00000000:00000000 00:00000000 00000000 0 0 1 1\n")
	if addr, ok := listening(table, 30123); !ok || addr != "127.0.0.1:30123" {
		t.Errorf("listening = %q, %v; want 127.0.0.1:30123", addr, ok)
	}
	if _, ok := listening(table, 22); ok {
		t.Error("an established socket counted as listening")
	}
	for n, want := range map[int64]string{512 * mib: "512 MiB", 2 * gib: "2 GiB", 1891540 * kib: "1.8 GiB", 100: "100 B"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %s, want %s", n, got, want)
		}
	}
}

// tcpHeader is the first line of /proc/net/tcp.
const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

func TestImageArch(t *testing.T) {
	for _, tc := range []struct {
		arch  string
		armv6 bool
		want  string
	}{{"amd64", false, "linux/amd64"}, {"arm64", false, "linux/arm64"}, {"arm", false, "linux/arm/v7"}, {"arm", true, ""}, {"riscv64", false, ""}} {
		r := &Report{Arch: tc.arch, CPU: CPU{ARMv6: tc.armv6}}
		if got := r.ImageArch(); got != tc.want {
			t.Errorf("ImageArch(%s, armv6 %v) = %q, want %q", tc.arch, tc.armv6, got, tc.want)
		}
	}
}

func BenchmarkDetectLargestFixture(b *testing.B) {
	root := buildFixture(b, "nuc-mixed")
	for b.Loop() {
		if _, err := Detect(root); err != nil {
			b.Fatal(err)
		}
	}
}
