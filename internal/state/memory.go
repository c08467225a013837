package state

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultSweepInterval is how often a [Memory] drops expired entries that
// nobody has touched since they expired.
const DefaultSweepInterval = time.Minute

// Memory is the in-process [Store] for a single node, used when no Redis is
// configured. It has the same semantics as [Redis], but its state lives and
// dies with the process and is not shared between replicas.
//
// Expired entries are dropped when they are next touched and by a sweep every
// [DefaultSweepInterval], so memory stays bounded by the entries that are
// live; [Memory.Close] stops the sweep.
type Memory struct {
	now func() time.Time

	mu       sync.Mutex
	closed   bool
	windows  map[string]memWindow   // rate-limit key → window
	refresh  map[string]*memRefresh // token hash → record
	families map[string]time.Time   // revoked family → revoked until
	revoked  map[string]time.Time   // revoked jti → revoked until

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ Store = (*Memory)(nil)

type memWindow struct {
	count int
	reset time.Time // the window ends here
}

type memRefresh struct {
	rec  Refresh
	used bool
}

// NewMemory returns an empty in-process store that reads the time from now
// (time.Now when nil). Close it to stop its sweep.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	m := &Memory{
		now:      now,
		windows:  make(map[string]memWindow),
		refresh:  make(map[string]*memRefresh),
		families: make(map[string]time.Time),
		revoked:  make(map[string]time.Time),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go m.sweepLoop(DefaultSweepInterval)
	return m
}

// sweepLoop runs [Memory.sweep] every interval until Close.
func (m *Memory) sweepLoop(interval time.Duration) {
	defer close(m.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
			m.sweep()
		}
	}
}

// sweep drops every expired entry.
func (m *Memory) sweep() {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for k, w := range m.windows {
		if !now.Before(w.reset) {
			delete(m.windows, k)
		}
	}
	for k, r := range m.refresh {
		if !now.Before(r.rec.Expires) {
			delete(m.refresh, k)
		}
	}
	for _, set := range []map[string]time.Time{m.families, m.revoked} {
		for k, until := range set {
			if !now.Before(until) {
				delete(set, k)
			}
		}
	}
}

// Allow implements [Store.Allow].
func (m *Memory) Allow(_ context.Context, key string, limit int, window time.Duration) (Decision, error) {
	if err := checkAllow(key, limit, window); err != nil {
		return Decision{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Decision{}, fmt.Errorf("rate limit %q: %w", key, errClosed)
	}
	now := m.now()
	w, ok := m.windows[key]
	if !ok || !now.Before(w.reset) {
		// Redis keeps whole milliseconds; so does this, so that both
		// answer alike.
		w = memWindow{reset: now.Add(time.Duration(millis(window)) * time.Millisecond)}
	}
	w.count++
	m.windows[key] = w
	return decide(w.count, limit, w.reset.Sub(now)), nil
}

// SaveRefresh implements [Store.SaveRefresh].
func (m *Memory) SaveRefresh(_ context.Context, hash string, r Refresh) error {
	if hash == "" {
		return fmt.Errorf("save refresh token: empty hash")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("save refresh token: %w", errClosed)
	}
	if !r.Expires.After(m.now()) {
		return fmt.Errorf("save refresh token: record expired at %s", r.Expires.Format(time.RFC3339))
	}
	m.refresh[hash] = &memRefresh{rec: r}
	return nil
}

// UseRefresh implements [Store.UseRefresh].
func (m *Memory) UseRefresh(_ context.Context, hash string) (Refresh, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Refresh{}, fmt.Errorf("use refresh token: %w", errClosed)
	}
	now := m.now()
	e, ok := m.refresh[hash]
	if ok && !now.Before(e.rec.Expires) {
		delete(m.refresh, hash)
		ok = false
	}
	if !ok {
		return Refresh{}, fmt.Errorf("use refresh token: %w", ErrNotFound)
	}
	// Marked used before the family check, as in Redis, where the two
	// cannot be one step.
	first := !e.used
	e.used = true
	if until, ok := m.families[e.rec.Family]; ok {
		if now.Before(until) {
			return Refresh{}, fmt.Errorf("use refresh token: family revoked: %w", ErrNotFound)
		}
		delete(m.families, e.rec.Family)
	}
	if !first {
		return e.rec, fmt.Errorf("use refresh token: %w", ErrReused)
	}
	return e.rec, nil
}

// RevokeFamily implements [Store.RevokeFamily].
func (m *Memory) RevokeFamily(_ context.Context, family string, ttl time.Duration) error {
	if family == "" {
		return fmt.Errorf("revoke refresh token family: empty family")
	}
	if err := m.revoke(m.families, family, ttl); err != nil {
		return fmt.Errorf("revoke refresh token family %q: %w", family, err)
	}
	return nil
}

// RevokeToken implements [Store.RevokeToken].
func (m *Memory) RevokeToken(_ context.Context, jti string, ttl time.Duration) error {
	if jti == "" {
		return fmt.Errorf("revoke token: empty jti")
	}
	if err := m.revoke(m.revoked, jti, ttl); err != nil {
		return fmt.Errorf("revoke token %q: %w", jti, err)
	}
	return nil
}

// revoke adds id to set for ttl, never shortening an earlier revocation.
func (m *Memory) revoke(set map[string]time.Time, id string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	if ttl <= 0 {
		return nil
	}
	until := m.now().Add(time.Duration(millis(ttl)) * time.Millisecond)
	if cur, ok := set[id]; !ok || until.After(cur) {
		set[id] = until
	}
	return nil
}

// IsRevoked implements [Store.IsRevoked].
func (m *Memory) IsRevoked(_ context.Context, jti string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, fmt.Errorf("check token %q: %w", jti, errClosed)
	}
	until, ok := m.revoked[jti]
	if ok && !m.now().Before(until) {
		delete(m.revoked, jti)
		ok = false
	}
	return ok, nil
}

// AllowAndCheck implements [Store.AllowAndCheck].
func (m *Memory) AllowAndCheck(ctx context.Context, key string, limit int, window time.Duration, jti string) (Decision, bool, error) {
	d, err := m.Allow(ctx, key, limit, window)
	if err != nil {
		return d, false, err
	}
	revoked, err := m.IsRevoked(ctx, jti)
	return d, revoked, err
}

// Ping implements [Store.Ping]: it fails only after Close.
func (m *Memory) Ping(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("ping state store: %w", errClosed)
	}
	return nil
}

// Kind returns [KindEmbedded].
func (m *Memory) Kind() string { return KindEmbedded }

// Close stops the sweep and drops the state; later calls fail.
func (m *Memory) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		// clear, not nil: the map fields never change after NewMemory.
		clear(m.windows)
		clear(m.refresh)
		clear(m.families)
		clear(m.revoked)
		m.mu.Unlock()
		close(m.stop)
		<-m.done
	})
	return nil
}

// len returns the number of entries held, for tests of the sweep.
func (m *Memory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.windows) + len(m.refresh) + len(m.families) + len(m.revoked)
}
