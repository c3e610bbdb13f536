package installer_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
)

// BenchmarkNoopInstall is a re-run that changes nothing (no cluster): plan
// against the files on disk, then apply (nothing is rewritten).
func BenchmarkNoopInstall(b *testing.B) {
	in := &installer.Installer{DataDir: b.TempDir(), State: installer.StateDir{Path: filepath.Join(b.TempDir(), "state")}, NoWait: true}
	cfg := config.Defaults(config.ProfileEdge)
	ctx := context.Background()
	if _, err := in.Install(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := in.Install(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Files.Written) > 0 {
			b.Fatalf("a no-op install wrote %v", res.Files.Written)
		}
	}
}
