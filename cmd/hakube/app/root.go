// Package app holds hakube's cobra commands, one file each: a flags struct,
// a function building the command, and a short run function handing over to
// the installer. Nothing here calls os.Exit: Main returns the exit code,
// which exitCode decides from the error's type.
package app

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
)

// Streams are the standard streams a command reads and writes.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// globals are the persistent flags every command shares.
type globals struct {
	dataDir    string
	kubeconfig string
	output     string
	stateDir   string
	environ    []string
}

func (g *globals) json() bool { return g.output == "json" }

func (g *globals) validate() error {
	switch g.output {
	case "text", "json":
		return nil
	}
	return usagef("--output %q is not allowed: use text or json (render writes files with --dir)", g.output)
}

func (g *globals) env(name string) string { return envOr(g.environ, name, "") }

// state is the state directory.
func (g *globals) state() installer.StateDir { return installer.StateDir{Path: g.stateDir} }

// session is one run against this host; progress goes to out.
func (g *globals) session(out io.Writer, root string) *installer.Session {
	return &installer.Session{
		DataDir:    g.dataDir,
		State:      g.state(),
		Kubeconfig: installer.ResolveKubeconfig(g.kubeconfig, g.env),
		Root:       root,
		Environ:    g.environ,
		Report:     installer.LineReporter(out, g.json()),
		K3sOut:     out,
	}
}

// connected is the saved configuration (or the edge defaults) and a
// session connected to k3s, for the commands that look at an install.
func (g *globals) connected(cmd *cobra.Command) (config.Config, *installer.Session, *installer.Clients, error) {
	cfg, _, err := g.state().SavedOrDefault()
	if err != nil {
		return cfg, nil, nil, err
	}
	sess := g.session(cmd.ErrOrStderr(), "/")
	c, err := sess.MustConnect(cmd.Context())
	return cfg, sess, c, err
}

// Main runs hakube with args and returns the process exit code. Errors are
// printed once, as "ERROR: …".
func Main(args []string, s Streams, environ []string) int {
	root := NewRootCommand(s, environ)
	root.SetArgs(args)
	err := describe(root.Execute())
	if err != nil {
		fmt.Fprintf(s.Err, "ERROR: %v\n", err)
	}
	return exitCode(err)
}

func envOr(environ []string, name, def string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name && v != "" {
			return v
		}
	}
	return def
}

// noArgs is cobra.NoArgs as a usage error.
func noArgs(cmd *cobra.Command, args []string) error { return asUsage(cobra.NoArgs(cmd, args)) }

// NewRootCommand builds the whole command tree.
func NewRootCommand(s Streams, environ []string) *cobra.Command {
	g := &globals{environ: environ}
	root := &cobra.Command{
		Use:   "hakube",
		Short: "Install a complete, secure Home Assistant stack on k3s",
		Long: `hakube installs Home Assistant with Mosquitto, Node-RED, ESPHome, Zigbee2MQTT and
optionally PostgreSQL on k3s, as manifests in k3s's auto-deploy directory, with
persistent volumes, backups and monitoring.

Start with 'hakube detect' to see what was found on this machine, 'hakube render'
to see what would be installed, then 'sudo hakube install'.

Settings come from, lowest precedence first: the profile's defaults, the flags
file (--config, YAML whose keys are the long flag names), the wizard's answers,
HAKUBE_<KEY> environment variables (HAKUBE_NODE_PORT=30200), then command-line
flags.

Exit codes: 0 success, 1 error or interrupted, 2 bad flags, flags file,
environment or input file, 3 refused before changing anything (host not
ready, k3s missing, another hakube running, credentials missing), 4 k3s
rejected a manifest or a workload failed, 5 timed out waiting.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q: run 'hakube --help' for the list", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.validate()
		},
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return asUsage(err) })
	root.SetVersionTemplate("hakube {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&g.dataDir, "data-dir", envOr(environ, "HAKUBE_DATA_DIR", "/var/lib/rancher/k3s"),
		"k3s data directory; manifests go to <data-dir>/server/manifests (env HAKUBE_DATA_DIR)")
	pf.StringVar(&g.kubeconfig, "kubeconfig", envOr(environ, "HAKUBE_KUBECONFIG", ""),
		"kubeconfig file (default /etc/rancher/k3s/k3s.yaml, then $KUBECONFIG; env HAKUBE_KUBECONFIG)")
	pf.StringVarP(&g.output, "output", "o", envOr(environ, "HAKUBE_OUTPUT", "text"),
		"output format: text or json (env HAKUBE_OUTPUT)")
	pf.StringVar(&g.stateDir, "state-dir", envOr(environ, "HAKUBE_STATE_DIR", "/etc/hakube"),
		"where hakube keeps its saved configuration and generated secrets, root-only (env HAKUBE_STATE_DIR)")

	root.AddCommand(
		newVersionCommand(g),
		newDetectCommand(g),
		newRenderCommand(g),
		newInstallCommand(g, s),
		newStatusCommand(g),
		newUpgradeCommand(g, s),
		newUninstallCommand(g, s),
		newCredentialsCommand(g),
		newMQTTCommand(g),
		newBackupCommand(g),
		newRestoreCommand(g, s),
		newDoctorCommand(g),
	)
	return root
}
