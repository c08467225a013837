//go:build !unix

package testenv

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// The servers are started only on Unix; elsewhere the package builds, and
// starting a server fails the test with this error.
var errUnsupported = errors.New("testenv servers are not supported on " + runtime.GOOS)

func sysProcAttr(*runAs) *syscall.SysProcAttr { return nil }

func killGroup(p *os.Process) { _ = p.Kill() }

func lockFile(*os.File) error { return errUnsupported }

func unlockFile(*os.File) error { return nil }

func startCmd(*exec.Cmd) error { return errUnsupported }

func memTempDir() string { return "" }

func tryLockFile(*os.File) error { return errUnsupported }
