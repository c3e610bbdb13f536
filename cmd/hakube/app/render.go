package app

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	dir        string
	root       string
}

func newRenderCommand(g *globals) *cobra.Command {
	o := &renderOptions{}
	cmd := &cobra.Command{
		Use:   "render [--config FILE] [--dir DIR]",
		Short: "Print or write the manifests install would write",
		Long: `Render the manifests of the whole stack, exactly as 'hakube install' writes them
into k3s's auto-deploy directory, without touching the cluster.

Settings load as for install: with no flags file, the configuration saved by an
earlier install if there is one, else the edge profile (k3s single node, NodePort
30123, SQLite, local-path volumes); both adjusted to the hardware found on this
machine (the Zigbee radio, memory, CPU architecture). Without a cluster to ask,
monitoring: auto renders no ServiceMonitor.

Secrets are never printed: on standard output they are placeholders. With
--dir DIR, the secrets kept in --state-dir by an earlier install are used if
there are any (files holding Secrets are written 0600), placeholders otherwise.
--output json prints the files as a JSON list of {file, component, content}.`,
		Example: `  hakube render                               # the edge default, to stdout
  hakube render --config site.yaml --dir ./out
  hakube render --profile production --ingress-host home.example.com
  hakube render -o json | jq -r '.[].file'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRender(cmd, g, o)
		},
	}
	cmd.Flags().StringVarP(&o.configFile, "config", "c", envOr(g.environ, "HAKUBE_CONFIG", ""), "flags file (YAML, keys are the long flag names; env HAKUBE_CONFIG)")
	cmd.Flags().StringVar(&o.dir, "dir", "", "write the files into `DIR` instead of printing them")
	cmd.Flags().StringVar(&o.root, "root", "/", "root of the system whose hardware adjusts the defaults")
	config.AddFlags(cmd.Flags())
	return cmd
}

func runRender(cmd *cobra.Command, g *globals, o *renderOptions) error {
	report, err := hwdetect.Detect(o.root)
	if err != nil {
		return usagef("--root: %w", err)
	}
	sess := g.session(cmd.ErrOrStderr(), o.root)
	res, err := sess.Load(installer.LoadOptions{File: o.configFile, Flags: cmd.Flags(), Hardware: report})
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: %s\n", n)
	}
	// Real credentials only into files, and only those already kept.
	_, keptErr := sess.State.Secrets()
	placeholders := o.dir == "" || keptErr != nil
	if keptErr != nil && !errors.Is(keptErr, fs.ErrNotExist) && !errors.Is(keptErr, fs.ErrPermission) {
		return keptErr
	}
	in := sess.Installer(nil)
	plan, err := in.Plan(context.Background(), res.Config, installer.PlanOptions{Placeholders: placeholders})
	if err != nil {
		return err
	}
	files := plan.Rendered()
	if o.dir == "" {
		return printRendered(cmd.OutOrStdout(), files, g.json())
	}
	written, err := writeRendered(o.dir, files)
	if err != nil {
		return err
	}
	kind := "placeholder secrets"
	if !placeholders {
		kind = "the secrets kept in " + g.stateDir
	}
	if g.json() {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"dir": o.dir, "files": written, "secrets": kind})
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d files to %s (with %s)\n", len(files), o.dir, kind)
	return nil
}

// printRendered prints files as YAML documents, or as a JSON list.
func printRendered(out io.Writer, files []manifests.File, asJSON bool) error {
	if asJSON {
		type file struct {
			File      string `json:"file"`
			Component string `json:"component"`
			Content   string `json:"content"`
		}
		list := []file{}
		for _, f := range files {
			list = append(list, file{f.Name, f.Component, string(f.Content)})
		}
		return writeJSON(out, list)
	}
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

// writeRendered writes files into dir; those holding Secrets 0600.
func writeRendered(dir string, files []manifests.File) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create --dir %s: %w", dir, err)
	}
	var written []string
	for _, f := range files {
		perm := os.FileMode(0o644)
		if f.Sensitive {
			perm = 0o600
		}
		path := filepath.Join(dir, f.Name)
		if err := installer.WriteFileAtomic(path, f.Content, perm); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}
