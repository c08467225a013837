package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP parameters: RFC 6238 defaults, which every authenticator app uses.
const (
	totpStep   = 30 * time.Second
	totpDigits = 6
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a random 160-bit secret, base32 as authenticator
// apps expect.
func NewTOTPSecret() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return b32.EncodeToString(b[:])
}

// TOTPURL is the otpauth:// URL to enrol the secret in an authenticator app.
func TOTPURL(secret, username string) string {
	v := url.Values{"secret": {secret}, "issuer": {"T.A.R.S."}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
	return "otpauth://totp/" + url.PathEscape("T.A.R.S.:"+username) + "?" + v.Encode()
}

// TOTPCode returns the code for secret at t.
func TOTPCode(secret string, t time.Time) (string, error) {
	key, err := b32.DecodeString(strings.ToUpper(strings.TrimRight(strings.ReplaceAll(secret, " ", ""), "=")))
	if err != nil {
		return "", fmt.Errorf("TOTP secret is not base32")
	}
	return hotp(key, uint64(t.Unix()/int64(totpStep/time.Second))), nil
}

// CheckTOTP reports whether code is valid for secret at t, allowing one
// step of clock skew either way. The comparison is constant-time.
func CheckTOTP(secret, code string, t time.Time) bool {
	if len(code) != totpDigits {
		return false
	}
	ok := 0
	for _, skew := range []time.Duration{-totpStep, 0, totpStep} {
		want, err := TOTPCode(secret, t.Add(skew))
		if err != nil {
			return false
		}
		ok |= subtle.ConstantTimeCompare([]byte(want), []byte(code))
	}
	return ok == 1
}

// hotp is RFC 4226's HOTP with SHA-1 and six digits.
func hotp(key []byte, counter uint64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}
