package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Backend is one fresh backend under the conformance suite.
type Backend struct {
	// Replicas are three or more handles on the same backend, as several
	// dashboard-api instances hold them: separate clients of one Redis, or
	// the one Memory.
	Replicas []Store
	// Now is the backend's clock.
	Now func() time.Time
	// Advance lets d pass for the backend: a fake clock moves on, a real
	// server is waited for.
	Advance func(d time.Duration)
	// Short is a window or TTL that tests may wait out with Advance. For a
	// real server it must still be long enough for a few round trips.
	Short time.Duration

	ns string // the test's own namespace, set by RunSuite
}

// key returns a key in b's test's own namespace, so tests sharing a server
// stay apart, also when -count repeats them.
func (b Backend) key(prefix, name string) string {
	return prefix + b.ns + "/" + name
}

// testSeq numbers tests across repetitions in one test binary.
var testSeq atomic.Int64

// uniqueName returns t's name made unique in this test binary.
func uniqueName(t testing.TB) string {
	return fmt.Sprintf("%s#%d", t.Name(), testSeq.Add(1))
}

// RunSuite runs the conformance tests every [Store] must pass. open returns
// a fresh backend for one test and closes its stores when the test ends.
// Tests of one backend run in parallel and keep to keys derived from their
// own names, so a shared server is fine.
func RunSuite(t *testing.T, open func(t *testing.T) Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"AllowExactConcurrent", testAllowExactConcurrent},
		{"AllowRetryAfter", testAllowRetryAfter},
		{"AllowWindowReset", testAllowWindowReset},
		{"AllowKeysIndependent", testAllowKeysIndependent},
		{"AllowInvalid", testAllowInvalid},
		{"RefreshSaveUseReuse", testRefreshSaveUseReuse},
		{"RefreshConcurrentUse", testRefreshConcurrentUse},
		{"RefreshUnknown", testRefreshUnknown},
		{"RefreshExpires", testRefreshExpires},
		{"RefreshSaveExpired", testRefreshSaveExpired},
		{"RefreshReplace", testRefreshReplace},
		{"RevokeFamily", testRevokeFamily},
		{"RevokeFamilyExpires", testRevokeFamilyExpires},
		{"RevokeToken", testRevokeToken},
		{"RevokeTokenNeverShortened", testRevokeTokenNeverShortened},
		{"AllowAndCheck", testAllowAndCheck},
		{"RevokeExpiredToken", testRevokeExpiredToken},
		{"PingKind", testPingKind},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := open(t)
			b.ns = uniqueName(t)
			tt.fn(t, b)
		})
	}
}

func testAllowExactConcurrent(t *testing.T, b Backend) {
	const (
		limit  = 20
		calls  = 3 * limit
		window = time.Minute
	)
	k := b.key("rate_limit:", "10.0.0.1")
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		mu    sync.Mutex
		got   []Decision
		errs  []error
	)
	for i := range calls {
		s := b.Replicas[i%len(b.Replicas)]
		wg.Go(func() {
			<-start
			d, err := s.Allow(t.Context(), k, limit, window)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			got = append(got, d)
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("Allow: %d errors, first: %v", len(errs), errs[0])
	}
	var allowed int
	counts := make([]int, 0, calls)
	for _, d := range got {
		if d.Allowed {
			allowed++
			if d.Count > limit || d.RetryAfter != 0 {
				t.Errorf("allowed decision %+v: want Count <= %d and no RetryAfter", d, limit)
			}
		} else if d.Count <= limit || d.RetryAfter < time.Second || d.RetryAfter > window {
			t.Errorf("denied decision %+v: want Count > %d and RetryAfter in [1s, %v]", d, limit, window)
		}
		if d.Limit != limit {
			t.Errorf("decision %+v: Limit want %d", d, limit)
		}
		counts = append(counts, d.Count)
	}
	if allowed != limit {
		t.Errorf("%d of %d concurrent calls allowed, want exactly %d", allowed, calls, limit)
	}
	// Every call got its own count: 1..calls, each once.
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("counts %v: want each of 1..%d once", counts, calls)
		}
	}
}

func testAllowRetryAfter(t *testing.T, b Backend) {
	const window = time.Minute
	s := b.Replicas[0]
	k := b.key("rate_limit:", "global")
	for i := 1; i <= 2; i++ {
		d, err := s.Allow(t.Context(), k, 2, window)
		if err != nil {
			t.Fatal(err)
		}
		if want := (Decision{Allowed: true, Count: i, Limit: 2}); d != want {
			t.Fatalf("call %d: got %+v, want %+v", i, d, want)
		}
	}
	// Well within the first second of the window: the whole window is left,
	// rounded up to whole seconds.
	d, err := b.Replicas[1].Allow(t.Context(), k, 2, window)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Decision{Allowed: false, Count: 3, Limit: 2, RetryAfter: window}); d != want {
		t.Fatalf("over the limit: got %+v, want %+v", d, want)
	}
}

func testAllowWindowReset(t *testing.T, b Backend) {
	s := b.Replicas[0]
	k := b.key("rate_limit:", "10.0.0.2")
	if d, err := s.Allow(t.Context(), k, 1, b.Short); err != nil || !d.Allowed {
		t.Fatalf("first call: %+v, %v; want allowed", d, err)
	}
	d, err := s.Allow(t.Context(), k, 1, b.Short)
	if err != nil || d.Allowed {
		t.Fatalf("second call: %+v, %v; want denied", d, err)
	}
	if want := retryAfter(b.Short); d.RetryAfter < time.Second || d.RetryAfter > want {
		t.Errorf("RetryAfter %v, want in [1s, %v]", d.RetryAfter, want)
	}
	b.Advance(b.Short)
	d, err = s.Allow(t.Context(), k, 1, b.Short)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Decision{Allowed: true, Count: 1, Limit: 1}); d != want {
		t.Fatalf("after the window: got %+v, want %+v", d, want)
	}
}

func testAllowKeysIndependent(t *testing.T, b Backend) {
	s := b.Replicas[0]
	a, c := b.key("rate_limit:", "10.0.0.3"), b.key("rate_limit:", "10.0.0.4")
	for range 3 {
		if _, err := s.Allow(t.Context(), a, 1, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.Allow(t.Context(), c, 1, time.Minute)
	if err != nil || !d.Allowed || d.Count != 1 {
		t.Fatalf("other key: %+v, %v; want allowed with count 1", d, err)
	}
}

func testAllowInvalid(t *testing.T, b Backend) {
	s := b.Replicas[0]
	k := b.key("rate_limit:", "x")
	for _, tc := range []struct {
		key    string
		limit  int
		window time.Duration
	}{
		{"", 1, time.Minute},
		{k, 0, time.Minute},
		{k, -1, time.Minute},
		{k, 1, 0},
		{k, 1, time.Microsecond},
	} {
		if d, err := s.Allow(t.Context(), tc.key, tc.limit, tc.window); err == nil {
			t.Errorf("Allow(%q, %d, %v) = %+v, want an error", tc.key, tc.limit, tc.window, d)
		}
	}
}

// newRefresh returns a record of t's own in family, expiring after ttl.
func newRefresh(t *testing.T, b Backend, family string, ttl time.Duration) Refresh {
	return Refresh{
		Username: "alice",
		Role:     "operator",
		Family:   b.key("", family),
		// Whole milliseconds, as JSON and the clocks keep them anyway.
		Expires: b.Now().Add(ttl).Truncate(time.Millisecond),
	}
}

func save(t *testing.T, s Store, hash string, r Refresh) {
	t.Helper()
	if err := s.SaveRefresh(t.Context(), hash, r); err != nil {
		t.Fatalf("SaveRefresh: %v", err)
	}
}

func sameRefresh(a, b Refresh) bool {
	return a.Username == b.Username && a.Role == b.Role && a.Family == b.Family && a.Expires.Equal(b.Expires)
}

func testRefreshSaveUseReuse(t *testing.T, b Backend) {
	h := b.key("", "hash")
	want := newRefresh(t, b, "f", time.Hour)
	save(t, b.Replicas[0], h, want)

	got, err := b.Replicas[1].UseRefresh(t.Context(), h)
	if err != nil {
		t.Fatalf("first use: %v", err)
	}
	if !sameRefresh(got, want) {
		t.Errorf("first use: got %+v, want %+v", got, want)
	}
	got, err = b.Replicas[2].UseRefresh(t.Context(), h)
	if !errors.Is(err, ErrReused) {
		t.Fatalf("second use: %v, want ErrReused", err)
	}
	if !sameRefresh(got, want) {
		t.Errorf("second use returned %+v, want the record %+v (the caller needs its family)", got, want)
	}
}

func testRefreshConcurrentUse(t *testing.T, b Backend) {
	const users = 16
	h := b.key("", "hash")
	want := newRefresh(t, b, "f", time.Hour)
	save(t, b.Replicas[0], h, want)

	var (
		start            = make(chan struct{})
		wg               sync.WaitGroup
		mu               sync.Mutex
		ok, reused       int
		unexpected       []error
		wrongRecordCount int
	)
	for i := range users {
		s := b.Replicas[i%len(b.Replicas)]
		wg.Go(func() {
			<-start
			got, err := s.UseRefresh(t.Context(), h)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrReused):
				reused++
			default:
				unexpected = append(unexpected, err)
				return
			}
			if !sameRefresh(got, want) {
				wrongRecordCount++
			}
		})
	}
	close(start)
	wg.Wait()
	if len(unexpected) > 0 {
		t.Fatalf("UseRefresh: %d unexpected errors, first: %v", len(unexpected), unexpected[0])
	}
	if ok != 1 || reused != users-1 {
		t.Errorf("%d concurrent uses: %d succeeded and %d got ErrReused, want 1 and %d", users, ok, reused, users-1)
	}
	if wrongRecordCount > 0 {
		t.Errorf("%d uses returned a record other than %+v", wrongRecordCount, want)
	}
}

func testRefreshUnknown(t *testing.T, b Backend) {
	_, err := b.Replicas[0].UseRefresh(t.Context(), b.key("", "never-saved"))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("UseRefresh of an unknown token: %v, want ErrNotFound", err)
	}
}

func testRefreshExpires(t *testing.T, b Backend) {
	h := b.key("", "hash")
	save(t, b.Replicas[0], h, newRefresh(t, b, "f", b.Short))
	b.Advance(b.Short)
	if _, err := b.Replicas[0].UseRefresh(t.Context(), h); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UseRefresh after expiry: %v, want ErrNotFound", err)
	}
}

func testRefreshSaveExpired(t *testing.T, b Backend) {
	h := b.key("", "hash")
	r := newRefresh(t, b, "f", -time.Second)
	if err := b.Replicas[0].SaveRefresh(t.Context(), h, r); err == nil {
		t.Fatal("SaveRefresh of an expired record succeeded, want an error")
	}
	if err := b.Replicas[0].SaveRefresh(t.Context(), "", newRefresh(t, b, "f", time.Hour)); err == nil {
		t.Fatal("SaveRefresh with an empty hash succeeded, want an error")
	}
}

func testRefreshReplace(t *testing.T, b Backend) {
	h := b.key("", "hash")
	save(t, b.Replicas[0], h, newRefresh(t, b, "old", time.Hour))
	if _, err := b.Replicas[0].UseRefresh(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	want := newRefresh(t, b, "new", time.Hour)
	save(t, b.Replicas[0], h, want)
	got, err := b.Replicas[0].UseRefresh(t.Context(), h)
	if err != nil {
		t.Fatalf("use of a replaced record: %v, want a first use", err)
	}
	if !sameRefresh(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func testRevokeFamily(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.Replicas[0]
	used, unused, other := b.key("", "used"), b.key("", "unused"), b.key("", "other")
	save(t, s, used, newRefresh(t, b, "f", time.Hour))
	save(t, s, unused, newRefresh(t, b, "f", time.Hour))
	save(t, s, other, newRefresh(t, b, "g", time.Hour))
	if _, err := s.UseRefresh(ctx, used); err != nil {
		t.Fatal(err)
	}
	if err := b.Replicas[1].RevokeFamily(ctx, b.key("", "f"), time.Hour); err != nil {
		t.Fatalf("RevokeFamily: %v", err)
	}
	for _, h := range []string{used, unused} {
		if _, err := b.Replicas[2].UseRefresh(ctx, h); !errors.Is(err, ErrNotFound) {
			t.Errorf("UseRefresh(%s) in a revoked family: %v, want ErrNotFound", h, err)
		}
	}
	if _, err := s.UseRefresh(ctx, other); err != nil {
		t.Errorf("UseRefresh in another family: %v, want success", err)
	}
	if err := s.RevokeFamily(ctx, "", time.Hour); err == nil {
		t.Error("RevokeFamily of an empty family succeeded, want an error")
	}
}

func testRevokeFamilyExpires(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.Replicas[0]
	h := b.key("", "hash")
	save(t, s, h, newRefresh(t, b, "f", time.Hour))
	if err := s.RevokeFamily(ctx, b.key("", "f"), b.Short); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseRefresh(ctx, h); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UseRefresh in a revoked family: %v, want ErrNotFound", err)
	}
	// Past the revocation's ttl the family is usable again; the ttl is
	// the caller's promise that no token of it lives that long.
	b.Advance(b.Short)
	if _, err := s.UseRefresh(ctx, h); !errors.Is(err, ErrReused) {
		t.Fatalf("UseRefresh after the revocation expired: %v, want ErrReused (marked used by the first try)", err)
	}
}

func testRevokeToken(t *testing.T, b Backend) {
	ctx := t.Context()
	jti, other := b.key("", "jti"), b.key("", "other")
	assertRevoked(t, b.Replicas[0], jti, false)
	if err := b.Replicas[0].RevokeToken(ctx, jti, b.Short); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	assertRevoked(t, b.Replicas[1], jti, true)
	assertRevoked(t, b.Replicas[1], other, false)
	b.Advance(b.Short)
	assertRevoked(t, b.Replicas[2], jti, false)
	if err := b.Replicas[0].RevokeToken(ctx, "", time.Hour); err == nil {
		t.Error("RevokeToken of an empty jti succeeded, want an error")
	}
}

func testRevokeTokenNeverShortened(t *testing.T, b Backend) {
	ctx := t.Context()
	jti := b.key("", "jti")
	if err := b.Replicas[0].RevokeToken(ctx, jti, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := b.Replicas[1].RevokeToken(ctx, jti, b.Short); err != nil {
		t.Fatal(err)
	}
	b.Advance(b.Short)
	assertRevoked(t, b.Replicas[2], jti, true)
}

func testRevokeExpiredToken(t *testing.T, b Backend) {
	jti := b.key("", "jti")
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := b.Replicas[0].RevokeToken(t.Context(), jti, ttl); err != nil {
			t.Fatalf("RevokeToken(ttl %v): %v, want nothing done", ttl, err)
		}
	}
	assertRevoked(t, b.Replicas[0], jti, false)
}

func assertRevoked(t *testing.T, s Store, jti string, want bool) {
	t.Helper()
	got, err := s.IsRevoked(t.Context(), jti)
	if err != nil {
		t.Fatalf("IsRevoked(%s): %v", jti, err)
	}
	if got != want {
		t.Fatalf("IsRevoked(%s) = %v, want %v", jti, got, want)
	}
}

func testPingKind(t *testing.T, b Backend) {
	for _, s := range b.Replicas {
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
		if k := s.Kind(); k != KindRedis && k != KindEmbedded {
			t.Errorf("Kind() = %q, want %q or %q", k, KindRedis, KindEmbedded)
		}
	}
}

func testClosed(t *testing.T, b Backend) {
	s := b.Replicas[0]
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := t.Context()
	h := b.key("", "h")
	calls := map[string]func() error{
		"Allow":        func() error { _, err := s.Allow(ctx, b.key("rate_limit:", "x"), 1, time.Minute); return err },
		"SaveRefresh":  func() error { return s.SaveRefresh(ctx, h, newRefresh(t, b, "f", time.Hour)) },
		"UseRefresh":   func() error { _, err := s.UseRefresh(ctx, h); return err },
		"RevokeFamily": func() error { return s.RevokeFamily(ctx, "f", time.Hour) },
		"RevokeToken":  func() error { return s.RevokeToken(ctx, "j", time.Hour) },
		"IsRevoked":    func() error { _, err := s.IsRevoked(ctx, "j"); return err },
		"Ping":         func() error { return s.Ping(ctx) },
	}
	for name, call := range calls {
		err := call()
		if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrReused) {
			t.Errorf("%s after Close: %v, want an error that is neither ErrNotFound nor ErrReused", name, err)
		}
	}
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// waitFor lets d pass in real time, unless t's context ends first. A real
// server's TTLs cannot be hurried.
func waitFor(t *testing.T, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-t.Context().Done():
		t.Fatalf("waiting %v: %v", d, context.Cause(t.Context()))
	}
}

func testAllowAndCheck(t *testing.T, b Backend) {
	ctx := t.Context()
	key, jti := b.key("rate_limit:", "10.0.0.9"), b.key("", "jti-aac")
	for i := 1; i <= 3; i++ {
		d, revoked, err := b.Replicas[i%len(b.Replicas)].AllowAndCheck(ctx, key, 2, time.Minute, jti)
		if err != nil {
			t.Fatalf("AllowAndCheck: %v", err)
		}
		if revoked || d.Count != i || d.Allowed != (i <= 2) {
			t.Errorf("call %d: %+v revoked=%v; want count %d, allowed %v, not revoked", i, d, revoked, i, i <= 2)
		}
	}
	if err := b.Replicas[0].RevokeToken(ctx, jti, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, revoked, err := b.Replicas[1].AllowAndCheck(ctx, b.key("rate_limit:", "other"), 5, time.Minute, jti); err != nil || !revoked {
		t.Errorf("after RevokeToken: revoked=%v err=%v; want revoked", revoked, err)
	}
}
