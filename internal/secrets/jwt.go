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

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
)

// PreviousSuffix names the file that keeps the secrets rotations replaced,
// for --rollback and for verification during a grace period:
// jwt_secret → jwt_secret.previous. Its format is [auth.ReadPrevious]'s.
const PreviousSuffix = auth.PreviousSuffix

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
// from, in the order serviceapi.JWTSecret resolves it; the secret must
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

// NewJWTSecret returns 32 random bytes in base64, as
// `openssl rand -base64 32`.
func NewJWTSecret() []byte { return []byte(base64.StdEncoding.EncodeToString(random(32))) }

// JWTRotateOptions tune [RotateJWT].
type JWTRotateOptions struct {
	// Rollback puts the most recent previous secret back instead of
	// making a new one.
	Rollback bool
	// Grace, when positive, keeps the replaced secret verifying tokens
	// until Now+Grace (and the secrets of earlier graceful rotations until
	// their own ends). Zero is the immediate cut: from the daemons' next
	// start only the new secret verifies, and the replaced one is kept for
	// --rollback only.
	Grace time.Duration
	Now   time.Time
}

// JWTRotation is what [RotateJWT] did.
type JWTRotation struct {
	Was, Now []byte // the secret in force before and after
	// WasKeyID and NowKeyID are the two secrets' key ids (kid).
	WasKeyID, NowKeyID string
	// VerifyUntil is when the replaced secret stops verifying; zero for an
	// immediate cut.
	VerifyUntil time.Time
	// Dropped counts the previous secrets that were removed: their grace
	// period was over, or an immediate cut ended it.
	Dropped int
	// Previous is the previous-secrets list as written, newest first.
	Previous []auth.PreviousSecret
}

// RotateJWTFile is [RotateJWT] with an immediate cut or a rollback.
func RotateJWTFile(path string, rollback bool) (was, now []byte, err error) {
	r, err := RotateJWT(path, JWTRotateOptions{Rollback: rollback, Now: time.Now()})
	return r.Was, r.Now, err
}

// RotateJWT replaces the secret in path (a new one, or with Rollback the
// most recent previous one) and records the replaced one in
// path+[PreviousSuffix] (0600, atomically, under the file's lock): for
// verification until Now+Grace when Grace is positive, else for rollback
// only. Previous secrets whose grace period has ended are dropped, and an
// immediate cut drops every one still in its grace period too: after a
// suspected compromise no old secret may verify. Dropped secrets' file
// content is overwritten before it is unlinked. The previous file is
// written before the secret, so a crash between the two still leaves the
// way back.
func RotateJWT(path string, opts JWTRotateOptions) (JWTRotation, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	was, err := readSecret(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return JWTRotation{}, fmt.Errorf("no JWT secret at %s (tarsctl secrets generate makes one): %w", path, err)
		}
		return JWTRotation{}, fmt.Errorf("read JWT secret: %w", err)
	}
	unlock, err := auth.LockPrevious(path)
	if err != nil {
		return JWTRotation{}, fmt.Errorf("lock %s: %w", path+PreviousSuffix, err)
	}
	defer unlock()
	prevPath := path + PreviousSuffix
	entries, err := auth.ReadPrevious(prevPath)
	if err != nil {
		return JWTRotation{}, err
	}
	r := JWTRotation{Was: was}
	live := entries[:0:0]
	for _, p := range entries {
		if p.Expired(opts.Now) {
			r.Dropped++
			continue
		}
		live = append(live, p)
	}
	if opts.Rollback {
		if len(live) == 0 {
			why := prevPath + " does not exist"
			if len(entries) > 0 {
				why = fmt.Sprintf("the grace period of the previous secret ended at %s", entries[0].VerifyUntil.UTC().Format(time.RFC3339))
			}
			return JWTRotation{}, fmt.Errorf("%w: %s", ErrNoPrevious, why)
		}
		r.Now, live = live[0].Secret, live[1:]
	} else {
		r.Now = NewJWTSecret()
	}
	replaced := auth.PreviousSecret{KeyID: auth.KeyID(was), Secret: was, ReplacedAt: opts.Now}
	if opts.Grace > 0 {
		replaced.VerifyUntil = opts.Now.Add(opts.Grace)
	}
	out := []auth.PreviousSecret{replaced}
	for _, p := range live {
		switch {
		case bytes.Equal(p.Secret, r.Now) || bytes.Equal(p.Secret, was):
			continue // in force, or the entry just made
		case opts.Grace <= 0 || p.VerifyUntil.IsZero():
			// An immediate cut ends every grace period; an older
			// rollback-only entry is no longer the one --rollback restores.
			r.Dropped++
			continue
		}
		out = append(out, p)
	}
	if err := auth.WritePrevious(prevPath, out); err != nil {
		return JWTRotation{}, fmt.Errorf("write previous JWT secrets: %w", err)
	}
	if err := auth.ReplaceSecretFile(path, append(bytes.Clone(r.Now), '\n')); err != nil {
		return JWTRotation{}, fmt.Errorf("write JWT secret: %w", err)
	}
	r.WasKeyID, r.NowKeyID = auth.KeyID(was), auth.KeyID(r.Now)
	r.VerifyUntil, r.Previous = replaced.VerifyUntil, out
	return r, nil
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

// AfterGrace checks a graceful rotation: oldToken is still accepted while
// the old secret's grace period (until) lasts — or rejected with 401 if it
// has already ended — and a fresh login (or a token under the new secret)
// is accepted.
func (c JWTCheck) AfterGrace(ctx context.Context, oldToken string, secret []byte, until time.Time, now func() time.Time) error {
	code, err := c.TokenStatus(ctx, oldToken)
	if err != nil {
		return err
	}
	switch {
	case code == http.StatusOK:
	case code == http.StatusUnauthorized && !now().Before(until):
		// The grace period was shorter than the restart.
	default:
		return fmt.Errorf("%w: during the grace period a token issued before the rotation got HTTP %d, want 200", ErrVerify, code)
	}
	return c.newTokenAccepted(ctx, secret)
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
	return c.newTokenAccepted(ctx, secret)
}

func (c JWTCheck) newTokenAccepted(ctx context.Context, secret []byte) error {
	var (
		tok  string
		code int
		err  error
	)
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
