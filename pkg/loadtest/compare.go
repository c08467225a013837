package loadtest

import (
	"fmt"
	"math"
)

// Metric names of a [Check], as they appear in JSON.
const (
	MetricP50Latency = "p50_latency"
	MetricP95Latency = "p95_latency"
	MetricP99Latency = "p99_latency"
	MetricThroughput = "throughput"
	MetricErrorRate  = "error_rate"
)

// ErrorRateFloor is the rise in error rate, as a fraction, that a
// comparison always tolerates: without it, a single stray error against a
// clean baseline would be an infinite relative rise.
const ErrorRateFloor = 0.001

// DefaultTolerance is the relative change a comparison tolerates by
// default: 10%.
const DefaultTolerance = 0.10

// Check compares one metric of a run with its baseline. Latencies are in
// milliseconds, throughput in requests per second, error rates are
// fractions.
type Check struct {
	Metric   string  `json:"metric"`
	Current  float64 `json:"current"`
	Baseline float64 `json:"baseline"`
	// Change is (Current-Baseline)/Baseline; null when the baseline is 0
	// and the current value is not.
	Change     *float64 `json:"change"`
	Regression bool     `json:"regression"`
}

// BaselineResult is the comparison of a run with a baseline report.
type BaselineResult struct {
	File        string  `json:"file,omitempty"`
	Tolerance   float64 `json:"tolerance"`
	Checks      []Check `json:"checks"`
	Regressions int     `json:"regressions"`
}

// Compare compares current with baseline on p50, p95 and p99 latency,
// throughput and error rate. A metric regresses when it gets worse by more
// than tolerance, relative to the baseline (0.1 is 10%): latency or error
// rate rising, throughput falling. The error rate must also rise by more
// than [ErrorRateFloor].
func Compare(baseline, current *Report, tolerance float64) *BaselineResult {
	b, c := &baseline.Summary, &current.Summary
	res := &BaselineResult{Tolerance: tolerance}
	add := func(metric string, cur, base float64, higherIsWorse bool, floor float64) {
		ch := Check{Metric: metric, Current: cur, Baseline: base}
		switch {
		case base != 0:
			v := round6((cur - base) / base)
			ch.Change = &v
		case cur == 0:
			v := 0.0
			ch.Change = &v
		}
		worse := cur - base
		if !higherIsWorse {
			worse = -worse
		}
		// A tiny epsilon keeps exact-tolerance changes (10.0% with a 10%
		// tolerance) on the passing side despite float rounding.
		ch.Regression = worse > tolerance*math.Abs(base)+1e-9 && worse > floor
		if ch.Regression {
			res.Regressions++
		}
		res.Checks = append(res.Checks, ch)
	}
	add(MetricP50Latency, c.Latency.P50, b.Latency.P50, true, 0)
	add(MetricP95Latency, c.Latency.P95, b.Latency.P95, true, 0)
	add(MetricP99Latency, c.Latency.P99, b.Latency.P99, true, 0)
	add(MetricThroughput, c.Throughput, b.Throughput, false, 0)
	add(MetricErrorRate, c.ErrorRate, b.ErrorRate, true, ErrorRateFloor)
	return res
}

// Label is the metric's name for people: "p95 latency".
func (c Check) Label() string {
	switch c.Metric {
	case MetricP50Latency:
		return "p50 latency"
	case MetricP95Latency:
		return "p95 latency"
	case MetricP99Latency:
		return "p99 latency"
	case MetricErrorRate:
		return "error rate"
	default:
		return c.Metric
	}
}

func (c Check) format(v float64) string {
	switch c.Metric {
	case MetricThroughput:
		return FormatRate(v)
	case MetricErrorRate:
		return FormatPercent(v)
	default:
		return FormatMS(v)
	}
}

// Line is the check as the runbook prints it, without the ✓/✗ mark:
// "p99 latency: 250ms (baseline: 180ms, +38.9%) [REGRESSION]".
func (c Check) Line() string {
	change := "n/a"
	if c.Change != nil {
		change = fmtChange(*c.Change)
	}
	s := fmt.Sprintf("%s: %s (baseline: %s, %s)", c.Label(), c.format(c.Current), c.format(c.Baseline), change)
	if c.Regression {
		s += " [REGRESSION]"
	}
	return s
}

// Mark is "✓" when ok and "✗" otherwise.
func Mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}
