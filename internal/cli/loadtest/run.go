package loadtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
	lt "github.com/tars-ops/tarsctl/pkg/loadtest"
)

// RunOptions are the inputs of `tarsctl loadtest run`.
type RunOptions struct {
	IO     *iostreams.IOStreams
	Getenv func(string) string
	Now    func() time.Time
	// Tool names the generator in reports ("tarsctl 1.2.3").
	Tool string
	// testOnlyTicker replaces the progress ticker in tests.
	testOnlyTicker func(time.Duration) (<-chan time.Time, func())

	URL         string
	Method      string
	Headers     []string
	Body        string
	Scenario    string
	Duration    time.Duration
	Requests    uint64
	Concurrency int
	SpawnRate   float64
	Rate        float64
	ThinkTime   time.Duration
	Timeout     time.Duration
	Client      string
	Compress    bool
	Insecure    bool

	OutputJSON       string
	OutputMD         string
	Baseline         string
	Tolerance        float64
	Thresholds       []lt.Threshold
	ProgressInterval time.Duration

	Output string
	Quiet  bool
}

// NewCmdRun returns `tarsctl loadtest run`.
func NewCmdRun(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IOStreams, Getenv: f.Getenv, Now: f.Now}
	var (
		tolerance  string
		thresholds []string
	)
	cmd := &cobra.Command{
		Use:   "run --url URL (--duration D | --requests N) [flags]",
		Short: "Run an HTTP load test and report latency, throughput and errors",
		Long: heredoc.Docf(`
			Send HTTP requests to --url and report latency percentiles (min, mean,
			p50, p90, p95, p99, p99.9, max), throughput, error rate, status codes and
			error kinds, overall and per request name.

			Closed loop (default): --concurrency users each send a request, wait for
			the answer and --think-time, and send the next; --spawn-rate starts them
			gradually (locust's model). Open loop (--rate R): R requests per second
			are due on a fixed schedule whatever the server does, on up to
			--concurrency connections (wrk2's and vegeta's model). Open-loop latency
			is measured from each request's intended send time, so a stall shows in
			the percentiles instead of hiding behind the few requests stuck in it;
			the service time from the actual send is reported too.

			Every run is bounded by --duration, --requests, or both. Ctrl-C stops it
			at once; the reports of what ran are still written (exit 130).

			--scenario FILE sends the weighted requests of a YAML scenario, after
			its optional login step, against --url (or the scenario's base_url).
			Without a scenario, --method, --header and --body shape the request.

			Reports: --output-json writes the JSON report (the baseline format),
			--output-md a Markdown report. Text output is a summary on stdout; with
			-o json stdout is JSON Lines: {"type":"status"} progress lines and a
			final {"type":"report"} line holding the report.

			Verdicts: each --threshold (k6 syntax: p95<200ms, error_rate<1%%,
			rps>=500, p99{name:login}<300ms) must hold, and with --baseline no
			metric may be worse than the baseline report by more than --tolerance.

			The report warns when the generator may have been the bottleneck: an
			open-loop rate not reached, requests sent late, or its own CPU near
			saturation. Secrets (the login password, tokens, header values) are never
			written to reports or logs.

			EXIT STATUS
			  0    the run completed and every check passed
			  1    a threshold was breached or a metric regressed
			  2    bad usage: flags, scenario file, threshold, baseline file
			  3    the target was unreachable: no request at all succeeded
			  4    the scenario's login was refused
			  130  interrupted (the reports of what ran are written)

			Format, scenario and threshold reference: docs/loadtest.md.
		`),
		Example: heredoc.Doc(`
			$ tarsctl loadtest run --url http://localhost:3001/health --duration 30s
			$ tarsctl loadtest run --url http://localhost:3001/api/agents --rate 500 --duration 1m --concurrency 200
			$ tarsctl loadtest run --url http://localhost:3001 --scenario dashboard.yaml \
			    --duration 10m --concurrency 100 --spawn-rate 10 --output-json run.json --output-md run.md
			$ tarsctl loadtest run --url http://localhost:3001 --scenario dashboard.yaml --duration 2m \
			    --baseline baseline.json --tolerance 10% --threshold 'p95<200ms' --threshold 'error_rate<1%'
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			fl := cmd.Flags()
			switch {
			case opts.Duration <= 0 && opts.Requests == 0:
				return cmdutil.FlagErrorf("every run must be bounded: set --duration, --requests, or both")
			case opts.Duration < 0:
				return cmdutil.FlagErrorf("invalid --duration %s: must be positive", opts.Duration)
			case fl.Changed("rate") && fl.Changed("spawn-rate"):
				return cmdutil.FlagErrorf("--rate and --spawn-rate cannot be used together: --rate makes an open-loop run, --spawn-rate ramps closed-loop users")
			case fl.Changed("rate") && fl.Changed("think-time"):
				return cmdutil.FlagErrorf("--rate and --think-time cannot be used together: think time applies to closed-loop users")
			case fl.Changed("rate") && !(opts.Rate > 0):
				return cmdutil.FlagErrorf("invalid --rate %g: must be a positive number of requests per second", opts.Rate)
			case opts.Concurrency < 1:
				return cmdutil.FlagErrorf("invalid --concurrency %d: must be at least 1", opts.Concurrency)
			case opts.SpawnRate < 0:
				return cmdutil.FlagErrorf("invalid --spawn-rate %g: must be positive", opts.SpawnRate)
			case opts.ThinkTime < 0:
				return cmdutil.FlagErrorf("invalid --think-time %s: must be positive", opts.ThinkTime)
			case opts.Timeout <= 0:
				return cmdutil.FlagErrorf("invalid --timeout %s: must be positive", opts.Timeout)
			case opts.ProgressInterval <= 0:
				return cmdutil.FlagErrorf("invalid --progress-interval %s: must be positive", opts.ProgressInterval)
			case opts.URL == "" && opts.Scenario == "":
				return cmdutil.FlagErrorf("--url is required (or a --scenario with a base_url)")
			case opts.Scenario != "" && (fl.Changed("method") || fl.Changed("header") || fl.Changed("body")):
				return cmdutil.FlagErrorf("--method, --header and --body shape a single request; with --scenario, set them in the scenario file")
			}
			if opts.URL != "" {
				if err := checkURL(opts.URL); err != nil {
					return err
				}
			}
			if _, err := parseHeaders(opts.Headers); err != nil {
				return err
			}
			if opts.Scenario == "" && !lt.ValidMethod(strings.ToUpper(opts.Method)) {
				return cmdutil.FlagErrorf("invalid --method %q: expected one of %s", opts.Method, lt.KnownMethods())
			}
			opts.Method = strings.ToUpper(opts.Method)
			opts.Thresholds = nil
			for _, expr := range thresholds {
				th, err := lt.ParseThreshold(expr)
				if err != nil {
					return cmdutil.FlagErrorf("invalid --threshold: %w", err)
				}
				opts.Thresholds = append(opts.Thresholds, th)
			}
			var err error
			if opts.Tolerance, err = parseTolerance(tolerance); err != nil {
				return err
			}
			if fl.Changed("tolerance") && opts.Baseline == "" {
				return cmdutil.FlagErrorf("--tolerance needs --baseline")
			}
			if opts.Tool == "" {
				opts.Tool = "tarsctl " + build.Info().Version
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.URL, "url", "", "target URL; with --scenario, the base URL its paths are resolved against")
	fl.StringVar(&opts.Scenario, "scenario", "", "YAML scenario: weighted requests and an optional login step")
	fl.DurationVarP(&opts.Duration, "duration", "d", 0, "how long to send requests (e.g. 30s, 10m)")
	fl.Uint64VarP(&opts.Requests, "requests", "n", 0, "how many requests to send")
	fl.IntVarP(&opts.Concurrency, "concurrency", "c", lt.DefaultWorkers, "users (closed loop) or connections (open loop)")
	fl.Float64Var(&opts.SpawnRate, "spawn-rate", 0, "start this many users per second instead of all at once (closed loop)")
	fl.Float64Var(&opts.Rate, "rate", 0, "send this many requests per second, open loop")
	fl.DurationVar(&opts.ThinkTime, "think-time", 0, "pause of each user between a response and its next request (closed loop)")
	fl.DurationVar(&opts.Timeout, "timeout", lt.DefaultTimeout, "give up on a request after this long")
	fl.StringVarP(&opts.Method, "method", "X", http.MethodGet, "HTTP method, without --scenario")
	fl.StringArrayVarP(&opts.Headers, "header", "H", nil, `request header "Name: value", repeatable, without --scenario`)
	fl.StringVar(&opts.Body, "body", "", "request body, without --scenario")
	fl.StringVar(&opts.Client, "client", lt.ClientBuiltin, "HTTP client: builtin (HTTP/1.1, fastest) or net/http (HTTP/2, proxies)")
	fl.BoolVar(&opts.Compress, "compress", false, "ask for gzip responses (Accept-Encoding: gzip)")
	fl.BoolVar(&opts.Insecure, "insecure", false, "do not verify the server's TLS certificate")
	fl.StringVar(&opts.OutputJSON, "output-json", "", "write the JSON report to this file (the --baseline format)")
	fl.StringVar(&opts.OutputMD, "output-md", "", "write a Markdown report to this file")
	fl.StringVar(&opts.Baseline, "baseline", "", "compare with this JSON report and fail on regressions")
	fl.StringVar(&tolerance, "tolerance", "10%", "how much worse than --baseline a metric may get")
	fl.StringArrayVar(&thresholds, "threshold", nil, "fail unless this holds, e.g. 'p95<200ms', 'error_rate<1%', 'rps>=500' (repeatable)")
	fl.DurationVar(&opts.ProgressInterval, "progress-interval", 10*time.Second, "progress line interval when stderr is not a terminal")
	cmdutil.EnumFlag(cmd, "client", lt.ClientBuiltin, lt.ClientNetHTTP)
	for _, name := range []string{"scenario", "baseline"} {
		ext := []string{"yaml", "yml"}
		if name == "baseline" {
			ext = []string{"json"}
		}
		_ = cmd.RegisterFlagCompletionFunc(name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return ext, cobra.ShellCompDirectiveFilterFileExt
		})
	}
	return cmd
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cmdutil.FlagErrorf("invalid --url: expected an http:// or https:// URL with a host")
	}
	if u.User != nil {
		return cmdutil.FlagErrorf("invalid --url %q: credentials in the URL are not supported; use --header or a scenario login", u.Redacted())
	}
	return nil
}

func parseHeaders(raw []string) (http.Header, error) {
	h := http.Header{}
	for _, kv := range raw {
		k, v, ok := strings.Cut(kv, ":")
		if !ok || strings.TrimSpace(k) == "" {
			// Only the name is quoted: the value may be a credential.
			return nil, cmdutil.FlagErrorf("invalid --header %q: expected \"Name: value\"", strings.TrimSpace(k))
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return h, nil
}

// redactedURL is the URL as reports may show it: no credentials, no query
// (which may hold a token).
func redactedURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

func runRun(ctx context.Context, opts *RunOptions) error {
	// Everything that can be wrong with the input is found before the
	// first request: a ten-minute run must not end in a usage error.
	var baseline *lt.Report
	if opts.Baseline != "" {
		var err error
		if baseline, err = readReport(opts.Baseline, "baseline"); err != nil {
			return err
		}
	}
	for _, p := range []string{opts.OutputJSON, opts.OutputMD} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(filepath.Dir(p)); err != nil || !st.IsDir() {
			return cmdutil.FlagErrorf("cannot write report %q: directory %q does not exist", p, filepath.Dir(p))
		}
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.Insecure} //nolint:gosec // only with --insecure
	targets, err := buildTargets(ctx, opts, tlsConfig)
	if err != nil {
		return err
	}
	targeter, err := lt.NewTargeter(targets...)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}

	attackOpts := []lt.Option{
		lt.Workers(opts.Concurrency),
		lt.Timeout(opts.Timeout),
		lt.UserAgent(strings.ReplaceAll(opts.Tool, " ", "/") + " (loadtest)"),
		lt.Compression(opts.Compress),
		lt.TLSConfig(tlsConfig),
	}
	if opts.Duration > 0 {
		attackOpts = append(attackOpts, lt.Duration(opts.Duration))
	}
	if opts.Requests > 0 {
		attackOpts = append(attackOpts, lt.MaxRequests(opts.Requests))
	}
	if opts.Rate > 0 {
		attackOpts = append(attackOpts, lt.Rate(opts.Rate))
	} else {
		attackOpts = append(attackOpts, lt.SpawnRate(opts.SpawnRate), lt.ThinkTime(opts.ThinkTime))
	}
	if opts.Client == lt.ClientNetHTTP {
		attackOpts = append(attackOpts, lt.HTTPClient(nil))
	}

	metrics := lt.NewMetrics()
	prog := newProgress(opts)
	stopProgress := prog.start(metrics)
	stats, err := lt.NewAttacker(attackOpts...).Attack(ctx, targeter, metrics)
	stopProgress()
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}

	rep := lt.NewReport(metrics, stats)
	rep.Tool = opts.Tool
	rep.Config.URL = redactedURL(opts.URL)
	rep.Config.Scenario = opts.Scenario
	for _, th := range opts.Thresholds {
		rep.Thresholds = append(rep.Thresholds, th.Evaluate(rep))
	}
	if baseline != nil {
		rep.Baseline = lt.Compare(baseline, rep, opts.Tolerance)
		rep.Baseline.File = opts.Baseline
	}

	// The reports are written before anything else can fail, and also
	// when the run was interrupted: they are what the run produced.
	var writeErrs []error
	if opts.OutputJSON != "" {
		writeErrs = append(writeErrs, writeReport(opts.OutputJSON, lt.JSONReporter{}, rep))
	}
	if opts.OutputMD != "" {
		writeErrs = append(writeErrs, writeReport(opts.OutputMD, lt.MarkdownReporter{}, rep))
	}
	if err := printResult(opts, rep); err != nil {
		return err
	}
	if err := errors.Join(writeErrs...); err != nil {
		return err
	}
	return verdict(opts, rep)
}

// buildTargets turns the flags or the scenario into targets, logging in
// first when the scenario says so.
func buildTargets(ctx context.Context, opts *RunOptions, tlsConfig *tls.Config) ([]lt.Target, error) {
	if opts.Scenario == "" {
		h, err := parseHeaders(opts.Headers)
		if err != nil {
			return nil, err
		}
		t := lt.Target{Method: opts.Method, URL: opts.URL, Header: h}
		if opts.Body != "" {
			t.Body = []byte(opts.Body)
		}
		return []lt.Target{t}, nil
	}
	data, err := os.ReadFile(opts.Scenario)
	if err != nil {
		return nil, cmdutil.FlagErrorf("read scenario %q: %w", opts.Scenario, err)
	}
	sc, err := lt.ParseScenario(data, opts.Getenv)
	if err != nil {
		return nil, cmdutil.FlagErrorf("read scenario %q: %w", opts.Scenario, err)
	}
	if opts.URL == "" {
		opts.URL = sc.BaseURL
		if opts.URL == "" {
			return nil, cmdutil.FlagErrorf("--url is required: scenario %q has no base_url", opts.Scenario)
		}
	}
	token := ""
	if sc.Login != nil {
		client := &http.Client{
			Timeout:   opts.Timeout,
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsConfig},
		}
		defer client.CloseIdleConnections()
		if token, err = sc.DoLogin(ctx, client, opts.URL); err != nil {
			var le *lt.LoginError
			switch {
			case errors.As(err, &le) && le.Denied():
				return nil, cmdutil.PermissionDenied(cmdutil.WithHint(err,
					fmt.Sprintf("check the login username and password in %s (the password may come from ${VAR})", opts.Scenario)))
			case errors.As(err, &le) && le.Status == http.StatusTooManyRequests:
				return nil, cmdutil.Failed(cmdutil.WithHint(err, "the service rate-limits logins; wait for its window (a minute on the dashboard API) and retry"))
			case errors.As(err, &le):
				return nil, cmdutil.Failed(err)
			default:
				return nil, cmdutil.WithHint(err, "is the service running? tarsctl status lists the daemons")
			}
		}
	}
	targets, err := sc.Targets(opts.URL, token)
	if err != nil {
		return nil, cmdutil.FlagErrorf("scenario %q: %w", opts.Scenario, err)
	}
	return targets, nil
}

func writeReport(path string, r lt.Reporter, rep *lt.Report) error {
	var buf bytes.Buffer
	if err := r.Report(&buf, rep); err != nil {
		return fmt.Errorf("write report %q: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, buf.Bytes(), atomicfile.Options{MakeDirs: true}); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// printResult writes the report to stdout (a text summary and the
// verdicts, or one {"type":"report"} JSON line) and its warnings to stderr.
func printResult(opts *RunOptions, rep *lt.Report) error {
	status := ui.NewStatus(opts.IO, opts.Quiet)
	for _, w := range rep.Warnings {
		status.Warning("%s", w)
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSONLine(opts.IO.Out, struct {
			Type string `json:"type"`
			*lt.Report
		}{"report", rep})
	}
	if err := (lt.TextReporter{}).Report(opts.IO.Out, rep); err != nil {
		return err
	}
	if len(rep.Thresholds) > 0 || rep.Baseline != nil {
		if _, err := fmt.Fprintln(opts.IO.Out); err != nil {
			return err
		}
	}
	if err := writeChecks(opts.IO.Out, ui.NewTheme(opts.IO), rep.Thresholds, rep.Baseline); err != nil {
		return err
	}
	for _, p := range []string{opts.OutputJSON, opts.OutputMD} {
		if p != "" {
			status.Success("wrote %s", p)
		}
	}
	return nil
}

// verdict picks the exit code: interrupted (130) before unreachable (3)
// before breached thresholds and regressions (1).
func verdict(opts *RunOptions, rep *lt.Report) error {
	s := &rep.Summary
	if rep.Interrupted {
		return cmdutil.WithExitCode(cmdutil.ExitInterrupted,
			fmt.Errorf("interrupted after %.1fs; the report covers the %d requests that completed", rep.DurationSeconds, s.Requests))
	}
	if s.Requests > 0 && s.Succeeded == 0 && s.Errors["connection_refused"]+s.Errors["dns"] == s.Requests {
		return cmdutil.Unreachable(cmdutil.WithHint(
			fmt.Errorf("%s is unreachable: all %d requests failed to connect (%s)", rep.Config.URL, s.Requests, unreachableKinds(s)),
			"is the service running? tarsctl status lists the daemons"))
	}
	var failed []string
	var breached []string
	for _, t := range rep.Thresholds {
		if !t.OK {
			breached = append(breached, t.Expression)
		}
	}
	switch len(breached) {
	case 0:
	case 1:
		failed = append(failed, "threshold "+breached[0]+" breached")
	default:
		failed = append(failed, "thresholds "+strings.Join(breached, ", ")+" breached")
	}
	if rep.Baseline != nil && rep.Baseline.Regressions > 0 {
		failed = append(failed, regressionError(rep.Baseline, opts.Baseline).Error())
	}
	if len(failed) == 0 {
		return nil
	}
	return cmdutil.Failed(errors.New(strings.Join(failed, "; ")))
}

func unreachableKinds(s *lt.RequestStats) string {
	var parts []string
	for _, k := range []string{"connection_refused", "dns"} {
		if n := s.Errors[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", k, n))
		}
	}
	return strings.Join(parts, ", ")
}
