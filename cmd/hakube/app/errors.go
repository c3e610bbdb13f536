package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
)

// Exit codes, documented in 'hakube --help'. exitCode is the one place
// that decides them, from the type of the error.
const (
	ExitOK        = 0
	ExitError     = 1 // anything else that went wrong, or interrupted
	ExitUsage     = 2 // bad flags, flags file, environment or input file
	ExitPreflight = 3 // refused before changing anything: host not ready, k3s missing, another run busy
	ExitRejected  = 4 // k3s rejected a manifest, or a workload failed
	ExitTimeout   = 5 // gave up waiting (--timeout)
)

// usageError is a mistake in how hakube was called.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef makes a usageError.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// asUsage marks err (from flag parsing or argument checks) as a usage error.
func asUsage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err}
}

// errNotHealthy is status's answer when not everything is Ready.
var errNotHealthy = errors.New("not everything is applied and Ready (see above)")

// errCancelled says the user declined; nothing was changed.
var errCancelled = errors.New("cancelled: nothing was changed")

func exitCode(err error) int {
	var ue *usageError
	var ce *config.Error
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue), errors.As(err, &ce), errors.Is(err, installer.ErrNothingInstalled), errors.Is(err, installer.ErrBadInput):
		return ExitUsage
	case errors.Is(err, installer.ErrPreflight), errors.Is(err, installer.ErrBusy), errors.Is(err, installer.ErrCredentialsMissing):
		return ExitPreflight
	case errors.Is(err, installer.ErrRejected):
		return ExitRejected
	case errors.Is(err, installer.ErrTimeout):
		return ExitTimeout
	}
	return ExitError
}

// describe turns an interruption into what it means for the user.
func describe(err error) error {
	if errors.Is(err, context.Canceled) && !errors.Is(err, installer.ErrTimeout) {
		return fmt.Errorf("interrupted: the files written so far are complete and k3s carries on applying them; run the same command again to continue")
	}
	return err
}
