// Package state holds the dashboard API's shared, short-lived state: rate
// limit counters, refresh tokens and token revocations. [Redis] keeps it in
// Redis (standalone, Sentinel or Cluster) so several replicas share it;
// [Memory] keeps it in the process for a single node (the local profile).
// Both satisfy [Store] and pass the same conformance suite.
//
// # Rate limits
//
// [Store.Allow] counts requests in fixed windows. A window starts with the
// first request for a key and lasts the window's length; the request that
// starts it and every later one increments the key's counter, and a request
// is allowed while the counter is at most the limit. In Redis the counter is
// a plain integer under the caller's key with the window as its expiry, so
// the runbook's triage commands work as they are:
//
//	redis-cli GET rate_limit:192.168.1.100    # requests in the current window
//	redis-cli PTTL rate_limit:192.168.1.100   # milliseconds until it resets
//	redis-cli DEL rate_limit:192.168.1.100    # reset it now
//
// INCR, the expiry of a new window and the PTTL read run as one Lua script,
// so the count is exact however many replicas share the server.
//
// # Refresh tokens
//
// A refresh token is stored under the SHA-256 of the token, never the token.
// Using it marks it used; a second use is a replay, answered with [ErrReused]
// so that the caller revokes the token's family (every token rotated from
// the same login). In Redis:
//
//	refresh:<hash>                  hash: "record" (JSON of [Refresh]), and
//	                                "used" once used; expires with the token
//	refresh_family_revoked:<family> "1", expires when the family's last
//	                                token would have
//	revoked:<jti>                   "1", expires when the access token would have
//
// # Redis Cluster
//
// Every script and every transaction touches exactly one key, so each runs
// on the node that owns that key's slot and no hash tags are needed; the key
// names stay exactly as above.
//
// # Failures
//
// When the backing store cannot be reached, every method returns an error
// that wraps the client's error and is neither [ErrNotFound] nor
// [ErrReused]; the caller decides whether to fail open or closed. go-redis
// retries a command once after a network error, so a rate-limit request
// whose reply was lost may be counted twice; that errs on the side of
// limiting.
package state
