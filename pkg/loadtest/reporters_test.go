package loadtest

import (
	"bytes"
	"strings"
	"testing"
)

// goldenReport is a complete report built from fixed results: every
// section of the Markdown report has something in it.
func goldenReport(t testing.TB, mode Mode) *Report {
	t.Helper()
	st := fixedStats(mode)
	if mode == ModeOpen {
		st.Due = 200
	}
	rep := NewReport(fixedMetrics(mode == ModeOpen), st)
	rep.Tool = "tarsctl 1.2.3"
	rep.Config.URL = "http://127.0.0.1:3001"
	rep.Config.Scenario = "dashboard.yaml"
	for _, expr := range []string{"p95<200ms", "error_rate<1%", "p99{name:login}<5ms"} {
		th, err := ParseThreshold(expr)
		if err != nil {
			t.Fatal(err)
		}
		rep.Thresholds = append(rep.Thresholds, th.Evaluate(rep))
	}
	base := *rep
	base.Summary.Latency.P50, base.Summary.Latency.P95, base.Summary.Latency.P99 = 40, 91.2, 71.3
	base.Summary.Throughput, base.Summary.ErrorRate = 12.5, 0.05
	rep.Baseline = Compare(&base, rep, DefaultTolerance)
	rep.Baseline.File = "baseline.json"
	return rep
}

func TestMarkdownReporter(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModeOpen, ModeClosed} {
		t.Run(string(mode), func(t *testing.T) {
			var buf bytes.Buffer
			if err := (MarkdownReporter{}).Report(&buf, goldenReport(t, mode)); err != nil {
				t.Fatal(err)
			}
			assertGolden(t, buf.Bytes())
		})
	}
}

func TestTextReporter(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModeOpen, ModeClosed} {
		t.Run(string(mode), func(t *testing.T) {
			var buf bytes.Buffer
			if err := (TextReporter{}).Report(&buf, goldenReport(t, mode)); err != nil {
				t.Fatal(err)
			}
			assertGolden(t, buf.Bytes())
		})
	}
}

func TestMarkdownEscapesCells(t *testing.T) {
	t.Parallel()
	rep := goldenReport(t, ModeClosed)
	rep.ByRequest[0].Name = "a|b\nc"
	var buf bytes.Buffer
	if err := (MarkdownReporter{Title: "T"}).Report(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `| a\|b c |`) || !strings.HasPrefix(buf.String(), "# T\n") {
		t.Errorf("cell not escaped:\n%s", buf.String())
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ got, want string }{
		{FormatMS(125), "125ms"},
		{FormatMS(250.4), "250ms"},
		{FormatMS(5.123), "5.12ms"},
		{FormatMS(5.1), "5.1ms"},
		{FormatMS(0.4213), "0.421ms"},
		{FormatMS(0), "0ms"},
		{FormatMS(1250), "1.25s"},
		{FormatMS(123456), "123s"},
		{FormatMS(9.996), "10ms"},
		{FormatRate(1234.56), "1234.6 req/s"},
		{FormatPercent(0.0012), "0.12%"},
		{fmtChange(0.0417), "+4.2%"},
		{fmtChange(-0.1667), "-16.7%"},
		{fmtChange(-0.00001), "+0.0%"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
