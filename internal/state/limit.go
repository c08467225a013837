package state

import (
	"errors"
	"fmt"
	"time"
)

// Kinds, as [Store.Kind] reports them and /health shows them.
const (
	KindRedis    = "redis"
	KindEmbedded = "embedded"
)

// errClosed is returned by a [Memory] after Close.
var errClosed = errors.New("state store is closed")

// checkAllow validates the arguments of [Store.Allow].
func checkAllow(key string, limit int, window time.Duration) error {
	switch {
	case key == "":
		return errors.New("rate limit: empty key")
	case limit < 1:
		return fmt.Errorf("rate limit %q: limit %d, want at least 1", key, limit)
	case window < time.Millisecond:
		return fmt.Errorf("rate limit %q: window %v, want at least 1ms", key, window)
	}
	return nil
}

// decide turns a window's count and the time left in it into a [Decision].
func decide(count, limit int, remaining time.Duration) Decision {
	d := Decision{Allowed: count <= limit, Count: count, Limit: limit}
	if !d.Allowed {
		d.RetryAfter = retryAfter(remaining)
	}
	return d
}

// retryAfter rounds the time left in a window up to whole seconds, as the
// Retry-After header carries it, and to at least one second: a client told
// to retry after 0 seconds would retry at once, into the same window.
func retryAfter(remaining time.Duration) time.Duration {
	secs := (remaining + time.Second - 1) / time.Second
	return max(secs, 1) * time.Second
}

// millis returns d in whole milliseconds, rounded up, as Redis's PX and
// PEXPIRE take it: rounding down could turn a short TTL into 0, which
// deletes the key.
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
