package loadtest

import (
	"fmt"
	"strings"
	"testing"
)

func summaryReport(p50, p95, p99, rps, errRate float64) *Report {
	return &Report{SchemaVersion: 1, Summary: RequestStats{
		Requests: 1000, Throughput: rps, ErrorRate: errRate,
		Latency: LatencySummary{P50: p50, P95: p95, P99: p99},
	}}
}

// TestCompareLines checks the runbook's lines, golden: the example of the
// issue (p99 250ms against 180ms is +38.9%, a regression; p95 125ms
// against 120ms is +4.2%, within 10%) and the edge cases.
func TestCompareLines(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name            string
		baseline, run   *Report
		tolerance       float64
		wantRegressions int
	}{
		{"runbook", summaryReport(80, 120, 180, 1000, 0.001), summaryReport(82, 125, 250, 990, 0.001), 0.10, 1},
		{"all better", summaryReport(80, 120, 180, 1000, 0.01), summaryReport(60, 100, 150, 1200, 0.002), 0.10, 0},
		{"exactly at tolerance", summaryReport(100, 100, 100, 1000, 0.1), summaryReport(110, 110, 110, 900, 0.11), 0.10, 0},
		{"throughput drop and errors", summaryReport(10, 20, 30, 1000, 0), summaryReport(10, 20, 30, 700, 0.05), 0.10, 2},
		{"stray error against a clean baseline", summaryReport(10, 20, 30, 1000, 0), summaryReport(10, 20, 30, 1000, 0.0005), 0.10, 0},
		{"zero tolerance", summaryReport(10, 20, 30, 1000, 0), summaryReport(10.001, 20, 30, 1000, 0), 0, 1},
		{"zero baseline latency", summaryReport(0, 0, 0, 1000, 0), summaryReport(0.5, 0.5, 0.5, 1000, 0), 0.10, 3},
	}
	var out strings.Builder
	for _, tc := range cases {
		res := Compare(tc.baseline, tc.run, tc.tolerance)
		fmt.Fprintf(&out, "# %s (tolerance %s)\n", tc.name, FormatTolerance(tc.tolerance))
		for _, c := range res.Checks {
			fmt.Fprintf(&out, "%s %s\n", Mark(!c.Regression), c.Line())
		}
		if res.Regressions != tc.wantRegressions {
			t.Errorf("%s: %d regressions, want %d", tc.name, res.Regressions, tc.wantRegressions)
		}
	}
	assertGolden(t, []byte(out.String()))
	// The example lines, verbatim.
	for _, want := range []string{
		"✗ p99 latency: 250ms (baseline: 180ms, +38.9%) [REGRESSION]",
		"✓ p95 latency: 125ms (baseline: 120ms, +4.2%)",
	} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("output lacks %q", want)
		}
	}
}
