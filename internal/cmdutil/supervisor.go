package cmdutil

import (
	"fmt"
	"os"

	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/supervisor"
)

// NewSupervisor builds the supervisor for the effective configuration.
// The daemons it starts get the same --profile, --config and --set as this
// command, so they read the same configuration.
func NewSupervisor(f *Factory, cfg *config.Config) (*supervisor.Supervisor, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the tarsctl binary: %w", err)
	}
	g := f.Globals
	var passOn []string
	if g.Profile != "" {
		passOn = append(passOn, "--profile", g.Profile)
	}
	if g.ConfigFile != "" {
		passOn = append(passOn, "--config", g.ConfigFile)
	}
	for _, kv := range g.Set {
		passOn = append(passOn, "--set", kv)
	}
	opts := supervisor.CatalogOptions(cfg)
	opts.Command = func(service, logFile string) []string {
		return append([]string{exe, "serve", service, "--log-file", logFile}, passOn...)
	}
	opts.Version, opts.Now = build.Info().Version, f.Now
	return supervisor.New(opts), nil
}
