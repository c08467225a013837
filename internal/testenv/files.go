package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// PrivateCopy copies a committed test key to a 0600 file in a temporary
// directory and returns its path. Git stores files 0644, and tarsctl
// rightly warns about private keys others can read.
func PrivateCopy(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read test key: %v", err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatalf("copy test key: %v", err)
	}
	return dst
}
