package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// redisInstall says how to get redis-server; a missing binary fails the test
// with it.
const redisInstall = "run `make test` (it installs test dependencies) or `apt-get install -y redis-server`"

// RedisServer is a running redis-server started by [Redis] or [SharedRedis].
// It listens on 127.0.0.1 only and persistence is off; it has no password
// unless started by [RedisWith] with ACL users.
type RedisServer struct {
	// Addr is the host:port to connect to, for example "127.0.0.1:40123".
	Addr string
	// Port is the TCP port of Addr.
	Port int
	// Dir is the server's working directory, removed when it stops.
	Dir string

	proc *process
	tmp  *tempDir
}

// URL returns a redis:// URL for database db (0-15), as redis.ParseURL
// accepts it.
func (s *RedisServer) URL(db int) string {
	return fmt.Sprintf("redis://%s/%d", s.Addr, db)
}

// stop stops the server and removes its directory.
func (s *RedisServer) stop() error {
	return errors.Join(s.proc.stop(), s.tmp.remove())
}

// Redis starts a private redis-server for t and stops it when t ends. It fails
// t if redis-server is missing or does not become ready.
func Redis(t testing.TB) *RedisServer {
	t.Helper()
	s, err := startRedis(t.Context(), freePort)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Logf("testenv: %v", err)
		}
	})
	return s
}

// RedisOptions configure [RedisWith].
type RedisOptions struct {
	// Users are ACL users, each as the redis.conf user directive takes it
	// after "user": a name and its rules, for example
	// "tars on >s3cret ~* &* +@all". "default off" turns off the password-less
	// default user, so every client must authenticate.
	Users []string
}

// RedisWith starts a private redis-server for t with opts, like [Redis].
func RedisWith(t testing.TB, opts RedisOptions) *RedisServer {
	t.Helper()
	var extra []string
	for _, u := range opts.Users {
		extra = append(extra, "--user")
		extra = append(extra, strings.Fields(u)...)
	}
	s, err := startRedis(t.Context(), freePort, extra...)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Logf("testenv: %v", err)
		}
	})
	return s
}

var sharedRedis = sync.OnceValues(func() (*RedisServer, error) {
	s, err := startRedis(context.Background(), freePort)
	if err == nil {
		registerShared(s.stop)
	}
	return s, err
})

// SharedRedis returns the test binary's shared redis-server, starting it on
// first use; [Main] stops it after the tests. Tests sharing it must use keys
// of their own. If the server could not start, every caller fails. It fails t
// unless the package's TestMain calls [Main].
func SharedRedis(t testing.TB) *RedisServer {
	t.Helper()
	requireMain(t, "SharedRedis")
	s, err := sharedRedis()
	if err != nil {
		t.Fatalf("testenv: shared server: %v", err)
	}
	return s
}

// findRedis returns the path of redis-server.
func findRedis() (string, error) {
	if path, err := exec.LookPath("redis-server"); err == nil {
		return path, nil
	}
	const debianPath = "/usr/bin/redis-server"
	if isExecutable(debianPath) {
		return debianPath, nil
	}
	return "", errors.New("redis-server not found: " + redisInstall)
}

// startRedis starts a server on a port from pick (normally [freePort]),
// with extra command-line arguments.
func startRedis(ctx context.Context, pick func() (int, error), extra ...string) (*RedisServer, error) {
	bin, err := findRedis()
	if err != nil {
		return nil, err
	}
	tmp, err := newTempDir(os.TempDir(), "tarsctl-redis-", nil)
	if err != nil {
		return nil, fmt.Errorf("create redis directory: %w", err)
	}
	dir := tmp.path
	var s *RedisServer
	err = startOnFreePort(ctx, pick, func(ctx context.Context, port int) error {
		// No config file: Debian's /etc/redis/redis.conf would log to a file
		// and persist to /var/lib/redis. An empty --logfile means stdout.
		args := []string{
			"--bind", "127.0.0.1",
			"--port", strconv.Itoa(port),
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
			"--logfile", "",
			"--daemonize", "no",
		}
		cmd := exec.Command(bin, append(args, extra...)...)
		cmd.Dir = dir
		cmd.SysProcAttr = sysProcAttr(nil)
		proc, err := startProcess("redis-server", cmd, "Ready to accept connections", syscall.SIGTERM)
		if err != nil {
			return err
		}
		if err := proc.waitReady(ctx); err != nil {
			return err
		}
		s = &RedisServer{
			Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Port: port,
			Dir:  dir,
			proc: proc,
			tmp:  tmp,
		}
		return nil
	})
	if err != nil {
		_ = tmp.remove()
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	return s, nil
}

// isExecutable reports whether path is a regular file someone may execute.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
