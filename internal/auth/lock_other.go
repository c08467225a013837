//go:build !unix

package auth

// LockPrevious does nothing where flock is missing.
func LockPrevious(string) (func(), error) { return func() {}, nil }
