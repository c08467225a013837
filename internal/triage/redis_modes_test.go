package triage

import (
	"context"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/redisconn"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// TestRedisCheckModes: the check opens Redis the way the configuration
// says: through the Sentinel to the master, whose rate_limit keys it
// lists, and to a cluster, whose keys it does not scan; a wrong password
// is reported as such, not as Redis down.
func TestRedisCheckModes(t *testing.T) {
	t.Parallel()
	t.Run("sentinel", func(t *testing.T) {
		t.Parallel()
		s := testenv.RedisSentinel(t)
		e := redisconn.Endpoint{Mode: config.RedisSentinel, Addrs: []string{s.Addr}, MasterName: s.MasterName}
		master, err := NewRedisClient(redisconn.Endpoint{Addrs: []string{s.Master.Addr}})
		if err != nil {
			t.Fatal(err)
		}
		defer master.Close()
		if err := master.Set(context.Background(), "rate_limit:10.7.7.7", 42, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		want(t, runCheck(t, RedisCheck(e), 5*time.Second), OK, "rate_limit:10.7.7.7=42", "")
		rep := runPlaybook(t, "security", Sources{Redis: &e, RateLimit: 100})
		wantStep(t, rep, "rate-limits", OK, "rate_limit:10.7.7.7=42")
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		cl := testenv.RedisCluster(t)
		e := redisconn.Endpoint{Mode: config.RedisCluster, Addrs: cl.Addrs[:1]}
		want(t, runCheck(t, RedisCheck(e), 5*time.Second), OK, "rate limits not listed (cluster mode)", "")
		rep := runPlaybook(t, "security", Sources{Redis: &e, RateLimit: 100})
		wantStep(t, rep, "rate-limits", Warn, "not scanned in cluster mode")
		wantStep(t, rep, "sessions", Warn, "not scanned in cluster mode")
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		srv := testenv.RedisWith(t, testenv.RedisOptions{Users: []string{"tars on >right ~* &* +@all", "default off"}})
		e := redisconn.Endpoint{Addrs: []string{srv.Addr}, Username: "tars", Password: "wrong"}
		want(t, runCheck(t, RedisCheck(e), 5*time.Second), Fail, "WRONGPASS", "redis.password")
	})
}
