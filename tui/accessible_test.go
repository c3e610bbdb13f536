package tui

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hakube/hakube/config"
)

// runPiped runs the accessible wizard with answers written into a real
// pipe all at once, as 'printf … | hakube install --accessible' does.
func runPiped(t *testing.T, b *testBackend, answers string) (Outcome, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.WriteString(answers); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var out bytes.Buffer
	o, err := RunAccessible(context.Background(), Options{Backend: b, Report: b.report, HostTimezone: "Europe/Berlin",
		Now: func() time.Time { return t0 }}, r, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return o, out.String()
}

func TestAccessibleThroughAPipe(t *testing.T) {
	b := newBackend(t, fixtureReport(t, "two-identical-sticks", true))
	answers := strings.Join([]string{
		"",          // This machine: continue
		"9",         // Profile: not a choice, asked again
		"edge",      // by name
		"1,2,4",     // Components: Mosquitto, Node-RED, Zigbee2MQTT
		"back",      // Radio: back to Components
		"1,2,4",     // again
		"2",         // Radio: the second stick
		"",          // Reaching it: NodePort
		"30200",     // port
		"2",         // host network on
		"",          // SQLite
		"",          // the host's time zone
		"3",         // Review: save and quit
		"site.yaml", // file name
	}, "\n") + "\n"
	o, out := runPiped(t, b, answers)
	if o.Kind != Saved {
		t.Fatalf("outcome %v, want Saved:\n%s", o.Kind, out)
	}
	for _, want := range []string{"== This machine ==", "== Profile ==", "1) edge", "(default)", `"9" is not one of the choices`,
		"== Radio ==", "== Review ==", "hakube-10-zigbee2mqtt.yaml", "Saved your answers to site.yaml"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("escape sequences in accessible output")
	}
	data := b.saved["site.yaml"]
	loaded, err := config.Load(config.Sources{File: "site.yaml", FileData: data, Adjust: config.FromHardware(b.report, true)})
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	c := loaded.Config
	zs := b.report.ZigbeeCoordinators()
	if c.NodePort != 30200 || !c.HostNetwork || c.ZigbeeDevice != zs[1].Path || c.Has(config.ESPHome) || c.Timezone != "Europe/Berlin" {
		t.Errorf("piped answers gave:\n%s", c.Marshal())
	}
}

func TestAccessibleInstallPrintsEvents(t *testing.T) {
	b := newBackend(t, fixtureReport(t, "vm-no-usb", true))
	b.events = recordedEvents(t, "install-events.jsonl")
	o, out := runPiped(t, b, "\n\n\n\n\n\n\n\n1\n")
	if o.Kind != Installed {
		t.Fatalf("outcome %v:\n%s", o.Kind, out)
	}
	for _, want := range []string{"[rollout] home-assistant: ready", "[done] Home Assistant is ready", "sudo hakube credentials"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestAccessibleInputEndsBeforeTheReview(t *testing.T) {
	b := newBackend(t, fixtureReport(t, "vm-no-usb", true))
	o, out := runPiped(t, b, "\n1\n")
	if o.Kind != Cancelled || !strings.Contains(out, "nothing was written") {
		t.Errorf("outcome %v:\n%s", o.Kind, out)
	}
	if b.applied != 0 || len(b.saved) != 0 {
		t.Error("wrote something")
	}
}
