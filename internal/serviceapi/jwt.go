package serviceapi

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
	"github.com/tars-ops/tarsctl/internal/secrets"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// ErrNoJWTSecret: no JWT secret is configured on a profile that may not
// generate one.
var ErrNoJWTSecret = errors.New("no JWT secret configured")

// SecretSource says where the JWT secret came from, for the start-up log
// (never the secret).
type SecretSource string

// JWTSecret finds the JWT secret all daemons share: auth.jwt_secret (a
// literal, file:PATH or env:NAME), then auth.jwt_secret_file, then
// $TARS_JWT_SECRET. On the local profile, with none of those, it
// generates one into SECRETS_DIR/jwt_secret ([secrets.JWTSecretFile],
// 0600) on first start and reuses it after, so a fresh machine needs no
// setup; whichever daemon starts first writes it, and the others read it.
// Anywhere else that is an [ErrNoJWTSecret] error.
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
	path = filepath.Join(cfg.Paths.SecretsDirPath(), secrets.JWTSecretFile)
	b, err := os.ReadFile(path)
	if err == nil {
		return []byte(strings.TrimRight(string(b), "\r\n")), SecretSource("file " + path), path, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", "", fmt.Errorf("read generated JWT secret: %w", err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	generated := base64.RawURLEncoding.EncodeToString(raw)
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

// JWT is what a daemon verifies and signs tokens with.
type JWT struct {
	// Secret is the shared secret; it signs service tokens
	// ([ServiceTokens]). Never logged.
	Secret []byte
	Source SecretSource // for the start-up log
	// Signer issues access tokens of auth.jwt_expiry and verifies them,
	// with the previous secrets of a graceful rotation too.
	Signer *auth.Signer
}

// LoadJWT finds the JWT secret with [JWTSecret] and builds the signer of
// auth.jwt_expiry; a secret that is too short is an error naming where it
// came from.
func LoadJWT(cfg *config.Config, getenv func(string) string) (*JWT, error) {
	secret, source, err := JWTSecret(cfg, getenv)
	if err != nil {
		return nil, err
	}
	signer, err := auth.NewSigner(secret, time.Duration(cfg.Auth.JWTExpiry)*time.Second, nil)
	if err != nil {
		return nil, fmt.Errorf("JWT secret from %s: %w", source, err)
	}
	return &JWT{Secret: secret, Source: source, Signer: signer}, nil
}

// ServiceTokenTTL is the lifetime of the tokens daemons sign for each
// other: short, since one is made for every request.
const ServiceTokenTTL = 5 * time.Minute

// ServiceTokens returns a token source that signs a fresh token for every
// request, as subject "service:NAME" with role, using the JWT secret all
// daemons share. Daemons use it to call each other, and tarsctl, on the
// same machine, to call them.
func ServiceTokens(secret []byte, name, role string) (client.TokenSource, error) {
	signer, err := auth.NewSigner(secret, ServiceTokenTTL, nil)
	if err != nil {
		return nil, err
	}
	return func(context.Context) (string, error) {
		tok, _, err := signer.Issue("service:"+name, role)
		return tok, err
	}, nil
}
