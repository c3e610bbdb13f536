package app

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/hakube/hakube/installer"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printPlan shows what a plan does, as install's confirmation and upgrade
// --dry-run do. It never shows a file's content.
func printPlan(out io.Writer, p *installer.Plan) {
	c := p.Config
	fmt.Fprintf(out, "\nhakube will install into k3s (%s):\n", p.ManifestsDir)
	fmt.Fprintf(out, "  profile %s, namespace %s, components: home-assistant", c.Profile, c.Namespace)
	for _, comp := range c.Components {
		fmt.Fprintf(out, ", %s", comp)
	}
	fmt.Fprintf(out, "\n  database %s", c.Database)
	if c.ZigbeeDevice != "" {
		fmt.Fprintf(out, "\n  Zigbee coordinator %s (adapter %s)", c.ZigbeeDevice, c.ZigbeeAdapter)
	}
	fmt.Fprintln(out)
	printChanges(out, p.Changes())
	if len(p.Ports) > 0 {
		fmt.Fprintln(out, "  ports:")
		for _, port := range p.Ports {
			where := port.Reach
			if port.NodePort != 0 {
				where = fmt.Sprintf("node port %d", port.NodePort)
			}
			fmt.Fprintf(out, "    %-16s %-10s %5d  %s\n", port.Component, port.Name, port.Port, where)
		}
	}
	if len(p.Volumes) > 0 {
		fmt.Fprintln(out, "  volumes:")
		for _, v := range p.Volumes {
			state := "new"
			if v.Exists {
				state = "kept (holds your data)"
			}
			fmt.Fprintf(out, "    %-36s %6s on %-12s %s\n", v.Claim, v.Size, v.StorageClass, state)
		}
	}
	fmt.Fprintf(out, "  credentials: %s\n", map[installer.CredentialStatus]string{
		installer.CredentialsNew:       "generated now, kept for every later run",
		installer.CredentialsKept:      "kept from the last install",
		installer.CredentialsRecovered: "recovered from the cluster's copy",
	}[p.Credentials])
	for _, n := range p.Notes {
		fmt.Fprintf(out, "  note: %s\n", n)
	}
}

// printChanges lists the files that change, with image changes.
func printChanges(out io.Writer, changes []installer.FileChange) {
	if len(changes) == 0 {
		fmt.Fprintln(out, "  Nothing changes: the installed manifests are current.")
		return
	}
	for _, ch := range changes {
		lines := ""
		if ch.Change == installer.Changed {
			lines = fmt.Sprintf(" (+%d -%d lines)", ch.Added, ch.Removed)
		}
		fmt.Fprintf(out, "  %-9s %s%s\n", ch.Change, ch.File, lines)
		for _, im := range ch.Images {
			fmt.Fprintf(out, "            image %s\n", im)
		}
	}
}
