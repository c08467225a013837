//go:build linux || darwin || freebsd || netbsd || openbsd

package backup

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

var errWouldBlock = errors.New("lock held by another process")

// flock takes an exclusive flock on f without waiting.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errWouldBlock
		default:
			return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
	}
}

// funlock releases f's flock now. Closing f is not enough: a child forked
// by another goroutine shares the open file until it execs, and the lock
// lives as long as the file is open anywhere.
func funlock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// processAlive reports whether a process with this pid exists on this host.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// terminate asks a child to stop: SIGTERM, as pg_dump and redis-server
// expect; exec.Cmd's WaitDelay kills it if it does not.
func terminate(cmd *exec.Cmd) func() error {
	return func() error { return cmd.Process.Signal(syscall.SIGTERM) }
}
