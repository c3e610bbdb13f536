package tui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/installer"
)

// Model is the wizard's state. Build it with New; it implements tea.Model.
type Model struct {
	opts    Options
	ctx     context.Context
	report  *hwdetect.Report
	answers config.Settings
	res     config.Result // the effective configuration of the answers so far
	held    []string      // keys of res that are placeholders for later steps

	step     Step
	form     *form
	problems []string // what blocks the current step
	notes    []string // remarks from the last step
	fatal    string   // the settings cannot load at all (a bad flag or variable)

	width, height int

	// Review.
	plan      *installer.Plan
	planning  bool
	planSeq   int // a plan answers only the visit of the review that asked
	planErr   error
	action    int // 0 install, 1 back, 2 save
	scroll    int
	saveField *field // the path, while saving

	// k3s install.
	k3sLines   []string
	installing bool
	k3sErr     error

	// Progress.
	events  chan tea.Msg
	cancel  context.CancelFunc
	prog    progress
	stopped bool // Ctrl+C while following the install

	outcome  Outcome
	quitting bool
	noTick   bool // tests draw elapsed times from a fixed clock
	probing  bool // asking whether k3s's API answers
}

// New returns the wizard at its first step. ctx bounds every side effect.
func New(ctx context.Context, o Options) *Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AnswersFile == "" {
		o.AnswersFile = "hakube-answers.yaml"
	}
	m := &Model{opts: o, ctx: ctx, report: o.Report, width: 80, height: 24}
	m.probing = o.K3sAPI == "" && o.Backend != nil
	m.reload(StepMachine)
	m.enter(StepMachine)
	return m
}

// Answers is the wizard's settings layer so far.
func (m *Model) Answers() *config.Settings { return &m.answers }

// Config is the effective configuration of the answers so far.
func (m *Model) Config() config.Config { return m.res.Config }

// Plan is the plan shown on the review step, once made.
func (m *Model) Plan() *installer.Plan { return m.plan }

// Step is the current step.
func (m *Model) Step() Step { return m.step }

// Problems are what blocks the current step.
func (m *Model) Problems() []string { return m.problems }

// Outcome is how the wizard ended (Cancelled until it ends otherwise).
func (m *Model) Outcome() Outcome { return m.outcome }

func (m *Model) cfg() *config.Config { return &m.res.Config }

func (m *Model) k3sMissing() bool {
	return m.report != nil && m.report.K3s.Binary == "" && m.report.K3s.API != "running" && m.opts.K3sAPI == ""
}

// reload loads the answers for the steps up to s; it reports whether they
// hold.
func (m *Model) reload(s Step) bool {
	res, held, problems, err := preview(m.opts.Backend, &m.answers, s)
	switch {
	case err != nil:
		m.problems = []string{err.Error()}
		return false
	case len(problems) > 0:
		m.problems = problems
		if s == StepMachine {
			m.fatal = "these settings come from the flags file, the environment or the flags: fix them and run 'hakube install' again"
		}
		return false
	}
	m.res, m.held, m.problems = res, held, nil
	return true
}

// enter shows step s with fresh fields.
func (m *Model) enter(s Step) tea.Cmd {
	m.step = s
	m.form = m.buildForm(s)
	m.scroll = 0
	if s == StepReview {
		m.plan, m.planErr, m.planning, m.action = nil, nil, true, 0
		m.planSeq++
		return m.planCmd()
	}
	return nil
}

func (m *Model) next(s Step) Step {
	for n := s + 1; n < StepReview; n++ {
		if m.stepShown(n) {
			return n
		}
	}
	return StepReview
}

func (m *Model) prev(s Step) Step {
	for p := s - 1; p > StepMachine; p-- {
		if m.stepShown(p) {
			return p
		}
	}
	return StepMachine
}

// Init implements tea.Model: the first frame is drawn at once, while the
// wizard asks whether k3s's API answers.
func (m *Model) Init() tea.Cmd {
	if !m.probing {
		return nil
	}
	b, ctx := m.opts.Backend, m.ctx
	return func() tea.Msg { return k3sAPIMsg(b.K3sAPI(ctx)) }
}

// Messages the wizard's commands return.
type (
	planMsg struct {
		seq  int // which visit of the review asked for it
		plan *installer.Plan
		err  error
	}
	savedMsg struct {
		path string
		err  error
	}
	eventMsg   installer.Event
	appliedMsg struct {
		res *installer.Result
		err error
	}
	k3sLineMsg string
	k3sAPIMsg  string
	k3sDoneMsg struct {
		report *hwdetect.Report
		err    error
	}
	tickMsg time.Time
)

func (m *Model) planCmd() tea.Cmd {
	b, ctx, cfg, seq := m.opts.Backend, m.ctx, m.res.Config, m.planSeq
	return func() tea.Msg {
		p, err := b.Plan(ctx, cfg)
		return planMsg{seq, p, err}
	}
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case planMsg:
		if msg.seq != m.planSeq || m.step != StepReview {
			return m, nil // the answers changed since it was asked for
		}
		m.planning = false
		m.plan, m.planErr = msg.plan, msg.err
		if msg.err != nil {
			m.action = 1
		}
		return m, nil
	case savedMsg:
		if msg.err != nil {
			m.problems = []string{msg.err.Error()}
			return m, nil
		}
		m.outcome = Outcome{Kind: Saved, SavedPath: msg.path, Message: fmt.Sprintf(
			"Saved your answers to %s (nothing was installed).\nInstall with them later, unattended:\n  sudo hakube install --config %s --yes\n", msg.path, msg.path)}
		return m, m.quit()
	case eventMsg:
		m.prog.add(installer.Event(msg))
		return m, wait(m.events)
	case appliedMsg:
		return m, m.applied(msg)
	case tickMsg:
		if m.step == StepProgress {
			return m, m.tick()
		}
		return m, nil
	case k3sAPIMsg:
		m.probing = false
		if msg != "" {
			m.opts.K3sAPI = string(msg)
		}
		if m.step == StepMachine {
			m.form = m.buildForm(StepMachine)
		}
		return m, nil
	case k3sLineMsg:
		m.k3sLines = append(m.k3sLines, string(msg))
		return m, wait(m.events)
	case k3sDoneMsg:
		m.installing = false
		if msg.err != nil {
			m.k3sErr = msg.err
			return m, nil
		}
		m.report = msg.report
		// The saved answers then install k3s too on a machine without it.
		_ = m.answers.Set("install-k3s", true, config.WizardSource(StepMachine.String()))
		if m.opts.K3sAPI == "" {
			m.opts.K3sAPI = "the kubeconfig's server" // InstallK3s returns once it answers
		}
		m.reload(StepMachine)
		m.enter(StepMachine)
		return m, nil
	}
	return m, nil
}

func (m *Model) quit() tea.Cmd {
	m.quitting = true
	return tea.Quit
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	s := k.String()
	if s == "ctrl+c" {
		return m.interrupt()
	}
	switch m.step {
	case StepReview:
		return m.reviewKey(s, k.Text)
	case StepProgress:
		return nil
	case StepDone:
		if s == "enter" || s == "esc" || s == "q" {
			return m.quit()
		}
		return nil
	}
	if m.installing || (m.probing && m.step == StepMachine && s == "enter") {
		return nil
	}
	switch s {
	case "esc":
		if m.step > StepMachine {
			m.problems, m.notes = nil, nil
			m.reload(m.prev(m.step))
			return m.enter(m.prev(m.step))
		}
		return nil
	case "enter":
		return m.submit()
	}
	m.form.key(s, k.Text)
	return nil
}

// submit takes the current step's answers and moves on when they hold.
func (m *Model) submit() tea.Cmd {
	if m.step == StepMachine {
		if m.fatal != "" {
			return nil
		}
		if m.k3sMissing() && m.form.get("k3s") != nil {
			if m.form.value("k3s") == "quit" {
				m.outcome = Outcome{Kind: Cancelled, Message: "Cancelled: nothing was written. Install k3s, then run 'sudo hakube install' again.\n"}
				return m.quit()
			}
			return m.installK3s()
		}
		return m.enter(m.next(StepMachine))
	}
	before := snapshot(&m.answers, m.step)
	notes, err := m.commit(m.step, m.form)
	if err != nil {
		m.problems = problemLines(err)
		return nil
	}
	if snapshot(&m.answers, m.step) != before {
		// Later steps' defaults depend on this answer: ask them again.
		for s := m.step + 1; s < StepReview; s++ {
			for _, k := range stepKeys[s] {
				m.answers.Unset(k)
			}
		}
	}
	if !m.reload(m.step) {
		return nil
	}
	m.notes = notes
	return m.enter(m.next(m.step))
}

// problemLines turns a configuration error into one line per problem.
func problemLines(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		var cerr *config.Error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		if errors.As(err, &cerr) {
			for _, p := range cerr.Problems {
				out = append(out, p.String())
			}
			return
		}
		out = append(out, err.Error())
	}
	walk(err)
	return out
}

func (m *Model) reviewKey(s, text string) tea.Cmd {
	if m.saveField != nil {
		switch s {
		case "esc":
			m.saveField, m.problems = nil, nil
		case "enter":
			return m.saveCmd(strings.TrimSpace(m.saveField.text))
		default:
			(&form{fields: []*field{m.saveField}}).key(s, text)
		}
		return nil
	}
	switch s {
	case "esc":
		m.problems = nil
		m.reload(m.prev(StepReview))
		return m.enter(m.prev(StepReview))
	case "left", "shift+tab":
		m.action = (m.action + 2) % 3
	case "right", "tab":
		m.action = (m.action + 1) % 3
	case "up", "k":
		m.scroll = max(m.scroll-1, 0)
	case "down", "j":
		m.scroll++
	case "pgup":
		m.scroll = max(m.scroll-10, 0)
	case "pgdown", "space":
		m.scroll += 10
	case "i":
		m.action = 0
	case "b":
		m.action = 1
	case "s":
		m.action = 2
	case "enter":
		if m.planning {
			return nil
		}
		switch m.action {
		case 0:
			if m.plan == nil {
				return nil
			}
			return m.startApply()
		case 1:
			m.reload(m.prev(StepReview))
			return m.enter(m.prev(StepReview))
		case 2:
			m.saveField = &field{id: "path", label: "Save to", kind: textField, text: m.opts.AnswersFile}
		}
	}
	return nil
}

func (m *Model) saveCmd(path string) tea.Cmd {
	if path == "" {
		m.problems = []string{"give a file name for the answers"}
		return nil
	}
	data, err := AnswersFile(&m.res, m.report)
	if err != nil {
		m.problems = []string{err.Error()}
		return nil
	}
	b := m.opts.Backend
	return func() tea.Msg { return savedMsg{path, b.SaveAnswers(path, data)} }
}

// startApply begins the install; its events come back as messages.
func (m *Model) startApply() tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	m.cancel = cancel
	m.step = StepProgress
	m.prog = newProgress(m.plan, m.opts.Now())
	ch := make(chan tea.Msg, 256)
	m.events = ch
	b, p := m.opts.Backend, m.plan
	run := func() tea.Msg {
		go func() {
			res, err := b.Apply(ctx, p, func(e installer.Event) { ch <- eventMsg(e) })
			ch <- appliedMsg{res, err}
			close(ch)
		}()
		return nil
	}
	return tea.Batch(run, wait(ch), m.tick())
}

func wait(ch chan tea.Msg) tea.Cmd {
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		msg, ok := <-ch
		if !ok {
			return nil
		}
		return msg
	}
}

func (m *Model) tick() tea.Cmd {
	if m.noTick {
		return nil
	}
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

func (m *Model) installK3s() tea.Cmd {
	m.installing, m.k3sErr, m.k3sLines = true, nil, nil
	ch := make(chan tea.Msg, 256)
	m.events = ch
	ctx, cancel := context.WithCancel(m.ctx)
	m.cancel = cancel
	b := m.opts.Backend
	run := func() tea.Msg {
		go func() {
			r, err := b.InstallK3s(ctx, func(line string) { ch <- k3sLineMsg(line) })
			ch <- k3sDoneMsg{r, err}
			close(ch)
		}()
		return nil
	}
	return tea.Batch(run, wait(ch))
}

func (m *Model) applied(msg appliedMsg) tea.Cmd {
	if m.cancel != nil {
		m.cancel()
	}
	switch {
	case m.stopped || errors.Is(msg.err, context.Canceled):
		m.outcome = Outcome{Kind: Interrupted, Err: context.Canceled, Message: m.stoppedMessage()}
		return m.quit()
	case msg.err != nil:
		m.outcome = Outcome{Kind: Failed, Err: msg.err, Message: "The install failed: " + msg.err.Error() + "\n"}
	default:
		m.outcome = Outcome{Kind: Installed, Result: msg.res, Message: doneText(msg.res, m.plan)}
	}
	m.step = StepDone
	return nil
}

// interrupt is Ctrl+C: before the install nothing was written; during it,
// stop following (k3s carries on with what was written).
func (m *Model) interrupt() tea.Cmd {
	switch m.step {
	case StepProgress:
		if m.stopped {
			m.outcome = Outcome{Kind: Interrupted, Err: context.Canceled, Message: m.stoppedMessage()}
			return m.quit()
		}
		m.stopped = true
		if m.cancel != nil {
			m.cancel()
		}
		return nil // the install returns, then appliedMsg quits
	case StepDone:
		return m.quit()
	}
	if m.installing {
		m.stopped = true
		if m.cancel != nil {
			m.cancel()
		}
		m.outcome = Outcome{Kind: Cancelled, Message: "Cancelled while installing k3s: hakube wrote nothing; the k3s installer may have left k3s half installed (see 'systemctl status k3s').\n"}
		return m.quit()
	}
	m.outcome = Outcome{Kind: Cancelled, Message: "Cancelled: nothing was written.\n"}
	return m.quit()
}

func (m *Model) stoppedMessage() string {
	var b strings.Builder
	b.WriteString("Stopped waiting. ")
	written := m.prog.written()
	if len(written) == 0 {
		b.WriteString("No manifest was written yet.\n")
		return b.String()
	}
	dir := ""
	if m.plan != nil {
		dir = filepath.Clean(m.plan.ManifestsDir)
	}
	fmt.Fprintf(&b, "Written to %s: %s.\n", dir, strings.Join(written, ", "))
	b.WriteString("k3s carries on applying them: follow with 'hakube status'.\n")
	return b.String()
}
