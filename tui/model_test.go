package tui

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/installer"
)

func TestEnterEnterEnterIsTheRecommendedInstall(t *testing.T) {
	r := fixtureReport(t, "rpi5-8g-skyconnect", true)
	b := newBackend(t, r)
	m := wizard(t, b)

	var steps []Step
	for m.Step() < StepReview {
		steps = append(steps, m.Step())
		if press(t, m, "enter") {
			t.Fatal("the wizard quit on enter")
		}
		if len(m.Problems()) > 0 {
			t.Fatalf("step %s: %v", m.Step(), m.Problems())
		}
	}
	want := []Step{StepMachine, StepProfile, StepComponents, StepRadio, StepReach}
	if !slices.Equal(steps, want) {
		t.Fatalf("steps %v, want %v", steps, want)
	}

	// Every answer is in the wizard's layer, from its step.
	for key, step := range map[string]Step{"profile": StepProfile, "components": StepComponents,
		"zigbee-device": StepRadio, "zigbee-adapter": StepRadio, "service-type": StepReach, "node-port": StepReach, "timezone": StepReach} {
		_, src := settingValue(t, m.Answers(), key)
		if src != config.WizardSource(step.String()) {
			t.Errorf("%s comes from %v, want the wizard's %s step", key, src, step)
		}
	}
	// The recommended install is the hardware's defaults.
	def, err := config.Load(config.Sources{Adjust: config.FromHardware(r, true)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := m.Config()
	cfg.Timezone = def.Config.Timezone // the wizard proposes the host's zone
	if string(cfg.Marshal()) != string(def.Config.Marshal()) {
		t.Errorf("enter-enter-enter gave\n%s\nwant the recommended\n%s", cfg.Marshal(), def.Config.Marshal())
	}
	if m.Config().Timezone != "Europe/Berlin" {
		t.Errorf("time zone %q, want the host's", m.Config().Timezone)
	}

	p := m.Plan()
	if p == nil {
		t.Fatal("no plan on the review step")
	}
	var comps []string
	for _, f := range p.Files {
		if f.Change != installer.Added {
			t.Errorf("%s: %s, want added on a first install", f.File, f.Change)
		}
		comps = append(comps, f.Component)
	}
	for _, c := range []string{"home-assistant", "mqtt", "nodered", "esphome", "zigbee2mqtt"} {
		if !slices.Contains(comps, c) {
			t.Errorf("plan has no file for %s (files of %v)", c, comps)
		}
	}
	if p.Credentials != installer.CredentialsNew {
		t.Errorf("credentials %s, want new", p.Credentials)
	}
	nodePort := false
	for _, port := range p.Ports {
		if port.Service == "home-assistant" && port.NodePort == 30123 {
			nodePort = true
		}
	}
	if !nodePort {
		t.Errorf("plan does not open NodePort 30123: %+v", p.Ports)
	}
	if p.Config.ZigbeeDevice != r.ZigbeeCoordinators()[0].Path {
		t.Errorf("zigbee device %q, want the detected %q", p.Config.ZigbeeDevice, r.ZigbeeCoordinators()[0].Path)
	}
}

func TestInstallFollowsEventsToTheFinalScreen(t *testing.T) {
	b := newBackend(t, fixtureReport(t, "vm-no-usb", true))
	b.realApply = true
	m := wizard(t, b)
	press(t, m, "enter", "enter", "enter", "enter")
	if m.Step() != StepReview || m.Plan() == nil {
		t.Fatalf("step %s, plan %v, problems %v", m.Step(), m.Plan() != nil, m.Problems())
	}
	press(t, m, "enter")
	if m.Step() != StepDone {
		t.Fatalf("step %s after install, want Done", m.Step())
	}
	o := m.Outcome()
	if o.Kind != Installed {
		t.Fatalf("outcome %v (%v), want Installed", o.Kind, o.Err)
	}
	// Each component's line went through written.
	for _, c := range m.prog.comps {
		if c.state != installer.StateWritten {
			t.Errorf("%s: %q, want written (no cluster: k3s applies later)", c.name, c.state)
		}
	}
	view := m.Render()
	for _, want := range []string{b.in.State.SecretsPath(), "sudo hakube credentials"} {
		if !strings.Contains(view, want) && !strings.Contains(o.Message, want) {
			t.Errorf("final screen lacks %q:\n%s", want, view)
		}
	}
	// Never a secret: no value of the credentials file is on screen.
	sec, err := b.in.State.Secrets()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{sec.MQTTHomeAssistant.Password, sec.NodeREDPassword, sec.ESPHomePassword, sec.Zigbee2MQTTAuthToken, sec.PostgreSQLPassword} {
		if s != "" && (strings.Contains(view, s) || strings.Contains(o.Message, s)) {
			t.Errorf("a secret is on the final screen")
		}
	}
	if press(t, m, "enter") != true {
		t.Error("enter on the final screen does not quit")
	}
}

func TestEscGoesBackAndAChangedProfileAsksAgain(t *testing.T) {
	b := newBackend(t, fixtureReport(t, "vm-no-usb", true))
	m := wizard(t, b)
	press(t, m, "enter", "enter") // machine, profile (edge)
	if m.Step() != StepComponents {
		t.Fatalf("step %s", m.Step())
	}
	press(t, m, "space", "enter") // mosquitto off
	if v, _ := settingValue(t, m.Answers(), "components"); slices.Contains(v.([]string), "mqtt") {
		t.Fatalf("components %v still has mqtt", v)
	}
	press(t, m, "esc")
	if m.Step() != StepComponents {
		t.Fatalf("esc from Reaching it went to %s, want Components (no radio step without zigbee2mqtt)", m.Step())
	}
	press(t, m, "esc")
	if m.Step() != StepProfile {
		t.Fatalf("esc went to %s, want Profile", m.Step())
	}
	// production is third in the list: edge, basic, production.
	press(t, m, "down", "down", "enter")
	if v, _ := settingValue(t, m.Answers(), "profile"); v != "production" {
		t.Fatalf("profile %v", v)
	}
	if m.Answers().IsSet("components") {
		t.Error("the components answer survived a profile change: its defaults changed")
	}
	press(t, m, "enter") // components: production's defaults
	if m.Step() != StepReach {
		t.Fatalf("step %s", m.Step())
	}
	if got := m.form.value("database"); got != "postgresql" {
		t.Errorf("database default %q on production, want postgresql", got)
	}
	if got := m.form.value("expose"); got != "LoadBalancer" {
		t.Errorf("service default %q on production, want LoadBalancer", got)
	}
	press(t, m, "esc", "esc", "esc")
	if m.Step() != StepMachine {
		t.Fatalf("three esc from Reaching it: %s, want This machine", m.Step())
	}
	press(t, m, "esc")
	if m.Step() != StepMachine || m.quitting {
		t.Error("esc on the first step must stay there")
	}
}

func TestTwoDonglesChooseTheSecond(t *testing.T) {
	r := fixtureReport(t, "two-identical-sticks", true)
	zs := r.ZigbeeCoordinators()
	if len(zs) != 2 {
		t.Fatalf("fixture has %d coordinators", len(zs))
	}
	m := wizard(t, newBackend(t, r))
	press(t, m, "enter", "enter")
	if !strings.Contains(m.Render(), "2 coordinators found") {
		t.Errorf("components step does not say two coordinators were found:\n%s", m.Render())
	}
	// Zigbee2MQTT is not on by default with two sticks: turn it on.
	press(t, m, "down", "down", "down", "space", "enter")
	if m.Step() != StepRadio {
		t.Fatalf("step %s (%v), want Radio", m.Step(), m.Problems())
	}
	press(t, m, "down", "enter")
	v, src := settingValue(t, m.Answers(), "zigbee-device")
	if v != zs[1].Path || src != config.WizardSource("Radio") {
		t.Errorf("zigbee-device %v from %v, want %s from the Radio step", v, src, zs[1].Path)
	}
	if a, _ := settingValue(t, m.Answers(), "zigbee-adapter"); a != zs[1].Adapter {
		t.Errorf("adapter %v, want %s", a, zs[1].Adapter)
	}
	if !slices.Contains(m.Config().Components, config.MQTT) {
		t.Error("zigbee2mqtt without mqtt")
	}
}

func TestNetworkCoordinatorAndNoRadio(t *testing.T) {
	m := wizard(t, newBackend(t, fixtureReport(t, "vm-no-usb", true)))
	press(t, m, "enter", "enter", "down", "down", "down", "space", "enter")
	if m.Step() != StepRadio {
		t.Fatalf("step %s (%v)", m.Step(), m.Problems())
	}
	if got := m.form.value("device"); got != "network" {
		t.Fatalf("default radio %q with none plugged in, want a network coordinator", got)
	}
	// A bad address is shown on the step, in the settings' own words.
	press(t, m, "tab")
	typeText(t, m, "slzb-06:6638")
	press(t, m, "enter")
	if m.Step() != StepRadio || len(m.Problems()) == 0 || !strings.Contains(m.Problems()[0], "wizard (Radio): zigbee-device:") {
		t.Fatalf("bad address: step %s, problems %q", m.Step(), m.Problems())
	}
	if !strings.Contains(m.Render(), "wizard (Radio): zigbee-device") {
		t.Error("the problem is not on screen")
	}
	press(t, m, "ctrl+u")
	typeText(t, m, "tcp://slzb-06.local:6638")
	press(t, m, "tab", "right", "enter") // adapter: ember
	if m.Step() != StepReach {
		t.Fatalf("step %s: %v", m.Step(), m.Problems())
	}
	if c := m.Config(); c.ZigbeeDevice != "tcp://slzb-06.local:6638" || c.ZigbeeAdapter != "ember" {
		t.Errorf("device %q adapter %q", c.ZigbeeDevice, c.ZigbeeAdapter)
	}

	press(t, m, "esc")
	// "No radio" is last.
	press(t, m, "up", "up", "up", "down", "down") // wraps: network, none, network… end on none
	for m.form.value("device") != "none" {
		press(t, m, "down")
	}
	press(t, m, "enter")
	if slices.Contains(m.Config().Components, config.Zigbee2MQTT) {
		t.Error("no radio left zigbee2mqtt on")
	}
	if m.Answers().IsSet("zigbee-device") {
		t.Error("no radio kept zigbee-device")
	}
	if !strings.Contains(m.Render(), "Zigbee2MQTT is turned off") {
		t.Errorf("turning Zigbee2MQTT off is not said:\n%s", m.Render())
	}
}

func TestProblemsAreShownOnTheStep(t *testing.T) {
	m := wizard(t, newBackend(t, fixtureReport(t, "vm-no-usb", true)))
	press(t, m, "enter", "enter", "enter")
	if m.Step() != StepReach {
		t.Fatalf("step %s", m.Step())
	}
	press(t, m, "down") // the port
	press(t, m, "backspace", "backspace", "backspace", "backspace", "backspace")
	typeText(t, m, "29999")
	press(t, m, "enter")
	if m.Step() != StepReach {
		t.Fatalf("an out-of-range port moved on to %s", m.Step())
	}
	want := "wizard (Reaching it): node-port: 29999 is outside the NodePort range 30000-32767"
	if len(m.Problems()) != 1 || !strings.HasPrefix(m.Problems()[0], want) {
		t.Fatalf("problems %q, want %q", m.Problems(), want)
	}
	// Time zone, typed wrong.
	press(t, m, "backspace", "backspace", "backspace", "backspace", "backspace")
	typeText(t, m, "30200")
	for m.form.focused().id != "timezone" {
		press(t, m, "tab")
	}
	press(t, m, "ctrl+u")
	typeText(t, m, "Mars/Olympus")
	press(t, m, "enter")
	if len(m.Problems()) != 1 || !strings.Contains(m.Problems()[0], "timezone: \"Mars/Olympus\" is not a known IANA time zone") {
		t.Fatalf("problems %q", m.Problems())
	}
	press(t, m, "ctrl+u")
	typeText(t, m, "America/New_York")
	press(t, m, "enter")
	if m.Step() != StepReview || m.Config().NodePort != 30200 || m.Config().Timezone != "America/New_York" {
		t.Fatalf("step %s port %d zone %s", m.Step(), m.Config().NodePort, m.Config().Timezone)
	}
}

func TestCtrlCBeforeTheInstallWritesNothing(t *testing.T) {
	r := fixtureReport(t, "rpi5-8g-skyconnect", true)
	for n := 0; n <= 5; n++ {
		b := newBackend(t, r)
		m := wizard(t, b)
		for range n {
			press(t, m, "enter")
		}
		at := m.Step()
		if !press(t, m, "ctrl+c") {
			t.Fatalf("ctrl+c at %s does not quit", at)
		}
		o := m.Outcome()
		if o.Kind != Cancelled || !strings.Contains(o.Message, "nothing was written") {
			t.Errorf("ctrl+c at %s: %v %q", at, o.Kind, o.Message)
		}
		if !strings.Contains(m.Render(), "nothing was written") {
			t.Errorf("ctrl+c at %s: the screen does not say nothing was written", at)
		}
		if b.applied != 0 || len(b.saved) != 0 {
			t.Errorf("ctrl+c at %s applied or saved", at)
		}
		for _, dir := range []string{b.in.DataDir, b.in.State.Path} {
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("ctrl+c at %s: %s exists", at, dir)
			}
		}
	}
}

func TestCtrlCDuringProgressStopsWaiting(t *testing.T) {
	b := newBackend(t, fixtureReport(t, "vm-no-usb", true))
	b.events = recordedEvents(t, "install-events.jsonl")[:8]
	m := wizard(t, b)
	press(t, m, "enter", "enter", "enter", "enter")
	// Feed the install by hand, as the program would, then interrupt.
	m.step = StepProgress
	m.prog = newProgress(m.plan, t0)
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	for _, e := range b.events {
		send(t, m, eventMsg(e))
	}
	if press(t, m, "ctrl+c") {
		t.Fatal("the first ctrl+c must wait for the installer to return")
	}
	if ctx.Err() == nil {
		t.Fatal("ctrl+c did not cancel the install's context")
	}
	if !strings.Contains(m.Render(), "k3s carries on") {
		t.Errorf("the screen does not say k3s carries on:\n%s", m.Render())
	}
	if !send(t, m, appliedMsg{nil, context.Canceled}) {
		t.Fatal("the wizard did not quit once the install returned")
	}
	o := m.Outcome()
	if o.Kind != Interrupted || !strings.Contains(o.Message, "Written to") || !strings.Contains(o.Message, "k3s carries on") {
		t.Errorf("outcome %v %q", o.Kind, o.Message)
	}
	if !strings.Contains(o.Message, "home-assistant") {
		t.Errorf("the message does not list what was written: %q", o.Message)
	}
}

func TestFailedInstallShowsAdvice(t *testing.T) {
	b := newBackend(t, fixtureReport(t, "vm-no-usb", true))
	b.events = recordedEvents(t, "failed-events.jsonl")
	b.applyErr = errors.New("k3s rejected a manifest: home-assistant.yaml: StatefulSet.apps \"home-assistant\" is invalid")
	m := wizard(t, b)
	press(t, m, "enter", "enter", "enter", "enter", "enter")
	if m.Step() != StepDone || m.Outcome().Kind != Failed {
		t.Fatalf("step %s outcome %v", m.Step(), m.Outcome().Kind)
	}
	view := m.Render()
	for _, want := range []string{"did not finish", "k3s rejected a manifest", "→ "} {
		if !strings.Contains(view, want) {
			t.Errorf("failure screen lacks %q:\n%s", want, view)
		}
	}
}

func TestK3sMissingOffersToInstallIt(t *testing.T) {
	r := fixtureReport(t, "two-identical-sticks", false)
	b := newBackend(t, r)
	var lines []string
	b.k3s = func(progress func(string)) (*hwdetect.Report, error) {
		progress("[INFO]  Using v1.33.4+k3s1 as release")
		lines = append(lines, "called")
		after := *r
		after.K3s.Binary, after.K3s.API = "/usr/local/bin/k3s", "running"
		return &after, nil
	}
	m := wizard(t, b)
	if !strings.Contains(m.Render(), "Install k3s v1.33.4+k3s1 now") {
		t.Fatalf("no offer to install k3s:\n%s", m.Render())
	}
	press(t, m, "enter")
	if len(lines) != 1 {
		t.Fatal("the k3s installer did not run")
	}
	if m.k3sMissing() || !strings.Contains(m.Render(), "running") {
		t.Fatalf("after installing k3s:\n%s", m.Render())
	}
	if v, src := settingValue(t, m.Answers(), "install-k3s"); v != true || src != config.WizardSource("This machine") {
		t.Errorf("install-k3s %v from %v: the saved answers must install k3s too", v, src)
	}
	press(t, m, "enter")
	if m.Step() != StepProfile {
		t.Errorf("step %s after k3s came up, want Profile", m.Step())
	}
	press(t, m, "enter", "enter", "enter")
	if data, err := AnswersFile(&m.res, m.report); err != nil || !strings.Contains(string(data), "install-k3s: true") {
		t.Errorf("saved answers (%v) do not install k3s:\n%s", err, data)
	}

	// Quit instead: nothing written.
	m = wizard(t, newBackend(t, r))
	if !press(t, m, "down", "enter") || m.Outcome().Kind != Cancelled {
		t.Errorf("quit at the k3s offer: %v", m.Outcome())
	}
}

func TestBadSettingsFromOtherLayersBlockTheFirstStep(t *testing.T) {
	b := &envBackend{testBackend: newBackend(t, fixtureReport(t, "vm-no-usb", true)), environ: []string{"HAKUBE_NODE_PORT=12"}}
	m := New(context.Background(), Options{Backend: b, Report: b.report})
	press(t, m, "enter")
	if m.Step() != StepMachine {
		t.Fatalf("moved on to %s with a bad environment", m.Step())
	}
	if !strings.Contains(m.Render(), "environment HAKUBE_NODE_PORT") {
		t.Errorf("the environment's problem is not shown:\n%s", m.Render())
	}
}

type envBackend struct {
	*testBackend
	environ []string
}

func (b *envBackend) Load(a config.Settings) (config.Result, error) {
	return config.Load(config.Sources{Answers: a, Environ: b.environ, Adjust: config.FromHardware(b.report, false)})
}

func TestSaveAnswersAndQuit(t *testing.T) {
	b := newBackend(t, fixtureReport(t, "vm-no-usb", true))
	m := wizard(t, b)
	press(t, m, "enter", "enter", "enter", "enter")
	press(t, m, "right", "right", "enter") // save
	press(t, m, "ctrl+u")
	typeText(t, m, "site.yaml")
	if !press(t, m, "enter") {
		t.Fatal("saving did not quit")
	}
	if _, ok := b.saved["site.yaml"]; !ok {
		t.Fatalf("saved %v", b.saved)
	}
	o := m.Outcome()
	if o.Kind != Saved || !strings.Contains(o.Message, "sudo hakube install --config site.yaml --yes") {
		t.Errorf("outcome %v %q", o.Kind, o.Message)
	}
	if b.applied != 0 {
		t.Error("saving installed")
	}
	if _, err := os.Stat(filepath.Dir(b.in.State.Path)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.in.State.Path); !errors.Is(err, os.ErrNotExist) {
		t.Error("saving the answers touched the state directory")
	}
}

func TestFirstFrameDoesNotWaitForK3s(t *testing.T) {
	b := newBackend(t, fixtureReport(t, "two-identical-sticks", false)) // no k3s binary under this root
	b.api = "https://127.0.0.1:6443"
	m := New(context.Background(), Options{Backend: b, Report: b.report, K3sVersion: "v1.37.0+k3s1"})
	if !strings.Contains(m.Render(), "checking whether its API server answers") {
		t.Fatalf("first frame:\n%s", m.Render())
	}
	press(t, m, "enter")
	if m.Step() != StepMachine {
		t.Fatal("enter moved on before k3s was checked")
	}
	runCmd(t, m, m.Init())
	view := m.Render()
	if !strings.Contains(view, "running (API at https://127.0.0.1:6443)") || strings.Contains(view, "Install k3s") {
		t.Fatalf("after the check, k3s answers and nothing is offered:\n%s", view)
	}
	press(t, m, "enter")
	if m.Step() != StepProfile {
		t.Errorf("step %s", m.Step())
	}
}

// A plan that arrives after the answers changed is not the one installed.
func TestAStalePlanIsIgnored(t *testing.T) {
	b := newBackend(t, fixtureReport(t, "vm-no-usb", true))
	m := wizard(t, b)
	press(t, m, "enter", "enter", "enter")
	_, cmd := m.Update(key("enter")) // to the review: the plan is asked for
	stale := cmd()
	press(t, m, "esc")
	press(t, m, "down") // the port
	press(t, m, "ctrl+u")
	typeText(t, m, "30999")
	press(t, m, "enter") // the review again, planned with 30999
	send(t, m, stale)
	if p := m.Plan(); p == nil || p.Config.NodePort != 30999 {
		t.Fatalf("plan for the old answers shown: %+v", m.Plan())
	}
}
