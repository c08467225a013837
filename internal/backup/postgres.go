package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultConnectTimeout bounds connecting to a server.
const DefaultConnectTimeout = 10 * time.Second

// pgDebianBin is where Debian and Ubuntu put each PostgreSQL version's
// programs: /usr/lib/postgresql/VERSION/bin.
const pgDebianBin = "/usr/lib/postgresql"

// pgDumpComplete ends every plain-format dump pg_dump finished.
const pgDumpComplete = "-- PostgreSQL database dump complete"

// userTablesSQL counts the tables outside the system schemas.
const userTablesSQL = `SELECT count(*) FROM pg_catalog.pg_class c
	JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'p')
	AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'`

// PostgresConn says how to reach a database. The password is kept apart
// from the URL and handed to child programs as PGPASSWORD, so it never
// shows in a process list or a message.
type PostgresConn struct {
	// URL is a postgres:// URL or a keyword/value connection string,
	// without the password.
	URL      string
	Password string
	// Timeout bounds connecting; 0 means DefaultConnectTimeout.
	Timeout time.Duration
}

// String is the URL with any password removed.
func (c PostgresConn) String() string { return RedactURL(c.URL) }

func (c PostgresConn) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultConnectTimeout
}

// env is the environment child programs get.
func (c PostgresConn) env() []string {
	env := []string{"PGCONNECT_TIMEOUT=" + strconv.Itoa(int(c.timeout().Seconds()))}
	if c.Password != "" {
		env = append(env, "PGPASSWORD="+c.Password)
	}
	return env
}

// connect opens a connection and classifies failures: a server that
// cannot be reached wraps [ErrUnreachable], refused credentials [ErrAuth].
func (c PostgresConn) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(c.URL)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL connection %s: %w", c, err)
	}
	if c.Password != "" {
		cfg.Password = c.Password
	}
	cfg.ConnectTimeout = c.timeout()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, classifyPgError(err, c.String())
	}
	return conn, nil
}

func classifyPgError(err error, what string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if strings.HasPrefix(pgErr.Code, "28") { // invalid_authorization_specification, invalid_password
			return fmt.Errorf("%w: PostgreSQL %s: %s", ErrAuth, what, pgErr.Message)
		}
		return fmt.Errorf("PostgreSQL %s: %w", what, err)
	}
	return fmt.Errorf("%w: PostgreSQL %s: %v", ErrUnreachable, what, err)
}

// RedactURL removes the password from a postgres:// or redis:// URL; a
// keyword/value string loses its password= pair.
func RedactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		if _, has := u.User.Password(); has {
			u.User = url.User(u.User.Username())
		}
		q := u.Query()
		if q.Has("password") {
			q.Del("password")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	var out []string
	for _, f := range strings.Fields(s) {
		if !strings.HasPrefix(f, "password=") {
			out = append(out, f)
		}
	}
	return strings.Join(out, " ")
}

// PostgresSource dumps a database with pg_dump, in its custom format
// (compressed by pg_dump, restored with pg_restore) or as plain SQL
// (compressed by tarsctl, restored with psql, readable by anyone).
//
// Before pg_dump starts, Dump connects itself — an unreachable server
// fails fast with [ErrUnreachable] — and exports a snapshot that pg_dump
// then dumps, so the table count it records for deep verification is of
// exactly the data dumped.
type PostgresSource struct {
	Conn PostgresConn
	// Format is FormatPgCustom (the default) or FormatPgSQL.
	Format string
	// PgDump is the pg_dump to run; empty finds the one matching the
	// server's major version ([FindPgTool]).
	PgDump string
}

var _ Source = (*PostgresSource)(nil)

// Spec describes the part.
func (s *PostgresSource) Spec() PartSpec {
	if s.Format == FormatPgSQL {
		return PartSpec{Name: "postgres", Kind: KindPostgres, Format: FormatPgSQL, Source: s.Conn.String(), Ext: ".sql", Compress: true}
	}
	return PartSpec{Name: "postgres", Kind: KindPostgres, Format: FormatPgCustom, Source: s.Conn.String(), Ext: ".dump"}
}

// Dump runs pg_dump and streams its output to w.
func (s *PostgresSource) Dump(ctx context.Context, w io.Writer) (DumpResult, error) {
	var res DumpResult
	conn, err := s.Conn.connect(ctx)
	if err != nil {
		return res, err
	}
	defer conn.Close(context.Background())
	var major int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('server_version_num')::int / 10000").Scan(&res.ServerVersion, &major); err != nil {
		return res, classifyPgError(err, s.Conn.String())
	}
	// The snapshot lives as long as this transaction; pg_dump imports it.
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return res, classifyPgError(err, s.Conn.String())
	}
	defer tx.Rollback(context.Background())
	var snapshot string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
		// A standby cannot export snapshots before PostgreSQL 10; count
		// outside pg_dump's snapshot then.
		snapshot = ""
	}
	if err := tx.QueryRow(ctx, userTablesSQL).Scan(&res.Entries); err != nil {
		return res, classifyPgError(err, s.Conn.String())
	}
	pgDump := s.PgDump
	if pgDump == "" {
		if pgDump, err = FindPgTool("pg_dump", major); err != nil {
			return res, err
		}
	}
	args := []string{"--no-password", "--dbname=" + s.Conn.URL}
	if s.Format == FormatPgSQL {
		// --clean --if-exists: the script also restores over an existing
		// copy of the database.
		args = append(args, "--format=plain", "--clean", "--if-exists")
	} else {
		args = append(args, "--format=custom")
	}
	if snapshot != "" {
		args = append(args, "--snapshot="+snapshot)
	}
	check := &dumpCheck{format: s.Format}
	err = toolRun{Name: "pg_dump", Path: pgDump, Args: args, Env: s.Conn.env(), Stdout: io.MultiWriter(w, check)}.run(ctx)
	if err != nil {
		return res, pgToolError(err, s.Conn.String())
	}
	if err := check.err(); err != nil {
		return res, fmt.Errorf("pg_dump exited 0 but %w", err)
	}
	return res, nil
}

// pgToolError marks a client program's failure to connect as unreachable.
func pgToolError(err error, what string) error {
	var te *ToolError
	if errors.As(err, &te) {
		for _, s := range []string{"could not connect to server", "connection to server at", "could not translate host name", "Connection refused", "timeout expired"} {
			if strings.Contains(te.Stderr, s) {
				return fmt.Errorf("%w: PostgreSQL %s: %w", ErrUnreachable, what, err)
			}
		}
		if strings.Contains(te.Stderr, "password authentication failed") {
			return fmt.Errorf("%w: PostgreSQL %s: %w", ErrAuth, what, err)
		}
	}
	return err
}

// dumpCheck watches pg_dump's output go by: the custom format starts with
// PGDMP, and a plain dump pg_dump finished ends with its completion line.
type dumpCheck struct {
	format string
	head   []byte
	tail   []byte
	n      int64
}

func (d *dumpCheck) Write(p []byte) (int, error) {
	if len(d.head) < 5 {
		d.head = append(d.head, p[:min(len(p), 5-len(d.head))]...)
	}
	// Keep the last 512 bytes without copying everything that passes.
	if len(p) >= 512 {
		d.tail = append(d.tail[:0], p[len(p)-512:]...)
	} else {
		d.tail = append(d.tail, p...)
		if len(d.tail) > 512 {
			d.tail = append(d.tail[:0], d.tail[len(d.tail)-512:]...)
		}
	}
	d.n += int64(len(p))
	return len(p), nil
}

func (d *dumpCheck) err() error {
	if d.format == FormatPgSQL {
		if !bytes.Contains(d.tail, []byte(pgDumpComplete)) {
			return fmt.Errorf("%w: the SQL dump does not end with %q: it was cut short", ErrCorrupt, pgDumpComplete)
		}
		return nil
	}
	if string(d.head) != "PGDMP" {
		return fmt.Errorf("%w: not a pg_dump custom-format archive (it does not start with PGDMP)", ErrCorrupt)
	}
	return nil
}

// checkPgDump checks a postgres part's content.
func checkPgDump(r io.Reader, format string) error {
	d := &dumpCheck{format: format}
	if _, err := io.Copy(d, r); err != nil {
		return err
	}
	return d.err()
}

// FindPgTool finds a PostgreSQL client program: the one of the server's
// major version in /usr/lib/postgresql/MAJOR/bin when there is one (a
// pg_dump older than the server refuses to run), else the one on PATH,
// else the newest in /usr/lib/postgresql/*/bin. major 0 means unknown.
func FindPgTool(name string, major int) (string, error) {
	if major > 0 {
		if p := filepath.Join(pgDebianBin, strconv.Itoa(major), "bin", name); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if p := newestPgTool(name); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("%w: %s is not on PATH or in %s/*/bin: install the PostgreSQL client programs (apt-get install postgresql-client-15)",
		ErrToolMissing, name, pgDebianBin)
}

func newestPgTool(name string) string {
	matches, _ := filepath.Glob(filepath.Join(pgDebianBin, "*", "bin", name))
	best, bestV := "", -1
	for _, m := range matches {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m))))
		if err == nil && v > bestV && isExecutable(m) {
			best, bestV = m, v
		}
	}
	return best
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// PostgresTarget restores a postgres part into a database: a custom-format
// dump with pg_restore, a plain one with psql, either way in a single
// transaction that stops at the first error, so a failed restore leaves
// the database as it was. The database must exist and hold no tables
// unless Force is set; with Force, a custom-format restore drops the
// objects it restores first (--clean --if-exists), and a plain dump does
// the same by itself.
type PostgresTarget struct {
	Conn  PostgresConn
	Force bool
	// NoOwner skips restoring object ownership and privileges (custom
	// format only), for a server without the original roles.
	NoOwner bool
	// PgRestore and Psql are the programs to run; empty finds them.
	PgRestore, Psql string

	major int
}

var _ Target = (*PostgresTarget)(nil)

func (t *PostgresTarget) Kind() string   { return KindPostgres }
func (t *PostgresTarget) String() string { return t.Conn.String() }

// Prepare checks that the database is reachable and has no tables.
func (t *PostgresTarget) Prepare(ctx context.Context) error {
	conn, err := t.Conn.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int / 10000").Scan(&t.major); err != nil {
		return classifyPgError(err, t.String())
	}
	if err := conn.QueryRow(ctx, userTablesSQL).Scan(&n); err != nil {
		return classifyPgError(err, t.String())
	}
	if n > 0 && !t.Force {
		return fmt.Errorf("%w: the database has %d tables; restore into an empty database, or overwrite with force", ErrTargetNotEmpty, n)
	}
	for _, tool := range []*string{&t.PgRestore, &t.Psql} {
		if *tool != "" {
			continue
		}
		name := "pg_restore"
		if tool == &t.Psql {
			name = "psql"
		}
		if *tool, err = FindPgTool(name, t.major); err != nil {
			return err
		}
	}
	return nil
}

// Restore runs pg_restore or psql with the dump on its stdin.
func (t *PostgresTarget) Restore(ctx context.Context, r io.Reader, p Part) (Restored, error) {
	run := toolRun{Env: t.Conn.env(), Stdin: r}
	if p.Format == FormatPgSQL {
		run.Name, run.Path = "psql", t.Psql
		run.Args = []string{"--no-password", "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction", "--dbname=" + t.Conn.URL, "--file=-"}
		run.Stdout = io.Discard
	} else {
		run.Name, run.Path = "pg_restore", t.PgRestore
		run.Args = []string{"--no-password", "--exit-on-error", "--single-transaction", "--dbname=" + t.Conn.URL}
		if t.Force {
			run.Args = append(run.Args, "--clean", "--if-exists")
		}
		if t.NoOwner {
			run.Args = append(run.Args, "--no-owner", "--no-privileges")
		}
	}
	if err := run.run(ctx); err != nil {
		return Restored{}, pgToolError(err, t.String())
	}
	conn, err := t.Conn.connect(ctx)
	if err != nil {
		return Restored{}, err
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(ctx, userTablesSQL).Scan(&n); err != nil {
		return Restored{}, classifyPgError(err, t.String())
	}
	return Restored{Entries: n, Note: fmt.Sprintf("%d tables", n)}, nil
}

// PostgresURL builds a postgres:// URL, without the password, from the
// parts of a connection.
func PostgresURL(host string, port int, user, dbname, sslmode string) string {
	u := url.URL{Scheme: "postgres", Host: host, Path: "/" + dbname}
	if port > 0 {
		u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	}
	if user != "" {
		u.User = url.User(user)
	}
	if sslmode != "" {
		u.RawQuery = url.Values{"sslmode": {sslmode}}.Encode()
	}
	return u.String()
}

// SplitPassword takes the password out of a postgres:// URL, for a URL
// that came with one (database.url), so it can travel as PGPASSWORD.
func SplitPassword(raw string) (urlWithout, password string) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw, ""
	}
	pw, ok := u.User.Password()
	if !ok {
		return raw, ""
	}
	u.User = url.User(u.User.Username())
	return u.String(), pw
}
