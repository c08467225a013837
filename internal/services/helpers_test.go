// The tests of this package run several daemons together: what happens
// between them (dashboard-api listing the orchestrator's agents, HyperSync
// applying syncs to the orchestrator) and what every one of them must
// answer alike (conformance_test.go). They live here, in package
// services_test, because a daemon's own package may not import another
// daemon's.
package services_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/services/daemontest"
	"github.com/tars-ops/tarsctl/internal/services/dashboardapi"
	"github.com/tars-ops/tarsctl/internal/services/hypersync"
	"github.com/tars-ops/tarsctl/internal/services/orchestrator"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var (
	testSecret = []byte("services-test-secret-0123456789abcdef")
	testGetenv = daemontest.Getenv(testSecret)
	testConfig = daemontest.Config
	do         = daemontest.Do
	metric     = daemontest.Metric
	Listen     = daemontest.Listen
)

type (
	running    = daemontest.Daemon
	syncBuffer = daemontest.LogBuffer
)

func token(t testing.TB, user, role string) string {
	return daemontest.Token(t, testSecret, user, role)
}

func newTextLogger(w io.Writer) *slog.Logger {
	return daemon.NewLogger(w, daemon.LogOptions{Service: "test", Format: "text", Level: "DEBUG"})
}

// serve runs a daemon's Run on ln (a new 127.0.0.1:0 listener when nil),
// logging as service at cfg's level.
func serve(t testing.TB, cfg *config.Config, service string, ln net.Listener, run func(ctx context.Context, log *slog.Logger, ln net.Listener, onReady func(net.Addr)) error) *running {
	t.Helper()
	if ln == nil {
		ln = Listen(t, "")
	}
	logs := &syncBuffer{}
	log := daemon.NewLogger(logs, daemon.LogOptions{Service: service, Version: "test", Format: "text", Level: cfg.LogLevel})
	return daemontest.Serve(t, ln, logs, func(ctx context.Context, onReady func(net.Addr)) error {
		return run(ctx, log, ln, onReady)
	})
}

// startDashboard runs the real dashboard-api daemon with cfg.
func startDashboard(t testing.TB, cfg *config.Config, ln net.Listener) *running {
	t.Helper()
	return serve(t, cfg, dashboardapi.Service, ln, func(ctx context.Context, log *slog.Logger, ln net.Listener, onReady func(net.Addr)) error {
		return dashboardapi.Run(ctx, dashboardapi.RunOptions{Config: cfg, Version: "test", Getenv: testGetenv, Logger: log, Listener: ln, OnReady: onReady})
	})
}

// startOrchestrator runs the real orchestration-agent daemon with cfg.
func startOrchestrator(t testing.TB, cfg *config.Config, ln net.Listener) *running {
	t.Helper()
	return serve(t, cfg, orchestrator.Service, ln, func(ctx context.Context, log *slog.Logger, ln net.Listener, onReady func(net.Addr)) error {
		return orchestrator.Run(ctx, orchestrator.RunOptions{Config: cfg, Version: "test", Getenv: testGetenv, Logger: log, Listener: ln, OnReady: onReady})
	})
}

// startHyperSync runs the real hypersync daemon with cfg, applying to the
// orchestrator at orchURL.
func startHyperSync(t testing.TB, cfg *config.Config, orchURL string) *running {
	t.Helper()
	c := *cfg
	c.Services.OrchestrationAgent.URL = orchURL
	return serve(t, &c, hypersync.Service, nil, func(ctx context.Context, log *slog.Logger, ln net.Listener, onReady func(net.Addr)) error {
		return hypersync.Run(ctx, hypersync.RunOptions{Config: &c, Version: "test", Getenv: testGetenv, Logger: log, Listener: ln, OnReady: onReady,
			MaxBackoff: 100 * time.Millisecond})
	})
}
