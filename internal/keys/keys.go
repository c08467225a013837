package keys

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/signing"
)

// DefaultRSABits is the size of a generated RSA key, as the runbook's
// `openssl genpkey ... rsa_keygen_bits:4096`.
const DefaultRSABits = 4096

// MinRSABits is the smallest RSA key [GenerateRSA] makes.
const MinRSABits = 2048

// Sentinel errors callers branch on.
var (
	// ErrKeyPermissions means a key file can be read or written by users
	// other than its owner. Nothing is done with such a key: whoever can
	// read it can read everything it protects.
	ErrKeyPermissions = errors.New("key file is accessible to other users")
	// ErrExists means the output file exists and overwriting was not asked for.
	ErrExists = atomicfile.ErrExists
)

// LoadAESKey reads an AES-256 key file (64 hex digits or 32 raw bytes, see
// [crypto.ParseKey]) and refuses one that group or others may access.
// Errors name the file and wrap [crypto.ErrInvalidKey], [ErrKeyPermissions]
// or the file system error; they never hold key material.
func LoadAESKey(path string) ([]byte, error) {
	key, info, err := crypto.LoadKeyFile(path)
	if err != nil {
		return nil, err
	}
	if info.Mode&0o077 != 0 {
		return nil, fmt.Errorf("key file %s: %w (mode %04o, want 0600)", path, ErrKeyPermissions, info.Mode)
	}
	return key, nil
}

// NewAESKey returns a random 32-byte key.
func NewAESKey() []byte {
	key := make([]byte, crypto.KeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	return key
}

// EncodeAESKey returns key as a key file holds it: 64 hex digits and a
// newline, what `openssl rand -hex 32` writes.
func EncodeAESKey(key []byte) []byte {
	return []byte(hex.EncodeToString(key) + "\n")
}

// WriteSecretFile writes data to path atomically with mode 0600, creating
// the directory 0700 when missing. Without overwrite an existing file is
// left alone and the error wraps [ErrExists].
func WriteSecretFile(path string, data []byte, perm fs.FileMode, overwrite bool) error {
	if perm == 0 {
		perm = 0o600
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create directory for %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, data, atomicfile.Options{Perm: perm, NoOverwrite: !overwrite})
}

// GenerateAES writes a new AES-256 key file at path and returns its id.
func GenerateAES(path string, overwrite bool) (string, error) {
	key := NewAESKey()
	if err := WriteSecretFile(path, EncodeAESKey(key), 0o600, overwrite); err != nil {
		return "", err
	}
	return crypto.KeyID(key), nil
}

// RSAKeyPair is a PEM-encoded RSA key pair: PKCS#8 "PRIVATE KEY" and PKIX
// "PUBLIC KEY", what `openssl genpkey` and `openssl rsa -pubout` write and
// what internal/signing and pkg/verify read.
type RSAKeyPair struct {
	PrivatePEM []byte
	PublicPEM  []byte
	Bits       int
}

// NewRSAKeyPair generates an RSA key of bits bits.
func NewRSAKeyPair(bits int) (*RSAKeyPair, error) {
	if bits < MinRSABits {
		return nil, fmt.Errorf("RSA key size %d is too small: use at least %d bits", bits, MinRSABits)
	}
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("generate RSA key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode RSA key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encode RSA public key: %w", err)
	}
	return &RSAKeyPair{
		PrivatePEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		PublicPEM:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		Bits:       bits,
	}, nil
}

// PublicKeyPath is where the public half of the private key at path goes:
// rsa_private.pem → rsa_public.pem, else FILE.pub.
func PublicKeyPath(path string) string {
	dir, base := filepath.Split(path)
	if strings.Contains(base, "private") {
		return filepath.Join(dir, strings.Replace(base, "private", "public", 1))
	}
	return path + ".pub"
}

// GenerateRSA writes a new RSA key pair: the private key at privPath (0600)
// and the public key at pubPath (0644). Both paths are checked before
// either is written.
func GenerateRSA(privPath, pubPath string, bits int, overwrite bool) (*RSAKeyPair, error) {
	if !overwrite {
		for _, p := range []string{privPath, pubPath} {
			if _, err := os.Lstat(p); err == nil {
				return nil, fmt.Errorf("write %s: %w", p, ErrExists)
			}
		}
	}
	kp, err := NewRSAKeyPair(bits)
	if err != nil {
		return nil, err
	}
	if err := WriteSecretFile(privPath, kp.PrivatePEM, 0o600, overwrite); err != nil {
		return nil, err
	}
	if err := WriteSecretFile(pubPath, kp.PublicPEM, 0o644, overwrite); err != nil {
		return nil, err
	}
	return kp, nil
}

// EncryptFile seals the file in with key into out, streaming, in the
// format of internal/crypto. out is written atomically with mode 0600 and
// only appears once complete.
func EncryptFile(key []byte, in, out string, overwrite bool) error {
	src, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("open input: %w", err)
	}
	defer src.Close()
	return atomicfile.Write(out, atomicfile.Options{Perm: 0o600, NoOverwrite: !overwrite, MakeDirs: true}, func(w io.Writer) error {
		ew, err := crypto.NewWriter(w, key)
		if err != nil {
			return err
		}
		if _, err := io.Copy(ew, src); err != nil {
			return fmt.Errorf("encrypt %s: %w", in, err)
		}
		return ew.Close()
	})
}

// DecryptFile opens the file in with any key of keys into out. out is
// written atomically with mode 0600 and appears only when the whole input
// authenticated, so a damaged or truncated file leaves nothing behind.
func DecryptFile(keys *crypto.Keyring, in, out string, overwrite bool) error {
	src, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("open input: %w", err)
	}
	defer src.Close()
	r, err := crypto.NewReader(src, keys)
	if err != nil {
		return fmt.Errorf("decrypt %s: %w", in, err)
	}
	return atomicfile.Write(out, atomicfile.Options{Perm: 0o600, NoOverwrite: !overwrite, MakeDirs: true}, func(w io.Writer) error {
		if _, err := io.Copy(w, r); err != nil {
			return fmt.Errorf("decrypt %s: %w", in, err)
		}
		return nil
	})
}

// FileKeyID returns the id of the key that sealed the file at path.
func FileKeyID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open %w", err)
	}
	defer f.Close()
	id, err := crypto.ReadKeyID(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return id, nil
}

// Shred overwrites the file at path with random bytes, syncs it, and
// removes it: the runbook's `shred -u`, best effort (a journaling or
// copy-on-write file system may keep old blocks).
func Shred(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("shred %w", err)
	}
	fi, err := f.Stat()
	if err == nil {
		buf := make([]byte, fi.Size())
		_, _ = rand.Read(buf)
		if _, err = f.WriteAt(buf, 0); err == nil {
			err = f.Sync()
		}
	}
	cerr := f.Close()
	if err != nil {
		return fmt.Errorf("shred %s: %w", path, err)
	}
	if cerr != nil {
		return fmt.Errorf("shred %s: %w", path, cerr)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("shred %w", err)
	}
	return nil
}

// marshalPublic PEM-encodes the public half of k.
func marshalPublic(k *signing.Key) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
