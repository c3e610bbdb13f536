package tui

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/hakube/hakube/installer"
)

var update = flag.Bool("update", false, "rewrite the golden screens in testdata/golden")

// screen renders the wizard at w×h through a fixed colour profile.
func screen(t testing.TB, m *Model, w, h int, p colorprofile.Profile) string {
	t.Helper()
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	var b bytes.Buffer
	cw := &colorprofile.Writer{Forward: &b, Profile: p}
	if _, err := cw.WriteString(m.View().Content); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run 'go test ./tui -update' to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run 'go test ./tui -update' if the change is right)\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

// goldenBackend plans into fixed paths that do not exist, so that screens
// name the same directories on every machine.
func goldenBackend(t *testing.T, fixtureName string, k3s bool) *testBackend {
	b := newBackend(t, fixtureReport(t, fixtureName, k3s))
	b.in.DataDir = "/nonexistent-hakube-test/var/lib/rancher/k3s"
	b.in.State.Path = "/nonexistent-hakube-test/etc/hakube"
	return b
}

func TestGoldenScreens(t *testing.T) {
	type shot struct {
		name  string
		fix   string
		k3s   bool
		keys  []string
		typed string // typed after keys, then more keys
		more  []string
		w, h  int
	}
	shots := []shot{
		{name: "machine-k3s-missing-two-dongles", fix: "two-identical-sticks"},
		{name: "machine-one-dongle", fix: "rpi5-8g-skyconnect", k3s: true},
		{name: "machine-32bit-pi", fix: "rpi4-4g-32bit", k3s: true},
		{name: "profile", fix: "rpi5-8g-skyconnect", k3s: true, keys: []string{"enter", "down"}},
		{name: "components-two-dongles", fix: "two-identical-sticks", k3s: true, keys: []string{"enter", "enter"}},
		{name: "components-2g-pi", fix: "rpi4-2g-zbdongle-e", k3s: true, keys: []string{"enter", "enter"}},
		{name: "radio-two-dongles", fix: "two-identical-sticks", k3s: true, keys: []string{"enter", "enter", "down", "down", "down", "space", "enter", "down"}},
		{name: "radio-network", fix: "vm-no-usb", k3s: true, keys: []string{"enter", "enter", "down", "down", "down", "space", "enter", "tab"}, typed: "tcp://slzb-06.local:6638"},
		{name: "reach", fix: "rpi5-8g-skyconnect", k3s: true, keys: []string{"enter", "enter", "enter", "enter"}},
		{name: "reach-ingress", fix: "rpi5-8g-skyconnect", k3s: true, keys: []string{"enter", "enter", "enter", "enter", "right", "right", "down"}, typed: "home.example.com", more: []string{"down", "right", "down"}},
		{name: "reach-error", fix: "vm-no-usb", k3s: true, keys: []string{"enter", "enter", "enter", "down", "ctrl+u"}, typed: "29999", more: []string{"enter"}},
		{name: "review", fix: "two-identical-sticks", k3s: true, keys: []string{"enter", "enter", "down", "down", "down", "space", "enter", "down", "enter", "enter"}},
		{name: "review-scrolled", fix: "vm-no-usb", k3s: true, keys: []string{"enter", "enter", "enter", "enter", "pgdown"}},
		{name: "review-save", fix: "vm-no-usb", k3s: true, keys: []string{"enter", "enter", "enter", "enter", "right", "right", "enter"}},
		{name: "cancelled", fix: "vm-no-usb", k3s: true, keys: []string{"enter", "enter", "ctrl+c"}},
		{name: "reach-60x20", fix: "rpi5-8g-skyconnect", k3s: true, keys: []string{"enter", "enter", "enter", "enter"}, w: 60, h: 20},
		{name: "machine-60x20", fix: "two-identical-sticks", w: 60, h: 20},
	}
	for _, s := range shots {
		t.Run(s.name, func(t *testing.T) {
			m := wizard(t, goldenBackend(t, s.fix, s.k3s))
			for _, k := range s.keys {
				if k == "pgdown" {
					send(t, m, tea.KeyPressMsg{Code: tea.KeyPgDown})
					continue
				}
				press(t, m, k)
			}
			typeText(t, m, s.typed)
			press(t, m, s.more...)
			w, h := s.w, s.h
			if w == 0 {
				w, h = 80, 24
			}
			got := screen(t, m, w, h, colorprofile.NoTTY)
			checkSize(t, got, w, h)
			golden(t, s.name+".txt", got)
		})
	}
}

// checkSize fails when a screen does not fit the terminal.
func checkSize(t *testing.T, s string, w, h int) {
	t.Helper()
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		t.Errorf("%d lines on a %d-line terminal", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d is %d wide on a %d-column terminal: %q", i+1, n, w, l)
		}
	}
}

func progressModel(t *testing.T, events []installer.Event, upTo int) *Model {
	b := goldenBackend(t, "vm-no-usb", true)
	m := wizard(t, b)
	press(t, m, "enter", "enter", "enter", "enter")
	if m.plan == nil {
		t.Fatalf("no plan: %v %v", m.planErr, m.Problems())
	}
	m.step = StepProgress
	m.prog = newProgress(m.plan, events[0].Time)
	for _, e := range events[:upTo] {
		send(t, m, eventMsg(e))
	}
	last := events[upTo-1].Time
	m.opts.Now = func() time.Time { return last }
	return m
}

func TestGoldenProgress(t *testing.T) {
	events := recordedEvents(t, "install-events.jsonl")
	for _, c := range []struct {
		name string
		upTo int
		w, h int
	}{
		{"progress-written", 9, 80, 24},
		{"progress-applying", 13, 80, 24},
		{"progress-ready", len(events), 80, 24},
		{"progress-applying-60x20", 13, 60, 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := progressModel(t, events, c.upTo)
			got := screen(t, m, c.w, c.h, colorprofile.NoTTY)
			checkSize(t, got, c.w, c.h)
			golden(t, c.name+".txt", got)
		})
	}
	t.Run("progress-failed", func(t *testing.T) {
		failed := recordedEvents(t, "failed-events.jsonl")
		m := progressModel(t, failed, len(failed))
		got := screen(t, m, 80, 24, colorprofile.NoTTY)
		checkSize(t, got, 80, 24)
		golden(t, "progress-failed.txt", got)
		if !strings.Contains(got, "check the node's internet access") {
			t.Error("the installer's advice is not shown")
		}
		send(t, m, appliedMsg{nil, errors.New("k3s rejected a manifest: home-assistant: ImagePullBackOff (timed out after 15m0s)")})
		got = screen(t, m, 80, 24, colorprofile.NoTTY)
		checkSize(t, got, 80, 24)
		golden(t, "done-failed.txt", got)
	})
	t.Run("done", func(t *testing.T) {
		m := progressModel(t, events, len(events))
		send(t, m, appliedMsg{&installer.Result{URL: "http://192.168.1.20:30123", SecretsPath: "/etc/hakube/secrets.json",
			ConfigPath: "/etc/hakube/config.yaml", Waited: true, Applied: true}, nil})
		got := screen(t, m, 80, 24, colorprofile.NoTTY)
		checkSize(t, got, 80, 24)
		golden(t, "done.txt", got)
	})
}

// One screen in colour, as a 16-colour terminal gets it; and none of it
// with NO_COLOR.
func TestColourProfiles(t *testing.T) {
	m := wizard(t, goldenBackend(t, "two-identical-sticks", true))
	press(t, m, "enter", "enter", "down", "down", "down", "space", "enter", "down", "enter", "enter")
	got := screen(t, m, 80, 24, colorprofile.ANSI)
	if !strings.Contains(got, "\x1b[") {
		t.Fatal("no colour at all in the ANSI profile")
	}
	golden(t, "review.ansi", got)

	var b bytes.Buffer
	w := colorprofile.NewWriter(&b, []string{"TERM=xterm-256color", "NO_COLOR=1"})
	if _, err := w.WriteString(m.View().Content); err != nil {
		t.Fatal(err)
	}
	for _, sgr := range []string{"\x1b[3", "\x1b[9", "\x1b[1;3", "\x1b[1;9", ";3", ";9"} {
		if strings.Contains(b.String(), sgr) {
			t.Errorf("NO_COLOR: colour %q in the output", sgr)
		}
	}
}
