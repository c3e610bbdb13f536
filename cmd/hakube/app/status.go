package app

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hakube/hakube/installer"
)

func newStatusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the installed components, versions, pods, URLs and k3s's last events",
		Long: `Show what k3s applied (each manifest file is an Addon), the components and their
versions, the pods, where to reach Home Assistant and the other dashboards, and
k3s's latest events about hakube's files. Exit code 0 when everything is applied
and Ready, 1 otherwise.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd, g)
		},
	}
}

func runStatus(cmd *cobra.Command, g *globals) error {
	cfg, sess, c, err := g.connected(cmd)
	if err != nil {
		return err
	}
	st, err := sess.Installer(c).Status(cmd.Context(), cfg)
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
		return errNotHealthy
	}
	return nil
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
		name := p.Name
		if p.Namespace != "" {
			name = p.Namespace + "/" + p.Name
		}
		fmt.Fprintf(out, "  %-34s %-9s ready=%t restarts=%d%s\n", name, p.Phase, p.Ready, p.Restarts, extra)
		if p.Problem != "" {
			fmt.Fprintf(out, "    %s\n    → %s\n", p.Problem, p.Advice)
		}
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
