// Package manifests renders every Kubernetes object of the hakube stack from
// embedded templates. Render is pure: no disk, no network, no clock and no
// randomness; secrets come in as input, and the same input always gives the
// same bytes.
//
// Each component gets one file whose name is a valid, unique k3s Addon name
// (the part before the first '.'), so k3s's auto-deploy controller tracks
// every component on its own.
package manifests

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"text/template"

	"github.com/hakube/hakube/config"
)

//go:embed templates/*.yaml
var templateFS embed.FS

var templates = template.Must(template.New("").Option("missingkey=error").Funcs(funcs).ParseFS(templateFS, "templates/*.yaml"))

// File is one manifest file for k3s's auto-deploy directory.
type File struct {
	// Name is the file name; the part before the first '.' is the Addon name.
	Name string
	// Component is what the file installs (namespace, mqtt, home-assistant, …).
	Component string
	// Content is the YAML, one or more documents.
	Content []byte
	// Sensitive files hold Secret objects and must be written 0600.
	Sensitive bool
}

// Options are facts about the target cluster that change what is rendered.
type Options struct {
	// ServiceMonitorCRD says the Prometheus operator's CRD exists; with
	// monitoring: auto a ServiceMonitor is rendered only then.
	ServiceMonitorCRD bool
	// Images replaces the pinned image table (see Versions), for tests that
	// upgrade to an image the table does not hold.
	Images map[string]Image
}

// part is one file: its template and whether cfg wants it.
type part struct {
	file      string
	component string
	tmpl      string
	want      func(c *config.Config, o Options) bool
}

// FilePrefix starts every file name, so our Addons never collide with k3s's
// own (coredns, traefik, local-storage, …).
const FilePrefix = "hakube-"

var parts = []part{
	{"hakube-00-namespace.yaml", "namespace", "namespace.yaml", always},
	{"hakube-10-mqtt.yaml", "mqtt", "mqtt.yaml", has(config.MQTT)},
	{"hakube-10-nodered.yaml", "nodered", "nodered.yaml", has(config.NodeRED)},
	{"hakube-10-esphome.yaml", "esphome", "esphome.yaml", has(config.ESPHome)},
	{"hakube-10-zigbee2mqtt.yaml", "zigbee2mqtt", "zigbee2mqtt.yaml", has(config.Zigbee2MQTT)},
	{"hakube-20-postgresql.yaml", "postgresql", "postgresql.yaml", func(c *config.Config, _ Options) bool { return c.UsesPostgreSQL() }},
	{"hakube-30-home-assistant.yaml", "home-assistant", "home-assistant.yaml", always},
	{"hakube-40-ingress.yaml", "ingress", "ingress.yaml", func(c *config.Config, _ Options) bool { return c.IngressHost != "" }},
	{"hakube-50-monitoring.yaml", "monitoring", "monitoring.yaml", monitoringOn},
	{"hakube-60-backup.yaml", "backup", "backup.yaml", always},
}

func always(*config.Config, Options) bool { return true }

func has(comp config.Component) func(*config.Config, Options) bool {
	return func(c *config.Config, _ Options) bool { return c.Has(comp) }
}

func monitoringOn(c *config.Config, o Options) bool {
	return c.Monitoring == config.MonitoringOn || (c.Monitoring == config.MonitoringAuto && o.ServiceMonitorCRD)
}

// FileNames lists every file name Render can produce, for cleaning up files
// of components that were turned off.
func FileNames() []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.file
	}
	return out
}

// ComponentOf is the component a file installs: the value of its objects'
// app.kubernetes.io/component label, so a turned-off component's objects can
// be found. It is "" for a name Render never produces.
func ComponentOf(file string) string {
	for _, p := range parts {
		if p.file == file {
			return p.component
		}
	}
	return ""
}

// Render returns the manifest files for cfg, sorted by name. cfg must be
// valid (config.Load validates); secrets must hold what cfg needs.
func Render(cfg *config.Config, sec Secrets, opts Options) ([]File, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := sec.check(cfg.Has(config.MQTT), cfg.UsesPostgreSQL(), cfg.Has(config.NodeRED),
		cfg.Has(config.ESPHome), cfg.Has(config.Zigbee2MQTT), cfg.Database == config.DatabaseExternal); err != nil {
		return nil, err
	}
	v, err := newView(cfg, &sec, opts)
	if err != nil {
		return nil, err
	}
	var files []File
	// Everything but Home Assistant first: its pod template carries a
	// checksum of the configuration it mounts, so a change rolls the pod.
	var haPart part
	for _, p := range parts {
		if !p.want(cfg, opts) {
			continue
		}
		if p.component == "home-assistant" {
			haPart = p
			continue
		}
		f, err := v.render(p)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	var mounted []string
	for _, f := range files {
		if f.Component != "ingress" && f.Component != "monitoring" && f.Component != "backup" {
			mounted = append(mounted, string(f.Content))
		}
	}
	v.ConfigChecksum = checksum(append(mounted, v.HAPackage, v.HASecrets, seedScript)...)
	f, err := v.render(haPart)
	if err != nil {
		return nil, err
	}
	files = append(files, f)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}

func (v *view) render(p part) (File, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, p.tmpl, v); err != nil {
		return File{}, fmt.Errorf("render %s: %w", p.file, err)
	}
	content := bytes.TrimLeft(b.Bytes(), "\n")
	return File{
		Name:      p.file,
		Component: p.component,
		Content:   content,
		Sensitive: bytes.Contains(content, []byte("\nkind: Secret\n")),
	}, nil
}

// view is what the templates see.
type view struct {
	C              *config.Config
	S              *Secrets
	Images         map[string]string
	Res            map[string]Resources
	Monitoring     bool
	ConfigChecksum string
	// Generated file contents, built in Go where a template would be fragile.
	MosquittoPasswd string
	MosquittoConf   string
	Z2MConfig       string
	Z2MSecret       string
	HASecrets       string
	HAPackage       string
	NodeREDSettings string
	PostgreSQLInit  string
	RecorderURL     string
	SeedScript      string
	// ZigbeeNetworked is a network coordinator: no device, no privilege.
	ZigbeeNetworked    bool
	PostgreSQLChecksum string
}

//go:embed seed.sh
var seedScript string

// pvcView is what the "pvc" template sees.
type pvcView struct {
	Name, Namespace, StorageClass, Size, App, Component string
}

// PVC describes one standalone claim for the "pvc" template.
func (v *view) PVC(name, size, app, component string) pvcView {
	return pvcView{Name: name, Namespace: v.C.Namespace, StorageClass: v.C.StorageClass, Size: size, App: app, Component: component}
}

func newView(cfg *config.Config, sec *Secrets, opts Options) (*view, error) {
	v := &view{C: cfg, S: sec, Images: map[string]string{}, Monitoring: monitoringOn(cfg, opts), SeedScript: seedScript}
	v.ZigbeeNetworked = strings.HasPrefix(cfg.ZigbeeDevice, "tcp://") || strings.HasPrefix(cfg.ZigbeeDevice, "mdns://")
	images := versions
	if opts.Images != nil {
		images = opts.Images
	}
	for name, img := range images {
		ref, err := img.Ref(cfg.Arch)
		if err != nil {
			continue // only a problem if used: templates fail on a missing key
		}
		v.Images[name] = ref
	}
	for _, need := range neededImages(cfg) {
		if _, ok := v.Images[need]; !ok {
			return nil, fmt.Errorf("%s is not published for arch %s: remove it from components or use a 64-bit OS", need, cfg.Arch)
		}
	}
	v.Res = resourcesFor(cfg.ResourceSize)
	if cfg.Has(config.MQTT) {
		var lines []string
		for _, u := range []MQTTUser{sec.MQTTHomeAssistant, sec.MQTTNodeRED, sec.MQTTZigbee2MQTT} {
			l, err := MosquittoHash(u)
			if err != nil {
				return nil, err
			}
			lines = append(lines, l)
		}
		v.MosquittoPasswd = strings.Join(lines, "\n") + "\n"
		v.MosquittoConf = mosquittoConf
	}
	if cfg.Has(config.Zigbee2MQTT) {
		v.Z2MConfig = zigbee2mqttConfig(cfg, sec)
		v.Z2MSecret = zigbee2mqttSecret(sec)
	}
	switch cfg.Database {
	case config.DatabasePostgreSQL:
		v.RecorderURL = (&url.URL{
			Scheme: "postgresql",
			User:   url.UserPassword("homeassistant", sec.PostgreSQLPassword),
			Host:   fmt.Sprintf("home-assistant-postgresql.%s.svc:5432", cfg.Namespace),
			Path:   "/homeassistant",
		}).String()
		v.PostgreSQLInit = postgresInitSQL
		v.PostgreSQLChecksum = checksum(postgresInitSQL, sec.PostgreSQLPassword)
	case config.DatabaseExternal:
		v.RecorderURL = sec.DatabaseURL
	}
	if v.RecorderURL != "" {
		v.HASecrets = "# hakube: managed file, rewritten on every start.\nrecorder_db_url: " + yamlString(v.RecorderURL) + "\n"
	}
	v.HAPackage = haPackage(cfg, v.Monitoring)
	if cfg.Has(config.NodeRED) {
		v.NodeREDSettings = nodeREDSettings
	}
	return v, nil
}

func neededImages(cfg *config.Config) []string {
	out := []string{"home-assistant"}
	for _, c := range cfg.Components {
		switch c {
		case config.MQTT:
			out = append(out, "mosquitto")
		default:
			out = append(out, string(c))
		}
	}
	if cfg.UsesPostgreSQL() {
		out = append(out, "postgresql")
	}
	return out
}

func checksum(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// yamlString quotes s as a YAML (and JSON) double-quoted string.
func yamlString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

var funcs = template.FuncMap{
	"q":   yamlString,
	"b64": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"indent": func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		for i, l := range lines {
			if l != "" {
				lines[i] = pad + l
			}
		}
		return strings.Join(lines, "\n")
	},
	"labels": func(name, component string) string {
		return fmt.Sprintf("app.kubernetes.io/name: %s\napp.kubernetes.io/instance: hakube\napp.kubernetes.io/component: %s\napp.kubernetes.io/part-of: hakube\napp.kubernetes.io/managed-by: hakube", name, component)
	},
	"selector": func(name string) string {
		return fmt.Sprintf("app.kubernetes.io/name: %s\napp.kubernetes.io/instance: hakube", name)
	},
}
