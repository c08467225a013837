package dashboardapi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/store"
)

func TestJWTSecretSources(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }

	cfg := testConfig(t, nil)
	s1, src, err := JWTSecret(cfg, noEnv)
	if err != nil || len(s1) < 32 || !strings.HasPrefix(string(src), "generated ") {
		t.Fatalf("local first start: %d bytes from %q, %v", len(s1), src, err)
	}
	path := filepath.Join(cfg.Paths.SecretsDirPath(), JWTSecretFile)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated secret file: %v %v", fi, err)
	}
	s2, _, _ := JWTSecret(cfg, noEnv)
	if string(s1) != string(s2) {
		t.Error("the generated secret was not reused on the next start")
	}

	env := func(k string) string {
		if k == "TARS_JWT_SECRET" {
			return "from-env-from-env-from-env-from-env"
		}
		return ""
	}
	if s, src, _ := JWTSecret(cfg, env); string(s) != env("TARS_JWT_SECRET") || src != "env TARS_JWT_SECRET" {
		t.Errorf("env: %q", src)
	}
	file := filepath.Join(t.TempDir(), "jwt")
	os.WriteFile(file, []byte("from-file-from-file-from-file-from\n"), 0o600)
	cfg.Auth.JWTSecretFile = file
	if s, _, _ := JWTSecret(cfg, env); string(s) != "from-file-from-file-from-file-from" {
		t.Errorf("file should beat env, got %q", s)
	}
	cfg.Auth.JWTSecret = config.Secret("file:" + file)
	if _, src, _ := JWTSecret(cfg, env); src != "auth.jwt_secret" {
		t.Errorf("auth.jwt_secret should win, got %q", src)
	}

	prod := testConfig(t, func(c *config.Config) { c.Environment = "production" })
	if _, _, err := JWTSecret(prod, noEnv); !errors.Is(err, ErrNoJWTSecret) || !strings.Contains(err.Error(), "TARS_JWT_SECRET") {
		t.Errorf("production without a secret: %v", err)
	}
}

func TestEnsureAdmin(t *testing.T) {
	t.Parallel()
	db := openDB(t, store.Options{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "tars.db")})
	dir := filepath.Join(t.TempDir(), "secrets")
	path, err := EnsureAdmin(context.Background(), db, dir)
	if err != nil || path == "" {
		t.Fatalf("EnsureAdmin = %q, %v", path, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("password file mode %v", fi.Mode().Perm())
	}
	pw, _ := os.ReadFile(path)
	u, err := db.GetUser(context.Background(), "admin")
	if err != nil || u.Role != store.RoleAdmin {
		t.Fatalf("admin = %+v, %v", u, err)
	}
	if ok, _ := store.CheckPassword(u.PasswordHash, strings.TrimSpace(string(pw))); !ok {
		t.Error("the written password does not match the account")
	}
	if path, err := EnsureAdmin(context.Background(), db, dir); path != "" || err != nil {
		t.Errorf("second start: %q, %v; want nothing done", path, err)
	}
}
