package hypersync

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/services/daemontest"
	"github.com/tars-ops/tarsctl/internal/services/orchestrator"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var (
	testSecret = []byte("hypersync-test-secret-0123456789abcdef")
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

// startOrchestrator runs the real orchestration-agent daemon with cfg.
func startOrchestrator(t testing.TB, cfg *config.Config, ln net.Listener) *running {
	t.Helper()
	if ln == nil {
		ln = Listen(t, "")
	}
	logs := &syncBuffer{}
	log := daemon.NewLogger(logs, daemon.LogOptions{Service: orchestrator.Service, Version: "test", Format: "text", Level: cfg.LogLevel})
	return daemontest.Serve(t, ln, logs, func(ctx context.Context, onReady func(net.Addr)) error {
		return orchestrator.Run(ctx, orchestrator.RunOptions{Config: cfg, Version: "test", Getenv: testGetenv, Logger: log, Listener: ln, OnReady: onReady})
	})
}

// startHyperSync runs the real hypersync daemon with cfg, applying to the
// orchestrator at orchURL.
func startHyperSync(t testing.TB, cfg *config.Config, orchURL string) *running {
	t.Helper()
	c := *cfg
	c.Services.OrchestrationAgent.URL = orchURL
	ln := Listen(t, "")
	logs := &syncBuffer{}
	log := daemon.NewLogger(logs, daemon.LogOptions{Service: Service, Version: "test", Format: "text", Level: cfg.LogLevel})
	return daemontest.Serve(t, ln, logs, func(ctx context.Context, onReady func(net.Addr)) error {
		return Run(ctx, RunOptions{Config: &c, Version: "test", Getenv: testGetenv, Logger: log, Listener: ln, OnReady: onReady,
			MaxBackoff: 100 * time.Millisecond})
	})
}
