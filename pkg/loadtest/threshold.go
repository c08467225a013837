package loadtest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Threshold is a pass/fail condition on a report, written as k6 writes
// them: STAT[{name:NAME}] OP VALUE, for example
//
//	p95<200ms          95th percentile latency under 200 ms
//	p(99)<=1s          k6's percentile spelling
//	avg<100            a bare number is milliseconds, as in k6
//	error_rate<1%      or error_rate<0.01
//	rps>=500           throughput
//	p95{name:login}<300ms   only the requests named "login"
//
// STAT is min, max, avg (mean), med, p50, p90, p95, p99, p99.9 (pN or
// p(N)), error_rate or rps (throughput). OP is <, <=, > or >=.
type Threshold struct {
	Expr  string  // as written
	Name  string  // request name; "" for every request
	Stat  string  // canonical: min max avg p50 p90 p95 p99 p99.9 error_rate rps
	Op    string  // < <= > >=
	Value float64 // milliseconds, a fraction, or requests per second
}

// ThresholdResult is a threshold checked against a report.
type ThresholdResult struct {
	Expression string `json:"expression"`
	// Actual is the measured value, in the threshold's unit
	// (milliseconds, fraction, requests per second).
	Actual float64 `json:"actual"`
	// Unit is "ms", "fraction" or "rps".
	Unit string `json:"unit"`
	OK   bool   `json:"ok"`
	// Error says why the threshold could not be checked (no such request
	// name); the threshold then fails.
	Error string `json:"error,omitempty"`
}

// Units of a [ThresholdResult].
const (
	UnitMS       = "ms"
	UnitFraction = "fraction"
	UnitRPS      = "rps"
)

// unit returns the unit of the threshold's statistic.
func (t Threshold) unit() string {
	switch t.Stat {
	case "error_rate":
		return UnitFraction
	case "rps":
		return UnitRPS
	default:
		return UnitMS
	}
}

// ErrBadThreshold is wrapped by [ParseThreshold]'s errors.
var ErrBadThreshold = errors.New("bad threshold")

var statAliases = map[string]string{
	"min": "min", "max": "max", "avg": "avg", "mean": "avg", "med": "p50",
	"p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99", "p99.9": "p99.9", "p999": "p99.9",
	"error_rate": "error_rate", "errors": "error_rate", "failed": "error_rate",
	"rps": "rps", "throughput": "rps",
}

// ParseThreshold parses a threshold expression; see [Threshold].
func ParseThreshold(expr string) (Threshold, error) {
	bad := func(format string, args ...any) (Threshold, error) {
		return Threshold{}, fmt.Errorf("%w %q: %s", ErrBadThreshold, expr, fmt.Sprintf(format, args...))
	}
	s := strings.TrimSpace(expr)
	// The comparison is the first <, >, = or ! outside the {name:...}
	// selector, whose name may hold anything.
	i, depth := -1, 0
	for j := 0; j < len(s) && i < 0; j++ {
		switch c := s[j]; {
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case depth == 0 && strings.IndexByte("<>=!", c) >= 0:
			i = j
		}
	}
	if depth > 0 {
		return bad("unclosed {")
	}
	if i < 0 {
		return bad("no comparison; write STAT OP VALUE, e.g. p95<200ms")
	}
	left, rest := strings.TrimSpace(s[:i]), s[i:]
	var op string
	switch {
	case strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, ">="):
		op = rest[:2]
	case strings.HasPrefix(rest, "<"), strings.HasPrefix(rest, ">"):
		op = rest[:1]
	default:
		return bad("comparison must be <, <=, > or >=")
	}
	right := strings.TrimSpace(rest[len(op):])
	if strings.ContainsAny(right, "<>=!") {
		return bad("more than one comparison")
	}
	t := Threshold{Expr: expr, Op: op}

	// {name:NAME} selects the requests of one name (k6's tag syntax).
	if j := strings.IndexByte(left, '{'); j >= 0 {
		sel := left[j:]
		left = strings.TrimSpace(left[:j])
		if !strings.HasSuffix(sel, "}") {
			return bad("unclosed {")
		}
		sel = strings.TrimSpace(sel[1 : len(sel)-1])
		k, v, ok := strings.Cut(sel, ":")
		if !ok {
			k, v, ok = strings.Cut(sel, "=")
		}
		if !ok || strings.TrimSpace(k) != "name" || strings.TrimSpace(v) == "" {
			return bad("selector must be {name:NAME}")
		}
		t.Name = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	stat := strings.ToLower(left)
	if strings.HasPrefix(stat, "p(") && strings.HasSuffix(stat, ")") {
		stat = "p" + stat[2:len(stat)-1]
	}
	canon, ok := statAliases[stat]
	if !ok {
		if stat == "" {
			return bad("missing statistic before %s", op)
		}
		return bad("unknown statistic %q; use min, max, avg, med, p50, p90, p95, p99, p99.9, error_rate or rps", left)
	}
	t.Stat = canon
	if right == "" {
		return bad("missing value after %s", op)
	}
	v, err := parseThresholdValue(canon, right)
	if err != nil {
		return bad("%v", err)
	}
	t.Value = v
	return t, nil
}

func parseThresholdValue(stat, s string) (float64, error) {
	switch stat {
	case "error_rate":
		if p, ok := strings.CutSuffix(s, "%"); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
				return 0, fmt.Errorf("error rate %q must be a percentage from 0%% to 100%%", s)
			}
			return v / 100, nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || v > 1 || math.IsNaN(v) {
			return 0, fmt.Errorf("error rate %q must be a percentage (1%%) or a fraction from 0 to 1", s)
		}
		return v, nil
	case "rps":
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "/s"), 64)
		if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("throughput %q must be a number of requests per second", s)
		}
		return v, nil
	default:
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("latency %q must not be negative", s)
			}
			return v, nil // milliseconds, as in k6
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("latency %q must be a duration such as 200ms or 1.5s", s)
		}
		if d < 0 {
			return 0, fmt.Errorf("latency %q must not be negative", s)
		}
		return float64(d) / float64(time.Millisecond), nil
	}
}

// Evaluate checks the threshold against r.
func (t Threshold) Evaluate(r *Report) ThresholdResult {
	res := ThresholdResult{Expression: strings.TrimSpace(t.Expr), Unit: t.unit()}
	s := &r.Summary
	if t.Name != "" {
		s = nil
		for i := range r.ByRequest {
			if r.ByRequest[i].Name == t.Name {
				s = &r.ByRequest[i]
				break
			}
		}
		if s == nil {
			res.Error = fmt.Sprintf("no requests named %q", t.Name)
			return res
		}
	}
	if s.Requests == 0 {
		res.Error = "no request completed"
		return res
	}
	var v float64
	switch t.Stat {
	case "min":
		v = s.Latency.Min
	case "max":
		v = s.Latency.Max
	case "avg":
		v = s.Latency.Mean
	case "p50":
		v = s.Latency.P50
	case "p90":
		v = s.Latency.P90
	case "p95":
		v = s.Latency.P95
	case "p99":
		v = s.Latency.P99
	case "p99.9":
		v = s.Latency.P999
	case "error_rate":
		v = s.ErrorRate
	case "rps":
		v = s.Throughput
	}
	res.Actual = v
	switch t.Op {
	case "<":
		res.OK = v < t.Value
	case "<=":
		res.OK = v <= t.Value
	case ">":
		res.OK = v > t.Value
	case ">=":
		res.OK = v >= t.Value
	}
	return res
}

// Line is the result as printed, without the ✓/✗ mark:
// "threshold p95<200ms: 125ms", with " [BREACHED]" when it failed.
func (res ThresholdResult) Line() string {
	var actual string
	switch {
	case res.Error != "":
		actual = res.Error
	case res.Unit == UnitFraction:
		actual = FormatPercent(res.Actual)
	case res.Unit == UnitRPS:
		actual = FormatRate(res.Actual)
	default:
		actual = FormatMS(res.Actual)
	}
	s := fmt.Sprintf("threshold %s: %s", strings.TrimSpace(res.Expression), actual)
	if !res.OK {
		s += " [BREACHED]"
	}
	return s
}
