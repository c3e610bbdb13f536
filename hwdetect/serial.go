package hwdetect

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ttyRE matches the serial devices a radio shows up as.
var ttyRE = regexp.MustCompile(`^tty(ACM|USB)([0-9]+)$`)

var hexIDRE = regexp.MustCompile(`^[0-9a-fA-F]{4}$`)

// port is one serial device while it is being inspected.
type port struct {
	Radio
	usbDir  string // the USB device directory in sysfs, or ""
	bad     bool   // sysfs is broken: the reason is set
	names   []string
	idGroup string
}

// serial finds every /dev/ttyACM* and /dev/ttyUSB*, in /dev or in sysfs,
// and what each one is.
func (d *detector) serial(r *Report) {
	names := map[string]bool{}
	inDev := map[string]bool{}
	for _, dir := range []string{"/dev", "/sys/class/tty"} {
		ents, err := d.fs.readDir(dir)
		if err != nil {
			d.warnf(r, "cannot list %s: %s", dir, describeErr(err))
		}
		for _, n := range ents {
			if ttyRE.MatchString(n) {
				names[n] = true
				if dir == "/dev" {
					inDev[n] = true
				}
			}
		}
	}
	byID := d.serialLinks(r, "/dev/serial/by-id")
	byPath := d.serialLinks(r, "/dev/serial/by-path")

	var ports []*port
	for _, n := range sortTTYs(names) {
		p := d.inspect(n)
		p.ByID = first(byID[n])
		p.ByPath = first(byPath[n])
		p.names = append(p.names, byID[n]...)
		if !inDev[n] && !p.bad {
			p.Notes = append(p.Notes, fmt.Sprintf("%s has no device node under /dev", p.Device))
		}
		ports = append(ports, p)
	}

	// Identical sticks without serial numbers share one by-id name: udev
	// points it at whichever came last, so only by-path tells them apart.
	groups := map[string]int{}
	for _, p := range ports {
		if !p.bad && p.usbDir != "" {
			groups[p.idGroup]++
		}
	}
	for _, p := range ports {
		if !p.bad && p.usbDir != "" && groups[p.idGroup] > 1 {
			p.ByIDAmbiguous = true
		}
	}

	for _, p := range ports {
		if !p.bad && p.usbDir != "" {
			iface := ""
			if p.Interface != nil {
				iface = fmt.Sprintf("%02x", *p.Interface)
			}
			dev := device{vid: p.VID, pid: p.PID, manufacturer: p.Manufacturer, product: p.Product, iface: iface,
				names: append(cloneStrings(p.names), udevName(p.VID, p.PID, p.Manufacturer, p.Product, p.Serial, iface))}
			apply(&p.Radio, match(dev))
		}
		d.choosePath(p)
	}
	lowestPorts(ports)
	for _, p := range ports {
		r.Radios = append(r.Radios, p.Radio)
	}
}

func cloneStrings(s []string) []string { return append([]string(nil), s...) }

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// sortTTYs orders ttyACM before ttyUSB, each by number.
func sortTTYs(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := ttyRE.FindStringSubmatch(out[i]), ttyRE.FindStringSubmatch(out[j])
		if a[1] != b[1] {
			return a[1] < b[1]
		}
		x, _ := strconv.Atoi(a[2])
		y, _ := strconv.Atoi(b[2])
		if x != y {
			return x < y
		}
		return out[i] < out[j]
	})
	return out
}

// serialLinks maps tty names to the links in dir that point at them.
func (d *detector) serialLinks(r *Report, dir string) map[string][]string {
	out := map[string][]string{}
	ents, err := d.fs.readDir(dir)
	if err != nil {
		d.warnf(r, "cannot list %s: %s", dir, describeErr(err))
	}
	for _, n := range ents {
		link := dir + "/" + n
		target, err := d.fs.resolve(link)
		if err != nil {
			d.warnf(r, "%s is a dangling link (%s): udev left it behind, or the device is gone", link, describeErr(err))
			continue
		}
		if path.Dir(target) != "/dev" || !ttyRE.MatchString(path.Base(target)) {
			continue
		}
		out[path.Base(target)] = append(out[path.Base(target)], link)
	}
	return out
}

// inspect reads one tty's USB device from sysfs.
func (d *detector) inspect(name string) *port {
	p := &port{Radio: Radio{Device: "/dev/" + name, Kind: KindUnknown}}
	fail := func(format string, args ...any) *port {
		p.bad = true
		p.Reason = fmt.Sprintf(format, args...)
		return p
	}
	class := "/sys/class/tty/" + name
	if _, err := d.fs.resolve(class); errors.Is(err, fs.ErrNotExist) {
		return fail("no sysfs entry %s: the device is gone, or /sys is not mounted under the root", class)
	} else if err != nil {
		return fail("cannot follow %s: %s", class, describeErr(err))
	}
	devDir, err := d.fs.resolve(class + "/device")
	if err != nil {
		return fail("cannot follow %s/device: %s", class, describeErr(err))
	}
	if drv, err := d.fs.linkBase(devDir + "/driver"); err == nil {
		p.Driver = drv
	}
	// Walk up to the USB device: the first directory holding idVendor.
	// The interface is the first one holding bInterfaceNumber.
	var ifaceDir string
	for dir := devDir; dir != "/" && dir != "/sys" && dir != "/sys/devices"; dir = path.Dir(dir) {
		if ifaceDir == "" && d.fs.exists(dir+"/bInterfaceNumber") {
			ifaceDir = dir
		}
		if d.fs.exists(dir + "/idVendor") {
			p.usbDir = dir
			break
		}
	}
	if p.usbDir == "" {
		return fail("not a USB device: no idVendor above %s", devDir)
	}
	var ids [2]string
	for i, attr := range []string{"idVendor", "idProduct"} {
		v, err := d.fs.readString(p.usbDir + "/" + attr)
		if err != nil {
			return fail("cannot read %s: %s", attr, describeErr(err))
		}
		if !hexIDRE.MatchString(v) {
			return fail("%s %q is not a 4-digit hex USB id", attr, truncate(v, 32))
		}
		ids[i] = strings.ToLower(v)
	}
	p.VID, p.PID = ids[0], ids[1]
	p.Manufacturer = d.optString(p, p.usbDir+"/manufacturer")
	p.Product = d.optString(p, p.usbDir+"/product")
	p.Serial = d.optString(p, p.usbDir+"/serial")
	if ifaceDir != "" {
		s, err := d.fs.readString(ifaceDir + "/bInterfaceNumber")
		n, perr := strconv.ParseUint(s, 16, 8)
		switch {
		case err != nil:
			p.Notes = append(p.Notes, "cannot read bInterfaceNumber: "+describeErr(err))
		case perr != nil:
			p.Notes = append(p.Notes, fmt.Sprintf("bInterfaceNumber %q is not a number", truncate(s, 16)))
		default:
			i := int(n)
			p.Interface = &i
		}
	}
	p.idGroup = strings.Join([]string{p.VID, p.PID, p.Manufacturer, p.Product, p.Serial, ifaceString(p.Interface)}, "\x00")
	return p
}

func ifaceString(i *int) string {
	if i == nil {
		return ""
	}
	return strconv.Itoa(*i)
}

// optString reads an optional USB string; a broken one is noted.
func (d *detector) optString(p *port, file string) string {
	s, err := d.fs.readString(file)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			p.Notes = append(p.Notes, "cannot read "+path.Base(file)+": "+describeErr(err))
		}
		return ""
	}
	return strings.ToValidUTF8(s, "?")
}

func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// apply writes a verdict into a radio.
func apply(rd *Radio, v verdict) {
	if v.row == nil {
		rd.Kind = KindUnknown
		rd.Reason = v.reason
		rd.Candidates = v.candidates
		return
	}
	row := v.row
	rd.Kind, rd.Name, rd.MatchedOn = row.Kind, row.Name, v.on
	if row.Kind == KindZigbee {
		rd.Adapter, rd.Baudrate = row.Adapter, row.Baudrate
		rtscts := row.RTSCTS
		rd.RTSCTS = &rtscts
	}
	if row.Note != "" {
		rd.Notes = append(rd.Notes, row.Note)
	}
}

// choosePath picks the path to configure for a port.
func (d *detector) choosePath(p *port) {
	switch {
	case p.ByID != "" && !p.ByIDAmbiguous:
		p.Path = p.ByID
	case p.ByPath != "":
		p.Path = p.ByPath
		if p.ByIDAmbiguous {
			p.Notes = append(p.Notes, "identical sticks without serial numbers share one by-id name: using by-path, which stays right as long as each stays in its USB port")
		}
	default:
		p.Path = p.Device
		if !p.bad {
			p.Notes = append(p.Notes, "no /dev/serial link: "+p.Device+" may get another number after a reboot or replug")
		}
	}
}

// lowestPorts keeps only the lowest interface of a multi-port device whose
// row says the radio is there (TI LaunchPad); the others are debug ports.
func lowestPorts(ports []*port) {
	lowest := map[string]int{}
	for _, p := range ports {
		if p.Interface == nil || p.usbDir == "" {
			continue
		}
		if l, ok := lowest[p.usbDir]; !ok || *p.Interface < l {
			lowest[p.usbDir] = *p.Interface
		}
	}
	for _, p := range ports {
		row := rowNamed(p.Name)
		if row == nil || !row.LowestPort || p.Interface == nil || *p.Interface == lowest[p.usbDir] {
			continue
		}
		p.Reason = fmt.Sprintf("second port of a %s (interface %02x): the radio is the port on interface %02x", row.Name, *p.Interface, lowest[p.usbDir])
		p.Kind, p.Name, p.Adapter, p.Baudrate, p.RTSCTS, p.MatchedOn = KindUnknown, "", "", 0, nil, nil
	}
}

func rowNamed(name string) *Matcher {
	for i := range table {
		if table[i].Name == name {
			return &table[i]
		}
	}
	return nil
}

// NetworkRadio returns the Zigbee coordinator at addr, tcp://host:port or
// mdns://name (SLZB-06 over Ethernet, UZG-01): no USB passthrough needed.
func NetworkRadio(addr string) (Radio, error) {
	rd := Radio{Device: addr, Path: addr, Network: true, Kind: KindZigbee, Name: "network coordinator",
		Notes: []string{"set zigbee-adapter to match its firmware: zstack for Z-Stack (ZNP), ember for EmberZNet (EZSP)"}}
	switch {
	case strings.HasPrefix(addr, "tcp://"):
		u, err := url.Parse(addr)
		if err != nil || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
			return Radio{}, fmt.Errorf("network coordinator %q: give tcp://host:port (6638 is the usual port)", addr)
		}
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			return Radio{}, fmt.Errorf("network coordinator %q: port %s is out of range 1-65535", addr, u.Port())
		}
	case strings.HasPrefix(addr, "mdns://"):
		if strings.TrimPrefix(addr, "mdns://") == "" {
			return Radio{}, fmt.Errorf("network coordinator %q: give mdns://name, like mdns://slzb-06", addr)
		}
	default:
		return Radio{}, fmt.Errorf("network coordinator %q: give tcp://host:port or mdns://name", addr)
	}
	return rd, nil
}
