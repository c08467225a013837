package triage

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// ErrMalformedJWT means the token is not three base64url JSON segments.
var ErrMalformedJWT = errors.New("malformed JWT")

// DecodedJWT is a token's header and claims, read without verification.
type DecodedJWT struct {
	Header    map[string]any `json:"header"`
	Claims    map[string]any `json:"claims"`
	IssuedAt  *time.Time     `json:"issued_at,omitempty"`
	ExpiresAt *time.Time     `json:"expires_at,omitempty"`
	Expired   bool           `json:"expired"`
}

// DecodeJWT splits and decodes token without checking its signature.
func DecodeJWT(token string, now time.Time) (*DecodedJWT, error) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: want 3 dot-separated parts, got %d", ErrMalformedJWT, len(parts))
	}
	d := &DecodedJWT{}
	for i, dst := range []*map[string]any{&d.Header, &d.Claims} {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[i], "="))
		if err != nil {
			return nil, fmt.Errorf("%w: decode part %d: %v", ErrMalformedJWT, i+1, err)
		}
		// Numbers stay as written: NumericDate claims are integers, and a
		// float64 would print exp as 1.796694387e+09.
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil {
			return nil, fmt.Errorf("%w: parse part %d: %v", ErrMalformedJWT, i+1, err)
		}
	}
	num := func(k string) *time.Time {
		n, ok := d.Claims[k].(json.Number)
		if !ok {
			return nil
		}
		if i, err := n.Int64(); err == nil {
			t := time.Unix(i, 0)
			return &t
		}
		if f, err := n.Float64(); err == nil { // RFC 7519 allows fractions
			sec := math.Floor(f)
			t := time.Unix(int64(sec), int64((f-sec)*1e9))
			return &t
		}
		return nil
	}
	d.IssuedAt, d.ExpiresAt = num("iat"), num("exp")
	d.Expired = d.ExpiresAt != nil && !now.Before(*d.ExpiresAt)
	return d, nil
}
