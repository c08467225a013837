package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func tokenHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	head, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestKeyID(t *testing.T) {
	t.Parallel()
	kid := KeyID(secret)
	if len(kid) != 16 || kid == KeyID([]byte("another-secret-another-secret-xx")) || kid != KeyID(secret) {
		t.Errorf("KeyID = %q: want 16 hex digits, stable, distinct per secret", kid)
	}
	if strings.Contains(string(secret), kid) || strings.Contains(kid, string(secret[:8])) {
		t.Error("the key id shows the secret")
	}
	s, _ := NewSigner(secret, time.Hour, nil)
	tok, _, _ := s.Issue("alice", "viewer")
	if h := tokenHeader(t, tok); h["kid"] != kid || h["alg"] != "HS256" {
		t.Errorf("header = %v, want kid %s", h, kid)
	}
}

// TestPreviousKeys: after a graceful rotation a token signed with the old
// secret verifies until the old secret's grace period ends, and not after;
// a token of a secret that is not in the keyring never does.
func TestPreviousKeys(t *testing.T) {
	t.Parallel()
	oldSecret := []byte("old-secret-old-secret-old-secret")
	newSecret := []byte("new-secret-new-secret-new-secret")
	gone := []byte("gone-secret-gone-secret-gone-sec")
	start := time.Unix(1_800_000_000, 0)
	now := start
	clock := func() time.Time { return now }
	oldS, _ := NewSigner(oldSecret, 2*time.Hour, clock)
	goneS, _ := NewSigner(gone, 2*time.Hour, clock)
	oldTok, _, _ := oldS.Issue("alice", "viewer")
	goneTok, _, _ := goneS.Issue("bob", "viewer")
	until := start.Add(30 * time.Minute)

	base, _ := NewSigner(newSecret, time.Hour, clock)
	s := base.WithPreviousKeys([]PreviousKey{{Secret: oldSecret, Until: until}, {Secret: gone, Until: start.Add(-time.Second)}})
	newTok, _, _ := s.Issue("carol", "admin")

	c, err := s.Verify(oldTok)
	if err != nil || c.Username != "alice" || !c.KeyExpires.Equal(until) || !c.ValidUntil().Equal(until) {
		t.Fatalf("old token in grace: %+v %v", c, err)
	}
	if c, err := s.Verify(newTok); err != nil || !c.KeyExpires.IsZero() || !c.ValidUntil().Equal(c.Expires) {
		t.Fatalf("new token: %+v %v", c, err)
	}
	if _, err := s.Verify(goneTok); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "unknown key id") {
		t.Errorf("token of an expired previous secret: %v", err)
	}
	if _, err := base.Verify(oldTok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("signer without previous keys accepted the old token: %v", err)
	}
	now = until
	if _, err := s.Verify(oldTok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("old token after the grace period: %v", err)
	}
	if _, err := s.Verify(newTok); err != nil {
		t.Errorf("new token after the grace period: %v", err)
	}
}

// TestTokenWithoutKid: tokens issued before tokens carried a kid are tried
// with the current secret, then with previous ones in their grace period.
func TestTokenWithoutKid(t *testing.T) {
	t.Parallel()
	oldSecret := []byte("old-secret-old-secret-old-secret")
	newSecret := []byte("new-secret-new-secret-new-secret")
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	mint := func(key []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, tokenClaims{Role: "viewer", RegisteredClaims: jwt.RegisteredClaims{
			Issuer: Issuer, Subject: "alice", ID: "j1", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		}})
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base, _ := NewSigner(newSecret, time.Hour, clock)
	s := base.WithPreviousKeys([]PreviousKey{{Secret: oldSecret, Until: now.Add(time.Minute)}})
	if _, err := s.Verify(mint(newSecret)); err != nil {
		t.Errorf("kid-less token of the current secret: %v", err)
	}
	if c, err := s.Verify(mint(oldSecret)); err != nil || c.KeyExpires.IsZero() {
		t.Errorf("kid-less token of the previous secret: %+v %v", c, err)
	}
	if _, err := base.Verify(mint(oldSecret)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("kid-less token of an unknown secret: %v", err)
	}
	bad := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":7}`)) + ".e30.x"
	if _, err := s.Verify(bad); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("numeric kid: %v", err)
	}
}

// TestSetPreviousKeys: signers built from a secret pick up the previous
// keys registered for it, which is how daemons that only call NewSigner
// honour a graceful rotation.
func TestSetPreviousKeys(t *testing.T) {
	t.Parallel()
	oldSecret := []byte("registry-old-registry-old-regist")
	newSecret := []byte("registry-new-registry-new-regist")
	oldS, _ := NewSigner(oldSecret, time.Hour, nil)
	oldTok, _, _ := oldS.Issue("alice", "viewer")
	SetPreviousKeys(newSecret, []PreviousKey{{Secret: oldSecret, Until: time.Now().Add(time.Hour)}})
	s, _ := NewSigner(newSecret, time.Hour, nil)
	if _, err := s.Verify(oldTok); err != nil {
		t.Errorf("registered previous key not used: %v", err)
	}
	SetPreviousKeys(newSecret, nil)
	s, _ = NewSigner(newSecret, time.Hour, nil)
	if _, err := s.Verify(oldTok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("previous key still used after it was removed: %v", err)
	}
}
