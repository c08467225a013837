package orchestrator

import (
	"context"
	"net"
	"os"
	"testing"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/services/daemontest"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var (
	testSecret = []byte("orchestrator-test-secret-0123456789abcdef")
	testGetenv = daemontest.Getenv(testSecret)
	testConfig = daemontest.Config
	do         = daemontest.Do
	metric     = daemontest.Metric
	Listen     = daemontest.Listen
)

type (
	running    = daemontest.Daemon
	response   = daemontest.Response
	syncBuffer = daemontest.LogBuffer
)

func token(t testing.TB, user, role string) string {
	return daemontest.Token(t, testSecret, user, role)
}

// startOrchestrator runs the real daemon (Run) with cfg.
func startOrchestrator(t testing.TB, cfg *config.Config, ln net.Listener) *running {
	t.Helper()
	if ln == nil {
		ln = Listen(t, "")
	}
	logs := &syncBuffer{}
	log := daemon.NewLogger(logs, daemon.LogOptions{Service: Service, Version: "test", Format: "text", Level: cfg.LogLevel})
	return daemontest.Serve(t, ln, logs, func(ctx context.Context, onReady func(net.Addr)) error {
		return Run(ctx, RunOptions{Config: cfg, Version: "test", Getenv: testGetenv, Logger: log, Listener: ln, OnReady: onReady})
	})
}
