package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/manifests"
)

type renderOptions struct {
	configFile string
	output     string
	root       string
}

func newRenderCommand(g *globals) *cobra.Command {
	o := &renderOptions{}
	cmd := &cobra.Command{
		Use:   "render [--config FILE] [--output DIR|-]",
		Short: "Print or write the manifests install would write",
		Long: `Render the manifests of the whole stack, exactly as 'hakube install' writes them
into k3s's auto-deploy directory, without touching the cluster.

Settings load as for install: with no flags file, the configuration saved by an
earlier install if there is one, else the edge profile (k3s single node, NodePort
30123, SQLite, local-path volumes); both adjusted to the hardware found on this
machine (the Zigbee radio, memory, CPU architecture). Without a cluster to ask,
monitoring: auto renders no ServiceMonitor.

Secrets are never printed: on standard output they are placeholders. With
--output DIR, the secrets kept in --state-dir by an earlier install are used if
there are any (files holding Secrets are written 0600), placeholders otherwise.`,
		Example: `  hakube render                               # the edge default, to stdout
  hakube render --config site.yaml --output ./out
  hakube render --profile production --ingress-host home.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRender(cmd, g, o)
		},
	}
	cmd.Flags().StringVarP(&o.configFile, "config", "c", envOr(g.environ, "HAKUBE_CONFIG", ""), "flags file (YAML, keys are the long flag names; env HAKUBE_CONFIG)")
	cmd.Flags().StringVarP(&o.output, "output", "o", "-", "directory to write the files to, or - for standard output")
	cmd.Flags().StringVar(&o.root, "root", "/", "root of the system whose hardware adjusts the defaults")
	config.AddFlags(cmd.Flags())
	return cmd
}

func runRender(cmd *cobra.Command, g *globals, o *renderOptions) error {
	report, err := hwdetect.Detect(o.root)
	if err != nil {
		return withCode(ExitUsage, fmt.Errorf("--root: %w", err))
	}
	res, err := loadInstallConfig(cmd, g, o.configFile, report, false)
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: %s\n", n)
	}
	sec := installer.PlaceholderSecrets()
	kept := false
	if o.output != "-" {
		s, err := installer.StateDir{Path: g.stateDir}.Secrets()
		switch {
		case err == nil:
			sec, kept = s, true
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission):
			return err
		}
	}
	if res.Config.Database == config.DatabaseExternal && kept {
		u, err := config.ReadDatabaseURL(res.Config.DatabaseURLFile)
		if err != nil {
			return withCode(ExitUsage, err)
		}
		sec.DatabaseURL = u
	}
	files, err := manifests.Render(&res.Config, sec, manifests.Options{})
	if err != nil {
		return err
	}
	if o.output == "-" {
		out := cmd.OutOrStdout()
		for i, f := range files {
			if i > 0 {
				fmt.Fprintln(out, "---")
			}
			fmt.Fprintf(out, "# Source: %s\n", f.Name)
			if _, err := out.Write(f.Content); err != nil {
				return err
			}
		}
		return nil
	}
	if err := os.MkdirAll(o.output, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	for _, f := range files {
		perm := os.FileMode(0o644)
		if f.Sensitive {
			perm = 0o600
		}
		if err := installer.WriteFileAtomic(filepath.Join(o.output, f.Name), f.Content, perm); err != nil {
			return err
		}
	}
	kind := "placeholder secrets"
	if kept {
		kind = "the secrets kept in " + g.stateDir
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d files to %s (with %s)\n", len(files), o.output, kind)
	return nil
}
