package app

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// Set at build time by the Makefile with -ldflags -X.
var (
	version = "dev"
	commit  = "unknown"
)

func versionString() string {
	return fmt.Sprintf("%s (commit %s, %s, %s/%s)", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := map[string]string{
				"version": version, "commit": commit, "go": runtime.Version(),
				"platform": runtime.GOOS + "/" + runtime.GOARCH,
			}
			if g.json() {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "hakube %s\ncommit: %s\ngo: %s\nplatform: %s\n",
				version, commit, runtime.Version(), info["platform"])
			return err
		},
	}
}
