package cmdutil

import (
	"fmt"
	"os"

	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/services"
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
	spec := func(name string) services.Spec { s, _ := services.Lookup(name); return s }
	return supervisor.New(supervisor.Options{
		RunDir:  cfg.Paths.RunDirPath(),
		LogDir:  cfg.Paths.LogDirPath(),
		LogFile: func(s string) string { return spec(s).LogFile(cfg.Paths.LogDirPath()) },
		Command: func(service, logFile string) []string {
			return append([]string{exe, "serve", service, "--log-file", logFile}, passOn...)
		},
		ReadyURL:  func(s string) string { return spec(s).URL(cfg) + "/ready" },
		HealthURL: func(s string) string { return spec(s).URL(cfg) + "/health" },
		Port:      func(s string) int { return spec(s).Port(cfg) },
		Version:   build.Info().Version,
		Now:       f.Now,
	}), nil
}
