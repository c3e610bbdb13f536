package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/manifests"
)

type mqttUserOptions struct {
	noWait  bool
	timeout time.Duration
}

func newMQTTCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mqtt",
		Short: "The broker for LAN devices: device accounts and the TLS CA",
		Long: `Manage what LAN devices (Tasmota, Shelly, ESPHome over MQTT, …) need to use
the broker: an account each, and the CA that signed the broker's TLS
certificate. Expose the broker with the mqtt-expose setting (NodePort or
LoadBalancer); 'hakube credentials mqtt' shows where devices connect.`,
		Args: noArgs,
	}
	o := &mqttUserOptions{}
	user := &cobra.Command{
		Use:   "user",
		Short: "Add, list or remove device accounts",
		Args:  noArgs,
	}
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a device account and print its password, once",
		Long: `Add a broker account for one device. The password is generated and printed
once ('hakube credentials mqtt' shows it again, as root). The device may use
only its own topics: NAME/#, Tasmota's cmnd|stat|tele/NAME/#, shellies/NAME/#,
Home Assistant discovery under homeassistant/+/NAME/# and Tasmota's discovery;
never Zigbee2MQTT's or another device's. Only the broker restarts: Home
Assistant keeps running.`,
		Example: `  sudo hakube mqtt user add kitchen-plug`,
		Args:    exactName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMQTTUser(cmd, g, o, args[0], true)
		},
	}
	remove := &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Remove a device account: the broker refuses it from then on",
		Args:    exactName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMQTTUser(cmd, g, o, args[0], false)
		},
	}
	for _, c := range []*cobra.Command{add, remove} {
		c.Flags().BoolVar(&o.noWait, "no-wait", false, "return once the broker's file is written")
		c.Flags().DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long to wait for the broker to restart")
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the device accounts (names only)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, sec, err := savedInstall(g)
			if err != nil {
				return err
			}
			names := installer.MQTTDeviceNames(sec)
			if g.json() {
				return writeJSON(cmd.OutOrStdout(), names)
			}
			if len(names) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "No device accounts: add one with 'sudo hakube mqtt user add NAME'.")
			}
			for _, n := range names {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		},
	}
	user.AddCommand(add, list, remove)
	ca := &cobra.Command{
		Use:   "ca",
		Short: "Print the CA certificate that signed the broker's TLS certificate (PEM)",
		Long: `Print hakube's own MQTT CA certificate, to give to devices that connect over
TLS (port 8883, or mqtt-tls-node-port). hakube makes it once and never
rotates it. With cluster-issuer set, cert-manager signs the broker's
certificate instead: use that issuer's CA.`,
		Example: `  sudo hakube mqtt ca > hakube-mqtt-ca.pem`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, sec, err := savedInstall(g)
			if err != nil {
				return err
			}
			if !cfg.MQTTExposed() {
				return fmt.Errorf("%w: the broker is not exposed to the LAN (mqtt-expose: %s): set mqtt-expose: NodePort or LoadBalancer and run 'hakube upgrade'", installer.ErrPreflight, cfg.MQTTExpose)
			}
			pem := installer.MQTTCA(&cfg, sec)
			if pem == "" {
				if cfg.ClusterIssuer != "" {
					return fmt.Errorf("%w: the broker's certificate is signed by cert-manager's ClusterIssuer %s: give devices that issuer's CA", installer.ErrPreflight, cfg.ClusterIssuer)
				}
				return fmt.Errorf("%w: no CA made yet: run 'hakube upgrade' to apply mqtt-expose", installer.ErrPreflight)
			}
			_, err = io.WriteString(cmd.OutOrStdout(), pem)
			return err
		},
	}
	cmd.AddCommand(user, ca)
	return cmd
}

func exactName(cmd *cobra.Command, args []string) error {
	return asUsage(cobra.ExactArgs(1)(cmd, args))
}

// savedInstall is the saved configuration and the credentials of an install.
func savedInstall(g *globals) (config.Config, manifests.Secrets, error) {
	st := g.state()
	cfg, err := st.SavedConfig()
	if errors.Is(err, os.ErrNotExist) {
		return cfg, manifests.Secrets{}, fmt.Errorf("%w: no install in %s: run 'hakube install' first", installer.ErrNothingInstalled, st.Path)
	}
	if err != nil {
		return cfg, manifests.Secrets{}, err
	}
	sec, err := st.Secrets()
	return cfg, sec, err
}

// runMQTTUser adds or removes a device account: under the state
// directory's lock, it changes the kept credentials and applies the saved
// configuration again, which changes only the broker's file.
func runMQTTUser(cmd *cobra.Command, g *globals, o *mqttUserOptions, name string, add bool) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := cmd.OutOrStdout()
	unlock, err := g.state().Lock()
	if err != nil {
		return err
	}
	defer unlock()
	cfg, sec, err := savedInstall(g)
	if err != nil {
		return err
	}
	if !cfg.Has(config.MQTT) {
		return fmt.Errorf("%w: mqtt is not in components: add it ('hakube upgrade --components …,mqtt') first", installer.ErrPreflight)
	}
	var added manifests.MQTTUser
	if add {
		if added, err = installer.AddMQTTDevice(&sec, name, rand.Reader); err != nil {
			return err
		}
	} else if err := installer.RemoveMQTTDevice(&sec, name); err != nil {
		return fmt.Errorf("%w: %w", installer.ErrBadInput, err)
	}
	sess := g.session(out, "/")
	clients, _ := sess.Connect(ctx) // without k3s the file applies when it starts
	in := sess.Installer(clients)
	in.Timeout, in.NoWait = o.timeout, o.noWait
	r, err := applyDevices(ctx, in, cfg, sec)
	if err != nil {
		return err
	}
	if g.json() {
		res := map[string]any{"device": name, "result": r}
		if add {
			res["username"], res["password"] = added.Username, added.Password
		}
		return writeJSON(out, res)
	}
	if !add {
		fmt.Fprintf(out, "\nRemoved device account %s: the broker refuses it from now on.\n", name)
		return nil
	}
	fmt.Fprintf(out, "\nDevice account %s (shown once; 'sudo hakube credentials mqtt' shows it again):\n", name)
	fmt.Fprintf(out, "  username: %s\n  password: %s\n", added.Username, added.Password)
	if where := installer.MQTTLANAddress(&cfg); where != "" {
		fmt.Fprintf(out, "  broker:   %s\n", where)
	} else {
		fmt.Fprintln(out, "  broker:   in the cluster only: set mqtt-expose: NodePort or LoadBalancer ('hakube upgrade --mqtt-expose NodePort') for LAN devices")
	}
	fmt.Fprintf(out, "  topics:   %s/#, Tasmota topic %s, shellies/%s/#, discovery homeassistant/+/%s/#\n", name, name, name, name)
	return nil
}

func applyDevices(ctx context.Context, in *installer.Installer, cfg config.Config, sec manifests.Secrets) (*installer.Result, error) {
	plan, err := in.Plan(ctx, cfg, installer.PlanOptions{Secrets: &sec})
	if err != nil {
		return nil, err
	}
	return in.Apply(ctx, plan)
}
