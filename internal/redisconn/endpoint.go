package redisconn

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/config"
)

// Endpoint is where a Redis is and who connects to it: the redis.* keys of
// the configuration ([FromConfig]), or a server described by hand (a test
// server, a scratch server on a Unix socket). It holds no connection; it
// is a value that [Open], [OpenNode], [Connect] and [Dial] turn into one.
//
// The password is never printed: String and GoString leave it out.
type Endpoint struct {
	// Mode is config.RedisStandalone (or empty), config.RedisSentinel or
	// config.RedisCluster. It alone chooses the client: never the number
	// of addresses.
	Mode string
	// Network is "tcp" (or empty) or "unix", for a standalone server on
	// the socket whose path is Addrs[0].
	Network string
	// Addrs are host:port addresses: the server (standalone: exactly
	// one), the sentinels, or the cluster nodes to discover the others
	// from.
	Addrs []string
	// MasterName is the Sentinel master's name (sentinel mode).
	MasterName string
	// DB is the database number; Cluster has only 0.
	DB int
	// Username is the ACL user; empty authenticates as "default".
	Username string
	// Password is the password (empty: none).
	Password string
	// PasswordFile, when set, is where Password came from: every new
	// connection re-reads it if it changed (see [FileCredentials]).
	PasswordFile string
	// TLS, when set, encrypts every connection (to the server, the
	// sentinels and every cluster node). An empty ServerName verifies
	// each server's certificate for the host connected to.
	TLS *tls.Config
	// PoolSize is the default connection pool size (0: go-redis's 10 per
	// CPU); ConnMaxLifetime closes older connections (0: never).
	PoolSize        int
	ConnMaxLifetime time.Duration
}

// FromConfig returns the endpoint cfg describes. password is redis.password
// resolved (cfg.Password.Resolve); when cfg.Password is file:PATH, the
// endpoint re-reads PATH for every new connection. Standalone mode connects
// to redis.host:redis.port (or the one address in redis.addrs); Sentinel
// mode asks the sentinels at redis.host:redis.port and redis.addrs for
// redis.sentinel_master; Cluster mode discovers the nodes from those
// addresses. The TLS files are read now, so a missing or bad one is
// reported before anything connects. Errors wrap [ErrConfig] and name the
// key; they never hold the password.
func FromConfig(cfg config.RedisConfig, password string) (Endpoint, error) {
	e := Endpoint{
		Mode:            cfg.Mode,
		MasterName:      cfg.SentinelMaster,
		DB:              cfg.DB,
		Username:        cfg.Username,
		Password:        password,
		PoolSize:        cfg.PoolSize,
		ConnMaxLifetime: cfg.ConnMaxLifetime,
	}
	if e.Mode == "" {
		e.Mode = config.RedisStandalone
	}
	e.Addrs = cfg.Addresses()
	if path, ok := strings.CutPrefix(string(cfg.Password), "file:"); ok {
		e.PasswordFile = path
	}
	tc, err := loadTLS(cfg.TLS)
	if err != nil {
		return Endpoint{}, err
	}
	e.TLS = tc
	if err := e.check(); err != nil {
		return Endpoint{}, err
	}
	return e, nil
}

// loadTLS builds the client TLS configuration of redis.tls, or nil when it
// is off.
func loadTLS(c config.RedisTLSConfig) (*tls.Config, error) {
	if !c.Enabled {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: redis.tls.ca_file: %w", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%w: redis.tls.ca_file: %s holds no PEM certificate", ErrConfig, c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: redis.tls.cert_file and redis.tls.key_file: %w", ErrConfig, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// mode returns the mode, standalone when empty.
func (e Endpoint) mode() string {
	if e.Mode == "" {
		return config.RedisStandalone
	}
	return e.Mode
}

// check reports what keeps e from describing a connection.
func (e Endpoint) check() error {
	mode := e.mode()
	switch mode {
	case config.RedisStandalone, config.RedisSentinel, config.RedisCluster:
	default:
		return fmt.Errorf("%w: unknown redis.mode %q (want standalone, sentinel or cluster)", ErrConfig, e.Mode)
	}
	switch {
	case len(e.Addrs) == 0:
		return fmt.Errorf("%w: no address: set redis.host (and redis.port) or redis.addrs", ErrConfig)
	case e.Network != "" && e.Network != "tcp" && e.Network != "unix":
		return fmt.Errorf("%w: network %q (want tcp or unix)", ErrConfig, e.Network)
	case e.Network == "unix" && mode != config.RedisStandalone:
		return fmt.Errorf("%w: a Unix socket reaches a standalone server only, not redis.mode %s", ErrConfig, mode)
	case mode == config.RedisStandalone && len(e.Addrs) > 1:
		return fmt.Errorf("%w: standalone mode connects to one server, but redis.host and redis.addrs name %d (%s): "+
			"set redis.mode to sentinel or cluster, or keep one address", ErrConfig, len(e.Addrs), strings.Join(e.Addrs, ", "))
	case mode == config.RedisSentinel && e.MasterName == "":
		return fmt.Errorf("%w: sentinel mode needs redis.sentinel_master", ErrConfig)
	case mode == config.RedisCluster && e.DB != 0:
		return fmt.Errorf("%w: cluster mode has only database 0, redis.db is %d", ErrConfig, e.DB)
	}
	return nil
}

// String says where e connects, for messages: "127.0.0.1:6379",
// `master "mymaster" via sentinel a:26379, b:26379`, "cluster a:7000,
// b:7000", "unix socket /run/redis.sock", with " over TLS" when TLS is on.
// It never holds the password.
func (e Endpoint) String() string {
	var s string
	switch e.mode() {
	case config.RedisSentinel:
		s = fmt.Sprintf("master %q via sentinel %s", e.MasterName, strings.Join(e.Addrs, ", "))
	case config.RedisCluster:
		s = "cluster " + strings.Join(e.Addrs, ", ")
	default:
		switch {
		case len(e.Addrs) == 0:
			s = "no address"
		case e.Network == "unix":
			s = "unix socket " + e.Addrs[0]
		default:
			s = strings.Join(e.Addrs, ", ")
		}
	}
	if e.TLS != nil {
		s += " over TLS"
	}
	return s
}

// GoString keeps the password out of %#v.
func (e Endpoint) GoString() string { return "redisconn.Endpoint(" + e.String() + ")" }

// Node returns the standalone endpoint of the one server a single-server
// client ([OpenNode], [Dial]) talks to: addr when set, in any mode, with
// e's credentials and TLS; otherwise e itself, which must be standalone
// ([ErrNotStandalone] when not). A command that needs one server calls it
// to refuse early, before it asks or changes anything.
func (e Endpoint) Node(addr string) (Endpoint, error) {
	if addr != "" {
		n := e
		n.Mode, n.Network, n.Addrs, n.MasterName = config.RedisStandalone, "tcp", []string{addr}, ""
		if e.mode() == config.RedisCluster {
			n.DB = 0
		}
		return n, n.check()
	}
	if err := e.check(); err != nil {
		return Endpoint{}, err
	}
	if m := e.mode(); m != config.RedisStandalone {
		return Endpoint{}, fmt.Errorf("redis.mode is %s (%s): %w", m, e, ErrNotStandalone)
	}
	return e, nil
}
