package testenv_test

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/testenv"
)

// newRedisClient returns a client for s, closed when t ends.
func newRedisClient(t testing.TB, s *testenv.RedisServer) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

func checkPing(t testing.TB, s *testenv.RedisServer) {
	t.Helper()
	got, err := newRedisClient(t, s).Ping(t.Context()).Result()
	if err != nil || got != "PONG" {
		t.Fatalf("PING %s = %q, %v; want PONG", s.Addr, got, err)
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	s := testenv.Redis(t)
	checkPing(t, s)

	if host, _, err := net.SplitHostPort(s.Addr); err != nil || host != "127.0.0.1" {
		t.Errorf("Addr = %q, want 127.0.0.1:PORT", s.Addr)
	}
	opts, err := redis.ParseURL(s.URL(3))
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", s.URL(3), err)
	}
	if opts.Addr != s.Addr || opts.DB != 3 {
		t.Errorf("URL(3) = %q parses to addr %q db %d, want %q db 3", s.URL(3), opts.Addr, opts.DB, s.Addr)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := t.Context()
	if err := c.Set(ctx, t.Name(), "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := c.Get(ctx, t.Name()).Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want v", got, err)
	}
	// Persistence is off: nothing for a test to clean up, nothing written.
	if got, err := c.ConfigGet(ctx, "save").Result(); err != nil || got["save"] != "" {
		t.Errorf("CONFIG GET save = %v, %v; want empty", got, err)
	}
}

func TestRedisStopsAfterCleanup(t *testing.T) {
	t.Parallel()
	var s *testenv.RedisServer
	t.Run("server", func(t *testing.T) {
		s = testenv.Redis(t)
		checkPing(t, s)
	})
	if t.Failed() {
		return
	}
	checkStopped(t, s.Addr)
	if _, err := os.Stat(s.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s still there after cleanup: %v", s.Dir, err)
	}
}

func TestSharedRedisReused(t *testing.T) {
	t.Parallel()
	first := testenv.SharedRedis(t)
	t.Run("second", func(t *testing.T) {
		second := testenv.SharedRedis(t)
		if second != first || second.Addr != first.Addr {
			t.Errorf("second call gave %s, first %s; want the same server", second.Addr, first.Addr)
		}
		checkPing(t, second)
	})
	// The subtest's cleanup must not have stopped it.
	checkPing(t, first)
}

// checkStopped fails t if something still accepts connections on addr.
func checkStopped(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after cleanup", addr)
	}
}

func TestRedisWithACL(t *testing.T) {
	t.Parallel()
	s := testenv.RedisWith(t, testenv.RedisOptions{Users: []string{"tars on >pw-one ~* &* +@all", "default off"}})
	if err := newRedisClient(t, s).Ping(t.Context()).Err(); err == nil {
		t.Error("PING without credentials succeeded with the default user off")
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Username: "tars", Password: "pw-one"})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Errorf("PING as tars: %v", err)
	}
}
