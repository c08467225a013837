package triage

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/triage"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// BundleOptions are the inputs of `tarsctl triage bundle`.
type BundleOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	Getenv func(string) string
	Now    func() time.Time

	File        string
	Since       time.Duration
	MaxLogBytes int64
	Timeout     time.Duration
	Quiet       bool
}

// NewCmdBundle returns `tarsctl triage bundle`.
func NewCmdBundle(f *cmdutil.Factory, runF func(context.Context, *BundleOptions) error) *cobra.Command {
	opts := &BundleOptions{IO: f.IOStreams, Config: f.Config, Getenv: f.Getenv, Now: f.Now}
	var maxMiB int64
	cmd := &cobra.Command{
		Use:   "bundle --output FILE.tar.gz",
		Short: "Write a support bundle",
		Long: heredoc.Doc(`
			Collect what support needs into one .tar.gz: the daemons' logs (the last
			--max-log-size MiB of each, lines since --since), the effective
			configuration, status and health of each daemon, metrics snapshots, the
			triage check results, versions and system facts. manifest.json lists
			every file with its SHA-256 and how many values were redacted.

			Secrets are redacted everywhere: configured passwords and keys (by
			value), JWTs, bearer tokens, passwords in connection strings,
			password=/secret=/token= values and PEM private keys.
		`),
		Example: heredoc.Doc(`
			$ tarsctl triage bundle --output tars-support.tar.gz
			$ tarsctl triage bundle -o /tmp/b.tar.gz --since 2h && tar -xOzf /tmp/b.tar.gz manifest.json
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.File == "" {
				return cmdutil.FlagErrorf("--output FILE.tar.gz is required")
			}
			opts.MaxLogBytes = maxMiB << 20
			opts.Quiet = f.Globals.Quiet
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return bundleRun(cmd.Context(), opts)
		},
	}
	// --output names the bundle file here; it shadows the global -o.
	cmd.Flags().StringVarP(&opts.File, "output", "o", "", "bundle file to write (.tar.gz)")
	cmd.Flags().DurationVar(&opts.Since, "since", 24*time.Hour, "keep log lines from this long ago")
	cmd.Flags().Int64Var(&maxMiB, "max-log-size", 100, "keep at most the last N MiB of each log file")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 5*time.Second, "time limit of each check and snapshot")
	return cmd
}

func bundleRun(ctx context.Context, opts *BundleOptions) error {
	silenceRedisLog()
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	now := opts.Now()
	checks, secrets := BuildChecks(cfg, opts.Getenv, opts.Now, opts.Since)
	secrets = append(secrets, plantedSecrets(cfg, opts.Getenv)...)

	results := make(chan []triage.Result, 1)
	go func() { results <- triage.Run(ctx, checks, opts.Timeout) }()

	sup := newSupervisor(cfg, opts.Now)
	status := map[string]any{}
	metrics := map[string]string{}
	client := &http.Client{Timeout: opts.Timeout}
	for _, name := range services.Names() {
		st, err := sup.Status(ctx, name)
		if err != nil {
			status[name] = map[string]string{"error": err.Error()}
			continue
		}
		status[name] = st
		if st.State == "running" {
			sp, _ := services.Lookup(name)
			metrics[name] = fetch(ctx, client, sp.URL(cfg)+"/metrics")
		}
	}
	host, _ := os.Hostname()
	files := map[string]any{
		"config.json":  cfg.RedactedMap(),
		"status.json":  status,
		"version.json": build.Info(),
		"system.json": map[string]any{
			"hostname": host, "os": runtime.GOOS, "arch": runtime.GOARCH, "num_cpu": runtime.NumCPU(),
			"go_version": runtime.Version(), "time": now.UTC(),
			"loadavg": readSmall("/proc/loadavg"), "meminfo": firstLines(readSmall("/proc/meminfo"), 5),
		},
	}
	for name, m := range metrics {
		files["metrics/"+name+".json"] = map[string]string{"metrics": m}
	}
	res := <-results
	files["checks.json"] = Report{Status: triage.Worst(res), Checks: res}

	var m *triage.Manifest
	err = atomicfile.Write(opts.File, atomicfile.Options{Perm: 0o600, MakeDirs: true}, func(w io.Writer) error {
		var err error
		m, err = triage.WriteBundle(ctx, w, triage.BundleOptions{
			LogDir: cfg.Paths.LogDirPath(), Since: now.Add(-opts.Since), MaxLogBytes: opts.MaxLogBytes,
			Files: files, Secrets: secrets, Now: now,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("write bundle %q: %w", opts.File, err)
	}
	var size int64
	for _, f := range m.Files {
		size += f.Size
	}
	if !opts.Quiet {
		ui.NewStatus(opts.IO, false).Success("wrote %s: %d files, %s before compression, %d values redacted (%s)",
			opts.File, len(m.Files)+1, ui.HumanBytes(size), m.Redactions, strings.Join(m.Redacted, ", "))
	}
	return nil
}

// plantedSecrets are secret values the configuration points to, and
// TARS_* environment values whose names say they are secret.
func plantedSecrets(cfg *config.Config, getenv func(string) string) []string {
	var out []string
	for _, s := range []config.Secret{cfg.Auth.JWTSecret, cfg.Redis.Password, cfg.Database.Password, cfg.Database.URL} {
		if v, err := s.Resolve(getenv); err == nil && v != "" {
			out = append(out, v)
		}
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		up := strings.ToUpper(k)
		if strings.HasPrefix(up, "TARS_") && containsAny(up, "SECRET", "PASSWORD", "TOKEN", "KEY", "URL") {
			out = append(out, v)
		}
	}
	paths := []string{cfg.Auth.JWTSecretFile, cfg.Encryption.KeyFile, cfg.Signing.KeyFile}
	if ents, err := os.ReadDir(cfg.Paths.SecretsDirPath()); err == nil {
		for _, e := range ents {
			paths = append(paths, filepath.Join(cfg.Paths.SecretsDirPath(), e.Name()))
		}
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() < 16<<10 {
			if b, err := os.ReadFile(p); err == nil {
				if s := strings.TrimSpace(string(b)); s != "" {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func fetch(ctx context.Context, c *http.Client, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "error: " + err.Error()
	}
	resp, err := c.Do(req)
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b)
}

func readSmall(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func firstLines(s string, n int) []string {
	lines := strings.Split(s, "\n")
	return lines[:min(n, len(lines))]
}
