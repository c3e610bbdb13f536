package app

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/manifests"
)

// clientsFor connects to the cluster or says what to do.
func clientsFor(cmd *cobra.Command, g *globals) (*installer.Clients, error) {
	kubeconfig := installer.ResolveKubeconfig(g.kubeconfig, func(k string) string { return envOr(g.environ, k, "") })
	c, err := connect(cmd.Context(), kubeconfig)
	if err != nil {
		return nil, withCode(ExitPreflight, fmt.Errorf("cannot reach k3s's API server (%v): is k3s running? ('systemctl status k3s'), or pass --kubeconfig", err))
	}
	return c, nil
}

// savedOrDefault is the saved configuration, or the edge defaults when
// nothing was installed with this state directory.
func savedOrDefault(g *globals) (config.Config, bool, error) {
	c, err := installer.StateDir{Path: g.stateDir}.SavedConfig()
	if err == nil {
		return c, true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return config.Defaults(config.ProfileEdge), false, nil
	}
	return c, false, withCode(ExitUsage, err)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newStatusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the installed components, versions, pods, URLs and k3s's last events",
		Long: `Show what k3s applied (each manifest file is an Addon), the components and their
versions, the pods, where to reach Home Assistant and the other dashboards, and
k3s's latest events about hakube's files. Exit code 0 when everything is applied
and Ready, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := savedOrDefault(g)
			if err != nil {
				return err
			}
			c, err := clientsFor(cmd, g)
			if err != nil {
				return err
			}
			in := &installer.Installer{DataDir: g.dataDir, State: installer.StateDir{Path: g.stateDir}, Clients: c}
			st, err := in.Status(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.json() {
				if err := writeJSON(out, st); err != nil {
					return err
				}
			} else {
				printStatus(out, st)
			}
			if !st.Healthy {
				return withCode(ExitError, errors.New("not everything is applied and Ready (see above)"))
			}
			return nil
		},
	}
}

func printStatus(out io.Writer, st *installer.Status) {
	fmt.Fprintf(out, "Namespace %s: ", st.Namespace)
	if st.Healthy {
		fmt.Fprintln(out, "all applied and Ready")
	} else {
		fmt.Fprintln(out, "NOT all applied and Ready")
	}
	if st.URL != "" {
		fmt.Fprintf(out, "Home Assistant: %s\n", st.URL)
	}
	fmt.Fprintln(out, "\nManifests (k3s Addons):")
	for _, a := range st.Addons {
		state := "applied"
		switch {
		case !a.Applied:
			state = "NOT applied"
		case !a.UpToDate:
			state = "applied, but an older version of the file"
		}
		fmt.Fprintf(out, "  %-32s %s\n", a.Name, state)
	}
	fmt.Fprintln(out, "\nComponents:")
	for _, c := range st.Components {
		ready := "ready"
		if !c.Ready {
			ready = "not ready"
		}
		fmt.Fprintf(out, "  %-20s %-14s %s\n", c.Name, c.Version, ready)
	}
	fmt.Fprintln(out, "\nPods:")
	for _, p := range st.Pods {
		extra := ""
		if p.Waiting != "" {
			extra = " (" + p.Waiting + ")"
		}
		fmt.Fprintf(out, "  %-34s %-9s ready=%t restarts=%d%s\n", p.Name, p.Phase, p.Ready, p.Restarts, extra)
	}
	if len(st.Events) > 0 {
		fmt.Fprintln(out, "\nk3s events:")
		for _, e := range st.Events {
			fmt.Fprintf(out, "  %s %-8s %-28s %s: %s\n", e.Age, e.Type, e.Addon, e.Reason, e.Message)
		}
	}
	if len(st.Access) > 0 {
		fmt.Fprintln(out, "\nAccess:")
		for _, a := range st.Access {
			fmt.Fprintf(out, "  %s\n", a)
		}
	}
}

type uninstallOptions struct {
	purge bool
	yes   bool
}

func newUninstallCommand(g *globals, s Streams) *cobra.Command {
	o := &uninstallOptions{}
	cmd := &cobra.Command{
		Use:   "uninstall [--purge [--yes]]",
		Short: "Remove the stack; volumes are kept unless --purge",
		Long: `Remove hakube's manifest files, its k3s Addons and every object it installed.
k3s does not delete anything when a file disappears, so this is the way to
remove the stack. Volumes (Home Assistant's configuration, history, Zigbee
network) and the saved credentials are kept, so a later install picks up where
you left off. --purge also deletes the volumes, the namespace and the saved
configuration and credentials: it asks first, unless --yes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := savedOrDefault(g)
			if err != nil {
				return err
			}
			if o.purge && !o.yes {
				f, ok := s.In.(*os.File)
				if !ok || !isTerminal(f) {
					return withCode(ExitUsage, errors.New("--purge deletes every volume: pass --yes to confirm without a terminal"))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "This deletes Home Assistant's configuration, history and the Zigbee network in namespace %s. Type the namespace to confirm: ", cfg.Namespace)
				line, _ := bufio.NewReader(s.In).ReadString('\n')
				if strings.TrimSpace(line) != cfg.Namespace {
					return withCode(ExitError, errors.New("cancelled: nothing was deleted"))
				}
			}
			c, err := clientsFor(cmd, g)
			if err != nil && !o.purge {
				c = nil // still remove the files; the objects need the API
			} else if err != nil {
				return err
			}
			if _, err := os.Stat(g.stateDir); err == nil {
				unlock, err := installer.StateDir{Path: g.stateDir}.Lock()
				if err != nil {
					return withCode(ExitPreflight, err)
				}
				defer unlock()
			}
			in := &installer.Installer{DataDir: g.dataDir, State: installer.StateDir{Path: g.stateDir}, Clients: c,
				Report: installer.LineReporter(cmd.ErrOrStderr(), g.json())}
			res, err := in.Uninstall(cmd.Context(), cfg.Namespace, o.purge)
			if err != nil {
				return installError(err)
			}
			if o.purge {
				for _, f := range []string{installer.ConfigFile, installer.SecretsFile} {
					if err := os.Remove(filepath.Join(g.stateDir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
						return err
					}
				}
			}
			if g.json() {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed %d files, %d Addons and %d objects.\n", len(res.FilesRemoved), len(res.AddonsRemoved), len(res.ObjectsDeleted))
			if len(res.VolumesKept) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "Kept %d volumes (%s) and the credentials in %s: 'hakube uninstall --purge' deletes them.\n",
					len(res.VolumesKept), strings.Join(res.VolumesKept, ", "), g.stateDir)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.purge, "purge", false, "also delete volumes, the namespace, and the saved configuration and credentials")
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask before --purge")
	return cmd
}

type upgradeOptions struct {
	dryRun  bool
	noWait  bool
	timeout time.Duration
}

// FileChange is one manifest file that an upgrade changes.
type FileChange struct {
	File    string   `json:"file"`
	Change  string   `json:"change"` // added, changed, removed
	Added   int      `json:"lines_added"`
	Removed int      `json:"lines_removed"`
	Images  []string `json:"images,omitempty"` // "old -> new"
}

func newUpgradeCommand(g *globals) *cobra.Command {
	o := &upgradeOptions{}
	cmd := &cobra.Command{
		Use:   "upgrade [--dry-run]",
		Short: "Re-render from the saved configuration with this version's images, show what changes, apply",
		Long: `Re-render the stack from the configuration saved by the last install, with the
image versions of this hakube, show which files and images change, then write
and follow k3s as install does. Flags and HAKUBE_* variables override saved
settings. Volumes and credentials are never changed by an upgrade.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			saved, err := installer.StateDir{Path: g.stateDir}.SavedConfig()
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return withCode(ExitUsage, fmt.Errorf("nothing to upgrade: no saved configuration in %s; run 'hakube install' first", g.stateDir))
				}
				return withCode(ExitUsage, err)
			}
			res, err := config.Load(config.Sources{Base: &saved, Environ: g.environ, Flags: cmd.Flags()})
			if err != nil {
				return withCode(ExitUsage, err)
			}
			cfg := res.Config
			c, err := clientsFor(cmd, g)
			if err != nil {
				return err
			}
			sec, err := installer.StateDir{Path: g.stateDir}.Secrets()
			if err != nil {
				return err
			}
			if cfg.Database == config.DatabaseExternal {
				if sec.DatabaseURL, err = config.ReadDatabaseURL(cfg.DatabaseURLFile); err != nil {
					return withCode(ExitUsage, err)
				}
			}
			files, err := manifests.Render(&cfg, sec, manifests.Options{ServiceMonitorCRD: c.HasServiceMonitorCRD()})
			if err != nil {
				return err
			}
			changes := planChanges(installer.ManifestsDir(g.dataDir), files)
			out := cmd.OutOrStdout()
			if !g.json() {
				if len(changes) == 0 {
					fmt.Fprintln(out, "Nothing changes: the installed manifests are current.")
				}
				for _, ch := range changes {
					fmt.Fprintf(out, "%-8s %s (+%d -%d lines)\n", ch.Change, ch.File, ch.Added, ch.Removed)
					for _, im := range ch.Images {
						fmt.Fprintf(out, "         image %s\n", im)
					}
				}
			}
			if o.dryRun {
				if g.json() {
					return writeJSON(out, map[string]any{"changes": changes, "dry_run": true})
				}
				return nil
			}
			unlock, err := installer.StateDir{Path: g.stateDir}.Lock()
			if err != nil {
				return withCode(ExitPreflight, err)
			}
			defer unlock()
			in := &installer.Installer{DataDir: g.dataDir, State: installer.StateDir{Path: g.stateDir}, Clients: c,
				Report: installer.LineReporter(out, g.json()), Timeout: o.timeout, NoWait: o.noWait}
			r, err := in.Install(cmd.Context(), cfg)
			if err != nil {
				return installError(err)
			}
			if g.json() {
				return writeJSON(out, map[string]any{"changes": changes, "result": r})
			}
			return printInstallResult(out, g, r)
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "only show what would change")
	cmd.Flags().BoolVar(&o.noWait, "no-wait", false, "return once the files are written")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 15*time.Minute, "how long to wait for the rollout")
	config.AddFlags(cmd.Flags())
	return cmd
}

// planChanges compares rendered files with those on disk. Lines of files
// holding Secrets are counted, never shown.
func planChanges(dir string, files []manifests.File) []FileChange {
	var out []FileChange
	seen := map[string]bool{}
	for _, f := range files {
		seen[f.Name] = true
		old, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			out = append(out, FileChange{File: f.Name, Change: "added", Added: strings.Count(string(f.Content), "\n")})
			continue
		}
		if string(old) == string(f.Content) {
			continue
		}
		added, removed := lineDiff(strings.Split(string(old), "\n"), strings.Split(string(f.Content), "\n"))
		ch := FileChange{File: f.Name, Change: "changed", Added: len(added), Removed: len(removed)}
		for _, r := range removed {
			if img, ok := imageOf(r); ok {
				for _, a := range added {
					if nimg, ok := imageOf(a); ok && repoOf(nimg) == repoOf(img) {
						ch.Images = appendOnce(ch.Images, img+" -> "+nimg)
					}
				}
			}
		}
		out = append(out, ch)
	}
	for _, name := range manifests.FileNames() {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil && !seen[name] {
			out = append(out, FileChange{File: name, Change: "removed"})
		}
	}
	return out
}

func imageOf(line string) (string, bool) {
	t := strings.TrimSpace(line)
	if v, ok := strings.CutPrefix(t, "image: "); ok {
		return v, true
	}
	return "", false
}

func repoOf(image string) string { return image[:max(strings.LastIndex(image, ":"), 0)] }

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// lineDiff returns the lines only in b (added) and only in a (removed),
// by longest common subsequence.
func lineDiff(a, b []string) (added, removed []string) {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			removed = append(removed, a[i])
			i++
		default:
			added = append(added, b[j])
			j++
		}
	}
	removed = append(removed, a[i:]...)
	added = append(added, b[j:]...)
	return added, removed
}
