// Package tui is hakube's wizard: a terminal UI (bubbletea v2) that shows
// what was found on the machine, asks what to install and how it is
// reached, shows the installer's plan, and follows the install.
//
// The wizard only collects answers into a config.Settings layer (each with
// config.WizardSource of its step), shows an installer.Plan and draws
// installer events. It never talks to the cluster or the disk itself: every
// side effect is a Backend method, called inside a tea.Cmd.
package tui

import (
	"context"
	"time"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/installer"
)

// Backend is what the wizard may do outside itself. The command line builds
// the real one; tests build their own.
type Backend interface {
	// Load merges answers with the other layers (flags file, environment,
	// flags, the hardware's defaults) and validates the result.
	Load(answers config.Settings) (config.Result, error)
	// Plan computes what installing cfg would do; it writes nothing.
	Plan(ctx context.Context, cfg config.Config) (*installer.Plan, error)
	// Apply carries out p, reporting progress to rep. It returns when
	// Home Assistant is Ready, when it failed, or when ctx is cancelled.
	Apply(ctx context.Context, p *installer.Plan, rep installer.Reporter) (*installer.Result, error)
	// SaveAnswers writes a flags file.
	SaveAnswers(path string, data []byte) error
	// K3sAPI returns the address of the k3s API server that answers
	// through the kubeconfig, or "" when none does. It may take seconds.
	K3sAPI(ctx context.Context) string
	// InstallK3s installs k3s, sends its output lines to progress, waits
	// until its API answers and returns the machine detected again.
	InstallK3s(ctx context.Context, progress func(line string)) (*hwdetect.Report, error)
}

// Options start a wizard.
type Options struct {
	Backend Backend
	// Report is what hwdetect found on this machine.
	Report *hwdetect.Report
	// DataDir is the k3s data directory the manifests go under ("" : the
	// one hwdetect found).
	DataDir string
	// HostTimezone is the host's IANA time zone ("" when unknown): the
	// default answer for the time zone.
	HostTimezone string
	// K3sAPI, when set, is the API server known to answer; otherwise the
	// wizard asks Backend.K3sAPI once it is on screen.
	K3sAPI string
	// K3sVersion is the pinned k3s version the wizard offers to install
	// when k3s is missing ("" disables the offer).
	K3sVersion string
	// AnswersFile is the default path offered for saving the answers.
	AnswersFile string
	// Now is the clock (time.Now when nil); tests fix it.
	Now func() time.Time
}

// OutcomeKind is how a wizard ended.
type OutcomeKind int

// The ways a wizard ends.
const (
	Cancelled   OutcomeKind = iota // quit before anything was written
	Saved                          // the answers were saved as a flags file
	Installed                      // Home Assistant is Ready (or the files apply when k3s starts)
	Interrupted                    // Ctrl+C while following the install: k3s carries on
	Failed                         // the install failed: Err says why
)

// Outcome is how the wizard ended and what to print after it.
type Outcome struct {
	Kind OutcomeKind
	// Message is plain text for the terminal once the screen is gone.
	Message string
	// Err is the installer's error when Kind is Failed.
	Err error
	// Result is the installer's result when Kind is Installed.
	Result *installer.Result
	// SavedPath is the flags file written when Kind is Saved.
	SavedPath string
}
