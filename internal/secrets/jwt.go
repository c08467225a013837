package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
)

// PreviousSuffix names the file that keeps the secret a rotation replaced,
// for --rollback: jwt_secret → jwt_secret.previous.
const PreviousSuffix = ".previous"

// Errors of the JWT rotation.
var (
	// ErrSecretNotInFile means the JWT secret comes from the configuration
	// or the environment, which tarsctl does not rewrite.
	ErrSecretNotInFile = errors.New("the JWT secret is not kept in a file")
	// ErrNoPrevious means there is no previous secret to roll back to.
	ErrNoPrevious = errors.New("no previous JWT secret to roll back to")
	// ErrVerify is returned when a post-rotation check fails.
	ErrVerify = errors.New("verification failed")
)

// JWTSecretPath returns the file the dashboard API reads its JWT secret
// from, in the order dashboardapi.JWTSecret resolves it; the secret must
// come from a file (auth.jwt_secret_file, or the generated
// SECRETS_DIR/jwt_secret of the local profile).
func JWTSecretPath(cfg *config.Config, getenv func(string) string) (string, error) {
	switch {
	case cfg.Auth.JWTSecret.IsSet():
		return "", fmt.Errorf("%w: it is set by auth.jwt_secret; change it there", ErrSecretNotInFile)
	case cfg.Auth.JWTSecretFile != "":
		return cfg.Auth.JWTSecretFile, nil
	case getenv("TARS_JWT_SECRET") != "":
		return "", fmt.Errorf("%w: it is set by TARS_JWT_SECRET; change it there", ErrSecretNotInFile)
	}
	return filepath.Join(cfg.Paths.SecretsDirPath(), JWTSecretFile), nil
}

func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

func writeSecret(path string, v []byte) error {
	return atomicfile.WriteFile(path, append(bytes.Clone(v), '\n'), atomicfile.Options{Perm: 0o600})
}

// NewJWTSecret returns 32 random bytes in base64, as
// `openssl rand -base64 32`.
func NewJWTSecret() []byte { return []byte(base64.StdEncoding.EncodeToString(random(32))) }

// RotateJWTFile replaces the secret in path and keeps the one it replaces
// in path+[PreviousSuffix] (0600). With rollback it puts the previous
// secret back instead (and keeps the replaced one as previous, so a
// rollback can itself be undone). It returns the secret that was in force
// and the one that is now.
func RotateJWTFile(path string, rollback bool) (was, now []byte, err error) {
	was, err = readSecret(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("no JWT secret at %s (tarsctl secrets generate makes one): %w", path, err)
		}
		return nil, nil, fmt.Errorf("read JWT secret: %w", err)
	}
	if rollback {
		now, err = readSecret(path + PreviousSuffix)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: %s does not exist", ErrNoPrevious, path+PreviousSuffix)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read previous JWT secret: %w", err)
		}
	} else {
		now = NewJWTSecret()
	}
	// The old secret is saved before the new one lands, so a crash between
	// the two writes still leaves the way back.
	if err := writeSecret(path+PreviousSuffix, was); err != nil {
		return nil, nil, err
	}
	if err := writeSecret(path, now); err != nil {
		return nil, nil, err
	}
	return was, now, nil
}

// JWTCheck verifies a dashboard API after a JWT secret change.
type JWTCheck struct {
	BaseURL string // http://127.0.0.1:3001
	Client  *http.Client
	// Username and Password, when set, make the "new login works" check a
	// real POST /auth/login. Without them, the check uses a token signed
	// with the new secret.
	Username, Password string
	TTL                time.Duration
}

// TokenStatus returns the HTTP status of GET /api/me with token.
func (c JWTCheck) TokenStatus(ctx context.Context, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+"/api/me", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.client().Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (c JWTCheck) client() *http.Client {
	if c.Client != nil {
		return c.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// Mint returns a short-lived viewer token signed with secret.
func (c JWTCheck) Mint(secret []byte) (string, error) {
	ttl := c.TTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	s, err := auth.NewSigner(secret, ttl, nil)
	if err != nil {
		return "", err
	}
	tok, _, err := s.Issue("tarsctl-rotation-check", "viewer")
	return tok, err
}

// Login logs in with the check's credentials and returns the access token.
func (c JWTCheck) Login(ctx context.Context) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": c.Username, "password": c.Password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/auth/login", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: login as %s: HTTP %d", ErrVerify, c.Username, resp.StatusCode)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("%w: login as %s: no access token in the response", ErrVerify, c.Username)
	}
	return out.AccessToken, nil
}

// Before returns a token that the running daemon accepts now, under the
// secret in force: a real login with credentials, else a minted one. It
// fails if the daemon rejects it (for instance when authentication is off).
func (c JWTCheck) Before(ctx context.Context, secret []byte) (string, error) {
	var tok string
	var err error
	if c.Username != "" {
		tok, err = c.Login(ctx)
	} else {
		tok, err = c.Mint(secret)
	}
	if err != nil {
		return "", err
	}
	code, err := c.TokenStatus(ctx, tok)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("%w: before the rotation a valid token got HTTP %d from /api/me (is auth.enabled on?)", ErrVerify, code)
	}
	return tok, nil
}

// After checks that oldToken is now rejected with 401 and that a fresh
// login (or a token under the new secret) is accepted.
func (c JWTCheck) After(ctx context.Context, oldToken string, secret []byte) error {
	code, err := c.TokenStatus(ctx, oldToken)
	if err != nil {
		return err
	}
	if code != http.StatusUnauthorized {
		return fmt.Errorf("%w: a token issued before the rotation got HTTP %d, want 401", ErrVerify, code)
	}
	var tok string
	if c.Username != "" {
		tok, err = c.Login(ctx)
	} else {
		tok, err = c.Mint(secret)
	}
	if err != nil {
		return err
	}
	if code, err = c.TokenStatus(ctx, tok); err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("%w: a token issued after the rotation got HTTP %d, want 200", ErrVerify, code)
	}
	return nil
}
