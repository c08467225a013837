package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var buildTarsctl = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tarsctl-test-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tarsctl")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/tars-ops/tarsctl/cmd/tarsctl").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build tarsctl: %v\n%s", err, out)
	}
	registerShared(func() error { return os.RemoveAll(dir) })
	return bin, nil
})

// Tarsctl builds the real tarsctl binary once per test binary and returns
// its path, for tests that run it as a separate process (start, stop,
// signals, exit codes). [Main] removes it when the tests end, so the
// package needs `func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }`.
func Tarsctl(t testing.TB) string {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatal("testenv.Tarsctl needs TestMain to call testenv.Main: add `func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }`")
	}
	bin, err := buildTarsctl()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
