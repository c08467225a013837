package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	lt "github.com/tars-ops/tarsctl/pkg/loadtest"
)

// exitCode maps an error to its exit code the way internal/app does, for
// the cases these commands produce.

func testFactory(ios *iostreams.IOStreams, env map[string]string) *cmdutil.Factory {
	return &cmdutil.Factory{
		IOStreams: ios,
		Globals:   &cmdutil.GlobalFlags{Output: cmdutil.OutputText},
		Getenv:    func(k string) string { return env[k] },
		Now:       time.Now,
	}
}

// splitArgs splits a command line on spaces, keeping 'single-quoted'
// words together.
func splitArgs(s string) []string {
	var (
		args   []string
		cur    strings.Builder
		quoted bool
		inWord bool
	)
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args
}

// execute runs cmd with the command line args, as the root command would.
func execute(cmd *cobra.Command, args string) error {
	cmd.SetArgs(splitArgs(args))
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	return cmd.ExecuteContext(context.Background())
}

func TestNewCmdRun(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		args    string
		want    func(*RunOptions) bool
		wantErr string
	}{
		{
			name: "closed loop, the runbook's locust run",
			args: "--url http://h:3001 --duration 10m --concurrency 100 --spawn-rate 10",
			want: func(o *RunOptions) bool {
				return o.URL == "http://h:3001" && o.Duration == 10*time.Minute && o.Concurrency == 100 && o.SpawnRate == 10 &&
					o.Rate == 0 && o.Method == "GET" && o.Tolerance == 0.1 && o.Timeout == lt.DefaultTimeout && o.Client == "builtin"
			},
		},
		{
			name: "open loop with verdicts",
			args: "--url https://h/x --rate 500 -n 1000 --baseline b.json --tolerance 5% --threshold p95<200ms --threshold 'error_rate < 1%' --output-json r.json --output-md r.md",
			want: func(o *RunOptions) bool {
				return o.Rate == 500 && o.Requests == 1000 && o.Tolerance == 0.05 && len(o.Thresholds) == 2 &&
					o.Thresholds[1].Stat == "error_rate" && o.OutputJSON == "r.json" && o.OutputMD == "r.md"
			},
		},
		{
			name: "request shape",
			args: "--url http://h/x -n 5 -X post -H 'Content-Type: application/json' --body '{}'",
			want: func(o *RunOptions) bool {
				return o.Method == "POST" && len(o.Headers) == 1 && o.Body == "{}"
			},
		},
		{name: "unbounded", args: "--url http://h/", wantErr: "every run must be bounded"},
		{name: "rate and spawn rate", args: "--url http://h/ -d 1s --rate 10 --spawn-rate 2", wantErr: "--rate and --spawn-rate cannot be used together"},
		{name: "rate and think time", args: "--url http://h/ -d 1s --rate 10 --think-time 1s", wantErr: "--rate and --think-time"},
		{name: "zero rate", args: "--url http://h/ -d 1s --rate 0", wantErr: "invalid --rate 0"},
		{name: "bad threshold", args: "--url http://h/ -d 1s --threshold 'p95 200ms'", wantErr: `invalid --threshold: bad threshold "p95 200ms": no comparison`},
		{name: "unknown statistic", args: "--url http://h/ -d 1s --threshold p75<1s", wantErr: `unknown statistic "p75"`},
		{name: "bad tolerance", args: "--url http://h/ -d 1s --baseline b.json --tolerance 10", wantErr: "write it as a percentage"},
		{name: "tolerance without baseline", args: "--url http://h/ -d 1s --tolerance 5%", wantErr: "--tolerance needs --baseline"},
		{name: "no url", args: "-d 1s", wantErr: "--url is required"},
		{name: "bad url", args: "--url localhost:3001 -d 1s", wantErr: "invalid --url"},
		{name: "credentials in url", args: "--url http://u:pw@h/ -d 1s", wantErr: `"http://u:xxxxx@h/"`},
		{name: "bad method", args: "--url http://h/ -d 1s -X FETCH", wantErr: `invalid --method "FETCH"`},
		{name: "bad header", args: "--url http://h/ -d 1s -H 'NoColon'", wantErr: `invalid --header "NoColon"`},
		{name: "scenario and method", args: "--url http://h/ -d 1s --scenario s.yaml -X POST", wantErr: "with --scenario, set them in the scenario file"},
		{name: "zero concurrency", args: "--url http://h/ -d 1s -c 0", wantErr: "invalid --concurrency 0"},
		{name: "negative duration", args: "--url http://h/ -d -1s -n 3", wantErr: "invalid --duration"},
		{name: "bad duration", args: "--url http://h/ -d soon", wantErr: "invalid argument"},
		{name: "argument", args: "http://h/ -d 1s", wantErr: "takes no arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *RunOptions
			cmd := NewCmdRun(testFactory(ios, nil), func(_ context.Context, o *RunOptions) error {
				got = o
				return nil
			})
			err := execute(cmd, tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
					t.Fatalf("err = %v (exit %d), want a usage error saying %q", err, cmdutil.ExitCode(err), tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(got) {
				t.Errorf("options %+v", got)
			}
		})
	}
}

// okServer answers 200 and counts requests.
func okServer(t *testing.T, hits *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits != nil {
			hits.Add(1)
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func baseRunOptions(ios *iostreams.IOStreams, url string) *RunOptions {
	return &RunOptions{
		IO:               ios,
		Getenv:           func(string) string { return "" },
		Now:              time.Now,
		Tool:             "tarsctl test",
		URL:              url,
		Method:           http.MethodGet,
		Requests:         40,
		Concurrency:      4,
		Timeout:          5 * time.Second,
		Client:           lt.ClientBuiltin,
		Tolerance:        lt.DefaultTolerance,
		ProgressInterval: time.Hour,
		Output:           cmdutil.OutputText,
	}
}

func readJSONReport(t *testing.T, path string) *lt.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := lt.ReadReport(f)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func Test_runRun(t *testing.T) {
	t.Parallel()
	t.Run("text with reports", func(t *testing.T) {
		t.Parallel()
		srv := okServer(t, nil)
		dir := t.TempDir()
		ios, _, stdout, stderr := iostreams.Test()
		opts := baseRunOptions(ios, srv.URL+"/health?token=abc")
		opts.OutputJSON, opts.OutputMD = filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md")
		if err := runRun(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Mode          closed loop, 4 users\n", "Requests      40 (", "0 failed (0.00%)", "Status codes  200: 40\n", "Latency       min "} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
		if strings.Contains(stdout.String(), "abc") {
			t.Error("the URL's query (it may hold a token) was printed")
		}
		if !strings.Contains(stderr.String(), "✓ wrote "+opts.OutputJSON) {
			t.Errorf("stderr %q", stderr)
		}
		rep := readJSONReport(t, opts.OutputJSON)
		if rep.Summary.Requests != 40 || rep.Tool != "tarsctl test" || rep.Config.Concurrency != 4 {
			t.Errorf("report %+v", rep)
		}
		md, _ := os.ReadFile(opts.OutputMD)
		if !strings.HasPrefix(string(md), "# Load test report\n") || !strings.Contains(string(md), "| **all** | 40 |") {
			t.Errorf("markdown report:\n%s", md)
		}
	})

	t.Run("json lines", func(t *testing.T) {
		t.Parallel()
		srv := okServer(t, nil)
		ios, _, stdout, stderr := iostreams.Test()
		opts := baseRunOptions(ios, srv.URL)
		opts.Output = cmdutil.OutputJSON
		opts.Rate = 1000
		if err := runRun(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		var last struct {
			Type string `json:"type"`
			lt.Report
		}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
			t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
		}
		if last.Type != "report" || last.Summary.Requests != 40 || last.Config.Mode != lt.ModeOpen || last.Summary.ServiceTime == nil {
			t.Errorf("report line %+v", last)
		}
		// stderr holds nothing but warnings (a busy machine may delay
		// sends); the data is all on stdout.
		for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if l != "" && !strings.HasPrefix(l, "! ") {
				t.Errorf("stderr line %q", l)
			}
		}
	})

	t.Run("breached threshold and regression", func(t *testing.T) {
		t.Parallel()
		srv := okServer(t, nil)
		dir := t.TempDir()
		base := filepath.Join(dir, "base.json")
		// A baseline far faster than any real run: every latency regresses.
		fast := `{"schema_version":1,"summary":{"requests":100,"throughput_rps":1,"error_rate":0,"latency":{"p50_ms":0.001,"p95_ms":0.001,"p99_ms":0.001}}}`
		if err := os.WriteFile(base, []byte(fast), 0o644); err != nil {
			t.Fatal(err)
		}
		ios, _, stdout, _ := iostreams.Test()
		opts := baseRunOptions(ios, srv.URL)
		opts.Baseline, opts.OutputJSON = base, filepath.Join(dir, "r.json")
		for _, expr := range []string{"p95<1us", "error_rate<1%"} {
			th, _ := lt.ParseThreshold(expr)
			opts.Thresholds = append(opts.Thresholds, th)
		}
		err := runRun(context.Background(), opts)
		if cmdutil.ExitCode(err) != 1 {
			t.Fatalf("err = %v (exit %d), want exit 1", err, cmdutil.ExitCode(err))
		}
		want := "threshold p95<1us breached; 3 regressions against " + base + " (tolerance 10%): p50 latency +"
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error %q, want it to start %q", err, want)
		}
		for _, want := range []string{"\n✗ threshold p95<1us: ", " [BREACHED]\n", "✓ threshold error_rate<1%: 0.00%\n", "✗ p99 latency: ", "(baseline: 0.001ms, +", "[REGRESSION]\n", "✓ error rate: 0.00% (baseline: 0.00%, +0.0%)\n"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
		rep := readJSONReport(t, opts.OutputJSON)
		if rep.Baseline == nil || rep.Baseline.Regressions != 3 || len(rep.Thresholds) != 2 || rep.Thresholds[0].OK {
			t.Errorf("verdicts in the report: %+v %+v", rep.Baseline, rep.Thresholds)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String() + "/"
		ln.Close()
		ios, _, stdout, _ := iostreams.Test()
		err = runRun(context.Background(), baseRunOptions(ios, url))
		if cmdutil.ExitCode(err) != cmdutil.ExitUnreachable || !strings.Contains(err.Error(), "all 40 requests failed to connect (connection_refused: 40)") {
			t.Errorf("err = %v (exit %d), want exit 3", err, cmdutil.ExitCode(err))
		}
		if !strings.Contains(stdout.String(), "connection_refused: 40\n") {
			t.Errorf("stdout:\n%s", stdout)
		}
	})

	t.Run("some failures are not unreachable", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1)%2 == 0 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}))
		defer srv.Close()
		ios, _, stdout, _ := iostreams.Test()
		if err := runRun(context.Background(), baseRunOptions(ios, srv.URL)); err != nil {
			t.Errorf("err = %v: without thresholds, errors are reported, not fatal", err)
		}
		if !strings.Contains(stdout.String(), "Errors        http_5xx: 20") {
			t.Errorf("stdout:\n%s", stdout)
		}
	})

	t.Run("interrupted still writes the report", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 30 {
				cancel() // Ctrl-C
			}
		}))
		defer srv.Close()
		dir := t.TempDir()
		ios, _, _, stderr := iostreams.Test()
		opts := baseRunOptions(ios, srv.URL)
		opts.Requests, opts.Duration = 0, time.Hour
		opts.OutputJSON, opts.OutputMD = filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md")
		err := runRun(ctx, opts)
		if cmdutil.ExitCode(err) != cmdutil.ExitInterrupted {
			t.Fatalf("err = %v (exit %d), want 130", err, cmdutil.ExitCode(err))
		}
		rep := readJSONReport(t, opts.OutputJSON)
		// The 30th request cancels; the 3 others in flight may still
		// complete before the abort reaches them.
		if !rep.Interrupted || rep.Summary.Requests < 20 || rep.Summary.Requests > 33 {
			t.Errorf("interrupted %v, %d requests", rep.Interrupted, rep.Summary.Requests)
		}
		if _, err := os.Stat(opts.OutputMD); err != nil {
			t.Error(err)
		}
		if !strings.Contains(stderr.String(), "! the run was interrupted after") {
			t.Errorf("stderr %q", stderr)
		}
	})

	t.Run("bad baseline stops before any request", func(t *testing.T) {
		t.Parallel()
		var hits atomic.Int64
		srv := okServer(t, &hits)
		dir := t.TempDir()
		base := filepath.Join(dir, "base.json")
		if err := os.WriteFile(base, []byte(`{"nope": true}`), 0o644); err != nil {
			t.Fatal(err)
		}
		ios, _, _, _ := iostreams.Test()
		opts := baseRunOptions(ios, srv.URL)
		for _, b := range []string{base, filepath.Join(dir, "missing.json")} {
			opts.Baseline = b
			if err := runRun(context.Background(), opts); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
				t.Errorf("baseline %s: err = %v (exit %d), want 2", b, err, cmdutil.ExitCode(err))
			}
		}
		opts.Baseline, opts.OutputJSON = "", filepath.Join(dir, "no", "such", "dir", "r.json")
		if err := runRun(context.Background(), opts); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("report in a missing directory: err = %v, want exit 2", err)
		}
		if hits.Load() != 0 {
			t.Errorf("%d requests sent despite bad input", hits.Load())
		}
	})
}

const scenarioYAML = `login:
  username: operator
  password: ${TARS_LOADTEST_PASSWORD}
requests:
  - name: list agents
    path: /api/agents
    weight: 3
  - name: compliance
    path: /api/compliance/status
`

// dashboardServer wants a login and the token it hands out.
func dashboardServer(t *testing.T, hits *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/auth/login" {
			var creds map[string]string
			if err := json.NewDecoder(r.Body).Decode(&creds); err != nil || creds["password"] != "hunter2-secret" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_, _ = w.Write([]byte(`{"access_token":"tok-SECRET-123","token_type":"bearer"}`))
			return
		}
		if r.Header.Get("Authorization") != "Bearer tok-SECRET-123" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("[]"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func Test_runRunScenario(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	scenario := filepath.Join(dir, "dashboard.yaml")
	if err := os.WriteFile(scenario, []byte(scenarioYAML), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("login, weights, no secrets anywhere", func(t *testing.T) {
		t.Parallel()
		var hits atomic.Int64
		srv := dashboardServer(t, &hits)
		out := t.TempDir()
		ios, _, stdout, stderr := iostreams.Test()
		opts := baseRunOptions(ios, srv.URL)
		opts.Scenario, opts.Requests = scenario, 80
		opts.Getenv = func(k string) string { return map[string]string{"TARS_LOADTEST_PASSWORD": "hunter2-secret"}[k] }
		opts.OutputJSON, opts.OutputMD = filepath.Join(out, "r.json"), filepath.Join(out, "r.md")
		th, _ := lt.ParseThreshold("error_rate<1%")
		opts.Thresholds = []lt.Threshold{th}
		if err := runRun(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		rep := readJSONReport(t, opts.OutputJSON)
		names := map[string]int64{}
		for _, r := range rep.ByRequest {
			names[r.Name] = r.Requests
		}
		if names["list agents"] != 60 || names["compliance"] != 20 || rep.Summary.StatusCodes["200"] != 80 {
			t.Errorf("by request %v, status codes %v", names, rep.Summary.StatusCodes)
		}
		if hits.Load() != 81 {
			t.Errorf("server saw %d requests, want 80 and one login", hits.Load())
		}
		md, _ := os.ReadFile(opts.OutputMD)
		js, _ := os.ReadFile(opts.OutputJSON)
		for name, text := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String(), "markdown": string(md), "json": string(js)} {
			for _, secret := range []string{"hunter2-secret", "tok-SECRET-123"} {
				if strings.Contains(text, secret) {
					t.Errorf("%s holds a secret", name)
				}
			}
		}
	})

	t.Run("login refused", func(t *testing.T) {
		t.Parallel()
		var hits atomic.Int64
		srv := dashboardServer(t, &hits)
		ios, _, _, _ := iostreams.Test()
		opts := baseRunOptions(ios, srv.URL)
		opts.Scenario = scenario
		opts.Getenv = func(k string) string { return map[string]string{"TARS_LOADTEST_PASSWORD": "wrong-password"}[k] }
		err := runRun(context.Background(), opts)
		if cmdutil.ExitCode(err) != cmdutil.ExitPermission || strings.Contains(err.Error(), "wrong-password") {
			t.Errorf("err = %v (exit %d), want exit 4 without the password", err, cmdutil.ExitCode(err))
		}
		if hints := cmdutil.Hints(err); len(hints) == 0 || !strings.Contains(hints[0], "dashboard.yaml") {
			t.Errorf("hints %q", hints)
		}
		if hits.Load() != 1 {
			t.Errorf("%d requests after a refused login", hits.Load())
		}
	})

	t.Run("bad scenarios are usage errors", func(t *testing.T) {
		t.Parallel()
		for name, content := range map[string]string{
			"unknown key": "requests:\n  - path: /a\n    metod: GET\n",
			"bad method":  "requests:\n  - path: /a\n    method: FETCH\n",
			"unset var":   scenarioYAML,
		} {
			path := filepath.Join(t.TempDir(), "s.yaml")
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			ios, _, _, _ := iostreams.Test()
			opts := baseRunOptions(ios, "http://127.0.0.1:1")
			opts.Scenario = path
			err := runRun(context.Background(), opts)
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), `read scenario "`+path+`": bad scenario: `) {
				t.Errorf("%s: err = %v (exit %d), want a usage error naming the file", name, err, cmdutil.ExitCode(err))
			}
		}
	})
}

func TestProgress(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// 12345 requests, 12 failed, all at 12.3ms.
	m := lt.NewMetrics()
	batch := make([]lt.Result, 12345)
	for i := range batch {
		batch[i] = lt.Result{Name: "x", Latency: 12300 * time.Microsecond, Code: 200}
		if i < 12 {
			batch[i].Code = 503
		}
	}
	m.Record(batch)
	const ttyLine = "10s elapsed  1234.5 req/s  p95 12.3ms  12345 requests  12 errors (0.10%)"
	for _, tc := range []struct {
		name   string
		setup  func(*RunOptions, *iostreams.IOStreams)
		stdout string
		stderr string
	}{
		{
			name:   "ci log lines",
			stderr: "progress: 10s elapsed, 12345 requests, 1234.5 req/s, p95 12.3ms, 12 errors (0.10%)\n",
		},
		{
			name:   "terminal",
			setup:  func(_ *RunOptions, ios *iostreams.IOStreams) { ios.SetStderrTTY(true) },
			stderr: "\r" + ttyLine + "\r" + strings.Repeat(" ", len(ttyLine)) + "\r",
		},
		{
			name:   "json",
			setup:  func(o *RunOptions, _ *iostreams.IOStreams) { o.Output = cmdutil.OutputJSON },
			stdout: `{"elapsed_seconds":10,"error_rate":0.0009720534629404617,"failed":12,"p95_ms":12.303,"requests":12345,"rps":1234.5,"type":"status"}` + "\n",
		},
		{
			name:  "quiet",
			setup: func(o *RunOptions, _ *iostreams.IOStreams) { o.Quiet = true },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ios, _, stdout, stderr := iostreams.Test()
			opts := baseRunOptions(ios, "")
			opts.ProgressInterval = 10 * time.Second
			if tc.setup != nil {
				tc.setup(opts, ios)
			}
			clock := start
			opts.Now = func() time.Time { return clock }
			ticks := make(chan time.Time)
			var interval time.Duration
			opts.testOnlyTicker = func(d time.Duration) (<-chan time.Time, func()) {
				interval = d
				return ticks, func() {}
			}
			p := newProgress(opts)
			stop := p.start(m)
			if p.mode != progressNone {
				clock = start.Add(10 * time.Second)
				ticks <- clock // one report; the loop has it before it can take another
				ticks <- clock
				want := opts.ProgressInterval
				if p.mode == progressTTY {
					want = ttyRefresh
				}
				if interval != want {
					t.Errorf("ticker interval %v, want %v", interval, want)
				}
			}
			stop()
			gotErr, gotOut := stderr.String(), stdout.String()
			// The second tick repeats the first report; keep one.
			if i := strings.Index(gotErr, "\n"); i >= 0 {
				gotErr = gotErr[:i+1]
			}
			if i := strings.Index(gotOut, "\n"); i >= 0 {
				gotOut = gotOut[:i+1]
			}
			if p.mode == progressTTY {
				line := strings.Split(gotErr, "\r")[1]
				gotErr = "\r" + line + gotErr[strings.LastIndex(gotErr[:len(gotErr)-1], "\r"):]
			}
			if gotErr != tc.stderr || gotOut != tc.stdout {
				t.Errorf("stderr %q\nwant   %q\nstdout %q\nwant   %q", gotErr, tc.stderr, gotOut, tc.stdout)
			}
		})
	}
}
