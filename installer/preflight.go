package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
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
		case "k3s", "k3s-api", "node-port", "disk":
			continue // decided below, from the API and the data dir itself
		case "root":
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
			"\n    fix: run again with --install-k3s, or install it first: curl -sfL https://get.k3s.io | sh -")
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

// InstallK3s downloads the official k3s installer from url and runs it
// with sh, passing INSTALL_K3S_* and K3S_* variables through from environ.
// Its output goes to out.
func InstallK3s(ctx context.Context, url string, environ []string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("k3s installer URL %q: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("download the k3s installer from %s: %w (check the network, or install k3s yourself)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download the k3s installer from %s: %s", url, resp.Status)
	}
	script, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("download the k3s installer: %w", err)
	}
	cmd := exec.CommandContext(ctx, "sh", "-s", "-")
	cmd.Stdin = strings.NewReader(string(script))
	cmd.Stdout, cmd.Stderr = out, out
	env := []string{"PATH=" + os.Getenv("PATH")}
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
