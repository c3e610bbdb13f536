package hwdetect

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// virtualVendors are DMI vendor or product names of hypervisors.
var virtualVendors = []string{
	"qemu", "kvm", "vmware", "virtualbox", "innotek", "xen", "bochs", "parallels",
	"amazon ec2", "google compute engine", "digitalocean", "hetzner", "openstack",
	"virtual machine", "red hat",
}

// placeholderDMI are values firmware vendors leave in unset DMI fields.
var placeholderDMI = []string{"to be filled by o.e.m.", "default string", "system product name", "not applicable", "none"}

func (d *detector) board(r *Report) {
	b := &r.Board
	for _, dt := range []string{"/proc/device-tree", "/sys/firmware/devicetree/base"} {
		model, err := d.fs.readString(dt + "/model")
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			d.warnf(r, "cannot read the board model: %s", describeErr(err))
			break
		}
		b.Model, b.From = model, dt+"/model"
		if raw, err := d.fs.readFile(dt + "/compatible"); err == nil {
			for _, c := range bytes.Split(raw, []byte{0}) {
				if s := strings.TrimSpace(string(c)); s != "" {
					b.Compatible = append(b.Compatible, s)
				}
			}
		}
		b.Kind = "device-tree"
		if strings.HasPrefix(model, "Raspberry Pi") || hasPrefix(b.Compatible, "raspberrypi,") {
			b.Kind, b.Vendor = "raspberry-pi", "Raspberry Pi"
		}
		return
	}
	const dmi = "/sys/class/dmi/id"
	vendor := d.dmi(dmi + "/sys_vendor")
	product := d.dmi(dmi + "/product_name")
	if product == "" {
		product = d.dmi(dmi + "/board_name")
	}
	if vendor == "" && product == "" {
		b.Kind = "unknown"
		return
	}
	b.Vendor, b.Model, b.From = vendor, product, dmi
	b.Kind = "pc"
	both := strings.ToLower(vendor + " " + product)
	for _, v := range virtualVendors {
		if strings.Contains(both, v) {
			b.Kind = "virtual-machine"
		}
	}
}

// dmi reads one DMI field, dropping firmware placeholders.
func (d *detector) dmi(p string) string {
	s, err := d.fs.readString(p)
	if err != nil {
		return ""
	}
	for _, ph := range placeholderDMI {
		if strings.EqualFold(s, ph) {
			return ""
		}
	}
	return s
}

func hasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// armParts names ARM Ltd. cores by their /proc/cpuinfo "CPU part".
var armParts = map[string]string{
	"0xb76": "ARM1176", "0xc07": "Cortex-A7", "0xd03": "Cortex-A53",
	"0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
	"0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0b": "Cortex-A76",
}

func (d *detector) cpu(r *Report) {
	c := &r.CPU
	info, infoErr := d.fs.readFile("/proc/cpuinfo")
	if online, err := d.fs.readString("/sys/devices/system/cpu/online"); err == nil {
		n, perr := parseCPUList(online)
		if perr != nil {
			d.warnf(r, "/sys/devices/system/cpu/online: %v", perr)
		}
		c.Count = n
	}
	if infoErr != nil {
		if !errors.Is(infoErr, fs.ErrNotExist) {
			d.warnf(r, "cannot read CPU information: %s", describeErr(infoErr))
		}
		return
	}
	var processors int
	var modelName, hwModel, part, implementer string
	sc := bufio.NewScanner(bytes.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			processors++
		case "model name":
			if modelName == "" {
				modelName = v
			}
		case "Model":
			hwModel = v
		case "CPU part":
			if part == "" {
				part = strings.ToLower(v)
			}
		case "CPU implementer":
			if implementer == "" {
				implementer = strings.ToLower(v)
			}
		}
	}
	if c.Count == 0 {
		c.Count = processors
	}
	switch {
	case implementer == "0x41" && armParts[part] != "":
		c.Model = armParts[part]
	case modelName != "":
		c.Model = modelName
	}
	c.ARMv6 = part == "0xb76" || strings.Contains(modelName, "ARMv6")
	if r.Board.Model == "" && hwModel != "" {
		r.Board.Model, r.Board.From = hwModel, "/proc/cpuinfo"
		if strings.HasPrefix(hwModel, "Raspberry Pi") {
			r.Board.Kind, r.Board.Vendor = "raspberry-pi", "Raspberry Pi"
		}
	}
}

// parseCPUList counts the CPUs in a kernel CPU list such as "0-3,6".
func parseCPUList(s string) (int, error) {
	n := 0
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return 0, fmt.Errorf("%q is not a CPU list", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0, fmt.Errorf("%q is not a CPU list", s)
			}
		}
		n += b - a + 1
	}
	return n, nil
}

func (d *detector) memory(r *Report) {
	b, err := d.fs.readFile("/proc/meminfo")
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.warnf(r, "cannot read the memory size: %s", describeErr(err))
		}
		return
	}
	total, err := parseMemTotal(b)
	if err != nil {
		d.warnf(r, "/proc/meminfo: %v", err)
		return
	}
	r.Memory.TotalBytes = total
	r.Memory.BoardBytes = boardSize(total)
}

// boardSize rounds MemTotal up to the size the board is sold as: to 512 MiB
// below 4 GiB, to 1 GiB above (firmware, GPU and crash kernel keep the rest).
func boardSize(total int64) int64 {
	step := 512 * mib
	if total > 4*gib {
		step = gib
	}
	return (total + step - 1) / step * step
}

// parseMemTotal returns MemTotal in bytes, as int64 on every platform.
func parseMemTotal(b []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n <= 0 || n > 1<<50 {
			return 0, fmt.Errorf("MemTotal %q is not a size", strings.TrimSpace(v))
		}
		if len(f) > 1 && f[1] != "kB" {
			return 0, fmt.Errorf("MemTotal %q has an unknown unit", strings.TrimSpace(v))
		}
		return n * kib, nil
	}
	return 0, errors.New("no MemTotal line")
}

// elfMachines maps ELF e_machine values to GOARCH names.
var elfMachines = map[uint16]string{
	3: "386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390x", 40: "arm",
	62: "amd64", 183: "arm64", 243: "riscv64", 258: "loong64",
}

// archPrograms are read in order to learn the root's userland
// architecture from an ELF header.
var archPrograms = []string{"/bin/sh", "/usr/bin/sh", "/bin/busybox", "/usr/bin/env"}

// arch finds the userland architecture: from the ELF header of the root's
// /bin/sh (so a 32-bit OS on a 64-bit board reads arm, and an SD card image
// reads what it will run), else, on the live machine only, from the running
// binary.
func (d *detector) arch(r *Report) {
	for _, p := range archPrograms {
		b, err := d.fs.readFile(p)
		if err != nil {
			continue
		}
		a, err := elfArch(b)
		if err != nil {
			d.warnf(r, "%s: %v", p, err)
			continue
		}
		r.Arch, r.ArchFrom = a, "ELF header of "+p
		return
	}
	if d.live && d.probes.GOARCH != "" {
		r.Arch, r.ArchFrom = d.probes.GOARCH, "running binary"
		return
	}
	r.Arch, r.ArchFrom = "unknown", "no readable /bin/sh under the root"
}

// elfArch reads the architecture from an ELF header.
func elfArch(b []byte) (string, error) {
	if len(b) < 20 || string(b[:4]) != "\x7fELF" {
		return "", errors.New("not an ELF program")
	}
	var order binary.ByteOrder = binary.LittleEndian
	if b[5] == 2 {
		order = binary.BigEndian
	}
	m := order.Uint16(b[18:20])
	a, ok := elfMachines[m]
	if !ok {
		return "", fmt.Errorf("unknown ELF machine %d", m)
	}
	switch {
	case a == "ppc64" && b[5] == 1:
		a = "ppc64le"
	case a == "mips" && b[4] == 2:
		a = "mips64"
	}
	if a == "mips" || a == "mips64" {
		if b[5] == 1 {
			a += "le"
		}
	}
	return a, nil
}
