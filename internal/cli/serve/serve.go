// Package serve implements `tarsctl serve SERVICE`: run one T.A.R.S.
// daemon in the foreground.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/daemons"
	"github.com/tars-ops/tarsctl/internal/logfile"
	"github.com/tars-ops/tarsctl/internal/serviceapi"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/services/orchestrator"
)

// Options are the inputs of `tarsctl serve`.
type Options struct {
	Service string
	Config  func() (*config.Config, error)
	Log     io.Writer
	Getenv  func(string) string
	// PprofAddr, when set, serves net/http/pprof on a separate listener.
	PprofAddr string
	// LogFile, when set, receives the logs instead of stderr, rotated by
	// size (LogMaxSizeMB, LogKeep): tarsctl start sets it.
	LogFile      string
	LogMaxSizeMB int
	LogKeep      int
}

// NewCmdServe returns `tarsctl serve`.
func NewCmdServe(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Log: f.IOStreams.ErrOut, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "serve SERVICE",
		Short: "Run a T.A.R.S. service daemon in the foreground",
		Long: heredoc.Docf(`
			Run one T.A.R.S. daemon in the foreground, logging to stderr in the
			profile's format (log_format, log_level). This is what tarsctl start
			launches in the background and what a container runs.

			Services (in dependency order):
			%s

			Every daemon serves GET /health (the runbook's JSON; 503 when
			unhealthy), GET /ready (200 only while serving) and GET /metrics
			(Prometheus). On SIGTERM or SIGINT it stops accepting connections,
			lets in-flight requests finish (up to api.drain_timeout, 30s by
			default) and exits 0; a second signal exits at once.

			dashboard-api listens on api.host:api.port (127.0.0.1:3001 on the
			local profile). On its first start with an empty user store it creates
			the user admin and writes its password to the secrets directory; on the
			local profile it also generates a JWT secret there.
		`, serviceList()),
		Example: heredoc.Doc(`
			$ tarsctl serve dashboard-api
			$ tarsctl serve dashboard-api --profile docker --port 8001
			$ TARS_JWT_SECRET=$(cat /run/secrets/jwt) tarsctl serve dashboard-api --profile production
		`),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return services.Names(), cobra.ShellCompDirectiveNoFileComp
		},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdutil.FlagErrorf("%q needs one service: %s", cmd.CommandPath(), strings.Join(services.Names(), ", "))
			}
			if _, err := services.Resolve(args[0]); err != nil {
				return cmdutil.FlagErrorf("%v", err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			entry, _ := services.Resolve(args[0])
			opts.Service = entry.Name
			flagKeys := map[string]string{"api.host": "host"}
			if key := entry.PortConfigKey(); key != "" {
				flagKeys[key] = "port"
			} else if cmd.Flags().Changed("port") {
				return cmdutil.FlagErrorf("%s has no port setting in the configuration for --port to override", entry.Name)
			}
			opts.Config = func() (*config.Config, error) {
				return f.ConfigWithFlags(cmd.Flags(), flagKeys)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().String("host", "", "address to listen on (overrides api.host)")
	cmd.Flags().Int("port", 0, "port to listen on (overrides api.port, or services.SERVICE.port)")
	cmd.Flags().StringVar(&opts.LogFile, "log-file", "", "write logs to this file, rotated by size, instead of stderr")
	cmd.Flags().IntVar(&opts.LogMaxSizeMB, "log-max-size", 50, "with --log-file: rotate when the file reaches this many MiB")
	cmd.Flags().IntVar(&opts.LogKeep, "log-keep", 5, "with --log-file: rotated files to keep")
	cmd.Flags().StringVar(&opts.PprofAddr, "pprof-addr", "", "serve Go profiling (net/http/pprof) on this address, e.g. 127.0.0.1:6060; off by default")
	return cmd
}

// Run runs the daemon until ctx is cancelled.
func Run(ctx context.Context, opts *Options) error {
	if _, err := services.Resolve(opts.Service); err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	run, ok := daemons.Lookup(opts.Service)
	if !ok {
		return fmt.Errorf("serve %s: the catalog lists it but tarsctl has no implementation of it", opts.Service)
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	logOut := opts.Log
	if opts.LogFile != "" {
		lf, err := logfile.Open(opts.LogFile, int64(opts.LogMaxSizeMB)<<20, opts.LogKeep)
		if err != nil {
			return err
		}
		defer lf.Close()
		logOut = lf
	}
	log := daemon.NewLogger(logOut, daemon.LogOptions{
		Service: opts.Service, Version: build.Info().Version, Format: cfg.LogFormat, Level: cfg.LogLevel,
	})
	if opts.PprofAddr != "" {
		stop, err := startPprof(opts.PprofAddr)
		if err != nil {
			return cmdutil.FlagErrorf("--pprof-addr: %v", err)
		}
		defer stop()
		log.Warn("Profiling enabled on http://" + opts.PprofAddr + "/debug/pprof/ (do not expose it)")
	}
	err = run(ctx, daemons.Options{Config: cfg, Logger: log, Getenv: opts.Getenv, Reconfig: opts.Config})
	if errors.Is(err, orchestrator.ErrNoKeyFile) {
		err = cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, serviceapi.ErrNoJWTSecret):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	default:
		log.Error("Service stopped: " + err.Error())
		return err
	}
}

// startPprof serves the profiler on its own listener, never beside the API.
func startPprof(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

// serviceList is the services for the help: one line each, with what it
// does, its port and its aliases.
func serviceList() string {
	var b strings.Builder
	for _, e := range services.All() {
		fmt.Fprintf(&b, "  %-20s %s (port %d", e.Name, e.Summary, e.APIPort)
		if e.PeerPort != 0 {
			fmt.Fprintf(&b, ", peers %d", e.PeerPort)
		}
		if len(e.Aliases) > 0 {
			fmt.Fprintf(&b, "; also %s", strings.Join(e.Aliases, ", "))
		}
		b.WriteString(")\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}
