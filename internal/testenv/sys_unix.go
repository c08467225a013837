//go:build unix

package testenv

import (
	"os"
	"syscall"
)

// sysProcAttr puts a server in its own process group, so that killing it
// takes its children (postgres backends) along and a terminal's Ctrl-C
// reaches the test binary rather than the server, and runs it as as when
// as is set.
func sysProcAttr(as *runAs) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if as != nil {
		// Groups is empty, so the child drops root's supplementary groups.
		attr.Credential = &syscall.Credential{Uid: uint32(as.uid), Gid: uint32(as.gid)}
	}
	setPdeathsig(attr)
	return attr
}

// killGroup sends SIGKILL to p's process group (see [sysProcAttr]).
func killGroup(p *os.Process) {
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil {
		_ = p.Kill()
	}
}

// lockFile takes an exclusive advisory lock on f, waiting for it. The kernel
// releases it when the process exits, so a crashed test binary cannot leave a
// stale lock behind.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

// unlockFile releases the lock taken by [lockFile].
func unlockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// tryLockFile takes an exclusive advisory lock on f without waiting; it
// returns errLocked if another open file holds it.
func tryLockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch err {
		case nil:
			return nil
		case syscall.EWOULDBLOCK:
			return errLocked
		case syscall.EINTR:
			continue
		default:
			return err
		}
	}
}
