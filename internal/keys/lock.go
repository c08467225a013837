package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// LockReplace is the protocol that keeps a live writer and a key rotation
// from undoing each other's work on the same file. A writer that replaces
// a file by renaming a complete new version over it calls LockReplace just
// before the rename and unlock just after: it takes an exclusive advisory
// lock (flock) on the file being replaced. The rotation holds the same
// lock on the file it re-encrypts from open to rename, and renames only if
// the file is still the one it read. So a rotation never renames a stale
// copy over a newer write, and a writer's newer version always wins.
//
// A missing file needs no lock: unlock is then a no-op.
func LockReplace(path string) (unlock func(), err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock %w", err)
	}
	if err := flock(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Unlock before closing: a child forked meanwhile shares the open file
	// until it execs, and would hold the lock that long.
	return func() {
		funlock(f)
		_ = f.Close()
	}, nil
}

func funlock(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
