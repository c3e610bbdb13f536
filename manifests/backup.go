package manifests

import (
	_ "embed"
	"sort"
	"strings"

	"github.com/hakube/hakube/config"
)

// Version is hakube's release, recorded in every backup's manifest. The
// Makefile sets it with -ldflags -X, as it does the command's version.
var Version = "dev"

//go:embed backup.py
var backupScript string

//go:embed backup-pg-dump.sh
var backupPGDumpScript string

// BackupScript is the backup job's program (Python, run by the Home
// Assistant image). Tests run it outside the cluster.
func BackupScript() string { return backupScript }

// BackupPGDumpScript is the backup job's PostgreSQL dump step (sh, run by
// the PostgreSQL image before the archive is written).
func BackupPGDumpScript() string { return backupPGDumpScript }

// BackupStateDir is where the backup job mounts hakube's own settings and
// credentials; in an archive they are under "hakube/".
const BackupStateDir = "/data/hakube"

// BackupVolume is one volume the backup job archives, under the prefix
// Name in the archive.
type BackupVolume struct {
	// Name is the archive prefix: hakube, home-assistant, zigbee2mqtt, nodered or esphome.
	Name string
	// Claim is the PersistentVolumeClaim; "" for hakube's state (a Secret).
	Claim string
	// App is the app.kubernetes.io/name label of the workload using it.
	App string
}

// BackupVolumes lists what the backup job archives for cfg, in archive
// order. The PostgreSQL dump ("postgresql/homeassistant.dump") comes on
// top when cfg bundles PostgreSQL.
func BackupVolumes(cfg *config.Config) []BackupVolume {
	out := []BackupVolume{
		{Name: "hakube"},
		{Name: "home-assistant", Claim: "home-assistant-config-0", App: "home-assistant"},
	}
	if cfg.Has(config.Zigbee2MQTT) {
		out = append(out, BackupVolume{Name: "zigbee2mqtt", Claim: "home-assistant-zigbee2mqtt-data-0", App: "home-assistant"})
	}
	if cfg.Has(config.NodeRED) {
		out = append(out, BackupVolume{Name: "nodered", Claim: "home-assistant-nodered-data-0", App: "home-assistant"})
	}
	if cfg.Has(config.ESPHome) {
		out = append(out, BackupVolume{Name: "esphome", Claim: "home-assistant-esphome-data-0", App: "home-assistant"})
	}
	return out
}

// BackupScript and the rest are what backup.yaml sees.
func (v *view) BackupScript() string       { return backupScript }
func (v *view) BackupPGDumpScript() string { return backupPGDumpScript }
func (v *view) HakubeVersion() string      { return Version }

// BackupSources is the job's SOURCES: name:mount-path for every volume.
func (v *view) BackupSources() string {
	var parts []string
	for _, b := range BackupVolumes(v.C) {
		parts = append(parts, b.Name+":/data/"+b.Name)
	}
	return strings.Join(parts, " ")
}

// BackupComponentVersions is the job's COMPONENT_VERSIONS: the image tag of
// every component cfg runs.
func (v *view) BackupComponentVersions() string {
	var parts []string
	for _, name := range neededImages(v.C) {
		ref := v.Images[name]
		parts = append(parts, name+"="+ref[strings.LastIndex(ref, ":")+1:])
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
