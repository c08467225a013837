package triage

import (
	"fmt"
	"slices"
	"strings"
)

// The five playbooks of the runbook's "Incident Response Playbooks": their
// triage steps, their root-cause tables judged row by row, and their
// resolution commands, mapped to tarsctl where it has them.

func concat(parts ...[]Check) []Check { return slices.Concat(parts...) }

// latency returns the best latency figures: the access log's over the
// window, else the histogram's since the daemon started.
func latency(ev *Evidence) *Latency {
	if ev.Log != nil && ev.Log.Requests > 0 {
		return ev.Log
	}
	if ev.Metrics != nil && ev.Metrics.Requests > 0 {
		return ev.Metrics
	}
	return nil
}

func latencyWhy(ev *Evidence) string {
	if ev.Log != nil || ev.Metrics != nil {
		return "no request was measured"
	}
	return "no latency figures: " + joinNonEmpty("; ", ev.Errs["metrics"], ev.Errs["slow-requests"])
}

func describeLatency(l *Latency) string {
	src := "the access log"
	if l.Source == "metrics" {
		src = "/metrics"
	}
	return fmt.Sprintf("p95 %s, p99 %s over %s (%s)", ms(l.P95Ms), ms(l.P99Ms), plural(l.Requests, "request"), src)
}

// failingDeps lists the dependency checks that warn or fail, and the
// dependency errors in the logs.
func failingDeps(ev *Evidence) (bad, checked []string) {
	for _, n := range []string{"redis", "postgres"} {
		r, ok := ev.Results[n]
		if !ok {
			continue
		}
		checked = append(checked, n)
		if r.Status != OK {
			bad = append(bad, fmt.Sprintf("%s %s (%s)", n, r.Status, r.Value))
		}
	}
	if ev.Logs != nil {
		checked = append(checked, "the logs")
		for _, n := range []string{"db_errors", "redis_errors"} {
			if c := ev.Logs.Counts[n]; c > 0 {
				bad = append(bad, fmt.Sprintf("%d %s in the logs", c, n))
			}
		}
	}
	return bad, checked
}

func depsFine(checked []string) string {
	return "no dependency failure in " + strings.Join(checked, ", ") + " (Redis and PostgreSQL are checked only when configured)"
}

func recentRestarts(s *Sources, ev *Evidence) []string {
	var out []string
	for _, svc := range s.Services {
		st, ok := ev.Services[svc]
		if ok && st.State == "running" && st.Uptime > 0 && st.Uptime < max(s.Since, recentRestart) {
			out = append(out, fmt.Sprintf("%s (re)started %s ago", svc, human(st.Uptime)))
		}
	}
	return out
}

func highLatency() *Playbook {
	return &Playbook{
		Name: "high-latency", Title: "High API Latency", Runbook: "Incident Response Playbooks / Playbook 1: High API Latency",
		steps: func(s *Sources, ev *Evidence) []Check {
			return concat(stepMetrics(s, ev), stepRequests(s, ev), stepResources(s, ev), stepDeps(s), stepLogs(s, ev, "logs"))
		},
		rows: []row{
			{row: "High CPU (>80%)", cause: "Compute-bound operation", solution: "Scale horizontally or vertically",
				commands: []Command{
					tarsctlNote("scale dashboard-api --replicas 5 -n tars-prod", "kubectl scale deployment dashboard-api --replicas=5"),
					external("kubectl set resources deployment dashboard-api --limits=cpu=4000m,memory=8Gi --requests=cpu=1000m,memory=2Gi -n tars-prod", noTarsctl),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					if ev.Process == nil {
						return Unknown, "CPU not measured: " + ev.why("resources")
					}
					v := fmt.Sprintf("dashboard-api at %.0f%% CPU", ev.Process.CPUPercent)
					if ev.Process.CPUPercent > highCPU {
						return Supported, v
					}
					return NotSupported, v
				}},
			{row: "High Memory (>4GB)", cause: "Memory leak or large response", solution: "Check for leaks, optimize queries",
				commands: []Command{
					tarsctlNote("restart dashboard-api", "frees leaked memory for now; keep the triage bundle for the leak"),
					tarsctl("triage bundle --output triage.tar.gz"),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					if ev.Process == nil {
						return Unknown, "memory not measured: " + ev.why("resources")
					}
					v := "dashboard-api resident memory " + mib(ev.Process.RSSBytes)
					if ev.Process.RSSBytes > highRSS {
						return Supported, v
					}
					return NotSupported, v
				}},
			{row: "Low CPU/Memory", cause: "External dependency slow", solution: "Check Redis, PostgreSQL, external APIs",
				commands: []Command{
					tarsctl("triage run --check redis --check postgres"),
					tarsctl("logs dashboard-api --since 1h --grep 'redis|database'"),
					tarsctl("status"),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					bad, checked := failingDeps(ev)
					if ev.Process != nil && (ev.Process.CPUPercent > highCPU || ev.Process.RSSBytes > highRSS) {
						return NotSupported, "dashboard-api's own CPU or memory is high"
					}
					if len(bad) > 0 {
						return Supported, strings.Join(bad, "; ")
					}
					if len(checked) == 0 {
						return Unknown, "no dependency configured to check (redis.enabled, database.url)"
					}
					return NotSupported, depsFine(checked)
				}},
			{row: "Intermittent spikes", cause: "Thundering herd, rate limit", solution: "Implement circuit breaker, adjust rate limits",
				commands: []Command{
					tarsctl("triage ratelimit show"),
					tarsctlNote("config show", "see rate_limiting.requests_per_minute"),
					tarsctl("logs dashboard-api --since 1h --grep rate_limit_exceeded"),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					l := latency(ev)
					var why []string
					if ev.Logs != nil && ev.Logs.Counts["rate_limited"] >= burst {
						why = append(why, fmt.Sprintf("%d rate_limit_exceeded lines in the last %s", ev.Logs.Counts["rate_limited"], s.window()))
					}
					if l != nil && l.P99Ms > triggerP95Ms && l.P99Ms > spikeFactor*l.P50Ms {
						why = append(why, fmt.Sprintf("spiky latency: p50 %s but p99 %s", ms(l.P50Ms), ms(l.P99Ms)))
					}
					if len(why) > 0 {
						return Supported, strings.Join(why, "; ")
					}
					if ev.Logs == nil && l == nil {
						return Unknown, "neither logs nor latency figures could be read"
					}
					v := "few rate limits"
					if ev.Logs != nil {
						v = fmt.Sprintf("%d rate_limit_exceeded lines", ev.Logs.Counts["rate_limited"])
					}
					if l != nil {
						v += ", " + describeLatency(l)
					}
					return NotSupported, v
				}},
		},
		general: []Command{
			tarsctl("logs dashboard-api --since 1h --grep 'duration=[0-9]{3,}'"),
			tarsctlNote("loadtest run --url http://127.0.0.1:3001/health --duration 30s", "measure p95/p99 after the fix"),
			tarsctlNote("scale dashboard-api --replicas 5 -n tars-prod", "kubectl scale deployment dashboard-api --replicas=5"),
		},
	}
}

func anomaly() *Playbook {
	return &Playbook{
		Name: "anomaly", Title: "Elevated Anomaly Rate", Runbook: "Incident Response Playbooks / Playbook 2: Elevated Anomaly Rate",
		steps: func(s *Sources, ev *Evidence) []Check {
			return concat(stepAnomalies(s, ev),
				stepMatches(s, ev, "anomaly-log", map[string][]string{"anomaly": {"ANOMALY"}}, 1, "anomalies logged: see which service with tarsctl logs SERVICE --grep ANOMALY"),
				stepMetrics(s, ev), stepRequests(s, ev), stepServices(s, ev), stepLogs(s, ev, "logs"), stepRateLimits(s, ev))
		},
		rows: []row{
			{row: "Latency spike", cause: "New deployment, resource saturation", solution: "Rollback or scale",
				commands: []Command{
					tarsctl("status"),
					tarsctl("deploy k8s history -n tars-prod"),
					tarsctlNote("deploy k8s rollback -n tars-prod", rollbackNote),
					tarsctl("triage playbook high-latency"),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					l := latency(ev)
					if l == nil {
						return Unknown, latencyWhy(ev)
					}
					v := describeLatency(l)
					if r := recentRestarts(s, ev); len(r) > 0 {
						v += "; " + strings.Join(r, ", ")
					}
					if l.P95Ms > triggerP95Ms || l.P99Ms > triggerP99Ms {
						return Supported, v
					}
					return NotSupported, v
				}},
			{row: "Error rate increase", cause: "Bug introduced, external API down", solution: "Rollback, fix bug",
				commands: []Command{
					tarsctl("logs dashboard-api --since 1h --grep 'ERROR| 5[0-9][0-9] '"),
					tarsctl("triage run"),
					tarsctl("deploy k8s history -n tars-prod"),
					tarsctlNote("deploy k8s rollback -n tars-prod", rollbackNote),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					var why []string
					l := latency(ev)
					if l != nil && l.ErrorRate() > 0.01 {
						why = append(why, fmt.Sprintf("%d of %s answered 5xx (%.1f%%)", l.Errors, plural(l.Requests, "request"), 100*l.ErrorRate()))
					}
					if ev.Logs != nil {
						for _, n := range []string{"db_errors", "redis_errors", "training_failed"} {
							if c := ev.Logs.Counts[n]; c > 0 {
								why = append(why, fmt.Sprintf("%d %s", c, n))
							}
						}
					}
					if len(why) > 0 {
						return Supported, strings.Join(why, "; ")
					}
					if l == nil && ev.Logs == nil {
						return Unknown, latencyWhy(ev)
					}
					if l != nil {
						return NotSupported, fmt.Sprintf("%d 5xx of %s, no database, Redis or training errors logged", l.Errors, plural(l.Requests, "request"))
					}
					return NotSupported, "no database, Redis or training errors logged"
				}},
			{row: "Traffic pattern change", cause: "Marketing campaign, bot attack", solution: "Adjust rate limits, block IPs",
				commands: []Command{
					tarsctl("triage ratelimit show"),
					tarsctlNote("config show", "see rate_limiting.requests_per_minute"),
					tarsctl("triage playbook security"),
				},
				judge: trafficJudge,
			},
			{row: "Data drift", cause: "Model staleness, input distribution shift", solution: "Retrain model, update features",
				commands: []Command{
					external("python observability/drift_detector.py --retrain --baseline-window 7d", "runbook; tarsctl has no drift detector yet"),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					return Unknown, "tarsctl collects no drift evidence yet; run the drift detector"
				}},
		},
		general: []Command{
			tarsctl("status"),
			tarsctlNote("deploy k8s history -n tars-prod", "kubectl rollout history"),
			external("git log --since=\"1 hour ago\" --oneline", "recent changes"),
		},
	}
}

// trafficJudge looks for rate limiting and 401 bursts.
func trafficJudge(s *Sources, ev *Evidence) (string, string) {
	var why []string
	if ev.Logs != nil {
		if c := ev.Logs.Counts["rate_limited"]; c >= burst {
			why = append(why, fmt.Sprintf("%d rate_limit_exceeded lines in the last %s", c, s.window()))
		}
		if c := ev.Logs.Counts["401"]; c >= burst {
			why = append(why, fmt.Sprintf("%d 401 Unauthorized in the last %s", c, s.window()))
		}
	}
	for _, l := range limitedKeys(s, ev) {
		why = append(why, fmt.Sprintf("%s at %d requests this minute", l.Key, l.Count))
	}
	if len(why) > 0 {
		return Supported, strings.Join(why, "; ")
	}
	if ev.Logs == nil && ev.RateLimits == nil {
		return Unknown, "neither the logs nor Redis could be read: " + joinNonEmpty("; ", ev.Errs["logs"], ev.Errs["auth-log"], ev.Errs["rate-limits"])
	}
	v := "no burst of rate limits or 401s"
	if ev.Logs != nil {
		v = fmt.Sprintf("%d rate_limit_exceeded, %d 401 Unauthorized in the last %s", ev.Logs.Counts["rate_limited"], ev.Logs.Counts["401"], s.window())
	}
	return NotSupported, v
}

func kpiRegression() *Playbook {
	return &Playbook{
		Name: "kpi-regression", Title: "GA KPI Regression", Runbook: "Incident Response Playbooks / Playbook 3: GA KPI Regression",
		steps: func(s *Sources, ev *Evidence) []Check {
			return concat(stepServices(s, ev), stepMetrics(s, ev), stepRequests(s, ev), stepDeps(s), stepLogs(s, ev, "logs"))
		},
		// The runbook has no table here; the rows are what its
		// retrospective lists: the KPIs, affected services, deployment
		// changes and external factors.
		rows: []row{
			{row: "Availability < 99.9%", cause: "Errors or downtime", solution: "Find the failing service, hotfix",
				commands: []Command{
					tarsctl("status"),
					tarsctl("logs dashboard-api --since 24h --grep 'ERROR| 5[0-9][0-9] '"),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					l := latency(ev)
					if l == nil {
						return Unknown, latencyWhy(ev)
					}
					avail := 100 * (1 - l.ErrorRate())
					v := fmt.Sprintf("%.2f%% of %s succeeded (%d 5xx)", avail, plural(l.Requests, "request"), l.Errors)
					if l.ErrorRate() > sloErrorRate {
						return Supported, v
					}
					return NotSupported, v
				}},
			{row: "p95 latency ≥ 200ms", cause: "Slow code path or dependency", solution: "Run the high-latency playbook",
				commands: []Command{
					tarsctl("triage playbook high-latency"),
					tarsctlNote("loadtest run --url http://127.0.0.1:3001/health --duration 30s -o json", "save as a baseline; compare runs with tarsctl loadtest compare OLD.json NEW.json"),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					l := latency(ev)
					if l == nil {
						return Unknown, latencyWhy(ev)
					}
					if l.P95Ms >= sloP95Ms {
						return Supported, describeLatency(l)
					}
					return NotSupported, describeLatency(l)
				}},
			{row: "Affected services", cause: "A daemon down or unhealthy", solution: "Restart it and read its log",
				commands: []Command{
					tarsctl("status"),
					tarsctl("restart SERVICE"),
					tarsctl("logs SERVICE --since 1h --grep ERROR"),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					r, ok := ev.Results["services"]
					if !ok {
						return Unknown, ev.why("services")
					}
					if r.Status == Fail {
						return Supported, r.Value
					}
					return NotSupported, "every daemon runs and is healthy"
				}},
			{row: "Deployment changes", cause: "A new version or restart in the window", solution: "Roll back the change",
				commands: []Command{
					tarsctl("status"),
					external("kubectl set image deployment/multi-agent multi-agent=company/tars:1.0.2-hotfix-inc12345 -n tars-prod", noTarsctl),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					if len(ev.Services) == 0 {
						return Unknown, ev.why("services")
					}
					r := recentRestarts(s, ev)
					if len(r) > 0 {
						if breached, known := kpiBreached(ev); breached {
							return Supported, strings.Join(r, ", ")
						} else if known {
							return NotSupported, strings.Join(r, ", ") + ", but the KPIs are met"
						}
						return Unknown, strings.Join(r, ", ") + "; KPIs not measured: " + latencyWhy(ev)
					}
					return NotSupported, fmt.Sprintf("no daemon (re)started in the last %s", ShortDuration(max(s.Since, recentRestart)))
				}},
			{row: "External factors", cause: "Redis, PostgreSQL or the host", solution: "Fix the dependency",
				commands: []Command{
					tarsctl("triage run --check redis --check postgres --check disk"),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					bad, checked := failingDeps(ev)
					if len(bad) > 0 {
						return Supported, strings.Join(bad, "; ")
					}
					if len(checked) == 0 {
						return Unknown, "no dependency configured to check"
					}
					return NotSupported, depsFine(checked)
				}},
		},
		general: []Command{
			tarsctlNote("triage playbook kpi-regression -o json", "repeat to monitor the KPIs (the runbook's watch ga_kpi_collector.py)"),
			tarsctl("triage bundle --output kpi-regression.tar.gz --since 24h"),
		},
	}
}

func security() *Playbook {
	return &Playbook{
		Name: "security", Title: "Security Incident", Runbook: "Incident Response Playbooks / Playbook 4: Security Incident",
		steps: func(s *Sources, ev *Evidence) []Check {
			return concat(stepLogs(s, ev, "auth-log"), stepAudit(s, ev), stepRateLimits(s, ev), stepSessions(s, ev))
		},
		rows: []row{
			{row: "Compromised credentials", cause: "Stolen tokens or passwords", solution: "Rotate all secrets, force re-authentication",
				commands: []Command{
					tarsctl("triage sessions revoke-all --yes"),
					tarsctl("users list"),
					tarsctl("users passwd USERNAME"),
					manual("rotate the JWT and other secrets (runbook: Key Rotation)", "tarsctl has no key rotation command yet"),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					if ev.Audit == nil {
						return Unknown, "no audit evidence: " + ev.why("audit")
					}
					a := ev.Audit
					var why []string
					if n := a.Events["refresh_reuse_detected"]; n > 0 {
						why = append(why, fmt.Sprintf("%d refresh token reuse (a stolen token was replayed)", n))
					}
					if n := a.Events["login_failure"]; n >= burst {
						w := fmt.Sprintf("%d failed logins", n)
						if len(a.TopIPs) > 0 {
							w += fmt.Sprintf(", most from %s (%d)", a.TopIPs[0].IP, a.TopIPs[0].Count)
						}
						why = append(why, w)
					}
					if len(why) > 0 {
						return Supported, strings.Join(why, "; ")
					}
					return NotSupported, fmt.Sprintf("%d failed logins, no refresh token reuse in the last %s", a.Events["login_failure"], s.window())
				}},
			{row: "CVE in dependency", cause: "A vulnerable package", solution: "Emergency patch, regenerate SBOM, scan with Trivy",
				commands: []Command{
					external("trivy sbom release/v1.0.2/sbom/tars-v1.0.2-cyclonedx.json", "tarsctl does not scan for CVEs"),
					tarsctl("sbom generate --output-dir release/v1.0.2-patch/sbom --name tars --version v1.0.2-patch"),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					return Unknown, "tarsctl does not scan for CVEs: scan the SBOM with trivy"
				}},
			{row: "DDoS attack", cause: "Request flood", solution: "Enable aggressive rate limiting, block IPs",
				commands: []Command{
					tarsctl("triage ratelimit show"),
					tarsctlNote("config show", "lower rate_limiting.requests_per_minute, then tarsctl restart dashboard-api"),
					manual("block the top IPs at the firewall or ingress", "tarsctl cannot block IPs"),
				},
				judge: trafficJudge,
			},
			{row: "Data breach", cause: "Unauthorized API access", solution: "Isolate service, audit logs, notify security team",
				commands: []Command{
					tarsctlNote("stop dashboard-api", "isolates a local install"),
					external("kubectl scale deployment ingress-nginx --replicas=0 -n ingress-nginx", "the ingress controller is not a T.A.R.S. service"),
					tarsctl("logs dashboard-api --since 24h --grep '401 Unauthorized|rate_limit_exceeded|suspicious'"),
					manual("notify security@company.com", ""),
				},
				judge: func(s *Sources, ev *Evidence) (string, string) {
					if ev.Audit == nil {
						return Unknown, "no audit evidence: " + ev.why("audit")
					}
					a := ev.Audit
					if a.Forbidden >= 5 || a.Events["access_denied"] >= burst {
						return Supported, fmt.Sprintf("%d requests denied (%d by authenticated users beyond their role)", a.Events["access_denied"], a.Forbidden)
					}
					return NotSupported, fmt.Sprintf("%d requests denied in the last %s", a.Events["access_denied"], s.window())
				}},
		},
		general: []Command{
			tarsctl("logs dashboard-api --since 1h --grep '401 Unauthorized|rate_limit_exceeded|suspicious'"),
			tarsctlNote("triage sessions revoke-all --yes", "instead of the runbook's FLUSHDB, which also wipes rate limits"),
		},
	}
}

// controlRow is a compliance control's row.
func controlRow(control, violation, solution string, cmds []Command) row {
	return row{row: control, cause: violation, solution: solution, commands: cmds,
		judge: func(s *Sources, ev *Evidence) (string, string) {
			if control == "encryption_in_transit" {
				if r, ok := ev.Results["tls/api"]; ok && r.Status == Fail {
					return Supported, "certificate: " + r.Value
				}
			}
			if ev.Compliance == nil {
				return Unknown, "no compliance status: " + ev.why("compliance-status")
			}
			for _, c := range ev.Compliance.Controls {
				if c.Name != control {
					continue
				}
				if c.Status == "pass" {
					return NotSupported, "passes: " + c.Detail
				}
				effect := "operations proceed with warnings (enforcement_mode warn)"
				if ev.Compliance.EnforcementMode == "enforce" {
					effect = "dashboard-api refuses to start (enforcement_mode enforce)"
				}
				return Supported, c.Detail + "; " + effect
			}
			return Unknown, "not checked: add it to compliance.controls"
		}}
}

func compliancePlaybook() *Playbook {
	restart := tarsctlNote("restart dashboard-api", "after changing the configuration")
	return &Playbook{
		Name: "compliance", Title: "Compliance Control Violation", Runbook: "Incident Response Playbooks / Playbook 5: Compliance Control Violation",
		steps: func(s *Sources, ev *Evidence) []Check {
			var tls []Check
			if s.CertFile != "" {
				tls = append(tls, CertFileCheck("api", s.CertFile, s.Now))
			}
			return concat(stepCompliance(s, ev),
				stepMatches(s, ev, "violations", map[string][]string{"violations": {"Compliance control failed", "ComplianceViolation"}}, 1,
					"violations logged: tarsctl logs dashboard-api --grep 'Compliance control failed'"),
				tls)
		},
		rows: []row{
			controlRow("encryption_at_rest", "Data written without encryption", "Enable AES encryption", []Command{
				tarsctlNote("config show", "set encryption.enabled: true and encryption.key_file (an AES-256 key)"),
				restart,
				external("kubectl set env deployment/dashboard-api ENCRYPTION_ENABLED=true AES_KEY_FILE=/run/secrets/aes.key -n tars-prod", noTarsctl),
			}),
			controlRow("encryption_in_transit", "TLS disabled or expired cert", "Renew certificate", []Command{
				tarsctl("triage run --check tls"),
				tarsctlNote("config show", "set api.tls.cert_file and api.tls.key_file; renew the certificate (runbook: Certificate Renewal)"),
				restart,
			}),
			controlRow("audit_logging", "Audit logs not being written", "Check log aggregator", []Command{
				tarsctlNote("config show", "set audit.enabled: true"),
				restart,
				external("kubectl set env deployment/dashboard-api AUDIT_LOG_ENABLED=true AUDIT_LOG_PATH=/var/log/audit/audit.json -n tars-prod", noTarsctl),
			}),
			controlRow("data_retention", "Old data not purged", "Run retention cleanup job", []Command{
				tarsctlNote("config show", "set compliance.data_retention_days"),
				external("kubectl create job --from=cronjob/data-retention-cleanup manual-cleanup-$(date +%s) -n tars-prod", "Kubernetes; tarsctl has no retention cleanup yet"),
			}),
		},
		general: []Command{
			tarsctl("logs dashboard-api --since 1h --grep 'Compliance control failed'"),
			tarsctlNote("config show", "see compliance.enforcement_mode and compliance.controls"),
		},
	}
}

// kpiBreached says whether availability or p95 latency misses its target.
func kpiBreached(ev *Evidence) (breached, known bool) {
	l := latency(ev)
	if l == nil {
		return false, false
	}
	return l.ErrorRate() > sloErrorRate || l.P95Ms >= sloP95Ms, true
}
