package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/hakube/hakube/installer"
)

type backupOptions struct {
	to      string
	timeout time.Duration
}

func newBackupCommand(g *globals) *cobra.Command {
	o := &backupOptions{}
	cmd := &cobra.Command{
		Use:   "backup now|list|pull",
		Short: "Run, list and copy off the node the nightly backups",
		Long: `Every night the backup job writes one archive of Home Assistant's configuration
and database, the PostgreSQL dump when bundled, Zigbee2MQTT's network and device
data, Node-RED's flows and credentials, ESPHome's configurations and hakube's own
settings and credentials. Archives are in the backups volume and, with
backup-copy-dir, on a second disk. An archive holds every credential: keep
copies root-only.

  hakube backup now           run the backup job at once and follow it
  hakube backup list          archives with date, size, contents and where they are
  hakube backup pull [--to F] copy the newest (or a named) archive off the node

With a USB radio, Zigbee2MQTT runs in a namespace of its own, whose backup job
writes the run's part hakube-<time>.zigbee2mqtt.tar.gz; list, pull and restore
treat the archive and its part as one backup (pull copies both).`,
	}
	now := &cobra.Command{
		Use:   "now",
		Short: "Run the backup job at once and follow it",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runBackupNow(cmd, g, o) },
	}
	now.Flags().DurationVar(&o.timeout, "timeout", 30*time.Minute, "how long to wait for the job")
	list := &cobra.Command{
		Use:   "list",
		Short: "List archives with date, size, contents and where they are (each is checked)",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runBackupList(cmd, g) },
	}
	pull := &cobra.Command{
		Use:   "pull [ARCHIVE] [--to FILE]",
		Short: "Copy an archive (default: the newest good one) off the node, checked, mode 0600",
		Args:  func(cmd *cobra.Command, args []string) error { return asUsage(cobra.MaximumNArgs(1)(cmd, args)) },
		RunE:  func(cmd *cobra.Command, args []string) error { return runBackupPull(cmd, g, o, args) },
	}
	pull.Flags().StringVar(&o.to, "to", "", "file to write (default: the archive's name in the current directory)")
	cmd.AddCommand(now, list, pull)
	return cmd
}

func runBackupNow(cmd *cobra.Command, g *globals, o *backupOptions) error {
	cfg, sess, c, err := g.connected(cmd)
	if err != nil {
		return err
	}
	res, err := installer.BackupNow(cmd.Context(), c, sess.Report, cfg.Namespace, o.timeout)
	if err != nil {
		return err
	}
	if g.json() {
		return writeJSON(cmd.OutOrStdout(), res)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Backup written: %s (job %s)\n", res.Archive, res.Job)
	return nil
}

func runBackupList(cmd *cobra.Command, g *globals) error {
	archives, err := backupList(g)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if g.json() {
		return writeJSON(out, archives)
	}
	if len(archives) == 0 {
		fmt.Fprintln(out, "No backups yet: run 'sudo hakube backup now'.")
		return nil
	}
	for _, a := range archives {
		state := "good"
		if !a.Good {
			state = "DAMAGED: " + a.Problem
		}
		fmt.Fprintf(out, "%s  %9s  %-30s  %s\n  %s  %v  %s\n", a.Time.Local().Format("2006-01-02 15:04"), humanSize(a.Size), a.Name, a.Where, a.Path, a.Contents, state)
	}
	return nil
}

func runBackupPull(cmd *cobra.Command, g *globals, o *backupOptions, args []string) error {
	src, err := archiveToPull(g, args)
	if err != nil {
		return err
	}
	dest := o.to
	if dest == "" {
		dest = filepath.Base(src)
	}
	written, err := installer.PullBackup(src, dest, backupDirs(g))
	if err != nil {
		return err
	}
	if g.json() {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"from": src, "to": dest, "files": written})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Copied %s to %s (checked; it holds every credential: keep it private).\n", src, dest)
	for _, w := range written[1:] {
		fmt.Fprintf(cmd.OutOrStdout(), "Copied its part %s: keep it next to %s, restore reads both.\n", w, dest)
	}
	return nil
}

// archiveToPull is the archive named (a path, or a name 'backup list'
// shows), or the newest good one.
func archiveToPull(g *globals, args []string) (string, error) {
	if len(args) == 1 && filepath.Base(args[0]) != args[0] {
		return args[0], nil
	}
	archives, err := backupList(g)
	if err != nil {
		return "", err
	}
	for _, a := range archives {
		if (len(args) == 1 && a.Name == args[0]) || (len(args) == 0 && a.Good) {
			return a.Path, nil
		}
	}
	if len(args) == 1 {
		return args[0], nil // not listed: PullBackup says what is wrong with it
	}
	return "", errors.New("no good backup to pull: run 'sudo hakube backup now' first")
}

// backupList reads the archives on the host: the backups volume under
// k3s's storage, backup-copy-dir, and those kept after a purge.
func backupList(g *globals) ([]installer.BackupArchive, error) {
	cfg, _, err := g.state().SavedOrDefault()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(g.dataDir); err != nil {
		return nil, fmt.Errorf("%w: k3s's data directory %s: %w: pass --data-dir", installer.ErrPreflight, g.dataDir, err)
	}
	return installer.ListBackups(installer.BackupLocations(g.dataDir, cfg.Namespace, cfg.BackupCopyDir))
}

// backupDirs are the directories where a backup's parts may be on this
// host (the radio namespace's backups volume among them).
func backupDirs(g *globals) []string {
	cfg, _, err := g.state().SavedOrDefault()
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range installer.BackupLocations(g.dataDir, cfg.Namespace, cfg.BackupCopyDir) {
		out = append(out, l.Dir)
	}
	return out
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
