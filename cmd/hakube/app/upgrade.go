package app

import (
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
)

type upgradeOptions struct {
	dryRun  bool
	yes     bool
	noWait  bool
	timeout time.Duration
}

func newUpgradeCommand(g *globals, s Streams) *cobra.Command {
	o := &upgradeOptions{}
	cmd := &cobra.Command{
		Use:   "upgrade [--dry-run] [--yes]",
		Short: "Re-render from the saved configuration with this version's images, show what changes, apply",
		Long: `Re-render the stack from the configuration saved by the last install, with the
image versions of this hakube, show which files and images change, then write
and follow k3s as install does. Flags and HAKUBE_* variables override saved
settings. Volumes and credentials are never changed by an upgrade.

On a terminal, upgrade asks before applying; --yes applies without asking.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUpgrade(cmd, g, s, o)
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "only show what would change")
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask before applying")
	cmd.Flags().BoolVar(&o.noWait, "no-wait", false, "return once the files are written")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 15*time.Minute, "how long to wait for the rollout")
	config.AddFlags(cmd.Flags())
	return cmd
}

func runUpgrade(cmd *cobra.Command, g *globals, s Streams, o *upgradeOptions) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := cmd.OutOrStdout()
	sess := g.session(out, "/")
	res, err := sess.Load(installer.LoadOptions{Flags: cmd.Flags(), RequireSaved: true})
	if err != nil {
		return err
	}
	c, err := sess.MustConnect(ctx)
	if err != nil {
		return err
	}
	in := sess.Installer(c)
	in.Timeout, in.NoWait = o.timeout, o.noWait
	plan, err := in.Plan(ctx, res.Config, installer.PlanOptions{})
	if err != nil {
		return err
	}
	if o.dryRun {
		if g.json() {
			return writeJSON(out, map[string]any{"changes": plan.Changes(), "plan": plan, "dry_run": true})
		}
		printChanges(out, plan.Changes())
		return nil
	}
	if !g.json() {
		printChanges(out, plan.Changes())
	}
	if !o.yes && !g.json() && isTerminal(s.In) && len(plan.Changes()) > 0 {
		if !confirm(s.In, out, "Apply these changes? [y/N] ") {
			return errCancelled
		}
	}
	unlock, err := sess.State.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	r, err := in.Apply(ctx, plan)
	if err != nil {
		return err
	}
	if g.json() {
		return writeJSON(out, map[string]any{"changes": plan.Changes(), "result": r})
	}
	return printInstallResult(out, g, r)
}
