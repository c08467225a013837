package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// TestFileCredentialsRotation: a store opened with redis.password
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
	st, err := OpenRedis(t.Context(), cfg, "old-password")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

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
	if _, err := st.Allow(ctx, t.Name()+":k", 100, time.Minute); err != nil {
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
		if pingErr = st.Ping(ctx); pingErr == nil {
			break
		}
	}
	if pingErr != nil {
		t.Fatalf("new connection after the rotation: %v", pingErr)
	}
	if connectionsReceived(t, admin) == before {
		t.Fatal("the store made no new connection; the test proves nothing")
	}

	// The provider itself: rereads only on change, keeps the last good value.
	fc := NewFileCredentials("tars", file, "x")
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
	if _, p := fc.Get(); p != "third" || strings.TrimSpace(p) == "" {
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
