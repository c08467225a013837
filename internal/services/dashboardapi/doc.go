// Package dashboardapi is the dashboard API daemon (port 3001): login with
// JWT access tokens and rotating refresh tokens, role-based access (admin,
// operator, viewer), per-IP and global rate limiting, the agents list, the
// compliance status of the running configuration, and an audit log.
//
// # Wiring
//
// [New] returns the service's http.Handler from [Options]; the daemon
// package serves it beside /health, /ready and /metrics, which never pass
// through this handler and so are never authenticated or rate limited.
// [Bootstrap] prepares what a first start needs (a JWT secret on the
// local profile, the initial admin account).
//
// # Responses
//
// Errors are JSON: 401 {"error": "Unauthorized", "message": "Invalid or
// expired token"} (the runbook's body), 403 {"error": "Forbidden"}, 429
// {"error": "Too Many Requests", "retry_after": N} with a Retry-After
// header.
package dashboardapi
