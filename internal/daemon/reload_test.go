package daemon

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// waitFor polls cond until it holds; the deadline only ends a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Not parallel: it sends SIGHUP to the test process, which the daemon it
// starts catches.
func TestReloadOnSIGHUP(t *testing.T) {
	var calls atomic.Int32
	var state atomic.Value
	state.Store("v1")
	r := start(t, Options{Reload: func(ctx context.Context) error {
		n := calls.Add(1)
		if n == 1 {
			return errors.New("key file /x: invalid key")
		}
		state.Store("v2")
		return nil
	}})
	metric := func(result string) bool {
		_, body := get(t, r.url+"/metrics")
		return strings.Contains(body, `tars_reloads_total{result="`+result+`"} 1`)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed reload", func() bool { return metric("failure") })
	if state.Load() != "v1" {
		t.Fatal("a failed reload changed the state")
	}
	if code, _ := get(t, r.url+"/ready"); code != 200 {
		t.Fatalf("not ready after a failed reload: %d", code)
	}
	if !strings.Contains(r.logs.String(), "Reload failed; still running with the previous configuration") {
		t.Errorf("logs:\n%s", r.logs)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a successful reload", func() bool { return metric("success") })
	if state.Load() != "v2" || !strings.Contains(r.logs.String(), "Reload complete") {
		t.Errorf("state %v, logs:\n%s", state.Load(), r.logs)
	}
}

func TestSIGHUPWithoutReloadIsIgnored(t *testing.T) {
	r := start(t, Options{})
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the SIGHUP log line", func() bool { return strings.Contains(r.logs.String(), "nothing to reload") })
	if code, _ := get(t, r.url+"/ready"); code != 200 {
		t.Fatalf("not ready after SIGHUP: %d", code)
	}
}
