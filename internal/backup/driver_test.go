package backup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tars-ops/tarsctl/internal/testenv"
)

// driverCase is one Source with the Target that restores it: the
// conformance suite below runs the same checks on each (restic's backend
// test suite does the same for its backends).
type driverCase struct {
	name string
	// setup fills a source with data. It returns the source, a function
	// making a fresh empty target, and a function checking that a target
	// holds exactly the source's data.
	setup func(t *testing.T) (src Source, newTarget func(t *testing.T) Target, check func(t *testing.T, tg Target))
}

func driverCases() []driverCase {
	return []driverCase{
		{"dir", setupDir},
		{"config", setupConfig},
		{"redis-keys", setupRedisKeys},
		{"redis-rdb", setupRedisRDB},
		{"postgres-custom", func(t *testing.T) (Source, func(*testing.T) Target, func(*testing.T, Target)) {
			return setupPostgres(t, FormatPgCustom)
		}},
		{"postgres-sql", func(t *testing.T) (Source, func(*testing.T) Target, func(*testing.T, Target)) {
			return setupPostgres(t, FormatPgSQL)
		}},
	}
}

// TestDriverConformance runs every driver through: a round trip with deep
// verification, an encrypted round trip, and each kind of damage, which
// verify must report and restore must refuse with nothing restored.
func TestDriverConformance(t *testing.T) {
	t.Parallel()
	for _, dc := range driverCases() {
		t.Run(dc.name, func(t *testing.T) {
			t.Parallel()
			src, newTarget, check := dc.setup(t)
			ctx := t.Context()

			t.Run("round trip", func(t *testing.T) {
				r := newRepo(t)
				s := create(t, r, nil, src)
				rep, err := r.Verify(ctx, s, VerifyOptions{Deep: true, Now: clock(fixedNow)})
				if err != nil {
					t.Fatal(err)
				}
				if !rep.OK() || rep.Level != LevelDeep {
					t.Fatalf("deep verify: level %s, problems %v", rep.Level, rep.Problems())
				}
				tg := newTarget(t)
				if _, err := r.Restore(ctx, s, RestoreOptions{Targets: map[string]Target{src.Spec().Name: tg}}); err != nil {
					t.Fatal(err)
				}
				check(t, tg)
			})

			t.Run("encrypted", func(t *testing.T) {
				r := newRepo(t)
				key := testKey(7)
				s := create(t, r, key, src)
				part := s.Manifest.Parts[0]
				if !strings.HasSuffix(part.File, ".enc") || part.KeyID == "" || s.Manifest.Encryption == nil {
					t.Fatalf("part %+v is not marked encrypted", part)
				}
				rep, err := r.Verify(ctx, s, VerifyOptions{NoRecord: true})
				if err != nil || !rep.OK() || rep.Level != LevelChecksums || !strings.Contains(rep.Parts[0].Note, "checksums only") {
					t.Fatalf("verify without key: %v %+v", err, rep)
				}
				rep, err = r.Verify(ctx, s, VerifyOptions{Keys: keyring(t, testKey(1), key), NoRecord: true})
				if err != nil || !rep.OK() || rep.Level != LevelContents {
					t.Fatalf("verify with key: %v %+v", err, rep)
				}
				for _, keys := range [][][]byte{nil, {testKey(8)}} {
					tg := newTarget(t)
					_, err := r.Restore(ctx, s, RestoreOptions{Targets: map[string]Target{part.Name: tg}, Keys: keyring(t, keys...)})
					if !errors.Is(err, ErrKeyRequired) || !strings.Contains(err.Error(), part.KeyID) {
						t.Errorf("restore with keys %d: %v, want %v naming key %s", len(keys), err, ErrKeyRequired, part.KeyID)
					}
					assertEmpty(t, tg)
				}
				tg := newTarget(t)
				if _, err := r.Restore(ctx, s, RestoreOptions{Targets: map[string]Target{part.Name: tg}, Keys: keyring(t, key)}); err != nil {
					t.Fatal(err)
				}
				check(t, tg)
			})

			t.Run("damage", func(t *testing.T) {
				orig := create(t, newRepo(t), nil, src)
				part := orig.Manifest.Parts[0]
				damages := []struct {
					name   string
					damage func(t *testing.T, dir string)
					want   error
					msg    string
				}{
					{"one byte flipped", func(t *testing.T, dir string) {
						flipByte(t, filepath.Join(dir, part.File), part.Size/2)
					}, ErrChecksum, "SHA-256 of " + part.File},
					{"truncated", func(t *testing.T, dir string) {
						if err := os.Truncate(filepath.Join(dir, part.File), part.Size-10); err != nil {
							t.Fatal(err)
						}
					}, ErrSizeMismatch, "truncated"},
					{"missing", func(t *testing.T, dir string) {
						if err := os.Remove(filepath.Join(dir, part.File)); err != nil {
							t.Fatal(err)
						}
					}, ErrMissingPart, part.File + " is not in the set"},
					{"manifest edited", func(t *testing.T, dir string) {
						path := filepath.Join(dir, ManifestFile)
						b, _ := os.ReadFile(path)
						b = []byte(strings.Replace(string(b), `"profile": "test"`, `"profile": "prod"`, 1))
						if err := os.WriteFile(path, b, 0o600); err != nil {
							t.Fatal(err)
						}
					}, ErrManifest, "changed after the backup was written"},
				}
				for _, d := range damages {
					t.Run(d.name, func(t *testing.T) {
						t.Parallel()
						r := newRepo(t)
						dir := copySet(t, orig, r)
						d.damage(t, dir)
						s, err := r.Find(orig.ID)
						if err != nil {
							t.Fatal(err)
						}
						rep, err := r.Verify(ctx, s, VerifyOptions{Now: clock(fixedNow)})
						if err != nil {
							t.Fatal(err)
						}
						problems := strings.Join(rep.Problems(), "; ")
						if rep.OK() || !strings.Contains(problems, d.msg) {
							t.Errorf("verify problems = %q, want one with %q", problems, d.msg)
						}
						if again, _ := r.Find(orig.ID); again.Good() {
							t.Error("the damaged set still counts as good after verify")
						}
						tg := newTarget(t)
						_, err = r.Restore(ctx, s, RestoreOptions{Targets: map[string]Target{part.Name: tg}})
						if !errors.Is(err, d.want) || !strings.Contains(err.Error(), d.msg) {
							t.Errorf("restore: %v, want %v with %q", err, d.want, d.msg)
						}
						assertEmpty(t, tg)
					})
				}
			})
		})
	}
}

// assertEmpty checks that a target is still empty: nothing was restored.
func assertEmpty(t *testing.T, tg Target) {
	t.Helper()
	if err := tg.Prepare(t.Context()); err != nil {
		t.Errorf("target %s is no longer empty: %v", tg, err)
	}
}

// copySet copies a set's directory into another repository.
func copySet(t *testing.T, s *Set, to *Repository) string {
	t.Helper()
	dst := to.setPath(s.ID)
	if err := os.CopyFS(dst, os.DirFS(s.Path)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// setupDir builds a tree with what a data directory holds.
func setupDir(t *testing.T) (Source, func(*testing.T) Target, func(*testing.T, Target)) {
	src := filepath.Join(t.TempDir(), "data")
	makeTree(t, src)
	return &DirSource{Name: "data", Path: src},
		func(t *testing.T) Target { return &DirTarget{Path: filepath.Join(t.TempDir(), "restored")} },
		func(t *testing.T, tg Target) { compareTrees(t, src, tg.(*DirTarget).Path) }
}

func setupConfig(t *testing.T) (Source, func(*testing.T) Target, func(*testing.T, Target)) {
	cfg := loadConfig(t)
	src := &ConfigSource{Config: cfg, Profile: "local"}
	want, _, err := RenderConfig(cfg, "local", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return src,
		func(t *testing.T) Target {
			return &FileTarget{PartKind: KindConfig, Path: filepath.Join(t.TempDir(), "tars.yaml")}
		},
		func(t *testing.T, tg Target) {
			got, err := os.ReadFile(tg.(*FileTarget).Path)
			if err != nil || string(got) != string(want) {
				t.Errorf("restored config differs: %v\n%s", err, got)
			}
			if fi, _ := os.Stat(tg.(*FileTarget).Path); fi.Mode().Perm() != 0o600 {
				t.Errorf("restored config mode %v, want 0600", fi.Mode().Perm())
			}
		}
}

func setupRedisKeys(t *testing.T) (Source, func(*testing.T) Target, func(*testing.T, Target)) {
	src := testenv.Redis(t)
	fillRedis(t, src.Addr, 0)
	dst := testenv.Redis(t)
	var db atomic.Int32
	return &RedisKeysSource{Conn: redisAt(src.Addr, 0, "")},
		func(t *testing.T) Target {
			// Each target is a database of its own.
			return &RedisKeysTarget{Conn: redisAt(dst.Addr, int(db.Add(1)), "")}
		},
		func(t *testing.T, tg Target) {
			compareRedis(t, redisAt(src.Addr, 0, ""), tg.(*RedisKeysTarget).Conn)
		}
}

func setupRedisRDB(t *testing.T) (Source, func(*testing.T) Target, func(*testing.T, Target)) {
	src := testenv.Redis(t)
	fillRedis(t, src.Addr, 0)
	return &RedisRDBSource{Conn: redisAt(src.Addr, 0, "")},
		func(t *testing.T) Target {
			return &FileTarget{PartKind: KindRedisRDB, Path: filepath.Join(t.TempDir(), "dump.rdb")}
		},
		func(t *testing.T, tg Target) {
			f, err := os.Open(tg.(*FileTarget).Path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := checkRDB(f); err != nil {
				t.Errorf("restored RDB: %v", err)
			}
		}
}

func setupPostgres(t *testing.T, format string) (Source, func(*testing.T) Target, func(*testing.T, Target)) {
	srv := testenv.SharedPostgres(t)
	db := srv.CreateDB(t)
	fillPostgres(t, srv, db, 1)
	return &PostgresSource{Conn: PostgresConn{URL: srv.URL(db)}, Format: format},
		func(t *testing.T) Target {
			return &PostgresTarget{Conn: PostgresConn{URL: srv.URL(srv.CreateDB(t))}}
		},
		func(t *testing.T, tg Target) {
			comparePostgres(t, srv.URL(db), tg.(*PostgresTarget).Conn.URL)
		}
}
