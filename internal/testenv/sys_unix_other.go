//go:build unix && !linux

package testenv

import (
	"os/exec"
	"syscall"
)

// setPdeathsig does nothing: only Linux can kill a child when its parent
// dies, so elsewhere a killed test binary may leave its servers running.
func setPdeathsig(*syscall.SysProcAttr) {}

// startCmd starts cmd.
func startCmd(cmd *exec.Cmd) error {
	return cmd.Start()
}

// memTempDir returns "": only Linux looks for a memory file system.
func memTempDir() string { return "" }
