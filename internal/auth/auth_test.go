package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestIssueVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	s, err := NewSigner(secret, time.Hour, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	tok, c, err := s.Issue("alice", "operator")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "alice" || got.Role != "operator" || got.ID != c.ID || !got.Expires.Equal(now.Add(time.Hour)) {
		t.Errorf("claims = %+v, want %+v", got, c)
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	s, _ := NewSigner(secret, time.Hour, clock)
	other, _ := NewSigner([]byte("another-secret-another-secret-xx"), time.Hour, clock)
	good, _, _ := s.Issue("alice", "viewer")
	foreign, _, _ := other.Issue("alice", "admin")
	parts := strings.Split(good, ".")

	// alg none with the same claims and no signature.
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	algNone := noneHeader + "." + parts[1] + "."

	// Payload changed to role admin, signature kept.
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"viewer"`, `"admin"`, 1))) + "." + parts[2]

	// HS512 with our secret: right key, wrong algorithm.
	hs512Header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS512","typ":"JWT"}`))
	wrongAlg := hs512Header + "." + parts[1] + "." + parts[2]

	later, _ := NewSigner(secret, time.Hour, func() time.Time { return now.Add(2 * time.Hour) })

	for name, tok := range map[string]string{
		"alg none":         algNone,
		"other secret":     foreign,
		"tampered payload": tampered,
		"wrong algorithm":  wrongAlg,
		"garbage":          "not.a.token",
		"empty":            "",
	} {
		if _, err := s.Verify(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: err = %v, want ErrInvalidToken", name, err)
		}
	}
	if _, err := later.Verify(good); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("expired: err = %v, want ErrInvalidToken", err)
	}
}

func TestShortSecretRefused(t *testing.T) {
	t.Parallel()
	if _, err := NewSigner([]byte("short"), time.Hour, nil); err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("err = %v: want a refusal that does not echo the secret", err)
	}
}

// RFC 6238 appendix B vectors (SHA-1, 8 digits; we use the last 6).
func TestTOTPVectors(t *testing.T) {
	t.Parallel()
	secret := b32.EncodeToString([]byte("12345678901234567890"))
	for unix, want8 := range map[int64]string{
		59:          "94287082",
		1111111109:  "07081804",
		1111111111:  "14050471",
		1234567890:  "89005924",
		2000000000:  "69279037",
		20000000000: "65353130",
	} {
		got, err := TOTPCode(secret, time.Unix(unix, 0))
		if err != nil {
			t.Fatal(err)
		}
		if got != want8[2:] {
			t.Errorf("TOTP at %d = %s, want %s", unix, got, want8[2:])
		}
	}
}

func TestCheckTOTP(t *testing.T) {
	t.Parallel()
	sec := NewTOTPSecret()
	now := time.Unix(1_800_000_015, 0)
	code, _ := TOTPCode(sec, now)
	prev, _ := TOTPCode(sec, now.Add(-30*time.Second))
	old, _ := TOTPCode(sec, now.Add(-90*time.Second))
	if !CheckTOTP(sec, code, now) || !CheckTOTP(sec, prev, now) {
		t.Error("current or previous step rejected")
	}
	if old != code && CheckTOTP(sec, old, now) {
		t.Error("a code three steps old was accepted")
	}
	if CheckTOTP(sec, "12345", now) || CheckTOTP("!!!", code, now) {
		t.Error("malformed input accepted")
	}
	if u := TOTPURL(sec, "alice"); !strings.HasPrefix(u, "otpauth://totp/T.A.R.S.:alice?") || !strings.Contains(u, "secret="+sec) {
		t.Errorf("url = %s", u)
	}
}

func TestRefreshTokens(t *testing.T) {
	t.Parallel()
	a, b := NewRefreshToken(), NewRefreshToken()
	if a == b || len(a) != 43 {
		t.Errorf("tokens %q %q", a, b)
	}
	if h1, h2 := HashToken(a), HashToken(a); h1 == a || len(h1) != 64 || h1 != h2 {
		t.Error("HashToken is not a stable SHA-256 hex")
	}
}
