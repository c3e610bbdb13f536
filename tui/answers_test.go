package tui

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/manifests"
)

// The saved answers reproduce the wizard's install unattended: the flags
// file, loaded as 'hakube install --config FILE --yes' loads it (hardware
// adjustments included), renders byte-identical manifests.
func TestSavedAnswersReproduceTheInstall(t *testing.T) {
	cases := []struct {
		name  string
		fix   string
		keys  []string
		typed string
		more  []string
	}{
		{name: "recommended with one dongle", fix: "rpi5-8g-skyconnect", keys: []string{"enter", "enter", "enter", "enter", "enter"}},
		{name: "second of two dongles", fix: "two-identical-sticks", keys: []string{"enter", "enter", "down", "down", "down", "space", "enter", "down", "enter", "enter"}},
		{name: "no radio on a machine with one", fix: "rpi5-8g-skyconnect", keys: []string{"enter", "enter", "enter", "down", "down", "enter", "enter"}},
		{name: "network coordinator", fix: "vm-no-usb", keys: []string{"enter", "enter", "down", "down", "down", "space", "enter", "tab"},
			typed: "tcp://192.168.1.50:6638", more: []string{"tab", "right", "enter", "enter"}},
		{name: "production behind an ingress with TLS and host network", fix: "rpi4-2g-zbdongle-e",
			keys:  []string{"enter", "down", "down", "enter", "down", "space", "enter", "enter", "right", "down"},
			typed: "ha.example.org", more: []string{"down", "right", "down"}},
		{name: "small board", fix: "rpi3-cgroup-off", keys: []string{"enter", "enter", "enter", "enter"}},
		{name: "32-bit ARM", fix: "rpi4-4g-32bit", keys: []string{"enter", "enter", "enter", "enter"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBackend(t, fixtureReport(t, c.fix, true))
			m := wizard(t, b)
			press(t, m, c.keys...)
			typeText(t, m, c.typed)
			press(t, m, c.more...)
			if c.name == "production behind an ingress with TLS and host network" {
				typeText(t, m, "letsencrypt")
				press(t, m, "down", "right", "enter")
				c := m.Config()
				if c.Profile != config.ProfileProduction || c.IngressHost != "ha.example.org" || !c.IngressTLS ||
					c.ClusterIssuer != "letsencrypt" || !c.HostNetwork || c.Database != config.DatabasePostgreSQL || c.Has(config.NodeRED) {
					t.Fatalf("answers did not take: %s", c.Marshal())
				}
			}
			if m.Step() != StepReview {
				t.Fatalf("at %s, not Review: %v", m.Step(), m.Problems())
			}
			data, err := AnswersFile(&m.res, b.report)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(data, []byte(installer.Placeholder)) {
				t.Error("the answers hold a placeholder secret")
			}
			loaded, err := config.Load(config.Sources{File: "answers.yaml", FileData: data, Adjust: config.FromHardware(b.report, true)})
			if err != nil {
				t.Fatalf("the saved answers do not load unattended: %v\n%s", err, data)
			}
			want, got := m.Config(), loaded.Config
			if !bytes.Equal(want.Marshal(), got.Marshal()) {
				t.Fatalf("saved answers load to\n%s\nwant\n%s\nfile:\n%s", got.Marshal(), want.Marshal(), data)
			}
			wf, err := manifests.Render(&want, installer.PlaceholderSecrets(), manifests.Options{})
			if err != nil {
				t.Fatal(err)
			}
			gf, err := manifests.Render(&got, installer.PlaceholderSecrets(), manifests.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(wf) != len(gf) {
				t.Fatalf("%d files, want %d", len(gf), len(wf))
			}
			for i := range wf {
				if wf[i].Name != gf[i].Name || !bytes.Equal(wf[i].Content, gf[i].Content) {
					t.Errorf("%s renders differently from the saved answers", wf[i].Name)
				}
			}
			if !strings.HasPrefix(string(data), "# hakube install answers") || !strings.Contains(string(data), "profile: ") {
				t.Errorf("file:\n%s", data)
			}
		})
	}
}

// Only what differs from the profile, what the user chose, and the
// profile: an explicit empty answer is left out.
func TestAnswersFileIsShort(t *testing.T) {
	b := newBackend(t, fixtureReport(t, "vm-no-usb", true))
	m := wizard(t, b)
	press(t, m, "enter", "enter", "enter", "enter")
	data, err := AnswersFile(&m.res, b.report)
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"ingress-host", "cluster-issuer", "database-url-file", "zigbee-device", "media-size"} {
		if strings.Contains(string(data), absent+":") {
			t.Errorf("%s in the answers:\n%s", absent, data)
		}
	}
	for _, present := range []string{"profile: edge", "components: [mqtt, nodered, esphome]", "node-port: 30123", "timezone: Europe/Berlin"} {
		if !strings.Contains(string(data), present) {
			t.Errorf("%q not in the answers:\n%s", present, data)
		}
	}
}
