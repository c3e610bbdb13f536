package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
)

// compLine is one component of the progress view.
type compLine struct {
	name  string
	state installer.State // "" until its first event
	at    time.Time       // when it reached state
	msg   string
}

// progress is what the installer's events said so far.
type progress struct {
	start    time.Time
	comps    []*compLine
	log      []installer.Event // events not about one component: k3s's own messages
	failures []installer.Event // events with advice, each advice once
	wrote    []string
	done     bool              // Home Assistant answered
	all      []installer.Event // every event, in order
}

func newProgress(p *installer.Plan, now time.Time) progress {
	pr := progress{start: now}
	if p != nil {
		for _, f := range p.Files {
			if f.Change != installer.Removed {
				pr.comp(f.Component)
			}
		}
	}
	return pr
}

func (p *progress) comp(name string) *compLine {
	for _, c := range p.comps {
		if c.name == name {
			return c
		}
	}
	c := &compLine{name: name}
	p.comps = append(p.comps, c)
	return c
}

// add takes one event.
func (p *progress) add(e installer.Event) {
	p.all = append(p.all, e)
	if e.Advice != "" && !slices.ContainsFunc(p.failures, func(f installer.Event) bool { return f.Advice == e.Advice }) {
		p.failures = append(p.failures, e)
	}
	if e.Phase == installer.PhaseDone && e.Level == installer.LevelDone {
		p.done = true
	}
	if e.Component != "" && e.State != "" {
		c := p.comp(e.Component)
		c.state, c.at, c.msg = e.State, e.Time, e.Message
		if e.State == installer.StateWritten && !slices.Contains(p.wrote, e.Component) {
			p.wrote = append(p.wrote, e.Component)
		}
		return
	}
	p.log = append(p.log, e)
	if len(p.log) > 100 {
		p.log = p.log[len(p.log)-100:]
	}
}

// written lists the components whose files were written.
func (p *progress) written() []string { return p.wrote }

var stateWords = map[installer.State]string{
	"":                      "waiting",
	installer.StateWritten:  "written",
	installer.StateApplied:  "applied by k3s",
	installer.StatePulling:  "image pulling",
	installer.StateStarting: "starting",
	installer.StateReady:    "Ready",
	installer.StateFailed:   "failed",
}

func (p *progress) elapsed(c *compLine, now time.Time) time.Duration {
	end := now
	final := c.state == installer.StateReady || c.state == installer.StateFailed || (p.done && c.state == installer.StateApplied)
	if final && !c.at.IsZero() {
		end = c.at
	}
	return max(end.Sub(p.start), 0).Truncate(time.Second)
}

func clock(d time.Duration) string {
	d = d.Truncate(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// doneText is the final screen as plain text: where Home Assistant is,
// where the credentials are kept and how to print them. Never a secret.
func doneText(r *installer.Result, p *installer.Plan) string {
	var b strings.Builder
	if r == nil {
		return "Installed.\n"
	}
	if r.URL != "" {
		fmt.Fprintf(&b, "Home Assistant is ready: %s\n", r.URL)
	} else {
		b.WriteString("The manifests are written: k3s applies them when it runs.\n")
	}
	if p != nil {
		for _, port := range p.Ports {
			if port.Service != "home-assistant" && port.NodePort != 0 {
				fmt.Fprintf(&b, "  %s: port %d on this machine\n", port.Service, port.NodePort)
			}
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	fmt.Fprintf(&b, "Credentials are kept in %s (root only).\n", r.SecretsPath)
	b.WriteString("Print them with: sudo hakube credentials\n")
	fmt.Fprintf(&b, "Settings saved in %s: 'sudo hakube upgrade' reuses them.\n", r.ConfigPath)
	return b.String()
}

// componentTitle names a component on the progress screen.
func componentTitle(name string) string {
	if t, ok := componentNames[config.Component(name)]; ok {
		return strings.SplitN(t, " (", 2)[0]
	}
	return name
}
