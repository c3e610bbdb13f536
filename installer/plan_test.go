package installer_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/manifests"
)

func changesByFile(p *installer.Plan) map[string]installer.FileChange {
	out := map[string]installer.FileChange{}
	for _, f := range p.Files {
		out[f.File] = f
	}
	return out
}

func TestPlanDiffAgainstTheFilesOnDisk(t *testing.T) {
	ctx := context.Background()
	in := &installer.Installer{DataDir: t.TempDir(), State: installer.StateDir{Path: filepath.Join(t.TempDir(), "state")}, NoWait: true}
	cfg := config.Defaults(config.ProfileEdge)

	first, err := in.Plan(ctx, cfg, installer.PlanOptions{})
	require.NoError(t, err)
	for _, f := range first.Files {
		assert.Equal(t, installer.Added, f.Change, f.File)
		assert.Positive(t, f.Added, f.File)
		assert.Empty(t, f.Cluster, "no cluster to ask")
	}
	assert.Equal(t, installer.CredentialsNew, first.Credentials)
	assert.Len(t, first.Changes(), len(first.Files))
	_, err = in.Apply(ctx, first)
	require.NoError(t, err)

	again, err := in.Plan(ctx, cfg, installer.PlanOptions{})
	require.NoError(t, err)
	assert.Empty(t, again.Changes(), "a re-run changes nothing")
	assert.Equal(t, installer.CredentialsKept, again.Credentials)
	for _, f := range again.Files {
		assert.Equal(t, installer.Unchanged, f.Change, f.File)
	}

	// Turn ESPHome off and change the time zone: one file goes, the files
	// that carry TZ change, the rest stays.
	next := cfg
	next.Components = []config.Component{config.MQTT, config.NodeRED}
	next.Timezone = "Europe/Berlin"
	p, err := in.Plan(ctx, next, installer.PlanOptions{})
	require.NoError(t, err)
	byFile := changesByFile(p)
	assert.Equal(t, installer.Removed, byFile["hakube-10-esphome.yaml"].Change)
	assert.Equal(t, "esphome", byFile["hakube-10-esphome.yaml"].Component)
	ha := byFile["hakube-30-home-assistant.yaml"]
	assert.Equal(t, installer.Changed, ha.Change)
	assert.Positive(t, ha.Added)
	assert.Positive(t, ha.Removed)
	assert.Equal(t, installer.Unchanged, byFile["hakube-00-namespace.yaml"].Change)
	kept := false
	for _, v := range p.Volumes {
		kept = kept || v.Claim == "home-assistant-esphome-data-0"
	}
	assert.True(t, kept, "a turned-off component's claim stays rendered: k3s must never prune it")

	// A file replaced by a symlink to identical content is not "unchanged":
	// the plan rewrites anything that is not a regular file.
	dir := installer.ManifestsDir(in.DataDir)
	ns := filepath.Join(dir, "hakube-00-namespace.yaml")
	data, err := os.ReadFile(ns)
	require.NoError(t, err)
	elsewhere := filepath.Join(t.TempDir(), "planted.yaml")
	require.NoError(t, os.WriteFile(elsewhere, data, 0o644))
	require.NoError(t, os.Remove(ns))
	require.NoError(t, os.Symlink(elsewhere, ns))
	p, err = in.Plan(ctx, cfg, installer.PlanOptions{})
	require.NoError(t, err)
	assert.Equal(t, installer.Added, changesByFile(p)["hakube-00-namespace.yaml"].Change)
	_, err = in.Apply(ctx, p)
	require.NoError(t, err)
	fi, err := os.Lstat(ns)
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular(), "the planted symlink is replaced by a regular file")
}

func TestPlanListsImagesPortsAndVolumes(t *testing.T) {
	in := &installer.Installer{DataDir: t.TempDir(), State: installer.StateDir{Path: t.TempDir()}}
	cfg := config.Defaults(config.ProfileProduction)
	p, err := in.Plan(context.Background(), cfg, installer.PlanOptions{Placeholders: true})
	require.NoError(t, err)
	claims := map[string]string{}
	for _, v := range p.Volumes {
		claims[v.Claim] = v.Size
		assert.False(t, v.Exists)
	}
	assert.Equal(t, cfg.Volumes.Config, claims["home-assistant-config-0"])
	assert.Equal(t, cfg.Volumes.PostgreSQL, claims["postgresql-data-0"])
	var refs []string
	for _, im := range p.Images {
		refs = append(refs, im.Ref)
	}
	assert.Contains(t, refs, mustImage(t, "home-assistant", cfg.Arch))
	assert.Contains(t, refs, mustImage(t, "postgresql", cfg.Arch))
	var reach []string
	for _, port := range p.Ports {
		if port.Service == "home-assistant" {
			reach = append(reach, port.Reach)
		}
	}
	assert.Contains(t, reach, "load-balancer", "production exposes Home Assistant through a LoadBalancer")
}

func mustImage(t *testing.T, name string, arch config.Arch) string {
	t.Helper()
	img, ok := manifests.Versions()[name]
	require.True(t, ok, name)
	ref, err := img.Ref(arch)
	require.NoError(t, err)
	return ref
}

func TestHostNetworkNeedsItsPortsFree(t *testing.T) {
	cfg := config.Defaults(config.ProfileEdge)
	cfg.HostNetwork = true
	in := &installer.Installer{DataDir: t.TempDir(), State: installer.StateDir{Path: filepath.Join(t.TempDir(), "s")}}
	p, err := in.Plan(context.Background(), cfg, installer.PlanOptions{})
	if err != nil {
		t.Fatalf("with the ports free the plan is made (is something on this machine holding 8123, 1883, 1880 or 6052?): %v", err)
	}
	var hostPorts []int
	for _, port := range p.Ports {
		if port.Reach == "host" {
			hostPorts = append(hostPorts, port.Port)
		}
	}
	require.Contains(t, hostPorts, 8123, "Home Assistant binds 8123 on the host")
	l, err := net.Listen("tcp", "127.0.0.1:8123") // loopback only; the check binds every address
	require.NoError(t, err)
	defer l.Close()
	_, err = in.Plan(context.Background(), cfg, installer.PlanOptions{})
	require.ErrorIs(t, err, installer.ErrPreflight)
	assert.Contains(t, err.Error(), "8123 (home-assistant")
	assert.Contains(t, err.Error(), "host-network: false")
}
