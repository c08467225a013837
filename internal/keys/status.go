package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// DefaultMaxAge is the runbook's key expiry policy: rotate every 90 days.
const DefaultMaxAge = 90 * 24 * time.Hour

// Key states reported by [Inspect].
const (
	StateOK      = "ok"
	StateDue     = "due"     // within the warning window of its maximum age
	StateExpired = "expired" // past its maximum age
	StateMissing = "missing"
	StateInvalid = "invalid"
)

// KeyStatus describes one key file. It holds ids and metadata, never key
// material.
type KeyStatus struct {
	Name      string    `json:"name"` // what the key is for: encryption, signing, jwt
	Path      string    `json:"path"`
	ID        string    `json:"id,omitempty"`
	Algorithm string    `json:"algorithm,omitempty"`
	Bits      int       `json:"bits,omitempty"`
	Mode      string    `json:"mode,omitempty"`
	Created   time.Time `json:"created,omitzero"` // the file's modification time: rotation writes a new file
	AgeDays   int       `json:"age_days"`
	MaxDays   int       `json:"max_age_days"`
	State     string    `json:"state"`
	Problem   string    `json:"problem,omitempty"`
}

// Inspect reports the key file at path against a maximum age, with a
// warning window of warn before it.
func Inspect(name, path string, now time.Time, maxAge, warn time.Duration) KeyStatus {
	s := KeyStatus{Name: name, Path: path, MaxDays: int(maxAge / (24 * time.Hour))}
	fi, err := os.Stat(path)
	if err != nil {
		s.State, s.Problem = StateMissing, err.Error()
		if !errors.Is(err, fs.ErrNotExist) {
			s.State = StateInvalid
		}
		return s
	}
	s.Mode = fmt.Sprintf("%04o", fi.Mode().Perm())
	s.Created = fi.ModTime().UTC()
	age := now.Sub(fi.ModTime())
	public := false // a public key may be readable by others
	s.AgeDays = int(age / (24 * time.Hour))
	if key, _, err := crypto.LoadKeyFile(path); err == nil {
		s.ID, s.Algorithm, s.Bits = crypto.KeyID(key), "aes-256-gcm", 256
	} else if k, err := signing.LoadKey(path); err == nil {
		s.ID, s.Algorithm = k.ID, k.Algorithm()
		if pub, ok := k.Public().(*rsa.PublicKey); ok {
			s.Bits = pub.N.BitLen()
		}
	} else if pub, err := verify.LoadPublicKey(path); err == nil {
		public = true
		s.ID, _ = verify.KeyID(pub)
		switch k := pub.(type) {
		case *rsa.PublicKey:
			s.Algorithm, s.Bits = "rsa-public", k.N.BitLen()
		case *ecdsa.PublicKey:
			s.Algorithm, s.Bits = "ecdsa-public", k.Curve.Params().BitSize
		}
	} else if bits := secretBits(path); bits > 0 {
		s.Algorithm, s.Bits = "hmac-secret", bits
	} else {
		s.State, s.Problem = StateInvalid, "empty file"
		return s
	}
	switch {
	case age < -time.Hour:
		s.State, s.Problem = StateInvalid, "modified in the future: check the clock, or the file's mtime (touch it)"
	case !public && fi.Mode().Perm()&0o077 != 0:
		s.State, s.Problem = StateInvalid, fmt.Sprintf("mode %04o: other users can access it; chmod 600", fi.Mode().Perm())
	case age > maxAge:
		s.State, s.Problem = StateExpired, fmt.Sprintf("older than %d days: rotate it", s.MaxDays)
	case age > maxAge-warn:
		s.State = StateDue
	default:
		s.State = StateOK
	}
	return s
}

// secretBits is the size of a shared secret file: the bits it decodes to
// when it is padded base64 (openssl rand -base64, as secrets generate
// writes the JWT secret), else the bits of its text, without the newline.
func secretBits(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	defer clear(b)
	t := bytes.TrimRight(b, "\r\n")
	if bytes.HasSuffix(t, []byte("=")) {
		d := make([]byte, base64.StdEncoding.DecodedLen(len(t)))
		defer clear(d)
		if n, err := base64.StdEncoding.Decode(d, t); err == nil {
			return n * 8
		}
	}
	return len(t) * 8
}
