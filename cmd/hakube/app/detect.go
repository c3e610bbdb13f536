package app

import (
	"io"

	"github.com/hakube/hakube/hwdetect"
	"github.com/spf13/cobra"
)

// detectOptions are the flags of 'hakube detect'.
type detectOptions struct {
	root         string
	json         bool
	coordinators []string
}

func newDetectCommand(g *globals) *cobra.Command {
	o := &detectOptions{}
	cmd := &cobra.Command{
		Use:   "detect",
		Short: "Show the board, memory, radios and host readiness hakube would use",
		Long: `detect reports what hakube finds on this machine and what it means for the
install: the board and its memory (which size the deployment), the serial radios
(a Zigbee coordinator found alone is configured for Zigbee2MQTT), and whether the
host is ready for k3s and Home Assistant, with a fix for every problem.

--root inspects another Linux tree instead, such as a mounted SD card image:
checks of the running machine (k3s API, user, free disk) are then skipped.

The exit code is 0 even when problems are found: it is a report. --json (or
--output json) prints a stable JSON document for scripts.`,
		Example: `  hakube detect
  hakube detect --json | jq -r '.radios[] | select(.kind == "zigbee") | .path'
  hakube detect --root /mnt/sdcard
  hakube detect --coordinator tcp://192.168.1.40:6638`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDetect(cmd.OutOrStdout(), o, o.json || g.json())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.root, "root", "/", "inspect the Linux tree under `DIR` (a mounted SD card image) instead of this machine")
	f.BoolVar(&o.json, "json", false, "print the JSON document (same as --output json)")
	f.StringArrayVar(&o.coordinators, "coordinator", nil,
		"a network Zigbee coordinator, tcp://HOST:PORT or mdns://NAME, to list with the radios (repeatable)")
	return cmd
}

func runDetect(w io.Writer, o *detectOptions, asJSON bool) error {
	for _, addr := range o.coordinators {
		if _, err := hwdetect.NetworkRadio(addr); err != nil {
			return usagef("--coordinator: %w", err)
		}
	}
	r, err := hwdetect.Detect(o.root, hwdetect.WithNetworkCoordinators(o.coordinators...))
	if err != nil {
		return usagef("cannot inspect: %w: --root takes a directory, such as a mounted SD card image, or /", err)
	}
	if asJSON {
		return r.WriteJSON(w)
	}
	return r.WriteText(w)
}
