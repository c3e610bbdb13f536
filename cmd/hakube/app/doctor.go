package app

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/installer"
)

type doctorOptions struct {
	root string
}

func newDoctorCommand(g *globals) *cobra.Command {
	o := &doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the host, k3s and the stack; each problem with its fix",
		Long: `Check what keeps Home Assistant running on this machine, and say how to fix
each problem: k3s's errors applying hakube's manifests, pods not Ready and why,
the memory cgroup, free disk and inodes, the medium under k3s's data (an SD card
wears out), the Zigbee radio at its configured path, clock synchronisation, the
expiry of k3s's certificates, the age of the newest backup and whether a copy
is off the node, and the Prometheus metrics token. It changes nothing.
Exit code 0 when nothing is a problem (warnings allowed), 1 otherwise.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := g.state().SavedOrDefault()
			if err != nil {
				return err
			}
			c, err := g.session(cmd.ErrOrStderr(), o.root).Connect(cmd.Context())
			if err != nil {
				c = nil // host checks still run; the report says the cluster was not checked
			}
			r := installer.Doctor(cmd.Context(), installer.DoctorInput{Root: o.root, DataDir: g.dataDir, Config: &cfg, Clients: c})
			out := cmd.OutOrStdout()
			if g.json() {
				if err := writeJSON(out, r); err != nil {
					return err
				}
			} else {
				mark := map[hwdetect.Status]string{hwdetect.StatusOK: "✓", hwdetect.StatusWarning: "!", hwdetect.StatusProblem: "✗", hwdetect.StatusNotChecked: "-"}
				for _, ch := range r.Checks {
					fmt.Fprintf(out, "%s %-36s %s\n", mark[ch.Status], ch.Title, ch.Detail)
					if ch.Fix != "" {
						fmt.Fprintf(out, "    → %s\n", ch.Fix)
					}
				}
				fmt.Fprintf(out, "\n%d problems, %d warnings.\n", r.Problems, r.Warnings)
			}
			if r.Problems > 0 {
				return errors.New("doctor found problems (see above)")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.root, "root", "/", "read the host's files under this directory (a mounted image, or a test fixture)")
	return cmd
}
