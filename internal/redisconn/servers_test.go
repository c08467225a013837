package redisconn_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/redisconn"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// connect connects to e and closes the client when t ends.
func connect(t *testing.T, e redisconn.Endpoint, o redisconn.Options) redis.UniversalClient {
	t.Helper()
	c, _, err := redisconn.Connect(t.Context(), e, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes and reads back a key of t's.
func roundTrip(t *testing.T, c redis.UniversalClient) {
	t.Helper()
	ctx := t.Context()
	if err := c.Set(ctx, t.Name(), "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := c.Get(ctx, t.Name()).Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v", got, err)
	}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestStandalone(t *testing.T) {
	t.Parallel()
	srv := testenv.SharedRedis(t)
	e, err := redisconn.FromConfig(config.RedisConfig{Enabled: true, Host: "127.0.0.1", Port: srv.Port, DB: 3}, "")
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, e, redisconn.Options{})
	roundTrip(t, c)
	// The key went to database 3.
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 3})
	defer raw.Close()
	if n, err := raw.Exists(t.Context(), t.Name()).Result(); err != nil || n != 1 {
		t.Errorf("EXISTS in db 3 = %d, %v", n, err)
	}
	node, where, err := redisconn.OpenNode(e, redisconn.Options{})
	if err != nil || where != srv.Addr {
		t.Fatalf("OpenNode: %q, %v", where, err)
	}
	defer node.Close()
	if err := node.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestACL: an ACL user authenticates with its password; a wrong password
// and a forbidden command are ErrPermission, and no error shows a
// password.
func TestACL(t *testing.T) {
	t.Parallel()
	srv := testenv.RedisWith(t, testenv.RedisOptions{Users: []string{
		"tars on >tars-pw ~* &* +@all", "reader on >reader-pw ~* +get +ping", "default off"}})
	base := redisconn.Endpoint{Addrs: []string{srv.Addr}}
	ctx := t.Context()

	tars := base
	tars.Username, tars.Password = "tars", "tars-pw"
	roundTrip(t, connect(t, tars, redisconn.Options{}))

	wrong := base
	wrong.Username, wrong.Password = "tars", "wrong-secret"
	_, _, err := redisconn.Connect(ctx, wrong, redisconn.Options{})
	if !errors.Is(err, redisconn.ErrPermission) || !strings.Contains(err.Error(), "WRONGPASS") || !strings.Contains(err.Error(), srv.Addr) {
		t.Errorf("wrong password: %v, want ErrPermission with WRONGPASS naming %s", err, srv.Addr)
	}
	if err != nil && strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("the error shows the password: %v", err)
	}
	if _, _, err := redisconn.Connect(ctx, base, redisconn.Options{}); !errors.Is(err, redisconn.ErrPermission) {
		t.Errorf("no user (default is off): %v, want ErrPermission", err)
	}

	reader := base
	reader.Username, reader.Password = "reader", "reader-pw"
	rc := connect(t, reader, redisconn.Options{})
	err = redisconn.Classify(rc.Set(ctx, t.Name(), "v", 0).Err())
	if !errors.Is(err, redisconn.ErrPermission) || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("SET as reader: %v, want ErrPermission (NOPERM)", err)
	}

	// Options.Credentials wins over the endpoint's user and password.
	asked := 0
	c := connect(t, wrong, redisconn.Options{PoolSize: 1, Credentials: func() (string, string) {
		asked++
		return "tars", "tars-pw"
	}})
	roundTrip(t, c)
	if asked == 0 {
		t.Error("Credentials was not asked")
	}
}

// TestFileCredentialsRotation: a client opened with redis.password
// file:PATH keeps working when the password is rotated under it: its open
// connections stay authenticated after the old password is removed, and
// new ones authenticate with the password now in the file.
func TestFileCredentialsRotation(t *testing.T) {
	t.Parallel()
	srv := testenv.RedisWith(t, testenv.RedisOptions{Users: []string{"tars on >old-password ~* &* +@all", "default off"}})
	file := filepath.Join(t.TempDir(), "redis_password")
	if err := os.WriteFile(file, []byte("old-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.RedisConfig{Mode: config.RedisStandalone, Host: "127.0.0.1", Port: srv.Port, Username: "tars",
		Password: config.Secret("file:" + file), PoolSize: 2}
	e, err := redisconn.FromConfig(cfg, "old-password")
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, e, redisconn.Options{Retries: 1})

	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "tars", Password: "old-password", PoolSize: 1})
	t.Cleanup(func() { admin.Close() })
	ctx := t.Context()
	if err := admin.Do(ctx, "ACL", "SETUSER", "tars", ">new-password").Err(); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(file, []byte("new-password\n"), atomicfile.Options{Perm: 0o600}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Do(ctx, "ACL", "SETUSER", "tars", "<old-password").Err(); err != nil {
		t.Fatal(err)
	}
	// The pooled connection, authenticated with the old password, works.
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("pooled connection after the old password was removed: %v", err)
	}
	// Drop every connection: the next ones must authenticate anew.
	if err := admin.Do(ctx, "CLIENT", "KILL", "USER", "tars", "SKIPME", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	// The pool notices the closed connections and dials new ones, which
	// must authenticate with the password now in the file. (A command may
	// meet a connection killed under it once; a wrong password would fail
	// every time.)
	before := connectionsReceived(t, admin)
	var pingErr error
	for range 3 {
		if pingErr = c.Ping(ctx).Err(); pingErr == nil {
			break
		}
	}
	if pingErr != nil {
		t.Fatalf("new connection after the rotation: %v", pingErr)
	}
	if connectionsReceived(t, admin) == before {
		t.Fatal("the client made no new connection; the test proves nothing")
	}

	// The provider itself: rereads only on change, keeps the last good value.
	fc := redisconn.NewFileCredentials("tars", file, "x")
	if u, p := fc.Get(); u != "tars" || p != "x" {
		t.Errorf("unchanged file: %q %q (want the initial value without a read)", u, p)
	}
	if err := atomicfile.WriteFile(file, []byte("third\n"), atomicfile.Options{Perm: 0o600}); err != nil {
		t.Fatal(err)
	}
	if _, p := fc.Get(); p != "third" {
		t.Errorf("after a rewrite: %q", p)
	}
	if err := atomicfile.WriteFile(file, []byte("\n"), atomicfile.Options{Perm: 0o600}); err != nil {
		t.Fatal(err)
	}
	if _, p := fc.Get(); p != "third" {
		t.Errorf("an empty file replaced the password: %q", p)
	}
}

func connectionsReceived(t *testing.T, c *redis.Client) string {
	t.Helper()
	info, err := c.Info(t.Context(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(line, "total_connections_received:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("no total_connections_received in INFO stats")
	return ""
}

// TestTLS runs a server that speaks TLS only, with certificates made for
// the test, and one that also wants a client certificate.
func TestTLS(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t, "redis.test")
	srv := testenv.RedisWith(t, testenv.RedisOptions{TLS: &testenv.RedisTLS{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile}})
	mtls := testenv.RedisWith(t, testenv.RedisOptions{TLS: &testenv.RedisTLS{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile, AuthClients: true}})
	endpoint := func(t *testing.T, port int, tc config.RedisTLSConfig) redisconn.Endpoint {
		t.Helper()
		tc.Enabled = true
		e, err := redisconn.FromConfig(config.RedisConfig{Host: "127.0.0.1", Port: port, TLS: tc}, "")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}

	t.Run("verified by the CA", func(t *testing.T) {
		t.Parallel()
		roundTrip(t, connect(t, endpoint(t, srv.Port, config.RedisTLSConfig{CAFile: certs.CAFile}), redisconn.Options{}))
	})
	t.Run("server name", func(t *testing.T) {
		t.Parallel()
		roundTrip(t, connect(t, endpoint(t, srv.Port, config.RedisTLSConfig{CAFile: certs.CAFile, ServerName: "redis.test"}), redisconn.Options{}))
	})
	t.Run("wrong server name", func(t *testing.T) {
		t.Parallel()
		e := endpoint(t, srv.Port, config.RedisTLSConfig{CAFile: certs.CAFile, ServerName: "other.test"})
		_, _, err := redisconn.Connect(t.Context(), e, redisconn.Options{})
		wantTLSError(t, err, "other.test", srv.Addr+" over TLS")
	})
	t.Run("unknown CA", func(t *testing.T) {
		t.Parallel()
		_, _, err := redisconn.Connect(t.Context(), endpoint(t, srv.Port, config.RedisTLSConfig{}), redisconn.Options{})
		wantTLSError(t, err, "certificate signed by unknown authority", srv.Addr)
	})
	t.Run("plain text to a TLS port", func(t *testing.T) {
		t.Parallel()
		_, _, err := redisconn.Connect(t.Context(), redisconn.Endpoint{Addrs: []string{srv.Addr}}, redisconn.Options{})
		if err == nil {
			t.Fatal("a plain-text client got an answer from a TLS port")
		}
	})
	t.Run("client certificate", func(t *testing.T) {
		t.Parallel()
		e := endpoint(t, mtls.Port, config.RedisTLSConfig{CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile})
		roundTrip(t, connect(t, e, redisconn.Options{}))
	})
	t.Run("no client certificate", func(t *testing.T) {
		t.Parallel()
		_, _, err := redisconn.Connect(t.Context(), endpoint(t, mtls.Port, config.RedisTLSConfig{CAFile: certs.CAFile}), redisconn.Options{})
		if err == nil {
			t.Fatal("a server that wants a client certificate accepted none")
		}
		if errors.Is(err, redisconn.ErrPermission) {
			t.Errorf("error %v: a refused handshake is not a refused password", err)
		}
	})
	t.Run("dial", func(t *testing.T) {
		t.Parallel()
		// A bare connection for the replication protocol: TLS as well.
		conn, where, err := redisconn.Dial(t.Context(), endpoint(t, srv.Port, config.RedisTLSConfig{CAFile: certs.CAFile}), redisconn.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if where != srv.Addr+" over TLS" {
			t.Errorf("where = %q", where)
		}
		if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil || line != "+PONG\r\n" {
			t.Fatalf("PING over the bare connection: %q, %v", line, err)
		}
	})
}

// wantTLSError checks err is a failed TLS handshake that says why and where:
// neither unreachable nor a refused password.
func wantTLSError(t *testing.T, err error, why, where string) {
	t.Helper()
	if err == nil {
		t.Fatal("connected")
	}
	if errors.Is(err, redisconn.ErrUnreachable) || errors.Is(err, redisconn.ErrPermission) {
		t.Errorf("error %v: a failed verification is neither unreachable nor a refused password", err)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), where) {
		t.Errorf("error %q, want it to say %q and %q", err, why, where)
	}
}

// TestSentinel talks to a master through a real Sentinel.
func TestSentinel(t *testing.T) {
	t.Parallel()
	s := testenv.RedisSentinel(t)
	cfg := config.RedisConfig{Enabled: true, Mode: config.RedisSentinel, Host: "127.0.0.1", Port: s.Port, SentinelMaster: s.MasterName, DB: 2}
	e, err := redisconn.FromConfig(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	t.Run("through the sentinel", func(t *testing.T) {
		t.Parallel()
		c, where, err := redisconn.Connect(ctx, e, redisconn.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if want := fmt.Sprintf("master %q via sentinel %s", s.MasterName, s.Addr); where != want {
			t.Errorf("where = %q, want %q", where, want)
		}
		roundTrip(t, c)
		// The key is on the master, in database 2.
		m := redis.NewClient(&redis.Options{Addr: s.Master.Addr, DB: 2})
		defer m.Close()
		if got, err := m.Get(ctx, t.Name()).Result(); err != nil || got != "v" {
			t.Errorf("GET on the master = %q, %v", got, err)
		}
	})
	t.Run("one server is refused", func(t *testing.T) {
		t.Parallel()
		if _, _, err := redisconn.OpenNode(e, redisconn.Options{}); !errors.Is(err, redisconn.ErrNotStandalone) {
			t.Errorf("OpenNode: %v, want ErrNotStandalone", err)
		}
	})
	t.Run("one named server", func(t *testing.T) {
		t.Parallel()
		roundTrip(t, connect(t, e, redisconn.Options{Addr: s.Master.Addr}))
	})
	t.Run("unknown master", func(t *testing.T) {
		t.Parallel()
		other := e
		other.MasterName = "nosuchmaster"
		_, _, err := redisconn.Connect(ctx, other, redisconn.Options{})
		if err == nil || !strings.Contains(err.Error(), `master "nosuchmaster" via sentinel `+s.Addr) {
			t.Errorf("unknown master: %v, want an error naming it and the sentinel", err)
		}
	})
}

// TestCluster talks to a real three-node cluster.
func TestCluster(t *testing.T) {
	t.Parallel()
	cl := testenv.RedisCluster(t)
	node0, _ := strings.CutPrefix(cl.Addrs[0], "127.0.0.1:")
	var port int
	if _, err := fmt.Sscan(node0, &port); err != nil {
		t.Fatal(err)
	}
	// One seed: the client discovers the other nodes.
	e, err := redisconn.FromConfig(config.RedisConfig{Enabled: true, Mode: config.RedisCluster, Host: "127.0.0.1", Port: port}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	t.Run("keys spread over the nodes", func(t *testing.T) {
		t.Parallel()
		c, where, err := redisconn.Connect(ctx, e, redisconn.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if where != "cluster "+cl.Addrs[0] {
			t.Errorf("where = %q", where)
		}
		for i := range 30 {
			k := fmt.Sprintf("%s/%d", t.Name(), i)
			if err := c.Set(ctx, k, i, time.Minute).Err(); err != nil {
				t.Fatalf("SET %s: %v", k, err)
			}
			if got, err := c.Get(ctx, k).Int(); err != nil || got != i {
				t.Fatalf("GET %s = %d, %v", k, got, err)
			}
		}
		for _, n := range cl.Nodes {
			nc := redis.NewClient(&redis.Options{Addr: n.Addr})
			keys, err := nc.Keys(ctx, t.Name()+"/*").Result()
			nc.Close()
			if err != nil || len(keys) == 0 {
				t.Errorf("node %s holds %d of the keys (%v): the client did not route by slot", n.Addr, len(keys), err)
			}
		}
	})
	t.Run("one server is refused", func(t *testing.T) {
		t.Parallel()
		if _, _, err := redisconn.OpenNode(e, redisconn.Options{}); !errors.Is(err, redisconn.ErrNotStandalone) {
			t.Errorf("OpenNode: %v, want ErrNotStandalone", err)
		}
	})
	t.Run("one named node", func(t *testing.T) {
		t.Parallel()
		c := connect(t, e, redisconn.Options{Addr: cl.Addrs[2]})
		if n, err := c.DBSize(ctx).Result(); err != nil || n < 0 {
			t.Fatalf("DBSIZE on %s: %d, %v", cl.Addrs[2], n, err)
		}
		if typeName(c) != "*redis.Client" {
			t.Errorf("a named node gave %s", typeName(c))
		}
	})
}

// TestUnreachable: nothing listens, in every mode: the error is
// ErrUnreachable and names every address tried, quickly.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	a, b := deadAddr(t), deadAddr(t)
	for name, e := range map[string]redisconn.Endpoint{
		"standalone": {Addrs: []string{a}},
		"sentinel":   {Mode: config.RedisSentinel, Addrs: []string{a, b}, MasterName: "mymaster"},
		"cluster":    {Mode: config.RedisCluster, Addrs: []string{a, b}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			start := time.Now()
			_, _, err := redisconn.Connect(ctx, e, redisconn.Options{DialTimeout: time.Second})
			if !errors.Is(err, redisconn.ErrUnreachable) {
				t.Fatalf("error %v, want ErrUnreachable", err)
			}
			for _, addr := range e.Addrs {
				if !strings.Contains(err.Error(), addr) {
					t.Errorf("error %q does not name %s", err, addr)
				}
			}
			t.Log(err)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v to fail on refused connections", d)
			}
		})
	}
}
