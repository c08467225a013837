package backup

import "syscall"

// childAttr makes a child process die with tarsctl: a backup killed with
// SIGKILL must not leave pg_dump or a scratch server running.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
