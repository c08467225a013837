package keys

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// writeKey writes a fresh key file 0600 and returns the key.
func writeKey(t testing.TB, path string) []byte {
	t.Helper()
	key := NewAESKey()
	if err := os.WriteFile(path, EncodeAESKey(key), 0o600); err != nil {
		t.Fatal(err)
	}
	return key
}

func mode(t testing.TB, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestGenerateAES(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "aes.key")
	id, err := GenerateAES(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if mode(t, path) != 0o600 || mode(t, filepath.Dir(path)) != 0o700 {
		t.Errorf("modes %v %v", mode(t, path), mode(t, filepath.Dir(path)))
	}
	key, err := LoadAESKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if crypto.KeyID(key) != id {
		t.Errorf("id %s, file holds %s", id, crypto.KeyID(key))
	}
	if _, err := GenerateAES(path, false); !errors.Is(err, ErrExists) {
		t.Errorf("second generate: %v, want ErrExists", err)
	}
	if again, _ := LoadAESKey(path); !bytes.Equal(again, key) {
		t.Error("key overwritten without force")
	}
	id2, err := GenerateAES(path, true)
	if err != nil || id2 == id {
		t.Errorf("force: %v, id %s", err, id2)
	}
}

func TestGenerateRSA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	priv := filepath.Join(dir, "rsa_private.pem")
	pub := PublicKeyPath(priv)
	if pub != filepath.Join(dir, "rsa_public.pem") {
		t.Fatalf("public path %s", pub)
	}
	if _, err := GenerateRSA(priv, pub, 2048, false); err != nil {
		t.Fatal(err)
	}
	if mode(t, priv) != 0o600 {
		t.Errorf("private key mode %v", mode(t, priv))
	}
	k, err := signing.LoadKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if k.Algorithm() != "rsassa-pss-sha256" {
		t.Errorf("algorithm %s", k.Algorithm())
	}
	pk, err := verify.LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := k.Sign(bytes.NewReader([]byte("hello")))
	if err != nil {
		t.Fatal(err)
	}
	if err := verify.Signature(pk, bytes.NewReader([]byte("hello")), sig); err != nil {
		t.Errorf("signature by the generated key does not verify with its public key: %v", err)
	}
	if _, err := GenerateRSA(priv, pub, 2048, false); !errors.Is(err, ErrExists) {
		t.Errorf("second generate: %v", err)
	}
	if _, err := NewRSAKeyPair(1024); err == nil {
		t.Error("1024-bit key accepted")
	}
}

func TestEncryptDecryptFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := writeKey(t, filepath.Join(dir, "k"))
	plain := make([]byte, 3*crypto.DefaultChunkSize+123)
	rng := rand.NewChaCha8([32]byte{1})
	_, _ = rng.Read(plain)
	in, enc, out := filepath.Join(dir, "in"), filepath.Join(dir, "in.enc"), filepath.Join(dir, "out")
	if err := os.WriteFile(in, plain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := EncryptFile(key, in, enc, false); err != nil {
		t.Fatal(err)
	}
	if id, err := FileKeyID(enc); err != nil || id != crypto.KeyID(key) {
		t.Errorf("FileKeyID = %s, %v", id, err)
	}
	if err := EncryptFile(key, in, enc, false); !errors.Is(err, ErrExists) {
		t.Errorf("overwrite without force: %v", err)
	}
	ring, _ := crypto.NewKeyring(NewAESKey(), key)
	if err := DecryptFile(ring, enc, out, false); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, plain) || mode(t, out) != 0o600 {
		t.Errorf("round trip differs (%d bytes) or mode %v", len(got), mode(t, out))
	}

	// A wrong key or a damaged file leaves no output behind.
	other, _ := crypto.NewKeyring(NewAESKey())
	if err := DecryptFile(other, enc, filepath.Join(dir, "wrong"), false); !errors.Is(err, crypto.ErrUnknownKey) {
		t.Errorf("wrong key: %v", err)
	}
	b, _ := os.ReadFile(enc)
	b[len(b)-5] ^= 1
	_ = os.WriteFile(filepath.Join(dir, "bad.enc"), b, 0o600)
	if err := DecryptFile(ring, filepath.Join(dir, "bad.enc"), filepath.Join(dir, "bad"), false); !errors.Is(err, crypto.ErrAuthentication) {
		t.Errorf("damaged: %v", err)
	}
	for _, p := range []string{"wrong", "bad"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind", p)
		}
	}
}

func TestLoadAESKeyRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := filepath.Join(dir, "open.key")
	_ = os.WriteFile(open, EncodeAESKey(NewAESKey()), 0o644)
	if _, err := LoadAESKey(open); !errors.Is(err, ErrKeyPermissions) {
		t.Errorf("0644 key: %v", err)
	}
	short := filepath.Join(dir, "short.key")
	_ = os.WriteFile(short, []byte("abcd\n"), 0o600)
	_, err := LoadAESKey(short)
	if !errors.Is(err, crypto.ErrInvalidKey) {
		t.Errorf("short key: %v", err)
	}
	if _, err := LoadAESKey(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing key: %v", err)
	}
}

func TestShred(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "k")
	writeKey(t, p)
	if err := Shred(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("still there: %v", err)
	}
}
