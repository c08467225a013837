package testenv

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// mainRunning is set while [Main] runs the tests; the shared servers need it
// because only Main stops them.
var mainRunning atomic.Bool

var (
	sharedMu    sync.Mutex
	sharedStops []func() error
)

// Main runs the package's tests and then stops the servers started by
// [SharedRedis] and [SharedPostgres]. It returns the exit code of m.Run; a
// server that fails to stop cleanly is reported on stderr without changing it.
// A package whose tests use a shared server calls it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	mainRunning.Store(true)
	code := m.Run()
	mainRunning.Store(false)
	for _, err := range stopShared() {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
	}
	return code
}

// registerShared records stop to be called by [Main] after the tests.
func registerShared(stop func() error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	sharedStops = append(sharedStops, stop)
}

// stopShared stops the shared servers, newest first, and returns their
// errors.
func stopShared() []error {
	sharedMu.Lock()
	stops := sharedStops
	sharedStops = nil
	sharedMu.Unlock()
	var errs []error
	for i := len(stops) - 1; i >= 0; i-- {
		if err := stops[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// requireMain fails t unless the tests run under [Main].
func requireMain(t testing.TB, helper string) {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatalf("testenv.%s needs the package's TestMain to stop the shared server: "+
			"add `func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }` to its tests", helper)
	}
}
