package redisconn_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/redisconn"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// TestFromConfig checks the endpoint and the client each configuration
// gives, without servers: the mode alone picks the client.
func TestFromConfig(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cfg       config.RedisConfig
		wantWhere string
		wantType  string
		wantErr   string // substring; the error also wraps ErrConfig
	}{
		{name: "standalone", cfg: config.RedisConfig{Mode: "standalone", Host: "redis", Port: 6380},
			wantWhere: "redis:6380", wantType: "*redis.Client"},
		{name: "default mode and port", cfg: config.RedisConfig{Host: "redis"},
			wantWhere: "redis:6379", wantType: "*redis.Client"},
		{name: "standalone from addrs", cfg: config.RedisConfig{Addrs: []string{"a:1"}},
			wantWhere: "a:1", wantType: "*redis.Client"},
		{name: "standalone over TLS", cfg: config.RedisConfig{Host: "redis", TLS: config.RedisTLSConfig{Enabled: true}},
			wantWhere: "redis:6379 over TLS", wantType: "*redis.Client"},
		{name: "sentinel", cfg: config.RedisConfig{Mode: "sentinel", Host: "s1", Addrs: []string{"s2:26379", "s1:26379"}, SentinelMaster: "mymaster"},
			wantWhere: `master "mymaster" via sentinel s1:26379, s2:26379`, wantType: "*redis.Client"},
		{name: "sentinel with one address", cfg: config.RedisConfig{Mode: "sentinel", Addrs: []string{"s1:26379"}, SentinelMaster: "m"},
			wantWhere: `master "m" via sentinel s1:26379`, wantType: "*redis.Client"},
		{name: "cluster", cfg: config.RedisConfig{Mode: "cluster", Host: "c1", Port: 7000, Addrs: []string{"c2:7000"}},
			wantWhere: "cluster c1:7000, c2:7000", wantType: "*redis.ClusterClient"},
		{name: "cluster with one seed", cfg: config.RedisConfig{Mode: "cluster", Host: "c1", Port: 7000},
			wantWhere: "cluster c1:7000", wantType: "*redis.ClusterClient"},
		{name: "cluster over TLS with everything", cfg: config.RedisConfig{Mode: "cluster", Host: "c1", Port: 7000, TLS: config.RedisTLSConfig{
			Enabled: true, CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile, ServerName: "redis.test"}},
			wantWhere: "cluster c1:7000 over TLS", wantType: "*redis.ClusterClient"},
		{name: "standalone with two addresses", cfg: config.RedisConfig{Host: "a", Addrs: []string{"b:1"}},
			wantErr: "standalone mode connects to one server, but redis.host and redis.addrs name 2 (a:6379, b:1)"},
		{name: "sentinel without master", cfg: config.RedisConfig{Mode: "sentinel", Host: "s1"},
			wantErr: "sentinel_master"},
		{name: "cluster with db", cfg: config.RedisConfig{Mode: "cluster", Host: "c1", DB: 2},
			wantErr: "database 0"},
		{name: "no address", cfg: config.RedisConfig{Mode: "standalone"},
			wantErr: "no address"},
		{name: "unknown mode", cfg: config.RedisConfig{Mode: "ring", Host: "r"},
			wantErr: `unknown redis.mode "ring"`},
		{name: "missing CA file", cfg: config.RedisConfig{Host: "r", TLS: config.RedisTLSConfig{Enabled: true, CAFile: "/nonexistent/ca.pem"}},
			wantErr: "redis.tls.ca_file: open /nonexistent/ca.pem"},
		{name: "CA file without PEM", cfg: config.RedisConfig{Host: "r", TLS: config.RedisTLSConfig{Enabled: true, CAFile: notPEM}},
			wantErr: "redis.tls.ca_file: " + notPEM + " holds no PEM certificate"},
		{name: "key that is not the certificate's", cfg: config.RedisConfig{Host: "r", TLS: config.RedisTLSConfig{Enabled: true, CertFile: certs.ClientCertFile, KeyFile: certs.KeyFile}},
			wantErr: "redis.tls.cert_file and redis.tls.key_file"},
		{name: "TLS files ignored when TLS is off", cfg: config.RedisConfig{Host: "r", TLS: config.RedisTLSConfig{CAFile: "/nonexistent/ca.pem"}},
			wantWhere: "r:6379", wantType: "*redis.Client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const password = "pw-never-shown"
			e, err := redisconn.FromConfig(tt.cfg, password)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, redisconn.ErrConfig) {
					t.Fatalf("error %v, want ErrConfig containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{e.String(), fmt.Sprintf("%v %+v %#v %s", e, e, e, e)} {
				if strings.Contains(s, password) {
					t.Errorf("the password shows in %q", s)
				}
			}
			c, where, err := redisconn.Open(e, redisconn.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			if where != tt.wantWhere || e.String() != tt.wantWhere {
				t.Errorf("where = %q, String = %q, want %q", where, e.String(), tt.wantWhere)
			}
			if got := typeName(c); got != tt.wantType {
				t.Errorf("client %s, want %s", got, tt.wantType)
			}
		})
	}
}

// TestFromConfigPasswordFile: file:PATH makes the endpoint re-read PATH;
// a literal or env: reference does not.
func TestFromConfigPasswordFile(t *testing.T) {
	t.Parallel()
	for ref, want := range map[config.Secret]string{"file:/run/secrets/redis": "/run/secrets/redis", "env:REDIS_PASSWORD": "", "literal": ""} {
		e, err := redisconn.FromConfig(config.RedisConfig{Host: "r", Password: ref}, "x")
		if err != nil {
			t.Fatal(err)
		}
		if e.PasswordFile != want {
			t.Errorf("password %s: PasswordFile %q, want %q", ref.Redacted(), e.PasswordFile, want)
		}
	}
}

// TestOpenNode: a single-server client is refused in sentinel and cluster
// mode unless the node is named, and is then the named node with the
// endpoint's credentials.
func TestOpenNode(t *testing.T) {
	t.Parallel()
	sentinel := redisconn.Endpoint{Mode: config.RedisSentinel, Addrs: []string{"s1:26379"}, MasterName: "m", Username: "u", Password: "p"}
	cluster := redisconn.Endpoint{Mode: config.RedisCluster, Addrs: []string{"c1:7000", "c2:7000"}}
	for _, e := range []redisconn.Endpoint{sentinel, cluster} {
		_, _, err := redisconn.OpenNode(e, redisconn.Options{})
		if !errors.Is(err, redisconn.ErrNotStandalone) || !strings.Contains(err.Error(), "redis.mode is "+e.Mode+" ("+e.String()+")") {
			t.Errorf("%s: error %v, want ErrNotStandalone naming the mode and the addresses", e.Mode, err)
		}
		if _, _, err := redisconn.Dial(t.Context(), e, redisconn.Options{}); !errors.Is(err, redisconn.ErrNotStandalone) {
			t.Errorf("%s: Dial: error %v, want ErrNotStandalone", e.Mode, err)
		}
		c, where, err := redisconn.OpenNode(e, redisconn.Options{Addr: "n1:6379"})
		if err != nil {
			t.Fatalf("%s with a node: %v", e.Mode, err)
		}
		opt := c.Options()
		if where != "n1:6379" || opt.Addr != "n1:6379" || opt.Username != e.Username || opt.Password != e.Password {
			t.Errorf("%s with a node: %q %q user %q", e.Mode, where, opt.Addr, opt.Username)
		}
		_ = c.Close()
		// Open with a node gives the same single-server client.
		u, _, err := redisconn.Open(e, redisconn.Options{Addr: "n1:6379"})
		if err != nil {
			t.Fatal(err)
		}
		if typeName(u) != "*redis.Client" {
			t.Errorf("%s: Open with a node gave %s", e.Mode, typeName(u))
		}
		_ = u.Close()
	}
	// A node needs only the credentials: no address of its own.
	c, where, err := redisconn.OpenNode(redisconn.Endpoint{Username: "u"}, redisconn.Options{Addr: "n1:6379"})
	if err != nil || where != "n1:6379" {
		t.Fatalf("bare endpoint with a node: %q, %v", where, err)
	}
	_ = c.Close()
	if _, _, err := redisconn.OpenNode(redisconn.Endpoint{}, redisconn.Options{}); !errors.Is(err, redisconn.ErrConfig) {
		t.Errorf("empty endpoint: %v, want ErrConfig", err)
	}
}

// TestOptions checks how Options tune the go-redis client.
func TestOptions(t *testing.T) {
	t.Parallel()
	e := redisconn.Endpoint{Addrs: []string{"r:6379"}, PoolSize: 7}
	c, _, err := redisconn.OpenNode(e, redisconn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// go-redis keeps "no retries" (our -1) as 0 once the client is built.
	opt := c.Options()
	if opt.DialTimeout != redisconn.DefaultDialTimeout || opt.ReadTimeout != redisconn.DefaultReadTimeout ||
		opt.WriteTimeout != redisconn.DefaultWriteTimeout || opt.MaxRetries != 0 || opt.PoolSize != 7 || opt.Protocol != 2 {
		t.Errorf("defaults: dial %v read %v write %v retries %d pool %d protocol %d", opt.DialTimeout, opt.ReadTimeout,
			opt.WriteTimeout, opt.MaxRetries, opt.PoolSize, opt.Protocol)
	}
	c2, _, err := redisconn.OpenNode(e, redisconn.Options{DialTimeout: 1, ReadTimeout: 2, WriteTimeout: 3, Retries: 2, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	opt = c2.Options()
	if opt.DialTimeout != 1 || opt.ReadTimeout != 2 || opt.WriteTimeout != 3 || opt.MaxRetries != 2 || opt.PoolSize != 1 {
		t.Errorf("tuned: dial %v read %v write %v retries %d pool %d", opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.MaxRetries, opt.PoolSize)
	}
}

func typeName(c redis.UniversalClient) string {
	switch c.(type) {
	case *redis.Client:
		return "*redis.Client"
	case *redis.ClusterClient:
		return "*redis.ClusterClient"
	default:
		return fmt.Sprintf("%T", c)
	}
}
