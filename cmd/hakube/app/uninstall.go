package app

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

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
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUninstall(cmd, g, s, o)
		},
	}
	cmd.Flags().BoolVar(&o.purge, "purge", false, "also delete volumes, the namespace, and the saved configuration and credentials")
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask before --purge")
	return cmd
}

func runUninstall(cmd *cobra.Command, g *globals, s Streams, o *uninstallOptions) error {
	out := cmd.OutOrStdout()
	cfg, installed, err := g.state().SavedOrDefault()
	if err != nil {
		return err
	}
	if !o.purge && !o.yes && !g.json() && isTerminal(s.In) && installed { // wizard: say what is kept (wizard.go)
		if !confirmUninstall(s.In, out, cfg.Namespace, g.stateDir) {
			return errCancelled
		}
	}
	if o.purge && !o.yes {
		if !isTerminal(s.In) {
			return usagef("--purge deletes every volume: pass --yes to confirm without a terminal")
		}
		fmt.Fprintf(out, "This deletes Home Assistant's configuration, history and the Zigbee network in namespace %s. Type the namespace to confirm: ", cfg.Namespace)
		if ask(s.In, out, "") != cfg.Namespace {
			return errCancelled
		}
	}
	sess := g.session(cmd.ErrOrStderr(), "/")
	c, err := sess.MustConnect(cmd.Context())
	if err != nil && o.purge {
		return err
	}
	// Without the API the files still go; the objects need it.
	if installed {
		unlock, err := sess.State.Lock()
		if err != nil {
			return err
		}
		defer unlock()
	}
	res, err := sess.Installer(c).Uninstall(cmd.Context(), cfg.Namespace, o.purge)
	if err != nil {
		return err
	}
	if o.purge {
		if err := sess.State.Purge(); err != nil {
			return err
		}
	}
	if g.json() {
		return writeJSON(out, res)
	}
	fmt.Fprintf(out, "Removed %d files, %d Addons and %d objects.\n", len(res.FilesRemoved), len(res.AddonsRemoved), len(res.ObjectsDeleted))
	if len(res.DataErased) > 0 {
		fmt.Fprintf(out, "Erased the data of %d volumes.\n", len(res.DataErased))
	}
	if len(res.DataElsewhere) > 0 {
		fmt.Fprintf(out, "Not reachable from this host, erase them on their node: %s\n", strings.Join(res.DataElsewhere, ", "))
	}
	if len(res.VolumesKept) > 0 {
		fmt.Fprintf(out, "Kept %d volumes (%s) and the credentials in %s: 'hakube uninstall --purge' deletes them.\n",
			len(res.VolumesKept), strings.Join(res.VolumesKept, ", "), g.stateDir)
	}
	return nil
}
