package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hakube/hakube/hwdetect"
)

// Memory thresholds for the resource size, by the board's nominal size.
const (
	gib            = int64(1) << 30
	smallBoardMax  = 2 * gib // below: small, no ESPHome
	largeBoardMin  = 8 * gib // from here: large
	tinyBoardLimit = 1 * gib // below: warn
)

// FromHardware returns an Adjuster that turns what hwdetect found into
// defaults. It never overrides a key the user set:
//
//   - exactly one Zigbee coordinator: zigbee-device (its stable path),
//     zigbee-adapter, zigbee-baudrate and zigbee-rtscts are set, and
//     zigbee2mqtt and mqtt join the components;
//   - two or more: unattended, the user must choose (an error lists them);
//     interactively, a note lists them;
//   - a board under 2 GiB gets resource-size small and no ESPHome, one from
//     8 GiB gets large, and one under 1 GiB a warning;
//   - arch is the board's userland architecture, so images that run on it
//     are picked.
//
// The adjuster runs before the user's settings, so it cannot see their
// values, only which keys are set: with components set explicitly, a
// detected coordinator is reported but not configured.
func FromHardware(r *hwdetect.Report, unattended bool) Adjuster {
	return func(c *Config, isSet func(key string) bool) ([]string, error) {
		if r == nil {
			return nil, nil
		}
		var notes []string
		n, err := zigbeeFromHardware(r, unattended, c, isSet)
		if err != nil {
			return nil, err
		}
		notes = append(notes, n...)
		for _, rd := range r.Radios {
			if rd.Kind == hwdetect.KindZWave {
				notes = append(notes, fmt.Sprintf("Z-Wave stick %s at %s: left alone (hakube has no Z-Wave component yet)", rd.Name, rd.Path))
			}
		}
		notes = append(notes, memoryFromHardware(r, c, isSet)...)
		notes = append(notes, archFromHardware(r, c, isSet)...)
		notes = append(notes, timezoneFromHardware(r, c, isSet)...)
		return notes, nil
	}
}

func zigbeeFromHardware(r *hwdetect.Report, unattended bool, c *Config, isSet func(string) bool) ([]string, error) {
	zs := r.ZigbeeCoordinators()
	if len(zs) == 0 || isSet("zigbee-device") {
		return nil, nil
	}
	if len(zs) > 1 {
		list := make([]string, len(zs))
		for i, rd := range zs {
			list[i] = fmt.Sprintf("%s at %s", rd.Name, rd.Path)
		}
		msg := fmt.Sprintf("%d Zigbee coordinators found (%s): set zigbee-device to the path of the one Zigbee2MQTT should use",
			len(zs), strings.Join(list, "; "))
		if unattended && !isSet("components") {
			return nil, &Error{Problems: []Problem{{Key: "zigbee-device", Msg: msg}}}
		}
		return []string{msg}, nil
	}
	rd := zs[0]
	if isSet("components") {
		return []string{fmt.Sprintf("Zigbee coordinator %s found at %s but not configured, as components were chosen explicitly: "+
			"to use it, add zigbee2mqtt to components and set zigbee-device: %s", rd.Name, rd.Path, rd.Path)}, nil
	}
	c.ZigbeeDevice = rd.Path
	if rd.Adapter != "" && !isSet("zigbee-adapter") {
		c.ZigbeeAdapter = rd.Adapter
	}
	if rd.Baudrate != 0 && !isSet("zigbee-baudrate") {
		c.ZigbeeBaudrate = rd.Baudrate
	}
	if rd.RTSCTS != nil && !isSet("zigbee-rtscts") {
		c.ZigbeeRTSCTS = *rd.RTSCTS
	}
	for _, comp := range []Component{Zigbee2MQTT, MQTT} {
		if !c.Has(comp) {
			c.Components = append(c.Components, comp)
		}
	}
	note := fmt.Sprintf("Zigbee coordinator %s at %s: Zigbee2MQTT will use it", rd.Name, rd.Path)
	if c.ZigbeeAdapter != "" {
		note += " (adapter " + c.ZigbeeAdapter + ")"
	} else {
		note += "; set zigbee-adapter to match its firmware"
	}
	return []string{note}, nil
}

func memoryFromHardware(r *hwdetect.Report, c *Config, isSet func(string) bool) []string {
	board := r.Memory.BoardBytes
	if board <= 0 {
		return nil
	}
	size := hwdetect.HumanBytes(board)
	var notes []string
	if board < tinyBoardLimit {
		notes = append(notes, fmt.Sprintf("only %s of memory: Home Assistant alone needs about 1 GiB, expect it to be slow", size))
	}
	switch {
	case board < smallBoardMax:
		var did []string
		if !isSet("resource-size") {
			c.ResourceSize = SizeSmall
			did = append(did, "resource-size small")
		}
		if !isSet("components") && c.Has(ESPHome) {
			c.Components = slices.DeleteFunc(c.Components, func(x Component) bool { return x == ESPHome })
			did = append(did, "esphome left out (its firmware builds need more memory)")
		}
		if len(did) > 0 {
			notes = append(notes, fmt.Sprintf("%s board: %s", size, strings.Join(did, ", ")))
		}
	case board >= largeBoardMin:
		if !isSet("resource-size") {
			c.ResourceSize = SizeLarge
		}
	}
	return notes
}

func archFromHardware(r *hwdetect.Report, c *Config, isSet func(string) bool) []string {
	a := Arch(r.Arch)
	switch {
	case r.ImageArch() == "":
		if r.Arch == "unknown" || r.Arch == "" {
			return nil
		}
		return []string{fmt.Sprintf("architecture %s: no images are published for it (amd64, arm64 and 32-bit ARMv7 are)", r.Arch)}
	case isSet("arch"):
		return nil
	}
	c.Arch = a
	if a == ArchAMD64 {
		return nil
	}
	return []string{fmt.Sprintf("%s board: images for %s are used", r.Arch, r.ImageArch())}
}

// timezoneFromHardware takes the host's time zone unless timezone is set.
func timezoneFromHardware(r *hwdetect.Report, c *Config, isSet func(string) bool) []string {
	if r.Timezone == "" || isSet("timezone") {
		return nil
	}
	if _, err := time.LoadLocation(r.Timezone); err != nil {
		return []string{fmt.Sprintf("the host's time zone %q (%s) is not a known IANA zone: set timezone", r.Timezone, r.TimezoneFrom)}
	}
	c.Timezone = r.Timezone
	return nil
}
