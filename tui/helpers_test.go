package tui

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/hwdetect/fixture"
	"github.com/hakube/hakube/installer"
)

// t0 is the fixed clock of every test.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixtureReport detects one of hwdetect's fixture machines.
func fixtureReport(t testing.TB, name string, k3sRunning bool) *hwdetect.Report {
	t.Helper()
	dir := t.TempDir()
	if err := fixture.BuildFile(dir, filepath.Join("..", "hwdetect", "testdata", "fixtures", name+".txtar")); err != nil {
		t.Fatal(err)
	}
	r, err := hwdetect.Detect(dir, hwdetect.WithLive(false))
	if err != nil {
		t.Fatal(err)
	}
	if k3sRunning {
		r.K3s.Binary, r.K3s.API, r.K3s.APIAddress = "/usr/local/bin/k3s", "running", "127.0.0.1:6443"
		for i, c := range r.Checks {
			if c.ID == hwdetect.CheckK3s || c.ID == hwdetect.CheckK3sAPI {
				r.Checks[i].Status, r.Checks[i].Detail, r.Checks[i].Fix = hwdetect.StatusOK, "running", ""
			}
		}
	}
	return r
}

// testBackend loads settings with the real config code and plans with a
// real installer in temporary directories (no cluster). Apply replays
// events; it writes nothing unless realApply.
type testBackend struct {
	report   *hwdetect.Report
	in       *installer.Installer
	events   []installer.Event
	applyErr error
	// block makes Apply wait for its context after the events.
	block bool
	// realApply runs the installer's Apply (files into the temp dir).
	realApply bool

	mu      sync.Mutex
	saved   map[string][]byte
	applied int
	api     string // what K3sAPI answers
	k3s     func(progress func(string)) (*hwdetect.Report, error)
}

func newBackend(t testing.TB, r *hwdetect.Report) *testBackend {
	dir := t.TempDir()
	return &testBackend{report: r, saved: map[string][]byte{}, in: &installer.Installer{
		DataDir: filepath.Join(dir, "k3s"), State: installer.StateDir{Path: filepath.Join(dir, "state")}, NoWait: true}}
}

func (b *testBackend) Load(a config.Settings) (config.Result, error) {
	return config.Load(config.Sources{Answers: a, Adjust: config.FromHardware(b.report, false)})
}

func (b *testBackend) Plan(ctx context.Context, cfg config.Config) (*installer.Plan, error) {
	return b.in.Plan(ctx, cfg, installer.PlanOptions{})
}

func (b *testBackend) Apply(ctx context.Context, p *installer.Plan, rep installer.Reporter) (*installer.Result, error) {
	b.mu.Lock()
	b.applied++
	b.mu.Unlock()
	if b.realApply {
		in := *b.in
		in.Report = rep
		return in.Apply(ctx, p)
	}
	for _, e := range b.events {
		rep(e)
	}
	if b.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if b.applyErr != nil {
		return nil, b.applyErr
	}
	return &installer.Result{URL: "http://192.168.1.20:30123", SecretsPath: "/etc/hakube/secrets.json",
		ConfigPath: "/etc/hakube/config.yaml", ManifestsDir: p.ManifestsDir, Waited: true, Applied: true}, nil
}

func (b *testBackend) SaveAnswers(path string, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.saved[path] = data
	return nil
}

func (b *testBackend) K3sAPI(context.Context) string { return b.api }

func (b *testBackend) InstallK3s(ctx context.Context, progress func(string)) (*hwdetect.Report, error) {
	if b.k3s == nil {
		return nil, errors.New("no k3s installer in this test")
	}
	return b.k3s(progress)
}

// wizard starts a model at 80×24 with a fixed clock and no ticking.
func wizard(t testing.TB, b *testBackend) *Model {
	m := New(context.Background(), Options{Backend: b, Report: b.report, HostTimezone: "Europe/Berlin",
		K3sVersion: "v1.33.4+k3s1", Now: func() time.Time { return t0 }})
	m.noTick = true
	runCmd(t, m, m.Init())
	return m
}

// key builds a key press as the terminal sends it.
func key(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "ctrl+u":
		return tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}
	}
	r := []rune(s)
	return tea.KeyPressMsg{Code: r[0], Text: s}
}

// press sends keys and runs the commands they return, as the program
// would, until none is left. It reports whether the wizard quit.
func press(t testing.TB, m *Model, keys ...string) (quit bool) {
	t.Helper()
	for _, k := range keys {
		if send(t, m, key(k)) {
			quit = true
		}
	}
	return quit
}

// typeText types s into the focused text field.
func typeText(t testing.TB, m *Model, s string) {
	for _, r := range s {
		send(t, m, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func send(t testing.TB, m *Model, msg tea.Msg) (quit bool) {
	t.Helper()
	_, cmd := m.Update(msg)
	return runCmd(t, m, cmd)
}

func runCmd(t testing.TB, m *Model, cmd tea.Cmd) (quit bool) {
	t.Helper()
	if cmd == nil {
		return false
	}
	msg := cmd()
	switch msg := msg.(type) {
	case nil:
		return false
	case tea.QuitMsg:
		return true
	case tea.BatchMsg:
		for _, c := range msg {
			if runCmd(t, m, c) {
				quit = true
			}
		}
		return quit
	}
	return send(t, m, msg)
}

// recordedEvents reads an event stream recorded as JSON lines
// ('hakube install --output json').
func recordedEvents(t testing.TB, name string) []installer.Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []installer.Event
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e installer.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e.Phase != "" {
			out = append(out, e)
		}
	}
	return out
}

func settingValue(t testing.TB, s *config.Settings, key string) (any, config.Source) {
	t.Helper()
	v, src, ok := s.Value(key)
	if !ok {
		t.Fatalf("answers: %s not set (keys set: %v)", key, s.Keys())
	}
	return v, src
}
