package manifests

import (
	"fmt"
	"maps"
	"slices"

	"github.com/hakube/hakube/config"
)

// Image is one pinned container image. Tags are exact releases: an upgrade
// of hakube is the only thing that changes them.
type Image struct {
	Repository string
	Tag        string
	// Arches are the architectures the image is published for.
	Arches []config.Arch
	// ArchTags pins an older tag where the current one dropped an arch.
	ArchTags map[config.Arch]string
}

// Ref returns repository:tag for arch, or an error naming what to do when the
// image does not exist for arch.
func (i Image) Ref(arch config.Arch) (string, error) {
	if t, ok := i.ArchTags[arch]; ok {
		return i.Repository + ":" + t, nil
	}
	if !slices.Contains(i.Arches, arch) {
		return "", fmt.Errorf("%s has no image for %s", i.Repository, arch)
	}
	return i.Repository + ":" + i.Tag, nil
}

var allArches = []config.Arch{config.ArchAMD64, config.ArchARM64, config.ArchARM}

// versions is the one table of pinned images (read it with Versions). The seed's tags are the
// minimum; these are stable releases.
var versions = map[string]Image{
	"home-assistant": {
		Repository: "ghcr.io/home-assistant/home-assistant", Tag: "2026.9.4",
		Arches: []config.Arch{config.ArchAMD64, config.ArchARM64},
		// Home Assistant stopped publishing 32-bit ARM images after 2025.11.
		ArchTags: map[config.Arch]string{config.ArchARM: "2025.11.3"},
	},
	"mosquitto":   {Repository: "docker.io/library/eclipse-mosquitto", Tag: "2.0.22", Arches: allArches},
	"nodered":     {Repository: "docker.io/nodered/node-red", Tag: "4.1.8", Arches: allArches},
	"esphome":     {Repository: "ghcr.io/esphome/esphome", Tag: "2026.9.1", Arches: []config.Arch{config.ArchAMD64, config.ArchARM64}},
	"zigbee2mqtt": {Repository: "docker.io/koenkk/zigbee2mqtt", Tag: "2.14.1", Arches: allArches},
	"postgresql":  {Repository: "docker.io/library/postgres", Tag: "16.15-alpine", Arches: allArches},
}

// Versions returns a copy of the pinned images by component.
func Versions() map[string]Image { return maps.Clone(versions) }
