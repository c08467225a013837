package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 42}).Read(b)
	return b
}

// makeTree builds a directory with what data directories hold: modes from
// 0444 to 0755, a read-only directory, an empty one, nanosecond mtimes,
// symlinks within the tree, a non-ASCII name, a file of a few MiB, and a
// FIFO, which a backup skips.
func makeTree(t testing.TB, root string) {
	t.Helper()
	write := func(name string, data []byte, mode fs.FileMode) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("a.txt", []byte("hello\n"), 0o644)
	write("secret.key", []byte("not really a key\n"), 0o600)
	write("bin/run.sh", []byte("#!/bin/sh\necho hi\n"), 0o755)
	write("ro.txt", []byte("read only"), 0o444)
	write("big.bin", randomBytes(3<<20, 1), 0o640)
	write("sub/deep/file.txt", []byte("deep\n"), 0o644)
	write("ünïcode 名前.txt", []byte("ünïcode\n"), 0o644)
	write("empty-file", nil, 0o644)
	write("ro-dir/inside.txt", []byte("inside a read-only directory"), 0o644)
	for _, d := range []string{"empty", "sub/empty"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"link-file": "sub/deep/file.txt", "link-dir": "sub", "sub/deep/up": "../../a.txt"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2025, 11, 28, 3, 4, 5, 123456789, time.UTC)
	// Directories last, deepest first: creating entries changes their mtime.
	for i, p := range []string{"a.txt", "big.bin", "ünïcode 名前.txt", "ro-dir/inside.txt", "sub/deep", "sub", "ro-dir", "empty", "."} {
		ts := mtime.Add(time.Duration(i) * time.Hour)
		if err := os.Chtimes(filepath.Join(root, p), ts, ts); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "ro-dir"), 0o555); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o750); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(root, "ro-dir"), 0o755) })
}

// compareTrees checks that got holds exactly what want holds, FIFOs aside:
// types, permission bits, mtimes, contents and symlink targets.
func compareTrees(t testing.TB, want, got string) {
	t.Helper()
	t.Cleanup(func() {
		_ = filepath.WalkDir(got, func(p string, d fs.DirEntry, _ error) error { return os.Chmod(p, 0o755) })
	})
	seen := 0
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		wi, _ := d.Info()
		if wi.Mode()&fs.ModeNamedPipe != 0 {
			if _, err := os.Lstat(filepath.Join(got, rel)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: a FIFO was restored", rel)
			}
			return nil
		}
		seen++
		gi, err := os.Lstat(filepath.Join(got, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		if gi.Mode() != wi.Mode() {
			t.Errorf("%s: mode %v, want %v", rel, gi.Mode(), wi.Mode())
		}
		switch {
		case wi.Mode()&fs.ModeSymlink != 0:
			wl, _ := os.Readlink(p)
			gl, _ := os.Readlink(filepath.Join(got, rel))
			if wl != gl {
				t.Errorf("%s: symlink to %q, want %q", rel, gl, wl)
			}
		default:
			if !gi.ModTime().Equal(wi.ModTime()) {
				t.Errorf("%s: mtime %v, want %v", rel, gi.ModTime(), wi.ModTime())
			}
		}
		if wi.Mode().IsRegular() && fileSum(t, p) != fileSum(t, filepath.Join(got, rel)) {
			t.Errorf("%s: content differs", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	_ = filepath.WalkDir(got, func(string, fs.DirEntry, error) error { count++; return nil })
	if count != seen {
		t.Errorf("restored tree has %d entries, want %d", count, seen)
	}
}

func fileSum(t testing.TB, path string) [32]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func loadConfig(t testing.TB) *config.Config {
	t.Helper()
	res, err := config.Load(config.LoadOptions{
		Profile:  "local",
		Getenv:   func(string) string { return "" },
		ReadFile: func(string) ([]byte, error) { return nil, fs.ErrNotExist },
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Config
}

// fillRedis writes every type of value, binary keys and values, and keys
// with TTLs into database db.
func fillRedis(t testing.TB, addr string, db int) {
	t.Helper()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	defer c.Close()
	p := c.Pipeline()
	p.Set(ctx, "s:plain", "hello", 0)
	p.Set(ctx, "s:unicode", "héllo wörld 🦀 مرحبا", 0)
	p.Set(ctx, "s:binary", randomBytes(256, 2), 0)
	p.Set(ctx, "s:big", randomBytes(1<<20, 3), 0)
	p.Set(ctx, "s:int", 42, 0)
	p.Set(ctx, string([]byte{0, 0xff, 'k'}), "binary key", 0)
	p.HSet(ctx, "h:user", "name", "ada", "role", "admin", "empty", "")
	for i := range 600 {
		p.HSet(ctx, "h:big", fmt.Sprintf("field-%d", i), i)
		p.RPush(ctx, "l:big", fmt.Sprintf("item-%d", i))
		p.SAdd(ctx, "set:big", fmt.Sprintf("member-%d", i))
		p.ZAdd(ctx, "z:big", redis.Z{Score: float64(i) / 3, Member: fmt.Sprintf("m-%d", i)})
	}
	p.RPush(ctx, "l:queue", "a", "b", "", "c")
	p.SAdd(ctx, "set:tags", "x", "y", "z")
	p.SAdd(ctx, "set:ints", 1, 2, 3, -7)
	p.ZAdd(ctx, "z:scores", redis.Z{Score: -1.5, Member: "neg"}, redis.Z{Score: 0, Member: "zero"}, redis.Z{Score: 1e10, Member: "big"})
	for i := range 3 {
		p.XAdd(ctx, &redis.XAddArgs{Stream: "x:events", ID: fmt.Sprintf("%d-0", 1700000000000+i), Values: []any{"n", i, "kind", "deploy"}})
	}
	p.Set(ctx, "ttl:session", "abc", time.Hour)
	p.HSet(ctx, "ttl:hash", "a", "b")
	p.PExpire(ctx, "ttl:hash", 10*time.Minute)
	p.RPush(ctx, "ttl:list", "1", "2")
	p.Expire(ctx, "ttl:list", 24*time.Hour)
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// A consumer group with a pending entry.
	if err := c.XGroupCreate(ctx, "x:events", "g1", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g1", Consumer: "c1", Streams: []string{"x:events", ">"}, Count: 1}).Err(); err != nil {
		t.Fatal(err)
	}
}

// redisValue reads a key's value in a form that compares.
func redisValue(ctx context.Context, c *redis.Client, key string) (string, error) {
	typ, err := c.Type(ctx, key).Result()
	if err != nil {
		return "", err
	}
	var v any
	switch typ {
	case "string":
		v, err = c.Get(ctx, key).Result()
	case "hash":
		v, err = c.HGetAll(ctx, key).Result()
	case "list":
		v, err = c.LRange(ctx, key, 0, -1).Result()
	case "set":
		var m []string
		m, err = c.SMembers(ctx, key).Result()
		slices.Sort(m)
		v = m
	case "zset":
		v, err = c.ZRangeWithScores(ctx, key, 0, -1).Result()
	case "stream":
		var xs []redis.XMessage
		xs, err = c.XRange(ctx, key, "-", "+").Result()
		if err == nil {
			var groups []redis.XInfoGroup
			groups, err = c.XInfoGroups(ctx, key).Result()
			v = fmt.Sprint(xs, groups)
		}
	default:
		return "", fmt.Errorf("key %q has type %s", key, typ)
	}
	return typ + " " + fmt.Sprint(v), err
}

// compareRedis checks that database b holds exactly the keys of a, with the
// same values, and TTLs within a second.
func compareRedis(t testing.TB, a, b RedisConn) {
	t.Helper()
	ctx := context.Background()
	ca, err := a.client()
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.client()
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	defer cb.Close()
	keys, err := ca.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if nb, _ := cb.DBSize(ctx).Result(); int(nb) != len(keys) || len(keys) < 19 {
		t.Fatalf("restored database has %d keys, want %d", nb, len(keys))
	}
	ttls := 0
	for _, k := range keys {
		va, err := redisValue(ctx, ca, k)
		if err != nil {
			t.Fatal(err)
		}
		vb, err := redisValue(ctx, cb, k)
		if err != nil {
			t.Errorf("key %q: %v", k, err)
			continue
		}
		if va != vb {
			t.Errorf("key %q: restored %.200s, want %.200s", k, vb, va)
		}
		ta, _ := ca.PTTL(ctx, k).Result()
		tb, _ := cb.PTTL(ctx, k).Result()
		if (ta < 0) != (tb < 0) || (ta-tb).Abs() > time.Second {
			t.Errorf("key %q: TTL %v, want %v within a second", k, tb, ta)
		}
		if ta > 0 {
			ttls++
		}
	}
	if ttls != 3 {
		t.Errorf("%d keys with TTLs compared, want 3", ttls)
	}
}

// fillPostgres fills db with pgbench's tables at the given scale and a
// table of awkward data: NULLs next to empty strings, unicode, every byte
// value, JSON, arrays, a COPY-hostile "\N" string, and rows of megabytes.
func fillPostgres(t testing.TB, srv *testenv.PostgresServer, db string, scale int) {
	t.Helper()
	out, err := exec.Command(srv.Tool(t, "pgbench"), "-i", "-q", "-s", fmt.Sprint(scale), srv.URL(db)).CombinedOutput()
	if err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	_, err = conn.Exec(ctx, `
		CREATE SCHEMA app;
		CREATE TABLE app.awkward (
			id serial PRIMARY KEY,
			t text, b bytea, j jsonb, n numeric, ts timestamptz, arr int[], nul text
		);
		CREATE INDEX awkward_n ON app.awkward (n);
		CREATE VIEW app.awkward_view AS SELECT id, t FROM app.awkward;
		INSERT INTO pgbench_history (tid, bid, aid, delta, mtime, filler) VALUES (1, 1, 1, -5, '2026-01-01 00:00:00', NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]any{
		{nil, nil, nil, nil, nil, nil, nil},
		{"", []byte{}, `{}`, "0", "2026-01-28T02:00:00Z", []int32{}, ""},
		{"héllo wörld 🦀 مرحبا \u200b", all, `{"a":[1,2,{"b":null}],"ü":"名前"}`, "-123456789.000000001", "1970-01-01T00:00:00Z", []int32{1, 2, 3}, nil},
		{"tab\there\nnewline \\N 'quote' \"dq\" \\backslash", []byte(`\N`), `"\\N"`, "NaN", "infinity", []int32{-1}, `\N`},
		{strings.Repeat("large row ", 500_000), randomBytes(2<<20, 4), nil, "1e300", nil, nil, nil},
	}
	for _, r := range rows {
		if _, err := conn.Exec(ctx, `INSERT INTO app.awkward (t, b, j, n, ts, arr, nul) VALUES ($1, $2, $3, $4, $5, $6, $7)`, r...); err != nil {
			t.Fatal(err)
		}
	}
}

// tableRows reads every table and sequence of a database as text, sorted.
func tableRows(t testing.TB, url string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rel, err := conn.Query(ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relkind::text
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'S', 'v') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	type relation struct{ name, kind string }
	rels, err := pgx.CollectRows(rel, func(r pgx.CollectableRow) (relation, error) {
		var x relation
		err := r.Scan(&x.name, &x.kind)
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rels {
		q := "SELECT x::text FROM " + r.name + " x ORDER BY 1"
		if r.kind == "S" {
			q = "SELECT last_value::text || ' ' || is_called::text FROM " + r.name
		}
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		out[r.kind+" "+r.name] = vals
	}
	return out
}

// comparePostgres checks that database b holds exactly a's tables, views
// and sequences, row for row.
func comparePostgres(t testing.TB, a, b string) {
	t.Helper()
	want, got := tableRows(t, a), tableRows(t, b)
	comparePgRows(t, want, got)
}

func comparePgRows(t testing.TB, want, got map[string][]string) {
	t.Helper()
	if len(want) < 7 {
		t.Fatalf("only %d relations to compare: %v", len(want), slices.Collect(maps.Keys(want)))
	}
	for name, rows := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s is missing after the restore", name)
			continue
		}
		if len(g) != len(rows) {
			t.Errorf("%s: %d rows, want %d", name, len(g), len(rows))
			continue
		}
		for i := range rows {
			if !bytes.Equal([]byte(rows[i]), []byte(g[i])) {
				t.Errorf("%s row %d differs: got %.100q, want %.100q", name, i, g[i], rows[i])
				break
			}
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s appeared after the restore", name)
		}
	}
}
