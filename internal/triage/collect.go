package triage

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/audit"
	"github.com/tars-ops/tarsctl/internal/compliance"
)

// Collectors gather the evidence that no check measures: request latency
// from /metrics and the access log, process resources, audit-log events
// and the compliance status. They return data, not verdicts; playbooks
// judge it.

// Latency summarises request durations.
type Latency struct {
	Source   string  `json:"source"` // metrics or log
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"` // 5xx answers
	P50Ms    float64 `json:"p50_ms"`
	P95Ms    float64 `json:"p95_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms,omitempty"`
	// Slowest are the slowest requests (log source only), slowest first.
	Slowest []SlowRequest `json:"slowest,omitempty"`
}

// ErrorRate is the fraction of 5xx answers.
func (l Latency) ErrorRate() float64 {
	if l.Requests == 0 {
		return 0
	}
	return float64(l.Errors) / float64(l.Requests)
}

// SlowRequest is one access-log line.
type SlowRequest struct {
	Method string  `json:"method"`
	Path   string  `json:"path"`
	Code   int     `json:"code"`
	Ms     float64 `json:"ms"`
}

// probe routes are left out of latency figures: they are fast and frequent.
func probeRoute(route string) bool {
	for _, p := range []string{"/health", "/ready", "/metrics"} {
		if strings.HasSuffix(route, p) {
			return true
		}
	}
	return false
}

// ScrapeLatency GETs a daemon's /metrics and computes request latency
// quantiles from the http_request_duration_seconds histogram (every route
// but the probes, since the daemon started).
func ScrapeLatency(ctx context.Context, url string) (Latency, error) {
	body, err := getBody(ctx, url, "")
	if err != nil {
		return Latency{}, err
	}
	return ParseLatencyMetrics(body)
}

var sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)`)
var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// ErrNoMetrics means a /metrics endpoint answered with something that is
// not Prometheus text exposition.
var ErrNoMetrics = errors.New("the answer is not Prometheus metrics")

// ParseLatencyMetrics reads Prometheus text exposition and aggregates the
// http_request_duration_seconds histogram over routes and codes (probe
// routes left out). Metrics without the histogram, as a daemon that has
// served only probes exposes, are zero requests.
func ParseLatencyMetrics(text string) (Latency, error) {
	buckets := map[float64]float64{}
	var total, errs float64
	found := false
	for line := range strings.SplitSeq(text, "\n") {
		if !strings.HasPrefix(line, "http_request_duration_seconds_") {
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range labelRE.FindAllStringSubmatch(m[2], -1) {
			labels[l[1]] = l[2]
		}
		if probeRoute(labels["route"]) {
			continue
		}
		switch m[1] {
		case "http_request_duration_seconds_bucket":
			le, err := strconv.ParseFloat(labels["le"], 64)
			if err != nil {
				continue
			}
			found = true
			buckets[le] += v
		case "http_request_duration_seconds_count":
			found = true
			total += v
			if strings.HasPrefix(labels["code"], "5") {
				errs += v
			}
		}
	}
	if !found {
		// client_golang exposes a histogram vector only once it has a
		// series: a daemon that has served nothing but probes has none.
		// That is no requests yet, as long as this is Prometheus text.
		if !strings.Contains(text, "# TYPE ") {
			return Latency{}, ErrNoMetrics
		}
		return Latency{Source: "metrics"}, nil
	}
	l := Latency{Source: "metrics", Requests: int(total), Errors: int(errs)}
	l.P50Ms = histogramQuantile(0.50, buckets) * 1000
	l.P95Ms = histogramQuantile(0.95, buckets) * 1000
	l.P99Ms = histogramQuantile(0.99, buckets) * 1000
	return l, nil
}

// histogramQuantile is PromQL's histogram_quantile over cumulative buckets.
func histogramQuantile(q float64, buckets map[float64]float64) float64 {
	les := make([]float64, 0, len(buckets))
	for le := range buckets {
		les = append(les, le)
	}
	slices.Sort(les)
	if len(les) == 0 {
		return 0
	}
	total := buckets[les[len(les)-1]]
	if total == 0 {
		return 0
	}
	rank := q * total
	prevLe, prevCount := 0.0, 0.0
	for _, le := range les {
		c := buckets[le]
		if c >= rank {
			if math.IsInf(le, 1) {
				return prevLe // the highest finite bound, as PromQL does
			}
			if c == prevCount {
				return le
			}
			return prevLe + (le-prevLe)*(rank-prevCount)/(c-prevCount)
		}
		prevLe, prevCount = le, c
	}
	return prevLe
}

// accessRE matches the access-log message "GET /path 200 OK duration=1.5ms".
var accessRE = regexp.MustCompile(`\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (/\S*) (\d{3}) [^"=]*?duration=([0-9.]+)ms`)

// LogLatency reads the access-log lines of dir since since (the runbook's
// grep duration= | sort -n | tail) and returns their quantiles and the n
// slowest requests.
func LogLatency(ctx context.Context, dir string, since time.Time, n int) (Latency, error) {
	var all []SlowRequest
	err := ScanLogs(ctx, dir, since, func(line, _ string) {
		m := accessRE.FindStringSubmatch(line)
		if m == nil || probeRoute(m[2]) {
			return
		}
		code, _ := strconv.Atoi(m[3])
		ms, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			return
		}
		all = append(all, SlowRequest{Method: m[1], Path: m[2], Code: code, Ms: ms})
	})
	if err != nil {
		return Latency{}, err
	}
	l := Latency{Source: "log", Requests: len(all)}
	if len(all) == 0 {
		return l, nil
	}
	for _, r := range all {
		if r.Code >= 500 {
			l.Errors++
		}
	}
	slices.SortStableFunc(all, func(a, b SlowRequest) int { return cmpFloat(b.Ms, a.Ms) })
	at := func(q float64) float64 {
		// all is slowest first: the q-quantile is at index (1-q)*len.
		i := int(math.Floor((1 - q) * float64(len(all))))
		return all[min(i, len(all)-1)].Ms
	}
	l.P50Ms, l.P95Ms, l.P99Ms, l.MaxMs = at(0.50), at(0.95), at(0.99), all[0].Ms
	l.Slowest = all[:min(n, len(all))]
	return l, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Process is what /proc says about a daemon (the runbook's kubectl top).
type Process struct {
	PID        int     `json:"pid"`
	CPUPercent float64 `json:"cpu_percent"` // of one core, sampled over Sample
	RSSBytes   int64   `json:"rss_bytes"`
	Uptime     float64 `json:"uptime_seconds,omitempty"`
}

// SampleProcess reads pid's CPU time twice, interval apart, and its
// resident memory (Linux /proc).
func SampleProcess(ctx context.Context, pid int, interval time.Duration) (Process, error) {
	p := Process{PID: pid}
	t0, err := cpuTicks(pid)
	if err != nil {
		return p, err
	}
	start := time.Now()
	timer := time.NewTimer(interval)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return p, ctx.Err()
	case <-timer.C:
	}
	t1, err := cpuTicks(pid)
	if err != nil {
		return p, err
	}
	const hz = 100 // USER_HZ on Linux
	p.CPUPercent = 100 * float64(t1-t0) / hz / time.Since(start).Seconds()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, fmt.Errorf("read /proc/%d/status: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			p.RSSBytes = kb * 1024
		}
	}
	return p, nil
}

func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read /proc/%d/stat: %w", pid, err)
	}
	// The command name may hold spaces: fields start after the last ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc/%d/stat: too few fields", pid)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k, nil
}

// AuditCounts are audit-log events over a window.
type AuditCounts struct {
	Events map[string]int `json:"events"`
	// TopIPs are the IPs with the most failure events (login_failure,
	// access_denied, rate_limited, refresh_reuse_detected), most first.
	TopIPs []IPCount `json:"top_ips"`
	// Forbidden counts access_denied events of authenticated users
	// (outcome forbidden): someone probing beyond their role.
	Forbidden int `json:"forbidden"`
}

// IPCount is one IP's failure-event count.
type IPCount struct {
	IP    string `json:"ip"`
	Count int    `json:"count"`
}

// AuditEvents are the security events the security playbook counts.
var AuditEvents = []string{"login_failure", "access_denied", "refresh_reuse_detected", "rate_limited", "login_success"}

// ReadAudit counts the events of the audit log at path (JSON lines) since
// since. A missing file is os.ErrNotExist.
func ReadAudit(ctx context.Context, path string, since time.Time) (AuditCounts, error) {
	ac := AuditCounts{Events: map[string]int{}}
	for _, e := range AuditEvents {
		ac.Events[e] = 0
	}
	f, err := os.Open(path)
	if err != nil {
		return ac, err
	}
	defer f.Close()
	ips := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 0; sc.Scan(); n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ac, ctx.Err()
		}
		var e audit.Event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Time.Before(since) {
			continue
		}
		ac.Events[e.Event]++
		switch e.Event {
		case "login_failure", "access_denied", "rate_limited", "refresh_reuse_detected":
			if e.IP != "" {
				ips[e.IP]++
			}
		}
		if e.Event == "access_denied" && e.Outcome == "forbidden" {
			ac.Forbidden++
		}
	}
	for ip, c := range ips {
		ac.TopIPs = append(ac.TopIPs, IPCount{IP: ip, Count: c})
	}
	slices.SortFunc(ac.TopIPs, func(a, b IPCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.IP, b.IP)
	})
	if len(ac.TopIPs) > 5 {
		ac.TopIPs = ac.TopIPs[:5]
	}
	return ac, sc.Err()
}

// CountMatches counts, per name, the log lines of dir since since that
// contain any of its substrings.
func CountMatches(ctx context.Context, dir string, since time.Time, match map[string][]string) (map[string]int, error) {
	out := map[string]int{}
	for name := range match {
		out[name] = 0
	}
	err := ScanLogs(ctx, dir, since, func(line, _ string) {
		for name, subs := range match {
			if slices.ContainsFunc(subs, func(s string) bool { return strings.Contains(line, s) }) {
				out[name]++
			}
		}
	})
	return out, err
}

// FetchCompliance GETs dashboard-api's /api/compliance/status (the
// runbook's curl), with token as the bearer token when set.
func FetchCompliance(ctx context.Context, url, token string) (compliance.Report, error) {
	var rep compliance.Report
	body, err := getBody(ctx, url, token)
	if err != nil {
		return rep, err
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		return rep, fmt.Errorf("decode %s: %w", url, err)
	}
	return rep, nil
}

// ErrHTTPStatus is returned for a non-2xx answer.
var ErrHTTPStatus = errors.New("unexpected HTTP status")

func getBody(ctx context.Context, url, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("GET %s: %s: %w", url, resp.Status, ErrHTTPStatus)
	}
	return string(b), nil
}
