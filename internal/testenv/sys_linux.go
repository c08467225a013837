//go:build linux

package testenv

import (
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// setPdeathsig asks the kernel to SIGKILL the server when its parent dies, so
// a test binary that is killed (a -timeout panic, SIGKILL) leaves no server
// behind. The kernel applies it after the credential change, which would
// otherwise clear it.
func setPdeathsig(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce sync.Once
	spawnReqs chan spawnRequest
)

// startCmd starts cmd from one goroutine locked to its OS thread for the life
// of the test binary. Pdeathsig fires when the thread that forked the child
// exits, not the process (go.dev/issue/27505), and the Go runtime may end a
// thread, for instance when a goroutine that called runtime.LockOSThread
// returns without unlocking. A thread that never exits makes Pdeathsig mean
// "the test binary died".
func startCmd(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnRequest)
		go func() {
			// Never unlocked: this thread must outlive every server.
			runtime.LockOSThread()
			for req := range spawnReqs {
				req.done <- req.cmd.Start()
			}
		}()
	})
	req := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	spawnReqs <- req
	return <-req.done
}

const (
	// tmpfsMagic is the file system type of tmpfs in statfs(2).
	tmpfsMagic = 0x01021994
	// minMemTempBytes is how much room memTempDir wants: Docker's default
	// 64 MB /dev/shm is too small to be worth the risk of filling it.
	minMemTempBytes = 1 << 30
)

// memTempDir returns /dev/shm if it is a tmpfs with at least minMemTempBytes
// free that everyone may create files in, like /tmp, or else "".
func memTempDir() string {
	const dir = "/dev/shm"
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Type != tmpfsMagic {
		return ""
	}
	if uint64(st.Bavail)*uint64(st.Bsize) < minMemTempBytes {
		return ""
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm()&0o003 != 0o003 {
		return ""
	}
	return dir
}
