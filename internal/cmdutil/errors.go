package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"

	"github.com/tars-ops/tarsctl/internal/config"
)

// FlagError is a usage error: a bad flag, argument or flag combination.
// The app prints it with the command's usage line and exits 2.
type FlagError struct{ err error }

func (e *FlagError) Error() string { return e.err.Error() }
func (e *FlagError) Unwrap() error { return e.err }

// FlagErrorf returns a [*FlagError] formatted like fmt.Errorf.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{err: fmt.Errorf(format, args...)}
}

// FlagErrorWrap marks err as a usage error.
func FlagErrorWrap(err error) error {
	if err == nil {
		return nil
	}
	return &FlagError{err: err}
}

// ErrSilent makes the app exit 1 without printing anything, for commands
// that have already reported the problem (a failed check table, say).
var ErrSilent = errors.New("silent error")

// ExitError carries an explicit exit code with its cause.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// WithExitCode attaches an exit code to err. A nil err stays nil.
func WithExitCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// Unreachable marks err as "a dependency could not be reached" (exit 3).
func Unreachable(err error) error { return WithExitCode(ExitUnreachable, err) }

// PermissionDenied marks err as "credentials or permission denied" (exit 4).
func PermissionDenied(err error) error { return WithExitCode(ExitPermission, err) }

// Timeout marks err as "timed out" (exit 6).
func Timeout(err error) error { return WithExitCode(ExitTimeout, err) }

// Failed marks err as "the operation failed or found a problem" (exit 1).
func Failed(err error) error { return WithExitCode(ExitFailure, err) }

// HintError is an error with advice for the user: what to do next.
type HintError struct {
	Err   error
	Hints []string
}

func (e *HintError) Error() string { return e.Err.Error() }
func (e *HintError) Unwrap() error { return e.Err }

// WithHint attaches one or more hints to err; the app prints each on its own
// "hint:" line after the error. A nil err stays nil.
func WithHint(err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &HintError{Err: err, Hints: hints}
}

// Hints collects every hint attached anywhere in err's chain, outermost first.
func Hints(err error) []string {
	var out []string
	for err != nil {
		if h, ok := err.(*HintError); ok {
			out = append(out, h.Hints...)
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				out = append(out, Hints(e)...)
			}
			return out
		}
		err = errors.Unwrap(err)
	}
	return out
}

// ExitCode maps an error returned by a command to tarsctl's exit code.
func ExitCode(err error) int {
	var (
		exitErr *ExitError
		flagErr *FlagError
		cfgErr  *config.ValidationError
		netErr  *net.OpError
		dnsErr  *net.DNSError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &exitErr):
		return exitErr.Code
	case errors.Is(err, ErrSilent):
		return ExitFailure
	case errors.As(err, &flagErr), errors.As(err, &cfgErr):
		return ExitUsage
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ExitTimeout
	case errors.Is(err, fs.ErrPermission):
		return ExitPermission
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &dnsErr), errors.As(err, &netErr) && netErr.Op == "dial":
		return ExitUnreachable
	default:
		return ExitFailure
	}
}
