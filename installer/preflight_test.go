package installer_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/installer"
)

func okReport() *hwdetect.Report {
	return &hwdetect.Report{
		Arch: "arm64",
		K3s:  hwdetect.K3s{Binary: "/usr/local/bin/k3s"},
		Checks: []hwdetect.Check{
			{ID: "root", Title: "running as root", Status: hwdetect.StatusOK},
			{ID: "memory-cgroup", Title: "memory cgroup", Status: hwdetect.StatusOK},
		},
	}
}

func TestPreflightPasses(t *testing.T) {
	st, err := installer.Preflight(okReport(), t.TempDir(), nil)
	require.NoError(t, err)
	assert.True(t, st.K3sRunning)
}

func TestPreflightK3sInstalledNotRunning(t *testing.T) {
	st, err := installer.Preflight(okReport(), t.TempDir(), errors.New("connection refused"))
	require.NoError(t, err, "files can be written; they apply when k3s starts")
	assert.False(t, st.K3sRunning)
	assert.True(t, st.K3sInstalled)
}

func TestPreflightReportsEveryProblem(t *testing.T) {
	r := okReport()
	r.K3s.Binary = ""
	r.Checks = []hwdetect.Check{
		{ID: "root", Title: "running as root", Status: hwdetect.StatusProblem, Detail: "uid 1000", Fix: "run with sudo"},
		{ID: "memory-cgroup", Title: "memory cgroup", Status: hwdetect.StatusProblem, Detail: "disabled",
			Fix: "append cgroup_memory=1 cgroup_enable=memory to /boot/firmware/cmdline.txt and reboot"},
	}
	r.Disk = hwdetect.Disk{Path: "/var/lib/rancher/k3s", FreeBytes: 512 << 20, Checked: true}
	_, err := installer.Preflight(r, t.TempDir(), errors.New("connection refused"))
	require.Error(t, err)
	assert.ErrorIs(t, err, installer.ErrPreflight)
	assert.ErrorIs(t, err, installer.ErrNotRoot)
	assert.ErrorIs(t, err, installer.ErrK3sNotFound)
	msg := err.Error()
	for _, want := range []string{"run with sudo", "cgroup_memory=1 cgroup_enable=memory", "--install-k3s", "512 MiB free"} {
		assert.Contains(t, msg, want)
	}
}

func TestPreflightDataDirNotWritable(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "server")
	require.NoError(t, os.WriteFile(blocker, []byte("a file where a directory must be"), 0o644))
	_, err := installer.Preflight(okReport(), dir, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot write k3s's manifests directory")
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 1, "preflight leaves nothing behind")
}

func TestInstallK3sRunsTheInstallerWithItsVariables(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ran")
	script := "#!/bin/sh\nset -eu\nprintf '%s|%s|%s\\n' \"${INSTALL_K3S_VERSION:-}\" \"${INSTALL_K3S_EXEC:-}\" \"${SECRET_OTHER:-unset}\" > " + out + "\n"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/k3s.sh" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(script))
	}))
	defer srv.Close()
	src := installer.K3sSource{URL: srv.URL + "/k3s.sh", Version: installer.K3sVersion, Client: srv.Client()}
	var log bytes.Buffer
	env := []string{"INSTALL_K3S_EXEC=--disable=traefik", "SECRET_OTHER=x", "PATH=" + os.Getenv("PATH")}
	require.NoError(t, installer.InstallK3s(context.Background(), src, env, &log))
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, installer.K3sVersion+"|--disable=traefik|unset\n", string(got), "pinned version, INSTALL_K3S_* pass through, nothing else")

	env = append(env, "INSTALL_K3S_VERSION=v1.37.2+k3s1")
	require.NoError(t, installer.InstallK3s(context.Background(), src, env, &log))
	got, err = os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "v1.37.2+k3s1|--disable=traefik|unset\n", string(got), "the user's INSTALL_K3S_VERSION wins")

	src.URL = srv.URL + "/missing"
	err = installer.InstallK3s(context.Background(), src, env, &log)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "404"), err.Error())
}

func TestInstallK3sRefusesPlainHTTP(t *testing.T) {
	ran := filepath.Join(t.TempDir(), "ran")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("#!/bin/sh\ntouch " + ran + "\n"))
	}))
	defer srv.Close()
	var log bytes.Buffer
	err := installer.InstallK3s(context.Background(), installer.K3sSource{URL: srv.URL + "/k3s.sh"}, nil, &log)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "only https://")
	assert.NoFileExists(t, ran)

	// An https server that redirects to plain http is refused too.
	tls := httptest.NewTLSServer(http.RedirectHandler(srv.URL+"/k3s.sh", http.StatusFound))
	defer tls.Close()
	err = installer.InstallK3s(context.Background(), installer.K3sSource{URL: tls.URL, Client: tls.Client()}, nil, &log)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "https only")
	assert.NoFileExists(t, ran)
}

func TestLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	unlock, err := installer.StateDir{Path: dir}.Lock()
	require.NoError(t, err)
	_, err = installer.StateDir{Path: dir}.Lock()
	require.ErrorIs(t, err, installer.ErrBusy)
	unlock()
	unlock2, err := installer.StateDir{Path: dir}.Lock()
	require.NoError(t, err, "the lock is free again once released")
	unlock2()
}
