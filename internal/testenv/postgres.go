package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// pgInstall says how to get the PostgreSQL server binaries; a missing
	// binary fails the test with it.
	pgInstall = "run `make test` (it installs test dependencies) or `apt-get install -y postgresql-15` " +
		"(binaries in " + pgDebianBin + ")"
	// pgDebianBin is where Debian's postgresql-15 package puts the binaries.
	pgDebianBin = "/usr/lib/postgresql/15/bin"
	// pgSuperuser is the superuser initdb creates. Authentication is trust,
	// so it needs no password.
	pgSuperuser = "postgres"
	// pgOSUser is the OS user PostgreSQL runs as when the tests run as root.
	pgOSUser = "postgres"
	// initdbTimeout bounds one initdb run.
	initdbTimeout = 2 * time.Minute
	// dbTimeout bounds CREATE DATABASE and DROP DATABASE.
	dbTimeout = 30 * time.Second
)

// initdbArgs are the initdb flags after -D. They are part of the template
// cache key, so changing them builds a new template.
var initdbArgs = []string{
	"--username=" + pgSuperuser,
	"--auth=trust",
	"--encoding=UTF8",
	"--locale=C", // fast, and the same on every machine
	"--no-sync",
	// 1 MB WAL segments instead of 16 MB: the data directory, which every
	// server copies from the template, shrinks from about 39 MB to 28 MB.
	"--wal-segsize=1",
}

// PostgresServer is a running PostgreSQL started by [Postgres] or
// [SharedPostgres]. It listens on 127.0.0.1 only, without Unix sockets, and
// trusts every connection, so [PostgresServer.User] needs no password.
// Durability is off (fsync, full_page_writes, synchronous_commit): a crash
// loses data, which a test server can afford.
type PostgresServer struct {
	// Host is the address to connect to, "127.0.0.1".
	Host string
	// Port is the TCP port.
	Port int
	// User is the superuser to connect as, "postgres".
	User string
	// Version is the server's version, for example "15.18".
	Version string
	// BinDir is the directory of the server binaries, where client programs
	// such as pg_dump usually live too; see [PostgresServer.Tool].
	BinDir string
	// DataDir is the data directory, removed when the server stops.
	DataDir string

	proc  *process
	tmp   *tempDir // holds DataDir
	dbSeq atomic.Int64
}

// URL returns a postgres:// connection URL for database db, as
// pgx.Connect, pgxpool.New and the command-line tools accept it.
func (s *PostgresServer) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(s.User),
		Host:     net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// ConnString returns a keyword/value connection string for database db, for
// example "host=127.0.0.1 port=40123 user=postgres dbname=app sslmode=disable".
func (s *PostgresServer) ConnString(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable",
		s.Host, s.Port, connStringValue(s.User), connStringValue(db))
}

// connStringValue quotes v for a keyword/value connection string.
func connStringValue(v string) string {
	if v != "" && !strings.ContainsAny(v, ` '\`) {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// CreateDB creates an empty database for t and drops it, disconnecting any
// remaining sessions, when t ends. It returns the database's name, which is
// derived from t.Name() and unique on this server. Tests sharing a server
// each call it to keep their data apart.
func (s *PostgresServer) CreateDB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", dbNamePrefix(t.Name()), s.dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(t.Context(), dbTimeout)
	defer cancel()
	if err := s.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testenv: create database %q: %v", name, err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
		defer cancel()
		// FORCE: a test may leave a pool open; its sessions must not keep
		// the database alive.
		if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %q: %v", name, err)
		}
	})
	return name
}

// exec runs one statement as the superuser in the postgres database.
func (s *PostgresServer) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// dbNamePrefix turns a test name into the start of a database name: lower
// case letters, digits and underscores, short enough to leave room for a
// suffix within PostgreSQL's 63-byte limit.
func dbNamePrefix(testName string) string {
	var b strings.Builder
	b.WriteString("t_")
	lastUnderscore := true
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 44 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			lastUnderscore = false
		} else if !lastUnderscore {
			b.WriteByte('_')
			lastUnderscore = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// Tool returns the path of a PostgreSQL program of the same installation as
// the server, such as "pg_dump", "pg_restore" or "psql". It fails t if the
// program is missing.
func (s *PostgresServer) Tool(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(s.BinDir, name)
	if !isExecutable(path) {
		t.Fatalf("testenv: %s not found in %s: %s", name, s.BinDir, pgInstall)
	}
	return path
}

// stop shuts the server down and removes its data.
func (s *PostgresServer) stop() error {
	return errors.Join(s.proc.stop(), s.tmp.remove())
}

// Postgres starts a private PostgreSQL for t and stops it when t ends. It
// fails t if the binaries are missing or the server does not become ready.
// Most tests want [SharedPostgres] and [PostgresServer.CreateDB] instead.
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	s, err := startPostgres(t.Context(), freePort)
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

var sharedPostgres = sync.OnceValues(func() (*PostgresServer, error) {
	s, err := startPostgres(context.Background(), freePort)
	if err == nil {
		registerShared(s.stop)
	}
	return s, err
})

// SharedPostgres returns the test binary's shared PostgreSQL, starting it on
// first use; [Main] stops it after the tests. Each test takes a database of
// its own with [PostgresServer.CreateDB]. If the server could not start, every
// caller fails. It fails t unless the package's TestMain calls [Main].
func SharedPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	requireMain(t, "SharedPostgres")
	s, err := sharedPostgres()
	if err != nil {
		t.Fatalf("testenv: shared server: %v", err)
	}
	return s
}

// pgInstallation is a set of PostgreSQL server binaries.
type pgInstallation struct {
	binDir      string // directory of postgres, symlinks resolved
	initdb      string
	postgres    string
	versionLine string // output of postgres --version
	version     string // "15.18"
}

// findPostgres looks for initdb and postgres in $PG_BIN, then in
// pgDebianBin, then on PATH.
func findPostgres() (*pgInstallation, error) {
	inst := &pgInstallation{}
	if dir := os.Getenv("PG_BIN"); dir != "" {
		inst.initdb = filepath.Join(dir, "initdb")
		inst.postgres = filepath.Join(dir, "postgres")
		if !isExecutable(inst.initdb) || !isExecutable(inst.postgres) {
			return nil, fmt.Errorf("initdb and postgres not found in PG_BIN=%s: point PG_BIN at a PostgreSQL bin directory, or unset it and %s", dir, pgInstall)
		}
	} else if initdb, postgres := filepath.Join(pgDebianBin, "initdb"), filepath.Join(pgDebianBin, "postgres"); isExecutable(initdb) && isExecutable(postgres) {
		inst.initdb, inst.postgres = initdb, postgres
	} else {
		var err1, err2 error
		inst.initdb, err1 = exec.LookPath("initdb")
		inst.postgres, err2 = exec.LookPath("postgres")
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("initdb and postgres not found in %s or on PATH: %s", pgDebianBin, pgInstall)
		}
	}
	// /usr/local/bin/postgres may be a symlink; pg_dump and friends live
	// beside the real binary.
	resolved, err := filepath.EvalSymlinks(inst.postgres)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", inst.postgres, err)
	}
	inst.binDir = filepath.Dir(resolved)

	// postgres answers --version before its check for root.
	out, err := exec.Command(inst.postgres, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("run %s --version: %w", inst.postgres, err)
	}
	inst.versionLine = strings.TrimSpace(string(out))
	// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
	fields := strings.Fields(inst.versionLine)
	if len(fields) < 3 {
		return nil, fmt.Errorf("%s --version printed %q, want \"postgres (PostgreSQL) VERSION\"", inst.postgres, inst.versionLine)
	}
	inst.version = fields[2]
	return inst, nil
}

// major returns the major version, "15" for "15.18".
func (inst *pgInstallation) major() string {
	major, _, _ := strings.Cut(inst.version, ".")
	return major
}

// postgresRunAs returns the user to run PostgreSQL as: nil (the current user)
// unless we are root, which PostgreSQL refuses to run as.
func postgresRunAs() (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(pgOSUser)
	if err != nil {
		return nil, fmt.Errorf("postgres refuses to run as root, and user %q to run it as instead was not found (%v): %s",
			pgOSUser, err, pgInstall)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", pgOSUser, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("user %q: gid %q: %w", pgOSUser, u.Gid, err)
	}
	return &runAs{name: pgOSUser, uid: uid, gid: gid}, nil
}

// tempDirEnv names a directory to create PostgreSQL data directories in,
// overriding the choice of [tempBase].
const tempDirEnv = "TARS_TESTENV_TMPDIR"

// tempBase returns the directory to create data directories in: $TARS_TESTENV_TMPDIR
// if set, else a roomy memory file system if there is one (creating a data
// directory or a database writes about a thousand small files, which takes
// five to ten times longer on a disk), else os.TempDir(). As root it must be
// one the postgres user can reach: t.TempDir()'s parent is 0700 root, and
// $TMPDIR may be under /root.
func tempBase(as *runAs) (string, error) {
	if dir := os.Getenv(tempDirEnv); dir != "" {
		if as != nil && !searchableByOthers(dir) {
			return "", fmt.Errorf("%s=%s: user %q cannot reach it: every directory on the way must be searchable by others", tempDirEnv, dir, as.name)
		}
		return dir, nil
	}
	var candidates []string
	if dir := memTempDir(); dir != "" {
		candidates = append(candidates, dir)
	}
	candidates = append(candidates, os.TempDir(), "/tmp")
	for _, dir := range candidates {
		if as == nil || searchableByOthers(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no temporary directory that user %q can reach: neither %s nor /tmp is searchable by others; set %s", as.name, os.TempDir(), tempDirEnv)
}

// searchableByOthers reports whether every directory on the way to dir
// lets other users through.
func searchableByOthers(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// pgEnv is the environment of initdb and postgres: ours, with the C locale so
// that an unusual LANG cannot make them fail.
func pgEnv() []string {
	return append(os.Environ(), "LC_ALL=C")
}

// runInitdb initialises dataDir, which must not exist yet or be empty, as as.
func runInitdb(ctx context.Context, inst *pgInstallation, dataDir string, as *runAs) error {
	ctx, cancel := context.WithTimeout(ctx, initdbTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, inst.initdb, append([]string{"-D", dataDir}, initdbArgs...)...)
	cmd.Dir = filepath.Dir(dataDir)
	cmd.Env = pgEnv()
	cmd.SysProcAttr = sysProcAttr(as)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := startCmd(cmd); err != nil {
		return fmt.Errorf("run initdb: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("initdb %s: %w; output:\n%s", dataDir, err, out.String())
	}
	return nil
}

// startPostgres starts a server on a port from pick (normally [freePort]).
func startPostgres(ctx context.Context, pick func() (int, error)) (*PostgresServer, error) {
	inst, err := findPostgres()
	if err != nil {
		return nil, err
	}
	as, err := postgresRunAs()
	if err != nil {
		return nil, err
	}
	base, err := tempBase(as)
	if err != nil {
		return nil, err
	}
	tmp, err := newTempDir(base, "tarsctl-pg-", as)
	if err != nil {
		return nil, fmt.Errorf("create postgres directory: %w", err)
	}
	s, err := startPostgresIn(ctx, pick, inst, as, base, tmp)
	if err != nil {
		_ = tmp.remove()
		return nil, err
	}
	return s, nil
}

func startPostgresIn(ctx context.Context, pick func() (int, error), inst *pgInstallation, as *runAs, base string, tmp *tempDir) (*PostgresServer, error) {
	dataDir := filepath.Join(tmp.path, "data")
	template, err := pgTemplate(ctx, inst, as, base)
	if err != nil {
		return nil, err
	}
	if template != "" {
		if err := copyTree(template, dataDir, as); err != nil {
			return nil, fmt.Errorf("copy postgres template %s (deleting it is safe while no tests run): %w", template, err)
		}
	} else if err := runInitdb(ctx, inst, dataDir, as); err != nil {
		return nil, err
	}

	var s *PostgresServer
	err = startOnFreePort(ctx, pick, func(ctx context.Context, port int) error {
		cmd := exec.Command(inst.postgres,
			"-D", dataDir,
			"-h", "127.0.0.1",
			"-p", strconv.Itoa(port),
			"-k", "", // no Unix sockets: nothing to clean up, no clash over /var/run/postgresql
			"-c", "fsync=off",
			"-c", "full_page_writes=off",
			"-c", "synchronous_commit=off",
			"-c", "max_connections=200", // parallel tests with a pool each
			"-c", "shared_buffers=32MB",
		)
		cmd.Dir = tmp.path
		cmd.Env = pgEnv()
		cmd.SysProcAttr = sysProcAttr(as)
		// SIGINT is PostgreSQL's fast shutdown: it disconnects clients.
		// SIGTERM (smart shutdown) would wait for a test's leftover pool.
		proc, err := startProcess("postgres", cmd, "database system is ready to accept connections", syscall.SIGINT)
		if err != nil {
			return err
		}
		if err := proc.waitReady(ctx); err != nil {
			return err
		}
		s = &PostgresServer{
			Host:    "127.0.0.1",
			Port:    port,
			User:    pgSuperuser,
			Version: inst.version,
			BinDir:  inst.binDir,
			DataDir: dataDir,
			proc:    proc,
			tmp:     tmp,
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	return s, nil
}
