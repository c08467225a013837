package loadtest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/tars-ops/tarsctl/pkg/loadtest"
)

// An open-loop attack at 500 requests per second, bounded to 100
// requests, with its verdict against a threshold.
func ExampleAttacker() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()

	tr, err := loadtest.NewTargeter(loadtest.Target{Name: "health", URL: srv.URL + "/health"})
	if err != nil {
		panic(err)
	}
	attacker := loadtest.NewAttacker(
		loadtest.Rate(500),
		loadtest.Workers(10),
		loadtest.MaxRequests(100),
		loadtest.Duration(10*time.Second),
	)
	metrics := loadtest.NewMetrics()
	stats, err := attacker.Attack(context.Background(), tr, metrics)
	if err != nil {
		panic(err)
	}
	report := loadtest.NewReport(metrics, stats)
	fmt.Println("requests:", report.Summary.Requests, "status codes:", report.Summary.StatusCodes)

	th, err := loadtest.ParseThreshold("error_rate<1%")
	if err != nil {
		panic(err)
	}
	res := th.Evaluate(report)
	fmt.Println(loadtest.Mark(res.OK), res.Line())
	// Output:
	// requests: 100 status codes: map[200:100]
	// ✓ threshold error_rate<1%: 0.00%
}

// Comparing a run with a baseline, as `tarsctl loadtest compare` does.
func ExampleCompare() {
	baseline := &loadtest.Report{Summary: loadtest.RequestStats{
		Throughput: 1000, Latency: loadtest.LatencySummary{P50: 80, P95: 120, P99: 180},
	}}
	current := &loadtest.Report{Summary: loadtest.RequestStats{
		Throughput: 990, Latency: loadtest.LatencySummary{P50: 82, P95: 125, P99: 250},
	}}
	res := loadtest.Compare(baseline, current, loadtest.DefaultTolerance)
	for _, c := range res.Checks {
		fmt.Println(loadtest.Mark(!c.Regression), c.Line())
	}
	// Output:
	// ✓ p50 latency: 82ms (baseline: 80ms, +2.5%)
	// ✓ p95 latency: 125ms (baseline: 120ms, +4.2%)
	// ✗ p99 latency: 250ms (baseline: 180ms, +38.9%) [REGRESSION]
	// ✓ throughput: 990.0 req/s (baseline: 1000.0 req/s, -1.0%)
	// ✓ error rate: 0.00% (baseline: 0.00%, +0.0%)
}

// A scenario file's requests, logged in, as targets.
func ExampleParseScenario() {
	scenario := []byte(`
login:
  username: operator
  password: ${TARS_LOADTEST_PASSWORD}
requests:
  - name: list agents
    path: /api/agents
    weight: 3
  - path: /api/compliance/status
`)
	s, err := loadtest.ParseScenario(scenario, os.Getenv)
	if err != nil {
		fmt.Println(err)
		return
	}
	targets, _ := s.Targets("http://localhost:3001", "")
	for _, t := range targets {
		fmt.Println(t.Name, t.URL)
	}
}

// A report in Markdown, for an incident or a pull request.
func ExampleMarkdownReporter() {
	report := &loadtest.Report{Config: loadtest.Config{URL: "http://localhost:3001", Mode: loadtest.ModeClosed, Concurrency: 100}}
	_ = loadtest.MarkdownReporter{Title: "Dashboard API"}.Report(os.Stdout, report)
}
