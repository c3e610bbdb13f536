package app

import (
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/hakube/hakube/installer"
)

func newCredentialsCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "credentials [COMPONENT]",
		Short: "Print each login hakube generated and where to type it (root only)",
		Long: `Print the logins hakube generated at install, for each component, with where
each is used: what to type into Home Assistant's MQTT integration, the Node-RED
and ESPHome dashboards' logins, Zigbee2MQTT's frontend token, the database.

This is the only command that prints a secret. It is root-only, like the file
the credentials are kept in (--state-dir, 0600). COMPONENT is one of mqtt,
nodered, esphome, zigbee2mqtt, postgresql; without it, every login is shown.`,
		Example: `  sudo hakube credentials
  sudo hakube credentials mqtt
  sudo hakube credentials -o json | jq -r '.[] | select(.component=="nodered") | .password'`,
		Args:      func(cmd *cobra.Command, args []string) error { return asUsage(cobra.MaximumNArgs(1)(cmd, args)) },
		ValidArgs: []string{"mqtt", "nodered", "esphome", "zigbee2mqtt", "postgresql"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCredentials(cmd, g, args)
		},
	}
}

func runCredentials(cmd *cobra.Command, g *globals, args []string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: the credentials are root-only: run 'sudo hakube credentials'", installer.ErrPreflight)
	}
	st := g.state()
	cfg, installed, err := st.SavedOrDefault()
	if err != nil {
		return err
	}
	if !installed {
		return fmt.Errorf("%w: no install in %s: the credentials are made by 'hakube install'", installer.ErrNothingInstalled, st.Path)
	}
	sec, err := st.Secrets()
	if err != nil {
		return err
	}
	logins := installer.Logins(&cfg, sec)
	if len(args) == 1 {
		valid := cmd.ValidArgs
		if !slices.Contains(valid, args[0]) {
			return usagef("%q is not a component with logins: use one of %v", args[0], valid)
		}
		logins = slices.DeleteFunc(logins, func(l installer.Login) bool { return l.Component != args[0] })
		if len(logins) == 0 {
			return usagef("%s is not installed (components: %v)", args[0], cfg.Components)
		}
	}
	if g.json() {
		if logins == nil {
			logins = []installer.Login{}
		}
		return writeJSON(cmd.OutOrStdout(), logins)
	}
	printLogins(cmd.OutOrStdout(), logins)
	return nil
}

func printLogins(out io.Writer, logins []installer.Login) {
	for i, l := range logins {
		if i > 0 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "%s: %s\n", l.Component, l.Purpose)
		if l.Where != "" {
			fmt.Fprintf(out, "  where:    %s\n", l.Where)
		}
		if l.Username != "" {
			fmt.Fprintf(out, "  username: %s\n", l.Username)
		}
		if l.Password != "" {
			fmt.Fprintf(out, "  password: %s\n", l.Password)
		}
		if l.Token != "" {
			fmt.Fprintf(out, "  token:    %s\n", l.Token)
		}
		if l.Note != "" {
			fmt.Fprintf(out, "  (%s)\n", l.Note)
		}
	}
}
