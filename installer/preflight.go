package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hakube/hakube/hwdetect"
)

// Named preflight failures a caller may branch on.
var (
	ErrNotRoot     = errors.New("not running as root")
	ErrK3sNotFound = errors.New("k3s is not installed")
)

// MinFreeBytes is the free disk the stack needs under the k3s data dir:
// images alone take about 2 GiB.
const MinFreeBytes = 3 << 30

// HostState is what preflight learned.
type HostState struct {
	// K3sRunning is true when the API answered through the kubeconfig.
	K3sRunning bool
	// K3sInstalled is true when the k3s binary exists (running or not).
	K3sInstalled bool
}

// Preflight checks the host before anything is written and returns every
// problem at once, wrapped in ErrPreflight (and ErrNotRoot or
// ErrK3sNotFound where those apply). apiErr is the result of reaching the
// API server (nil: reachable).
func Preflight(r *hwdetect.Report, dataDir string, apiErr error) (HostState, error) {
	st := HostState{K3sRunning: apiErr == nil, K3sInstalled: apiErr == nil || r.K3s.Binary != ""}
	var problems []string
	var named []error
	for _, c := range r.Checks {
		if c.Status != hwdetect.StatusProblem {
			continue
		}
		switch c.ID {
		case hwdetect.CheckK3s, hwdetect.CheckK3sAPI, hwdetect.CheckNodePort, hwdetect.CheckDisk:
			continue // decided below, from the API and the data dir itself
		case hwdetect.CheckRoot:
			named = append(named, ErrNotRoot)
		}
		msg := c.Title + ": " + c.Detail
		if c.Fix != "" {
			msg += "\n    fix: " + c.Fix
		}
		problems = append(problems, msg)
	}
	if !st.K3sInstalled {
		named = append(named, ErrK3sNotFound)
		problems = append(problems, "k3s: not installed and no API server answers ("+shortErr(apiErr)+")"+
			"\n    fix: run again with --install-k3s (or install-k3s: true in the flags file) to install k3s "+K3sVersion+", or install it yourself: curl -sfL https://get.k3s.io | sh -")
	}
	if err := probeWritable(ManifestsDir(dataDir)); err != nil {
		problems = append(problems, "data dir: cannot write k3s's manifests directory: "+err.Error()+
			"\n    fix: run as root, check --data-dir (k3s's data-dir), or remount the disk read-write")
	}
	if r.Disk.Checked && r.Disk.FreeBytes > 0 && r.Disk.FreeBytes < MinFreeBytes {
		problems = append(problems, fmt.Sprintf("disk: only %d MiB free under %s; the stack needs about %d MiB for images and data",
			r.Disk.FreeBytes>>20, r.Disk.Path, MinFreeBytes>>20)+"\n    fix: free some space, or move k3s's data-dir to a bigger disk")
	}
	if len(problems) == 0 {
		return st, nil
	}
	return st, &preflightError{problems: problems, named: named}
}

// preflightError lists every problem; errors.Is finds ErrPreflight and the
// named errors that apply.
type preflightError struct {
	problems []string
	named    []error
}

func (e *preflightError) Error() string {
	return ErrPreflight.Error() + ":\n  " + strings.Join(e.problems, "\n  ")
}

func (e *preflightError) Unwrap() []error { return append([]error{ErrPreflight}, e.named...) }

// probeWritable checks that dir, or the nearest parent that exists, takes
// a new file, and leaves nothing behind: preflight creates no directory.
func probeWritable(dir string) error {
	for {
		fi, err := os.Stat(dir)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", dir)
			}
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return describeWriteErr(err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return err
		}
		dir = parent
	}
	f, err := os.CreateTemp(dir, ".hakube-probe-*")
	if err != nil {
		return describeWriteErr(err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// K3sInstallURL is the official k3s install script.
const K3sInstallURL = "https://get.k3s.io"

// K3sVersion is the k3s release hakube installs when asked to: Kubernetes
// 1.37, the minor release its manifests are tested against
// (scripts/testenv).
const K3sVersion = "v1.37.0+k3s1"

// K3sSource is where k3s's installer comes from and which release it installs.
type K3sSource struct {
	URL     string // https only
	Version string // INSTALL_K3S_VERSION
	// Client fetches the script; http.DefaultClient when nil (tests pass one
	// that trusts their own server).
	Client *http.Client
}

// DefaultK3s is the official installer with the pinned release.
func DefaultK3s() K3sSource { return K3sSource{URL: K3sInstallURL, Version: K3sVersion} }

// InstallK3s downloads k3s's installer over https and runs it with sh,
// pinned to src.Version, passing INSTALL_K3S_* and K3S_* variables through
// from environ (an INSTALL_K3S_VERSION there wins). Its output goes to out.
func InstallK3s(ctx context.Context, src K3sSource, environ []string, out io.Writer) error {
	u, err := url.Parse(src.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("k3s installer URL %q: only https:// URLs are allowed (the script runs as root)", src.URL)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil {
		return fmt.Errorf("k3s installer URL %q: %w", src.URL, err)
	}
	client := src.Client
	if client == nil {
		client = http.DefaultClient
	}
	// Never follow a redirect away from https.
	c := *client
	c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if r.URL.Scheme != "https" {
			return fmt.Errorf("redirect to %s refused: https only", r.URL.Redacted())
		}
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		return nil
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("download the k3s installer from %s: %w (check the network, or install k3s yourself)", src.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download the k3s installer from %s: %s", src.URL, resp.Status)
	}
	script, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("download the k3s installer: %w", err)
	}
	cmd := exec.CommandContext(ctx, "sh", "-s", "-")
	cmd.Stdin = strings.NewReader(string(script))
	cmd.Stdout, cmd.Stderr = out, out
	env := []string{"PATH=" + os.Getenv("PATH")}
	if src.Version != "" {
		env = append(env, "INSTALL_K3S_VERSION="+src.Version)
	}
	for _, kv := range environ {
		if strings.HasPrefix(kv, "INSTALL_K3S_") || strings.HasPrefix(kv, "K3S_") || strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("the k3s installer failed: %w (its output is above)", err)
	}
	return nil
}
