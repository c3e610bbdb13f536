package hwdetect

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteText writes the report for a person: what was found, what it means
// for the install, and what to fix.
func (r *Report) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }

	if r.Live {
		p("Inspected %s (this machine)", r.Root)
	} else {
		p("Inspected %s (files only: checks of the running machine are skipped)", r.Root)
	}

	p("\nBoard")
	model := r.Board.Model
	if r.Board.Vendor != "" && !strings.HasPrefix(model, r.Board.Vendor) {
		model = strings.TrimSpace(r.Board.Vendor + " " + model)
	}
	if model == "" {
		model = "unknown model"
	}
	switch r.Board.Kind {
	case "virtual-machine":
		model += " (virtual machine)"
	case "raspberry-pi", "device-tree":
		if len(r.Board.Compatible) > 0 {
			model += " (" + r.Board.Compatible[0] + ")"
		}
	}
	p("  %s", model)
	cpu := r.Arch
	if r.CPU.Count > 0 {
		cpu += fmt.Sprintf(", %d CPUs", r.CPU.Count)
	}
	if r.CPU.Model != "" {
		cpu += " (" + r.CPU.Model + ")"
	}
	p("  CPU: %s", cpu)
	if r.Memory.TotalBytes > 0 {
		p("  memory: %s usable (%s board): %s", HumanBytes(r.Memory.TotalBytes), HumanBytes(r.Memory.BoardBytes), memoryMeaning(r.Memory.BoardBytes))
	} else {
		p("  memory: unknown")
	}
	disk := "free space not measured"
	if r.Disk.Checked {
		disk = HumanBytes(r.Disk.FreeBytes) + " free"
	}
	p("  k3s data dir: %s (%s), %s", r.K3s.DataDir, r.K3s.DataDirFrom, disk)
	if r.Timezone != "" {
		p("  time zone: %s (%s)", r.Timezone, r.TimezoneFrom)
	}

	p("\nRadios")
	if len(r.Radios) == 0 {
		p("  none: no /dev/ttyACM* or /dev/ttyUSB* (give a network coordinator with --coordinator tcp://host:port)")
	}
	zigbee := len(r.ZigbeeCoordinators())
	for _, rd := range r.Radios {
		name := rd.Name
		if name == "" {
			name = "unknown device"
		}
		p("  %s: %s", rd.Device, name)
		switch rd.Kind {
		case KindZigbee:
			use := "will be used"
			if zigbee > 1 {
				use = fmt.Sprintf("one of %d coordinators: choose with --zigbee-device %s", zigbee, rd.Path)
			}
			settings := "adapter " + rd.Adapter
			if rd.Adapter == "" {
				settings = "adapter to be set (--zigbee-adapter)"
			}
			if rd.Baudrate > 0 {
				settings += ", baudrate " + strconv.Itoa(rd.Baudrate)
			}
			if rd.RTSCTS != nil {
				settings += ", rtscts " + strconv.FormatBool(*rd.RTSCTS)
			}
			p("    Zigbee coordinator → Zigbee2MQTT %s: %s", settings, use)
		case KindZWave:
			p("    Z-Wave stick: hakube has no Z-Wave component yet, so it is left alone")
		default:
			p("    not a known radio: %s", rd.Reason)
		}
		if rd.Path != "" && rd.Path != rd.Device {
			p("    path: %s", rd.Path)
		}
		if usb := usbLine(rd); usb != "" {
			p("    usb: %s", usb)
		}
		for _, n := range rd.Notes {
			p("    note: %s", n)
		}
	}

	p("\nHost readiness")
	problems := 0
	for _, c := range r.Checks {
		label := map[Status]string{StatusOK: "ok", StatusWarning: "warn", StatusProblem: "PROBLEM", StatusNotChecked: "-"}[c.Status]
		p("  %-8s %-17s %s", label, c.Title, c.Detail)
		if c.Fix != "" {
			p("  %-8s %-17s fix: %s", "", "", c.Fix)
		}
		if c.Status == StatusProblem {
			problems++
		}
	}
	if len(r.Warnings) > 0 {
		p("\nWarnings")
		for _, wn := range r.Warnings {
			p("  %s", wn)
		}
	}
	p("")
	switch problems {
	case 0:
		p("Nothing blocks the install: sudo hakube install")
	case 1:
		p("1 problem to fix before installing.")
	default:
		p("%d problems to fix before installing.", problems)
	}
	return b.Flush()
}

func usbLine(rd Radio) string {
	if rd.VID == "" {
		return ""
	}
	s := rd.VID + ":" + rd.PID
	if rd.Manufacturer != "" {
		s += fmt.Sprintf(" %q", rd.Manufacturer)
	}
	if rd.Product != "" {
		s += fmt.Sprintf(" %q", rd.Product)
	}
	if rd.Serial != "" {
		s += ", serial " + rd.Serial
	}
	if rd.Interface != nil {
		s += fmt.Sprintf(", interface %02x", *rd.Interface)
	}
	if rd.Driver != "" {
		s += ", driver " + rd.Driver
	}
	return s
}

// memoryMeaning says what the board size means for the install; the
// thresholds are the config's (config FromHardware).
func memoryMeaning(board int64) string {
	switch {
	case board < gib:
		return "too little for Home Assistant; small resource size, ESPHome left out"
	case board < 2*gib:
		return "small resource size, ESPHome left out"
	case board < 8*gib:
		return "medium resource size"
	}
	return "large resource size"
}
