package dashboardapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/store"
)

// File names in the secrets directory.
const (
	JWTSecretFile     = "jwt_secret"
	AdminPasswordFile = "admin_password"
)

// ErrNoJWTSecret: no JWT secret is configured on a profile that may not
// generate one.
var ErrNoJWTSecret = errors.New("no JWT secret configured")

// SecretSource says where the JWT secret came from, for the start-up log
// (never the secret).
type SecretSource string

// JWTSecret finds the JWT secret: auth.jwt_secret (a literal, file:PATH or
// env:NAME), then auth.jwt_secret_file, then $TARS_JWT_SECRET. On the
// local profile, with none of those, it generates one into the secrets
// directory (0600) on first start and reuses it after, so a fresh machine
// needs no setup; anywhere else that is an [ErrNoJWTSecret] error.
//
// A secret kept in a file may have previous secrets next to it
// (FILE.previous, written by `tarsctl secrets rotate jwt --grace`): those
// still in their grace period are registered with [auth.SetPreviousKeys],
// so every signer of the process built from the secret also verifies
// tokens they signed, until each one's grace period ends. Expired ones are
// dropped from the file, and their material destroyed, on the way.
func JWTSecret(cfg *config.Config, getenv func(string) string) ([]byte, SecretSource, error) {
	secret, source, path, err := jwtSecretFrom(cfg, getenv)
	if err != nil || path == "" {
		return secret, source, err
	}
	now := time.Now()
	prev, err := auth.LoadPrevious(path, now)
	if err != nil {
		return nil, "", err
	}
	auth.SetPreviousKeys(secret, auth.VerifyKeys(prev, now))
	return secret, source, nil
}

// jwtSecretFrom is [JWTSecret] without the previous secrets; path is the
// file the secret came from, "" when it came from the configuration or the
// environment.
func jwtSecretFrom(cfg *config.Config, getenv func(string) string) (secret []byte, source SecretSource, path string, err error) {
	switch {
	case cfg.Auth.JWTSecret.IsSet():
		v, err := cfg.Auth.JWTSecret.Resolve(getenv)
		if err != nil {
			return nil, "", "", fmt.Errorf("auth.jwt_secret: %w", err)
		}
		return []byte(v), "auth.jwt_secret", "", nil
	case cfg.Auth.JWTSecretFile != "":
		b, err := os.ReadFile(cfg.Auth.JWTSecretFile)
		if err != nil {
			return nil, "", "", fmt.Errorf("auth.jwt_secret_file: %w", err)
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), SecretSource("file " + cfg.Auth.JWTSecretFile), cfg.Auth.JWTSecretFile, nil
	case getenv("TARS_JWT_SECRET") != "":
		return []byte(getenv("TARS_JWT_SECRET")), "env TARS_JWT_SECRET", "", nil
	case cfg.Environment != "local":
		return nil, "", "", fmt.Errorf("%w for the %s profile: set auth.jwt_secret_file, TARS_JWT_SECRET, or auth.jwt_secret (file:PATH or env:NAME); `tarsctl secrets generate` makes one", ErrNoJWTSecret, cfg.Environment)
	}
	path = filepath.Join(cfg.Paths.SecretsDirPath(), JWTSecretFile)
	b, err := os.ReadFile(path)
	if err == nil {
		return []byte(strings.TrimRight(string(b), "\r\n")), SecretSource("file " + path), path, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", "", fmt.Errorf("read generated JWT secret: %w", err)
	}
	generated := randomString(32)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", "", fmt.Errorf("create secrets directory: %w", err)
	}
	err = atomicfile.WriteFile(path, []byte(generated+"\n"), atomicfile.Options{Perm: 0o600, NoOverwrite: true})
	if errors.Is(err, atomicfile.ErrExists) {
		// Another daemon generated it first: use theirs.
		return jwtSecretFrom(cfg, getenv)
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("write generated JWT secret: %w", err)
	}
	return []byte(generated), SecretSource("generated " + path), path, nil
}

// EnsureAdmin creates the user "admin" with a random password when the
// user store is empty, writing the password 0600 into the secrets
// directory. It returns the file's path when it created the account.
func EnsureAdmin(ctx context.Context, users Users, secretsDir string) (string, error) {
	n, err := users.CountUsers(ctx)
	if err != nil {
		return "", fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	password := randomString(18)
	hash, err := store.HashPassword(password)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(secretsDir, 0o700); err != nil {
		return "", fmt.Errorf("create secrets directory: %w", err)
	}
	path := filepath.Join(secretsDir, AdminPasswordFile)
	// The file first: an account whose password was never written down is
	// an account nobody can use.
	if err := atomicfile.WriteFile(path, []byte(password+"\n"), atomicfile.Options{Perm: 0o600}); err != nil {
		return "", fmt.Errorf("write initial admin password: %w", err)
	}
	err = users.CreateUser(ctx, store.User{Username: "admin", PasswordHash: hash, Role: store.RoleAdmin})
	if err != nil {
		// Our password is not the admin's: do not leave it lying about. (If
		// another process created admin at the same moment, ErrExists.)
		_ = os.Remove(path)
		if errors.Is(err, store.ErrExists) {
			return "", nil
		}
		return "", fmt.Errorf("create initial admin user: %w", err)
	}
	return path, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
