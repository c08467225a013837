package state

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) {
	// go-redis logs failed dials to stderr; the tests of dead servers
	// provoke them on purpose.
	redis.SetLogger(discardLogger{})
	os.Exit(testenv.Main(m))
}

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// redisShort is the window the suite waits out against the real server:
// long enough for a few round trips under -race on a busy machine.
const redisShort = time.Second

// newTestClient returns a client of the shared server, closed when t ends.
func newTestClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: testenv.SharedRedis(t).Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedis(t *testing.T) {
	t.Parallel()
	RunSuite(t, func(t *testing.T) Backend {
		// Three clients with their own connection pools, as three
		// dashboard-api replicas would have, built as the daemon builds
		// them.
		srv := testenv.SharedRedis(t)
		cfg := config.RedisConfig{Enabled: true, Mode: config.RedisStandalone, Host: "127.0.0.1", Port: srv.Port}
		var replicas []Store
		for range 3 {
			s, err := OpenRedis(t.Context(), cfg, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			replicas = append(replicas, s)
		}
		return Backend{
			Replicas: replicas,
			Now:      time.Now,
			// Redis expires a key once its millisecond clock is past the
			// expiry, so a little more than d must pass.
			Advance: func(d time.Duration) { waitFor(t, d+10*time.Millisecond) },
			Short:   redisShort,
		}
	})
}

// TestRedisKeys checks what the runbook's redis-cli commands and an
// operator see: the key names and their values.
func TestRedisKeys(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	raw := newTestClient(t)
	s := NewRedis(newTestClient(t))
	p := uniqueName(t) + "/"

	ip := "rate_limit:" + p + "192.168.1.100"
	for range 3 {
		if _, err := s.Allow(ctx, ip, 60, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := raw.Get(ctx, ip).Result(); err != nil || got != "3" {
		t.Errorf("GET %s = %q, %v; want a plain counter \"3\"", ip, got, err)
	}
	assertPTTL(t, raw, ip, time.Minute)

	rec := Refresh{Username: "alice", Role: "viewer", Family: p + "fam", Expires: time.Now().Add(time.Hour)}
	if err := s.SaveRefresh(ctx, p+"h", rec); err != nil {
		t.Fatal(err)
	}
	fields, err := raw.HGetAll(ctx, "refresh:"+p+"h").Result()
	if err != nil {
		t.Fatal(err)
	}
	var stored Refresh
	if err := json.Unmarshal([]byte(fields["record"]), &stored); err != nil || !sameRefresh(stored, rec) {
		t.Errorf("refresh:%sh record = %q (%v), want the JSON of %+v", p, fields["record"], err, rec)
	}
	if _, ok := fields["used"]; ok {
		t.Errorf("refresh:%sh is marked used before any use: %v", p, fields)
	}
	assertPTTL(t, raw, "refresh:"+p+"h", time.Hour)
	if _, err := s.UseRefresh(ctx, p+"h"); err != nil {
		t.Fatal(err)
	}
	if used, err := raw.HExists(ctx, "refresh:"+p+"h", "used").Result(); err != nil || !used {
		t.Errorf("refresh:%sh not marked used after a use: %v, %v", p, used, err)
	}

	if err := s.RevokeFamily(ctx, p+"fam", 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	assertPTTL(t, raw, "refresh_family_revoked:"+p+"fam", 2*time.Hour)
	if err := s.RevokeToken(ctx, p+"jti", 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := raw.Get(ctx, "revoked:"+p+"jti").Result(); err != nil || got != "1" {
		t.Errorf("GET revoked:%sjti = %q, %v; want \"1\"", p, got, err)
	}
	assertPTTL(t, raw, "revoked:"+p+"jti", 15*time.Minute)
}

// assertPTTL checks that key expires within max, and not much sooner.
func assertPTTL(t *testing.T, c *redis.Client, key string, max time.Duration) {
	t.Helper()
	ttl, err := c.PTTL(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl > max || ttl < max-10*time.Second {
		t.Errorf("PTTL %s = %v, want just under %v", key, ttl, max)
	}
}

// TestRedisRetryAfterFromPTTL sets a window's counter and expiry directly
// and checks how Allow rounds the time left, without waiting for it. Each
// case holds unless half a second passes between SET and Allow.
func TestRedisRetryAfterFromPTTL(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	raw := newTestClient(t)
	s := NewRedis(newTestClient(t))
	for _, tc := range []struct {
		left time.Duration
		want time.Duration
	}{
		{59500 * time.Millisecond, time.Minute},
		{30 * time.Second, 30 * time.Second},
		{1500 * time.Millisecond, 2 * time.Second},
		{300 * time.Millisecond, time.Second},
	} {
		k := "rate_limit:" + uniqueName(t) + "/" + tc.left.String()
		if err := raw.Set(ctx, k, 5, tc.left).Err(); err != nil {
			t.Fatal(err)
		}
		d, err := s.Allow(ctx, k, 5, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if want := (Decision{Allowed: false, Count: 6, Limit: 5, RetryAfter: tc.want}); d != want {
			t.Errorf("%v left: got %+v, want %+v", tc.left, d, want)
		}
	}
}

// TestRedisCounterWithoutExpiry checks that a counter someone left without
// an expiry gets the window rather than limiting forever.
func TestRedisCounterWithoutExpiry(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	raw := newTestClient(t)
	s := NewRedis(newTestClient(t))
	k := "rate_limit:" + uniqueName(t)
	if err := raw.Set(ctx, k, 100, 0).Err(); err != nil {
		t.Fatal(err)
	}
	d, err := s.Allow(ctx, k, 5, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.RetryAfter != time.Minute {
		t.Errorf("got %+v, want denied with RetryAfter 1m", d)
	}
	assertPTTL(t, raw, k, time.Minute)
}

func TestOpenRedis(t *testing.T) {
	t.Parallel()
	srv := testenv.SharedRedis(t)
	cfg := config.RedisConfig{Enabled: true, Mode: config.RedisStandalone, Host: "127.0.0.1", Port: srv.Port}
	s, err := OpenRedis(t.Context(), cfg, "")
	if err != nil {
		t.Fatalf("OpenRedis: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if s.Kind() != KindRedis {
		t.Errorf("Kind() = %q, want %q", s.Kind(), KindRedis)
	}
	d, err := s.Allow(t.Context(), "rate_limit:"+uniqueName(t), 1, time.Minute)
	if err != nil || !d.Allowed {
		t.Fatalf("Allow: %+v, %v", d, err)
	}
}

// TestOpenRedisTLS: the daemons' store connects over TLS, as an ACL user,
// when the configuration says so, and the store works there.
func TestOpenRedisTLS(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t)
	srv := testenv.RedisWith(t, testenv.RedisOptions{
		Users: []string{"tars on >tls-pw ~* &* +@all", "default off"},
		TLS:   &testenv.RedisTLS{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile},
	})
	cfg := config.RedisConfig{Enabled: true, Host: "127.0.0.1", Port: srv.Port, Username: "tars",
		TLS: config.RedisTLSConfig{Enabled: true, CAFile: certs.CAFile}}
	s, err := OpenRedis(t.Context(), cfg, "tls-pw")
	if err != nil {
		t.Fatalf("OpenRedis over TLS: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if d, err := s.Allow(t.Context(), "rate_limit:"+uniqueName(t), 1, time.Minute); err != nil || !d.Allowed {
		t.Fatalf("Allow over TLS: %+v, %v", d, err)
	}
	cfg.TLS.Enabled = false
	cfg.TLS.CAFile = ""
	if _, err := OpenRedis(t.Context(), cfg, "tls-pw"); err == nil {
		t.Error("a plain-text store connected to a TLS-only server")
	}
}

// TestOpenRedisPassword runs a private server with a password: the right
// one connects, a wrong one fails without showing either.
func TestOpenRedisPassword(t *testing.T) {
	t.Parallel()
	srv := testenv.Redis(t)
	const password = "s3cret-for-test"
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = admin.Close() })
	if err := admin.ConfigSet(t.Context(), "requirepass", password).Err(); err != nil {
		t.Fatal(err)
	}
	cfg := config.RedisConfig{Enabled: true, Host: "127.0.0.1", Port: srv.Port, Password: "env:REDIS_PASSWORD"}

	s, err := OpenRedis(t.Context(), cfg, password)
	if err != nil {
		t.Fatalf("OpenRedis with the password: %v", err)
	}
	_ = s.Close()

	const wrong = "wrong-password"
	_, err = OpenRedis(t.Context(), cfg, wrong)
	if err == nil {
		t.Fatal("OpenRedis with a wrong password succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, password) || strings.Contains(msg, wrong) {
		t.Errorf("error shows a password: %v", err)
	}
	if !strings.Contains(err.Error(), srv.Addr) {
		t.Errorf("error %q does not name %s", err, srv.Addr)
	}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr.String(), addr.Port
}

func TestOpenRedisUnreachable(t *testing.T) {
	t.Parallel()
	addr, port := deadAddr(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := OpenRedis(ctx, config.RedisConfig{Enabled: true, Host: "127.0.0.1", Port: port}, "")
	if err == nil {
		t.Fatal("OpenRedis of a dead address succeeded")
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name %s", err, addr)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error %v does not wrap the *net.OpError", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("OpenRedis took %v to fail on a refused connection", elapsed)
	}
}

// TestRedisUnreachable checks that every method of a store whose server is
// gone returns an error, neither a panic nor a sentinel.
func TestRedisUnreachable(t *testing.T) {
	t.Parallel()
	addr, _ := deadAddr(t)
	s := NewRedis(redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1}))
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	calls := map[string]func() error{
		"Allow":        func() error { _, err := s.Allow(ctx, "rate_limit:x", 1, time.Minute); return err },
		"SaveRefresh":  func() error { return s.SaveRefresh(ctx, "h", Refresh{Expires: time.Now().Add(time.Hour)}) },
		"UseRefresh":   func() error { _, err := s.UseRefresh(ctx, "h"); return err },
		"RevokeFamily": func() error { return s.RevokeFamily(ctx, "f", time.Hour) },
		"RevokeToken":  func() error { return s.RevokeToken(ctx, "j", time.Hour) },
		"IsRevoked":    func() error { _, err := s.IsRevoked(ctx, "j"); return err },
		"Ping":         func() error { return s.Ping(ctx) },
	}
	for name, call := range calls {
		err := call()
		if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrReused) {
			t.Errorf("%s against a dead server: %v, want an error that is neither ErrNotFound nor ErrReused", name, err)
		}
	}
}

// BenchmarkRedisAllow measures Allow against the real server from parallel
// goroutines sharing one client, as a dashboard-api replica does; each
// iteration is one script round trip. Keys spread over 1024 client IPs.
func BenchmarkRedisAllow(b *testing.B) {
	s := NewRedis(redis.NewClient(&redis.Options{Addr: testenv.SharedRedis(b).Addr}))
	b.Cleanup(func() { _ = s.Close() })
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "rate_limit:bench/10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Allow(b.Context(), keys[i%len(keys)], 1<<30, time.Minute); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "allows/s")
}
