package state

import (
	"context"
	"errors"
	"time"

	"github.com/tars-ops/tarsctl/internal/daemon"
)

// Errors callers branch on, with [errors.Is]: the methods wrap them.
var (
	// ErrNotFound means the refresh token is unknown, has expired, or
	// belongs to a revoked family.
	ErrNotFound = errors.New("not found")
	// ErrReused means the refresh token was already used once. The caller
	// must treat its whole family as stolen and revoke it.
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
// the backing store cannot be reached or has been closed.
type Store interface {
	// Allow counts one request against key (e.g. "rate_limit:10.0.0.1")
	// in a fixed window and reports whether it is within limit. Counting
	// is atomic: across any number of callers sharing the store, exactly
	// limit requests are allowed per window. The window starts with the
	// first request for key; a key's window keeps the length it started
	// with. limit must be at least 1 and window at least 1ms, or Allow
	// returns an error.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (Decision, error)

	// SaveRefresh stores a refresh token's record under its hash until
	// r.Expires, replacing any record under the same hash. A record that
	// has already expired is an error.
	SaveRefresh(ctx context.Context, hash string, r Refresh) error
	// UseRefresh atomically marks the token used and returns its record.
	// A token used before returns its record with ErrReused; an unknown or
	// expired one returns ErrNotFound. A token whose family was revoked
	// returns ErrNotFound.
	UseRefresh(ctx context.Context, hash string) (Refresh, error)
	// RevokeFamily makes every refresh token of family unusable until ttl
	// has passed (the longest a token of the family could live). Revoking
	// again never shortens a revocation; a ttl <= 0 does nothing.
	RevokeFamily(ctx context.Context, family string, ttl time.Duration) error

	// RevokeToken revokes an access token by its jti for ttl, until it
	// would have expired anyway. Revoking again never shortens a
	// revocation; a ttl <= 0 (an expired token) does nothing.
	RevokeToken(ctx context.Context, jti string, ttl time.Duration) error
	// IsRevoked reports whether the access token jti was revoked.
	IsRevoked(ctx context.Context, jti string) (bool, error)
	// AllowAndCheck does Allow and IsRevoked in one round trip: the two
	// questions every authenticated request asks. The count is atomic as
	// in Allow; the two answers need not be atomic together.
	AllowAndCheck(ctx context.Context, key string, limit int, window time.Duration, jti string) (Decision, bool, error)

	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Kind is "redis" or "embedded", as /health reports it.
	Kind() string
	// Close releases the store; later calls fail. Closing twice is not
	// an error.
	Close() error
}

// HealthCheck is the daemon's /health check "redis" for st: "embedded" for
// the in-process store, "ok" when Redis answers PING, the error when not.
func HealthCheck(st Store) daemon.Check {
	return daemon.Check{Name: "redis", Run: func(ctx context.Context) (string, error) {
		if err := st.Ping(ctx); err != nil {
			return "", err
		}
		if st.Kind() == "embedded" {
			return daemon.StatusEmbedded, nil
		}
		return daemon.StatusOK, nil
	}}
}
