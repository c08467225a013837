package serviceapi

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/secrets"
	"github.com/tars-ops/tarsctl/internal/services/daemontest"
	"github.com/tars-ops/tarsctl/internal/store"
)

func TestJWTSecretSources(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }

	cfg := daemontest.Config(t, nil)
	s1, src, err := JWTSecret(cfg, noEnv)
	if err != nil || len(s1) < 32 || !strings.HasPrefix(string(src), "generated ") {
		t.Fatalf("local first start: %d bytes from %q, %v", len(s1), src, err)
	}
	path := filepath.Join(cfg.Paths.SecretsDirPath(), secrets.JWTSecretFile)
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

	prod := daemontest.Config(t, func(c *config.Config) { c.Environment = "production" })
	if _, _, err := JWTSecret(prod, noEnv); !errors.Is(err, ErrNoJWTSecret) || !strings.Contains(err.Error(), "TARS_JWT_SECRET") {
		t.Errorf("production without a secret: %v", err)
	}
}

// TestJWTSecretPreviousKeys: JWTSecret registers the previous secrets in
// their grace period for every signer of the secret, and drops expired
// ones from the file.
func TestJWTSecretPreviousKeys(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	cfg := daemontest.Config(t, nil)
	file := filepath.Join(t.TempDir(), "jwt")
	cfg.Auth.JWTSecretFile = file
	current := []byte("jwtsecret-previous-keys-test-current")
	if err := os.WriteFile(file, append(current, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	inGrace := []byte("jwtsecret-previous-keys-test-in-grace")
	expired := []byte("jwtsecret-previous-keys-test-expired!")
	now := time.Now()
	if err := auth.WritePrevious(file+auth.PreviousSuffix, []auth.PreviousSecret{
		{Secret: inGrace, ReplacedAt: now, VerifyUntil: now.Add(time.Hour)},
		{Secret: expired, ReplacedAt: now.Add(-2 * time.Hour), VerifyUntil: now.Add(-time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	secret, _, err := JWTSecret(cfg, noEnv)
	if err != nil || string(secret) != string(current) {
		t.Fatalf("JWTSecret: %q %v", secret, err)
	}
	// What orchestrator and hypersync do: a signer from the secret alone.
	s, _ := auth.NewSigner(secret, time.Hour, nil)
	for name, key := range map[string][]byte{"in grace": inGrace, "expired": expired} {
		other, _ := auth.NewSigner(key, time.Hour, nil)
		tok, _, _ := other.Issue("alice", store.RoleViewer)
		_, err := s.Verify(tok)
		if (err == nil) != (name == "in grace") {
			t.Errorf("token of the %s secret: %v", name, err)
		}
	}
	prev, err := auth.ReadPrevious(file + auth.PreviousSuffix)
	if err != nil || len(prev) != 1 || string(prev[0].Secret) != string(inGrace) {
		t.Errorf("previous file after start: %d entries, %v", len(prev), err)
	}
}

// TestServiceTokens: a service token verifies with the shared secret, as
// service:NAME with the role, and lives ServiceTokenTTL.
func TestServiceTokens(t *testing.T) {
	t.Parallel()
	secret := []byte("service-tokens-test-secret-0123456789")
	ts, err := ServiceTokens(secret, "hypersync", store.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := auth.NewSigner(secret, time.Hour, nil)
	c, err := s.Verify(tok)
	if err != nil || c.Username != "service:hypersync" || c.Role != store.RoleOperator {
		t.Fatalf("claims %+v, %v", c, err)
	}
	if left := time.Until(c.Expires); left > ServiceTokenTTL || left < ServiceTokenTTL-time.Minute {
		t.Errorf("token lives %s, want %s", left, ServiceTokenTTL)
	}
	if again, _ := ts(t.Context()); again == tok {
		t.Error("the same token twice: want a fresh one per request")
	}
	if _, err := ServiceTokens([]byte("short"), "x", store.RoleViewer); err == nil {
		t.Error("a short secret was accepted")
	}
}

// TestLoadJWT: the signer comes with the secret's source, and a short
// secret is an error naming where it came from, never the secret.
func TestLoadJWT(t *testing.T) {
	t.Parallel()
	cfg := daemontest.Config(t, nil)
	j, err := LoadJWT(cfg, daemontest.Getenv([]byte("load-jwt-test-secret-0123456789abcdef")))
	if err != nil || j.Source != "env TARS_JWT_SECRET" || j.Signer == nil {
		t.Fatalf("LoadJWT = %+v, %v", j, err)
	}
	_, err = LoadJWT(cfg, daemontest.Getenv([]byte("too-short-secret")))
	if err == nil || !strings.Contains(err.Error(), "env TARS_JWT_SECRET") || strings.Contains(err.Error(), "too-short-secret") {
		t.Errorf("short secret: %v", err)
	}
}
