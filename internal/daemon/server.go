package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults for [Options] fields left zero.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultDrainTimeout      = 30 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultCheckTimeout      = 2 * time.Second
	DefaultHealthTTL         = time.Second
)

// ErrForced is returned by [Run] when a second signal cut the drain short.
var ErrForced = errors.New("shutdown forced before in-flight requests finished")

// Options configure [Run].
type Options struct {
	Service  string
	Version  string
	Listener net.Listener // already bound: 127.0.0.1:0 in tests
	// Handler serves everything but /health, /ready and /metrics. It is
	// mounted at "/"; the daemon's probes are never authenticated or rate
	// limited because they never reach it.
	Handler  http.Handler
	Registry *prometheus.Registry // from NewRegistry
	Logger   *slog.Logger
	Checks   []Check
	TLS      *tls.Config // nil: plain HTTP

	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	DrainTimeout                           time.Duration // how long in-flight requests may take after SIGTERM
	DrainDelay                             time.Duration // /ready answers 503 this long before the listener closes

	// Force, when it fires during the drain, closes every connection at
	// once (the second signal).
	Force <-chan struct{}
	// OnReady is called once the daemon serves (tests, supervisors).
	OnReady func(addr net.Addr)

	// Reload, when set, is called on every SIGHUP while the daemon serves,
	// one call at a time, with Run's context. It re-reads what the daemon
	// can change without a restart (key files, secrets) and swaps it in
	// only when all of it loaded: on error it must keep the old state.
	// The daemon logs the outcome, counts it in tars_reloads_total
	// {result="success"|"failure"} and never stops because of it. Without
	// Reload, SIGHUP is logged and ignored (it never kills a daemon).
	Reload func(ctx context.Context) error
}

// Run serves until ctx is cancelled, then shuts down gracefully. It
// returns nil after a clean drain.
func Run(ctx context.Context, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := opts.Registry
	if reg == nil {
		reg = NewRegistry(opts.Service, opts.Version)
	}
	ready := &readiness{}
	h := &health{
		checks:  opts.Checks,
		version: opts.Version,
		timeout: DefaultCheckTimeout,
		ttl:     DefaultHealthTTL,
		now:     time.Now,
	}
	mux := http.NewServeMux()
	mux.Handle("GET /health", h)
	mux.Handle("GET /ready", ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	if opts.Handler != nil {
		mux.Handle("/", opts.Handler)
	}

	srv := &http.Server{
		Handler:           instrument(mux, log, newHTTPMetrics(reg)),
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       orDefault(opts.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      orDefault(opts.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       orDefault(opts.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:         opts.TLS,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	ln := opts.Listener
	if opts.TLS != nil {
		ln = tls.NewListener(ln, opts.TLS)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	stopReload := handleReload(ctx, opts.Reload, log, reg)
	defer stopReload()
	ready.state.Store(Ready)
	if opts.OnReady != nil {
		opts.OnReady(opts.Listener.Addr())
	}

	select {
	case err := <-serveErr:
		ready.state.Store(Stopping)
		return fmt.Errorf("serve %s: %w", opts.Listener.Addr(), err)
	case <-ctx.Done():
	}

	ready.state.Store(Stopping)
	drain := orDefault(opts.DrainTimeout, DefaultDrainTimeout)
	log.Info(fmt.Sprintf("Shutting down: draining in-flight requests (up to %s)", drain))
	if opts.DrainDelay > 0 {
		select {
		case <-time.After(opts.DrainDelay):
		case <-opts.Force:
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(sctx) }()
	select {
	case err := <-done:
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("drain timed out after %s; closed remaining connections: %w", drain, err)
		}
	case <-opts.Force:
		_ = srv.Close()
		return ErrForced
	}
	log.Info("Shutdown complete")
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// TLSFiles names the PEM files of a TLS or mTLS configuration.
type TLSFiles struct {
	CertFile, KeyFile, ClientCAFile string
}

// LoadTLS builds a server TLS configuration: TLS 1.2 or later, and client
// certificates required and verified against ClientCAFile when it is set.
// It returns nil, nil when CertFile is empty.
func LoadTLS(f TLSFiles) (*tls.Config, error) {
	if f.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", f.CertFile, f.KeyFile, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if f.ClientCAFile != "" {
		pem, err := os.ReadFile(f.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("read client CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA bundle %s holds no PEM certificates", f.ClientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
