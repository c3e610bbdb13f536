package tui

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/installer"
)

// Styles: colours are ANSI's basic ones, downsampled (or dropped, with
// NO_COLOR) by the terminal's profile.
var (
	sTitle  = lipgloss.NewStyle().Bold(true)
	sStep   = lipgloss.NewStyle().Foreground(lipgloss.Cyan).Bold(true)
	sDim    = lipgloss.NewStyle().Foreground(lipgloss.BrightBlack)
	sSel    = lipgloss.NewStyle().Foreground(lipgloss.Cyan).Bold(true)
	sOK     = lipgloss.NewStyle().Foreground(lipgloss.Green)
	sWarn   = lipgloss.NewStyle().Foreground(lipgloss.Yellow)
	sBad    = lipgloss.NewStyle().Foreground(lipgloss.Red).Bold(true)
	sButton = lipgloss.NewStyle().Reverse(true).Bold(true)
)

// View implements tea.Model.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "hakube install"
	return v
}

// Render draws the current screen at the window's size.
func (m *Model) Render() string {
	w, h := max(m.width, 40), max(m.height, 10)
	var body []string
	var footer string
	switch m.step {
	case StepMachine:
		body, footer = m.machineView(w)
	case StepReview:
		body, footer = m.reviewView(w, h-4)
	case StepProgress:
		body, footer = m.progressView(w)
	case StepDone:
		body, footer = m.doneView(w)
	default:
		body, footer = m.formView(w)
	}
	if m.quitting && m.outcome.Kind == Cancelled {
		footer = sWarn.Render(strings.TrimSpace(m.outcome.Message))
	}
	head := m.header(w)
	lines := append(head, body...)
	room := h - 2
	if len(lines) > room {
		lines = append(lines[:room-1], sDim.Render("…"))
	}
	for len(lines) < room {
		lines = append(lines, "")
	}
	lines = append(lines, sDim.Render(strings.Repeat("─", w)), ansi.Truncate(footer, w, "…"))
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w, "…")
	}
	return strings.Join(lines, "\n")
}

func (m *Model) header(w int) []string {
	n, total := 0, 0
	for s := StepMachine; s <= StepReview; s++ {
		if s == StepMachine || m.stepShown(s) {
			total++
			if s <= m.step {
				n = total
			}
		}
	}
	title := sTitle.Render("hakube install")
	step := sStep.Render(m.step.String())
	if m.step <= StepReview {
		step += sDim.Render(fmt.Sprintf("  %d/%d", n, total))
	}
	return []string{title + sDim.Render(" · ") + step, ""}
}

// wrap breaks plain text to width, indenting the lines after the first.
func wrap(s string, width, indent int) []string {
	if width-indent < 20 {
		width = indent + 20
	}
	out := strings.Split(lipgloss.Wrap(s, width-indent, " "), "\n")
	for i := range out {
		out[i] = strings.TrimRight(out[i], " ")
		if i > 0 {
			out[i] = strings.Repeat(" ", indent) + out[i]
		}
	}
	return out
}

func (m *Model) problemLines(w int) []string {
	var out []string
	if len(m.problems) > 0 {
		out = append(out, "")
		for _, p := range m.problems {
			for i, l := range wrap(p, w, 4) {
				if i == 0 {
					l = sBad.Render("✗ ") + sBad.Render(l)
				} else {
					l = sBad.Render(l)
				}
				out = append(out, l)
			}
		}
	}
	return out
}

func (m *Model) machineView(w int) ([]string, string) {
	r := m.report
	var out []string
	row := func(label, text string) {
		for i, l := range wrap(text, w, 10) {
			if i == 0 {
				l = sTitle.Render(fmt.Sprintf("%-9s ", label)) + l
			}
			out = append(out, l)
		}
	}
	if r == nil {
		out = append(out, "Nothing was detected.")
	} else {
		model := strings.TrimSpace(r.Board.Model)
		if r.Board.Vendor != "" && !strings.HasPrefix(model, r.Board.Vendor) {
			model = strings.TrimSpace(r.Board.Vendor + " " + model)
		}
		if model == "" {
			model = "unknown board"
		}
		cpu := r.Arch
		if r.CPU.Count > 0 {
			cpu += fmt.Sprintf(", %d CPUs", r.CPU.Count)
		}
		row("Board", model+" ("+cpu+")")
		if r.Memory.TotalBytes > 0 {
			row("Memory", fmt.Sprintf("%s board, %s usable", hwdetect.HumanBytes(r.Memory.BoardBytes), hwdetect.HumanBytes(r.Memory.TotalBytes)))
		} else {
			row("Memory", "unknown")
		}
		disk, dir := "free space not measured", r.K3s.DataDir
		if m.opts.DataDir != "" && filepath.Clean(m.opts.DataDir) != filepath.Clean(dir) {
			dir = m.opts.DataDir
		} else if r.Disk.Checked {
			disk = hwdetect.HumanBytes(r.Disk.FreeBytes) + " free"
		}
		row("Storage", dir+": "+disk)
		switch {
		case m.probing:
			row("k3s", "checking whether its API server answers…")
		case m.opts.K3sAPI != "" && r.K3s.API != "running":
			row("k3s", "running (API at "+m.opts.K3sAPI+")")
		default:
			row("k3s", k3sState(r))
		}
		if len(r.Radios) == 0 {
			row("Radios", "none found")
		}
		for i, rd := range r.Radios {
			label := ""
			if i == 0 {
				label = "Radios"
			}
			text := radioLabel(rd) + " at " + rd.Path
			switch {
			case rd.Kind == hwdetect.KindZigbee && rd.Adapter != "":
				text += " (Zigbee, " + rd.Adapter + ")"
			case rd.Kind == hwdetect.KindZigbee:
				text += " (Zigbee)"
			case rd.Kind == hwdetect.KindZWave:
				text += " (Z-Wave: not used yet)"
			default:
				text += " (unknown radio)"
			}
			row(label, text)
		}
		var bad []hwdetect.Check
		offer := m.form != nil && len(m.form.fields) > 0
		for _, c := range r.Checks {
			if (c.ID == hwdetect.CheckK3s && offer) || ((c.ID == hwdetect.CheckK3s || c.ID == hwdetect.CheckK3sAPI) && (m.opts.K3sAPI != "" || m.probing)) {
				continue // the offer below says it, or the API answered
			}
			if c.Status == hwdetect.StatusProblem || c.Status == hwdetect.StatusWarning {
				bad = append(bad, c)
			}
		}
		if len(bad) > 0 {
			out = append(out, "")
		}
		for _, c := range bad {
			mark, st := sBad.Render("✗"), sBad
			if c.Status == hwdetect.StatusWarning {
				mark, st = sWarn.Render("!"), sWarn
			}
			for i, l := range wrap(c.Title+": "+c.Detail, w, 2) {
				if i == 0 {
					l = mark + " " + st.Render(l)
				}
				out = append(out, l)
			}
			if c.Fix != "" {
				for _, l := range wrap("fix: "+c.Fix, w, 4) {
					out = append(out, "  "+sDim.Render(strings.TrimLeft(l, " ")))
				}
			}
		}
	}
	footer := "enter continue · ctrl+c quit"
	if m.probing {
		footer = "ctrl+c quit"
	}
	switch {
	case m.fatal != "":
		out = append(out, m.problemLines(w)...)
		out = append(out, wrap(m.fatal, w, 0)...)
		return out, "ctrl+c quit"
	case m.installing:
		out = append(out, "", sStep.Render("Installing k3s "+m.opts.K3sVersion+" …"))
		lines := m.k3sLines
		if len(lines) > 6 {
			lines = lines[len(lines)-6:]
		}
		for _, l := range lines {
			out = append(out, sDim.Render("  "+l))
		}
		return out, "ctrl+c stop"
	case m.form != nil && len(m.form.fields) > 0:
		out = append(out, "")
		if m.k3sErr != nil {
			for _, l := range wrap("k3s install failed: "+m.k3sErr.Error(), w, 2) {
				out = append(out, sBad.Render(l))
			}
		}
		out = append(out, sTitle.Render("k3s is missing: hakube installs onto it."))
		out = append(out, m.fieldLines(m.form.fields[0], true, w)...)
		footer = "↑/↓ choose · enter confirm · ctrl+c quit"
	}
	out = append(out, m.problemLines(w)...)
	out = append(out, m.noteLines(w, m.res.Notes)...)
	return out, footer
}

func k3sState(r *hwdetect.Report) string {
	switch {
	case r.K3s.API == "running":
		return "running (API at " + r.K3s.APIAddress + ")"
	case r.K3s.Binary != "" && r.K3s.API == "not-running":
		return "installed at " + r.K3s.Binary + ", not running: start it with 'systemctl start k3s'"
	case r.K3s.Binary != "":
		return "installed at " + r.K3s.Binary
	}
	return "not installed"
}

func (m *Model) noteLines(w int, notes []string) []string {
	var out []string
	if len(notes) > 0 {
		out = append(out, "")
	}
	for _, n := range notes {
		for i, l := range wrap(n, w, 2) {
			if i == 0 {
				l = sDim.Render("• ") + l
			}
			out = append(out, l)
		}
	}
	return out
}

var stepIntro = map[Step]string{
	StepProfile:    "How Home Assistant is set up. Each profile brings its own defaults; the next steps let you change them.",
	StepComponents: "Choose what runs next to Home Assistant (which is always installed).",
	StepRadio:      "Which Zigbee coordinator Zigbee2MQTT uses.",
	StepReach:      "How you reach Home Assistant, where it keeps history, and its time zone.",
}

func (m *Model) formView(w int) ([]string, string) {
	out := wrap(stepIntro[m.step], w, 0)
	out = append(out, m.noteLines(w, m.notes)...)
	out = append(out, "")
	f := m.form
	focus := f.focused()
	vis := f.visible()
	for i, fl := range vis {
		if i > 0 && vis[i-1].list {
			out = append(out, "")
		}
		out = append(out, m.fieldLines(fl, fl == focus, w)...)
	}
	out = append(out, m.problemLines(w)...)
	footer := "enter next · esc back · ctrl+c quit"
	switch {
	case focus != nil && focus.list && focus.kind == multiField:
		footer = "↑/↓ move · space toggle · " + footer
	case focus != nil && focus.list && len(vis) > 1:
		footer = "↑/↓ choose · tab next field · " + footer
	case focus != nil && focus.list:
		footer = "↑/↓ choose · " + footer
	default:
		footer = "↑/↓ field · ←/→ change · " + footer
	}
	return out, footer
}

// fieldLines draws one field: a vertical list when it is the step's only
// field, else one line.
func (m *Model) fieldLines(fl *field, focused bool, w int) []string {
	var out []string
	if fl.list {
		for i, o := range fl.options {
			cursor := "  "
			switch {
			case i == fl.cur && focused:
				cursor = sSel.Render("› ")
			case i == fl.cur && fl.kind == choiceField:
				cursor = "• "
			}
			label := o.label
			if fl.kind == multiField {
				box := "[ ] "
				if fl.checked[i] {
					box = "[x] "
				}
				label = box + label
			} else if i == fl.cur {
				label = sSel.Render(label)
			}
			out = append(out, cursor+label)
			if o.hint != "" && (!fl.hintSelected || i == fl.cur) {
				for _, l := range wrap(o.hint, w, 6) {
					out = append(out, "    "+sDim.Render(strings.TrimLeft(l, " ")))
				}
			}
		}
		return out
	}
	cursor := "  "
	if focused {
		cursor = sSel.Render("› ")
	}
	label := fmt.Sprintf("%-16s", fl.label)
	if focused {
		label = sSel.Render(label)
	}
	var value, hint string
	switch fl.kind {
	case choiceField:
		o := fl.options[fl.cur]
		value, hint = "‹ "+o.label+" ›", o.hint
		if focused {
			value = sSel.Render(value)
		}
	case textField:
		value = fl.text
		if focused {
			value += "▏"
		}
		hint = fl.help
	case multiField:
		value = strings.Join(func() []string {
			var v []string
			for i, o := range fl.options {
				if fl.checked[i] {
					v = append(v, o.value)
				}
			}
			return v
		}(), ", ")
	}
	out = append(out, cursor+label+" "+value)
	if hint != "" && focused {
		for _, l := range wrap(hint, w, 21) {
			out = append(out, strings.Repeat(" ", 21)+sDim.Render(strings.TrimLeft(l, " ")))
		}
	}
	return out
}

func (m *Model) reviewView(w, room int) ([]string, string) {
	var out []string
	footer := "←/→ action · enter confirm · ↑/↓ scroll · esc back · ctrl+c quit"
	actions := []string{"Install", "Back", "Save answers and quit"}
	var buttons []string
	for i, a := range actions {
		if i == m.action {
			buttons = append(buttons, sButton.Render("[ "+a+" ]"))
		} else {
			buttons = append(buttons, "  "+a+"  ")
		}
	}
	bar := []string{strings.Join(buttons, "  ")}
	if m.planning {
		bar = []string{""}
	}
	if m.saveField != nil {
		bar = []string{"Save the answers to: " + m.saveField.text + "▏", sDim.Render("enter save · esc cancel")}
		footer = "enter save · esc cancel · ctrl+c quit"
	}
	var body []string
	switch {
	case m.planning:
		body = []string{"Working out the plan…"}
	case m.planErr != nil:
		body = append(body, sBad.Render("The plan cannot be made:"))
		for _, l := range strings.Split(m.planErr.Error(), "\n") {
			body = append(body, wrap(l, w, 2)...)
		}
		body = append(body, "", "Go back to change your answers, or fix the host and run 'sudo hakube install' again.")
	default:
		body = planLines(m.plan, w)
	}
	bar = append(bar, m.problemLines(w)...)
	avail := max(room-len(bar)-1, 3)
	m.scroll = min(m.scroll, max(len(body)-avail, 0))
	shown := body[m.scroll:min(m.scroll+avail, len(body))]
	out = append(out, shown...)
	for len(out) < avail {
		out = append(out, "")
	}
	more := ""
	if m.scroll+avail < len(body) {
		more = fmt.Sprintf("↓ %d more lines", len(body)-m.scroll-avail)
	}
	out = append(out, sDim.Render(more))
	out = append(out, bar...)
	return out, footer
}

// planLines describes a plan: what is written and what changes, images,
// ports, volumes and credentials.
func planLines(p *installer.Plan, w int) []string {
	var out []string
	c := p.Config
	comps := []string{"home-assistant"}
	comps = append(comps, strs(c.Components)...)
	out = append(out, wrap(fmt.Sprintf("Profile %s, namespace %s: %s", c.Profile, c.Namespace, strings.Join(comps, ", ")), w, 2)...)
	out = append(out, wrap(summary(&c), w, 2)...)
	var added, changed, same, removed int
	for _, f := range p.Files {
		switch f.Change {
		case installer.Added:
			added++
		case installer.Changed:
			changed++
		case installer.Unchanged:
			same++
		case installer.Removed:
			removed++
		}
	}
	out = append(out, "", sTitle.Render("Files")+sDim.Render(" in "+filepath.Clean(p.ManifestsDir)))
	out = append(out, fmt.Sprintf("  %d new, %d changed, %d unchanged, %d removed", added, changed, same, removed))
	for _, f := range p.Files {
		mark := map[installer.Change]string{installer.Added: sOK.Render("+"), installer.Changed: sWarn.Render("~"),
			installer.Unchanged: " ", installer.Removed: sBad.Render("-")}[f.Change]
		line := fmt.Sprintf("  %s %-34s %s", mark, f.File, f.Change)
		if f.Change == installer.Changed {
			line += fmt.Sprintf(" (+%d -%d lines)", f.Added, f.Removed)
		}
		if f.Cluster != "" {
			line += sDim.Render(", k3s: " + f.Cluster)
		}
		out = append(out, line)
		for _, img := range f.Images {
			out = append(out, sDim.Render("      image "+img))
		}
	}
	out = append(out, "", sTitle.Render("Images"))
	for _, img := range p.Images {
		out = append(out, "  "+img.Ref)
	}
	out = append(out, "", sTitle.Render("Ports"))
	for _, port := range p.Ports {
		where := port.Reach
		if port.NodePort != 0 {
			where = fmt.Sprintf("node port %d", port.NodePort)
		}
		out = append(out, fmt.Sprintf("  %-16s %-22s %5d  %s", port.Component, port.Service+"/"+port.Name, port.Port, where))
	}
	out = append(out, "", sTitle.Render("Volumes")+sDim.Render(" (sizes are fixed once created; data is never deleted)"))
	for _, v := range p.Volumes {
		state := "new"
		if v.Exists {
			state = "exists: kept"
		}
		out = append(out, fmt.Sprintf("  %-32s %6s  %s, %s", v.Claim, v.Size, v.StorageClass, state))
	}
	out = append(out, "", sTitle.Render("Credentials")+" "+credentialWords[p.Credentials])
	if len(p.Notes) > 0 {
		out = append(out, "")
		for _, n := range p.Notes {
			out = append(out, wrap("• "+n, w, 2)...)
		}
	}
	return out
}

// summary is the answers of the later steps in one line.
func summary(c *config.Config) string {
	var parts []string
	switch {
	case c.IngressHost != "":
		scheme := "http"
		if c.IngressTLS {
			scheme = "https"
		}
		parts = append(parts, "Reached at "+scheme+"://"+c.IngressHost)
	case c.ServiceType == config.NodePort:
		parts = append(parts, fmt.Sprintf("Reached on node port %d", c.NodePort))
	case c.ServiceType == config.LoadBalancer:
		parts = append(parts, "Reached through a LoadBalancer, port 8123")
	default:
		parts = append(parts, "Reached inside the cluster only")
	}
	if c.HostNetwork {
		parts = append(parts, "host network")
	}
	parts = append(parts, map[config.Database]string{config.DatabaseSQLite: "SQLite", config.DatabasePostgreSQL: "PostgreSQL",
		config.DatabaseExternal: "external database"}[c.Database], c.Timezone)
	if c.ZigbeeDevice != "" {
		parts = append(parts, "Zigbee "+c.ZigbeeDevice+" ("+c.ZigbeeAdapter+")")
	}
	return strings.Join(parts, " · ")
}

var credentialWords = map[installer.CredentialStatus]string{
	installer.CredentialsNew:       "new: generated on install and kept root-only",
	installer.CredentialsKept:      "kept: the ones of the existing install",
	installer.CredentialsRecovered: "recovered from the cluster's copy",
}

func (m *Model) progressView(w int) ([]string, string) {
	now := m.opts.Now()
	p := &m.prog
	var out []string
	title := "Installing"
	if m.stopped {
		title = "Stopping: k3s carries on with what was written"
	}
	out = append(out, sTitle.Render(title)+sDim.Render("  "+clock(now.Sub(p.start))))
	out = append(out, "")
	for _, c := range p.comps {
		mark := sDim.Render("·")
		st := stateWords[c.state]
		state := c.state
		if p.done && state == installer.StateApplied {
			state, st = installer.StateReady, "applied"
		}
		switch state {
		case installer.StateReady:
			mark, st = sOK.Render("✓"), sOK.Render(fmt.Sprintf("%-15s", st))
		case installer.StateFailed:
			mark, st = sBad.Render("✗"), sBad.Render(fmt.Sprintf("%-15s", st))
		case installer.StatePulling, installer.StateStarting, installer.StateApplied, installer.StateWritten:
			mark, st = sWarn.Render("…"), fmt.Sprintf("%-15s", st)
		default:
			st = fmt.Sprintf("%-15s", st)
		}
		out = append(out, fmt.Sprintf("  %s %-16s %s %s", mark, componentTitle(c.name), st, sDim.Render(clock(p.elapsed(c, now)))))
	}
	log := p.log
	if len(log) > 6 {
		log = log[len(log)-6:]
	}
	if len(log) > 0 {
		out = append(out, "")
	}
	for _, e := range log {
		msg := e.Message
		if e.Object != "" && e.Component == "" {
			msg = e.Object + ": " + msg
		}
		line := wrap(fmt.Sprintf("[%s] %s", e.Phase, msg), w, 4)
		for i, l := range line {
			if i == 0 {
				l = "  " + l
			}
			switch e.Level {
			case installer.LevelWarning:
				l = sWarn.Render(l)
			case installer.LevelError:
				l = sBad.Render(l)
			default:
				l = sDim.Render(l)
			}
			out = append(out, l)
		}
	}
	for _, f := range p.failures {
		if f.Advice != "" {
			out = append(out, "")
			for _, l := range wrap("→ "+f.Advice, w, 2) {
				out = append(out, sWarn.Render(l))
			}
		}
	}
	footer := "ctrl+c stop waiting (k3s carries on)"
	if m.stopped {
		footer = "ctrl+c again to quit now"
	}
	return out, footer
}

func (m *Model) doneView(w int) ([]string, string) {
	var out []string
	o := m.outcome
	if o.Kind == Failed {
		out = append(out, sBad.Render("The install did not finish."))
		for _, l := range strings.Split(strings.TrimSpace(o.Err.Error()), "\n") {
			out = append(out, wrap(l, w, 2)...)
		}
		var advice []string
		for _, f := range m.prog.failures {
			if f.Advice != "" && !slices.Contains(advice, f.Advice) {
				advice = append(advice, f.Advice)
			}
		}
		for _, a := range advice {
			out = append(out, wrap("→ "+a, w, 2)...)
		}
		if written := m.prog.written(); len(written) > 0 {
			out = append(out, "")
			out = append(out, wrap("Written: "+strings.Join(written, ", ")+". Fix the cause and run 'sudo hakube install' again: it continues from here.", w, 0)...)
		}
		return out, "enter quit"
	}
	lines := strings.Split(strings.TrimRight(o.Message, "\n"), "\n")
	for i, l := range lines {
		if i == 0 {
			out = append(out, sOK.Render("✓ ")+sTitle.Render(l))
			continue
		}
		out = append(out, wrap(l, w, 2)...)
	}
	return out, "enter quit"
}
