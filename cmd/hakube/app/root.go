// Package app holds hakube's cobra commands. Each command is built by a
// function, binds its flags into an options struct and hands over to one
// library call; nothing here calls os.Exit, so deferred cleanup always runs.
package app

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Streams are the standard streams a command reads and writes.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Exit codes, documented in 'hakube --help'.
const (
	ExitOK        = 0
	ExitError     = 1 // anything else that went wrong
	ExitUsage     = 2 // bad flags, flags file or environment
	ExitPreflight = 3 // the host is not ready (not root, k3s missing, …)
	ExitRejected  = 4 // k3s rejected a manifest, or a workload failed
	ExitTimeout   = 5 // gave up waiting (--timeout)
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
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
	return withCode(ExitUsage, fmt.Errorf("--output %q is not allowed: use text or json", g.output))
}

// Main runs hakube with args and returns the process exit code. Errors are
// printed once, as "ERROR: …".
func Main(args []string, s Streams, environ []string) int {
	root := NewRootCommand(s, environ)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(s.Err, "ERROR: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsageError(err) {
		return ExitUsage
	}
	return ExitError
}

func isUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown command", "unknown shorthand", "invalid argument", "flag needs an argument", "accepts ", "requires at least", "invalid configuration"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func envOr(environ []string, name, def string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name && v != "" {
			return v
		}
	}
	return def
}

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
file (--config, YAML whose keys are the long flag names), HAKUBE_<KEY>
environment variables (HAKUBE_NODE_PORT=30200), then command-line flags.

Exit codes: 0 success, 1 error, 2 bad flags, flags file or environment,
3 host not ready (preflight), 4 k3s rejected a manifest or a workload failed,
5 timed out waiting.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.validate()
		},
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
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
		newUpgradeCommand(g),
		newUninstallCommand(g, s),
		newBackupCommand(g),
		newRestoreCommand(g, s),
		newDoctorCommand(g),
	)
	return root
}
