package redisconn

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/config"
)

// Defaults of [Options]: go-redis's own.
const (
	DefaultDialTimeout  = 5 * time.Second
	DefaultReadTimeout  = 3 * time.Second
	DefaultWriteTimeout = 3 * time.Second
)

// Options tune one client for its use. The zero value suits a command:
// go-redis's timeouts, no retries, the endpoint's pool.
type Options struct {
	// Addr, when set, is the one server (host:port) to talk to, whatever
	// the endpoint's mode, with the endpoint's credentials and TLS: for a
	// command aimed at one node of a Sentinel or Cluster deployment.
	Addr string
	// DialTimeout bounds connecting (with the TLS handshake and AUTH);
	// ReadTimeout and WriteTimeout bound each command's reply and
	// request. 0: [DefaultDialTimeout], [DefaultReadTimeout],
	// [DefaultWriteTimeout]. A context deadline also bounds a command.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// Retries is how many times a command is sent again after a network
	// error (a connection the server closed); 0: never, so that a command
	// that is not idempotent, or a dead server, fails at once.
	Retries int
	// PoolSize caps the connections; 0: the endpoint's PoolSize. 1 keeps
	// one connection: commands run one at a time, in order, as one user.
	PoolSize int
	// Credentials, when set, gives the user and password for every new
	// connection instead of the endpoint's (a password that changes while
	// the client lives, as during an ACL rotation).
	Credentials func() (username, password string)
}

// Open returns the client e's mode calls for, without connecting: a
// *redis.Client for a standalone server (or the one server Options.Addr
// names), a Sentinel failover client (a *redis.Client that follows the
// master), or a *redis.ClusterClient. It also says where the client
// connects, for errors ([Endpoint.String]). The caller closes the client.
// Errors wrap [ErrConfig].
func Open(e Endpoint, o Options) (redis.UniversalClient, string, error) {
	if o.Addr != "" || e.mode() == config.RedisStandalone {
		// Not a bare return: a nil *redis.Client is not a nil interface.
		c, where, err := OpenNode(e, o)
		if err != nil {
			return nil, "", err
		}
		return c, where, nil
	}
	if err := e.check(); err != nil {
		return nil, "", err
	}
	uo := e.universal(o)
	if e.mode() == config.RedisSentinel {
		return redis.NewFailoverClient(uo.Failover()), e.String(), nil
	}
	return redis.NewClusterClient(uo.Cluster()), e.String(), nil
}

// OpenNode returns a client of one server, without connecting: e's server
// in standalone mode, or the server Options.Addr names in any mode. In
// sentinel or cluster mode without Options.Addr it fails with
// [ErrNotStandalone]: a command that needs one server refuses rather than
// pick one. It also says where the client connects.
func OpenNode(e Endpoint, o Options) (*redis.Client, string, error) {
	n, err := e.Node(o.Addr)
	if err != nil {
		return nil, "", err
	}
	opt := n.universal(o).Simple()
	opt.Network = n.network()
	return redis.NewClient(opt), n.String(), nil
}

// Connect opens the client e calls for ([Open]) and pings it. Errors name
// where it connects and are classified ([Classify]): [ErrUnreachable],
// [ErrPermission], or a failed TLS handshake.
func Connect(ctx context.Context, e Endpoint, o Options) (redis.UniversalClient, string, error) {
	c, where, err := Open(e, o)
	if err != nil {
		return nil, "", err
	}
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, "", fmt.Errorf("connect to redis at %s: %w", where, Classify(err))
	}
	return c, where, nil
}

// Dial opens a bare connection (TLS when e says so) to the one server
// OpenNode would talk to, for a protocol go-redis does not speak (the
// replication stream of SYNC). Nothing is sent: the caller authenticates.
// A failed dial wraps [ErrUnreachable] and names the address.
func Dial(ctx context.Context, e Endpoint, o Options) (net.Conn, string, error) {
	n, err := e.Node(o.Addr)
	if err != nil {
		return nil, "", err
	}
	d := &net.Dialer{Timeout: orDefault(o.DialTimeout, DefaultDialTimeout)}
	var conn net.Conn
	if n.TLS != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: n.TLS}).DialContext(ctx, n.network(), n.Addrs[0])
	} else {
		conn, err = d.DialContext(ctx, n.network(), n.Addrs[0])
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, "", fmt.Errorf("connect to redis at %s: %w", n, Classify(err))
	}
	return conn, n.String(), nil
}

func (e Endpoint) network() string {
	if e.Network == "" {
		return "tcp"
	}
	return e.Network
}

// universal returns the go-redis options of e tuned by o, for every mode.
func (e Endpoint) universal(o Options) *redis.UniversalOptions {
	dial := orDefault(o.DialTimeout, DefaultDialTimeout)
	read := orDefault(o.ReadTimeout, DefaultReadTimeout)
	retries := o.Retries
	if retries <= 0 {
		retries = -1 // go-redis: 0 means its default of 3
	}
	pool := o.PoolSize
	if pool <= 0 {
		pool = e.PoolSize
	}
	uo := &redis.UniversalOptions{
		Addrs:           e.Addrs,
		DB:              e.DB,
		MasterName:      e.MasterName,
		Username:        e.Username,
		Password:        e.Password,
		TLSConfig:       e.TLS,
		PoolSize:        pool,
		ConnMaxLifetime: e.ConnMaxLifetime,
		DialTimeout:     dial,
		ReadTimeout:     read,
		WriteTimeout:    orDefault(o.WriteTimeout, DefaultWriteTimeout),
		PoolTimeout:     dial + read,
		// Honour the caller's deadline too.
		ContextTimeoutEnabled: true,
		MaxRetries:            retries,
		// One dial attempt per try rather than go-redis's five: a server
		// that refuses is reported, not hammered.
		DialerRetries: 1,
		// RESP2: every command here is request/reply, and RESP3 makes the
		// client look for push notifications before each one.
		Protocol: 2,
		// No CLIENT SETINFO after each AUTH: one round trip less, and
		// nothing for a restricted ACL user to be refused.
		DisableIdentity: true,
	}
	switch {
	case o.Credentials != nil:
		uo.CredentialsProvider = o.Credentials
	case e.PasswordFile != "":
		uo.CredentialsProvider = NewFileCredentials(e.Username, e.PasswordFile, e.Password).Get
	}
	return uo
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
