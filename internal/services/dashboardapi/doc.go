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
// [Run] prepares what a first start needs: the JWT secret
// (serviceapi.LoadJWT, which generates one on the local profile) and the
// initial admin account ([EnsureAdmin]).
//
// # Responses
//
// Authentication, request bodies and error answers are
// internal/serviceapi's, as on every daemon: 401 {"error":
// "Unauthorized", "message": "Invalid or expired token"} (the runbook's
// body), 403 {"error": "Forbidden", "message": ...}, 400, 413 or 415 for a
// body that is not one well-formed JSON object. dashboard-api adds 429
// {"error": "Too Many Requests", "message": ..., "retry_after": N} with a
// Retry-After header, and records every 401 and 403 in the audit log.
package dashboardapi
