package loadtest

import (
	"errors"
	"strings"
	"testing"
)

func TestParseThreshold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Threshold
	}{
		{"p95<200ms", Threshold{Stat: "p95", Op: "<", Value: 200}},
		{" p(99) <= 1.5s ", Threshold{Stat: "p99", Op: "<=", Value: 1500}},
		{"avg<100", Threshold{Stat: "avg", Op: "<", Value: 100}},
		{"mean<250us", Threshold{Stat: "avg", Op: "<", Value: 0.25}},
		{"med>1ms", Threshold{Stat: "p50", Op: ">", Value: 1}},
		{"p99.9<2s", Threshold{Stat: "p99.9", Op: "<", Value: 2000}},
		{"p(99.9)<2s", Threshold{Stat: "p99.9", Op: "<", Value: 2000}},
		{"max<1m", Threshold{Stat: "max", Op: "<", Value: 60000}},
		{"error_rate<1%", Threshold{Stat: "error_rate", Op: "<", Value: 0.01}},
		{"error_rate<=0.05", Threshold{Stat: "error_rate", Op: "<=", Value: 0.05}},
		{"rps>=500", Threshold{Stat: "rps", Op: ">=", Value: 500}},
		{"throughput>10/s", Threshold{Stat: "rps", Op: ">", Value: 10}},
		{"p95{name:login}<300ms", Threshold{Name: "login", Stat: "p95", Op: "<", Value: 300}},
		{"p95{name: list agents}<300ms", Threshold{Name: "list agents", Stat: "p95", Op: "<", Value: 300}},
		{`P95{name="GET /api"}<300ms`, Threshold{Name: "GET /api", Stat: "p95", Op: "<", Value: 300}},
	} {
		got, err := ParseThreshold(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		tc.want.Expr = tc.in
		if got != tc.want {
			t.Errorf("%q = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseThresholdErrors(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"p95":                "no comparison",
		"p95=200ms":          "comparison must be",
		"p95<<200ms":         "more than one comparison",
		"p75<200ms":          `unknown statistic "p75"`,
		"<200ms":             "missing statistic",
		"p95<":               "missing value",
		"p95<fast":           "must be a duration",
		"p95<-5ms":           "must not be negative",
		"error_rate<200%":    "percentage from 0% to 100%",
		"error_rate<2":       "fraction from 0 to 1",
		"rps>many":           "requests per second",
		"p95{host:a}<1ms":    "selector must be {name:NAME}",
		"p95{name:a<1ms":     "unclosed {",
		"latency.p95 < 10ms": "unknown statistic",
	} {
		_, err := ParseThreshold(in)
		if !errors.Is(err, ErrBadThreshold) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to say %q", in, err, want)
		}
	}
}

func TestThresholdEvaluate(t *testing.T) {
	t.Parallel()
	rep := NewReport(fixedMetrics(false), fixedStats(ModeClosed))
	for _, tc := range []struct {
		expr string
		ok   bool
		line string
	}{
		{"p95<200ms", true, "threshold p95<200ms: 95ms"},
		{"p99<50", false, "threshold p99<50: 99ms [BREACHED]"},
		{"error_rate<1%", false, "threshold error_rate<1%: 4.55% [BREACHED]"},
		{"rps>=11", true, "threshold rps>=11: 11.0 req/s"},
		{"max<=7ms", false, "threshold max<=7ms: 100ms [BREACHED]"},
		{"max{name:login}<=7ms", true, "threshold max{name:login}<=7ms: 7ms"},
		{"p95{name:logout}<1s", false, `threshold p95{name:logout}<1s: no requests named "logout" [BREACHED]`},
		{"min>0.5", true, "threshold min>0.5: 1ms"},
		{"avg<46.545", false, "threshold avg<46.545: 46.5ms [BREACHED]"},
	} {
		th, err := ParseThreshold(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		res := th.Evaluate(rep)
		if res.OK != tc.ok || res.Line() != tc.line {
			t.Errorf("%s: ok %v, line %q; want %v, %q", tc.expr, res.OK, res.Line(), tc.ok, tc.line)
		}
	}
	th, _ := ParseThreshold("p95<1s")
	if res := th.Evaluate(&Report{}); res.OK || res.Error == "" {
		t.Errorf("threshold on an empty report: %+v", res)
	}
}

func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"p95<200ms", "error_rate<1%", "rps>=500", "p(99.9)<=1s", "p95{name:x}<1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThreshold(s)
		if err != nil {
			if th != (Threshold{}) {
				t.Fatalf("error %v with a threshold %+v", err, th)
			}
			return
		}
		// A parsed threshold parses again to the same thing.
		again, err := ParseThreshold(th.Expr)
		if err != nil || again != th {
			t.Fatalf("%q: reparsed to %+v, %v", s, again, err)
		}
		_ = th.Evaluate(&Report{})
	})
}
