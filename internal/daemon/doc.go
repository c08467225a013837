// Package daemon is what every T.A.R.S. service daemon shares: the HTTP
// server and its timeouts, TLS and mTLS, /health, /ready and /metrics,
// access logs and request metrics, and graceful shutdown.
//
// # Lifecycle
//
// [Run] serves until its context is cancelled (the first SIGTERM or
// SIGINT). Readiness moves NotReady → Ready once the listener serves, and
// Ready → Stopping when shutdown begins: /ready answers 503 from then on,
// the listener stops accepting, and in-flight requests get up to the drain
// timeout to finish. A value on Options.Force (the second signal) abandons
// the drain and closes every connection at once.
//
// # Reload
//
// A daemon that can change state without a restart sets Options.Reload
// (func(ctx) error). On SIGHUP [Run] calls it, one call at a time; a
// failure is logged ("Reload failed; still running with the previous
// configuration") and the daemon keeps serving with what it had. Every
// outcome is counted in tars_reloads_total{result="success"|"failure"}, so
// whoever sent the signal can poll /metrics to see it handled. Without
// Reload, SIGHUP is logged and ignored: it never stops a daemon.
//
// # Health
//
// /health runs every [Check] concurrently, each with a short timeout, and
// caches the result for about a second so that probes cannot overload a
// dependency. Its JSON is the runbook's: status, version, timestamp,
// checks {name: ok|error|embedded}, and errors.
//
// # Logs
//
// [NewLogger] writes the runbook's formats: text lines
// "2025-11-28 10:15:32 INFO [dashboard-api] message key=value", or JSON
// objects {"timestamp", "level", "service", "message", "context": {pid,
// hostname, version, ...}}. Every request gets one access line whose
// message carries "duration=", which the runbook's triage greps for.
package daemon
