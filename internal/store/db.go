package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	// Drivers: "pgx" and "sqlite". modernc's SQLite is large (a C-to-Go
	// translation of SQLite) and is imported nowhere else.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// Drivers, as [Options].Driver and [DB.Kind] name them.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Defaults of the connections [Open] makes.
const (
	// DefaultBusyTimeout is how long a SQLite writer waits for another
	// process to release the write lock.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultConnectTimeout bounds the connection and ping in [Open] when
	// its context has no deadline.
	DefaultConnectTimeout = 10 * time.Second
)

// Pool sizes.
const (
	sqliteReaders = 4
	pgMaxConns    = 10
	pgIdleTime    = 5 * time.Minute
)

// Options says which database [Open] opens.
type Options struct {
	// Driver is DriverSQLite (the default when empty) or DriverPostgres.
	Driver string
	// Path is the SQLite file, created if missing (driver sqlite).
	Path string
	// URL is the PostgreSQL connection URL or keyword/value string
	// (driver postgres). It may hold a password, so it never appears in
	// an error.
	URL string
}

// DB is an open store. It is safe for concurrent use.
type DB struct {
	kind string
	w    *sql.DB // writes; on SQLite a single connection
	r    *sql.DB // reads; on PostgreSQL the same pool as w
	now  func() time.Time

	// stmts caches prepared read statements by query: the hot reads (the
	// agents list, a user by name) run on every API request, and parsing
	// their SQL each time costs more than running it.
	stmts sync.Map // string → *sql.Stmt
}

// readStmt returns the prepared statement for a read query on the read
// pool; database/sql prepares it again on each connection as needed.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := db.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// Open opens the database opts describes, checks that it answers, and
// applies any migrations it lacks. Close the DB when done.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultConnectTimeout)
		defer cancel()
	}
	var (
		db  *DB
		err error
	)
	switch opts.Driver {
	case DriverSQLite, "":
		db, err = openSQLite(ctx, opts.Path)
	case DriverPostgres:
		db, err = openPostgres(ctx, opts.URL)
	default:
		return nil, fmt.Errorf("open database: unknown driver %q (want %s or %s)", opts.Driver, DriverSQLite, DriverPostgres)
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open sqlite database: no path")
	}
	// SQLite would read what follows a '?' as parameters.
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open sqlite database %s: path may not hold '?' or '#' or start with \"file:\"", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	// The file holds password hashes: create it private. SQLite gives the
	// -wal and -shm files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	_ = f.Close()

	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(DefaultBusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// BEGIN IMMEDIATE: a transaction takes the write lock at its start,
	// where the busy timeout applies, not midway, where it cannot.
	q.Set("_txlock", "immediate")
	// Times as SQLite's date functions read them, not time.Time.String.
	q.Set("_time_format", "sqlite")
	w, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)

	q.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	r.SetMaxOpenConns(sqliteReaders)

	db := &DB{kind: DriverSQLite, w: w, r: r, now: time.Now}
	// The writer first: it switches the file to WAL, which the read-only
	// readers cannot.
	if err := w.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	if err := r.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	return db, nil
}

func openPostgres(ctx context.Context, connURL string) (*DB, error) {
	if connURL == "" {
		return nil, errors.New("open postgres database: no URL")
	}
	// pgx's errors name host, user and database but never the password.
	pool, err := sql.Open("pgx", connURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres database: %w", err)
	}
	pool.SetMaxOpenConns(pgMaxConns)
	pool.SetMaxIdleConns(pgMaxConns)
	pool.SetConnMaxIdleTime(pgIdleTime)
	if err := pool.PingContext(ctx); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("open postgres database: %w", err)
	}
	return &DB{kind: DriverPostgres, w: pool, r: pool, now: time.Now}, nil
}

// Kind returns the driver: [DriverSQLite] or [DriverPostgres].
func (db *DB) Kind() string { return db.kind }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s database: %w", db.kind, err)
	}
	return nil
}

// Close closes the database's connections.
func (db *DB) Close() error {
	db.stmts.Range(func(_, st any) bool {
		_ = st.(*sql.Stmt).Close()
		return true
	})
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	if err != nil {
		return fmt.Errorf("close %s database: %w", db.kind, err)
	}
	return nil
}

// q returns query with its ? placeholders in the driver's style.
func (db *DB) q(query string) string {
	if db.kind == DriverPostgres {
		return rebind(query)
	}
	return query
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, ..., leaving
// quoted strings and identifiers alone.
func rebind(query string) string {
	var (
		b     strings.Builder
		n     int
		quote byte // the quote we are inside, or 0
	)
	b.Grow(len(query) + 8)
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote reopens at once: same result
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// timestamp is how a time is stored: UTC, in microseconds, PostgreSQL's
// precision, so both drivers give back what they were given.
func timestamp(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}
