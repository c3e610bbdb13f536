package app

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
)

type upgradeOptions struct {
	dryRun   bool
	yes      bool
	noWait   bool
	noBackup bool
	// viaRestore accepts an upgrade that leaves data in a claim the new
	// layout no longer mounts, to be brought over by restoring the backup
	// the upgrade takes first.
	viaRestore    bool
	backupTimeout time.Duration
	timeout       time.Duration
}

// viaRestoreFlag is upgrade's flag for data the new layout moves.
const viaRestoreFlag = "move-data-by-restore"

func newUpgradeCommand(g *globals, s Streams) *cobra.Command {
	o := &upgradeOptions{}
	cmd := &cobra.Command{
		Use:   "upgrade [--dry-run] [--yes]",
		Short: "Re-render from the saved configuration with this version's images, show what changes, apply",
		Long: `Re-render the stack from the configuration saved by the last install, with the
image versions of this hakube, show which files and images change, then write
and follow k3s as install does. Flags and HAKUBE_* variables override saved
settings. Volumes and credentials are never changed by an upgrade.

Before changing anything, upgrade runs the backup job and follows it (unless
--no-backup); a failed backup stops the upgrade. An upgrade that would start a
component on a new, empty volume while its data stays in the old one (an
install from before the USB radio's Zigbee2MQTT moved into <namespace>-radio)
is refused until you choose --` + viaRestoreFlag + `: the backup taken first holds the
data, and 'hakube restore ARCHIVE' afterwards puts it into the new volume.

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
	cmd.Flags().BoolVar(&o.noBackup, "no-backup", false, "do not run the backup job first")
	cmd.Flags().DurationVar(&o.backupTimeout, "backup-timeout", 30*time.Minute, "how long to wait for the backup before the upgrade")
	cmd.Flags().BoolVar(&o.viaRestore, viaRestoreFlag, false, "accept data left in a volume the new layout no longer mounts; restore the backup taken first to move it")
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
	stranded := plan.StrandedData()
	if o.dryRun {
		if g.json() {
			return writeJSON(out, map[string]any{"changes": plan.Changes(), "plan": plan, "dry_run": true, "stranded_data": stranded})
		}
		printChanges(out, plan.Changes())
		for _, sd := range stranded {
			fmt.Fprintf(out, "Refused without --%s: %s's data is in claim %s; this version mounts %s (empty).\n", viaRestoreFlag, sd.Component, sd.From, sd.To)
		}
		return nil
	}
	if !g.json() {
		printChanges(out, plan.Changes())
	}
	if err := checkStranded(stranded, o); err != nil {
		return err
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
	var backup *installer.BackupNowResult
	if !o.noBackup && len(plan.Changes()) > 0 {
		backup, err = installer.BackupBeforeUpgrade(ctx, c, sess.Report, res.Config.Namespace, o.backupTimeout)
		if errors.Is(err, installer.ErrNoBackupJob) {
			return fmt.Errorf("%w: the cluster has no backup job yet (installed by a release without backups), so upgrade cannot take a backup first; nothing was changed: pass --no-backup to upgrade without one", installer.ErrPreflight)
		}
		if err != nil {
			return err
		}
	}
	r, err := in.Apply(ctx, plan)
	if err != nil {
		return err
	}
	if g.json() {
		return writeJSON(out, map[string]any{"changes": plan.Changes(), "result": r, "backup": backup, "stranded_data": stranded})
	}
	if err := printInstallResult(out, g, r); err != nil {
		return err
	}
	if len(stranded) > 0 && backup != nil {
		archive := backup.Archive
		if dir, err := installer.BackupsVolumeDir(g.dataDir, res.Config.Namespace); err == nil && archive != "" {
			archive = filepath.Join(dir, archive)
		}
		if archive == "" {
			archive = "ARCHIVE" // the job's log did not name it
			fmt.Fprintf(out, "The backup job %s finished; 'sudo hakube backup list' shows its archive (the newest).\n", backup.Job)
		}
		for _, sd := range stranded {
			fmt.Fprintf(out, "%s's data is still in claim %s, and %s is new. Bring it over now:\n", sd.Component, sd.From, sd.To)
		}
		fmt.Fprintf(out, "  sudo hakube restore %s --yes\n(the backup taken before the upgrade; the old claim stays as it is)\n", archive)
	}
	return nil
}

// refuseStrandedInstall is install's side of checkStranded: an install
// over an older layout whose data would be stranded goes through upgrade.
func refuseStrandedInstall(p *installer.Plan) error {
	if len(p.StrandedData()) == 0 {
		return nil
	}
	return checkStranded(p.StrandedData(), &upgradeOptions{})
}

// checkStranded refuses an upgrade that would leave a component's data in
// a claim the new layout no longer mounts, unless the user chose to move it
// by restoring the backup the upgrade takes first.
func checkStranded(stranded []installer.StrandedData, o *upgradeOptions) error {
	if len(stranded) == 0 {
		return nil
	}
	var what []string
	for _, sd := range stranded {
		what = append(what, fmt.Sprintf("%s's data is in claim %s, but this version runs it in another namespace with a new, empty claim %s (its device database would be lost)", sd.Component, sd.From, sd.To))
	}
	if !o.viaRestore {
		return fmt.Errorf("%w: %s; nothing was changed. The way forward: 'sudo hakube upgrade --%s' (it backs up first, the old claim is kept), then 'sudo hakube restore ARCHIVE --yes' with the archive it names, which puts the data into the new claim", installer.ErrPreflight, strings.Join(what, "; "), viaRestoreFlag)
	}
	if o.noBackup {
		return usagef("--%s needs the backup the upgrade takes first: drop --no-backup", viaRestoreFlag)
	}
	return nil
}
