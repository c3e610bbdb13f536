package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/pflag"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
)

// Session is one run of hakube against one host: where k3s keeps its data,
// hakube's state directory, the kubeconfig, the root the hardware is read
// under, the process environment and where progress goes. The commands and
// the wizard drive an install through it: Prepare (detect, connect,
// preflight, k3s), Load (settings), then an Installer's Plan and Apply.
type Session struct {
	DataDir    string
	State      StateDir
	Kubeconfig string // resolved (ResolveKubeconfig)
	Root       string // hardware root, "/" on a real host
	Environ    []string
	Report     Reporter
	// K3sOut receives the k3s installer's own output.
	K3sOut io.Writer
}

// Host is what Prepare learned about the host.
type Host struct {
	Hardware *hwdetect.Report
	State    HostState
	// Clients is nil when k3s is installed but its API does not answer:
	// the manifests then apply when it starts.
	Clients *Clients
}

// PrepareOptions say what Prepare may do about a missing k3s.
type PrepareOptions struct {
	// InstallK3s installs k3s from K3s when it is missing.
	InstallK3s bool
	K3s        K3sSource
}

// Prepare detects the hardware, connects to k3s and checks the host; it
// installs k3s first when asked and it is missing. It writes nothing else.
func (s *Session) Prepare(ctx context.Context, o PrepareOptions) (*Host, error) {
	h := &Host{}
	var err error
	if h.Hardware, err = hwdetect.Detect(s.Root); err != nil {
		return nil, fmt.Errorf("%w: detect the hardware under %s: %w", ErrBadInput, s.Root, err)
	}
	clients, apiErr := s.Connect(ctx)
	h.State, err = Preflight(h.Hardware, s.DataDir, apiErr)
	if err != nil && errors.Is(err, ErrK3sNotFound) && o.InstallK3s {
		s.Report.emit(LevelInfo, PhaseK3s, "", "installing k3s "+o.K3s.Version+" from "+o.K3s.URL, "")
		if err := InstallK3s(ctx, o.K3s, s.Environ, s.k3sOut()); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrPreflight, err)
		}
		if h.Hardware, err = hwdetect.Detect(s.Root); err != nil {
			return nil, fmt.Errorf("%w: detect the hardware: %w", ErrPreflight, err)
		}
		clients, apiErr = s.Connect(ctx)
		h.State, err = Preflight(h.Hardware, s.DataDir, apiErr)
	}
	if err != nil {
		return nil, err
	}
	if h.State.K3sRunning {
		h.Clients = clients
	}
	return h, nil
}

func (s *Session) k3sOut() io.Writer {
	if s.K3sOut == nil {
		return io.Discard
	}
	return s.K3sOut
}

// Connect reaches k3s's API server through the session's kubeconfig.
func (s *Session) Connect(ctx context.Context) (*Clients, error) {
	if _, err := os.Stat(s.Kubeconfig); err != nil {
		return nil, fmt.Errorf("no kubeconfig at %s", s.Kubeconfig)
	}
	c, err := NewClients(s.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if err := c.Reachable(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// MustConnect connects or says what to do, as ErrPreflight.
func (s *Session) MustConnect(ctx context.Context) (*Clients, error) {
	c, err := s.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot reach k3s's API server (%s): is k3s running? ('systemctl status k3s'), or pass --kubeconfig", ErrPreflight, shortErr(err))
	}
	return c, nil
}

// LoadOptions are the layers of one run's settings.
type LoadOptions struct {
	// File is the flags file; without one, the configuration saved by the
	// last install is the base (else the profile defaults).
	File string
	// Answers are the wizard's answers.
	Answers config.Settings
	// Flags are the command line.
	Flags *pflag.FlagSet
	// Hardware adjusts the defaults when there is no saved configuration.
	Hardware *hwdetect.Report
	// Unattended: an ambiguity (two radios) is an error, not a question.
	Unattended bool
	// RequireSaved fails when nothing was installed (upgrade).
	RequireSaved bool
}

// ErrNothingInstalled says there is no saved configuration to start from.
var ErrNothingInstalled = errors.New("nothing is installed")

// Load merges the run's settings: the saved configuration (or the profile
// defaults adjusted to the hardware), the flags file, the answers, HAKUBE_*
// variables and flags. A *config.Error lists every problem.
func (s *Session) Load(o LoadOptions) (config.Result, error) {
	src := config.Sources{File: o.File, Answers: o.Answers, Environ: s.Environ, Flags: o.Flags}
	if o.Hardware != nil {
		src.Adjust = config.FromHardware(o.Hardware, o.Unattended)
	}
	if o.File == "" || o.RequireSaved {
		saved, err := s.State.SavedConfig()
		switch {
		case err == nil:
			src.Base = &saved
		case errors.Is(err, fs.ErrNotExist) && o.RequireSaved:
			return config.Result{}, fmt.Errorf("%w: no saved configuration in %s; run 'hakube install' first", ErrNothingInstalled, s.State.Path)
		case !errors.Is(err, fs.ErrNotExist):
			return config.Result{}, err
		}
	}
	return config.Load(src)
}

// Installer returns an installer for this session on host h (nil: no
// cluster).
func (s *Session) Installer(c *Clients) *Installer {
	return &Installer{DataDir: s.DataDir, State: s.State, Clients: c, Report: s.Report}
}
