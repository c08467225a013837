package backup

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/backup"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var testNow = time.Date(2026, 1, 28, 2, 0, 0, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// testConfig is the local profile with overrides.
func testConfig(t *testing.T, edit func(*config.Config)) ConfigFunc {
	t.Helper()
	res, err := config.Load(config.LoadOptions{
		Profile:  "local",
		Getenv:   func(string) string { return "" },
		ReadFile: func(string) ([]byte, error) { return nil, fs.ErrNotExist },
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := res.Config
	cfg.Paths.Home = t.TempDir()
	if edit != nil {
		edit(cfg)
	}
	return func() (*config.Config, string, error) { return cfg, "local", nil }
}

// TestNewCmdFlags checks flag parsing and the combinations each verb
// refuses, without running anything.
func TestNewCmdFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cmd     func(*cmdutil.Factory, *any) *cobra.Command
		args    []string
		tty     bool
		wantErr string
		check   func(t *testing.T, got any)
	}{
		{"create needs --repo", newCreate, []string{"--postgres"}, false, "--repo is required", nil},
		{"create needs a source", newCreate, []string{"--repo", "r"}, false, "nothing to back up", nil},
		{"create --format without --postgres", newCreate, []string{"--repo", "r", "--redis", "--format", "sql"}, false, "--format applies to --postgres", nil},
		{"create --include-secrets alone", newCreate, []string{"--repo", "r", "--redis", "--include-secrets"}, false, "--include-secrets needs --include-config", nil},
		{"create bad --dir", newCreate, []string{"--repo", "r", "--dir", "nopath"}, false, "want NAME=PATH", nil},
		{"create bad --dir name", newCreate, []string{"--repo", "r", "--dir", "Big Name=/x"}, false, "invalid --dir name", nil},
		{"create bad tag", newCreate, []string{"--repo", "r", "--postgres", "--tag", "a b"}, false, `invalid --tag "a b"`, nil},
		{"create bad compression", newCreate, []string{"--repo", "r", "--postgres", "--compression", "ultra"}, false, `invalid value "ultra" for --compression`, nil},
		{"create encrypt both ways", newCreate, []string{"--repo", "r", "--postgres", "--encrypt", "--no-encrypt"}, false, "cannot be used together", nil},
		{"create parses", newCreate, []string{"--repo", "r", "--postgres", "--format", "sql", "--redis", "--dir", "chroma=/c", "--dir", "data=/d", "--tag", "x", "--no-encrypt"}, false, "", func(t *testing.T, got any) {
			o := got.(*CreateOptions)
			if !o.Postgres || o.Format != "sql" || !o.Redis || len(o.Dirs) != 2 || o.Tags[0] != "x" || o.Encrypt || !o.EncryptSet {
				t.Errorf("opts = %+v", o)
			}
		}},
		{"create encrypt follows the profile", newCreate, []string{"--repo", "r", "--postgres"}, false, "", func(t *testing.T, got any) {
			if got.(*CreateOptions).EncryptSet {
				t.Error("EncryptSet without --encrypt")
			}
		}},
		{"restore needs what", newRestore, []string{"latest", "--repo", "r", "--yes"}, false, "choose what to restore", nil},
		{"restore needs --yes off a terminal", newRestore, []string{"latest", "--repo", "r", "--postgres"}, false, "needs --yes when not on a terminal", nil},
		{"restore on a terminal asks", newRestore, []string{"latest", "--repo", "r", "--postgres"}, true, "", nil},
		{"restore dry run needs no --yes", newRestore, []string{"latest", "--repo", "r", "--postgres", "--dry-run"}, false, "", nil},
		{"restore needs an id", newRestore, []string{"--repo", "r", "--postgres"}, false, "needs a backup ID", nil},
		{"restore --no-owner alone", newRestore, []string{"x", "--repo", "r", "--redis", "--no-owner", "--yes"}, false, "--no-owner applies to --postgres", nil},
		{"prune needs a rule", newPrune, []string{"--repo", "r"}, false, "give at least one of --keep-last", nil},
		{"prune negative", newPrune, []string{"--repo", "r", "--keep-last", "-1"}, false, "must not be negative", nil},
		{"prune parses", newPrune, []string{"--repo", "r", "--keep-daily", "7", "--keep-monthly", "3", "--yes"}, false, "", func(t *testing.T, got any) {
			o := got.(*PruneOptions)
			if o.Policy.Daily != 7 || o.Policy.Monthly != 3 || !o.Yes {
				t.Errorf("opts = %+v", o)
			}
		}},
		{"verify id and --all", newVerify, []string{"x", "--all", "--repo", "r"}, false, "not both", nil},
		{"verify two ids", newVerify, []string{"x", "y", "--repo", "r"}, false, "at most 1", nil},
		{"status negative", newStatus, []string{"--repo", "r", "--max-age", "-1h"}, false, "must not be negative", nil},
		{"status parses", newStatus, []string{"--repo", "r", "--max-age", "26h"}, false, "", func(t *testing.T, got any) {
			if got.(*StatusOptions).MaxAge != 26*time.Hour {
				t.Errorf("max age %v", got.(*StatusOptions).MaxAge)
			}
		}},
		{"list needs --repo", newList, nil, false, "--repo is required", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			ios.SetStdinTTY(tt.tty)
			ios.SetStdoutTTY(tt.tty)
			ios.SetStderrTTY(tt.tty)
			f := &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: "text"}}
			var got any
			cmd := tt.cmd(f, &got)
			cmd.SetArgs(tt.args)
			cmd.SetOut(ios.ErrOut)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || cmdutil.ExitCode(err) != 2 {
					t.Fatalf("err = %v (exit %d), want a usage error with %q", err, cmdutil.ExitCode(err), tt.wantErr)
				}
				if got != nil {
					t.Error("the run function ran")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("the run function did not run")
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func newCreate(f *cmdutil.Factory, got *any) *cobra.Command {
	return NewCmdCreate(f, func(_ context.Context, o *CreateOptions) error { *got = o; return nil })
}
func newRestore(f *cmdutil.Factory, got *any) *cobra.Command {
	return NewCmdRestore(f, func(_ context.Context, o *RestoreOptions) error { *got = o; return nil })
}
func newPrune(f *cmdutil.Factory, got *any) *cobra.Command {
	return NewCmdPrune(f, func(_ context.Context, o *PruneOptions) error { *got = o; return nil })
}
func newVerify(f *cmdutil.Factory, got *any) *cobra.Command {
	return NewCmdVerify(f, func(_ context.Context, o *VerifyOptions) error { *got = o; return nil })
}
func newStatus(f *cmdutil.Factory, got *any) *cobra.Command {
	return NewCmdStatus(f, func(_ context.Context, o *StatusOptions) error { *got = o; return nil })
}
func newList(f *cmdutil.Factory, got *any) *cobra.Command {
	return NewCmdList(f, func(_ context.Context, o *ListOptions) error { *got = o; return nil })
}

var idRE = regexp.MustCompile(`20260128-0[0-9]{5}-[0-9a-f]{8}`)

// normalize replaces backup ids with ID and the repository path with REPO.
func normalize(s, repo string) string {
	return strings.ReplaceAll(idRE.ReplaceAllString(s, "ID"), repo, "REPO")
}

// TestDirBackupLifecycle runs create, list, status, verify, restore and
// prune on a directory, checking stdout and stderr exactly.
func TestDirBackupLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "f.txt"), []byte("hello"), 0o640); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "repo")
	cfg := testConfig(t, nil)

	ios, _, out, errOut := iostreams.Test()
	err := createRun(ctx, &CreateOptions{IO: ios, Config: cfg, Now: fixedClock(testNow), Repo: repo, Dirs: []string{"data=" + data}, IncludeConfig: true, Tags: []string{"nightly"}, Output: "text"})
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out.String())
	if !backup.ValidID(id) {
		t.Fatalf("stdout = %q, want the id", out)
	}
	stderr := regexp.MustCompile(`in [0-9.]+m?s\n`).ReplaceAllString(normalize(errOut.String(), repo), "in T\n")
	stderr = regexp.MustCompile(`[0-9.]+ (B|KiB)`).ReplaceAllString(stderr, "N")
	want := "✓ dir-data: N from " + data + "\n✓ config: N from profile local\n✓ Backup ID written and checked: 2 parts, N, in T\n"
	if stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}

	// Quiet prints nothing at all on success.
	ios, _, out, errOut = iostreams.Test()
	err = createRun(ctx, &CreateOptions{IO: ios, Config: cfg, Now: fixedClock(testNow.Add(time.Hour)), Repo: repo, Dirs: []string{"data=" + data}, Output: "text", Quiet: true})
	if err != nil || out.Len()+errOut.Len() != 0 {
		t.Errorf("quiet create: %v, stdout %q stderr %q", err, out, errOut)
	}

	ios, _, out, errOut = iostreams.Test()
	if err := listRun(ctx, &ListOptions{IO: ios, Repo: repo, Output: "text"}); err != nil {
		t.Fatal(err)
	}
	wantList := "ID\t2026-01-28T03:00:00Z\tdir-data\tSIZE\t\tok (checksums)\t2026-01-28T03:00:00Z\n" +
		"ID\t2026-01-28T02:00:00Z\tdir-data,config\tSIZE\tnightly\tok (checksums)\t2026-01-28T02:00:00Z\n"
	if got := regexp.MustCompile(`\t[0-9]+\t`).ReplaceAllString(normalize(out.String(), repo), "\tSIZE\t"); got != wantList || errOut.Len() != 0 {
		t.Errorf("list:\n%s\nwant:\n%s\nstderr %q", got, wantList, errOut)
	}
	ios, _, out, _ = iostreams.Test()
	if err := listRun(ctx, &ListOptions{IO: ios, Repo: repo, Output: "json"}); err != nil {
		t.Fatal(err)
	}
	var list []setJSON
	if err := json.Unmarshal(out.Bytes(), &list); err != nil || len(list) != 2 || list[1].ID != id || list[1].Tags[0] != "nightly" || !list[1].Verified.OK || list[1].Profile != "local" {
		t.Fatalf("list -o json: %v %s", err, out)
	}

	ios, _, out, errOut = iostreams.Test()
	err = statusRun(ctx, &StatusOptions{IO: ios, Now: fixedClock(testNow.Add(5 * time.Hour)), Repo: repo, MaxAge: 26 * time.Hour, Output: "text"})
	if err != nil || normalize(out.String(), repo) != "ID\t2026-01-28T03:00:00Z\t4h0m0s\n" || errOut.String() != "✓ newest good backup "+list[0].ID+" is 4h0m0s old\n" {
		t.Errorf("status: %v, stdout %q stderr %q", err, out, errOut)
	}
	ios, _, out, _ = iostreams.Test()
	err = statusRun(ctx, &StatusOptions{IO: ios, Now: fixedClock(testNow.Add(30 * time.Hour)), Repo: repo, MaxAge: 26 * time.Hour, Output: "json"})
	var st statusJSON
	if cmdutil.ExitCode(err) != 1 || !strings.Contains(err.Error(), "is 29h0m0s old: older than --max-age 26h0m0s") || json.Unmarshal(out.Bytes(), &st) != nil || st.OK || st.AgeSeconds != 29*3600 {
		t.Errorf("status too old: %v (exit %d), %s", err, cmdutil.ExitCode(err), out)
	}

	ios, _, out, errOut = iostreams.Test()
	if err := verifyRun(ctx, &VerifyOptions{IO: ios, Now: fixedClock(testNow), Repo: repo, ID: id[:15], Output: "text"}); err != nil {
		t.Fatal(err)
	}
	if got := normalize(out.String(), repo); got != "ID\tdir-data\tcontents\tok\nID\tconfig\tcontents\tok\n" || errOut.String() != "✓ 1 backup(s) verified\n" {
		t.Errorf("verify: stdout %q stderr %q", got, errOut)
	}

	target := filepath.Join(t.TempDir(), "restored")
	cfgFile := filepath.Join(t.TempDir(), "tars.yaml")
	ios, _, out, errOut = iostreams.Test()
	err = restoreRun(ctx, &RestoreOptions{IO: ios, Config: cfg, Repo: repo, ID: id, Dirs: []string{"data=" + target}, ConfigTo: cfgFile, Yes: true, Output: "text"})
	if err != nil {
		t.Fatal(err)
	}
	if got := errOut.String(); got != "✓ Restored dir-data into "+target+": 2 files and directories\n✓ Restored config into "+cfgFile+": "+fileSize(t, cfgFile)+" bytes\n" || out.Len() != 0 {
		t.Errorf("restore: stdout %q stderr %q", out, got)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "f.txt")); string(b) != "hello" {
		t.Errorf("restored f.txt = %q", b)
	}
	// Again: the target is no longer empty.
	ios, _, _, _ = iostreams.Test()
	err = restoreRun(ctx, &RestoreOptions{IO: ios, Config: cfg, Repo: repo, ID: id, Dirs: []string{"data=" + target}, Yes: true})
	if cmdutil.ExitCode(err) != 1 || !errors.Is(err, backup.ErrTargetNotEmpty) || !slicesContain(cmdutil.Hints(err), "pass --force") {
		t.Errorf("restore into a full target: %v (exit %d)", err, cmdutil.ExitCode(err))
	}
	ios, _, _, _ = iostreams.Test()
	err = restoreRun(ctx, &RestoreOptions{IO: ios, Config: cfg, Repo: repo, ID: id, Dirs: []string{"nope=" + target}, Yes: true})
	if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "has no part dir-nope; it has dir-data, config") {
		t.Errorf("restore of a missing part: %v", err)
	}

	ios, _, out, _ = iostreams.Test()
	err = pruneRun(ctx, &PruneOptions{IO: ios, Now: fixedClock(testNow), Location: time.UTC, Repo: repo, Policy: backup.Policy{Last: 1}, Output: "text"})
	if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "removing 1 of 2 backups needs --yes") ||
		strings.Join(cmdutil.Hints(err), "; ") != "pass --yes to confirm without a terminal; --dry-run only prints the plan" {
		t.Errorf("prune without --yes: %v (hints %q)", err, cmdutil.Hints(err))
	}
	if got := normalize(out.String(), repo); got != "ID\t2026-01-28T03:00:00Z\tkeep\tlast, newest verified\nID\t2026-01-28T02:00:00Z\tremove\t\n" {
		t.Errorf("prune plan:\n%s", got)
	}
	ios, _, _, errOut = iostreams.Test()
	if err := pruneRun(ctx, &PruneOptions{IO: ios, Location: time.UTC, Repo: repo, Policy: backup.Policy{Last: 1}, Yes: true}); err != nil {
		t.Fatal(err)
	}
	if errOut.String() != "✓ Removed 1 backup(s); 1 kept\n" {
		t.Errorf("prune stderr %q", errOut)
	}
	ios, _, _, _ = iostreams.Test()
	err = restoreRun(ctx, &RestoreOptions{IO: ios, Repo: repo, ID: id, Dirs: []string{"data=" + target}, Yes: true})
	if cmdutil.ExitCode(err) != 2 || !errors.Is(err, backup.ErrSetNotFound) || !slicesContain(cmdutil.Hints(err), "tarsctl backup list --repo "+repo) {
		t.Errorf("restore of a pruned backup: %v", err)
	}
}

func fileSize(t *testing.T, path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(fi.Size(), 10)
}

func slicesContain(hints []string, sub string) bool {
	for _, h := range hints {
		if strings.Contains(h, sub) {
			return true
		}
	}
	return false
}

// TestDamagedBackupCLI: a flipped byte makes verify and status fail with
// exit 1 and a one-line reason, and restore refuse.
func TestDamagedBackupCLI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "f.txt"), []byte(strings.Repeat("data ", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "repo")
	ios, _, out, _ := iostreams.Test()
	if err := createRun(ctx, &CreateOptions{IO: ios, Config: testConfig(t, nil), Repo: repo, Dirs: []string{"data=" + data}, Output: "json"}); err != nil {
		t.Fatal(err)
	}
	var sum createSummary
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Type != "summary" || len(sum.Parts) != 1 {
		t.Fatalf("create -o json last line: %v %s", err, out)
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, `{"type":"status"`) {
			t.Errorf("create -o json line %q is not a status line", l)
		}
	}
	part := filepath.Join(repo, "sets", sum.ID, sum.Parts[0].File)
	b, _ := os.ReadFile(part)
	b[len(b)/2] ^= 1
	if err := os.WriteFile(part, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ios, _, out, _ = iostreams.Test()
	err := verifyRun(ctx, &VerifyOptions{IO: ios, Repo: repo, All: true, Output: "json"})
	if cmdutil.ExitCode(err) != 1 || !strings.Contains(err.Error(), "1 of 1 backups failed verification; "+sum.ID+": part dir-data: checksum mismatch") || strings.Contains(err.Error(), "\n") {
		t.Errorf("verify: %v (exit %d)", err, cmdutil.ExitCode(err))
	}
	if !strings.Contains(out.String(), `{"type":"summary","checked":1,"failed":1}`) {
		t.Errorf("verify -o json:\n%s", out)
	}
	ios, _, _, _ = iostreams.Test()
	if err := statusRun(ctx, &StatusOptions{IO: ios, Repo: repo}); cmdutil.ExitCode(err) != 1 || !strings.Contains(err.Error(), "no good backup") {
		t.Errorf("status: %v", err)
	}
	target := filepath.Join(t.TempDir(), "r")
	ios, _, _, _ = iostreams.Test()
	err = restoreRun(ctx, &RestoreOptions{IO: ios, Repo: repo, ID: "latest", Dirs: []string{"data=" + target}, Yes: true})
	if cmdutil.ExitCode(err) != 1 || !errors.Is(err, backup.ErrChecksum) || !strings.Contains(err.Error(), "refusing to restore") {
		t.Errorf("restore: %v", err)
	}
	if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a refused restore created the target")
	}
}

func TestEncryptedCLI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "backup.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(dir, "repo")
	// encryption.enabled in the profile turns --encrypt on; key_file is the key.
	cfg := testConfig(t, func(c *config.Config) {
		c.Encryption.Enabled = true
		c.Encryption.KeyFile = keyFile
		c.Redis.Password = "literal-redis-secret"
	})
	ios, _, _, _ := iostreams.Test()
	if err := createRun(ctx, &CreateOptions{IO: ios, Config: cfg, Repo: repo, IncludeConfig: true, IncludeSecrets: true}); err != nil {
		t.Fatal(err)
	}
	r, _ := backup.Open(repo)
	s, _ := r.Find("latest")
	if s.Manifest.Encryption == nil || !strings.HasSuffix(s.Manifest.Parts[0].File, ".enc") {
		t.Fatalf("not encrypted: %+v", s.Manifest)
	}
	raw, _ := os.ReadFile(filepath.Join(s.Path, s.Manifest.Parts[0].File))
	if strings.Contains(string(raw), "literal-redis-secret") {
		t.Error("the secret is readable in the encrypted part")
	}
	out := filepath.Join(dir, "restored.yaml")
	ios, _, _, _ = iostreams.Test()
	if err := restoreRun(ctx, &RestoreOptions{IO: ios, Config: cfg, Repo: repo, ID: "latest", ConfigTo: out, Yes: true}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "password: literal-redis-secret") {
		t.Errorf("--include-secrets did not keep the secret:\n%s", b)
	}
	// Without the key: a usage error naming the key id.
	ios, _, _, _ = iostreams.Test()
	noKey := testConfig(t, nil)
	err := restoreRun(ctx, &RestoreOptions{IO: ios, Config: noKey, Repo: repo, ID: "latest", ConfigTo: filepath.Join(dir, "x.yaml"), Yes: true})
	if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), s.Manifest.Encryption.KeyID) {
		t.Errorf("restore without the key: %v", err)
	}
	// --include-secrets without encryption is refused.
	ios, _, _, _ = iostreams.Test()
	err = createRun(ctx, &CreateOptions{IO: ios, Config: noKey, Repo: repo, IncludeConfig: true, IncludeSecrets: true})
	if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "never written unencrypted") {
		t.Errorf("secrets without encryption: %v", err)
	}
}

// TestServersCLI backs up real PostgreSQL and Redis through the profile's
// settings and restores them elsewhere with --set-style overrides.
func TestServersCLI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := testenv.SharedPostgres(t)
	db := pg.CreateDB(t)
	conn, err := pgx.Connect(ctx, pg.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 1000) g"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	rs := testenv.Redis(t)
	rc := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rc.Close()
	if err := rc.Set(ctx, "session:1", "x", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	setServers := func(dbName string, redisDB int) ConfigFunc {
		return testConfig(t, func(c *config.Config) {
			c.Database.Driver, c.Database.Host, c.Database.Port, c.Database.Name, c.Database.User, c.Database.SSLMode =
				"postgres", pg.Host, pg.Port, dbName, pg.User, "disable"
			c.Redis.Enabled, c.Redis.Mode, c.Redis.Host, c.Redis.Port, c.Redis.DB = true, "standalone", "127.0.0.1", rs.Port, redisDB
		})
	}
	repo := filepath.Join(t.TempDir(), "repo")
	ios, _, out, errOut := iostreams.Test()
	if err := createRun(ctx, &CreateOptions{IO: ios, Config: setServers(db, 0), Repo: repo, All: true, Format: "custom", Output: "text"}); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	for _, want := range []string{"✓ postgres: ", "✓ redis-rdb: ", "✓ redis-keys: ", "✓ config: "} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	id := strings.TrimSpace(out.String())

	drill := pg.CreateDB(t)
	ios, _, _, errOut = iostreams.Test()
	if err := restoreRun(ctx, &RestoreOptions{IO: ios, Config: setServers(drill, 7), Repo: repo, ID: id, Postgres: true, Redis: true, Yes: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "✓ Restored postgres into postgres://postgres@"+net.JoinHostPort(pg.Host, strconv.Itoa(pg.Port))+"/"+drill+"?sslmode=disable: 1 tables") ||
		!strings.Contains(errOut.String(), "✓ Restored redis-keys into redis://127.0.0.1:"+strconv.Itoa(rs.Port)+"/7: 1 keys") {
		t.Errorf("restore stderr:\n%s", errOut)
	}
	c2, err := pgx.Connect(ctx, pg.URL(drill))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	var n int
	if err := c2.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1000 {
		t.Errorf("restored rows: %d, %v", n, err)
	}
	r7 := redis.NewClient(&redis.Options{Addr: rs.Addr, DB: 7})
	defer r7.Close()
	if ttl, _ := r7.TTL(ctx, "session:1").Result(); ttl < 59*time.Minute {
		t.Errorf("restored TTL %v", ttl)
	}

	// An unreachable server is exit 3 with a hint; a SQLite profile is a
	// usage error that says where the data is.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	down := testConfig(t, func(c *config.Config) {
		c.Database.Driver, c.Database.Host, c.Database.Port, c.Database.Name, c.Database.User = "postgres", "127.0.0.1", port, "tars", "tars"
	})
	ios, _, _, _ = iostreams.Test()
	err = createRun(ctx, &CreateOptions{IO: ios, Config: down, Repo: repo, Postgres: true})
	if cmdutil.ExitCode(err) != 3 || !errors.Is(err, backup.ErrUnreachable) || len(cmdutil.Hints(err)) == 0 {
		t.Errorf("unreachable: %v (exit %d)", err, cmdutil.ExitCode(err))
	}
	ios, _, _, _ = iostreams.Test()
	err = createRun(ctx, &CreateOptions{IO: ios, Config: testConfig(t, nil), Repo: repo, Postgres: true})
	if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "database.driver is sqlite") {
		t.Errorf("sqlite: %v", err)
	}
}

// TestExplain checks the exit code and hint each domain error gets.
func TestExplain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		code int
		hint string
	}{
		{fmt.Errorf("x: %w", backup.ErrToolMissing), 3, ""},
		{fmt.Errorf("x: %w", backup.ErrUnreachable), 3, "check that the server runs"},
		{fmt.Errorf("x: %w", backup.ErrAuth), 4, "password"},
		{&backup.LockedError{Repo: "r", Holder: &backup.LockInfo{PID: 42, Host: "h", Operation: "create"}}, 1, "kill 42"},
		{fmt.Errorf("x: %w", backup.ErrNotRepository), 2, "check --repo"},
		{fmt.Errorf("x: %w", backup.ErrSetNotFound), 2, "backup list"},
		{fmt.Errorf("x: %w", backup.ErrKeyRequired), 2, "--key FILE"},
		{fmt.Errorf("x: %w", backup.ErrTargetNotEmpty), 1, "--force"},
		{fmt.Errorf("x: %w", backup.ErrChecksum), 1, "damaged"},
		{fmt.Errorf("x: %w", backup.ErrUnsafeArchive), 1, "damaged"},
		{&backup.ToolError{Tool: "pg_dump", Err: errors.New("exit status 1")}, 1, ""},
	}
	for _, tt := range tests {
		got := explain(tt.err, "REPO")
		if cmdutil.ExitCode(got) != tt.code || (tt.hint != "" && !slicesContain(cmdutil.Hints(got), tt.hint)) || got.Error() != tt.err.Error() {
			t.Errorf("explain(%v) = %v, exit %d, hints %v; want exit %d, hint %q", tt.err, got, cmdutil.ExitCode(got), cmdutil.Hints(got), tt.code, tt.hint)
		}
	}
}
