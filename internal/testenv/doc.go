// Package testenv starts real servers for tests: a private redis-server and a
// private PostgreSQL, each on a free loopback port with its data in a
// temporary directory. It is imported only by tests.
//
// Tests talk to the real thing rather than to mocks, so what passes here
// passes against the servers tarsctl meets in production.
//
// # Private servers
//
// [Redis] and [Postgres] start a server for one test and stop it when the test
// ends (t.Cleanup sends SIGTERM, or SIGINT for PostgreSQL, waits a few
// seconds, then kills it). They bind 127.0.0.1 on a port picked by the kernel
// and retry with a new port if another process takes it first. A helper
// returns only once the server has logged that it accepts connections, and
// fails the test with the server's last log lines if that does not happen
// before a deadline.
//
// # Shared servers
//
// Starting PostgreSQL takes a fraction of a second, which adds up over many
// tests, so a package normally shares one server between all its tests:
// [SharedRedis] and [SharedPostgres] start their server on first use and
// return the same one to every later caller in the test binary. If the start
// fails, every caller fails with the same error. A shared server lives until
// the test binary ends, which a test's cleanup cannot see, so a package that
// uses them must stop them from TestMain through [Main]:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//
// Tests that share a server must not see each other's data.
// [PostgresServer.CreateDB] gives each test its own database and drops it when
// the test ends. Redis has no cheap equivalent; tests sharing a Redis server
// keep to keys prefixed with their own t.Name().
//
// # Redis topologies and TLS
//
// [RedisWith] also starts a server that speaks TLS only ([RedisTLS]), with
// the certificates [TLSCerts] makes for the test (a CA, a server
// certificate for 127.0.0.1 and localhost, a client certificate).
// [RedisSentinel] starts a master and a Sentinel that monitors it;
// [RedisCluster] starts three masters, gives them their slots, joins them
// and waits until every node reports cluster_state:ok. Cluster nodes
// announce 127.0.0.1 and use a second free port for their bus. A cluster
// takes about two seconds to start: Redis keeps a new master from serving
// writes for its first two seconds, so a package starts one and shares it
// between its subtests.
//
// # Binaries and installation
//
// The helpers run redis-server from PATH (or /usr/bin), and initdb and
// postgres from $PG_BIN, /usr/lib/postgresql/15/bin or PATH, in that order.
// A missing binary fails the test, never skips it: `make test` installs the
// test dependencies through scripts/test-deps.sh, so a skip would only hide a
// gap. The failure says what to install.
//
// # Running as root
//
// CI runs the tests as root, and PostgreSQL refuses to run as root. When the
// test binary's effective user is root, initdb and postgres run as the
// unprivileged "postgres" OS user (created by Debian's postgresql packages),
// in a data directory that user owns and can reach: not under t.TempDir,
// whose parent only root may enter.
//
// # Where the data lives
//
// Each server gets a temporary directory of its own, removed when it stops.
// Redis writes nothing there. A PostgreSQL data directory, and every database
// created in it, is about a thousand small files, which a disk writes five to
// ten times slower than memory; so on Linux it goes in /dev/shm when that is
// a tmpfs with at least 1 GB free, and otherwise in os.TempDir. Setting
// $TARS_TESTENV_TMPDIR chooses the directory instead.
//
// # The initdb template cache
//
// initdb costs a second or two, so the first run initialises a template data
// directory once and caches it under os.UserCacheDir()/tarsctl-testenv, keyed
// by the PostgreSQL version; every server then starts from a copy of it. The
// template is built in a temporary directory and renamed into place while
// holding a lock file, so test binaries running in parallel build it once and
// never see a half-built one. Deleting the cache directory is safe while no
// tests run. If no cache directory is available, each server runs initdb
// itself.
//
// # Leaks
//
// On Linux each server gets SIGKILL when the test binary dies, even when it is
// killed without running any cleanup (a -timeout panic, SIGKILL). Its
// temporary directory, named tarsctl-redis-* or tarsctl-pg-*, stays behind
// until the next test binary that starts a server of the same kind: each
// directory holds a lock file that its test binary keeps locked, and a
// directory whose lock is free is removed.
package testenv
