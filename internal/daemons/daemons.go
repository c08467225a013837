// Package daemons is the table of the service daemons this tarsctl can
// run: each service's name and the function that runs it. `tarsctl serve`
// runs one; start, stop, status and triage list them. It is the only
// package that imports every service package (a service never imports
// another), and it knows nothing of commands.
package daemons

import (
	"context"
	"log/slog"
	"slices"

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

// Lookup returns the run function of the daemon name.
func Lookup(name string) (Run, bool) {
	r, ok := runs[name]
	return r, ok
}

// Names lists the daemons tarsctl can run, in dependency order (the order
// of the service catalog).
func Names() []string {
	return slices.DeleteFunc(services.Names(), func(name string) bool { _, ok := runs[name]; return !ok })
}
