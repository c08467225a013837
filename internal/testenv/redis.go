package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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
	// TLS, when set, makes the server speak TLS only: Addr and Port are
	// then its TLS port, and it has no plain-text one.
	TLS *RedisTLS
}

// RedisTLS is the TLS side of a server started by [RedisWith]; [TLSCerts]
// makes the files.
type RedisTLS struct {
	CertFile, KeyFile string // the server's certificate and key (PEM)
	// CAFile verifies client certificates.
	CAFile string
	// AuthClients makes the server refuse clients without a certificate
	// that CAFile verifies (tls-auth-clients yes).
	AuthClients bool
}

// RedisWith starts a private redis-server for t with opts, like [Redis].
func RedisWith(t testing.TB, opts RedisOptions) *RedisServer {
	t.Helper()
	var extra []string
	for _, u := range opts.Users {
		extra = append(extra, "--user")
		extra = append(extra, strings.Fields(u)...)
	}
	// The server listens on plain TCP, or with TLS on TLS only.
	portArgs := func(port int) []string { return []string{"--port", strconv.Itoa(port)} }
	if tc := opts.TLS; tc != nil {
		auth := "no"
		if tc.AuthClients {
			auth = "yes"
		}
		extra = append(extra, "--tls-cert-file", tc.CertFile, "--tls-key-file", tc.KeyFile,
			"--tls-ca-cert-file", tc.CAFile, "--tls-auth-clients", auth)
		portArgs = func(port int) []string { return []string{"--port", "0", "--tls-port", strconv.Itoa(port)} }
	}
	s, err := startRedisProcess(t.Context(), freePort, "redis-server", "Ready to accept connections", func(_ string, port int) (string, []string, error) {
		return "", append(portArgs(port), extra...), nil
	})
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
	return startRedisProcess(ctx, pick, "redis-server", "Ready to accept connections", func(_ string, port int) (string, []string, error) {
		return "", append([]string{"--port", strconv.Itoa(port)}, extra...), nil
	})
}

// startRedisProcess starts redis-server in a temporary directory of its
// own, on a port from pick, and waits for readyLine. args returns, for the
// directory and port, a config file ("" for none) and the arguments that
// follow those every server here shares.
func startRedisProcess(ctx context.Context, pick func() (int, error), name, readyLine string,
	args func(dir string, port int) (conf string, own []string, err error)) (*RedisServer, error) {
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
		conf, own, err := args(dir, port)
		if err != nil {
			return err
		}
		// No config file: Debian's /etc/redis/redis.conf would log to a file
		// and persist to /var/lib/redis. An empty --logfile means stdout.
		// A config file, when there is one, must come first.
		var common []string
		if conf != "" {
			common = append(common, conf)
		}
		common = append(common,
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
			"--logfile", "",
			"--daemonize", "no",
		)
		cmd := exec.Command(bin, append(common, own...)...)
		cmd.Dir = dir
		cmd.SysProcAttr = sysProcAttr(nil)
		proc, err := startProcess(name, cmd, readyLine, syscall.SIGTERM)
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
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return s, nil
}

// isExecutable reports whether path is a regular file someone may execute.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// RedisSentinelServer is a master and one Sentinel that monitors it,
// started by [RedisSentinel]. Both listen on 127.0.0.1; the master has no
// password and no replica.
type RedisSentinelServer struct {
	// Master is the monitored server.
	Master *RedisServer
	// MasterName is the name the Sentinel knows the master by.
	MasterName string
	// Addr and Port are the Sentinel's.
	Addr string
	Port int
}

// RedisSentinel starts a master and a Sentinel (redis-server --sentinel,
// quorum 1) that monitors it as "mymaster", for t, and stops both when t
// ends. It returns once the Sentinel has logged that it monitors the
// master, so it answers SENTINEL GET-MASTER-ADDR-BY-NAME at once.
func RedisSentinel(t testing.TB) *RedisSentinelServer {
	t.Helper()
	master := Redis(t)
	const name = "mymaster"
	s, err := startRedisProcess(t.Context(), freePort, "redis-sentinel", "+monitor master "+name, func(dir string, port int) (string, []string, error) {
		// Sentinel rewrites its config file, so it must be one of its own.
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", port))
		body := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1\nsentinel resolve-hostnames no\n", name, master.Port)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return "", nil, err
		}
		return conf, []string{"--sentinel", "--port", strconv.Itoa(port)}, nil
	})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Logf("testenv: %v", err)
		}
	})
	return &RedisSentinelServer{Master: master, MasterName: name, Addr: s.Addr, Port: s.Port}
}

// RedisClusterServer is a Redis Cluster of three masters (no replicas)
// started by [RedisCluster].
type RedisClusterServer struct {
	// Nodes are the masters, in slot order: 0-5460, 5461-10922,
	// 10923-16383.
	Nodes []*RedisServer
	// Addrs are the nodes' host:port addresses.
	Addrs []string
}

// clusterSlots are the slot ranges of [RedisCluster]'s nodes.
var clusterSlots = [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}

// RedisCluster starts a Redis Cluster of three masters on 127.0.0.1 for t
// and stops it when t ends. Each node runs with --cluster-enabled on a
// free port, its bus on another free port, and announces 127.0.0.1; the
// nodes are given their slots (CLUSTER ADDSLOTSRANGE) and joined (CLUSTER
// MEET). It returns once every node reports cluster_state:ok and knows the
// other two, so a cluster client finds every slot served.
func RedisCluster(t testing.TB) *RedisClusterServer {
	t.Helper()
	ctx := t.Context()
	c := &RedisClusterServer{}
	bus := map[*RedisServer]int{}
	for range clusterSlots {
		busPort := 0
		s, err := startRedisProcess(ctx, freePort, "redis-server", "Ready to accept connections", func(dir string, port int) (string, []string, error) {
			var err error
			if busPort, err = freePort(); err != nil {
				return "", nil, err
			}
			return "", []string{
				"--port", strconv.Itoa(port),
				"--cluster-enabled", "yes",
				// One file per attempt: a node that failed to bind may
				// have written its own.
				"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
				"--cluster-port", strconv.Itoa(busPort),
				"--cluster-announce-ip", "127.0.0.1",
				"--cluster-node-timeout", "5000",
			}, nil
		})
		if err != nil {
			t.Fatalf("testenv: cluster node: %v", err)
		}
		t.Cleanup(func() {
			if err := s.stop(); err != nil {
				t.Logf("testenv: %v", err)
			}
		})
		bus[s] = busPort
		c.Nodes = append(c.Nodes, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}
	if err := joinCluster(ctx, c.Nodes, bus); err != nil {
		t.Fatalf("testenv: join cluster %s: %v", strings.Join(c.Addrs, ", "), err)
	}
	return c
}

// joinCluster gives each node its slots, introduces the others to the
// first, and polls every node until it reports cluster_state:ok with all
// of them known, within startTimeout.
func joinCluster(ctx context.Context, nodes []*RedisServer, bus map[*RedisServer]int) error {
	clients := make([]*redis.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: n.Addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
		defer clients[i].Close()
	}
	for i, c := range clients {
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", clusterSlots[i][0], clusterSlots[i][1]).Err(); err != nil {
			return fmt.Errorf("%s: CLUSTER ADDSLOTSRANGE: %w", nodes[i].Addr, err)
		}
	}
	for _, n := range nodes[1:] {
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", n.Port, bus[n]).Err(); err != nil {
			return fmt.Errorf("%s: CLUSTER MEET %s: %w", nodes[0].Addr, n.Addr, err)
		}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, startTimeout, fmt.Errorf("not every node reached cluster_state:ok within %v", startTimeout))
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	known := fmt.Sprintf("cluster_known_nodes:%d", len(nodes))
	for {
		ok := true
		var last string
		for i, c := range clients {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, known) {
				ok, last = false, fmt.Sprintf("%s: CLUSTER INFO: %q, %v", nodes[i].Addr, firstLines(info, 3), err)
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %s)", context.Cause(ctx), last)
		case <-tick.C:
		}
	}
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
