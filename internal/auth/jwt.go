package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretLen is the shortest JWT secret accepted: 32 bytes, the output
// size of HS256.
const MinSecretLen = 32

// Issuer names our tokens in the iss claim.
const Issuer = "tars-dashboard-api"

// ErrInvalidToken covers every reason a token is refused: bad signature,
// wrong algorithm, expired, malformed. The reason is in the wrapped error
// for logs; clients only ever see "Invalid or expired token".
var ErrInvalidToken = errors.New("invalid or expired token")

// Claims are what an access token says.
type Claims struct {
	Username string
	Role     string
	ID       string // jti
	Expires  time.Time
	// KeyExpires, when not zero, is when the previous secret that signed
	// the token stops verifying: the token is good until the earlier of
	// Expires and KeyExpires. Zero for tokens signed with the current
	// secret.
	KeyExpires time.Time
}

// ValidUntil is when the token stops being accepted: the earlier of
// Expires and KeyExpires.
func (c Claims) ValidUntil() time.Time {
	if !c.KeyExpires.IsZero() && c.KeyExpires.Before(c.Expires) {
		return c.KeyExpires
	}
	return c.Expires
}

// Signer issues access tokens with one HMAC secret, and verifies them
// with that secret and, until each one's end, the previous secrets of a
// graceful rotation (see [PreviousKey]).
type Signer struct {
	secret   []byte
	kid      string
	previous []PreviousKey
	ttl      time.Duration
	now      func() time.Time
}

// NewSigner returns a Signer. The secret must be at least [MinSecretLen]
// bytes. The Signer also verifies with the previous secrets registered for
// this secret with [SetPreviousKeys], if any.
func NewSigner(secret []byte, ttl time.Duration, now func() time.Time) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("JWT secret is %d bytes; it must be at least %d (generate one with `openssl rand -base64 32`)", len(secret), MinSecretLen)
	}
	if now == nil {
		now = time.Now
	}
	kid := KeyID(secret)
	return &Signer{secret: secret, kid: kid, previous: previousKeys(kid), ttl: ttl, now: now}, nil
}

// WithPreviousKeys returns a copy of s that also verifies tokens signed
// with the given previous secrets, each until its Until. It replaces any
// registered with [SetPreviousKeys].
func (s *Signer) WithPreviousKeys(prev []PreviousKey) *Signer {
	c := *s
	c.previous = clonePrevious(prev)
	return &c
}

// KeyID returns the id of the key a token was signed with.
func (s *Signer) KeyID() string { return s.kid }

type tokenClaims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

// Issue returns a signed access token for the user and its claims.
func (s *Signer) Issue(username, role string) (string, Claims, error) {
	now := s.now()
	c := Claims{Username: username, Role: role, ID: RandomID(), Expires: now.Add(s.ttl).Truncate(time.Second)}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, tokenClaims{
		Role: role,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   username,
			ID:        c.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Second)),
			ExpiresAt: jwt.NewNumericDate(c.Expires),
		},
	})
	tok.Header["kid"] = s.kid
	signed, err := tok.SignedString(s.secret)
	if err != nil {
		return "", Claims{}, fmt.Errorf("sign access token: %w", err)
	}
	return signed, c, nil
}

// Verify checks a token and returns its claims, or an error wrapping
// [ErrInvalidToken].
//
// A token whose kid header names the current secret is checked with it; one
// that names a previous secret still inside its grace period is checked
// with that one, and its claims' KeyExpires says when that period ends. A
// kid that names neither (an unknown key, or a previous secret whose grace
// period is over) is refused without trying any key. A token with no kid
// (issued before tokens carried one) is tried with the current secret,
// then with each previous secret still in its grace period.
func (s *Signer) Verify(token string) (Claims, error) {
	now := s.now()
	kid, err := headerKeyID(token)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if kid == s.kid {
		return verifyWith(token, s.secret, time.Time{}, s.now)
	}
	var firstErr error
	if kid == "" {
		c, err := verifyWith(token, s.secret, time.Time{}, s.now)
		if err == nil {
			return c, nil
		}
		firstErr = err
	}
	for _, p := range s.previous {
		if !now.Before(p.Until) || (kid != "" && kid != p.KeyID()) {
			continue
		}
		c, err := verifyWith(token, p.Secret, p.Until, s.now)
		if err == nil || kid != "" {
			return c, err
		}
	}
	if firstErr != nil {
		return Claims{}, firstErr
	}
	return Claims{}, fmt.Errorf("%w: unknown key id %q (signed with a secret that was rotated out)", ErrInvalidToken, kid)
}

// verifyWith checks token against one secret; keyExpires goes into the
// claims.
func verifyWith(token string, secret []byte, keyExpires time.Time, now func() time.Time) (Claims, error) {
	var tc tokenClaims
	_, err := jwt.ParseWithClaims(token, &tc, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(now),
	)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if tc.Subject == "" || tc.ID == "" || tc.Role == "" {
		return Claims{}, fmt.Errorf("%w: missing sub, jti or role", ErrInvalidToken)
	}
	return Claims{Username: tc.Subject, Role: tc.Role, ID: tc.ID, Expires: tc.ExpiresAt.Time, KeyExpires: keyExpires}, nil
}

// headerKeyID returns the kid of a token's header, "" when it has none. It
// does not verify anything.
func headerKeyID(token string) (string, error) {
	head, _, ok := strings.Cut(token, ".")
	if !ok || len(head) > 1024 {
		return "", errors.New("malformed token")
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", errors.New("malformed token header")
	}
	var h struct {
		Kid any `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", errors.New("malformed token header")
	}
	switch v := h.Kid.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", errors.New("kid header is not a string")
	}
}

// RandomID returns 16 random bytes, hex: token IDs and refresh families.
func RandomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewRefreshToken returns a new opaque refresh token.
func NewRefreshToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken returns the hex SHA-256 of a token: what the store keeps.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}
