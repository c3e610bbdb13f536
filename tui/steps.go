package tui

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
)

// Step is one screen of the wizard.
type Step int

// The steps, in order.
const (
	StepMachine Step = iota
	StepProfile
	StepComponents
	StepRadio
	StepReach
	StepReview
	StepProgress
	StepDone
)

var stepNames = [...]string{"This machine", "Profile", "Components", "Radio", "Reaching it", "Review", "Progress", "Done"}

// String is the step's name, as its answers' config.WizardSource says.
func (s Step) String() string { return stepNames[s] }

// stepKeys are the settings each step answers. Changing a step's answers
// forgets the answers of the steps after it, whose defaults depend on them.
var stepKeys = map[Step][]string{
	StepProfile:    {"profile"},
	StepComponents: {"components"},
	StepRadio:      {"zigbee-device", "zigbee-adapter", "zigbee-baudrate", "zigbee-rtscts"},
	StepReach: {"service-type", "node-port", "ingress-host", "ingress-tls", "cluster-issuer",
		"host-network", "database", "database-url-file", "timezone"},
}

// ownerOf is the step that answers key, or -1.
func ownerOf(key string) Step {
	for s, keys := range stepKeys {
		if slices.Contains(keys, key) {
			return s
		}
	}
	return -1
}

// placeholders stand in for keys a later step answers, so that the
// defaults of the steps before it can be worked out. They never reach a
// plan or a saved file.
var placeholders = map[string]string{
	"zigbee-device":     "tcp://answered-on-the-radio-step.invalid:6638",
	"zigbee-adapter":    "zstack",
	"database-url-file": "/answered-on-the-reaching-it-step",
}

func cloneSettings(s *config.Settings) config.Settings {
	var out config.Settings
	for _, k := range s.Keys() {
		v, src, _ := s.Value(k)
		_ = out.Set(k, v, src) // values came out of a Settings: they fit
	}
	return out
}

// preview loads the answers as far as step upTo: a problem with a key a
// later step answers does not count yet. It returns the effective
// configuration (with placeholders for those keys, listed in held) or the
// problems that block this step.
func preview(b Backend, answers *config.Settings, upTo Step) (res config.Result, held []string, problems []string, err error) {
	res, err = b.Load(*answers)
	if err == nil {
		return res, nil, nil, nil
	}
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		return res, nil, nil, err
	}
	trial := cloneSettings(answers)
	// Each placeholder can reveal the next missing key (a device, then its
	// adapter): add them until the load holds or a problem is this step's.
	for range len(placeholders) + 1 {
		added := false
		for _, p := range cerr.Problems {
			owner := ownerOf(p.Key)
			ph, ok := placeholders[p.Key]
			if owner <= upTo || !ok || trial.IsSet(p.Key) {
				problems = append(problems, p.String())
				continue
			}
			held = append(held, p.Key)
			added = true
			_ = trial.Set(p.Key, ph, config.WizardSource(owner.String()))
		}
		if len(problems) > 0 || !added {
			break
		}
		if res, err = b.Load(trial); err == nil {
			return res, held, nil, nil
		}
		if !errors.As(err, &cerr) {
			return res, nil, nil, err
		}
	}
	if len(problems) == 0 {
		for _, p := range cerr.Problems {
			problems = append(problems, p.String())
		}
	}
	return res, nil, problems, nil
}

// visibleSteps are the steps shown for the current answers.
func (m *Model) stepShown(s Step) bool {
	if s == StepRadio {
		return slices.Contains(m.cfg().Components, config.Zigbee2MQTT) || m.answers.IsSet("zigbee-device")
	}
	return true
}

// buildForm makes the fields of step s from the effective configuration.
func (m *Model) buildForm(s Step) *form {
	cfg := m.cfg()
	switch s {
	case StepMachine:
		if !m.probing && m.k3sMissing() && m.opts.K3sVersion != "" {
			return &form{fields: []*field{{id: "k3s", label: "k3s", kind: choiceField, list: true, hintSelected: true, options: []option{
				{value: "install", label: "Install k3s " + m.opts.K3sVersion + " now", hint: "over https; the wizard goes on once it runs"},
				{value: "quit", label: "Quit", hint: "install k3s yourself, then run 'sudo hakube install' again"},
			}}}}
		}
		return &form{}
	case StepProfile:
		fl := &field{id: "profile", label: "Profile", kind: choiceField, list: true}
		for _, p := range config.Profiles() {
			fl.options = append(fl.options, option{value: string(p), label: string(p), hint: profileHints[p]})
		}
		fl.selectValue(string(cfg.Profile))
		return &form{fields: []*field{fl}}
	case StepComponents:
		fl := &field{id: "components", label: "Components", kind: multiField, list: true}
		for _, c := range config.Components() {
			fl.options = append(fl.options, option{value: string(c), label: componentNames[c], hint: m.componentHint(c)})
			fl.checked = append(fl.checked, slices.Contains(cfg.Components, c))
		}
		return &form{fields: []*field{fl}}
	case StepRadio:
		return m.radioForm()
	case StepReach:
		return m.reachForm()
	}
	return &form{}
}

var profileHints = map[config.Profile]string{
	config.ProfileEdge:       "recommended for a Pi or a NUC at home: SQLite, NodePort 30123, sized to this board",
	config.ProfileBasic:      "the smallest: reached only inside the cluster (port-forward, or your own Ingress)",
	config.ProfileProduction: "bundled PostgreSQL, a LoadBalancer address, large resources; TLS with an Ingress host",
	config.ProfileExternalDB: "history in a database you already run (PostgreSQL or MariaDB URL kept in a file)",
}

var componentNames = map[config.Component]string{
	config.MQTT:        "Mosquitto (MQTT broker)",
	config.NodeRED:     "Node-RED (flows)",
	config.ESPHome:     "ESPHome (firmware for ESP boards)",
	config.Zigbee2MQTT: "Zigbee2MQTT (Zigbee radio bridge)",
}

// componentHint says why a component is off or warned about.
func (m *Model) componentHint(c config.Component) string {
	cfg := m.cfg()
	r := m.report
	board := int64(0)
	if r != nil {
		board = r.Memory.BoardBytes
	}
	switch c {
	case config.ESPHome:
		if cfg.Arch == config.ArchARM {
			return "off: no image is published for 32-bit ARM"
		}
		if board > 0 && board < 2<<30 {
			return "off: its firmware builds need more than this " + hwdetect.HumanBytes(board) + " board has"
		}
		return "builds firmware on this machine (about 1 GiB of memory while building)"
	case config.Zigbee2MQTT:
		var zs []hwdetect.Radio
		if r != nil {
			zs = r.ZigbeeCoordinators()
		}
		switch len(zs) {
		case 0:
			return "no Zigbee coordinator found: you can give a network coordinator next"
		case 1:
			return "uses " + zs[0].Name + " found at " + zs[0].Path
		}
		return fmt.Sprintf("%d coordinators found: choose one next", len(zs))
	case config.MQTT:
		return "Zigbee2MQTT and ESPHome devices publish to it"
	case config.NodeRED:
		return "automations as flows, next to Home Assistant's own"
	}
	return ""
}

func (m *Model) radioForm() *form {
	cfg := m.cfg()
	var zs []hwdetect.Radio
	if m.report != nil {
		zs = m.report.ZigbeeCoordinators()
	}
	dev := &field{id: "device", label: "Zigbee radio", kind: choiceField, list: true}
	cur := -1
	for _, rd := range zs {
		hint := "by-id " + orDash(rd.ByID)
		if rd.ByID == "" || rd.Path != rd.ByID {
			hint = "path " + rd.Path
		}
		if rd.Adapter != "" {
			hint += ", adapter " + rd.Adapter
		} else {
			hint += ", adapter: choose below"
		}
		if !held(m.held, "zigbee-device") && cfg.ZigbeeDevice == rd.Path {
			cur = len(dev.options)
		}
		dev.options = append(dev.options, option{value: rd.Path, label: radioLabel(rd), hint: hint})
	}
	netIdx := len(dev.options)
	dev.options = append(dev.options,
		option{value: "network", label: "A network coordinator (tcp://host:port)", hint: "an Ethernet or Wi-Fi coordinator such as SLZB-06; port 6638 by default"},
		option{value: "none", label: "No radio", hint: "Zigbee2MQTT is turned off"})
	addr := &field{id: "address", label: "Address", kind: textField, help: "tcp://host:port of the coordinator",
		show: func(f *form) bool { return f.value("device") == "network" }}
	switch {
	case cur >= 0:
		dev.cur = cur
	case !held(m.held, "zigbee-device") && strings.HasPrefix(cfg.ZigbeeDevice, "tcp://"):
		dev.cur = netIdx
		addr.text = cfg.ZigbeeDevice
	case len(zs) > 0:
		dev.cur = 0
	default:
		dev.cur = netIdx
	}
	adapter := &field{id: "adapter", label: "Adapter", kind: choiceField, help: "Zigbee2MQTT's driver for the coordinator's firmware",
		show: func(f *form) bool {
			v := f.value("device")
			if v == "network" {
				return true
			}
			for _, rd := range zs {
				if rd.Path == v {
					return rd.Adapter == ""
				}
			}
			return false
		}}
	for _, a := range config.ZigbeeAdapters() {
		adapter.options = append(adapter.options, option{value: a, label: a})
	}
	if !held(m.held, "zigbee-adapter") && cfg.ZigbeeAdapter != "" {
		adapter.selectValue(cfg.ZigbeeAdapter)
	}
	return &form{fields: []*field{dev, addr, adapter}}
}

func radioLabel(rd hwdetect.Radio) string {
	name := rd.Name
	if name == "" {
		name = strings.TrimSpace(rd.Manufacturer + " " + rd.Product)
	}
	if rd.Device != "" && !rd.Network {
		name += " (" + rd.Device + ")"
	}
	return name
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func held(keys []string, key string) bool { return slices.Contains(keys, key) }

func (m *Model) reachForm() *form {
	cfg := m.cfg()
	expose := &field{id: "expose", label: "Reached through", kind: choiceField, options: []option{
		{value: "NodePort", label: "NodePort", hint: "http://<this machine>:<port> from your network"},
		{value: "LoadBalancer", label: "LoadBalancer", hint: "an address from k3s's load balancer, port 8123"},
		{value: "Ingress", label: "Ingress", hint: "a host name through Traefik, with TLS if you have an issuer"},
		{value: "ClusterIP", label: "Cluster only", hint: "nothing outside the cluster: kubectl port-forward"},
	}}
	if cfg.IngressHost != "" {
		expose.selectValue("Ingress")
	} else {
		expose.selectValue(string(cfg.ServiceType))
	}
	is := func(v string) func(f *form) bool { return func(f *form) bool { return f.value("expose") == v } }
	port := &field{id: "node-port", label: "Port", kind: textField, text: strconv.Itoa(cfg.NodePort),
		help: "30000-32767", show: is("NodePort")}
	host := &field{id: "ingress-host", label: "Host name", kind: textField, text: cfg.IngressHost,
		help: "like home.example.com; its DNS must point at this machine", show: is("Ingress")}
	tls := &field{id: "tls", label: "TLS", kind: choiceField, show: is("Ingress"), options: []option{
		{value: "off", label: "off"}, {value: "on", label: "on", hint: "certificate in Secret homeassistant-tls"}}}
	if cfg.IngressTLS {
		tls.cur = 1
	}
	issuer := &field{id: "cluster-issuer", label: "Issuer", kind: textField, text: cfg.ClusterIssuer,
		help: "cert-manager ClusterIssuer that signs it (empty: bring your own Secret)",
		show: func(f *form) bool { return f.value("expose") == "Ingress" && f.value("tls") == "on" }}
	hostNet := &field{id: "host-network", label: "Host network", kind: choiceField, options: []option{
		{value: "false", label: "off", hint: "isolated pod network: safer, but devices are not discovered by mDNS/SSDP"},
		{value: "true", label: "on", hint: "discovery works (mDNS, SSDP), but the pod shares every host port"},
	}}
	if cfg.HostNetwork {
		hostNet.cur = 1
	}
	db := &field{id: "database", label: "Database", kind: choiceField, options: []option{
		{value: string(config.DatabaseSQLite), label: "SQLite", hint: "a file in /config: nothing to run, right for most homes"},
		{value: string(config.DatabasePostgreSQL), label: "PostgreSQL", hint: "bundled next to Home Assistant: better for long history"},
		{value: string(config.DatabaseExternal), label: "External", hint: "your own server; its URL is read from a root-only file"},
	}}
	db.selectValue(string(cfg.Database))
	urlFile := &field{id: "database-url-file", label: "URL file", kind: textField,
		help: "path of a 0600 file holding postgresql://… or mysql://…",
		show: func(f *form) bool { return f.value("database") == string(config.DatabaseExternal) }}
	if !held(m.held, "database-url-file") {
		urlFile.text = cfg.DatabaseURLFile
	}
	tz := cfg.Timezone
	if !m.answers.IsSet("timezone") && tz == config.Defaults(cfg.Profile).Timezone && m.opts.HostTimezone != "" {
		tz = m.opts.HostTimezone
	}
	zone := &field{id: "timezone", label: "Time zone", kind: textField, text: tz, help: "IANA name, like Europe/Berlin"}
	return &form{fields: []*field{expose, port, host, tls, issuer, hostNet, db, urlFile, zone}}
}

// commit writes the form's answers of step s into the answers layer and
// returns notes worth showing.
func (m *Model) commit(s Step, f *form) ([]string, error) {
	src := config.WizardSource(s.String())
	set := func(key string, v any) error { return m.answers.Set(key, v, src) }
	var notes []string
	switch s {
	case StepProfile:
		return nil, set("profile", f.value("profile"))
	case StepComponents:
		return nil, set("components", f.values("components"))
	case StepRadio:
		comps := strs(m.cfg().Components)
		if m.answers.IsSet("components") {
			v, _, _ := m.answers.Value("components")
			comps = v.([]string)
		}
		dev := f.value("device")
		if dev == "none" {
			for _, k := range stepKeys[StepRadio] {
				m.answers.Unset(k)
			}
			notes = append(notes, "no radio: Zigbee2MQTT is turned off")
			return notes, set("components", slices.DeleteFunc(comps, func(c string) bool { return c == string(config.Zigbee2MQTT) }))
		}
		missing := false
		for _, c := range []string{string(config.MQTT), string(config.Zigbee2MQTT)} {
			if !slices.Contains(comps, c) {
				comps, missing = append(comps, c), true
			}
		}
		if missing {
			if err := set("components", comps); err != nil {
				return nil, err
			}
		}
		baud, rtscts, adapter := 0, false, f.value("adapter")
		if dev == "network" {
			dev = f.value("address")
		} else if m.report != nil {
			for _, rd := range m.report.ZigbeeCoordinators() {
				if rd.Path == dev {
					baud = rd.Baudrate
					if rd.RTSCTS != nil {
						rtscts = *rd.RTSCTS
					}
					if rd.Adapter != "" {
						adapter = rd.Adapter
					}
				}
			}
		}
		return nil, errors.Join(set("zigbee-device", dev), set("zigbee-adapter", adapter),
			set("zigbee-baudrate", baud), set("zigbee-rtscts", rtscts))
	case StepReach:
		expose := f.value("expose")
		svc := expose
		if expose == "Ingress" {
			svc = string(config.ClusterIP)
		}
		errs := []error{set("service-type", svc)}
		if expose == "NodePort" {
			errs = append(errs, set("node-port", f.value("node-port")))
		} else {
			m.answers.Unset("node-port")
		}
		if expose == "Ingress" {
			tls := f.value("tls") == "on"
			errs = append(errs, set("ingress-host", f.value("ingress-host")), set("ingress-tls", tls))
			if tls {
				errs = append(errs, set("cluster-issuer", f.value("cluster-issuer")))
			} else {
				errs = append(errs, set("cluster-issuer", ""))
			}
		} else {
			errs = append(errs, set("ingress-host", ""), set("ingress-tls", false), set("cluster-issuer", ""))
		}
		errs = append(errs, set("host-network", f.value("host-network")), set("database", f.value("database")))
		if f.value("database") == string(config.DatabaseExternal) {
			errs = append(errs, set("database-url-file", f.value("database-url-file")))
		} else {
			errs = append(errs, set("database-url-file", ""))
		}
		errs = append(errs, set("timezone", f.value("timezone")))
		return nil, errors.Join(errs...)
	}
	return nil, nil
}

func strs[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

// snapshot is the answers of the steps from s on, to tell whether a step
// changed them.
func snapshot(a *config.Settings, s Step) string {
	var b strings.Builder
	for _, k := range stepKeys[s] {
		if v, _, ok := a.Value(k); ok {
			fmt.Fprintf(&b, "%s=%v;", k, v)
		}
	}
	return b.String()
}
