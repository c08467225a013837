package daemons

import (
	"context"
	"slices"
	"testing"

	"github.com/tars-ops/tarsctl/internal/services"
)

// TestEveryCatalogEntryRuns: the table and the service catalog hold the
// same daemons (internal/cli/serve's TestEveryEntryIsImplemented shows the
// check failing on planted entries).
func TestEveryCatalogEntryRuns(t *testing.T) {
	names := slices.Sorted(slices.Values(services.Names()))
	if impl := Implemented(); !slices.Equal(impl, names) {
		t.Fatalf("implemented %v, catalog %v", impl, names)
	}
	for _, n := range names {
		if _, ok := Lookup(n); !ok {
			t.Errorf("Lookup(%q) failed", n)
		}
	}
	if _, ok := Lookup("no-such-daemon"); ok {
		t.Error("Lookup of an unknown daemon succeeded")
	}
}

func TestTestOnlyRegister(t *testing.T) {
	run := func(context.Context, Options) error { return nil }
	t.Run("registered", func(t *testing.T) {
		TestOnlyRegister(t, "synthetic", run)
		if _, ok := Lookup("synthetic"); !ok || !slices.Contains(Implemented(), "synthetic") {
			t.Error("registered daemon not found")
		}
	})
	if _, ok := Lookup("synthetic"); ok {
		t.Error("registration outlived its test")
	}
}
