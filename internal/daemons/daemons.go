// Package daemons is the table of the service daemons this tarsctl can
// run: each catalog name (internal/services) and the function that runs it.
// `tarsctl serve` runs one; what lists the daemons reads the catalog. It is the only
// package that imports every service package (a service never imports
// another), and it knows nothing of commands.
package daemons

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/services/dashboardapi"
	"github.com/tars-ops/tarsctl/internal/services/hypersync"
	"github.com/tars-ops/tarsctl/internal/services/orchestrator"
)

// Options are what every daemon gets.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	Getenv func(string) string
	// Reconfig loads the configuration again, for a reload on SIGHUP; nil:
	// the daemon does not reload.
	Reconfig func() (*config.Config, error)
}

// Run runs one daemon until ctx is cancelled.
type Run func(ctx context.Context, opts Options) error

// mu guards runs, which only TestOnlyRegister changes.
var mu sync.RWMutex

var runs = map[string]Run{
	dashboardapi.Service: func(ctx context.Context, o Options) error {
		return dashboardapi.Run(ctx, dashboardapi.RunOptions{Config: o.Config, Version: build.Info().Version, Getenv: o.Getenv, Logger: o.Logger})
	},
	orchestrator.Service: func(ctx context.Context, o Options) error {
		return orchestrator.Run(ctx, orchestrator.RunOptions{Config: o.Config, Version: build.Info().Version, Getenv: o.Getenv, Logger: o.Logger,
			Reconfig: o.Reconfig})
	},
	hypersync.Service: func(ctx context.Context, o Options) error {
		return hypersync.Run(ctx, hypersync.RunOptions{Config: o.Config, Version: build.Info().Version, Getenv: o.Getenv, Logger: o.Logger})
	},
}

// Lookup returns the run function of the daemon name (a catalog name,
// not an alias).
func Lookup(name string) (Run, bool) {
	mu.RLock()
	defer mu.RUnlock()
	r, ok := runs[name]
	return r, ok
}

// Implemented lists the names this table can run, sorted. Every entry of
// the service catalog must be among them, and nothing else: a test of
// this package checks both ways.
func Implemented() []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Sorted(maps.Keys(runs))
}

// TestOnlyRegister makes name runnable until t ends, for a test that adds
// a synthetic entry to the service catalog ([services.TestOnlyRegister])
// and starts it as a real daemon. It fails t when name is already in the
// table.
func TestOnlyRegister(t services.TB, name string, run Run) {
	t.Helper()
	mu.Lock()
	if _, ok := runs[name]; ok {
		mu.Unlock()
		t.Fatalf("register daemon %s: already in the table", name)
		return
	}
	runs[name] = run
	mu.Unlock()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		delete(runs, name)
	})
}
