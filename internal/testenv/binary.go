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

var buildTarsctlK8s = sync.OnceValues(func() (string, error) {
	bin, err := buildTarsctl()
	if err != nil {
		return "", err
	}
	companion := filepath.Join(filepath.Dir(bin), "tarsctl-k8s")
	out, err := exec.Command("go", "build", "-o", companion, "github.com/tars-ops/tarsctl/cmd/tarsctl-k8s").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build tarsctl-k8s: %v\n%s", err, out)
	}
	return bin, nil
})

// TarsctlK8s is [Tarsctl] with the tarsctl-k8s companion built next to the
// binary, where tarsctl looks for it: the Kubernetes commands hand over to
// it. It returns tarsctl's path.
func TarsctlK8s(t testing.TB) string {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatal("testenv.TarsctlK8s needs TestMain to call testenv.Main: add `func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }`")
	}
	bin, err := buildTarsctlK8s()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
