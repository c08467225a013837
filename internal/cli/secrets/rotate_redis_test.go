package secrets

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/secrets"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

const (
	redisOldPassword = "old-redis-password-for-the-test"
	limitedPassword  = "limited-user-password"
)

// redisStack is a stack whose daemons use an ACL Redis as user tars with
// the password in a file.
func redisStack(t *testing.T) (*stack, *testenv.RedisServer, string) {
	t.Helper()
	srv := testenv.RedisWith(t, testenv.RedisOptions{Users: []string{
		"tars on >" + redisOldPassword + " ~* &* +@all",
		"limited on >" + limitedPassword + " ~* &* +@all -acl",
		"default off",
	}})
	s := newStack(t)
	pwFile := filepath.Join(s.home, "redis_password")
	if err := os.WriteFile(pwFile, []byte(redisOldPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.args = append(s.args,
		"--set", "redis.enabled=true",
		"--set", "redis.host=127.0.0.1",
		"--set", fmt.Sprintf("redis.port=%d", srv.Port),
		"--set", "redis.username=tars",
		"--set", "redis.password=file:"+pwFile,
		// Few connections, each short-lived: during the load the daemon
		// keeps dialling, so new connections must authenticate with
		// whatever password is current.
		"--set", "redis.pool_size=2",
		"--set", "redis.conn_max_lifetime=5ms",
		"--set", "rate_limiting.enabled=true",
		"--set", "rate_limiting.requests_per_minute=100000000",
	)
	return s, srv, pwFile
}

func redisAuth(t *testing.T, srv *testenv.RedisServer, user, pw string) error {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: user, Password: pw, MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	return c.Ping(t.Context()).Err()
}

func connectionsReceived(t *testing.T, srv *testenv.RedisServer, pw string) int {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "limited", Password: pw, PoolSize: 1})
	defer c.Close()
	info, err := c.Info(t.Context(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(line, "total_connections_received:"); ok {
			var n int
			fmt.Sscan(strings.TrimSpace(v), &n)
			return n
		}
	}
	t.Fatal("no total_connections_received")
	return 0
}

// TestRotateRedisPasswordZeroDowntime: a load of authenticated requests
// through a real dashboard-api, each of which asks Redis (rate limit and
// revocation), runs while `secrets rotate redis-password` rotates the
// password of the daemon's ACL user on a real redis-server. The daemon
// keeps dialling new connections throughout. No request fails; afterwards
// the old password gets WRONGPASS, and connections made after the old
// password was removed authenticate.
func TestRotateRedisPasswordZeroDowntime(t *testing.T) {
	t.Parallel()
	s, srv, pwFile := redisStack(t)
	const pw = "correct horse battery staple"
	if code, _, errOut := s.run(pw+"\n", "users", "add", "admin", "--role", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("users add: %d %s", code, errOut)
	}
	if code, _, errOut := s.run("", "start", "dashboard-api"); code != 0 {
		t.Fatalf("start: %d %s", code, errOut)
	}
	code, token := s.login("admin", pw)
	if code != 200 {
		t.Fatalf("login: %d", code)
	}

	var ok, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, s.url+"/api/me", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, resp.Status)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	// Wait until the load is flowing before rotating.
	for ok.Load() < 50 {
		if failed.Load() > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	okBefore := ok.Load()
	code, out, errOut := s.run("", "secrets", "rotate", "redis-password", "--yes", "-o", "json")
	okAtRotation := ok.Load()
	if code != 0 {
		close(stop)
		wg.Wait()
		t.Fatalf("rotate: exit %d\n%s", code, errOut)
	}
	// Keep the load up until the daemon has opened plenty of new
	// connections since the old password was removed.
	conns := connectionsReceived(t, srv, limitedPassword)
	deadline := time.Now().Add(2 * time.Minute)
	for connectionsReceived(t, srv, limitedPassword) < conns+50 || ok.Load() < okAtRotation+200 {
		if failed.Load() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Error("the daemon made no new connections after the rotation; the test proves nothing")
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("requests: %d ok, %d failed; %d during the rotation", ok.Load(), failed.Load(), okAtRotation-okBefore)
	if failed.Load() != 0 {
		t.Errorf("%d requests failed during the rotation; first: %v", failed.Load(), firstFailure.Load())
	}

	var res secrets.RedisRotation
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.OldRejected || res.RolledBack || len(res.Steps) != 7 || res.User != "tars" {
		t.Fatalf("json: %v\n%s", err, out)
	}
	newPW, _ := os.ReadFile(pwFile)
	newPassword := strings.TrimSpace(string(newPW))
	if newPassword == redisOldPassword || newPassword == "" {
		t.Fatal("password file not rewritten")
	}
	if strings.Contains(out+errOut, newPassword) || strings.Contains(out+errOut, redisOldPassword) {
		t.Error("a password was printed")
	}
	if fi, _ := os.Stat(pwFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("password file mode %v", fi.Mode())
	}
	if err := redisAuth(t, srv, "tars", redisOldPassword); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("old password after the rotation: %v, want WRONGPASS", err)
	}
	if err := redisAuth(t, srv, "tars", newPassword); err != nil {
		t.Errorf("new password: %v", err)
	}
	// The daemon is still healthy, on the new password.
	if code, _, errOut := s.run("", "health", "dashboard-api"); code != 0 {
		t.Errorf("health after the rotation: %d %s", code, errOut)
	}
}

// TestRotateRedisPasswordRefusals: each refusal is a clear error with its
// exit code, and nothing changes.
func TestRotateRedisPasswordRefusals(t *testing.T) {
	t.Parallel()
	s, srv, pwFile := redisStack(t)
	adminFile := filepath.Join(s.home, "limited_password")
	if err := os.WriteFile(adminFile, []byte(limitedPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unchanged := func(what string) {
		t.Helper()
		if b, _ := os.ReadFile(pwFile); strings.TrimSpace(string(b)) != redisOldPassword {
			t.Errorf("%s: the password file changed", what)
		}
		if err := redisAuth(t, srv, "tars", redisOldPassword); err != nil {
			t.Errorf("%s: the old password no longer works: %v", what, err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"dry run", []string{"--dry-run"}, 0, "dry run: would add a new password"},
		{"admin without ACL rights", []string{"--yes", "--admin-user", "limited", "--admin-password-file", adminFile}, 4, "NOPERM"},
		{"literal password", []string{"--yes", "--set", "redis.password=" + redisOldPassword}, 2, "set redis.password to file:PATH"},
		{"env password", []string{"--yes", "--set", "redis.password=env:REDIS_PW"}, 2, "environment variable"},
		{"wrong password in the file", []string{"--yes", "--set", "redis.password=file:" + adminFile}, 4, "does not authenticate as tars"},
		{"user without ACL rights", []string{"--yes", "--set", "redis.username=limited", "--set", "redis.password=file:" + adminFile}, 4, "NOPERM"},
		{"unreachable", []string{"--yes", "--set", fmt.Sprintf("redis.port=%d", testenv.FreePort(t))}, 3, "unreachable"},
		{"admin flags alone", []string{"--yes", "--admin-user", "limited"}, 2, "go together"},
		{"sentinel", []string{"--yes", "--set", "redis.mode=sentinel", "--set", "redis.sentinel_master=mymaster"}, 2, "redis.mode is sentinel"},
		{"cluster", []string{"--yes", "--set", "redis.mode=cluster"}, 2, "redis.mode is cluster (cluster 127.0.0.1:"},
		{"unreadable TLS CA", []string{"--yes", "--set", "redis.tls.enabled=true", "--set", "redis.tls.ca_file=/nonexistent/ca.pem"}, 2, "redis.tls.ca_file"},
	} {
		// --set flags go after the stack's, so they win.
		var flags, sets []string
		for i := 0; i < len(tc.args); i++ {
			if tc.args[i] == "--set" {
				sets, i = append(sets, "--set", tc.args[i+1]), i+1
				continue
			}
			flags = append(flags, tc.args[i])
		}
		run := *s
		run.args = append(slices.Clone(s.args), sets...)
		code, out, errOut := run.run("", append([]string{"secrets", "rotate", "redis-password"}, flags...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q\nstdout %s\nstderr %s", tc.name, code, tc.code, tc.want, out, errOut)
		}
		if strings.Contains(out+errOut, redisOldPassword) || strings.Contains(out+errOut, limitedPassword) {
			t.Errorf("%s: a password was printed", tc.name)
		}
		unchanged(tc.name)
	}
}
