package manifests

import (
	_ "embed"
	"slices"
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
	// Namespace is the claim's namespace.
	Namespace string
	// Part is "" for a volume in the run's main archive; else the name of
	// the part archive it goes in, written by the backup job of Namespace
	// (a claim is only mounted in its own namespace): "zigbee2mqtt" for a
	// USB radio's data, which lives in RadioNamespace.
	Part string
}

// RadioBackupCronJob is the backup job of the radio's namespace: same
// schedule as the main one, writing the part "zigbee2mqtt" of each run.
const RadioBackupCronJob = "home-assistant-zigbee2mqtt-backup"

// BackupVolumes lists what the backup job archives for cfg, in archive
// order. The PostgreSQL dump ("postgresql/homeassistant.dump") comes on
// top when cfg bundles PostgreSQL.
func BackupVolumes(cfg *config.Config) []BackupVolume {
	ns := cfg.Namespace
	out := []BackupVolume{
		{Name: "hakube", Namespace: ns},
		{Name: "home-assistant", Claim: "home-assistant-config-0", App: "home-assistant", Namespace: ns},
	}
	if cfg.Has(config.Zigbee2MQTT) {
		z := BackupVolume{Name: "zigbee2mqtt", Claim: "home-assistant-zigbee2mqtt-data-0", App: "zigbee2mqtt", Namespace: ns}
		if r := RadioNamespace(cfg); r != "" {
			z.Namespace, z.Part = r, "zigbee2mqtt"
		}
		out = append(out, z)
	}
	if cfg.Has(config.NodeRED) {
		out = append(out, BackupVolume{Name: "nodered", Claim: "home-assistant-nodered-data-0", App: "node-red", Namespace: ns})
	}
	if cfg.Has(config.ESPHome) {
		out = append(out, BackupVolume{Name: "esphome", Claim: "home-assistant-esphome-data-0", App: "esphome", Namespace: ns})
	}
	return out
}

// BackupParts are the part archives each run of cfg's backup writes next
// to the main one, in the order of BackupVolumes.
func BackupParts(cfg *config.Config) []string {
	var out []string
	for _, v := range BackupVolumes(cfg) {
		if v.Part != "" && !slices.Contains(out, v.Part) {
			out = append(out, v.Part)
		}
	}
	return out
}

// BackupScript and the rest are what backup.yaml sees.
func (v *view) BackupScript() string       { return backupScript }
func (v *view) BackupPGDumpScript() string { return backupPGDumpScript }
func (v *view) HakubeVersion() string      { return Version }

// BackupSources is the main job's SOURCES: name:mount-path for every
// volume of the main archive.
func (v *view) BackupSources() string { return backupSources(v.C, "") }

// RadioBackupSources is SOURCES of the radio namespace's job.
func (v *view) RadioBackupSources() string { return backupSources(v.C, "zigbee2mqtt") }

// BackupParts is the main job's PARTS: the part archives that belong to
// each run, recorded in its manifest.
func (v *view) BackupParts() string { return strings.Join(BackupParts(v.C), " ") }

func backupSources(cfg *config.Config, part string) string {
	var parts []string
	for _, b := range BackupVolumes(cfg) {
		if b.Part == part {
			parts = append(parts, b.Name+":/data/"+b.Name)
		}
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
