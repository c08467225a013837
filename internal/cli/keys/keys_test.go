package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/keys"
)

func testFactory(ios *iostreams.IOStreams, cfg *config.Config) *cmdutil.Factory {
	return &cmdutil.Factory{
		IOStreams: ios,
		Globals:   &cmdutil.GlobalFlags{Output: cmdutil.OutputText},
		Now:       func() time.Time { return time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC) },
		Config:    func() (*config.Config, error) { return cfg, nil },
	}
}

func TestNewCmdRotateAES(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    string
		tty     bool
		want    RotateAESOptions
		wantErr string
	}{
		{name: "full", args: "--old-key a --new-key b --data-dir d --yes --retire-old --no-restart --workers 2",
			want: RotateAESOptions{OldKey: "a", NewKey: "b", DataDir: "d", Yes: true, RetireOld: true, NoRestart: true, Workers: 2}},
		{name: "dry run needs no --yes", args: "--old-key a --new-key b --dry-run", want: RotateAESOptions{OldKey: "a", NewKey: "b", DryRun: true}},
		{name: "tty needs no --yes", args: "--old-key a --new-key b", tty: true, want: RotateAESOptions{OldKey: "a", NewKey: "b"}},
		{name: "no yes without tty", args: "--old-key a --new-key b", wantErr: "needs --yes"},
		{name: "keys required", args: "--old-key a --yes", wantErr: "--old-key and --new-key are required"},
		{name: "retire with dry run", args: "--old-key a --new-key b --dry-run --retire-old", wantErr: "cannot be used together"},
		{name: "no args", args: "--old-key a --new-key b --yes extra", wantErr: "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			ios.SetStdinTTY(tt.tty)
			ios.SetStdoutTTY(tt.tty)
			ios.SetStderrTTY(tt.tty)
			var got *RotateAESOptions
			cmd := NewCmdRotateAES(testFactory(ios, nil), func(_ context.Context, o *RotateAESOptions) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tt.args))
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || cmdutil.ExitCode(err) != 2 {
					t.Fatalf("err = %v, want %q (exit 2)", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := *got
			if got.ReloadTimeout != time.Minute {
				t.Errorf("--reload-timeout default %s", got.ReloadTimeout)
			}
			g.IO, g.Config, g.Output, g.ReloadTimeout = nil, nil, "", 0
			if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("opts = %+v, want %+v", g, tt.want)
			}
		})
	}
}

// setup makes a data dir with n files sealed by a fresh old key and returns
// the paths of the old and new key files.
func setup(t *testing.T, n int) (dataDir, oldPath, newPath string) {
	t.Helper()
	dataDir, keyDir := t.TempDir(), t.TempDir()
	oldPath, newPath = filepath.Join(keyDir, "aes.key"), filepath.Join(keyDir, "aes-new.key")
	if _, err := keys.GenerateAES(oldPath, false); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.GenerateAES(newPath, false); err != nil {
		t.Fatal(err)
	}
	old, _ := keys.LoadAESKey(oldPath)
	for i := range n {
		in := filepath.Join(t.TempDir(), "plain")
		_ = os.WriteFile(in, bytes.Repeat([]byte{byte(i)}, 1000*i), 0o600)
		if err := keys.EncryptFile(old, in, filepath.Join(dataDir, "ckpt-"+string(rune('a'+i))), false); err != nil {
			t.Fatal(err)
		}
	}
	return dataDir, oldPath, newPath
}

func dirDigest(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		b.WriteString(e.Name() + ":" + crypto.KeyID(data) + ";")
	}
	return b.String()
}

func Test_rotateAESRun(t *testing.T) {
	t.Parallel()
	t.Run("rotates and resumes", func(t *testing.T) {
		t.Parallel()
		dataDir, oldPath, newPath := setup(t, 5)
		ios, _, out, errOut := iostreams.Test()
		err := rotateAESRun(context.Background(), &RotateAESOptions{IO: ios, OldKey: oldPath, NewKey: newPath, DataDir: dataDir, Yes: true, NoRestart: true, RetireOld: true})
		if err != nil {
			t.Fatal(err)
		}
		newID, _ := keys.FileKeyID(filepath.Join(dataDir, "ckpt-a"))
		key, _ := keys.LoadAESKey(newPath)
		if newID != crypto.KeyID(key) {
			t.Errorf("file sealed with %s", newID)
		}
		if !strings.Contains(out.String(), "rewritten\t5\nverified\t5\n") || !strings.Contains(errOut.String(), "✓ Retired old key") {
			t.Errorf("stdout %q stderr %q", out, errOut)
		}
		if _, err := os.Stat(oldPath); !errors.Is(err, os.ErrNotExist) {
			t.Error("old key not retired")
		}
	})
	t.Run("dry run json", func(t *testing.T) {
		t.Parallel()
		dataDir, oldPath, newPath := setup(t, 3)
		before := dirDigest(t, dataDir)
		ios, _, out, _ := iostreams.Test()
		if err := rotateAESRun(context.Background(), &RotateAESOptions{IO: ios, OldKey: oldPath, NewKey: newPath, DataDir: dataDir, DryRun: true, Output: "json", NoRestart: true}); err != nil {
			t.Fatal(err)
		}
		var plan struct {
			ToMigrate int  `json:"to_migrate"`
			DryRun    bool `json:"dry_run"`
		}
		if err := json.Unmarshal(out.Bytes(), &plan); err != nil || plan.ToMigrate != 3 || !plan.DryRun {
			t.Errorf("plan %s: %v", out, err)
		}
		if dirDigest(t, dataDir) != before {
			t.Error("dry run modified the data dir")
		}
	})
	bad := []struct {
		name    string
		prepare func(t *testing.T, oldPath, newPath string) (string, string)
		want    string
	}{
		{"old key readable by others", func(t *testing.T, o, n string) (string, string) { _ = os.Chmod(o, 0o644); return o, n }, "accessible to other users"},
		{"new key wrong length", func(t *testing.T, o, n string) (string, string) {
			_ = os.WriteFile(n, []byte("0123abcd\n"), 0o600)
			return o, n
		}, "want 64 hex digits"},
		{"missing key file", func(t *testing.T, o, n string) (string, string) { return o, n + ".missing" }, "no such file"},
		{"wrong old key", func(t *testing.T, o, n string) (string, string) {
			other := filepath.Join(t.TempDir(), "other.key")
			_, _ = keys.GenerateAES(other, false)
			return other, n
		}, "sealed with neither the old key"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dataDir, oldPath, newPath := setup(t, 3)
			o, n := tt.prepare(t, oldPath, newPath)
			before := dirDigest(t, dataDir)
			ios, _, out, _ := iostreams.Test()
			err := rotateAESRun(context.Background(), &RotateAESOptions{IO: ios, OldKey: o, NewKey: n, DataDir: dataDir, Yes: true, NoRestart: true})
			if err == nil || !strings.Contains(err.Error(), tt.want) || cmdutil.ExitCode(err) != 2 {
				t.Fatalf("err = %v (exit %d), want %q and exit 2", err, cmdutil.ExitCode(err), tt.want)
			}
			if dirDigest(t, dataDir) != before || out.Len() != 0 {
				t.Error("data dir modified or output written")
			}
			if _, err := os.Stat(filepath.Join(dataDir, keys.JournalName)); err == nil {
				t.Error("journal written")
			}
		})
	}
	t.Run("leaves daemons alone for data they do not serve", func(t *testing.T) {
		t.Parallel()
		dataDir, oldPath, newPath := setup(t, 1)
		cfg := &config.Config{}
		cfg.Paths.Home = t.TempDir()
		ios, _, _, _ := iostreams.Test()
		err := rotateAESRun(context.Background(), &RotateAESOptions{IO: ios, Config: func() (*config.Config, error) { return cfg, nil }, OldKey: oldPath, NewKey: newPath, DataDir: dataDir, Yes: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(keys.KeyringPath(cfg.Paths.DataDirPath())); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("keyring state written for data no daemon serves: %v", err)
		}
	})
}

func TestGenerateEncryptDecryptID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run := func(args ...string) (string, string, error) {
		ios, _, out, errOut := iostreams.Test()
		cmd := NewCmdKeys(testFactory(ios, nil))
		cmd.SetArgs(args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		return out.String(), errOut.String(), err
	}
	key := filepath.Join(dir, "aes.key")
	out, _, err := run("generate", "aes", "--out", key)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keys.LoadAESKey(key)
	if strings.TrimSpace(out) != crypto.KeyID(k) {
		t.Errorf("generate printed %q, want the key id", out)
	}
	if _, _, err := run("generate", "aes", "--out", key); cmdutil.ExitCode(err) != 1 || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrite: %v", err)
	}
	plain := filepath.Join(dir, "plain")
	_ = os.WriteFile(plain, []byte("checkpoint data"), 0o600)
	if _, _, err := run("encrypt", "--key", key, plain, plain+".enc"); err != nil {
		t.Fatal(err)
	}
	if out, _, err := run("id", plain+".enc"); err != nil || strings.TrimSpace(out) != crypto.KeyID(k) {
		t.Errorf("id: %q %v", out, err)
	}
	if out, _, err := run("id", "--key-file", key); err != nil || strings.TrimSpace(out) != crypto.KeyID(k) {
		t.Errorf("id --key-file: %q %v", out, err)
	}
	if _, _, err := run("decrypt", "--key", key, plain+".enc", plain+".out"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(plain + ".out"); string(b) != "checkpoint data" {
		t.Errorf("decrypted %q", b)
	}
	if _, _, err := run("id", plain); cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "not a tarsctl encrypted file") {
		t.Errorf("id of plaintext: %v", err)
	}
	if _, _, err := run("generate", "rsa", "--out", filepath.Join(dir, "rsa_private.pem"), "--bits", "1024"); cmdutil.ExitCode(err) != 2 {
		t.Errorf("1024 bits: %v", err)
	}
}

func Test_statusRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	fresh, due, old := filepath.Join(dir, "fresh.key"), filepath.Join(dir, "due.key"), filepath.Join(dir, "old.key")
	for p, age := range map[string]time.Duration{fresh: 24 * time.Hour, due: 80 * 24 * time.Hour, old: 100 * 24 * time.Hour} {
		if _, err := keys.GenerateAES(p, false); err != nil {
			t.Fatal(err)
		}
		_ = os.Chtimes(p, now.Add(-age), now.Add(-age))
	}
	run := func(files ...string) (string, string, error) {
		ios, _, out, errOut := iostreams.Test()
		err := statusRun(context.Background(), &StatusOptions{IO: ios, Now: func() time.Time { return now }, Files: files, WarnDays: 14, MaxDays: 90})
		return out.String(), errOut.String(), err
	}
	out, errOut, err := run(fresh, due)
	if err != nil {
		t.Fatalf("fresh and due: %v", err)
	}
	if !strings.Contains(out, "fresh.key\t") || !strings.Contains(out, "aes-256-gcm\t256\t1d\tok\t") || !strings.Contains(errOut, "due.key is 80 days old") {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
	_, errOut, err = run(fresh, old)
	if !errors.Is(err, cmdutil.ErrSilent) || !strings.Contains(errOut, "expired: older than 90 days") {
		t.Errorf("old key: %v %q", err, errOut)
	}
	if _, _, err := run(filepath.Join(dir, "missing")); !errors.Is(err, cmdutil.ErrSilent) {
		t.Errorf("missing: %v", err)
	}
}
