package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	tea "charm.land/bubbletea/v2"
)

// Run runs the wizard full screen. in is the keyboard: nil lets bubbletea
// open the controlling terminal (stdin may be the pipe of 'curl … | sh').
// out is the terminal it draws on; environ decides the colour profile
// (NO_COLOR, TERM). The returned Outcome says how it ended; its Message is
// for printing once the screen is gone.
func Run(ctx context.Context, o Options, in io.Reader, out io.Writer, environ []string) (Outcome, error) {
	m := New(ctx, o)
	opts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithOutput(out), tea.WithEnvironment(environ)}
	if in != nil {
		opts = append(opts, tea.WithInput(in))
	}
	if f, ok := out.(*os.File); !ok || !isTerminal(f) {
		opts = append(opts, tea.WithWindowSize(80, 24)) // nothing to ask the size of
	}
	_, err := tea.NewProgram(m, opts...).Run()
	if m.cancel != nil {
		m.cancel()
	}
	if err != nil && !errors.Is(err, tea.ErrInterrupted) && !errors.Is(err, tea.ErrProgramKilled) {
		return m.Outcome(), fmt.Errorf("terminal: %w", err)
	}
	return m.Outcome(), nil
}
