package daemons

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/services"
)

// checkImplementations reports the catalog entries without an
// implementation and the implementations without an entry.
func checkImplementations(names, impls []string) error {
	var problems []string
	for _, n := range names {
		if !slices.Contains(impls, n) {
			problems = append(problems, n+" is in the service catalog but has no implementation in internal/daemons")
		}
	}
	for _, n := range impls {
		if !slices.Contains(names, n) {
			problems = append(problems, n+" is implemented in internal/daemons but not in the service catalog")
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// Every daemon of the catalog has an implementation, and every
// implementation is a daemon of the catalog. The subtests plant a
// violation each way. Not parallel: they change the process's catalog and
// table.
func TestEveryEntryIsImplemented(t *testing.T) {
	if err := checkImplementations(services.Names(), Implemented()); err != nil {
		t.Fatal(err)
	}
	for _, n := range services.Names() {
		if _, ok := Lookup(n); !ok {
			t.Errorf("Lookup(%q) failed", n)
		}
	}
	if _, ok := Lookup("no-such-daemon"); ok {
		t.Error("Lookup of an unknown daemon succeeded")
	}
	t.Run("planted entry without implementation", func(t *testing.T) {
		services.TestOnlyRegister(t, services.Entry{Name: "synthetic-daemon", APIPort: 18971, Kind: services.Deployment})
		err := checkImplementations(services.Names(), Implemented())
		if err == nil || !strings.Contains(err.Error(), "synthetic-daemon is in the service catalog but has no implementation") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("planted implementation without entry", func(t *testing.T) {
		TestOnlyRegister(t, "retired-daemon", func(context.Context, Options) error { return nil })
		err := checkImplementations(services.Names(), Implemented())
		if err == nil || !strings.Contains(err.Error(), "retired-daemon is implemented") {
			t.Fatalf("err = %v", err)
		}
	})
	if _, ok := Lookup("retired-daemon"); ok {
		t.Error("a test-only registration outlived its test")
	}
}
