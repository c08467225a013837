package dashboardapi

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/audit"
	"github.com/tars-ops/tarsctl/internal/compliance"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/serviceapi"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/state"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// Service is the daemon's name in logs, pidfiles and metrics.
const Service = "dashboard-api"

// RunOptions configure [Run].
type RunOptions struct {
	Config  *config.Config
	Version string
	Getenv  func(string) string
	Logger  *slog.Logger
	// Listener, when set, is used instead of listening on api.host:api.port
	// (tests pass 127.0.0.1:0).
	Listener net.Listener
	OnReady  func(net.Addr)
	Force    <-chan struct{}
}

// Run opens the stores, prepares a first start, and serves the dashboard
// API until ctx is cancelled.
func Run(ctx context.Context, o RunOptions) (err error) {
	cfg, log := o.Config, o.Logger
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, dir := range []string{cfg.Paths.DataDirPath(), cfg.Paths.LogDirPath()} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
	}

	db, err := OpenStore(ctx, cfg, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := openState(ctx, cfg, getenv)
	if err != nil {
		return err
	}
	defer st.Close()

	jwt, err := serviceapi.LoadJWT(cfg, getenv)
	if err != nil {
		return err
	}
	signer := jwt.Signer
	if path, err := EnsureAdmin(ctx, db, cfg.Paths.SecretsDirPath()); err != nil {
		return err
	} else if path != "" {
		log.Warn("Created the initial admin user; its password is in " + path + " (readable by this user only): log in and change it with `tarsctl users passwd admin`")
	}

	var auditLog *audit.Log
	if cfg.Audit.Enabled {
		file := cfg.Audit.File
		if file == "" {
			file = filepath.Join(cfg.Paths.LogDirPath(), "audit.log")
		}
		auditLog, err = audit.Open(file, func(err error) { log.Error("audit log", "error", err) })
		if err != nil {
			return err
		}
		defer auditLog.Close()
	}

	rep := compliance.Evaluate(cfg, auditLog != nil, time.Now())
	for _, c := range rep.Failed() {
		log.Warn("Compliance control failed: "+c.Name, "detail", c.Detail, "enforcement_mode", rep.EnforcementMode)
	}
	if failed := rep.Failed(); len(failed) > 0 && rep.EnforcementMode == "enforce" {
		names := make([]string, len(failed))
		for i, c := range failed {
			names[i] = c.Name + " (" + c.Detail + ")"
		}
		return fmt.Errorf("compliance enforcement: %d control(s) failed: %s", len(failed), strings.Join(names, "; "))
	}

	// GET /api/agents asks the orchestrator, with a viewer token of its own.
	orchSpec, _ := services.Lookup(services.OrchestrationAgent)
	tokens, err := serviceapi.ServiceTokens(jwt.Secret, Service, store.RoleViewer)
	if err != nil {
		return err
	}
	orch, err := client.New(orchSpec.URL(cfg), client.WithTokenSource(tokens), client.WithHTTPClient(&http.Client{}))
	if err != nil {
		return fmt.Errorf("services.orchestration_agent.url: %w", err)
	}

	reg := daemon.NewRegistry(Service, o.Version)
	handler, err := New(Options{
		Config: cfg, Users: db, State: st, Signer: signer, CheckPassword: store.CheckPassword,
		Logger: log, Audit: auditLog, Registry: reg, Orchestrator: orch,
	})
	if err != nil {
		return err
	}

	// Bootstrap may have hashed a password with argon2 (tens of MiB); hand
	// that memory back before settling in to serve.
	debug.FreeOSMemory()

	ln, tlsCfg, err := services.Listen(cfg, Service, o.Listener)
	if err != nil {
		return err
	}

	log.Info("Starting API server on "+ln.Addr().String(), "tls", tlsCfg != nil, "store", db.Kind(), "state", st.Kind())
	if cfg.Auth.Enabled {
		log.Info("JWT authentication enabled", "rbac", cfg.Auth.RBAC, "mfa", cfg.Auth.RequireMFA, "secret", string(jwt.Source),
			"kid", signer.KeyID(), "previous_kids", strings.Join(signer.PreviousKeyIDs(time.Now()), ","))
	} else {
		log.Warn("JWT authentication disabled: API requests are not authenticated (set auth.enabled: true)")
	}
	if cfg.RateLimiting.Enabled {
		log.Info(fmt.Sprintf("Rate limiting enabled (%d req/min)", cfg.RateLimiting.RequestsPerMinute))
	}

	return daemon.Run(ctx, daemon.Options{
		Service: Service, Version: o.Version, Listener: ln, Handler: handler, Registry: reg, Logger: log, TLS: tlsCfg,
		ReadTimeout: cfg.API.ReadTimeout, WriteTimeout: cfg.API.WriteTimeout, IdleTimeout: cfg.API.IdleTimeout,
		DrainTimeout: cfg.API.DrainTimeout, Force: o.Force, OnReady: o.OnReady,
		Checks: []daemon.Check{
			state.HealthCheck(st),
			{Name: "database", Run: func(ctx context.Context) (string, error) {
				if err := db.Ping(ctx); err != nil {
					return "", fmt.Errorf("database unreachable: %w", err)
				}
				if db.Kind() == "sqlite" {
					return daemon.StatusEmbedded, nil
				}
				return daemon.StatusOK, nil
			}},
			daemon.DiskSpaceCheck(cfg.Paths.DataDirPath(), 100<<20),
		},
	})
}

// OpenStore opens the configured account store: SQLite in the data dir, or
// PostgreSQL when database.url or database.driver postgres says so.
func OpenStore(ctx context.Context, cfg *config.Config, getenv func(string) string) (*store.DB, error) {
	d := cfg.Database
	opts := store.Options{Driver: d.Driver}
	switch {
	case d.URL.IsSet():
		u, err := d.URL.Resolve(getenv)
		if err != nil {
			return nil, fmt.Errorf("database.url: %w", err)
		}
		opts.Driver, opts.URL = config.DatabasePostgres, u
	case d.Driver == config.DatabasePostgres:
		pw, err := d.Password.Resolve(getenv)
		if err != nil {
			return nil, fmt.Errorf("database.password: %w", err)
		}
		opts.URL = store.PostgresURL(d, pw)
	default:
		opts.Path = d.Path
		if !filepath.IsAbs(opts.Path) {
			opts.Path = filepath.Join(cfg.Paths.DataDirPath(), opts.Path)
		}
	}
	db, err := store.Open(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", opts.Driver, err)
	}
	return db, nil
}

// openState connects to Redis when redis.enabled, else keeps state in
// process.
func openState(ctx context.Context, cfg *config.Config, getenv func(string) string) (state.Store, error) {
	if !cfg.Redis.Enabled {
		return state.NewMemory(time.Now), nil
	}
	pw, err := cfg.Redis.Password.Resolve(getenv)
	if err != nil {
		return nil, fmt.Errorf("redis.password: %w", err)
	}
	return state.OpenRedis(ctx, cfg.Redis, pw)
}
