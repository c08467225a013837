package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// ownerLockName is the file in each server's temporary directory that the
// test binary keeps locked while the directory is in use.
const ownerLockName = ".tarsctl-testenv.lock"

// tempDir is a server's temporary directory. It holds a lock on a file in it
// for as long as it exists, so that a later test binary can tell it from the
// leftovers of one that was killed before its cleanup ran: the kernel drops
// the lock when its holder dies, and [sweepTempDirs] removes directories
// whose lock it can take. Leftovers matter most in /dev/shm, where they hold
// memory until the next reboot.
type tempDir struct {
	path string
	lock *os.File
}

// newTempDir creates a directory named prefix+random under base, owned by as
// (or by us if as is nil), and locks it. It first removes leftovers with the
// same prefix.
func newTempDir(base, prefix string, as *runAs) (*tempDir, error) {
	sweepTempDirs(base, prefix)
	path, err := os.MkdirTemp(base, prefix+"*")
	if err != nil {
		return nil, err
	}
	d := &tempDir{path: path}
	if err := d.init(as); err != nil {
		_ = os.RemoveAll(path)
		return nil, err
	}
	return d, nil
}

func (d *tempDir) init(as *runAs) error {
	if as != nil {
		if err := os.Chown(d.path, as.uid, as.gid); err != nil {
			return err
		}
	}
	// Lock under a temporary name and rename: a sweeper must never find the
	// lock file unlocked while we are alive, which it could between our
	// create and flock. The lock stays with the file across the rename.
	tmp := filepath.Join(d.path, ownerLockName+".new")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if err := tryLockFile(f); err != nil {
		f.Close()
		return fmt.Errorf("lock %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(d.path, ownerLockName)); err != nil {
		f.Close()
		return err
	}
	d.lock = f
	return nil
}

// remove deletes the directory and releases its lock.
func (d *tempDir) remove() error {
	err := os.RemoveAll(d.path)
	if d.lock != nil {
		d.lock.Close()
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", d.path, err)
	}
	return nil
}

var swept sync.Map // base+"\x00"+prefix → struct{}

// sweepTempDirs removes, once per test binary for each base and prefix, the
// directories named prefix* under base whose owner lock it can take: their
// test binary died without cleaning up. Directories without a lock file (in
// creation, or not ours) and any it cannot lock or remove are left alone.
func sweepTempDirs(base, prefix string) {
	if _, done := swept.LoadOrStore(base+"\x00"+prefix, struct{}{}); done {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(base, prefix+"*"))
	for _, dir := range dirs {
		f, err := os.Open(filepath.Join(dir, ownerLockName))
		if err != nil {
			continue
		}
		if err := tryLockFile(f); err == nil {
			_ = os.RemoveAll(dir)
		}
		f.Close()
	}
}

// errLocked is returned by tryLockFile when another holder has the lock.
var errLocked = errors.New("locked by another process")
