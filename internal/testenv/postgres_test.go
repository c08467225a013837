package testenv_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tars-ops/tarsctl/internal/testenv"
)

// connect opens a connection with connString, closed when t ends.
func connect(t testing.TB, connString string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), connString)
	if err != nil {
		t.Fatalf("connect %q: %v", connString, err)
	}
	t.Cleanup(func() { conn.Close(t.Context()) })
	return conn
}

func checkSelectOne(t testing.TB, connString string) {
	t.Helper()
	var n int
	if err := connect(t, connString).QueryRow(t.Context(), "SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("SELECT 1 on %q = %d, %v; want 1", connString, n, err)
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	s := testenv.Postgres(t)
	checkSelectOne(t, s.URL("postgres"))
	checkSelectOne(t, s.ConnString("postgres"))

	if s.Host != "127.0.0.1" || s.User != "postgres" || s.Port == 0 || s.Version == "" {
		t.Errorf("server = %+v, want Host 127.0.0.1, User postgres, a port and a version", s)
	}
	var fsync string
	if err := connect(t, s.URL("postgres")).QueryRow(t.Context(), "SHOW fsync").Scan(&fsync); err != nil || fsync != "off" {
		t.Errorf("SHOW fsync = %q, %v; want off", fsync, err)
	}
}

func TestPostgresStopsAfterCleanup(t *testing.T) {
	t.Parallel()
	var s *testenv.PostgresServer
	t.Run("server", func(t *testing.T) {
		s = testenv.Postgres(t)
		checkSelectOne(t, s.URL("postgres"))
		// A session left open must not hold up the shutdown.
		connect(t, s.URL("postgres"))
	})
	if t.Failed() {
		return
	}
	checkStopped(t, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
	if _, err := os.Stat(s.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data directory %s still there after cleanup: %v", s.DataDir, err)
	}
}

func TestSharedPostgresCreateDBIsolated(t *testing.T) {
	t.Parallel()
	s := testenv.SharedPostgres(t)
	a, b := s.CreateDB(t), s.CreateDB(t)
	if a == b {
		t.Fatalf("CreateDB returned %q twice", a)
	}
	ca, cb := connect(t, s.URL(a)), connect(t, s.ConnString(b))
	ctx := t.Context()
	if _, err := ca.Exec(ctx, "CREATE TABLE only_in_a (id int); INSERT INTO only_in_a VALUES (1)"); err != nil {
		t.Fatalf("create table in %s: %v", a, err)
	}
	var db string
	var table *string
	if err := cb.QueryRow(ctx, "SELECT current_database(), to_regclass('only_in_a')::text").Scan(&db, &table); err != nil {
		t.Fatalf("query %s: %v", b, err)
	}
	if db != b {
		t.Errorf("ConnString(%q) connected to %q", b, db)
	}
	if table != nil {
		t.Errorf("table created in %s is visible in %s", a, b)
	}
}

func TestSharedPostgresReused(t *testing.T) {
	t.Parallel()
	first := testenv.SharedPostgres(t)
	var db string
	t.Run("second", func(t *testing.T) {
		second := testenv.SharedPostgres(t)
		if second != first || second.Port != first.Port {
			t.Errorf("second call gave port %d, first %d; want the same server", second.Port, first.Port)
		}
		db = second.CreateDB(t)
		// Left open on purpose: the drop must disconnect it.
		checkSelectOne(t, second.URL(db))
		connect(t, second.URL(db))
	})
	// The subtest's cleanup must have dropped its database, not the server.
	var n int
	err := connect(t, first.URL("postgres")).QueryRow(t.Context(),
		"SELECT count(*) FROM pg_database WHERE datname = $1", db).Scan(&n)
	if err != nil || n != 0 {
		t.Errorf("database %q after its test ended: count %d, %v; want dropped", db, n, err)
	}
}

func TestPostgresTool(t *testing.T) {
	t.Parallel()
	s := testenv.SharedPostgres(t)
	db := s.CreateDB(t)
	if _, err := connect(t, s.URL(db)).Exec(t.Context(), "CREATE TABLE dumped (id int)"); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), s.Tool(t, "pg_dump"), "--schema-only", s.URL(db)).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "CREATE TABLE public.dumped") {
		t.Errorf("pg_dump output lacks the table:\n%s", out)
	}
}
