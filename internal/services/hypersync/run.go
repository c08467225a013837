package hypersync

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/serviceapi"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// Service is the daemon's name in logs, pidfiles and metrics.
const Service = services.HyperSync

// RunOptions configure [Run].
type RunOptions struct {
	Config  *config.Config
	Version string
	Getenv  func(string) string
	Logger  *slog.Logger
	// Listener, when set, is used instead of listening on the service's
	// address (tests pass 127.0.0.1:0).
	Listener net.Listener
	OnReady  func(net.Addr)
	Force    <-chan struct{}
	// MaxBackoff overrides the longest wait between attempts (tests).
	MaxBackoff time.Duration
}

// JournalPath is where accepted syncs are recorded:
// DATA_DIR/hypersync/journal.jsonl.
func JournalPath(cfg *config.Config) string {
	return filepath.Join(cfg.Paths.DataDirPath(), "hypersync", "journal.jsonl")
}

// Run replays the journal and serves HyperSync's API until ctx is
// cancelled, applying syncs to the orchestrator at services'
// orchestration-agent URL.
func Run(ctx context.Context, o RunOptions) error {
	cfg, log := o.Config, o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if err := os.MkdirAll(filepath.Dir(JournalPath(cfg)), 0o700); err != nil {
		return fmt.Errorf("create journal directory: %w", err)
	}
	jwt, err := serviceapi.LoadJWT(cfg, getenv)
	if err != nil {
		return err
	}
	tokens, err := serviceapi.ServiceTokens(jwt.Secret, Service, store.RoleOperator)
	if err != nil {
		return err
	}
	orchSpec, _ := services.Lookup(services.OrchestrationAgent)
	orch, err := client.New(orchSpec.URL(cfg), client.WithTokenSource(tokens), client.WithHTTPClient(&http.Client{}),
		client.WithUserAgent("tars-hypersync/"+build.Info().Version))
	if err != nil {
		return fmt.Errorf("services.orchestration_agent.url: %w", err)
	}

	authn, checks, closeAuth, err := serviceapi.OpenAuthenticator(ctx, cfg, getenv, jwt.Signer, log)
	if err != nil {
		return err
	}
	defer closeAuth()

	reg := daemon.NewRegistry(Service, o.Version)
	syncer, err := New(Options{Journal: JournalPath(cfg), Orchestrator: orch, Logger: log, Registry: reg, MaxBackoff: o.MaxBackoff})
	if err != nil {
		return err
	}
	defer syncer.Close()
	checks = append(checks, daemon.Check{Name: "journal", Run: func(context.Context) (string, error) {
		if err := syncer.JournalError(); err != nil {
			return "", fmt.Errorf("journal: %w", err)
		}
		return daemon.StatusOK, nil
	}})

	ln, tlsCfg, err := services.Listen(cfg, Service, o.Listener)
	if err != nil {
		return err
	}
	log.Info("Starting HyperSync on "+ln.Addr().String(), "tls", tlsCfg != nil, "orchestrator", orch.BaseURL(),
		"journal", JournalPath(cfg), "pending", syncer.Pending())
	if !cfg.Auth.Enabled {
		log.Warn("JWT authentication disabled: API requests are not authenticated (set auth.enabled: true)")
	}

	// The applier stops with ctx, as the listener does, or when the server
	// fails; an attempt it cuts short stays pending in the journal.
	var wg sync.WaitGroup
	defer wg.Wait()
	actx, stopApplier := context.WithCancel(ctx)
	defer stopApplier()
	wg.Go(func() { _ = syncer.Run(actx) })
	return daemon.Run(ctx, daemon.Options{
		Service: Service, Version: o.Version, Listener: ln, Handler: NewHandler(syncer, authn, log), Registry: reg, Logger: log, TLS: tlsCfg,
		ReadTimeout: cfg.API.ReadTimeout, WriteTimeout: cfg.API.WriteTimeout, IdleTimeout: cfg.API.IdleTimeout,
		DrainTimeout: cfg.API.DrainTimeout, Force: o.Force, OnReady: o.OnReady, Checks: checks,
	})
}
