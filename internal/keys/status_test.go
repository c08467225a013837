package keys

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestInspect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	write := func(name string, data []byte, mode os.FileMode, age time.Duration) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	aes := []byte(hex.EncodeToString(NewAESKey()) + "\n")
	jwt := []byte(base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n")
	day := 24 * time.Hour
	for _, tt := range []struct {
		name, path, state, algorithm string
		bits                         int
	}{
		{"aes", write("aes.key", aes, 0o600, day), StateOK, "aes-256-gcm", 256},
		{"rsa private", write("rsa_private.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600, day), StateOK, "rsassa-pss-sha256", 2048},
		// A public key is meant to be read by others: 0644 is fine.
		{"rsa public", write("rsa_public.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644, day), StateOK, "rsa-public", 2048},
		{"jwt", write("jwt_secret", jwt, 0o600, day), StateOK, "hmac-secret", 256},
		{"readable secret", write("open.key", aes, 0o644, day), StateInvalid, "aes-256-gcm", 256},
		{"expired", write("old.key", aes, 0o600, 91*day), StateExpired, "aes-256-gcm", 256},
		{"due", write("due.key", aes, 0o600, 85*day), StateDue, "aes-256-gcm", 256},
		{"future", write("future.key", aes, 0o600, -3*day), StateInvalid, "aes-256-gcm", 256},
		{"empty", write("empty", nil, 0o600, day), StateInvalid, "", 0},
		{"missing", filepath.Join(dir, "none"), StateMissing, "", 0},
	} {
		s := Inspect(tt.name, tt.path, now, DefaultMaxAge, 7*day)
		if s.State != tt.state || s.Algorithm != tt.algorithm || s.Bits != tt.bits {
			t.Errorf("%s: state %s, %s %d bits (%s); want %s, %s %d bits", tt.name, s.State, s.Algorithm, s.Bits, s.Problem, tt.state, tt.algorithm, tt.bits)
		}
		if tt.algorithm != "" && tt.algorithm != "hmac-secret" && s.ID == "" {
			t.Errorf("%s: no key id", tt.name)
		}
	}
}
