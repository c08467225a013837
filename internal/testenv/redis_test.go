package testenv_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"slices"
	"strconv"
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

func TestRedisWithTLS(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t)
	s := testenv.RedisWith(t, testenv.RedisOptions{TLS: &testenv.RedisTLS{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile}})
	pem, err := os.ReadFile(certs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Errorf("PING over TLS, verified by the CA: %v", err)
	}
	// The port speaks TLS only.
	if err := newRedisClient(t, s).Ping(t.Context()).Err(); err == nil {
		t.Error("PING in plain text to the TLS port succeeded")
	}
}

func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	s := testenv.RedisSentinel(t)
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { sc.Close() })
	got, err := sc.GetMasterAddrByName(t.Context(), s.MasterName).Result()
	if err != nil || len(got) != 2 || net.JoinHostPort(got[0], got[1]) != s.Master.Addr {
		t.Fatalf("SENTINEL GET-MASTER-ADDR-BY-NAME %s = %v, %v; want %s", s.MasterName, got, err, s.Master.Addr)
	}
	checkPing(t, s.Master)
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	cl := testenv.RedisCluster(t)
	if len(cl.Nodes) != 3 || len(cl.Addrs) != 3 {
		t.Fatalf("%d nodes, %d addresses; want 3", len(cl.Nodes), len(cl.Addrs))
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs[:1]})
	t.Cleanup(func() { c.Close() })
	shards, err := c.ClusterShards(t.Context()).Result()
	if err != nil || len(shards) != 3 {
		t.Fatalf("CLUSTER SHARDS = %v, %v; want 3 shards", shards, err)
	}
	for _, s := range shards {
		if len(s.Nodes) != 1 || len(s.Slots) != 1 || s.Nodes[0].IP != "127.0.0.1" ||
			!slices.Contains(cl.Addrs, net.JoinHostPort(s.Nodes[0].IP, strconv.FormatInt(s.Nodes[0].Port, 10))) {
			t.Errorf("shard %+v: want one node of %v, announced on 127.0.0.1, with one slot range", s, cl.Addrs)
		}
	}
	if err := c.Set(t.Context(), t.Name(), "v", 0).Err(); err != nil {
		t.Errorf("SET through the cluster: %v", err)
	}
}
