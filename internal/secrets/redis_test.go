package secrets

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/redisconn"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// TestRotateRedisPasswordTLS rotates over TLS: the rotation's connections
// (the checks and the admin's) are opened from the configuration like the
// daemons', so redis.tls reaches them.
func TestRotateRedisPasswordTLS(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t)
	srv := testenv.RedisWith(t, testenv.RedisOptions{
		Users: []string{"tars on >old-tls-password ~* &* +@all", "default off"},
		TLS:   &testenv.RedisTLS{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile},
	})
	file := filepath.Join(t.TempDir(), "redis_password")
	if err := os.WriteFile(file, []byte("old-tls-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Redis: config.RedisConfig{Enabled: true, Host: "127.0.0.1", Port: srv.Port, Username: "tars",
		Password: config.Secret("file:" + file), TLS: config.RedisTLSConfig{Enabled: true, CAFile: certs.CAFile}}}
	server, user, path, err := RedisTarget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := RotateRedisPassword(t.Context(), RedisRotateOptions{Redis: server, User: user, Store: FileStore{Path: path}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OldRejected || res.Addr != srv.Addr+" over TLS" {
		t.Errorf("rotation: %+v", res)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	newPW := strings.TrimSpace(string(b))
	if newPW == "old-tls-password" {
		t.Fatal("the file still holds the old password")
	}
	if err := authPing(t.Context(), server, "tars", newPW); err != nil {
		t.Errorf("the new password over TLS: %v", err)
	}
	if err := authPing(t.Context(), server, "tars", "old-tls-password"); !errors.Is(err, ErrRedisPermission) {
		t.Errorf("the old password over TLS: %v, want ErrRedisPermission", err)
	}
}

// TestRotateRedisPasswordRefusesTopologies: a Sentinel or Cluster endpoint
// is refused before anything is read or changed.
func TestRotateRedisPasswordRefusesTopologies(t *testing.T) {
	t.Parallel()
	for _, e := range []redisconn.Endpoint{
		{Mode: config.RedisSentinel, Addrs: []string{"s:26379"}, MasterName: "m"},
		{Mode: config.RedisCluster, Addrs: []string{"c:7000"}},
	} {
		store := &countingStore{}
		_, err := RotateRedisPassword(t.Context(), RedisRotateOptions{Redis: e, Store: store})
		if !errors.Is(err, ErrRedisUnsupported) || !errors.Is(err, redisconn.ErrNotStandalone) {
			t.Errorf("%s: %v, want ErrRedisUnsupported and redisconn.ErrNotStandalone", e.Mode, err)
		}
		if store.reads != 0 {
			t.Errorf("%s: the store was read", e.Mode)
		}
	}
}

// countingStore is a PasswordStore that counts reads and holds nothing.
type countingStore struct{ reads int }

func (s *countingStore) String() string { return "counting store" }
func (s *countingStore) Read(context.Context) (string, error) {
	s.reads++
	return "pw", nil
}
func (s *countingStore) Write(context.Context, string, string) (string, error) { return "", nil }
func (s *countingStore) Restore(context.Context, string, string) error         { return nil }
