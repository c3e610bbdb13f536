// Package manifests renders every Kubernetes object of the hakube stack from
// embedded templates. Render is pure: no disk, no network, no clock and no
// randomness; secrets come in as input, and the same input always gives the
// same bytes.
//
// Each component gets one file whose name is a valid, unique k3s Addon name
// (the part before the first '.'), so k3s's auto-deploy controller tracks
// every component on its own. Claims and namespaces are laid out so that k3s's
// pruning can never delete them (docs/data-safety.md): every claim lives in
// one volumes file that only ever gains claims, and claims and namespaces
// carry wrangler's "never prune" label.
package manifests

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"

	"sigs.k8s.io/yaml"

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

// Options are facts about the target cluster and the install that change
// what is rendered. The zero value renders as before these fields existed
// (no identity marker, no kept claims).
type Options struct {
	// ServiceMonitorCRD says the Prometheus operator's CRD exists; with
	// monitoring: auto a ServiceMonitor is rendered only then.
	ServiceMonitorCRD bool
	// InstallID identifies one install (made once by the installer and
	// kept in its state directory). When set, every file starts with a
	// marker line (see ReadMarker) and every object carries the label
	// LabelInstallID, so an installer can refuse to overwrite files or
	// objects of another install. 1-63 characters: a-z, 0-9 and '-'.
	InstallID string
	// KeepClaims are the claims rendered before (ParseClaims of the previous
	// volumes file, and of the older per-component files on the first
	// upgrade). Each is rendered again exactly as it was, even when its
	// component is off or its namespace is no longer the configured one: a
	// claim never leaves the volumes file, so k3s never prunes it.
	KeepClaims []Claim
	// Images replaces the pinned image table (see Versions), for tests that
	// upgrade to an image the table does not hold.
	Images map[string]Image
}

// Claim is one PersistentVolumeClaim as the volumes file holds it.
type Claim struct {
	Namespace, Name, StorageClass, Size string
	// App and Component are its app.kubernetes.io/name and /component.
	App, Component string
}

// LabelInstallID carries Options.InstallID on every rendered object.
const LabelInstallID = "hakube.io/install-id"

// LabelNoPrune is wrangler's label (k3s applies manifests with wrangler):
// an object labelled "false" is never pruned when it leaves its file
// (rancher/wrangler pkg/apply/desiredset_process.go, shouldPrune).
const LabelNoPrune = "objectset.rio.cattle.io/prune"

// RetainStorageClass is hakube's StorageClass: k3s's local-path provisioner
// with reclaimPolicy Retain, the default for new installs.
const RetainStorageClass = config.RetainStorageClass

// VolumesFile holds every claim and hakube's StorageClass.
const VolumesFile = "hakube-05-volumes.yaml"

var installIDRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

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
	{VolumesFile, "volumes", "volumes.yaml", always},
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
// valid (config.Load validates); secrets must hold what cfg needs. Every
// document is parsed before Render returns: a file k3s could not read is an
// error here, never a file on disk.
func Render(cfg *config.Config, sec Secrets, opts Options) ([]File, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := sec.check(cfg.Has(config.MQTT), cfg.MQTTExposed() && cfg.ClusterIssuer == "", cfg.UsesPostgreSQL(), cfg.Has(config.NodeRED),
		cfg.Has(config.ESPHome), cfg.Has(config.Zigbee2MQTT), cfg.Database == config.DatabaseExternal); err != nil {
		return nil, err
	}
	if opts.InstallID != "" && !installIDRE.MatchString(opts.InstallID) {
		return nil, fmt.Errorf("install id %q is not valid: 1-63 characters a-z, 0-9 and '-'", opts.InstallID)
	}
	v, err := newView(cfg, &sec, opts)
	if err != nil {
		return nil, err
	}
	tmpl, err := templates.Clone()
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	tmpl.Funcs(template.FuncMap{"labels": v.labels})
	var files []File
	for _, p := range parts {
		if !p.want(cfg, opts) {
			continue
		}
		f, err := v.render(tmpl, p)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}

func (v *view) render(tmpl *template.Template, p part) (File, error) {
	var b bytes.Buffer
	if v.InstallID != "" {
		fmt.Fprintf(&b, "%s install-id=%s namespace=%s\n", markerPrefix, v.InstallID, v.C.Namespace)
	}
	if err := tmpl.ExecuteTemplate(&b, p.tmpl, v); err != nil {
		return File{}, fmt.Errorf("render %s: %w", p.file, err)
	}
	content := bytes.TrimLeft(b.Bytes(), "\n")
	if err := checkDocuments(content); err != nil {
		return File{}, fmt.Errorf("render %s: %w", p.file, err)
	}
	return File{
		Name:      p.file,
		Component: p.component,
		Content:   content,
		Sensitive: bytes.Contains(content, []byte("\nkind: Secret\n")),
	}, nil
}

// checkDocuments parses every YAML document of content as k3s will: each
// must be a mapping with apiVersion, kind and metadata.name. A value that
// YAML reads as something else (an alias, a number) fails here.
func checkDocuments(content []byte) error {
	for i, d := range splitDocuments(content) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(d, &head); err != nil {
			return fmt.Errorf("document %d is not valid YAML: %w", i+1, err)
		}
		if head.APIVersion == "" || head.Kind == "" || head.Metadata.Name == "" {
			return fmt.Errorf("document %d has no apiVersion, kind or metadata.name", i+1)
		}
	}
	return nil
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*\n`)

// splitDocuments returns the non-empty YAML documents of content.
func splitDocuments(content []byte) [][]byte {
	var out [][]byte
	for _, d := range docSep.Split(string(content), -1) {
		empty := true
		for _, l := range strings.Split(d, "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				empty = false
				break
			}
		}
		if !empty {
			out = append(out, []byte(d))
		}
	}
	return out
}

const markerPrefix = "# hakube:"

// Marker is the identity line that starts every file rendered with an
// Options.InstallID.
type Marker struct {
	InstallID, Namespace string
}

var markerRE = regexp.MustCompile(`^# hakube: install-id=([a-z0-9-]+) namespace=([a-z0-9-]+)\n`)

// ReadMarker returns the identity marker of a rendered file's content, and
// false when it has none (a file from before markers, or not ours). An
// installer compares it with its own before overwriting the file.
func ReadMarker(content []byte) (Marker, bool) {
	m := markerRE.FindSubmatch(content)
	if m == nil {
		return Marker{}, false
	}
	return Marker{InstallID: string(m[1]), Namespace: string(m[2])}, true
}

// ParseClaims returns the PersistentVolumeClaims in a rendered file's
// content (any of our files, of this version or an older one), for
// Options.KeepClaims.
func ParseClaims(content []byte) ([]Claim, error) {
	var out []Claim
	for i, d := range splitDocuments(content) {
		var o struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string            `json:"name"`
				Namespace string            `json:"namespace"`
				Labels    map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec struct {
				StorageClassName string `json:"storageClassName"`
				Resources        struct {
					Requests map[string]string `json:"requests"`
				} `json:"resources"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(d, &o); err != nil {
			return nil, fmt.Errorf("parse claims: document %d: %w", i+1, err)
		}
		if o.Kind != "PersistentVolumeClaim" {
			continue
		}
		c := Claim{
			Namespace: o.Metadata.Namespace, Name: o.Metadata.Name,
			StorageClass: o.Spec.StorageClassName, Size: o.Spec.Resources.Requests["storage"],
			App: o.Metadata.Labels["app.kubernetes.io/name"], Component: o.Metadata.Labels["app.kubernetes.io/component"],
		}
		if c.Namespace == "" || c.Name == "" || c.StorageClass == "" || c.Size == "" {
			return nil, fmt.Errorf("parse claims: claim %q in document %d lacks its namespace, storage class or size", c.Name, i+1)
		}
		out = append(out, c)
	}
	return out, nil
}

// view is what the templates see.
type view struct {
	C          *config.Config
	S          *Secrets
	Images     map[string]string
	Res        map[string]Resources
	Monitoring bool
	InstallID  string
	// Checksums are keyed hashes of what each workload mounts or reads
	// from its environment, by component: a change rolls its pod.
	Checksums map[string]string
	// ConfigChecksum is Home Assistant's (Checksums["home-assistant"]).
	ConfigChecksum string
	// Generated file contents, built in Go where a template would be fragile.
	MosquittoPasswd string
	MosquittoConf   string
	MosquittoACL    string
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
	MQTTChecksum       string
	// RadioNS is the namespace of the USB radio's workload ("" without one).
	RadioNS string
	// Z2MNamespace is where Zigbee2MQTT runs: RadioNS, or the namespace.
	Z2MNamespace string
	// MQTTHost and MQTTURL are the broker's Service address.
	MQTTHost, MQTTURL string
	// MQTTLAN is the LAN Service's type ("" when the broker is not
	// exposed); MQTTCertificate says cert-manager signs its TLS
	// certificate, else hakube's own CA does (MQTTTLSSecret).
	MQTTLAN         string
	MQTTCertificate bool
	MQTTTLSSecret   bool
	// MQTTCertDNS and MQTTCertIPs are the names and addresses the
	// cert-manager Certificate asks for.
	MQTTCertDNS, MQTTCertIPs []string
	// HAServiceType is the Service type of Home Assistant: ClusterIP behind
	// a TLS Ingress, whatever service-type says.
	HAServiceType string
	RetainClass   string
	Claims        []pvcView
	// KeptNS are namespaces that hold kept claims but are neither the
	// namespace nor the radio's: still rendered, so nothing prunes them.
	KeptNS  []string
	NetPols map[string]string
	// Dashboards are, by component file, the NodePort Services that put a
	// dashboard on the LAN (config.DashboardPort); absent when off.
	Dashboards map[string]string
	// IngressDashboards are the dashboards behind the Ingress in the
	// namespace; RadioIngress the one in the radio's namespace (an Ingress
	// reaches only Services of its own namespace).
	IngressDashboards []ingressDashboard
	RadioIngress      []ingressDashboard
	// IngressHosts are every host of the namespace's Ingress (its TLS
	// certificate names them all).
	IngressHosts []string
}

// ingressDashboard is one dashboard's rule in an Ingress.
type ingressDashboard struct {
	Host, Service, Port string
}

//go:embed seed.sh
var seedScript string

// pvcView is what the "pvc" template sees.
type pvcView struct {
	Name, Namespace, StorageClass, Size, App, Component string
}

func (v *view) labelMap(name, component string) map[string]string {
	m := map[string]string{
		"app.kubernetes.io/name":       name,
		"app.kubernetes.io/instance":   "hakube",
		"app.kubernetes.io/component":  component,
		"app.kubernetes.io/part-of":    "hakube",
		"app.kubernetes.io/managed-by": "hakube",
	}
	if v.InstallID != "" {
		m[LabelInstallID] = v.InstallID
	}
	return m
}

func (v *view) labels(name, component string) string {
	s := fmt.Sprintf("app.kubernetes.io/name: %s\napp.kubernetes.io/instance: hakube\napp.kubernetes.io/component: %s\napp.kubernetes.io/part-of: hakube\napp.kubernetes.io/managed-by: hakube", name, component)
	if v.InstallID != "" {
		s += "\n" + LabelInstallID + ": " + v.InstallID
	}
	return s
}

// RadioNamespace is the namespace of the radio workload for cfg: a USB
// coordinator needs a privileged container, which Home Assistant's
// namespace (Pod Security baseline) does not admit. "" when there is none.
func RadioNamespace(cfg *config.Config) string {
	if !cfg.Has(config.Zigbee2MQTT) || zigbeeNetworked(cfg) {
		return ""
	}
	return cfg.Namespace + "-radio"
}

func zigbeeNetworked(cfg *config.Config) bool {
	return strings.HasPrefix(cfg.ZigbeeDevice, "tcp://") || strings.HasPrefix(cfg.ZigbeeDevice, "mdns://")
}

// wantedClaims are the claims cfg's workloads mount.
func wantedClaims(cfg *config.Config, z2mNS string) []Claim {
	ns, sc, vol := cfg.Namespace, cfg.StorageClass, cfg.Volumes
	out := []Claim{
		{ns, "home-assistant-config-0", sc, vol.Config, "home-assistant", "server"},
		{ns, "home-assistant-media-0", sc, vol.Media, "home-assistant", "server"},
		{ns, "home-assistant-share-0", sc, vol.Share, "home-assistant", "server"},
		{ns, "home-assistant-backups-0", sc, vol.Backups, "home-assistant", "server"},
	}
	if cfg.Has(config.MQTT) {
		out = append(out, Claim{ns, "home-assistant-mqtt-data-0", sc, vol.MQTTData, "mosquitto", "mqtt"})
	}
	if cfg.Has(config.NodeRED) {
		out = append(out, Claim{ns, "home-assistant-nodered-data-0", sc, vol.NodeRED, "node-red", "nodered"})
	}
	if cfg.Has(config.ESPHome) {
		out = append(out, Claim{ns, "home-assistant-esphome-data-0", sc, vol.ESPHome, "esphome", "esphome"})
	}
	if cfg.Has(config.Zigbee2MQTT) {
		out = append(out, Claim{z2mNS, "home-assistant-zigbee2mqtt-data-0", sc, vol.Zigbee2MQTT, "zigbee2mqtt", "zigbee2mqtt"})
		if z2mNS != ns {
			// The radio namespace's backup job writes its part of each
			// run here (a claim is mounted only in its own namespace).
			out = append(out, Claim{z2mNS, "home-assistant-backups-0", sc, vol.Backups, "zigbee2mqtt", "backup"})
		}
	}
	if cfg.UsesPostgreSQL() {
		out = append(out, Claim{ns, "postgresql-data-0", sc, vol.PostgreSQL, "postgresql", "postgresql"})
	}
	return out
}

// mergeClaims renders every kept claim as it was and adds the wanted ones
// not yet there, sorted by namespace and name.
func mergeClaims(keep, want []Claim) ([]pvcView, error) {
	type key struct{ ns, name string }
	byKey := map[key]Claim{}
	for _, c := range keep {
		if c.Namespace == "" || c.Name == "" || c.StorageClass == "" || c.Size == "" {
			return nil, fmt.Errorf("kept claim %s/%s lacks its namespace, name, storage class or size", c.Namespace, c.Name)
		}
		k := key{c.Namespace, c.Name}
		if prev, dup := byKey[k]; dup && prev != c {
			return nil, fmt.Errorf("kept claim %s/%s is given twice, differently", c.Namespace, c.Name)
		}
		byKey[k] = c
	}
	for _, c := range want {
		if _, ok := byKey[key{c.Namespace, c.Name}]; !ok {
			byKey[key{c.Namespace, c.Name}] = c
		}
	}
	out := make([]pvcView, 0, len(byKey))
	for _, c := range byKey {
		if c.App == "" {
			c.App = "hakube"
		}
		if c.Component == "" {
			c.Component = "volumes"
		}
		out = append(out, pvcView{Name: c.Name, Namespace: c.Namespace, StorageClass: c.StorageClass, Size: c.Size, App: c.App, Component: c.Component})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func newView(cfg *config.Config, sec *Secrets, opts Options) (*view, error) {
	v := &view{C: cfg, S: sec, Images: map[string]string{}, Monitoring: monitoringOn(cfg, opts), SeedScript: seedScript,
		InstallID: opts.InstallID, RetainClass: RetainStorageClass, Checksums: map[string]string{}}
	v.ZigbeeNetworked = zigbeeNetworked(cfg)
	v.RadioNS = RadioNamespace(cfg)
	v.Z2MNamespace = cfg.Namespace
	if v.RadioNS != "" {
		v.Z2MNamespace = v.RadioNS
	}
	v.MQTTHost = "home-assistant-mqtt." + cfg.Namespace + ".svc"
	v.MQTTURL = "mqtt://" + v.MQTTHost + ":1883"
	v.HAServiceType = string(cfg.ServiceType)
	if cfg.IngressTLS {
		v.HAServiceType = string(config.ClusterIP)
	}
	claims, err := mergeClaims(opts.KeepClaims, wantedClaims(cfg, v.Z2MNamespace))
	if err != nil {
		return nil, err
	}
	v.Claims = claims
	for _, c := range claims {
		if c.Namespace != cfg.Namespace && c.Namespace != v.RadioNS && !slices.Contains(v.KeptNS, c.Namespace) {
			v.KeptNS = append(v.KeptNS, c.Namespace)
		}
	}
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
	key := sec.checksumKey()
	if cfg.Has(config.MQTT) {
		var lines []string
		for _, u := range append([]MQTTUser{sec.MQTTHomeAssistant, sec.MQTTNodeRED, sec.MQTTZigbee2MQTT}, sec.MQTTDevices...) {
			l, err := MosquittoHash(u)
			if err != nil {
				return nil, err
			}
			lines = append(lines, l)
		}
		v.MosquittoPasswd = strings.Join(lines, "\n") + "\n"
		if cfg.MQTTExposed() {
			v.MQTTLAN = string(cfg.MQTTExpose)
			if cfg.ClusterIssuer != "" {
				v.MQTTCertificate = true
				v.MQTTCertDNS = []string{v.MQTTHost, "home-assistant-mqtt-lan." + cfg.Namespace + ".svc"}
				for _, h := range cfg.MQTTTLSHosts {
					if net.ParseIP(h) != nil {
						v.MQTTCertIPs = append(v.MQTTCertIPs, h)
					} else {
						v.MQTTCertDNS = append(v.MQTTCertDNS, h)
					}
				}
			} else {
				v.MQTTTLSSecret = true
			}
		}
		v.MosquittoConf = mosquittoConf(cfg.MQTTWebsockets, v.MQTTLAN != "")
		v.MosquittoACL = mosquittoACL(sec)
		// The server certificate is in the checksum: Mosquitto reads it
		// only when it starts.
		parts := []string{v.MosquittoConf, v.MosquittoACL, v.MosquittoPasswd}
		if v.MQTTTLSSecret {
			parts = append(parts, sec.MQTTTLS.ServerCert)
		}
		v.MQTTChecksum = keyedChecksum(key, parts...)
	}
	if cfg.Has(config.Zigbee2MQTT) {
		v.Z2MConfig = zigbee2mqttConfig(cfg, sec, v.MQTTURL)
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
		v.PostgreSQLChecksum = keyedChecksum(key, postgresInitSQL, sec.PostgreSQLPassword)
	case config.DatabaseExternal:
		v.RecorderURL = sec.DatabaseURL
	}
	if v.RecorderURL != "" {
		v.HASecrets = "# hakube: managed file, rewritten on every start.\nrecorder_db_url: " + yamlString(v.RecorderURL) + "\n"
	}
	v.HAPackage = haPackage(cfg, v.Monitoring)
	if cfg.Has(config.NodeRED) {
		v.NodeREDSettings = nodeREDSettings
		v.Checksums["nodered"] = keyedChecksum(key, nodeREDSettings, sec.NodeREDPassword, sec.NodeREDCredentialSecret,
			sec.MQTTNodeRED.Username, sec.MQTTNodeRED.Password)
	}
	if cfg.Has(config.ESPHome) {
		v.Checksums["esphome"] = keyedChecksum(key, sec.ESPHomePassword)
	}
	if cfg.Has(config.Zigbee2MQTT) {
		v.Checksums["zigbee2mqtt"] = keyedChecksum(key, v.Z2MConfig, v.Z2MSecret)
	}
	v.ConfigChecksum = keyedChecksum(key, v.HAPackage, v.HASecrets, seedScript)
	v.NetPols, err = networkPolicies(v)
	if err != nil {
		return nil, err
	}
	if v.Dashboards, err = dashboardServices(v); err != nil {
		return nil, err
	}
	v.IngressHosts = []string{cfg.IngressHost}
	for _, d := range Dashboards() {
		host := cfg.DashboardHost(d.Component)
		if host == "" {
			continue
		}
		r := ingressDashboard{Host: host, Service: "home-assistant-" + string(d.Component), Port: d.Name}
		if d.Component == config.Zigbee2MQTT && v.RadioNS != "" {
			v.RadioIngress = append(v.RadioIngress, r)
			continue
		}
		v.IngressDashboards = append(v.IngressDashboards, r)
		v.IngressHosts = append(v.IngressHosts, host)
	}
	return v, nil
}

// Dashboard is one web interface hakube can put on the LAN.
type Dashboard struct {
	Component config.Component
	// App is the pods' app.kubernetes.io/name, Label the component label.
	App, Label string
	// Port is the container's port; Name its port name.
	Port int
	Name string
}

// Dashboards lists the web interfaces of the optional components.
func Dashboards() []Dashboard {
	return []Dashboard{
		{config.NodeRED, "node-red", "nodered", 1880, "nodered"},
		{config.ESPHome, "esphome", "esphome", 6052, "esphome"},
		{config.Zigbee2MQTT, "zigbee2mqtt", "zigbee2mqtt", 8080, "zigbee2mqtt"},
	}
}

// DashboardService is the name of a dashboard's LAN Service.
func DashboardService(comp config.Component) string {
	return "home-assistant-" + string(comp) + "-lan"
}

func dashboardServices(v *view) (map[string]string, error) {
	out := map[string]string{}
	for _, d := range Dashboards() {
		port := v.C.DashboardPort(d.Component)
		if port == 0 {
			continue
		}
		ns := v.C.Namespace
		if d.Component == config.Zigbee2MQTT {
			ns = v.Z2MNamespace
		}
		obj := map[string]any{
			"apiVersion": "v1",
			"kind":       "Service",
			"metadata":   map[string]any{"name": DashboardService(d.Component), "namespace": ns, "labels": v.labelMap(d.App, d.Label)},
			"spec": map[string]any{
				"type": "NodePort",
				// The dashboard sees the browser's own address.
				"externalTrafficPolicy": "Local",
				"selector":              map[string]string{"app.kubernetes.io/name": d.App, "app.kubernetes.io/instance": "hakube"},
				"ports":                 []any{map[string]any{"name": d.Name, "port": d.Port, "targetPort": d.Name, "protocol": "TCP", "nodePort": port}},
			},
		}
		b, err := yaml.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("render the %s dashboard's service: %w", d.Component, err)
		}
		out[string(d.Component)] = "# " + string(d.Component) + "'s dashboard on the LAN, behind its own login ('hakube credentials " + string(d.Component) + "').\n" + strings.TrimRight(string(b), "\n")
	}
	return out, nil
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

// keyedChecksum is an HMAC-SHA256 of parts under key: it changes when any
// part does, and tells nothing about a part (the recorder URL, a password)
// to someone who can read the pod template but not the key.
func keyedChecksum(key []byte, parts ...string) string {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		_, _ = io.WriteString(h, p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// yamlString quotes s as a YAML (and JSON) double-quoted string.
func yamlString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

var errNoTemplate = errors.New("labels is set per render")

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
	// labels is replaced in each render's clone (view.labels): it carries
	// the install's identity.
	"labels": func(string, string) (string, error) { return "", errNoTemplate },
	"selector": func(name string) string {
		return fmt.Sprintf("app.kubernetes.io/name: %s\napp.kubernetes.io/instance: hakube", name)
	},
}

// Workload is one StatefulSet Render produces.
type Workload struct {
	Namespace, Name, Component string
}

// Workloads lists the StatefulSets Render produces for cfg, Home Assistant
// first, so an installer can wait for each and report each on its own (a
// failing Zigbee2MQTT no longer stops Home Assistant).
func Workloads(cfg *config.Config) []Workload {
	ns := cfg.Namespace
	out := []Workload{{ns, "home-assistant", "home-assistant"}}
	if cfg.Has(config.MQTT) {
		out = append(out, Workload{ns, "home-assistant-mqtt", "mqtt"})
	}
	if cfg.Has(config.NodeRED) {
		out = append(out, Workload{ns, "home-assistant-nodered", "nodered"})
	}
	if cfg.Has(config.ESPHome) {
		out = append(out, Workload{ns, "home-assistant-esphome", "esphome"})
	}
	if cfg.Has(config.Zigbee2MQTT) {
		z := ns
		if r := RadioNamespace(cfg); r != "" {
			z = r
		}
		out = append(out, Workload{z, "home-assistant-zigbee2mqtt", "zigbee2mqtt"})
	}
	if cfg.UsesPostgreSQL() {
		out = append(out, Workload{ns, "home-assistant-postgresql", "postgresql"})
	}
	return out
}
