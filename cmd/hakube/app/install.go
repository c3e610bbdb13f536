package app

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
)

type installOptions struct {
	configFile    string
	yes           bool
	noWait        bool
	timeout       time.Duration
	k3sInstallURL string
	regenerate    bool
	root          string
	accessible    bool // wizard: plain prompts (wizard.go)
}

func newInstallCommand(g *globals, s Streams) *cobra.Command {
	o := &installOptions{}
	cmd := &cobra.Command{
		Use:   "install [--config FILE] [--yes] [--no-wait] [--timeout D]",
		Short: "Install or update the stack in k3s and wait until Home Assistant is Ready",
		Long: `Install Home Assistant and the chosen components into k3s.

hakube checks the host (root, k3s, memory cgroup, disk), generates credentials
once and keeps them in --state-dir (0600: re-running never rotates a password
or breaks a paired Zigbee network), writes the manifests into k3s's
auto-deploy directory atomically, then follows k3s until every file is applied
and every pod is Ready.

Settings: the profile's defaults, adjusted to the detected hardware, then the
flags file, HAKUBE_* variables and flags. A later run with no --config starts
from the configuration saved by the previous install.

Without --yes or --config, on a terminal, a wizard shows what was found on this
machine, asks what to install and how Home Assistant is reached, shows the plan,
and follows the install (--accessible, or TERM=dumb: plain numbered prompts that
also read answers from a pipe). With --config and no --yes, hakube shows the plan
and asks. With no terminal, --yes is required.`,
		Example: `  sudo hakube install                                  # the wizard
  sudo hakube install --accessible < answers.txt      # the wizard as plain prompts
  sudo hakube install --config site.yaml --yes         # unattended
  sudo hakube install --yes --zigbee-device /dev/serial/by-id/usb-…-if00 --zigbee-adapter ember
  sudo hakube install --yes --install-k3s              # installs k3s first
  sudo hakube install --yes --output json              # JSON lines of progress, then a result`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInstall(cmd, g, s, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.configFile, "config", "c", envOr(g.environ, "HAKUBE_CONFIG", ""), "flags file (YAML, keys are the long flag names; env HAKUBE_CONFIG)")
	f.BoolVarP(&o.yes, "yes", "y", false, "do not ask: install unattended")
	f.BoolVar(&o.noWait, "no-wait", false, "return once the files are written; k3s applies them within 15 s")
	f.DurationVar(&o.timeout, "timeout", 15*time.Minute, "how long to wait for Home Assistant to become Ready")
	f.StringVar(&o.k3sInstallURL, "k3s-install-url", envOr(g.environ, "HAKUBE_K3S_INSTALL_URL", installer.K3sInstallURL), "where the k3s installer is downloaded from (https only)")
	f.BoolVar(&o.regenerate, "regenerate-credentials", false, "make new credentials although an install exists without its credentials file (every device must be paired again)")
	f.BoolVar(&o.accessible, "accessible", false, "the wizard as plain numbered prompts that also read answers from a pipe (also with TERM=dumb)") // wizard
	f.StringVar(&o.root, "root", "/", "root of the system to inspect for hardware (for tests and images)")
	_ = f.MarkHidden("root")
	config.AddFlags(f)
	return cmd
}

func runInstall(cmd *cobra.Command, g *globals, s Streams, o *installOptions) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if wantsWizard(g, o) { // wizard: neither --yes, --config nor --output json (wizard.go)
		return runInstallWizard(cmd, g, s, o)
	}
	out := cmd.OutOrStdout()
	if !o.yes && !g.json() && !isTerminal(s.In) {
		return usagef("no terminal to ask on: pass --yes to install unattended (and --config FILE for your settings)")
	}
	sess := g.session(out, o.root)
	load := installer.LoadOptions{File: o.configFile, Flags: cmd.Flags(), Unattended: o.yes}
	// The settings first, without the hardware: bad input is reported
	// before anything is installed, and install-k3s may be among them.
	pre, err := sess.Load(load)
	if err != nil {
		return err
	}
	host, err := sess.Prepare(ctx, installer.PrepareOptions{InstallK3s: pre.Config.InstallK3s,
		K3s: installer.K3sSource{URL: o.k3sInstallURL, Version: installer.K3sVersion}})
	if err != nil {
		return err
	}
	load.Hardware = host.Hardware
	res, err := sess.Load(load)
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		sess.Report.Emit(installer.Event{Level: installer.LevelInfo, Phase: installer.PhasePlan, Message: n})
	}
	in := sess.Installer(host.Clients)
	in.Timeout, in.NoWait = o.timeout, o.noWait
	plan, err := in.Plan(ctx, res.Config, installer.PlanOptions{RegenerateCredentials: o.regenerate})
	if err != nil {
		return err
	}
	if err := refuseStrandedInstall(plan); err != nil {
		return err
	}
	if !o.yes {
		printPlan(out, plan)
		if !confirm(s.In, out, "Proceed? [y/N] ") {
			return errCancelled
		}
	}
	unlock, err := sess.State.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	result, err := in.Apply(ctx, plan)
	if err != nil {
		return err
	}
	return printInstallResult(out, g, result)
}

func printInstallResult(out io.Writer, g *globals, r *installer.Result) error {
	if g.json() {
		b, err := json.Marshal(struct {
			Level  string            `json:"level"`
			Result *installer.Result `json:"result"`
		}{"result", r})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	}
	fmt.Fprintln(out)
	if r.URL != "" {
		fmt.Fprintf(out, "Home Assistant: %s\n", r.URL)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(out, "Note: %s\n", n)
	}
	fmt.Fprintf(out, "Credentials (root only): %s; 'sudo hakube credentials' prints each login and where it is used\n", r.SecretsPath)
	fmt.Fprintf(out, "Saved configuration: %s (re-run 'hakube install' or 'hakube upgrade' without flags)\n", r.ConfigPath)
	fmt.Fprintf(out, "Manifests: %s\n", filepath.Clean(r.ManifestsDir))
	return nil
}
