//go:build unix

package auth

import (
	"os"
	"syscall"
)

// LockPrevious takes the exclusive lock that guards the previous-secrets
// file of the JWT secret file secretPath (secretPath.lock, 0600), waiting
// for it, and returns its release.
func LockPrevious(secretPath string) (func(), error) {
	f, err := os.OpenFile(secretPath+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
