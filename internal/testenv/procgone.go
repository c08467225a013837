//go:build unix

package testenv

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// WaitProcessGone waits up to timeout for process pid to be gone and
// reports whether it is. A killed process does not vanish when kill(2)
// returns: it runs on until the kernel delivers the signal, then lingers
// as a zombie until its parent (or init) reaps it; on a busy machine
// either can take a while. A zombie runs no code and holds no port, so it
// counts as gone. Poll with this instead of checking once.
func WaitProcessGone(t testing.TB, pid int, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if processGone(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-t.Context().Done():
			return processGone(pid)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// processGone reports whether pid no longer runs: no such process, or a
// zombie (state Z in /proc/PID/stat where /proc exists).
func processGone(pid int) bool {
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 0 {
				return f[0] == "Z" || f[0] == "X"
			}
		}
	}
	// No /proc entry (or no /proc): ask the kernel.
	return syscall.Kill(pid, 0) == syscall.ESRCH
}
