package tui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"golang.org/x/term"
)

// RunAccessible runs the wizard as plain numbered prompts, for screen
// readers, dumb terminals and answers piped in: the same steps, defaults
// and checks as the full-screen wizard, one question per line. An empty
// line takes the default; "back" goes back a step. Everything is read
// through one buffered reader, so piped answers are never lost between
// questions.
func RunAccessible(ctx context.Context, o Options, in io.Reader, out io.Writer) (Outcome, error) {
	m := New(ctx, o)
	m.noTick = true
	a := &accessible{m: m, out: out, lines: make(chan lineOrErr), ctx: ctx, echo: !isTerminal(in)}
	go a.read(bufio.NewReader(in))
	if c := m.Init(); c != nil {
		a.dispatch(c()) // whether k3s answers, before the first question
	}
	err := a.run()
	if m.cancel != nil {
		m.cancel()
	}
	return m.Outcome(), err
}

type lineOrErr struct {
	line string
	err  error
}

type accessible struct {
	m     *Model
	out   io.Writer
	lines chan lineOrErr
	ctx   context.Context
	quit  bool
	shown int  // events printed
	echo  bool // print the answers read: a pipe does not echo them
}

// isTerminal reports whether r is a terminal (/dev/null is a character
// device too, but no terminal).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (a *accessible) read(r *bufio.Reader) {
	for {
		line, err := r.ReadString('\n')
		if line != "" || err == nil {
			a.lines <- lineOrErr{line: strings.TrimRight(line, "\r\n")}
		}
		if err != nil {
			a.lines <- lineOrErr{err: err}
			return
		}
	}
}

// errInputEnded says the answers ran out before the wizard finished.
var errInputEnded = errors.New("the input ended before the wizard finished")

func (a *accessible) ask(prompt string) (string, error) {
	fmt.Fprint(a.out, prompt)
	select {
	case <-a.ctx.Done():
		fmt.Fprintln(a.out)
		return "", a.ctx.Err()
	case l := <-a.lines:
		if l.err != nil {
			fmt.Fprintln(a.out)
			if errors.Is(l.err, io.EOF) {
				return "", errInputEnded
			}
			return "", l.err
		}
		if a.echo {
			fmt.Fprintln(a.out, l.line)
		}
		return strings.TrimSpace(l.line), nil
	}
}

func (a *accessible) p(format string, args ...any) { fmt.Fprintf(a.out, format+"\n", args...) }

// dispatch runs msg through the model and the commands it returns, as the
// program would, but in order and on this goroutine.
func (a *accessible) dispatch(msg tea.Msg) {
	if msg == nil {
		return
	}
	if _, ok := msg.(tea.QuitMsg); ok {
		a.quit = true
		return
	}
	if b, ok := msg.(tea.BatchMsg); ok {
		for _, c := range b {
			if c != nil {
				a.dispatch(c())
			}
		}
		return
	}
	_, cmd := a.m.Update(msg)
	a.printEvents()
	if cmd != nil {
		a.dispatch(cmd())
	}
}

func (a *accessible) key(k string) {
	switch k {
	case "enter":
		a.dispatch(tea.KeyPressMsg{Code: tea.KeyEnter})
	case "esc":
		a.dispatch(tea.KeyPressMsg{Code: tea.KeyEscape})
	}
}

func plain(lines []string) string { return ansi.Strip(strings.Join(lines, "\n")) }

func (a *accessible) run() error {
	m := a.m
	lastStep := Step(-1)
	for !a.quit {
		if m.step != lastStep || len(m.problems) > 0 {
			a.heading()
			lastStep = m.step
		}
		var err error
		switch m.step {
		case StepMachine:
			err = a.machine()
		case StepReview:
			err = a.review()
		case StepDone:
			a.p("%s", strings.TrimRight(m.outcome.Message, "\n"))
			return nil
		default:
			err = a.form()
		}
		if err != nil {
			if m.step == StepProgress {
				return err
			}
			m.outcome = Outcome{Kind: Cancelled, Message: "Cancelled: nothing was written.\n"}
			if errors.Is(err, errInputEnded) {
				m.outcome.Message = "Cancelled: the answers ended before the review; nothing was written.\n"
			}
			a.p("%s", strings.TrimSpace(m.outcome.Message))
			return nil
		}
	}
	if m.outcome.Kind != Cancelled || m.outcome.Message != "" {
		a.p("%s", strings.TrimRight(m.outcome.Message, "\n"))
	}
	return nil
}

func (a *accessible) heading() {
	m := a.m
	a.p("")
	a.p("== %s ==", m.step)
	if intro := stepIntro[m.step]; intro != "" {
		a.p("%s", intro)
	}
	for _, n := range m.notes {
		a.p("Note: %s", n)
	}
	for _, pr := range m.problems {
		a.p("Problem: %s", pr)
	}
}

func (a *accessible) machine() error {
	m := a.m
	body, _ := m.machineView(1000)
	// The offer is asked below as a question.
	if i := slices.IndexFunc(body, func(l string) bool { return strings.Contains(ansi.Strip(l), "k3s is missing") }); i >= 0 {
		body = body[:i]
	}
	a.p("%s", plain(body))
	if m.fatal != "" {
		return errors.New(m.fatal)
	}
	if len(m.form.fields) > 0 {
		if err := a.choice(m.form.fields[0], "k3s is missing: hakube installs onto it"); err != nil {
			return err
		}
		a.key("enter") // runs the k3s installer to its end
		if m.k3sErr != nil {
			a.p("k3s install failed: %s", m.k3sErr)
		}
		for _, l := range m.k3sLines {
			a.p("  %s", l)
		}
		return nil
	}
	if _, err := a.ask("Press Enter to continue: "); err != nil {
		return err
	}
	a.key("enter")
	return nil
}

// form asks each visible field of the step in turn, then submits it.
func (a *accessible) form() error {
	f := a.m.form
	for i := 0; i < len(f.fields); i++ {
		fl := f.fields[i]
		if fl.show != nil && !fl.show(f) {
			continue
		}
		var err error
		switch fl.kind {
		case choiceField:
			err = a.choice(fl, fl.label)
		case multiField:
			err = a.multi(fl)
		case textField:
			err = a.text(fl)
		}
		if errors.Is(err, errBack) {
			a.key("esc")
			return nil
		}
		if err != nil {
			return err
		}
	}
	a.key("enter")
	return nil
}

var errBack = errors.New("back")

func (a *accessible) answer(prompt string) (string, error) {
	s, err := a.ask(prompt)
	if err == nil && a.m.step != StepMachine && (strings.EqualFold(s, "back") || strings.EqualFold(s, "b")) {
		return "", errBack
	}
	return s, err
}

func (a *accessible) choice(fl *field, label string) error {
	a.p("%s:", label)
	for i, o := range fl.options {
		line := fmt.Sprintf("  %d) %s", i+1, o.label)
		if o.hint != "" {
			line += ": " + o.hint
		}
		if i == fl.cur {
			line += " (default)"
		}
		a.p("%s", line)
	}
	for {
		s, err := a.answer(fmt.Sprintf("Choose 1-%d [%d]: ", len(fl.options), fl.cur+1))
		if err != nil {
			return err
		}
		if s == "" {
			return nil
		}
		if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= len(fl.options) {
			fl.cur = n - 1
			return nil
		}
		for i, o := range fl.options {
			if strings.EqualFold(s, o.value) || strings.EqualFold(s, o.label) {
				fl.cur = i
				return nil
			}
		}
		a.p("%q is not one of the choices: type a number from 1 to %d, or press Enter for %d.", s, len(fl.options), fl.cur+1)
	}
}

func (a *accessible) multi(fl *field) error {
	a.p("%s (any of them):", fl.label)
	var def []string
	for i, o := range fl.options {
		mark := "[ ]"
		if fl.checked[i] {
			mark = "[x]"
			def = append(def, strconv.Itoa(i+1))
		}
		a.p("  %d) %s %s: %s", i+1, mark, o.label, o.hint)
	}
	defText := strings.Join(def, ",")
	if defText == "" {
		defText = "none"
	}
	for {
		s, err := a.answer(fmt.Sprintf("Numbers separated by commas, or none [%s]: ", defText))
		if err != nil {
			return err
		}
		if s == "" {
			return nil
		}
		picked := make([]bool, len(fl.options))
		ok := true
		if !strings.EqualFold(s, "none") {
			for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
				n, err := strconv.Atoi(part)
				if err != nil || n < 1 || n > len(fl.options) {
					a.p("%q is not a number from 1 to %d.", part, len(fl.options))
					ok = false
					break
				}
				picked[n-1] = true
			}
		}
		if ok {
			fl.checked = picked
			return nil
		}
	}
}

func (a *accessible) text(fl *field) error {
	label := fl.label
	if fl.help != "" {
		label += " (" + fl.help + ")"
	}
	s, err := a.answer(fmt.Sprintf("%s [%s]: ", label, fl.text))
	if err != nil {
		return err
	}
	if s != "" {
		fl.text = s
	}
	return nil
}

func (a *accessible) review() error {
	m := a.m
	switch {
	case m.planErr != nil:
		a.p("The plan cannot be made:\n%s", m.planErr)
	case m.plan != nil:
		a.p("%s", plain(planLines(m.plan, 1000)))
	}
	actions := &field{label: "What now", kind: choiceField, options: []option{
		{value: "install", label: "Install"}, {value: "back", label: "Back"}, {value: "save", label: "Save answers and quit"}}}
	if m.plan == nil {
		actions.cur = 1
	}
	if err := a.choice(actions, "What now"); err != nil {
		if errors.Is(err, errBack) {
			a.key("esc")
			return nil
		}
		return err
	}
	m.action = actions.cur
	switch actions.cur {
	case 0:
		if m.plan == nil {
			a.p("Nothing to install: go back and change your answers.")
			return nil
		}
		a.p("")
		a.p("== Installing ==")
		a.key("enter")
		return nil
	case 1:
		a.key("enter")
		return nil
	}
	a.key("enter") // opens the file name
	for !a.quit {
		s, err := a.ask(fmt.Sprintf("Save the answers to [%s]: ", m.saveField.text))
		if err != nil {
			return err
		}
		if s != "" {
			m.saveField.text = s
		}
		m.problems = nil
		a.key("enter")
		for _, pr := range m.problems {
			a.p("Problem: %s", pr)
		}
	}
	return nil
}

// printEvents prints the install's events as they come.
func (a *accessible) printEvents() {
	evs := a.m.prog.all
	for ; a.shown < len(evs); a.shown++ {
		e := evs[a.shown]
		obj := ""
		if e.Object != "" {
			obj = e.Object + ": "
		}
		a.p("[%s] %s%s", e.Phase, obj, e.Message)
		if e.Advice != "" {
			a.p("    → %s", e.Advice)
		}
	}
}
