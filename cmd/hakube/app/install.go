package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/installer"
)

type installOptions struct {
	configFile    string
	yes           bool
	noWait        bool
	timeout       time.Duration
	installK3s    bool
	k3sInstallURL string
	root          string
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

Without --yes, hakube shows the plan and asks before changing anything; with
no terminal, --yes is required.`,
		Example: `  sudo hakube install                                  # asks, then installs the edge profile
  sudo hakube install --config site.yaml --yes         # unattended
  sudo hakube install --yes --zigbee-device /dev/serial/by-id/usb-…-if00 --zigbee-adapter ember
  sudo hakube install --yes --install-k3s              # installs k3s first
  sudo hakube install --yes --output json              # JSON lines of progress, then a result`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInstall(cmd, g, s, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.configFile, "config", "c", envOr(g.environ, "HAKUBE_CONFIG", ""), "flags file (YAML, keys are the long flag names; env HAKUBE_CONFIG)")
	f.BoolVarP(&o.yes, "yes", "y", false, "do not ask: install unattended")
	f.BoolVar(&o.noWait, "no-wait", false, "return once the files are written; k3s applies them within 15 s")
	f.DurationVar(&o.timeout, "timeout", 15*time.Minute, "how long to wait for Home Assistant to become Ready")
	f.BoolVar(&o.installK3s, "install-k3s", false, "install k3s with its official installer when it is missing (INSTALL_K3S_* variables pass through)")
	f.StringVar(&o.k3sInstallURL, "k3s-install-url", envOr(g.environ, "HAKUBE_K3S_INSTALL_URL", installer.K3sInstallURL), "where the k3s installer is downloaded from")
	f.StringVar(&o.root, "root", "/", "root of the system to inspect for hardware (for tests and images)")
	_ = f.MarkHidden("root")
	config.AddFlags(f)
	return cmd
}

func runInstall(cmd *cobra.Command, g *globals, s Streams, o *installOptions) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errOut := cmd.ErrOrStderr()
	rep := installer.LineReporter(cmd.OutOrStdout(), g.json())

	report, err := hwdetect.Detect(o.root)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	res, err := loadInstallConfig(cmd, g, o.configFile, report, o.yes)
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		rep(installer.Event{Time: time.Now().UTC(), Level: installer.LevelInfo, Phase: "plan", Message: n})
	}
	cfg := res.Config

	kubeconfig := installer.ResolveKubeconfig(g.kubeconfig, func(k string) string { return envOr(g.environ, k, "") })
	clients, apiErr := connect(ctx, kubeconfig)
	st, err := installer.Preflight(report, g.dataDir, apiErr)
	if err != nil && errors.Is(err, installer.ErrK3sNotFound) && o.installK3s {
		rep(installer.Event{Time: time.Now().UTC(), Level: installer.LevelInfo, Phase: "k3s", Message: "installing k3s from " + o.k3sInstallURL})
		if err := installer.InstallK3s(ctx, o.k3sInstallURL, g.environ, errOut); err != nil {
			return withCode(ExitPreflight, err)
		}
		if report, err = hwdetect.Detect(o.root); err != nil {
			return err
		}
		clients, apiErr = connect(ctx, kubeconfig)
		st, err = installer.Preflight(report, g.dataDir, apiErr)
	}
	if err != nil {
		return withCode(ExitPreflight, err)
	}
	if !st.K3sRunning {
		clients = nil
	}

	if !o.yes {
		if err := confirm(s, cmd.OutOrStdout(), &cfg, g); err != nil {
			return err
		}
	}
	unlock, err := installer.StateDir{Path: g.stateDir}.Lock()
	if err != nil {
		return withCode(ExitPreflight, err)
	}
	defer unlock()
	in := &installer.Installer{DataDir: g.dataDir, State: installer.StateDir{Path: g.stateDir}, Clients: clients, Report: rep,
		Timeout: o.timeout, NoWait: o.noWait}
	result, err := in.Install(ctx, cfg)
	if err != nil {
		return installError(err)
	}
	return printInstallResult(cmd.OutOrStdout(), g, result)
}

// loadInstallConfig starts from the saved configuration of an earlier
// install when no flags file is given, else from the profile's defaults
// adjusted to the hardware.
func loadInstallConfig(cmd *cobra.Command, g *globals, file string, report *hwdetect.Report, unattended bool) (config.Result, error) {
	src := config.Sources{File: file, Environ: g.environ, Flags: cmd.Flags(), Adjust: config.FromHardware(report, unattended)}
	if file == "" {
		saved, err := installer.StateDir{Path: g.stateDir}.SavedConfig()
		switch {
		case err == nil:
			src.Base = &saved
		case !errors.Is(err, os.ErrNotExist):
			return config.Result{}, withCode(ExitUsage, fmt.Errorf("%w (fix or remove it, or pass --config)", err))
		}
	}
	res, err := config.Load(src)
	if err != nil {
		return res, withCode(ExitUsage, err)
	}
	return res, nil
}

func connect(ctx context.Context, kubeconfig string) (*installer.Clients, error) {
	if _, err := os.Stat(kubeconfig); err != nil {
		return nil, fmt.Errorf("no kubeconfig at %s", kubeconfig)
	}
	c, err := installer.NewClients(kubeconfig)
	if err != nil {
		return nil, err
	}
	if err := c.Reachable(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// confirm shows the plan and asks on a terminal; without one it refuses.
func confirm(s Streams, out io.Writer, cfg *config.Config, g *globals) error {
	f, ok := s.In.(*os.File)
	if !ok || !isTerminal(f) {
		return withCode(ExitUsage, errors.New("no terminal to ask on: pass --yes to install unattended (and --config FILE for your settings)"))
	}
	fmt.Fprintf(out, "\nhakube will install into k3s (%s):\n", installer.ManifestsDir(g.dataDir))
	fmt.Fprintf(out, "  profile %s, namespace %s, components: home-assistant", cfg.Profile, cfg.Namespace)
	for _, c := range cfg.Components {
		fmt.Fprintf(out, ", %s", c)
	}
	fmt.Fprintf(out, "\n  database %s, service %s", cfg.Database, cfg.ServiceType)
	if cfg.ServiceType == config.NodePort {
		fmt.Fprintf(out, " on port %d", cfg.NodePort)
	}
	if cfg.ZigbeeDevice != "" {
		fmt.Fprintf(out, "\n  Zigbee coordinator %s (adapter %s)", cfg.ZigbeeDevice, cfg.ZigbeeAdapter)
	}
	fmt.Fprintf(out, "\nProceed? [y/N] ")
	line, _ := bufio.NewReader(s.In).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return withCode(ExitError, errors.New("cancelled: nothing was changed"))
	}
	return nil
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// installError maps installer errors to exit codes.
func installError(err error) error {
	switch {
	case errors.Is(err, installer.ErrPreflight):
		return withCode(ExitPreflight, err)
	case errors.Is(err, installer.ErrRejected):
		return withCode(ExitRejected, err)
	case errors.Is(err, installer.ErrTimeout):
		return withCode(ExitTimeout, err)
	case errors.Is(err, context.Canceled):
		return withCode(ExitError, errors.New("interrupted: the files written so far are complete; run install again to continue"))
	}
	var cerr *config.Error
	if errors.As(err, &cerr) {
		return withCode(ExitUsage, err)
	}
	return err
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
	fmt.Fprintf(out, "Credentials (root only): %s\n", r.SecretsPath)
	fmt.Fprintf(out, "Saved configuration: %s (re-run 'hakube install' or 'hakube upgrade' without flags)\n", r.ConfigPath)
	fmt.Fprintf(out, "Manifests: %s\n", filepath.Clean(r.ManifestsDir))
	return nil
}
