package app

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
)

type restoreOptions struct {
	yes     bool
	timeout time.Duration
}

func newRestoreCommand(g *globals, s Streams) *cobra.Command {
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore ARCHIVE [--yes]",
		Short: "Bring back a backup: settings and credentials, volumes, database",
		Long: `Restore an archive written by the backup job, on the same machine or a fresh one
(k3s installed, no state directory). The archive is checked in full first and
refused if anything fails its checksum. Then: hakube's settings and credentials
are restored (the same passwords, the same Zigbee network key and PAN IDs), the
stack is installed with them, the workloads are stopped, each volume's content
and the database are restored, the workloads start, and every restored file is
checked against the archive's manifest. Content that is replaced is moved aside
(<dir>.pre-restore-<time>), never deleted. It says what it will overwrite and
asks first, unless --yes. A backup's parts (hakube-<time>.<part>.tar.gz, e.g. the
radio's Zigbee2MQTT data) are read next to ARCHIVE, or from the backups volumes.`,
		Args: func(cmd *cobra.Command, args []string) error { return asUsage(cobra.ExactArgs(1)(cmd, args)) },
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd, g, s, o, args[0])
		},
	}
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask before overwriting")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 20*time.Minute, "how long to wait for each step")
	return cmd
}

func runRestore(cmd *cobra.Command, g *globals, s Streams, o *restoreOptions, archive string) error {
	out := cmd.OutOrStdout()
	plan, _, err := installer.PlanRestore(archive, g.stateDir, backupDirs(g))
	if err != nil {
		return fmt.Errorf("%w; nothing was changed: pick another archive ('hakube backup list')", err)
	}
	fmt.Fprintf(out, "Archive %s (written %s) is complete and every checksum matches.\nIt will overwrite:\n", plan.Archive, plan.Created)
	fmt.Fprintf(out, "  - hakube's settings and credentials in %s\n", plan.StateDir)
	for _, v := range plan.Volumes {
		fmt.Fprintf(out, "  - the content of volume %s\n", v)
	}
	if plan.Database != "" {
		fmt.Fprintf(out, "  - the %s\n", plan.Database)
	}
	for _, sk := range plan.Skipped {
		fmt.Fprintf(out, "  (not restored: %s)\n", sk)
	}
	fmt.Fprintln(out, "Replaced content is moved aside, not deleted. Home Assistant stops during the restore.")
	if !o.yes {
		if !isTerminal(s.In) {
			return usagef("restore overwrites the data above: pass --yes to confirm without a terminal")
		}
		if ask(s.In, out, "Type 'restore' to go on: ") != "restore" {
			return errCancelled
		}
	}
	sess := g.session(cmd.ErrOrStderr(), "/")
	c, err := sess.MustConnect(cmd.Context())
	if err != nil {
		return err
	}
	unlock, err := sess.State.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	in := sess.Installer(c)
	in.Timeout = o.timeout
	res, err := in.Restore(cmd.Context(), plan, func(ctx context.Context, cfg config.Config) error {
		_, err := in.Install(ctx, cfg)
		return err
	})
	if err != nil {
		return describe(err)
	}
	if g.json() {
		return writeJSON(out, res)
	}
	fmt.Fprintf(out, "Restored %d files from %s; Home Assistant is Ready.\n", res.Files, plan.Archive)
	for dir, aside := range res.MovedAside {
		fmt.Fprintf(out, "  the previous content of %s is in %s (remove it once you are happy)\n", dir, aside)
	}
	return nil
}
