package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/tui"
)

// wantsWizard reports whether install should open the wizard: a person at
// a terminal who gave neither --yes nor --config and wants no JSON.
func wantsWizard(g *globals, o *installOptions) bool {
	return !o.yes && o.configFile == "" && !g.json()
}

// runInstallWizard runs 'hakube install' as the wizard: full screen on a
// terminal (the keyboard is /dev/tty when stdin is the pipe of
// 'curl … | sh'), or plain numbered prompts with --accessible or
// TERM=dumb, which also read answers from a pipe. With no terminal at all
// it refuses with a usage error before looking at anything.
func runInstallWizard(cmd *cobra.Command, g *globals, s Streams, o *installOptions) error {
	accessible := o.accessible || g.env("TERM") == "dumb"
	var in io.Reader
	var out io.Writer
	if !accessible {
		var closeTTY func()
		var err error
		in, out, closeTTY, err = wizardTerminal(s)
		if err != nil {
			return err
		}
		defer closeTTY()
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	sess := g.session(io.Discard, o.root)
	sess.Report, sess.K3sOut = nil, nil // the wizard draws progress itself
	hw, err := hwdetect.Detect(o.root)
	if err != nil {
		return fmt.Errorf("%w: detect the hardware under %s: %w", installer.ErrBadInput, o.root, err)
	}
	b := &wizardBackend{sess: sess, flags: cmd.Flags(), o: o, hw: hw,
		k3s: installer.K3sSource{URL: o.k3sInstallURL, Version: installer.K3sVersion}}
	opts := tui.Options{Backend: b, Report: hw, DataDir: g.dataDir, HostTimezone: hostTimezone(o.root, g.environ),
		K3sVersion: installer.K3sVersion, AnswersFile: "hakube-answers.yaml"}

	var outcome tui.Outcome
	if accessible {
		outcome, err = tui.RunAccessible(ctx, opts, s.In, s.Out)
	} else {
		outcome, err = tui.Run(ctx, opts, in, out, g.environ)
	}
	if err != nil {
		return err
	}
	return wizardResult(s.Out, outcome, accessible)
}

// wizardResult prints what the wizard's screen said, once the screen is
// gone, and turns the outcome into the command's error (and exit code).
func wizardResult(out io.Writer, o tui.Outcome, printed bool) error {
	msg := strings.TrimSpace(o.Message)
	switch o.Kind {
	case tui.Saved, tui.Installed:
		if !printed {
			fmt.Fprintln(out, msg)
		}
		return nil
	case tui.Interrupted:
		if !printed {
			fmt.Fprintln(out, msg)
		}
		return fmt.Errorf("%w", context.Canceled)
	case tui.Failed:
		return o.Err
	}
	if msg == "" {
		return errCancelled
	}
	return errors.New(strings.ToLower(msg[:1]) + strings.TrimSuffix(msg[1:], "."))
}

// wizardTerminal finds the terminal to draw on and read keys from. stdin
// is used when it is a terminal; when it is the process's own stdin but a
// pipe, bubbletea opens /dev/tty itself (in is then nil).
func wizardTerminal(s Streams) (in io.Reader, out io.Writer, closeTTY func(), err error) {
	closeTTY = func() {}
	noTTY := usagef("no terminal to ask on: pass --yes to install unattended (and --config FILE for your settings), or --accessible to answer plain prompts from standard input")
	switch {
	case isTerminal(s.In):
		in = s.In
	case s.In == os.Stdin:
		tty, err := os.Open("/dev/tty")
		if err != nil {
			return nil, nil, nil, noTTY
		}
		tty.Close()
	default:
		return nil, nil, nil, noTTY
	}
	if f, ok := s.Out.(*os.File); ok && isTerminal(f) {
		return in, s.Out, closeTTY, nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return nil, nil, nil, noTTY
	}
	return in, tty, func() { tty.Close() }, nil
}

// hostTimezone is the host's IANA time zone: $TZ, /etc/localtime's link
// or /etc/timezone under root; "" when none names a known zone.
func hostTimezone(root string, environ []string) string {
	known := func(z string) string {
		z = strings.TrimSpace(z)
		if z == "" || z == "Local" || strings.HasPrefix(z, ":") || strings.HasPrefix(z, "/") {
			return ""
		}
		if _, err := time.LoadLocation(z); err != nil {
			return ""
		}
		return z
	}
	if z := known(envOr(environ, "TZ", "")); z != "" {
		return z
	}
	if target, err := os.Readlink(filepath.Join(root, "etc", "localtime")); err == nil {
		if _, z, ok := strings.Cut(target, "zoneinfo/"); ok && known(z) != "" {
			return z
		}
	}
	if data, err := config.ReadSmallFile(filepath.Join(root, "etc", "timezone"), 256); err == nil {
		return known(string(data))
	}
	return ""
}

// wizardBackend is what the wizard may do: everything through the
// session, as the plain install does.
type wizardBackend struct {
	sess  *installer.Session
	flags *pflag.FlagSet
	o     *installOptions
	hw    *hwdetect.Report
	k3s   installer.K3sSource

	mu sync.Mutex
	in *installer.Installer // of the last plan
}

func (b *wizardBackend) Load(answers config.Settings) (config.Result, error) {
	return b.sess.Load(installer.LoadOptions{File: b.o.configFile, Answers: answers, Flags: b.flags, Hardware: b.hardware()})
}

func (b *wizardBackend) hardware() *hwdetect.Report {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hw
}

func (b *wizardBackend) Plan(ctx context.Context, cfg config.Config) (*installer.Plan, error) {
	host, err := b.sess.Prepare(ctx, installer.PrepareOptions{})
	if err != nil {
		return nil, err
	}
	in := b.sess.Installer(host.Clients)
	in.Timeout, in.NoWait = b.o.timeout, b.o.noWait
	p, err := in.Plan(ctx, cfg, installer.PlanOptions{RegenerateCredentials: b.o.regenerate})
	if err != nil {
		return nil, err
	}
	if err := refuseStrandedInstall(p); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.in = in
	b.mu.Unlock()
	return p, nil
}

func (b *wizardBackend) Apply(ctx context.Context, p *installer.Plan, rep installer.Reporter) (*installer.Result, error) {
	b.mu.Lock()
	in := *b.in
	b.mu.Unlock()
	unlock, err := b.sess.State.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	in.Report = rep
	return in.Apply(ctx, p)
}

// SaveAnswers writes a new flags file; it never replaces one.
func (b *wizardBackend) SaveAnswers(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: give another name, or remove it first", path)
	}
	if err != nil {
		return fmt.Errorf("save the answers: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("save the answers to %s: %w", path, err)
	}
	return f.Close()
}

// K3sAPI is the API server that answers through the kubeconfig, or "".
func (b *wizardBackend) K3sAPI(ctx context.Context) string {
	c, err := b.sess.Connect(ctx)
	if err != nil {
		return ""
	}
	return c.Config.Host
}

// InstallK3s runs k3s's installer (pinned, https only), then waits until
// its API answers and detects the machine again.
func (b *wizardBackend) InstallK3s(ctx context.Context, progress func(string)) (*hwdetect.Report, error) {
	w := &lineWriter{emit: progress}
	err := installer.InstallK3s(ctx, b.k3s, b.sess.Environ, w)
	w.flush()
	if err != nil {
		return nil, err
	}
	progress("waiting for k3s's API server to answer…")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if _, err := b.sess.Connect(ctx); err == nil {
			break
		} else if time.Now().After(deadline) {
			return nil, fmt.Errorf("k3s was installed but its API server did not answer within 3 minutes (%v): see 'systemctl status k3s'", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	hw, err := hwdetect.Detect(b.sess.Root)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.hw = hw
	b.mu.Unlock()
	return hw, nil
}

// lineWriter turns a stream of output into lines.
type lineWriter struct {
	emit func(string)
	mu   sync.Mutex
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimRight(string(w.buf[:i]), "\r"); line != "" {
			w.emit(line)
		}
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

// confirmUninstall says what 'hakube uninstall' (without --purge) removes
// and what it keeps, then asks. It is asked on a terminal only.
func confirmUninstall(in io.Reader, out io.Writer, namespace, stateDir string) bool {
	fmt.Fprintf(out, "hakube uninstall removes from namespace %s:\n", namespace)
	fmt.Fprintln(out, "  - hakube's manifest files in k3s's auto-deploy directory and their Addons")
	fmt.Fprintln(out, "  - the workloads, services, config maps and secrets they created")
	fmt.Fprintln(out, "It keeps:")
	fmt.Fprintln(out, "  - every volume: Home Assistant's configuration and history, media, backups, the Zigbee network")
	fmt.Fprintf(out, "  - the saved settings and the credentials in %s\n", stateDir)
	fmt.Fprintln(out, "so that 'hakube install' brings everything back ('hakube uninstall --purge' deletes those too).")
	return confirm(in, out, "Uninstall? [y/N] ")
}
