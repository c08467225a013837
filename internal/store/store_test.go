package store

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) {
	TestOnlyLowCostPasswords()
	os.Exit(testenv.Main(m))
}

// opener returns the Options of a fresh, empty database for t; Open may
// be called with them any number of times, as several processes would.
type opener func(t *testing.T) Options

func sqliteOptions(t *testing.T) Options {
	return Options{Driver: DriverSQLite, Path: filepath.Join(t.TempDir(), "data", "tars.db")}
}

func postgresOptions(t *testing.T) Options {
	srv := testenv.SharedPostgres(t)
	return Options{Driver: DriverPostgres, URL: srv.URL(srv.CreateDB(t))}
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	runSuite(t, sqliteOptions)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	runSuite(t, postgresOptions)
}

// runSuite runs the tests every driver must pass, each on a database of
// its own.
func runSuite(t *testing.T, newOptions opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, opts Options)
	}{
		{"Users", testUsers},
		{"UserNotFound", testUserNotFound},
		{"UserValidation", testUserValidation},
		{"DuplicateUser", testDuplicateUser},
		{"ConcurrentCreateUser", testConcurrentCreateUser},
		{"LastAdmin", testLastAdmin},
		{"ConcurrentDemoteAdmins", testConcurrentDemoteAdmins},
		{"Agents", testAgents},
		{"MigrationsIdempotent", testMigrationsIdempotent},
		{"ConcurrentOpen", testConcurrentOpen},
		{"FailedMigrationLeavesNoTrace", testFailedMigration},
		{"NewerSchemaRefused", testNewerSchema},
		{"PingKindClose", testPingKindClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newOptions(t))
		})
	}
}

func open(t *testing.T, opts Options) *DB {
	t.Helper()
	db, err := Open(t.Context(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// fixedNow sets db's clock to a fixed time and returns it.
func fixedNow(db *DB) time.Time {
	now := time.Date(2025, 3, 1, 12, 30, 45, 123456789, time.UTC)
	db.now = func() time.Time { return now }
	return now.Truncate(time.Microsecond)
}

func testUsers(t *testing.T, opts Options) {
	ctx := t.Context()
	db := open(t, opts)
	now := fixedNow(db)
	created := time.Date(2024, 12, 24, 18, 0, 0, 0, time.FixedZone("CET", 3600))

	users := []User{
		{Username: "zoe", PasswordHash: "$argon2id$zoe", Role: RoleViewer},
		{Username: "Alice", PasswordHash: "$argon2id$alice", Role: RoleAdmin, TOTPSecret: "JBSWY3DPEHPK3PXP"},
		{Username: "bob", PasswordHash: "$argon2id$bob", Role: RoleOperator, CreatedAt: created},
	}
	for _, u := range users {
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.Username, err)
		}
	}
	got, err := db.GetUser(ctx, "Alice")
	if err != nil {
		t.Fatal(err)
	}
	want := User{Username: "Alice", PasswordHash: "$argon2id$alice", Role: RoleAdmin, TOTPSecret: "JBSWY3DPEHPK3PXP", CreatedAt: now, UpdatedAt: now}
	if got != want {
		t.Errorf("GetUser: got %+v, want %+v", got, want)
	}
	if got, _ := db.GetUser(ctx, "bob"); !got.CreatedAt.Equal(created) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("bob created at %v, want %v in UTC", got.CreatedAt, created)
	}

	list, err := db.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range list {
		names = append(names, u.Username)
	}
	if got := strings.Join(names, " "); got != "Alice bob zoe" {
		t.Errorf("ListUsers: %s, want Alice bob zoe (byte order)", got)
	}
	if n, err := db.CountUsers(ctx); err != nil || n != 3 {
		t.Errorf("CountUsers = %d, %v; want 3", n, err)
	}

	later := now.Add(time.Hour)
	db.now = func() time.Time { return later }
	if err := db.UpdatePassword(ctx, "bob", "$argon2id$new"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRole(ctx, "bob", RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := db.SetTOTPSecret(ctx, "bob", "KRSXG5A"); err != nil {
		t.Fatal(err)
	}
	got, err = db.GetUser(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "$argon2id$new" || got.Role != RoleAdmin || got.TOTPSecret != "KRSXG5A" || !got.UpdatedAt.Equal(later) {
		t.Errorf("after updates: %+v", got)
	}
	if err := db.SetTOTPSecret(ctx, "bob", ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetUser(ctx, "bob"); got.TOTPSecret != "" {
		t.Errorf("TOTP secret %q after removing it", got.TOTPSecret)
	}

	if err := db.DeleteUser(ctx, "zoe"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetUser(ctx, "zoe"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetUser after DeleteUser: %v, want ErrNotFound", err)
	}
	if n, _ := db.CountUsers(ctx); n != 2 {
		t.Errorf("CountUsers = %d after a delete, want 2", n)
	}
}

func testUserNotFound(t *testing.T, opts Options) {
	ctx := t.Context()
	db := open(t, opts)
	const hash = "$argon2id$v=19$m=19456,t=2,p=1$c2VjcmV0c2FsdA$c2VjcmV0aGFzaA"
	for name, err := range map[string]error{
		"GetUser":        func() error { _, err := db.GetUser(ctx, "ghost"); return err }(),
		"UpdatePassword": db.UpdatePassword(ctx, "ghost", hash),
		"SetRole":        db.SetRole(ctx, "ghost", RoleViewer),
		"SetTOTPSecret":  db.SetTOTPSecret(ctx, "ghost", "X"),
		"DeleteUser":     db.DeleteUser(ctx, "ghost"),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of a missing user: %v, want ErrNotFound", name, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, `"ghost"`) || strings.Contains(msg, hash) {
			t.Errorf("%s: error %q should name the user and never the hash", name, msg)
		}
	}
	if list, err := db.ListUsers(ctx); err != nil || list == nil || len(list) != 0 {
		t.Errorf("ListUsers of none = %#v, %v; want an empty, non-nil list", list, err)
	}
	if n, err := db.CountUsers(ctx); err != nil || n != 0 {
		t.Errorf("CountUsers = %d, %v; want 0", n, err)
	}
}

func testUserValidation(t *testing.T, opts Options) {
	ctx := t.Context()
	db := open(t, opts)
	for _, tc := range []struct {
		u    User
		want error
	}{
		{User{Username: "", PasswordHash: "h", Role: RoleViewer}, ErrInvalidUsername},
		{User{Username: "a b", PasswordHash: "h", Role: RoleViewer}, ErrInvalidUsername},
		{User{Username: "a\x00b", PasswordHash: "h", Role: RoleViewer}, ErrInvalidUsername},
		{User{Username: strings.Repeat("x", MaxUsernameLen+1), PasswordHash: "h", Role: RoleViewer}, ErrInvalidUsername},
		{User{Username: "carol", PasswordHash: "h", Role: "superuser"}, ErrInvalidRole},
		{User{Username: "carol", PasswordHash: "h", Role: ""}, ErrInvalidRole},
		{User{Username: "carol", PasswordHash: "", Role: RoleViewer}, nil},
	} {
		err := db.CreateUser(ctx, tc.u)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("CreateUser(%+v): %v, want %v", tc.u, err, tc.want)
		}
	}
	if err := db.CreateUser(ctx, User{Username: "carol", PasswordHash: "h", Role: RoleViewer}); err != nil {
		t.Fatal(err)
	}
	err := db.SetRole(ctx, "carol", "root")
	if !errors.Is(err, ErrInvalidRole) || !strings.Contains(err.Error(), `"root"`) {
		t.Errorf("SetRole(root): %v, want ErrInvalidRole naming the role", err)
	}
	if err := db.UpdatePassword(ctx, "carol", ""); err == nil {
		t.Error("UpdatePassword with an empty hash succeeded")
	}
	if u, _ := db.GetUser(ctx, "carol"); u.Role != RoleViewer || u.PasswordHash != "h" {
		t.Errorf("carol changed by rejected updates: %+v", u)
	}
	if n, _ := db.CountUsers(ctx); n != 1 {
		t.Errorf("CountUsers = %d, want 1: only the valid user", n)
	}
}

func testDuplicateUser(t *testing.T, opts Options) {
	ctx := t.Context()
	db := open(t, opts)
	u := User{Username: "dave", PasswordHash: "$argon2id$first", Role: RoleViewer}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	u.PasswordHash, u.Role = "$argon2id$second", RoleAdmin
	err := db.CreateUser(ctx, u)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second CreateUser: %v, want ErrExists", err)
	}
	if want := `create user "dave": already exists`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if got, _ := db.GetUser(ctx, "dave"); got.PasswordHash != "$argon2id$first" || got.Role != RoleViewer {
		t.Errorf("the duplicate changed the user: %+v", got)
	}
}

// testConcurrentCreateUser races creations of one name through two DB
// handles, as two processes (a daemon and the CLI) would.
func testConcurrentCreateUser(t *testing.T, opts Options) {
	const tries = 16
	dbs := []*DB{open(t, opts), open(t, opts)}
	var (
		start           = make(chan struct{})
		wg              sync.WaitGroup
		mu              sync.Mutex
		created, exists int
		others          []error
	)
	for i := range tries {
		db := dbs[i%len(dbs)]
		wg.Go(func() {
			<-start
			err := db.CreateUser(t.Context(), User{Username: "erin", PasswordHash: "h", Role: RoleViewer})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case errors.Is(err, ErrExists):
				exists++
			default:
				others = append(others, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(others) > 0 {
		t.Fatalf("%d unexpected errors, first: %v", len(others), others[0])
	}
	if created != 1 || exists != tries-1 {
		t.Errorf("%d concurrent creations: %d succeeded, %d got ErrExists; want 1 and %d", tries, created, exists, tries-1)
	}
}

func testAgents(t *testing.T, opts Options) {
	ctx := t.Context()
	db := open(t, opts)
	now := fixedNow(db)
	if list, err := db.ListAgents(ctx); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("ListAgents of none = %#v, %v; want an empty, non-nil list", list, err)
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)
	agents := []Agent{
		{ID: "dqn-2", Name: "DQN", Type: "dqn", Status: "training", Episodes: 120, Reward: 0.5, UpdatedAt: at},
		{ID: "a2c-1", Name: "A2C", Type: "a2c", Status: "idle"},
	}
	for _, a := range agents {
		if err := db.UpsertAgent(ctx, a); err != nil {
			t.Fatalf("UpsertAgent(%s): %v", a.ID, err)
		}
	}
	update := Agent{ID: "dqn-2", Name: "DQN v2", Type: "dqn", Status: "done", Episodes: 1 << 40, Reward: -12.25, UpdatedAt: at.Add(time.Minute)}
	if err := db.UpsertAgent(ctx, update); err != nil {
		t.Fatal(err)
	}
	got, err := db.ListAgents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Agent{
		{ID: "a2c-1", Name: "A2C", Type: "a2c", Status: "idle", UpdatedAt: now},
		update,
	}
	if len(got) != len(want) {
		t.Fatalf("ListAgents: %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("agent %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if err := db.UpsertAgent(ctx, Agent{Name: "no id"}); err == nil {
		t.Error("UpsertAgent without an ID succeeded")
	}
}

// versions returns the rows of schema_migrations.
func versions(t *testing.T, db *DB) []int {
	t.Helper()
	v, err := db.appliedMigrations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testMigrationsIdempotent(t *testing.T, opts Options) {
	ctx := t.Context()
	migs, err := loadMigrations(migrationsFS, opts.Driver)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, User{Username: "frank", PasswordHash: "h", Role: RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		db = open(t, opts)
		if v := versions(t, db); len(v) != len(migs) {
			t.Errorf("schema_migrations holds %v, want each of 1..%d once", v, len(migs))
		}
		if _, err := db.GetUser(ctx, "frank"); err != nil {
			t.Errorf("user lost on reopen: %v", err)
		}
	}
}

func testConcurrentOpen(t *testing.T, opts Options) {
	const n = 4
	var (
		wg   sync.WaitGroup
		errs = make([]error, n)
		dbs  = make([]*DB, n)
	)
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = Open(t.Context(), opts) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { _ = dbs[i].Close() })
	}
	if t.Failed() {
		return
	}
	if v := versions(t, dbs[0]); len(v) != 1 {
		t.Errorf("schema_migrations holds %v after concurrent opens, want [1]", v)
	}
}

// testFailedMigration applies a migration that fails halfway: neither its
// first statement nor its record may remain, and the next Open retries it.
func testFailedMigration(t *testing.T, opts Options) {
	ctx := t.Context()
	db := open(t, opts)
	broken := fstest.MapFS{
		"0001_users_agents.sql": {Data: mustReadMigration(t, "0001_users_agents.sql")},
		"0002_half.sql":         {Data: []byte("CREATE TABLE half (id TEXT);\nTHIS IS NOT SQL;\n")},
	}
	err := db.migrateFrom(ctx, broken)
	if err == nil || !strings.Contains(err.Error(), "0002_half.sql") {
		t.Fatalf("migrate with a broken migration: %v, want an error naming 0002_half.sql", err)
	}
	if v := versions(t, db); len(v) != 1 {
		t.Errorf("schema_migrations holds %v, want [1]", v)
	}
	var n int
	err = db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM half`).Scan(&n)
	if err == nil {
		t.Error("table half of the failed migration exists")
	}
	fixed := fstest.MapFS{
		"0001_users_agents.sql": broken["0001_users_agents.sql"],
		"0002_half.sql":         {Data: []byte("CREATE TABLE half (id TEXT);\n")},
	}
	if err := db.migrateFrom(ctx, fixed); err != nil {
		t.Fatalf("migrate after the fix: %v", err)
	}
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM half`).Scan(&n); err != nil {
		t.Errorf("table half after the fixed migration: %v", err)
	}
}

func mustReadMigration(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("migrations", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testNewerSchema(t *testing.T, opts Options) {
	ctx := t.Context()
	db := open(t, opts)
	if _, err := db.w.ExecContext(ctx, db.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		999, "0999_future.sql", time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "version 999") {
		t.Fatalf("Open of a newer schema: %v, want an error naming version 999", err)
	}
}

func testPingKindClose(t *testing.T, opts Options) {
	db, err := Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if db.Kind() != opts.Driver {
		t.Errorf("Kind() = %q, want %q", db.Kind(), opts.Driver)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Ping(t.Context()); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if _, err := db.GetUser(t.Context(), "x"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("GetUser after Close: %v, want an error other than ErrNotFound", err)
	}
}

func TestSQLiteFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	opts := sqliteOptions(t)
	db := open(t, opts)
	fi, err := os.Stat(opts.Path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode %v, want 0600: it holds password hashes", perm)
	}
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000"} {
		var got string
		if err := db.w.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	// The readers are read-only.
	if _, err := db.r.ExecContext(ctx, `DELETE FROM users`); err == nil {
		t.Error("a write through the read pool succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dead := deadPostgresURL(t, "hunter2")
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"unknown driver", Options{Driver: "mysql"}, `unknown driver "mysql"`},
		{"no path", Options{Driver: DriverSQLite}, "no path"},
		{"query in path", Options{Driver: DriverSQLite, Path: "/tmp/x.db?mode=ro"}, "may not hold"},
		{"no url", Options{Driver: DriverPostgres}, "no URL"},
		{"bad url", Options{Driver: DriverPostgres, URL: "postgres://u:hunter2@[::1"}, "open postgres database"},
		{"unreachable", Options{Driver: DriverPostgres, URL: dead}, "open postgres database"},
		{"unwritable dir", Options{Driver: DriverSQLite, Path: "/proc/tarsctl/x.db"}, "open sqlite database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			db, err := Open(ctx, tc.opts)
			if err == nil {
				_ = db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// deadPostgresURL returns a URL, with password, of a loopback port nothing
// listens on: what an outage looks like.
func deadPostgresURL(t *testing.T, password string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "postgres://tars:" + password + "@" + addr + "/tars?sslmode=disable"
}

func testLastAdmin(t *testing.T, opts Options) {
	ctx := t.Context()
	db := open(t, opts)
	for _, u := range []User{{Username: "root", Role: RoleAdmin}, {Username: "bob", Role: RoleViewer}} {
		u.PasswordHash = "$argon2id$x"
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteUser(ctx, "root"); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("DeleteUser(only admin) = %v, want ErrLastAdmin", err)
	}
	if err := db.SetRole(ctx, "root", RoleOperator); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("SetRole(only admin, operator) = %v, want ErrLastAdmin", err)
	}
	if u, err := db.GetUser(ctx, "root"); err != nil || u.Role != RoleAdmin {
		t.Fatalf("root after refused changes = %+v, %v; want an unchanged admin", u, err)
	}
	// Others are unaffected, and with a second admin the first may go.
	if err := db.SetRole(ctx, "bob", RoleOperator); err != nil {
		t.Fatalf("SetRole(bob): %v", err)
	}
	if err := db.SetRole(ctx, "bob", RoleAdmin); err != nil {
		t.Fatalf("SetRole(bob, admin): %v", err)
	}
	if err := db.DeleteUser(ctx, "root"); err != nil {
		t.Fatalf("DeleteUser(root) with another admin: %v", err)
	}
	if err := db.DeleteUser(ctx, "bob"); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("DeleteUser(bob, now the only admin) = %v, want ErrLastAdmin", err)
	}
	if err := db.SetRole(ctx, "ghost", RoleViewer); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetRole(ghost) = %v, want ErrNotFound", err)
	}
}

// testConcurrentDemoteAdmins demotes both of two admins at once, many
// times: exactly one demotion may win each time, never both.
func testConcurrentDemoteAdmins(t *testing.T, opts Options) {
	ctx := t.Context()
	db := open(t, opts)
	names := []string{"a", "b"}
	for _, name := range names {
		if err := db.CreateUser(ctx, User{Username: name, Role: RoleAdmin, PasswordHash: "$argon2id$x"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		var wg sync.WaitGroup
		for _, name := range names {
			wg.Go(func() { _ = db.SetRole(ctx, name, RoleViewer) })
		}
		wg.Wait()
		admins := 0
		for _, name := range names {
			u, err := db.GetUser(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if u.Role == RoleAdmin {
				admins++
			}
		}
		if admins != 1 {
			t.Fatalf("round %d: %d admins left after demoting both of two at once, want 1", i, admins)
		}
		for _, name := range names {
			if err := db.SetRole(ctx, name, RoleAdmin); err != nil {
				t.Fatal(err)
			}
		}
	}
}
