package daemons

import (
	"slices"
	"testing"

	"github.com/tars-ops/tarsctl/internal/services"
)

// TestNamesFollowTheCatalog: every runnable daemon is in the service
// catalog, listed in its dependency order.
func TestNamesFollowTheCatalog(t *testing.T) {
	t.Parallel()
	names := Names()
	if len(names) != len(runs) {
		t.Fatalf("Names() = %v, but %d daemons can run: one is missing from the service catalog", names, len(runs))
	}
	catalog := services.Names()
	for i, n := range names {
		if _, ok := Lookup(n); !ok {
			t.Errorf("Lookup(%q) failed", n)
		}
		if i > 0 && slices.Index(catalog, names[i-1]) > slices.Index(catalog, n) {
			t.Errorf("%v is not in the catalog's order %v", names, catalog)
		}
	}
	if _, ok := Lookup("no-such-daemon"); ok {
		t.Error("Lookup of an unknown daemon succeeded")
	}
}
