// Package state holds the dashboard API's shared, short-lived state: rate
// limit counters, refresh tokens and token revocations. [Redis] keeps it in
// Redis (standalone, Sentinel or Cluster) so several replicas share it;
// [Memory] keeps it in the process for a single node (the local profile).
// Both satisfy [Store] and pass the same conformance suite.
package state

import (
	"context"
	"errors"
	"time"
)

// Errors callers branch on.
var (
	// ErrNotFound: the refresh token is unknown or has expired.
	ErrNotFound = errors.New("not found")
	// ErrReused: the refresh token was already used once. The caller must
	// treat its whole family as stolen and revoke it.
	ErrReused = errors.New("refresh token reused")
)

// Decision is the outcome of one rate-limit check.
type Decision struct {
	Allowed    bool
	Count      int           // requests counted in the current window, this one included
	Limit      int           // the limit that was applied
	RetryAfter time.Duration // when Allowed is false: until the window resets (>= 1s)
}

// Refresh is what is stored for one refresh token, keyed by the token's
// SHA-256 (the token itself is never stored).
type Refresh struct {
	Username string    `json:"username"`
	Role     string    `json:"role"`
	Family   string    `json:"family"` // all tokens rotated from one login
	Expires  time.Time `json:"expires"`
}

// Store is the shared state. Implementations are safe for concurrent use.
// Every method returns a wrapped error (never ErrNotFound/ErrReused) when
// the backing store cannot be reached.
type Store interface {
	// Allow counts one request against key (e.g. "rate_limit:10.0.0.1")
	// in a fixed window and reports whether it is within limit. Counting
	// is atomic: across any number of callers sharing the store, exactly
	// limit requests are allowed per window.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (Decision, error)

	// SaveRefresh stores a refresh token's record under its hash until
	// r.Expires.
	SaveRefresh(ctx context.Context, hash string, r Refresh) error
	// UseRefresh atomically marks the token used and returns its record.
	// A token used before returns its record with ErrReused; an unknown or
	// expired one returns ErrNotFound. A token whose family was revoked
	// returns ErrNotFound.
	UseRefresh(ctx context.Context, hash string) (Refresh, error)
	// RevokeFamily makes every refresh token of family unusable until ttl
	// has passed (the longest a token of the family could live).
	RevokeFamily(ctx context.Context, family string, ttl time.Duration) error

	// RevokeToken revokes an access token by its jti until it would have
	// expired anyway.
	RevokeToken(ctx context.Context, jti string, ttl time.Duration) error
	// IsRevoked reports whether the access token jti was revoked.
	IsRevoked(ctx context.Context, jti string) (bool, error)

	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Kind is "redis" or "embedded", as /health reports it.
	Kind() string
	Close() error
}
