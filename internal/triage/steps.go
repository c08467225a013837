package triage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/redisconn"
)

// Thresholds from the runbook: the SLO (p95 < 200ms, p99 < 500ms, error
// rate < 0.1%) and the high-latency playbook's trigger (p95 > 500ms, p99 >
// 1000ms), the root-cause table's CPU and memory limits.
const (
	sloP95Ms      = 200
	sloP99Ms      = 500
	triggerP95Ms  = 500
	triggerP99Ms  = 1000
	sloErrorRate  = 0.001
	highCPU       = 80
	highRSS       = 4 << 30
	burst         = 20 // 401s, rate limits, failed logins in the window
	spikeFactor   = 10 // p99 over p50
	recentRestart = time.Hour
)

func (s *Sources) since() time.Time { return s.Now().Add(-s.Since) }

func (s *Sources) window() string { return ShortDuration(s.Since) }

// stepMetrics scrapes dashboard-api's request histogram.
func stepMetrics(s *Sources, ev *Evidence) []Check {
	if s.APIURL == "" {
		return nil
	}
	const name = "metrics"
	return []Check{step(name, func(ctx context.Context) Result {
		l, err := ScrapeLatency(ctx, s.APIURL+"/metrics")
		switch {
		case errors.Is(err, ErrNoMetrics):
			ev.missing(name, err.Error())
			return fail("check that api.port is dashboard-api's port: see tarsctl status", "%s/metrics: %v", s.APIURL, err)
		case err != nil:
			ev.missing(name, err.Error())
			return fail("dashboard-api is not answering: see tarsctl status and tarsctl logs dashboard-api", "%v", err)
		}
		ev.set(func(e *Evidence) { e.Metrics = &l })
		if l.Requests == 0 {
			return ok("no API requests since dashboard-api started (probes are not counted)")
		}
		return latencyVerdict(l, "since dashboard-api started")
	})}
}

// stepRequests reads the access log's durations (the runbook's grep
// duration= | sort -n | tail).
func stepRequests(s *Sources, ev *Evidence) []Check {
	if s.LogDir == "" {
		return nil
	}
	const name = "slow-requests"
	return []Check{step(name, func(ctx context.Context) Result {
		l, err := LogLatency(ctx, s.LogDir, s.since(), 3)
		if err != nil {
			ev.missing(name, err.Error())
			return fail("check paths.log_dir and its permissions", "read logs: %v", err)
		}
		ev.set(func(e *Evidence) { e.Log = &l })
		if l.Requests == 0 {
			return ok("no requests logged in the last %s", s.window())
		}
		return latencyVerdict(l, "in the last "+s.window())
	})}
}

func latencyVerdict(l Latency, when string) Result {
	v := fmt.Sprintf("p50 %s p95 %s p99 %s over %s %s, %d 5xx (%.2f%%)",
		ms(l.P50Ms), ms(l.P95Ms), ms(l.P99Ms), plural(l.Requests, "request"), when, l.Errors, 100*l.ErrorRate())
	if len(l.Slowest) > 0 {
		var sl []string
		for _, r := range l.Slowest {
			sl = append(sl, fmt.Sprintf("%s %s %d %s", r.Method, r.Path, r.Code, ms(r.Ms)))
		}
		v += "; slowest: " + strings.Join(sl, ", ")
	}
	switch {
	case l.P95Ms > triggerP95Ms || l.P99Ms > triggerP99Ms:
		return fail(hintAPISlow, "%s", v)
	case l.P95Ms > sloP95Ms || l.P99Ms > sloP99Ms || l.ErrorRate() > sloErrorRate:
		return warn("outside the SLO (p95 < 200ms, p99 < 500ms, errors < 0.1%)", "%s", v)
	}
	return ok("%s", v)
}

// stepResources samples dashboard-api's CPU and memory (the runbook's
// kubectl top).
func stepResources(s *Sources, ev *Evidence) []Check {
	if s.Service == nil {
		return nil
	}
	const name = "resources"
	return []Check{step(name, func(ctx context.Context) Result {
		st, err := s.Service(ctx, "dashboard-api")
		if err != nil || st.State != "running" || st.PID <= 0 {
			why := "dashboard-api is not running"
			if err != nil {
				why = err.Error()
			}
			ev.missing(name, why)
			return fail("start it: tarsctl start dashboard-api", "%s", why)
		}
		p, err := SampleProcess(ctx, st.PID, s.ProcessSample)
		if err != nil {
			ev.missing(name, err.Error())
			return fail("is it a local process? (Kubernetes: kubectl top pods -n tars-prod -l app=dashboard-api)", "%v", err)
		}
		p.Uptime = st.Uptime.Seconds()
		ev.set(func(e *Evidence) { e.Process = &p })
		v := fmt.Sprintf("dashboard-api pid %d: CPU %.0f%%, RSS %s", p.PID, p.CPUPercent, mib(p.RSSBytes))
		if p.CPUPercent > highCPU || p.RSSBytes > highRSS {
			return warn("resource saturation: scale out or up (high-latency playbook)", "%s", v)
		}
		return ok("%s", v)
	})}
}

// stepLogs counts the runbook's log patterns.
func stepLogs(s *Sources, ev *Evidence, name string) []Check {
	if s.LogDir == "" {
		return nil
	}
	return []Check{step(name, func(ctx context.Context) Result {
		lc, err := CountLogs(ctx, s.LogDir, s.since())
		if err != nil {
			ev.missing(name, err.Error())
			return fail("check paths.log_dir and its permissions", "read logs: %v", err)
		}
		ev.set(func(e *Evidence) { e.Logs = &lc })
		return logVerdict(lc, s.Since)
	})}
}

// stepDeps reuses the redis, postgres and api-latency checks.
func stepDeps(s *Sources) []Check {
	var out []Check
	if s.APIURL != "" {
		out = append(out, HTTPCheck("api-latency", s.APIURL+"/health", triggerP95Ms*time.Millisecond))
	}
	if s.Redis != nil {
		out = append(out, RedisCheck(*s.Redis))
	}
	if s.PostgresURL != "" {
		out = append(out, PostgresCheck(s.PostgresURL))
	}
	return out
}

// stepServices reads every daemon's pidfile and /health, and its uptime.
func stepServices(s *Sources, ev *Evidence) []Check {
	if s.Service == nil || len(s.Services) == 0 {
		return nil
	}
	const name = "services"
	return []Check{step(name, func(ctx context.Context) Result {
		var parts, down []string
		for _, svc := range s.Services {
			st, err := s.Service(ctx, svc)
			if err != nil {
				down = append(down, svc)
				parts = append(parts, svc+" unknown ("+err.Error()+")")
				continue
			}
			ev.set(func(e *Evidence) { e.Services[svc] = st })
			switch {
			case st.State != "running":
				down = append(down, svc)
				parts = append(parts, svc+" "+st.State)
			case st.Health != "healthy":
				down = append(down, svc)
				parts = append(parts, svc+" "+st.Health)
			default:
				parts = append(parts, fmt.Sprintf("%s up %s", svc, human(st.Uptime)))
			}
		}
		v := strings.Join(parts, ", ")
		if len(down) > 0 {
			return fail("see tarsctl status and tarsctl logs SERVICE; start with tarsctl start SERVICE", "%s", v)
		}
		return ok("%s", v)
	})}
}

// stepRateLimits lists the highest rate_limit:* counters.
func stepRateLimits(s *Sources, ev *Evidence) []Check {
	if s.Redis == nil {
		return nil
	}
	const name = "rate-limits"
	return []Check{step(name, func(ctx context.Context) Result {
		c, err := openScan(*s.Redis)
		if err != nil {
			ev.missing(name, err.Error())
			return scanFail(err)
		}
		defer c.Close()
		top, err := TopRateLimits(ctx, c, 5)
		if err != nil {
			ev.missing(name, err.Error())
			return fail(hintRedisDown, "scan rate_limit keys: %v", err)
		}
		ev.set(func(e *Evidence) { e.RateLimits = top })
		if len(top) == 0 {
			return ok("no client is being counted")
		}
		var parts []string
		over := false
		for _, l := range top {
			parts = append(parts, fmt.Sprintf("%s=%d", l.Key, l.Count))
			over = over || (s.RateLimit > 0 && l.Count > int64(s.RateLimit))
		}
		if over {
			return warn(hintRateLimited, "%s", strings.Join(parts, " "))
		}
		return ok("%s", strings.Join(parts, " "))
	})}
}

// errClusterScan: the keys a step scans are spread over a cluster's nodes.
var errClusterScan = errors.New("keys are spread over the cluster's nodes and are not scanned in cluster mode")

// openScan opens the client of the steps that scan keys: they need every
// key on one server, which standalone mode and Sentinel mode (the master)
// give, and Cluster mode does not ([errClusterScan]).
func openScan(e redisconn.Endpoint) (*redis.Client, error) {
	c, where, err := openRedis(e)
	if err != nil {
		return nil, err
	}
	node, ok := c.(*redis.Client)
	if !ok {
		_ = c.Close()
		return nil, fmt.Errorf("%s: %w", where, errClusterScan)
	}
	return node, nil
}

// scanFail is the result of a step whose client could not be opened.
func scanFail(err error) Result {
	if errors.Is(err, errClusterScan) {
		return warn("scan each node with redis-cli --cluster call HOST:PORT SCAN 0 MATCH PATTERN", "%v", err)
	}
	return fail("check redis.* in the configuration", "%v", err)
}

// limitedKeys returns the counters over the per-minute limit.
func limitedKeys(s *Sources, ev *Evidence) []RateLimit {
	var out []RateLimit
	for _, l := range ev.RateLimits {
		limit := int64(s.RateLimit)
		if limit <= 0 {
			limit = 100
		}
		if l.Count > limit {
			out = append(out, l)
		}
	}
	return out
}

// stepAudit counts the audit log's security events.
func stepAudit(s *Sources, ev *Evidence) []Check {
	const name = "audit"
	return []Check{step(name, func(ctx context.Context) Result {
		if s.AuditFile == "" {
			ev.missing(name, "the audit log is off (audit.enabled: false)")
			return warn("set audit.enabled: true to record security events", "audit log is off")
		}
		ac, err := ReadAudit(ctx, s.AuditFile, s.since())
		if errors.Is(err, os.ErrNotExist) {
			ev.missing(name, "no audit log at "+s.AuditFile)
			return warn("dashboard-api writes it once it has run with audit.enabled: true", "no audit log at %s", s.AuditFile)
		}
		if err != nil {
			ev.missing(name, err.Error())
			return fail("check the audit log's permissions", "read audit log: %v", err)
		}
		ev.set(func(e *Evidence) { e.Audit = &ac })
		var parts []string
		for _, e := range AuditEvents {
			parts = append(parts, fmt.Sprintf("%s=%d", e, ac.Events[e]))
		}
		v := fmt.Sprintf("last %s: %s", s.window(), strings.Join(parts, " "))
		if len(ac.TopIPs) > 0 {
			v += fmt.Sprintf("; top IP %s (%d failures)", ac.TopIPs[0].IP, ac.TopIPs[0].Count)
		}
		if ac.Events["refresh_reuse_detected"] > 0 || ac.Events["login_failure"] >= burst || ac.Events["access_denied"] >= burst || ac.Forbidden >= 5 {
			return warn("unusual authentication activity (security playbook)", "%s", v)
		}
		return ok("%s", v)
	})}
}

// stepSessions counts refresh-token sessions (the runbook's KEYS jwt:* |
// wc -l), without changing anything.
func stepSessions(s *Sources, ev *Evidence) []Check {
	if s.Redis == nil {
		return nil
	}
	const name = "sessions"
	return []Check{step(name, func(ctx context.Context) Result {
		c, err := openScan(*s.Redis)
		if err != nil {
			ev.missing(name, err.Error())
			return scanFail(err)
		}
		defer c.Close()
		fam, tok, err := RevokeAllSessions(ctx, c, true)
		if err != nil {
			ev.missing(name, err.Error())
			return fail(hintRedisDown, "%v", err)
		}
		ev.set(func(e *Evidence) { e.Sessions = &fam })
		return ok("%s, %s", plural(fam, "session"), plural(tok, "refresh token"))
	})}
}

// stepMatches counts log lines that contain the given substrings.
func stepMatches(s *Sources, ev *Evidence, name string, match map[string][]string, warnAt int, hint string) []Check {
	if s.LogDir == "" {
		return nil
	}
	return []Check{step(name, func(ctx context.Context) Result {
		n, err := CountMatches(ctx, s.LogDir, s.since(), match)
		if err != nil {
			ev.missing(name, err.Error())
			return fail("check paths.log_dir and its permissions", "read logs: %v", err)
		}
		ev.set(func(e *Evidence) {
			for k, v := range n {
				e.Matches[k] = v
			}
		})
		var parts []string
		total := 0
		for _, k := range sortedKeys(n) {
			parts = append(parts, fmt.Sprintf("%s=%d", k, n[k]))
			total += n[k]
		}
		v := fmt.Sprintf("last %s: %s", s.window(), strings.Join(parts, " "))
		if total >= warnAt {
			return warn(hint, "%s", v)
		}
		return ok("%s", v)
	})}
}

func sortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slicesSort(out)
	return out
}

// stepAnomalies sums anomaly_detected_total over the daemons' /metrics.
func stepAnomalies(s *Sources, ev *Evidence) []Check {
	if len(s.MetricsURLs) == 0 {
		return nil
	}
	const name = "anomaly-metric"
	return []Check{step(name, func(ctx context.Context) Result {
		var total float64
		found := false
		var reached []string
		for _, svc := range sortedKeysS(s.MetricsURLs) {
			body, err := getBody(ctx, s.MetricsURLs[svc], "")
			if err != nil {
				continue
			}
			reached = append(reached, svc)
			for line := range strings.SplitSeq(body, "\n") {
				if m := sampleRE.FindStringSubmatch(line); m != nil && m[1] == "anomaly_detected_total" {
					if v, err := strconv.ParseFloat(m[3], 64); err == nil {
						total += v
						found = true
					}
				}
			}
		}
		if !found {
			why := "no daemon exports anomaly_detected_total (the anomaly detector is not part of tarsctl yet)"
			if len(reached) == 0 {
				why = "no daemon's /metrics answered"
			}
			ev.missing(name, why)
			return warn("query Prometheus: rate(anomaly_detected_total[5m]) > 0.05", "%s", why)
		}
		ev.set(func(e *Evidence) { e.Anomalies = &total })
		return ok("anomaly_detected_total %.0f", total)
	})}
}

func sortedKeysS(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slicesSort(out)
	return out
}

// stepCompliance gets the compliance status (the runbook's curl
// /api/compliance/status) and its enforcement mode.
func stepCompliance(s *Sources, ev *Evidence) []Check {
	if s.Compliance == nil {
		return nil
	}
	const name = "compliance-status"
	return []Check{step(name, func(ctx context.Context) Result {
		rep, from, err := s.Compliance(ctx)
		if err != nil {
			ev.missing(name, err.Error())
			return fail("start dashboard-api (tarsctl start dashboard-api) or check the configuration", "%v", err)
		}
		ev.set(func(e *Evidence) { e.Compliance = &rep })
		if len(rep.Controls) == 0 {
			return warn("list the controls to check in compliance.controls", "no control is checked (compliance.controls is empty), enforcement_mode %s, from %s", rep.EnforcementMode, from)
		}
		var failed []string
		for _, c := range rep.Failed() {
			failed = append(failed, c.Name)
		}
		v := fmt.Sprintf("%d of %d controls fail, enforcement_mode %s, from %s", len(failed), len(rep.Controls), rep.EnforcementMode, from)
		if len(failed) > 0 {
			v += ": " + strings.Join(failed, ", ")
			if rep.EnforcementMode == "enforce" {
				return fail("enforce mode: dashboard-api refuses to start until the control passes", "%s", v)
			}
			return fail("warn mode: operations proceed with warnings", "%s", v)
		}
		return ok("%s", v)
	})}
}

func slicesSort(s []string) { slices.Sort(s) }
