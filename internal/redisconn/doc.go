// Package redisconn is the one place that opens Redis clients. Every Redis
// user — the daemons' shared state, secrets rotation, backup, triage —
// builds its client here, from the configuration's redis.* keys, so that
// the modes, TLS, ACL credentials and the meaning of go-redis's errors are
// decided once.
//
// # Endpoints and clients
//
// An [Endpoint] says where Redis is and who connects: [FromConfig] builds it
// from config.RedisConfig and the resolved redis.password, or a caller
// fills one in for a server it started itself. [Open] turns it into the
// client its mode calls for; [OpenNode] into a client of one server;
// [Connect] opens and pings; [Dial] opens a bare connection for a protocol
// go-redis does not speak. Each also says where it connects, for errors:
//
//	127.0.0.1:6379
//	master "mymaster" via sentinel a:26379, b:26379
//	cluster a:7000, b:7000 over TLS
//
// [Options] tune a client for its use — timeouts, retries, pool size, one
// connection for ACL work, the one node a command aims at — and nothing
// else: where and who stay the endpoint's.
//
// # Modes
//
// redis.mode alone chooses the client, never the number of addresses:
//
//	standalone  redis.host:redis.port (or the one address in redis.addrs):
//	            a *redis.Client; two addresses are an error
//	sentinel    the sentinels at redis.host:redis.port (26379 by default) and
//	            redis.addrs, asked for redis.sentinel_master: a failover
//	            client, a *redis.Client that follows the master
//	cluster     redis.host:redis.port and redis.addrs are seeds from which
//	            the nodes are discovered: a *redis.ClusterClient (database 0)
//
// Sentinels are asked without credentials; redis.username and
// redis.password authenticate to the master and to every cluster node.
//
// A command that needs one server (a backup's SCAN, DUMP and SYNC, an ACL
// rotation, triage's ratelimit and sessions commands) calls [OpenNode] or
// [Dial], or [Endpoint.Node] to refuse before it asks anything; they
// refuse Sentinel and Cluster with [ErrNotStandalone] unless
// [Options.Addr] names the node. That is the one rule: commands do not
// compare redis.mode themselves, they add their own advice to the error.
//
// # TLS
//
// With redis.tls.enabled every connection — to the server, to the
// sentinels, to each cluster node — is TLS 1.2 or later, and the server's
// certificate is always verified: against redis.tls.ca_file (the system's
// roots when empty), for redis.tls.server_name (the host connected to when
// empty, so each cluster node is checked under its own address).
// redis.tls.cert_file and redis.tls.key_file send a client certificate to
// servers that ask for one. The files are read by [FromConfig], once.
//
// # Credentials
//
// redis.username is the ACL user ("default" when empty). When
// redis.password is file:PATH, every new connection re-reads PATH if it
// changed ([FileCredentials]): after `tarsctl secrets rotate
// redis-password` rewrites it, connections already open stay
// authenticated and new ones use the new password, with no restart.
// [Options.Credentials] replaces the endpoint's user and password for one
// client. Passwords never appear in errors, in [Endpoint.String] or in
// %#v.
//
// # Errors
//
// [Classify] gives go-redis's errors two meanings callers branch on:
// [ErrPermission] (WRONGPASS, NOAUTH, NOPERM: exit 4) and [ErrUnreachable]
// (refused, reset, timed out, no sentinel or cluster node answering: exit
// 3). A failed TLS handshake is neither: the server answered, and retrying
// will not change its certificate. [Connect] and [Dial] classify their
// errors and name the addresses tried. backup keeps its own sentinel
// errors (backup.ErrAuth, backup.ErrUnreachable) and wraps these;
// secrets.ErrRedisPermission and ErrRedisUnreachable are these, by other
// names. Configuration that cannot describe a connection is [ErrConfig].
package redisconn
