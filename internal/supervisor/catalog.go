package supervisor

import (
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/services"
)

// CatalogOptions returns the Options of the daemons of the service catalog
// under cfg: pidfiles in paths.run_dir, each daemon's log file (the
// catalog's log name) in paths.log_dir, and its port, /ready and /health
// from its configuration. Command, Version and Now are left to the
// caller: without a Command the supervisor can inspect daemons but not
// start them.
func CatalogOptions(cfg *config.Config) Options {
	entry := func(name string) services.Entry { e, _ := services.Lookup(name); return e }
	return Options{
		RunDir:    cfg.Paths.RunDirPath(),
		LogDir:    cfg.Paths.LogDirPath(),
		LogFile:   func(s string) string { return entry(s).LogFile(cfg.Paths.LogDirPath()) },
		ReadyURL:  func(s string) string { return entry(s).URL(cfg) + "/ready" },
		HealthURL: func(s string) string { return entry(s).URL(cfg) + "/health" },
		Port:      func(s string) int { return entry(s).Port(cfg) },
	}
}
