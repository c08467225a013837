package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
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
}

// Signer issues and verifies access tokens with one HMAC secret.
type Signer struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewSigner returns a Signer. The secret must be at least [MinSecretLen]
// bytes.
func NewSigner(secret []byte, ttl time.Duration, now func() time.Time) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("JWT secret is %d bytes; it must be at least %d (generate one with `openssl rand -base64 32`)", len(secret), MinSecretLen)
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{secret: secret, ttl: ttl, now: now}, nil
}

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
	signed, err := tok.SignedString(s.secret)
	if err != nil {
		return "", Claims{}, fmt.Errorf("sign access token: %w", err)
	}
	return signed, c, nil
}

// Verify checks a token and returns its claims, or an error wrapping
// [ErrInvalidToken].
func (s *Signer) Verify(token string) (Claims, error) {
	var tc tokenClaims
	_, err := jwt.ParseWithClaims(token, &tc, func(*jwt.Token) (any, error) { return s.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.now),
	)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if tc.Subject == "" || tc.ID == "" || tc.Role == "" {
		return Claims{}, fmt.Errorf("%w: missing sub, jti or role", ErrInvalidToken)
	}
	return Claims{Username: tc.Subject, Role: tc.Role, ID: tc.ID, Expires: tc.ExpiresAt.Time}, nil
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
