package backup

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tars-ops/tarsctl/internal/testenv"
)

// TestPostgresDropAndRestore is the restore drill: a database filled by
// pgbench -i and a table of awkward data is backed up, dropped, recreated
// empty, restored, and compared row for row with what it held; then
// restored again over itself, which needs force.
func TestPostgresDropAndRestore(t *testing.T) {
	t.Parallel()
	for _, format := range []string{FormatPgCustom, FormatPgSQL} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			srv := testenv.SharedPostgres(t)
			db := srv.CreateDB(t)
			fillPostgres(t, srv, db, 1)
			want := tableRows(t, srv.URL(db))
			r := newRepo(t)
			s := create(t, r, nil, &PostgresSource{Conn: PostgresConn{URL: srv.URL(db)}, Format: format})
			part := s.Manifest.Parts[0]
			if part.Entries != 5 || !strings.HasPrefix(part.ServerVersion, "15") || part.Source != srv.URL(db) {
				t.Errorf("part = %+v, want 5 tables from PostgreSQL 15", part)
			}

			admin, err := pgx.Connect(ctx, srv.URL("postgres"))
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close(context.Background())
			ident := pgx.Identifier{db}.Sanitize()
			if _, err := admin.Exec(ctx, "DROP DATABASE "+ident+" WITH (FORCE)"); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
				t.Fatal(err)
			}

			target := &PostgresTarget{Conn: PostgresConn{URL: srv.URL(db)}}
			done, err := r.Restore(ctx, s, RestoreOptions{Targets: map[string]Target{"postgres": target}})
			if err != nil {
				t.Fatal(err)
			}
			if len(done) != 1 || done[0].Entries != 5 {
				t.Errorf("restored %+v, want 5 tables", done)
			}
			comparePgRows(t, want, tableRows(t, srv.URL(db)))

			_, err = r.Restore(ctx, s, RestoreOptions{Targets: map[string]Target{"postgres": &PostgresTarget{Conn: PostgresConn{URL: srv.URL(db)}}}})
			if !errors.Is(err, ErrTargetNotEmpty) || !strings.Contains(err.Error(), "has 5 tables") {
				t.Errorf("restore over the restored database: %v, want %v", err, ErrTargetNotEmpty)
			}
			forced := &PostgresTarget{Conn: PostgresConn{URL: srv.URL(db)}, Force: true}
			if _, err := r.Restore(ctx, s, RestoreOptions{Targets: map[string]Target{"postgres": forced}}); err != nil {
				t.Fatalf("forced restore: %v", err)
			}
			comparePgRows(t, want, tableRows(t, srv.URL(db)))
		})
	}
}

// fakeTool writes an executable shell script.
func fakeTool(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pg_dump")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPostgresDumpFailures checks that no failure of pg_dump, or of what it
// needs, is ever stored as a backup: the runbook's `pg_dump | gzip` without
// pipefail stores a failed dump as a good one.
func TestPostgresDumpFailures(t *testing.T) {
	t.Parallel()
	srv := testenv.SharedPostgres(t)
	db := srv.CreateDB(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	tests := []struct {
		name   string
		src    *PostgresSource
		want   error
		wantIn string
	}{
		{"exits 1 after partial output", &PostgresSource{Conn: PostgresConn{URL: srv.URL(db)}, PgDump: fakeTool(t,
			"printf 'PGDMP partial'\necho 'pg_dump: error: query failed: server closed the connection unexpectedly' >&2\nexit 1\n")},
			nil, "pg_dump failed: exit status 1: pg_dump: error: query failed: server closed the connection unexpectedly"},
		{"killed by SIGKILL mid-way", &PostgresSource{Conn: PostgresConn{URL: srv.URL(db)}, PgDump: fakeTool(t,
			"printf 'PGDMP partial'\nkill -KILL $$\n")},
			nil, "pg_dump failed: signal: killed"},
		{"exits 0 with garbage", &PostgresSource{Conn: PostgresConn{URL: srv.URL(db)}, PgDump: fakeTool(t, "printf 'not a dump'\n")},
			ErrCorrupt, "pg_dump exited 0 but corrupt contents: not a pg_dump custom-format archive"},
		{"plain dump cut short", &PostgresSource{Conn: PostgresConn{URL: srv.URL(db)}, Format: FormatPgSQL, PgDump: fakeTool(t, "printf 'CREATE TABLE x ();\\n'\n")},
			ErrCorrupt, "it was cut short"},
		{"pg_dump missing", &PostgresSource{Conn: PostgresConn{URL: srv.URL(db)}, PgDump: filepath.Join(t.TempDir(), "pg_dump")},
			ErrToolMissing, "program not found: pg_dump"},
		{"server unreachable", &PostgresSource{Conn: PostgresConn{URL: "postgres://tars@" + closed + "/tars?sslmode=disable"}},
			ErrUnreachable, "server unreachable: PostgreSQL postgres://tars@" + closed + "/tars"},
		{"database missing", &PostgresSource{Conn: PostgresConn{URL: srv.URL("no_such_db")}},
			nil, `database "no_such_db" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			_, err := r.Create(t.Context(), CreateOptions{Sources: []Source{tt.src}})
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("err = %v, want %v containing %q", err, tt.want, tt.wantIn)
			}
			if sets, _ := r.List(); len(sets) != 0 {
				t.Error("a failed dump was stored as a backup")
			}
			if inc, _ := r.Incomplete(); len(inc) != 0 {
				t.Errorf("a failed dump left %v", inc)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://tars:s3cret@db:5432/tars?sslmode=require":     "postgres://tars@db:5432/tars?sslmode=require",
		"postgres://tars@db/tars?password=s3cret&sslmode=disable": "postgres://tars@db/tars?sslmode=disable",
		"host=db user=tars password=s3cret dbname=tars":           "host=db user=tars dbname=tars",
		"postgres://db/tars": "postgres://db/tars",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	u, pw := SplitPassword("postgres://tars:p%40ss@db:5432/tars")
	if u != "postgres://tars@db:5432/tars" || pw != "p@ss" {
		t.Errorf("SplitPassword = %q, %q", u, pw)
	}
	if got := PostgresURL("::1", 5432, "tars", "tars", "disable"); got != "postgres://tars@[::1]:5432/tars?sslmode=disable" {
		t.Errorf("PostgresURL = %q", got)
	}
}

func TestFindPgTool(t *testing.T) {
	t.Parallel()
	p, err := FindPgTool("pg_dump", 15)
	if err != nil || !strings.HasSuffix(p, "pg_dump") {
		t.Errorf("FindPgTool(pg_dump, 15) = %q, %v", p, err)
	}
	_, err = FindPgTool("pg_no_such_tool", 0)
	if !errors.Is(err, ErrToolMissing) || !strings.Contains(err.Error(), "pg_no_such_tool is not on PATH or in /usr/lib/postgresql/*/bin: install the PostgreSQL client programs") {
		t.Errorf("missing tool: %v", err)
	}
}
